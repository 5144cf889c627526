"""The report of a downstream directory (``msfdiff downstream``): the table of mean ± std
scores per condition and classifier, per-class accuracy, the scores plot, the split and the
class spectra. Reads ``downstream.json`` and the figures only; the table is defined here
once, for ``downstream.md`` and the HTML page alike."""

from __future__ import annotations

import json
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import msfdiff.report.template as html
from msfdiff._io import atomic_write, check_new
from msfdiff._version import __version__
from msfdiff.errors import DataNotFoundError
from msfdiff.layout import DownstreamLayout

METRICS = (("overall_accuracy", "OA %"), ("average_accuracy", "AA %"), ("kappa", "kappa %"))


def _pm(entry: dict[str, float]) -> str:
    mean, std = entry["mean"], entry["std"]
    return "–" if math.isnan(mean) else f"{100 * mean:.1f} ± {100 * std:.1f}"


def table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per (classifier, condition): added samples and OA / AA / kappa, mean ± std."""
    header = ["classifier", "condition", "added", *(title for _, title in METRICS), "seeds"]
    order = list(dict.fromkeys(c["classifier"] for c in summary["table"]))
    cells = sorted(summary["table"], key=lambda c: order.index(c["classifier"]))
    rows = [
        [
            c["classifier"],
            c["condition"],
            str(c["n_added"]),
            *(_pm(c[key]) for key, _ in METRICS),
            str(c["n_runs"]),
        ]
        for c in cells
    ]
    return header, rows


def per_class_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Per-class accuracy (mean over seeds and classifiers' runs) of each condition."""
    names = summary["data"]["class_names"]
    conditions = list(dict.fromkeys(c["condition"] for c in summary["table"]))
    header = ["class", "train", "test", *conditions]
    train, test = summary["split"]["train_per_class"], summary["split"]["test_per_class"]
    rows = []
    for k, name in enumerate(names):
        row = [name, str(train[k]), str(test[k])]
        for condition in conditions:
            values = [
                r["per_class"][k]
                for r in summary["runs"]
                if r["condition"] == condition and not math.isnan(r["per_class"][k])
            ]
            row.append(f"{100 * sum(values) / len(values):.1f}" if values else "–")
        rows.append(row)
    return header, rows


def _is_scene(summary: dict[str, Any]) -> bool:
    return summary["data"]["kind"] == "scene"


def notes(summary: dict[str, Any]) -> list[str]:
    config, split = summary["config"], summary["split"]
    counted = (
        f"{summary['data']['source']}: {sum(split['train_per_class'])} training and "
        f"{sum(split['test_per_class'])} test "
    )
    if _is_scene(summary):
        counted += (
            f"patches of {split['patch_size']} px, split in blocks of {split['block_size']} px "
            "with a guard band (no test patch shares a pixel with a training patch)."
        )
    else:
        counted += (
            f"images of {split['image_size']} px, split per image "
            f"({config['split']['train_fraction']:.0%} of each class's images train)."
        )
    return [
        counted,
        f"Each class is topped up to {config['target_per_class']} training samples by the "
        "condition; every network gets the same number of SGD steps "
        f"({config['classifiers']['iterations']}), whatever is added.",
        f"Mean ± std over seeds {list(config['seeds'])}: a seed changes network "
        "initialisation, batch order, the augmentation draw and the synthetic draw; the split "
        "and the msfdiff chain stay fixed.",
        "Per-class accuracy: the mean over seeds and classifiers.",
    ]


def markdown(summary: dict[str, Any]) -> str:
    """``downstream.md``: the table, per-class accuracy and the notes."""
    parts = []
    for header, rows in (table(summary), per_class_table(summary)):
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        parts += [*lines, *("| " + " | ".join(r) + " |" for r in rows), ""]
    return "\n".join([*parts, *notes(summary)]) + "\n"


def write_downstream_report(
    folder: str | os.PathLike, out: str | os.PathLike | None = None, *, force: bool = False
) -> Path:
    """Write the downstream run's self-contained HTML page (atomically); returns its path."""
    layout = DownstreamLayout(folder)
    if not layout.table_json.is_file():
        raise DataNotFoundError(f"{layout.root}: no downstream.json; run `msfdiff downstream`")
    summary = json.loads(layout.table_json.read_text())
    out = check_new(layout.report if out is None else out, force=force)
    header, rows = table(summary)
    class_header, class_rows = per_class_table(summary)
    body = [
        html.section(
            "table",
            "Scores on the test samples",
            [html.table(tuple(header), rows), html.bullets(notes(summary))],
        ),
        html.section(
            "per-class", "Per-class accuracy %", [html.table(tuple(class_header), class_rows)]
        ),
    ]
    scene = _is_scene(summary)
    pictures = (
        ("scores", "Scores", layout.figure, "Bars: mean over seeds; whiskers: one std."),
        (
            "split",
            "The split" if scene else "Training images",
            layout.split_figure,
            "Training blocks and test patch centres."
            if scene
            else "The first training images of each class, false colour.",
        ),
        (
            "spectra",
            "Class spectra",
            layout.spectra_figure,
            f"Mean {'centre' if scene else 'image'} spectrum per class: real training samples "
            "(black) and what each condition added (first seed).",
        ),
    )
    for key, title, png, text in pictures:
        if png.is_file():
            body.append(html.section(key, title, [html.figure(png, text)]))
    made = datetime.now().astimezone().isoformat(timespec="seconds")
    page = html.page(
        title=f"msfdiff downstream: {layout.root.resolve().name}",
        subtitle=f"{layout.root.resolve()} · made {made} by msfdiff {__version__}",
        nav=[("table", "Table"), ("per-class", "Per class")]
        + [(key, title) for key, title, png, _ in pictures if png.is_file()],
        body=body,
    )
    return atomic_write(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))
