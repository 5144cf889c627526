"""Reading a run directory for the report: every path from :class:`msfdiff.layout.RunLayout`.

Each reader returns None (or an empty list) for a part the run does not have yet and raises
for one it cannot read; the section builders turn either into a note. The unmixer is loaded,
and the abundance dataset opened, by the code that writes them.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import yaml

from msfdiff.data.abundances import INDEX_NAME
from msfdiff.data.cube import HyperCube
from msfdiff.data.formats import HSI_SUFFIXES
from msfdiff.errors import MsfdiffError
from msfdiff.layout import (
    ABUNDANCE_SUFFIX,
    SAMPLE_PREFIX,
    RunLayout,
    sample_abundance_paths,
)
from msfdiff.report.text import one_line
from msfdiff.unmixing.estimator import STATE_FILE

if TYPE_CHECKING:
    from msfdiff.data.abundances import AbundanceDataset
    from msfdiff.unmixing import SceneUnmixer

# Files the unmix stage writes beside its unmixer (msfdiff.unmixing names them nowhere yet):
# the endmember plot is embedded as it is, the loss is plotted again from the history.
HISTORY_FILE = "history.json"
ENDMEMBERS_FIGURE = "endmembers.png"
LOSS_FIGURE = "loss.png"

_SAMPLE_STEM = re.compile(re.escape(SAMPLE_PREFIX) + r"\d+")


class Part(NamedTuple):
    """A piece of the run: what it is, the stage that makes it (None: the pipeline), where."""

    what: str
    stage: str | None
    locate: Callable[[RunLayout], Path]
    folder: bool = False


PARTS = {
    "config": Part("resolved config", None, lambda run: run.config),
    "stages": Part("stage records", None, lambda run: run.stages, folder=True),
    "unmixer": Part("trained unmixer", "unmix", lambda run: run.unmixing / STATE_FILE),
    "unmix_eval": Part("unmixing evaluation", "eval_unmix", lambda run: run.unmixing_eval),
    "abundances": Part(
        "abundances inferred from photos", "infer", lambda run: run.abundances, folder=True
    ),
    "diffusion": Part(
        "diffusion training log", "diffusion", lambda run: run.generator, folder=True
    ),
    "samples": Part("samples", "sample", lambda run: run.samples, folder=True),
    "evaluation": Part("evaluation", "evaluate", lambda run: run.evaluation, folder=True),
}


class LossLog(NamedTuple):
    """A training-loss CSV: its rows (step and loss columns as floats) and loss columns."""

    path: Path
    rows: list[dict[str, float]]
    keys: list[str]


class RunContents:
    """Lazy, cached access to what one run directory holds."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.layout = RunLayout(root)
        self.root = self.layout.root
        self._cubes: dict[Path, HyperCube] = {}
        self.lost_photos: dict[str, str] = {}

    # ------------------------------------------------------------------ parts

    def path(self, part: str) -> Path:
        return PARTS[part].locate(self.layout)

    def where(self, part: str) -> str:
        """The part's path relative to the run, folders with a trailing slash."""
        relative = self.relative(self.path(part))
        return relative + "/" if PARTS[part].folder else relative

    def relative(self, path: Path) -> str:
        """``path`` as the report names it: relative to the run directory."""
        return path.relative_to(self.root).as_posix()

    def present(self, part: str) -> str:
        """``present``, ``present (N entries)`` for a non-empty folder, else empty."""
        path = self.path(part)
        if path.is_file():
            return "present"
        if path.is_dir() and any(path.iterdir()):
            return f"present ({sum(1 for _ in path.iterdir())} entries)"
        return ""

    # ------------------------------------------------------------------ pipeline

    def config_text(self) -> str | None:
        """The resolved config.yaml verbatim; raises if it is not valid YAML."""
        path = self.layout.config
        if not path.is_file():
            return None
        text = path.read_text()
        yaml.safe_load(text)  # a broken file is reported, not shown as if it were fine
        return text

    def stage_records(self) -> list[tuple[str, dict[str, Any]]]:
        """(stage, record) in the order the stages ran; an unreadable record says so."""
        records = {}
        for path in sorted(self.layout.stages.glob("*.json")):
            try:
                record = json.loads(path.read_text())
                records[str(record.get("stage", path.stem))] = record
            except (OSError, ValueError, AttributeError) as exc:
                records[path.stem] = {"status": f"unreadable: {one_line(exc)}"}
        return sorted(records.items(), key=_ran_at)

    # ------------------------------------------------------------------ unmixing

    @cached_property
    def unmixer_state(self) -> dict | None:
        path = self.path("unmixer")
        return json.loads(path.read_text()) if path.is_file() else None

    def unmixer(self) -> SceneUnmixer:
        from msfdiff.unmixing import load_unmixer

        return load_unmixer(self.layout.unmixing)

    def unmixing_history(self) -> list[dict[str, float]]:
        path = self.layout.unmixing / HISTORY_FILE
        return json.loads(path.read_text()) if path.is_file() else []

    def unmixing_figure(self, name: str) -> Path:
        return self.layout.unmixing_figures / name

    def unmixing_eval(self) -> dict | None:
        path = self.layout.unmixing_eval
        return json.loads(path.read_text()) if path.is_file() else None

    # ------------------------------------------------------------------ abundances and samples

    @property
    def abundance_index(self) -> Path:
        """The index of the inferred abundances: it lists the photos they came from."""
        return self.layout.abundances / INDEX_NAME

    @cached_property
    def inferred(self) -> AbundanceDataset | None:
        """The abundance dataset inferred from photos, or None."""
        from msfdiff.data.abundances import load_abundance_dataset

        if not self.abundance_index.is_file():
            return None
        return load_abundance_dataset(self.layout.abundances, check_rows=8)

    @cached_property
    def sample_hsis(self) -> dict[str, Path]:
        """Synthetic HSI files by stem (``sample_0000``), sorted."""
        return {
            path.stem: path
            for path in sorted(self.layout.samples.glob(f"{SAMPLE_PREFIX}*"))
            if path.suffix.lower() in HSI_SUFFIXES and _SAMPLE_STEM.fullmatch(path.stem)
        }

    @cached_property
    def sample_abundances(self) -> dict[str, Path]:
        """Synthetic abundance maps (H, W, k) by sample stem, sorted."""
        return {
            path.name[: -len(ABUNDANCE_SUFFIX)]: path
            for path in sample_abundance_paths(self.layout.samples)
        }

    def cube(self, path: Path) -> HyperCube:
        from msfdiff.data.readers import read_hsi

        if path not in self._cubes:
            self._cubes[path] = read_hsi(path)
        return self._cubes[path]

    def photo(self, listed: str, size: tuple[int, int]) -> np.ndarray | None:
        """A photo named in the abundance index (as written, else relative to the run).

        None when it has moved or cannot be read; the reason is kept in :attr:`lost_photos`.
        """
        from msfdiff.data.rgb import read_photo

        path = next((p for p in (Path(listed), self.root / listed) if p.is_file()), None)
        if path is None:
            self.lost_photos[listed] = "not found"
            return None
        try:
            return read_photo(path, size=size, crop="resize")  # as `unmix infer` reads them
        except MsfdiffError as exc:
            self.lost_photos[listed] = str(exc)
            return None

    # ------------------------------------------------------------------ diffusion, evaluation

    def loss_logs(self) -> list[LossLog]:
        """Every training-loss CSV in the generator folder (other CSVs are skipped)."""
        logs = [read_loss_csv(path) for path in sorted(self.layout.generator.rglob("*.csv"))]
        return [log for log in logs if log.rows]

    def metrics(self) -> dict | None:
        path = self.layout.metrics
        return json.loads(path.read_text()) if path.is_file() else None

    @staticmethod
    def pictures(folder: Path) -> list[Path]:
        """PNG files under a run folder, sorted."""
        return sorted(folder.rglob("*.png"))


def read_loss_csv(path: Path) -> LossLog:
    """A CSV with a ``step`` column and columns named ``*loss*``; no rows when it is not one.

    A row that does not parse (the trainer is writing it right now) is skipped.
    """
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        keys = [c for c in columns if "loss" in c.lower()]
        if "step" not in columns or not keys:
            return LossLog(path, [], [])
        rows = []
        for row in reader:
            try:
                rows.append({c: float(row[c]) for c in ("step", *keys)})
            except (TypeError, ValueError):
                continue
    return LossLog(path, rows, keys)


def _ran_at(item: tuple[str, dict[str, Any]]) -> tuple[int, str, str]:
    """Sort key: by ``started_at``, else ``finished_at``; records with neither by name, last."""
    stage, record = item
    when = record.get("started_at") or record.get("finished_at")
    return (0, str(when), stage) if when else (1, "", stage)
