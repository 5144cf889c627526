"""The report of a comparison directory (``msfdiff compare``): the table of every row, the
paper's Fig. 10 (false colour and spectral profiles per row), metrics by row as bars, and what
each reference set held. Reads ``compare.json`` and the figure only; the table's columns are
defined here once, for ``compare.md`` and the HTML page alike."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

import msfdiff.report.template as html
from msfdiff._io import atomic_write, check_new
from msfdiff._version import __version__
from msfdiff.errors import DataNotFoundError
from msfdiff.layout import CompareLayout
from msfdiff.plotting import save_figure, subplots
from msfdiff.report.embed import Scratch

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (metric key, header, format: "spec" of the value, or "field:spec")
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
    ("local_copy_share", "tiles copied ↓", ".2f"),
)
"""The metric columns; ``edges`` and ``spread`` show each row's own value with the held-out
photos' value in the header (the closer, the better)."""

BAR_METRICS = ("fid", "spectral_fd", "abundance_edge_coherence_gap", "novelty_nearest_train")


def table(results: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the comparison table."""
    first = results[0]["metrics"]
    header = ["row", "k"]
    for key, title, _ in COLUMNS:
        real = first.get(key, {}).get("real")
        header.append(title.format(real=real) if real is not None else title.split(" (")[0])
    header += ["unmixer PSNR / SAD °", "endmember TV", "params", "steps", "train s", "s / sample"]
    rows = []
    for result in results:
        metrics, training = result["metrics"], result["training"]
        cells = [result["name"], str(result["k"])]
        cells += [_cell(metrics.get(key), fmt) for key, _, fmt in COLUMNS]
        unmixer = result.get("unmixer", {})
        own = training.get("held_out_reconstruction")
        cells += [
            _unmixer_cell(unmixer) + (f"; own AE {_unmixer_cell(own)}" if own else ""),
            _cell({"value": unmixer.get("endmember_tv")}, ".4f"),
            _count(training.get("parameters")),
            _count(training.get("training_steps")),
            _count(training.get("seconds")),
            f"{result['sampling']['seconds_per_sample']:.3f}",
        ]
        rows.append(cells)
    return header, rows


def reference_notes(summary: dict[str, Any]) -> list[str]:
    """What the table's numbers were measured on, in words."""
    config, first = summary["config"], summary["rows"][0]["metrics"]
    sets = first.get("sets", {})
    photos = f"{sets.get('held_out_photos', '?')} held-out photos, never trained on"
    return [
        f"{config['n']} samples per row, seed {config['seed']}, training budget "
        f"{config['steps']} steps.",
        f"Spectral metrics against {sets.get('real_hsi', '?')} real HSI crops; abundance W1, "
        f"edges and spread against the maps of {photos}"
        + ("; FID, KID, precision and recall against those photos." if config["fid"] else "."),
        "Rows that output HSIs are scored on their FCLS abundances on the same endmembers.",
        "Unmixer PSNR / SAD: the row's unmixer on the held-out HSIs (data.eval_hsi), and a "
        "row's own autoencoder on them where it has one (Fig. 7); endmember TV: mean "
        "|difference| of its endmembers between neighbouring bands.",
    ]


def markdown(summary: dict[str, Any]) -> str:
    """``compare.md``: the table and the notes."""
    header, rows = table(summary["rows"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join([*lines, "", *reference_notes(summary)]) + "\n"


def _cell(entry: dict[str, Any] | None, fmt: str) -> str:
    if not entry:
        return "–"
    key, _, spec = fmt.rpartition(":")
    value = entry.get(key or "value")
    return "–" if value is None else format(value, spec)


def _unmixer_cell(unmixer: dict[str, Any]) -> str:
    if "psnr" not in unmixer:
        return "–"
    return f"{unmixer['psnr']:.2f} / {unmixer['sad_deg']:.2f}"


def _count(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value:g}"


def write_compare_report(
    compare_dir: str | os.PathLike, out: str | os.PathLike | None = None, *, force: bool = False
) -> Path:
    """Write the comparison's self-contained HTML page (atomically) and return its path."""
    layout = CompareLayout(compare_dir)
    if not layout.table_json.is_file():
        raise DataNotFoundError(f"{layout.root}: no compare.json; run `msfdiff compare` first")
    summary = json.loads(layout.table_json.read_text())
    out = check_new(layout.report if out is None else out, force=force)
    with tempfile.TemporaryDirectory(prefix="msfdiff-compare-") as tmp:
        scratch = Scratch(Path(tmp))
        header, rows = table(summary["rows"])
        body = [
            html.section(
                "table",
                "Every row, same data, budget and scoring",
                [html.table(tuple(header), rows), html.bullets(reference_notes(summary))],
            )
        ]
        if layout.figure.is_file():
            caption = (
                "False colour of the first samples of each row (real HSI crops first) and the "
                "mean spectrum ± one std of each row (red) over the real crops' (grey)."
            )
            body.append(
                html.section("figure", "Side by side", [html.figure(layout.figure, caption)])
            )
        bars = _plot_bars(summary["rows"], scratch.png("bars"))
        body.append(
            html.section(
                "bars", "Metrics by row", [html.figure(bars, "Lower is better except novelty.")]
            )
        )
    made = datetime.now().astimezone().isoformat(timespec="seconds")
    page = html.page(
        title=f"msfdiff comparison: {layout.root.resolve().name}",
        subtitle=f"{layout.root.resolve()} · made {made} by msfdiff {__version__}",
        nav=[("table", "Table"), ("figure", "Figure"), ("bars", "Metrics")],
        body=body,
    )
    return atomic_write(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def _plot_bars(results: Sequence[dict[str, Any]], path: Path) -> Path:
    names = [r["name"] for r in results]
    fig, axes = subplots(
        1, len(BAR_METRICS), figsize=(3.2 * len(BAR_METRICS), 0.3 * len(names) + 1.5)
    )
    for ax, key in zip(np.atleast_1d(axes), BAR_METRICS, strict=True):
        values = [(r["metrics"].get(key) or {}).get("value") for r in results]
        ax.barh(names, [np.nan if v is None else v for v in values], color="C0")
        ax.set_title(key, fontsize=9)
        ax.invert_yaxis()
        ax.tick_params(labelsize=7)
    return save_figure(fig, path)
