"""Watching a diffusion model learn structure while it trains.

The loss says little about whether maps have real edges yet (the paper trains 2 M steps; the
closest public code reports recognisable samples after about 5·10⁵). A :class:`SampleMonitor`
handed to :meth:`AbundanceDiffusion.fit <msfdiff.diffusion.generator.AbundanceDiffusion.fit>`
draws a few maps every ``every`` steps with a fixed seed and records their edge coherence
against the training maps', so a long GPU run shows when its budget reaches the real maps'::

    FOLDER/monitor.csv            step, edge_coherence, relative_to_real
    FOLDER/edge_coherence.png     the curve
    FOLDER/step_00005000.png      the maps drawn at that step (one row each)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from msfdiff._io import atomic_write
from msfdiff.evaluation.spectral import edge_coherence
from msfdiff.plotting import plot_abundance_grid, save_figure, subplots

MONITOR_CSV = "monitor.csv"
FIELDS = ("step", "edge_coherence", "relative_to_real")


@dataclass
class SampleMonitor:
    """Every ``every`` steps, ``n`` maps (seed ``seed``, ``sampler`` with ``steps`` network
    evaluations) drawn into ``folder`` and scored against ``reference``, real maps
    (m, H, W, k), e.g. the training set's first few."""

    folder: Path
    reference: np.ndarray
    every: int = 500
    n: int = 8
    seed: int = 0
    sampler: str = "unipc"
    steps: int = 8
    real_edges: float = field(init=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.real_edges = edge_coherence(list(np.asarray(self.reference)))

    def __call__(self, step: int, generator: Any) -> None:
        maps = generator.generate(self.n, seed=self.seed, sampler=self.sampler, steps=self.steps)
        edges = edge_coherence(list(maps))
        rows = [r for r in self.rows() if r["step"] < step]  # a resumed run redoes later steps
        rows.append(
            {"step": step, "edge_coherence": edges, "relative_to_real": edges / self.real_edges}
        )
        atomic_write(self.folder / MONITOR_CSV, lambda p: p.write_text(_csv(rows)))
        plot_abundance_grid(
            list(maps[:4]),
            self.folder / f"step_{step:08d}.png",
            row_labels=[f"step {step}"] * min(4, len(maps)),
        )
        self._plot(rows)

    def rows(self) -> list[dict[str, float]]:
        """What ``monitor.csv`` holds so far."""
        path = self.folder / MONITOR_CSV
        if not path.is_file():
            return []
        with open(path, newline="") as handle:
            return [
                {"step": int(r["step"]), **{k: float(r[k]) for k in FIELDS[1:]}}
                for r in csv.DictReader(handle)
            ]

    def _plot(self, rows: list[dict[str, float]]) -> None:
        fig, ax = subplots(figsize=(5, 3))
        ax.plot([r["step"] for r in rows], [r["relative_to_real"] for r in rows], "o-")
        ax.axhline(1.0, color="0.4", lw=0.8, ls="--")
        ax.set_xlabel("training step")
        ax.set_ylabel("edge coherence / real")
        ax.grid(alpha=0.3)
        save_figure(fig, self.folder / "edge_coherence.png")


def monitor_for(
    dataset: Any, folder: str | Path, every: int, *, n_reference: int = 8
) -> SampleMonitor:
    """A :class:`SampleMonitor` of a training run on ``dataset`` (an abundance dataset): its
    first ``n_reference`` maps are the real reference."""
    count = min(n_reference, len(dataset))
    reference = np.stack([np.asarray(dataset.array[i], dtype=np.float32) for i in range(count)])
    return SampleMonitor(Path(folder), reference, every=every)


def _csv(rows: list[dict[str, float]]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()
