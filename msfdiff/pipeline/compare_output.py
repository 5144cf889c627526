"""The comparison's outputs: ``compare.json`` (everything), ``compare.md`` (the table a paper
would print) and ``compare_figure.png`` (the paper's Fig. 10: false colour and spectral
profiles per row, real first)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from msfdiff._io import atomic_write, write_json
from msfdiff._version import __version__
from msfdiff.config import to_dict
from msfdiff.layout import CompareLayout
from msfdiff.plotting import false_colour, save_figure, subplots
from msfdiff.progress import Log

if TYPE_CHECKING:
    from msfdiff.evaluation.sets import SampleSet
    from msfdiff.pipeline.compare import CompareConfig

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (metric key, header, format)
    ("fid", "FID ↓", ".1f"),
    ("kid", "KID ↓", ".4f"),
    ("precision", "prec. ↑", ".2f"),
    ("recall", "recall ↑", ".2f"),
    ("spectral_fd", "spectral FD ↓", ".3g"),
    ("spectral_angle_w1", "SAD W1 ° ↓", ".2f"),
    ("abundance_hist_w1", "abund. W1 ↓", ".3f"),
    ("abundance_edge_coherence_gap", "edges (real {real:.2f})", "synthetic:.2f"),
    ("abundance_composition_spread_gap", "spread (real {real:.3f})", "synthetic:.3f"),
    ("novelty_nearest_train", "novelty ↑", ".2f"),
    ("memorisation_rate", "memorised ↓", ".2f"),
)
"""The table's metric columns; ``edges`` and ``spread`` show the rows' own values with the
held-out photos' value in the header (the closer, the better)."""

FIGURE_SAMPLES = 3


def write_outputs(
    layout: CompareLayout,
    config: CompareConfig,
    results: Sequence[dict[str, Any]],
    reference: SampleSet,
    log: Log,
) -> None:
    summary = {
        "msfdiff_version": __version__,
        "created_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "config": to_dict(config),
        "reference": {
            "real_hsi": reference.name,
            "held_out_every": config.reference.held_out_every,
        },
        "rows": list(results),
    }
    write_json(layout.table_json, summary)
    atomic_write(layout.table_md, lambda p: p.write_text(markdown_table(config, results)))
    draw_figure(layout, results, reference)
    log(f"comparison: {layout.table_md}, {layout.figure}")


def markdown_table(config: CompareConfig, results: Sequence[dict[str, Any]]) -> str:
    """The table: one line per row, metric columns, then size, budget and speed."""
    first = results[0]["metrics"]
    headers = ["row", "k"]
    for key, header, _ in COLUMNS:
        real = first.get(key, {}).get("real")
        headers.append(header.format(real=real) if real is not None else header.split(" (")[0])
    headers += ["params", "steps", "train s", "s / sample"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for result in results:
        metrics, training = result["metrics"], result["training"]
        cells = [result["name"], str(result["k"])]
        for key, _, fmt in COLUMNS:
            cells.append(_cell(metrics.get(key), fmt))
        cells += [
            _count(training.get("parameters")),
            _count(training.get("training_steps")),
            _count(training.get("seconds")),
            f"{result['sampling']['seconds_per_sample']:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    sets = first.get("sets", {})
    notes = [
        "",
        f"{config.n} samples per row, seed {config.seed}, training budget {config.steps} steps.",
        f"Reference sets: {sets.get('real_hsi', '?')} real HSI crops (spectral metrics); "
        f"{sets.get('held_out_photos', '?')} held-out photos, never trained on: their abundance "
        "maps for abundance W1, edges and spread"
        + ("; the photos themselves for FID, KID, precision and recall." if config.fid else "."),
        "Rows that output HSIs are scored on their FCLS abundances on the same endmembers.",
    ]
    return "\n".join(lines + notes) + "\n"


def _cell(entry: dict[str, Any] | None, fmt: str) -> str:
    if not entry:
        return "–"
    key, _, spec = fmt.rpartition(":")
    value = entry.get(key or "value")
    return "–" if value is None else format(value, spec)


def _count(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value:g}"


def draw_figure(
    layout: CompareLayout, results: Sequence[dict[str, Any]], reference: SampleSet
) -> None:
    """Fig. 10 of the paper: per row, false-colour samples and the mean spectrum ± std."""
    from msfdiff.evaluation.sets import load_set

    wavelengths = reference.wavelengths_nm
    rows = [("real HSI crops", reference.images[:FIGURE_SAMPLES])]
    for result in results:
        samples = layout.row_samples(result["slug"])
        found = load_set(
            [samples], kind="hsi", wavelengths_nm=wavelengths, max_images=FIGURE_SAMPLES
        )
        rows.append((result["name"], found.images))
    real_mean, real_std = _spectrum_stats(reference.images)
    fig, axes = subplots(
        len(rows), FIGURE_SAMPLES + 1, figsize=(2.2 * (FIGURE_SAMPLES + 1), 2.0 * len(rows))
    )
    axes = np.atleast_2d(axes)
    x = wavelengths if wavelengths is not None else np.arange(len(real_mean))
    for (name, images), line in zip(rows, axes, strict=True):
        for j, ax in enumerate(line[:FIGURE_SAMPLES]):
            ax.set_axis_off()
            if j < len(images):
                ax.imshow(false_colour(images[j], wavelengths))
        line[0].set_title(name, loc="left", fontsize=9)
        mean, std = _spectrum_stats(images)
        ax = line[-1]
        ax.fill_between(x, real_mean - real_std, real_mean + real_std, color="0.8")
        ax.plot(x, real_mean, color="0.3", lw=1, label="real")
        ax.plot(x, mean, color="C3", lw=1, label=name)
        ax.fill_between(x, mean - std, mean + std, color="C3", alpha=0.2)
        ax.tick_params(labelsize=7)
    axes[0, -1].legend(fontsize=7)
    save_figure(fig, layout.figure)


def _spectrum_stats(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.concatenate([image.reshape(-1, image.shape[-1]) for image in images])
    return pixels.mean(axis=0), pixels.std(axis=0)
