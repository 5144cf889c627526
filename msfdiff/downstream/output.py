"""The downstream directory's outputs: ``downstream.json`` (every run and the mean ± std per
condition and classifier), ``downstream.md`` (the table, columns in
:mod:`msfdiff.report.downstream`), three figures (scores, the split or example images, class
spectra) and ``report.html``."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np

from msfdiff._io import atomic_path, atomic_write, write_json
from msfdiff._version import __version__
from msfdiff.downstream.scores import Scores, summarise
from msfdiff.downstream.task import Task
from msfdiff.layout import DownstreamLayout
from msfdiff.plotting import false_colour, save_figure, subplots
from msfdiff.progress import Log
from msfdiff.report.downstream import markdown, write_downstream_report


def aggregate(runs: list[dict[str, Any]], conditions: list[str], classifiers: list[str]) -> list:
    """Mean ± std over seeds of each (condition, classifier), in config order."""
    cells = []
    for condition in conditions:
        for name in classifiers:
            mine = [r for r in runs if r["condition"] == condition and r["classifier"] == name]
            scores = [
                Scores(r["overall_accuracy"], r["average_accuracy"], r["kappa"],
                       tuple(r["per_class"]))
                for r in mine
            ]  # fmt: skip
            cells.append(
                {
                    "condition": condition,
                    "classifier": name,
                    "n_added": mine[0]["n_added"],
                    "seeds": [r["seed"] for r in mine],
                    **summarise(scores),
                }
            )
    return cells


def write_outputs(
    layout: DownstreamLayout,
    summary: dict[str, Any],
    task: Task,
    log: Log,
) -> dict[str, Any]:
    """Write everything; returns the summary as written to ``downstream.json``."""
    config = summary["config"]
    classifiers = [*config["classifiers"]["networks"], *config["classifiers"]["spectra"]]
    summary = {
        "msfdiff_version": __version__,
        "created_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **summary,
        "table": aggregate(summary["runs"], config["conditions"], classifiers),
    }
    write_json(layout.table_json, summary)
    atomic_write(layout.table_md, lambda p: p.write_text(markdown(summary)))
    draw_scores(layout, summary)
    if task.kind == "scene":
        draw_split(layout, task)
    else:
        draw_examples(layout, task)
    draw_class_spectra(layout, task, config["conditions"])
    write_downstream_report(layout.root, force=True)
    log(f"downstream: {layout.table_md}, {layout.report}")
    return summary


def draw_scores(layout: DownstreamLayout, summary: dict[str, Any]) -> None:
    """OA, AA and kappa per classifier, one bar per condition, ± one std over seeds."""
    table = summary["table"]
    conditions = list(dict.fromkeys(cell["condition"] for cell in table))
    classifiers = list(dict.fromkeys(cell["classifier"] for cell in table))
    fig, axes = subplots(1, 3, figsize=(4.2 * 3, 3.4))
    width = 0.8 / len(conditions)
    for ax, metric in zip(axes, ("overall_accuracy", "average_accuracy", "kappa"), strict=True):
        for j, condition in enumerate(conditions):
            cells = {c["classifier"]: c for c in table if c["condition"] == condition}
            means = [cells[name][metric]["mean"] for name in classifiers]
            stds = [cells[name][metric]["std"] for name in classifiers]
            x = np.arange(len(classifiers)) + (j - (len(conditions) - 1) / 2) * width
            ax.bar(x, means, width, yerr=stds, capsize=2, label=condition, color=f"C{j}")
        ax.set_xticks(np.arange(len(classifiers)), classifiers, fontsize=8)
        ax.set_title(metric.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    save_figure(fig, layout.figure)


def draw_split(layout: DownstreamLayout, task: Task) -> None:
    """False colour, the classes, and where training blocks and test patch centres lie."""
    scene, split = task.data, task.split
    fig, axes = subplots(1, 3, figsize=(11, 3.8))
    axes[0].imshow(false_colour(scene.data, scene.wavelengths_nm))
    axes[0].set_title("false colour", fontsize=9)
    shown = np.ma.masked_equal(scene.labels, 0)
    axes[1].imshow(shown, cmap="tab20", interpolation="nearest")
    axes[1].set_title(f"{scene.n_classes} classes (white: unlabelled)", fontsize=9)
    parts = np.zeros(scene.labels.shape, dtype=np.int64)  # 0 guard / unlabelled
    parts[tuple(split.test_centres.T)] = 2
    parts[split.train_region] = 1
    axes[2].imshow(parts, cmap="viridis", vmin=0, vmax=2, interpolation="nearest")
    axes[2].set_title("training blocks (teal), test centres (yellow)", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    save_figure(fig, layout.split_figure)


def draw_examples(layout: DownstreamLayout, task: Task, per_class: int = 4) -> None:
    """The first training images of each class in false colour, a row per class."""
    n = task.n_classes
    fig, axes = subplots(n, per_class, figsize=(1.6 * per_class, 1.6 * n), squeeze=False)
    for c, row in enumerate(axes):
        images = task.train[task.train_labels == c][:per_class]
        for j, ax in enumerate(row):
            if j < len(images):
                ax.imshow(false_colour(images[j], task.wavelengths_nm))
            ax.set_axis_off()
        row[0].set_title(task.class_names[c][:24], fontsize=7, loc="left")
    save_figure(fig, layout.split_figure)


def draw_class_spectra(layout: DownstreamLayout, task: Task, conditions: list[str]) -> None:
    """Per class: the real training samples' mean label spectrum and each condition's."""
    means = {c: np.load(layout.spectra(c)) for c in conditions if layout.spectra(c).is_file()}
    n = task.n_classes
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    x = task.wavelengths_nm if task.wavelengths_nm is not None else np.arange(task.train.shape[-1])
    for c, ax in enumerate(axes.ravel()):
        if c >= n:
            ax.set_axis_off()
            continue
        for j, condition in enumerate(conditions):
            if condition in means and np.isfinite(means[condition][c]).all():
                real = condition == "real"
                colour, lw = ("0.2", 1.6) if real else (f"C{j}", 0.9)
                ax.plot(x, means[condition][c], label=condition, color=colour, lw=lw)
        ax.set_title(task.class_names[c][:28], fontsize=8)
        ax.tick_params(labelsize=6)
    axes[0, 0].legend(fontsize=6)
    save_figure(fig, layout.spectra_figure)


def save_class_spectra(path: Path, spectra: np.ndarray, labels: np.ndarray, n_classes: int) -> None:
    """Mean of ``spectra`` (n, C) per class (NaN rows for classes with none)."""
    means = np.full((n_classes, spectra.shape[-1]), np.nan, dtype=np.float32)
    for c in np.unique(labels):
        means[c] = spectra[labels == c].mean(axis=0)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, means)
