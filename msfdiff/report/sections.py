"""The report's sections: one builder per part, each returning an HTML fragment.

A section is a list of parts; a part the run lacks becomes a grey note naming the stage that
makes it, and a part that cannot be read becomes a note quoting the error, while its
neighbours still show. So the report never fails because of the run's contents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

import msfdiff.report.template as html
from msfdiff.data.bands import BandSelector
from msfdiff.data.cube import HyperCube
from msfdiff.errors import MsfdiffError
from msfdiff.evaluation.metrics import NOVELTY_PLOT
from msfdiff.fusion import REGION_SIZE, plot_spectral_profiles
from msfdiff.plotting import FALSE_COLOUR_NM, false_colour, plot_endmembers, plot_loss, save_image
from msfdiff.report.captions import caption_for
from msfdiff.report.embed import Scratch
from msfdiff.report.figures import plot_abundance_rows
from msfdiff.report.run import (
    ENDMEMBERS_FIGURE,
    LOSS_FIGURE,
    PARTS,
    RunContents,
)
from msfdiff.report.text import duration, flatten_metrics, is_number, number, one_line

THUMBNAIL_SIZE = 160
ABUNDANCE_ROWS = 4  # rows per kind (inferred, synthetic) in the abundance comparison
PROFILE_SAMPLES = 2  # synthetic HSIs shown with spectral profiles
TABLE_ROWS = 50  # per-image rows shown before the rest is summarised
NOVELTY_FIGURE = f"{NOVELTY_PLOT}.png"  # shown beside the novelty numbers, not among the rest
_UNREADABLE = (
    MsfdiffError,
    OSError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    yaml.YAMLError,
)

_ABUNDANCE_ROWS_EXPLAINED = {
    "photo": "'photo' rows: maps the unmixer inferred from a real RGB photo (shown left).",
    "synthetic": "'synthetic' rows: maps sampled by the diffusion model, with the HSI fused "
    "from them in false colour left.",
}

# The direction of the unmixing reconstruction metrics (the unmixing evaluation carries none).
_UNMIXING_HIGHER = {"psnr", "ssim"}


@dataclass
class Context:
    """What every builder gets: the run, a scratch folder for its plots, the gallery size."""

    run: RunContents
    scratch: Scratch
    max_images: int


def evenly(n: int, m: int) -> list[int]:
    """``m`` indices spread over ``range(n)`` (so a class-sorted dataset shows several classes)."""
    return sorted({int(i) for i in np.linspace(0, n - 1, num=min(n, m)).round()})


def _made_by(part: str) -> str:
    stage = PARTS[part].stage
    return "the pipeline" if stage is None else f"the {stage} stage"


def _missing(ctx: Context, part: str) -> str:
    """The grey note for a part the run does not have yet."""
    return html.note(f"no {PARTS[part].what} yet ({ctx.run.where(part)}) — run {_made_by(part)}")


def _false_colour(cube: HyperCube) -> np.ndarray:
    return false_colour(np.asarray(cube.data, dtype=np.float32), cube.wavelengths_nm)


# --------------------------------------------------------------------------- overview


def _contents(ctx: Context) -> str:
    rows = [
        (
            spec.what,
            ctx.run.where(part),
            ctx.run.present(part) or f"missing: run {_made_by(part)}",
        )
        for part, spec in PARTS.items()
    ]
    return html.table(("part", "where", "status"), rows)


def _stage_table(ctx: Context) -> str:
    """Stages in the order they ran, then those making a part of the run that have not."""
    records = ctx.run.stage_records()
    if not records:
        return _missing(ctx, "stages")
    rows, total = [], 0.0
    for stage, record in records:
        seconds = record.get("seconds")
        total += seconds if is_number(seconds) else 0.0
        rows.append(
            (
                stage,
                str(record.get("status", "?")),
                duration(seconds),
                str(record.get("finished_at") or ""),
                str(record.get("fingerprint") or "")[:12],
            )
        )
    ran = {stage for stage, _ in records}
    not_run = [p.stage for p in PARTS.values() if p.stage is not None and p.stage not in ran]
    rows += [(stage, "not run", "", "", "") for stage in dict.fromkeys(not_run)]
    rows.append(("total", "", duration(total), "", ""))
    return html.table(("stage", "status", "time", "finished", "fingerprint"), rows)


def _config(ctx: Context) -> str:
    text = ctx.run.config_text()
    if text is None:
        return _missing(ctx, "config")
    name = ctx.run.where("config")
    return html.folded(name, html.preformatted(text), unfolded=True)


# --------------------------------------------------------------------------- endmembers


def _endmembers(ctx: Context) -> str:
    state = ctx.run.unmixer_state
    existing = ctx.run.unmixing_figure(ENDMEMBERS_FIGURE)
    if state is None and not existing.is_file():
        return _missing(ctx, "unmixer")
    parts = [] if state is None else [_unmixer_facts(state)]
    k = state["config"]["n_endmembers"] if state else "k"
    caption = (
        f"Spectra of the {k} endmembers the unmixer learned from real HSIs (reflectance against "
        "wavelength; paper Fig. 6). Every synthetic HSI is a per-pixel mix of these spectra."
    )
    if existing.is_file():
        parts.append(html.figure(existing, caption))
    else:
        unmixer = ctx.run.unmixer()
        png = plot_endmembers(
            unmixer.endmembers_,
            unmixer.wavelengths_,
            ctx.scratch.png("endmembers"),
            usage=unmixer.usage_,
        )
        parts.append(html.figure(png, caption))
    for png in ctx.run.pictures(ctx.run.layout.unmixing_figures):
        if png.name not in (ENDMEMBERS_FIGURE, LOSS_FIGURE):  # shown above / under training
            parts.append(html.figure(png, caption_for(png, "Figure from the unmix stage")))
    return "".join(parts)


def _unmixer_facts(state: dict) -> str:
    wl = state.get("wavelengths_nm")
    noise = state.get("noise_std")
    selector = state.get("band_selector")
    rows = [
        ("endmembers", state["config"]["n_endmembers"]),
        ("bands", state.get("n_bands", "?")),
        ("wavelengths", f"{wl[0]:.1f}–{wl[-1]:.1f} nm" if wl else "not stored"),
        ("encoder input", BandSelector.from_dict(selector).spec if selector else "—"),
        ("mean residual noise std", number(float(np.mean(noise))) if noise else "—"),
        ("mean abundance per endmember", _usage(state.get("usage"))),
        ("dead endmembers re-seeded in training", state.get("reseeds", "—")),
        (
            "lowest endmember value",
            number(float(np.min(state["endmembers"]))) if "endmembers" in state else "—",
        ),
    ]
    return html.table(("unmixer", ""), rows)


def _usage(usage: list[float] | None) -> str:
    """E1 21% · E2 8% · …: every endmember is used (training stops otherwise)."""
    if usage is None:
        return "—"
    return " · ".join(f"E{i + 1} {u:.0%}" for i, u in enumerate(usage))


# --------------------------------------------------------------------------- abundances, galleries


def _abundance_maps(ctx: Context) -> str:
    run = ctx.run
    rows: list[tuple[str, np.ndarray | None, np.ndarray]] = []
    notes = []
    dataset = run.inferred
    if dataset is None:
        notes.append(_missing(ctx, "abundances"))
    else:
        for i in evenly(len(dataset), ABUNDANCE_ROWS):
            listed = dataset.files[i]
            abundance = np.asarray(dataset.array[i], dtype=np.float32)
            photo = run.photo(listed, abundance.shape[:2])
            rows.append((f"photo: {Path(listed).stem}", photo, abundance))
    synthetic = list(run.sample_abundances.items())[:ABUNDANCE_ROWS]
    if not synthetic:
        notes.append(_missing(ctx, "samples"))
    for stem, path in synthetic:
        hsi = run.sample_hsis.get(stem)
        picture = None if hsi is None else _false_colour(run.cube(hsi))
        rows.append((f"synthetic: {stem}", picture, np.load(path)))
    figures = []
    for k in sorted({a.shape[-1] for _, _, a in rows}):
        chosen = [row for row in rows if row[2].shape[-1] == k]
        png = plot_abundance_rows(
            [image for _, image, _ in chosen],
            [abundance for _, _, abundance in chosen],
            ctx.scratch.png(f"abundances_k{k}"),
            row_labels=[label for label, _, _ in chosen],
        )
        kinds = {label.split(":")[0] for label, _, _ in chosen}
        explained = [text for kind, text in _ABUNDANCE_ROWS_EXPLAINED.items() if kind in kinds]
        figures.append(
            html.figure(
                png,
                f"Abundance maps, one row per image and one column per endmember E1–E{k}. "
                + " ".join(explained)
                + " Every panel uses the same colour scale, 0 (dark blue) to 1 (yellow); a "
                "pixel's maps sum to one.",
            )
        )
    return "".join(figures + notes)


def _photo_gallery(ctx: Context) -> str:
    run = ctx.run
    dataset = run.inferred
    if dataset is None:
        return _missing(ctx, "abundances")
    thumbs, lost = [], []
    for i in evenly(len(dataset), ctx.max_images):
        listed = dataset.files[i]
        photo = run.photo(listed, (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        if photo is None:
            lost.append(f"{listed}: {run.lost_photos[listed]}")
            continue
        label = dataset.labels[i]
        name = Path(listed).name + (f" ({label})" if label else "")
        thumbs.append(html.thumb(save_image(photo, ctx.scratch.png("photo")), name))
    parts = []
    if thumbs:
        parts.append(
            html.thumbs(
                thumbs,
                f"Real RGB photos the abundances were inferred from ({len(dataset)} in all).",
            )
        )
    if lost:
        index = run.relative(run.abundance_index)
        parts.append(html.note(f"{len(lost)} photo(s) in {index} not shown, e.g. {lost[0]}"))
    return "".join(parts)


def _sample_gallery(ctx: Context) -> str:
    run = ctx.run
    hsis = list(run.sample_hsis.items())[: ctx.max_images]
    if not hsis:
        return _missing(ctx, "samples")
    thumbs = [
        html.thumb(save_image(_false_colour(run.cube(path)), ctx.scratch.png(stem)), path.name)
        for stem, path in hsis
    ]
    red, green, blue = FALSE_COLOUR_NM
    return html.thumbs(
        thumbs,
        f"Synthetic HSIs ({len(run.sample_hsis)} in all) in false colour: red, green and blue "
        f"are the bands nearest {red:g}, {green:g} and {blue:g} nm, one gain per image (its 99th "
        "percentile).",
    )


def _spectral_profiles(ctx: Context) -> str:
    hsis = list(ctx.run.sample_hsis.items())[:PROFILE_SAMPLES]
    if not hsis:
        return _missing(ctx, "samples")
    parts = []
    for i, (stem, path) in enumerate(hsis):
        cube = ctx.run.cube(path)
        png = plot_spectral_profiles(
            np.asarray(cube.data, dtype=np.float32),
            cube.wavelengths_nm,
            ctx.scratch.png(stem),
            seed=i,
        )
        parts.append(
            html.figure(
                png,
                f"{path.name} (paper Fig. 11 b–d): left, false colour with five randomly placed "
                f"{REGION_SIZE}×{REGION_SIZE} regions; middle, the spectrum of the pixel at each "
                f"region's top-left corner; right, each region's mean spectrum ± 1 std.",
            )
        )
    return "".join(parts)


# --------------------------------------------------------------------------- training


def _unmixing_loss(ctx: Context) -> str:
    history = ctx.run.unmixing_history()
    if not history:
        return _missing(ctx, "unmixer")
    keys = [k for k in history[0] if k != "step" and all(row.get(k, 0) > 0 for row in history)]
    png = plot_loss(history, ctx.scratch.png("unmixing_loss"), keys=keys, title="unmixing loss")
    return html.figure(
        png,
        f"Unmixing training loss over {len(history)} steps ({', '.join(keys)}; running mean over "
        "2 % of the steps, log scale). The total is the reconstruction term plus the weighted "
        "spectral-angle (sad) and smoothness (tv) terms.",
    )


def _diffusion_loss(ctx: Context) -> str:
    parts = []
    for log in ctx.run.loss_logs():
        png = plot_loss(
            log.rows, ctx.scratch.png("diffusion_loss"), keys=log.keys, title="diffusion loss"
        )
        last = log.rows[-1]
        parts.append(
            html.figure(
                png,
                f"Diffusion (denoiser) training loss from {ctx.run.relative(log.path)}: "
                f"{len(log.rows)} logged steps, last step {int(last['step'])}, last loss "
                f"{number(last[log.keys[0]])} (running mean, log scale).",
            )
        )
    return "".join(parts) or _missing(ctx, "diffusion")


# --------------------------------------------------------------------------- metrics


def _unmixing_metrics(ctx: Context) -> str:
    report = ctx.run.unmixing_eval()
    if report is None:
        return _missing(ctx, "unmix_eval")
    mean = report["mean"]
    table = html.table(
        ("metric", "mean", "better"),
        [(k, number(v), "higher" if k in _UNMIXING_HIGHER else "lower") for k, v in mean.items()],
    )
    images = report.get("images") or []
    caption = html.caption(
        f"Held-out HSIs reconstructed from their own three bands (paper Table 3 protocol), mean "
        f"over {len(images)} image(s); SAD in degrees, PSNR in dB."
    )
    pictures = ctx.run.pictures(ctx.run.layout.unmixing_eval_figures)[: ctx.max_images]
    figures = "".join(
        html.figure(png, caption_for(png, "Figure from the eval_unmix stage")) for png in pictures
    )
    if not images:
        return table + caption + figures
    keys = list(mean)
    rows = [
        (Path(str(r.get("source", "?"))).name, *(number(r.get(k)) for k in keys)) for r in images
    ]
    more = len(rows) - TABLE_ROWS
    shown = rows[:TABLE_ROWS] + ([(f"… {more} more", *[""] * len(keys))] if more > 0 else [])
    details = html.folded("per image", html.table(("image", *keys), shown))
    return table + caption + details + figures


def _evaluation_metrics(ctx: Context) -> str:
    report = ctx.run.metrics()
    if report is None:
        return _missing(ctx, "evaluation")
    metrics = report.get("metrics") if isinstance(report.get("metrics"), dict) else report
    definitions = report.get("definitions") if isinstance(report.get("definitions"), dict) else {}
    rows = [
        (name, value, better, definitions.get(definition, definition))
        for name, value, better, definition in flatten_metrics(metrics)
    ]
    where = ctx.run.relative(ctx.run.layout.metrics)
    parts = [
        html.table(("metric", "value", "better", "definition"), rows)
        if rows
        else html.note("no numbers"),
        html.caption(f"Every number in {where} (nested keys joined with dots)."),
    ]
    notes = report.get("notes")
    if isinstance(notes, list) and notes:
        parts.append(
            html.folded(f"evaluation notes ({len(notes)})", html.bullets([str(n) for n in notes]))
        )
    return "".join(parts)


def _novelty(ctx: Context) -> str:
    report = ctx.run.metrics()
    if report is None:
        return _missing(ctx, "evaluation")
    novelty = report.get("novelty")
    if not isinstance(novelty, dict):
        where = ctx.run.relative(ctx.run.layout.metrics)
        return html.note(
            f"no novelty in {where}: evaluate with the training abundances (--train-abundances)"
        )
    memorised = len(novelty["memorised"])
    rows = [
        (
            "samples against training maps",
            f"{novelty['n_samples']} against {novelty['n_training']}",
        ),
        ("sample → nearest training map", _spread(novelty["nearest_training"])),
        (
            "real → nearest other real (reference)",
            f"{_spread(novelty['real_to_real'])}, {novelty['n_reference_queries']} maps",
        ),
        (
            "relative novelty (median / reference median)",
            number(novelty["nearest_training_relative"]),
        ),
        (
            "memorisation rate",
            f"{novelty['memorisation_rate']:.1%}: {memorised} of {novelty['n_samples']} samples "
            f"at or below {number(novelty['memorisation_threshold'])} (fresh real maps: "
            f"{novelty['memorisation_quantile']:.0%})",
        ),
    ]
    local = novelty.get("local")
    if isinstance(local, dict):
        rows.append(
            (
                f"tiles copied from training maps ({local['tile']} px)",
                f"{local['copied_share']:.1%} of {local['n_tiles']} tiles at or below "
                f"{number(local['threshold'])} (fresh real maps: about 5%)",
            )
        )
    source = novelty.get("source")
    if isinstance(source, dict):
        rows.append(
            ("sample → its source", f"{_spread(source)}, relative {number(source['relative'])}")
        )
    parts = [
        html.table(("novelty", ""), rows),
        html.caption(
            "Distance between two abundance maps: the L1 norm over endmembers, mean over pixels, "
            "least over rotations and flips (docs/metrics.md). The memorisation rate is the share "
            "of samples at least as close to a training map as the closest 5 % of real maps are "
            "to their nearest other one: fresh real scenes score about 5 %, copies 100 %."
        ),
    ]
    figure = ctx.run.layout.evaluation / NOVELTY_FIGURE
    if figure.is_file():
        parts.append(html.figure(figure, caption_for(figure, "Novelty")))
    return "".join(parts)


def _spread(stats: dict) -> str:
    """``median 0.29 (5–95 %: 0.08–0.41)`` of a distance distribution."""
    return (
        f"median {number(stats['median'])} (5–95 %: {number(stats['p05'])}–{number(stats['p95'])})"
    )


def _evaluation_figures(ctx: Context) -> str:
    pictures = ctx.run.pictures(ctx.run.layout.evaluation)
    if not pictures:
        return _missing(ctx, "evaluation")
    return "".join(
        html.figure(
            png,
            caption_for(png, f"Figure from the evaluate stage ({ctx.run.relative(png)})"),
        )
        for png in pictures
        if png.name != NOVELTY_FIGURE
    )


# --------------------------------------------------------------------------- the list

Build = Callable[[Context], str]
SECTIONS: tuple[tuple[str, str, tuple[tuple[str, Build], ...]], ...] = (
    (
        "overview",
        "Overview",
        (("", _contents), ("Stages", _stage_table), ("Configuration", _config)),
    ),
    ("endmembers", "Endmember spectra", (("", _endmembers),)),
    ("abundances", "Inferred and synthetic abundance maps", (("", _abundance_maps),)),
    (
        "gallery",
        "Real photos and synthetic HSIs",
        (("Real photos", _photo_gallery), ("Synthetic HSIs in false colour", _sample_gallery)),
    ),
    ("spectra", "Spectral profiles of synthetic HSIs", (("", _spectral_profiles),)),
    ("training", "Training losses", (("Unmixing", _unmixing_loss), ("Diffusion", _diffusion_loss))),
    (
        "metrics",
        "Metrics",
        (
            ("Unmixing reconstruction", _unmixing_metrics),
            ("Real against synthetic", _evaluation_metrics),
            ("Novelty: distance to the training maps", _novelty),
        ),
    ),
    ("evaluation", "Evaluation figures", (("", _evaluation_figures),)),
)
"""(anchor, title, ((heading, builder), ...)) of every section, in page order."""


def build_section(ctx: Context, key: str, title: str, parts: tuple[tuple[str, Build], ...]) -> str:
    """One section; a part that raises while reading the run becomes a note."""
    body = []
    for heading, build in parts:
        if heading:
            body.append(html.heading(heading))
        try:
            body.append(build(ctx))
        except _UNREADABLE as exc:
            body.append(html.note(f"could not show this part: {one_line(exc)}"))
    return html.section(key, title, body)
