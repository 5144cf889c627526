"""The comparison's outputs: ``compare.json`` (everything), ``compare.md`` (the table a paper
would print, columns in :mod:`msfdiff.report.compare`), ``compare_figure.png`` (the paper's
Fig. 10: false colour and spectral profiles per row, real first) and ``report.html``."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from msfdiff._io import atomic_write, write_json
from msfdiff._version import __version__
from msfdiff.layout import CompareLayout
from msfdiff.plotting import false_colour, save_figure, subplots
from msfdiff.progress import Log
from msfdiff.report.compare import markdown, write_compare_report

if TYPE_CHECKING:
    from msfdiff.evaluation.sets import SampleSet

FIGURE_SAMPLES = 3


def write_outputs(
    layout: CompareLayout,
    config: dict[str, Any],
    results: Sequence[dict[str, Any]],
    reference: SampleSet,
    log: Log,
) -> None:
    summary = {
        "msfdiff_version": __version__,
        "created_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "config": config,
        "reference": {
            "real_hsi": reference.name,
            "held_out_every": config["reference"]["held_out_every"],
        },
        "rows": list(results),
    }
    write_json(layout.table_json, summary)
    atomic_write(layout.table_md, lambda p: p.write_text(markdown(summary)))
    draw_figure(layout, results, reference)
    write_compare_report(layout.root, force=True)
    log(f"comparison: {layout.table_md}, {layout.report}")


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
        ax.plot(x, real_mean, color="0.3", lw=1, label="real HSI crops")
        ax.plot(x, mean, color="C3", lw=1, label="this row")
        ax.fill_between(x, mean - std, mean + std, color="C3", alpha=0.2)
        ax.tick_params(labelsize=7)
    axes[min(1, len(rows) - 1), -1].legend(fontsize=7)
    save_figure(fig, layout.figure)


def _spectrum_stats(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.concatenate([image.reshape(-1, image.shape[-1]) for image in images])
    return pixels.mean(axis=0), pixels.std(axis=0)
