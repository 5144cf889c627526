"""The per-run HTML report: one self-contained page showing what a run directory holds.

Every picture is embedded as a base64 PNG data URI and the styling is inline CSS (no scripts,
no web fonts, no CDN), so the single file can be mailed and opened offline. Each part of the
run is optional: what is missing becomes a short grey note naming the stage that makes it, and
a part that cannot be read becomes a note quoting the error -- the report itself never fails
because of the run's contents.

Run-directory layout read here (written by the pipeline)::

    config.yaml  stages/<stage>.json
    unmixing/{unmixer.json, history.json, eval.json, model/, figures/*.png}
    abundances/{abundances.npy, index.json}
    diffusion/**/*.csv          (columns step, loss, ...)
    samples/sample_NNNN.<hdr|npy|mat|tif>, samples/sample_NNNN_abundance.npy
    evaluation/{metrics.json, **/*.png}
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cached_property
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import yaml

from msfdiff._io import atomic_write, check_new
from msfdiff._version import __version__
from msfdiff.data.bands import BandSelector
from msfdiff.data.cube import HyperCube
from msfdiff.errors import DataNotFoundError, MsfdiffError
from msfdiff.fusion import HSI_SUFFIXES, REGION_SIZE, plot_spectral_profiles
from msfdiff.pipeline.runner import STAGES
from msfdiff.plotting import (
    FALSE_COLOUR_NM,
    false_colour,
    plot_endmembers,
    plot_loss,
    save_image,
)
from msfdiff.report.figures import plot_abundance_rows

if TYPE_CHECKING:
    from msfdiff.data.abundances import AbundanceDataset

REPORT_NAME = "report.html"
MAX_EMBED_BYTES = 1_500_000  # larger PNGs are shrunk before embedding
MAX_EMBED_SIDE = 1600
THUMBNAIL_SIZE = 160
ABUNDANCE_ROWS = 4  # rows per kind (inferred, synthetic) in the abundance comparison
PROFILE_SAMPLES = 2  # synthetic HSIs shown with spectral profiles
TABLE_ROWS = 50  # per-image rows shown before the rest is summarised
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SAMPLE_STEM = re.compile(r"sample_\d+")
_UNREADABLE = (
    MsfdiffError,
    OSError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    yaml.YAMLError,
)


class _Part(NamedTuple):
    """A piece of the run: where it lives, what it is and what makes it."""

    path: str
    what: str
    made_by: str


PARTS = {
    "config": _Part("config.yaml", "resolved config", "the pipeline"),
    "stages": _Part("stages/", "stage records", "the pipeline"),
    "unmixer": _Part("unmixing/unmixer.json", "trained unmixer", "the unmix stage"),
    "unmix_eval": _Part("unmixing/eval.json", "unmixing evaluation", "the eval_unmix stage"),
    "abundances": _Part("abundances/", "abundances inferred from photos", "the infer stage"),
    "diffusion": _Part("diffusion/", "diffusion training log", "the diffusion stage"),
    "samples": _Part("samples/", "samples", "the sample stage"),
    "evaluation": _Part("evaluation/", "evaluation", "the evaluate stage"),
}

_ABUNDANCE_ROWS_EXPLAINED = {
    "photo": "'photo' rows: maps the unmixer inferred from a real RGB photo (shown left).",
    "synthetic": "'synthetic' rows: maps sampled by the diffusion model, with the HSI fused "
    "from them in false colour left.",
}

# The direction of the unmixing reconstruction metrics (unmixing/eval.json carries none).
_UNMIXING_HIGHER = {"psnr", "ssim"}

_FIGURE_CAPTIONS = (  # (file-name pattern, caption) for PNGs the stages write
    (
        "abundances.png",
        "Abundance maps the unmixer infers for up to four training HSIs (rows), one column per "
        "endmember, colour 0 (dark) to 1 (yellow).",
    ),
    (
        "reconstruction*.png",
        "An HSI reconstructed from its own three bands: false colour of the original and of the "
        "reconstruction, and the spectra of four random pixels (solid original, dashed "
        "reconstruction).",
    ),
    ("train_*_false_colour.png", "A training HSI in false colour."),
    (
        "band_quality.png",
        "No-reference image quality per band (NIQE, PIQE, BRISQUE; lower is better) of the real "
        "and the synthetic set, mean ± std over images.",
    ),
    (
        "spectra.png",
        "Pixel spectra of the real and the synthetic set: mean ± std over sampled pixels.",
    ),
    (
        "histograms.png",
        "Distributions of the real and the synthetic set: spectral angle to the real mean "
        "spectrum and the value of each abundance.",
    ),
    (
        "abundance_power_spectra.png",
        "Radially averaged spatial power spectra of each endmember's abundance maps, real "
        "(inferred) against synthetic: matching curves mean matching texture scales.",
    ),
)


# --------------------------------------------------------------------------- public API


def write_report(
    run_dir: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    force: bool = True,
    max_images: int = 8,
) -> Path:
    """Write the run's self-contained HTML report (atomically) and return its path.

    Parameters
    ----------
    run_dir : path
        A run directory as written by the pipeline; any part of it may be missing.
    out : path, optional
        The HTML file; ``RUN_DIR/report.html`` by default.
    force : bool
        Replace an existing report (the pipeline regenerates it after every stage).
    max_images : int
        Photos and synthetic HSIs shown per gallery.

    Raises
    ------
    DataNotFoundError
        ``run_dir`` is not a directory.
    OutputExistsError
        ``out`` exists and ``force`` is False.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataNotFoundError(f"{run_dir}: run directory not found")
    out = check_new(run_dir / REPORT_NAME if out is None else out, force=force)
    page = render_report(run_dir, max_images=max_images)
    return atomic_write(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def render_report(run_dir: str | os.PathLike, *, max_images: int = 8) -> str:
    """The report of ``run_dir`` as one HTML string (see :func:`write_report`)."""
    run_dir = Path(run_dir)
    with tempfile.TemporaryDirectory(prefix="msfdiff-report-") as tmp:
        run = _Run(run_dir, Path(tmp), max_images=max_images)
        sections = [_section(run, *spec) for spec in _SECTIONS]
    nav = "".join(f'<a href="#{key}">{escape(title)}</a>' for key, title, _ in _SECTIONS)
    made = datetime.now().astimezone().isoformat(timespec="seconds")
    return _PAGE.format(
        title=escape(f"msfdiff run report: {run_dir.resolve().name}"),
        css=_CSS,
        subtitle=escape(f"{run_dir.resolve()} · made {made} by msfdiff {__version__}"),
        nav=nav,
        body="\n".join(sections),
    )


# --------------------------------------------------------------------------- reading the run


class _Run:
    """Lazy access to a run directory's parts; figures go to a temporary folder."""

    def __init__(self, root: Path, tmp: Path, *, max_images: int) -> None:
        self.root = root
        self.tmp = tmp
        self.max_images = max_images
        self._n_png = 0
        self._cubes: dict[Path, HyperCube] = {}
        self.lost_photos: dict[str, str] = {}

    def __truediv__(self, relative: str) -> Path:
        return self.root / relative

    def new_png(self, name: str) -> Path:
        """A fresh temporary PNG path for a figure."""
        self._n_png += 1
        return self.tmp / f"{self._n_png:03d}_{name}.png"

    def missing(self, part: str) -> str:
        """The grey note for a part the run does not have yet."""
        path, what, made_by = PARTS[part]
        return _note(f"no {what} yet ({path}) — run {made_by}")

    @cached_property
    def unmixer_state(self) -> dict | None:
        path = self / PARTS["unmixer"].path
        return json.loads(path.read_text()) if path.is_file() else None

    @cached_property
    def inferred(self) -> AbundanceDataset | None:
        """The abundance dataset inferred from photos, or None."""
        from msfdiff.data.abundances import load_abundance_dataset

        folder = self / PARTS["abundances"].path
        if not (folder / "index.json").is_file():
            return None
        return load_abundance_dataset(folder, check_rows=8)

    @cached_property
    def sample_hsis(self) -> dict[str, Path]:
        """Synthetic HSI files by stem (``sample_0000``), sorted."""
        folder = self / PARTS["samples"].path
        suffixes = {*HSI_SUFFIXES.values(), ".tiff"}
        return {
            p.stem: p
            for p in sorted(folder.glob("sample_*"))
            if p.suffix.lower() in suffixes and _SAMPLE_STEM.fullmatch(p.stem)
        }

    @cached_property
    def sample_abundances(self) -> dict[str, Path]:
        """Synthetic abundance maps (H, W, k) by sample stem, sorted."""
        folder = self / PARTS["samples"].path
        suffix = "_abundance.npy"
        return {p.name[: -len(suffix)]: p for p in sorted(folder.glob(f"sample_*{suffix}"))}

    def cube(self, path: Path) -> HyperCube:
        from msfdiff.data.readers import read_hsi

        if path not in self._cubes:
            self._cubes[path] = read_hsi(path)
        return self._cubes[path]

    def photo(self, listed: str, size: tuple[int, int]) -> np.ndarray | None:
        """A photo named in index.json (as written, else relative to the run) at ``size``.

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

    def pictures(self, name: str) -> Iterator[Path]:
        """PNG files under a run sub-folder, sorted."""
        yield from sorted((self / name).rglob("*.png"))


def _evenly(n: int, m: int) -> list[int]:
    """``m`` indices spread over ``range(n)`` (so a class-sorted dataset shows several classes)."""
    return sorted({int(i) for i in np.linspace(0, n - 1, num=min(n, m)).round()})


def _read_loss_csv(path: Path) -> tuple[list[dict[str, float]], list[str]]:
    """Rows of a training-loss CSV and its loss columns; ([], []) when it is not one."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        keys = [c for c in columns if "loss" in c.lower()]
        if "step" not in columns or not keys:
            return [], []
        rows = []
        for row in reader:
            try:
                rows.append({c: float(row[c]) for c in ("step", *keys)})
            except (TypeError, ValueError):  # a row being written right now
                continue
    return rows, keys


# --------------------------------------------------------------------------- sections
# Each section is a list of parts; a part that cannot be read becomes a note, its
# neighbours still show.


def _contents(run: _Run) -> str:
    rows = [
        (part.what, part.path, _present(run / part.path) or f"missing: run {part.made_by}")
        for part in PARTS.values()
    ]
    return _table(("part", "where", "status"), rows)


def _present(path: Path) -> str:
    if path.is_file():
        return "present"
    if path.is_dir() and any(path.iterdir()):
        return f"present ({sum(1 for _ in path.iterdir())} entries)"
    return ""


def _stage_table(run: _Run) -> str:
    records = {}
    for path in sorted((run / PARTS["stages"].path).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            records[str(record.get("stage", path.stem))] = record
        except (OSError, ValueError, AttributeError) as exc:
            records[path.stem] = {"status": f"unreadable: {_one_line(exc)}"}
    if not records:
        return run.missing("stages")
    rows, total = [], 0.0
    for stage in [*STAGES, *sorted(set(records) - set(STAGES))]:
        record = records.get(stage)
        if record is None:
            rows.append((stage, "not run", "", "", ""))
            continue
        seconds = record.get("seconds")
        total += seconds if _is_number(seconds) else 0.0
        rows.append(
            (
                stage,
                str(record.get("status", "?")),
                _duration(seconds),
                str(record.get("finished_at") or ""),
                str(record.get("fingerprint") or "")[:12],
            )
        )
    rows.append(("total", "", _duration(total), "", ""))
    return _table(("stage", "status", "time", "finished", "fingerprint"), rows)


def _config(run: _Run) -> str:
    path = run / PARTS["config"].path
    if not path.is_file():
        return run.missing("config")
    text = path.read_text()
    yaml.safe_load(text)  # a broken file is reported, not shown as if it were fine
    return f"<details open><summary>config.yaml</summary><pre>{escape(text)}</pre></details>"


def _endmembers(run: _Run) -> str:
    state = run.unmixer_state
    existing = run / "unmixing/figures/endmembers.png"
    if state is None and not existing.is_file():
        return run.missing("unmixer")
    parts = [] if state is None else [_unmixer_facts(state)]
    k = state["config"]["n_endmembers"] if state else "k"
    caption = (
        f"Spectra of the {k} endmembers the unmixer learned from real HSIs (reflectance against "
        "wavelength; paper Fig. 6). Every synthetic HSI is a per-pixel mix of these spectra."
    )
    if existing.is_file():
        parts.append(_figure(existing, caption))
    else:
        from msfdiff.unmixing import load_unmixer

        unmixer = load_unmixer(run.root)
        png = plot_endmembers(
            unmixer.endmembers_,
            unmixer.wavelengths_,
            run.new_png("endmembers"),
            usage=unmixer.usage_,
        )
        parts.append(_figure(png, caption))
    for png in run.pictures("unmixing/figures"):
        if png.name not in ("endmembers.png", "loss.png"):  # shown above / under training
            parts.append(_figure(png, _caption_for(png, "Figure from the unmix stage")))
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
        ("mean residual noise std", _number(float(np.mean(noise))) if noise else "—"),
        ("mean abundance per endmember", _usage(state.get("usage"))),
        ("dead endmembers re-seeded in training", state.get("reseeds", "—")),
        (
            "lowest endmember value",
            _number(float(np.min(state["endmembers"]))) if "endmembers" in state else "—",
        ),
    ]
    return _table(("unmixer", ""), rows)


def _usage(usage: list[float] | None) -> str:
    """E1 21% · E2 8% · …: every endmember is used (training stops otherwise)."""
    if usage is None:
        return "—"
    return " · ".join(f"E{i + 1} {u:.0%}" for i, u in enumerate(usage))


def _abundance_maps(run: _Run) -> str:
    rows: list[tuple[str, np.ndarray | None, np.ndarray]] = []
    notes = []
    dataset = run.inferred
    if dataset is None:
        notes.append(run.missing("abundances"))
    else:
        for i in _evenly(len(dataset), ABUNDANCE_ROWS):
            listed = dataset.files[i]
            abundance = np.asarray(dataset.array[i], dtype=np.float32)
            photo = run.photo(listed, abundance.shape[:2])
            rows.append((f"photo: {Path(listed).stem}", photo, abundance))
    synthetic = list(run.sample_abundances.items())[:ABUNDANCE_ROWS]
    if not synthetic:
        notes.append(run.missing("samples"))
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
            run.new_png(f"abundances_k{k}"),
            row_labels=[label for label, _, _ in chosen],
        )
        kinds = {label.split(":")[0] for label, _, _ in chosen}
        explained = [text for kind, text in _ABUNDANCE_ROWS_EXPLAINED.items() if kind in kinds]
        figures.append(
            _figure(
                png,
                f"Abundance maps, one row per image and one column per endmember E1–E{k}. "
                + " ".join(explained)
                + " Every panel uses the same colour scale, 0 (dark blue) to 1 (yellow); a "
                "pixel's maps sum to one.",
            )
        )
    return "".join(figures + notes)


def _photo_gallery(run: _Run) -> str:
    dataset = run.inferred
    if dataset is None:
        return run.missing("abundances")
    thumbs, lost = [], []
    for i in _evenly(len(dataset), run.max_images):
        listed = dataset.files[i]
        photo = run.photo(listed, (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        if photo is None:
            lost.append(f"{listed}: {run.lost_photos[listed]}")
            continue
        label = dataset.labels[i]
        name = Path(listed).name + (f" ({label})" if label else "")
        thumbs.append(_thumb(save_image(photo, run.new_png("photo")), name))
    parts = []
    if thumbs:
        parts.append(
            _thumbs(
                thumbs,
                f"Real RGB photos the abundances were inferred from ({len(dataset)} in all).",
            )
        )
    if lost:
        parts.append(
            _note(f"{len(lost)} photo(s) in abundances/index.json not shown, e.g. {lost[0]}")
        )
    return "".join(parts)


def _sample_gallery(run: _Run) -> str:
    hsis = list(run.sample_hsis.items())[: run.max_images]
    if not hsis:
        return run.missing("samples")
    thumbs = [
        _thumb(save_image(_false_colour(run.cube(path)), run.new_png(stem)), path.name)
        for stem, path in hsis
    ]
    red, green, blue = FALSE_COLOUR_NM
    return _thumbs(
        thumbs,
        f"Synthetic HSIs ({len(run.sample_hsis)} in all) in false colour: red, green and blue "
        f"are the bands nearest {red:g}, {green:g} and {blue:g} nm, one gain per image (its 99th "
        "percentile).",
    )


def _spectral_profiles(run: _Run) -> str:
    hsis = list(run.sample_hsis.items())[:PROFILE_SAMPLES]
    if not hsis:
        return run.missing("samples")
    parts = []
    for i, (stem, path) in enumerate(hsis):
        cube = run.cube(path)
        png = plot_spectral_profiles(
            np.asarray(cube.data, dtype=np.float32), cube.wavelengths_nm, run.new_png(stem), seed=i
        )
        parts.append(
            _figure(
                png,
                f"{path.name} (paper Fig. 11 b–d): left, false colour with five randomly placed "
                f"{REGION_SIZE}×{REGION_SIZE} regions; middle, the spectrum of the pixel at each "
                f"region's top-left corner; right, each region's mean spectrum ± 1 std.",
            )
        )
    return "".join(parts)


def _unmixing_loss(run: _Run) -> str:
    path = run / "unmixing/history.json"
    history = json.loads(path.read_text()) if path.is_file() else []
    if not history:
        return run.missing("unmixer")
    keys = [k for k in history[0] if k != "step" and all(row.get(k, 0) > 0 for row in history)]
    png = plot_loss(history, run.new_png("unmixing_loss"), keys=keys, title="unmixing loss")
    return _figure(
        png,
        f"Unmixing training loss over {len(history)} steps ({', '.join(keys)}; running mean over "
        "2 % of the steps, log scale). The total is the reconstruction term plus the weighted "
        "spectral-angle (sad) and smoothness (tv) terms.",
    )


def _diffusion_loss(run: _Run) -> str:
    parts = []
    for path in sorted((run / PARTS["diffusion"].path).rglob("*.csv")):
        rows, keys = _read_loss_csv(path)
        if not rows:
            continue
        png = plot_loss(rows, run.new_png("diffusion_loss"), keys=keys, title="diffusion loss")
        parts.append(
            _figure(
                png,
                f"Diffusion (denoiser) training loss from {path.relative_to(run.root)}: "
                f"{len(rows)} logged steps, last step {int(rows[-1]['step'])}, last loss "
                f"{_number(rows[-1][keys[0]])} (running mean, log scale).",
            )
        )
    return "".join(parts) or run.missing("diffusion")


def _unmixing_metrics(run: _Run) -> str:
    path = run / PARTS["unmix_eval"].path
    if not path.is_file():
        return run.missing("unmix_eval")
    report = json.loads(path.read_text())
    mean = report["mean"]
    table = _table(
        ("metric", "mean", "better"),
        [(k, _number(v), "higher" if k in _UNMIXING_HIGHER else "lower") for k, v in mean.items()],
    )
    images = report.get("images") or []
    caption = _caption(
        f"Held-out HSIs reconstructed from their own three bands (paper Table 3 protocol), mean "
        f"over {len(images)} image(s); SAD in degrees, PSNR in dB."
    )
    figures = "".join(
        _figure(png, _caption_for(png, "Figure from the eval_unmix stage"))
        for png in list(run.pictures("unmixing/eval_figures"))[: run.max_images]
    )
    if not images:
        return table + caption + figures
    keys = list(mean)
    rows = [
        (Path(str(r.get("source", "?"))).name, *(_number(r.get(k)) for k in keys)) for r in images
    ]
    more = len(rows) - TABLE_ROWS
    shown = rows[:TABLE_ROWS] + ([(f"… {more} more", *[""] * len(keys))] if more > 0 else [])
    details = _table(("image", *keys), shown)
    return table + caption + f"<details><summary>per image</summary>{details}</details>" + figures


def _evaluation_metrics(run: _Run) -> str:
    path = run / PARTS["evaluation"].path / "metrics.json"
    if not path.is_file():
        return run.missing("evaluation")
    report = json.loads(path.read_text())
    metrics = report.get("metrics") if isinstance(report.get("metrics"), dict) else report
    definitions = report.get("definitions") if isinstance(report.get("definitions"), dict) else {}
    rows = [
        (name, value, better, definitions.get(definition, definition))
        for name, value, better, definition in flatten_metrics(metrics)
    ]
    parts = [
        _table(("metric", "value", "better", "definition"), rows) if rows else _note("no numbers"),
        _caption("Every number in evaluation/metrics.json (nested keys joined with dots)."),
    ]
    notes = report.get("notes")
    if isinstance(notes, list) and notes:
        items = "".join(f"<li>{escape(str(n))}</li>" for n in notes)
        parts.append(
            f"<details><summary>evaluation notes ({len(notes)})</summary><ul>{items}</ul></details>"
        )
    return "".join(parts)


def flatten_metrics(obj: Any, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows (name, value, better, definition) for every number in a nested metrics mapping.

    A dict holding ``value`` is one metric; its ``direction``/``better``, ``unit`` and
    ``definition`` fill the other columns and its other numeric fields (scalars or lists of
    up to 8 numbers) follow the value, ``0.01 (std 0.002)``. Other dicts are walked with
    dotted names; numbers and short lists of numbers become rows; longer arrays and text are
    left out.

    Examples
    --------
    >>> flatten_metrics({"fid": {"value": 12.5, "better": "lower", "definition": "fid"}, "n": 3})
    [('fid', '12.5', 'lower', 'fid'), ('n', '3', '', '')]
    """
    if isinstance(obj, dict) and "value" in obj:
        extras = {
            key: item
            for key, item in obj.items()
            if key not in ("value", "direction", "better", "definition", "unit")
            and (_is_number(item) or _short_numbers(item))
        }
        value = _number(obj["value"]) + (f" {obj['unit']}" if obj.get("unit") else "")
        if extras:
            value += " (" + "; ".join(f"{k} {_number(v)}" for k, v in extras.items()) + ")"
        better = str(obj.get("direction") or obj.get("better") or "")
        return [(prefix, value, better, str(obj.get("definition") or ""))]
    if isinstance(obj, dict):
        return [
            row
            for key, item in obj.items()
            for row in flatten_metrics(item, f"{prefix}.{key}" if prefix else str(key))
        ]
    if _is_number(obj) or _short_numbers(obj):
        return [(prefix, _number(obj), "", "")]
    return []


def _evaluation_figures(run: _Run) -> str:
    pictures = list(run.pictures(PARTS["evaluation"].path))
    if not pictures:
        return run.missing("evaluation")
    return "".join(
        _figure(
            png, _caption_for(png, f"Figure from the evaluate stage ({png.relative_to(run.root)})")
        )
        for png in pictures
    )


_Build = Callable[[_Run], str]
_SECTIONS: tuple[tuple[str, str, tuple[tuple[str, _Build], ...]], ...] = (
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
        ),
    ),
    ("evaluation", "Evaluation figures", (("", _evaluation_figures),)),
)


def _section(run: _Run, key: str, title: str, parts: tuple[tuple[str, _Build], ...]) -> str:
    body = []
    for heading, build in parts:
        if heading:
            body.append(f"<h3>{escape(heading)}</h3>")
        try:
            body.append(build(run))
        except _UNREADABLE as exc:
            body.append(_note(f"could not show this part: {_one_line(exc)}"))
    return f'<section id="{key}"><h2>{escape(title)}</h2>{"".join(body)}</section>'


# --------------------------------------------------------------------------- pictures


def _false_colour(cube: HyperCube) -> np.ndarray:
    return false_colour(np.asarray(cube.data, dtype=np.float32), cube.wavelengths_nm)


def _data_uri(png: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file; big or non-PNG files are re-encoded smaller."""
    data = png.read_bytes()
    if not data.startswith(_PNG_SIGNATURE) or len(data) > MAX_EMBED_BYTES:
        from PIL import Image

        with Image.open(png) as image:
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            image.thumbnail((MAX_EMBED_SIDE, MAX_EMBED_SIDE))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
        data = buffer.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _caption_for(png: Path, fallback: str) -> str:
    for pattern, caption in _FIGURE_CAPTIONS:
        if png.match(pattern):
            return f"{caption} ({png.name})"
    return f"{fallback}: {png.name}."


# --------------------------------------------------------------------------- HTML pieces


def _figure(png: Path, caption: str) -> str:
    return (
        f'<figure><img src="{_data_uri(png)}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _thumb(png: Path, caption: str) -> str:
    return (
        f'<figure class="thumb"><img src="{_data_uri(png)}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _thumbs(thumbs: list[str], caption: str) -> str:
    return f'<div class="gallery">{"".join(thumbs)}</div>' + _caption(caption)


def _caption(text: str) -> str:
    return f'<p class="caption">{escape(text)}</p>'


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short_numbers(value: Any) -> bool:
    return isinstance(value, list) and 0 < len(value) <= 8 and all(map(_is_number, value))


def _number(value: Any) -> str:
    """Four significant digits; lists element-wise; None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return "[" + ", ".join(_number(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _duration(seconds: Any) -> str:
    if not _is_number(seconds):
        return ""
    minutes, secs = divmod(float(seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02.0f} s" if minutes else f"{secs:.1f} s"


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, MsfdiffError) else text


_CSS = """
:root { --ink: #1d2330; --muted: #6b7280; --line: #d9dde5; --accent: #2f6f9f; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #f6f7f9; }
header { background: #1f3a52; color: #fff; padding: 18px 32px 10px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 10px; color: #c9d6e2; font-size: 13px; word-break: break-all; }
nav a { color: #fff; margin-right: 16px; font-size: 13px; text-decoration: none;
        border-bottom: 1px dotted #9fb6ca; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 6px 22px 18px; margin: 18px 0; }
h2 { font-size: 19px; color: var(--accent); border-bottom: 1px solid var(--line);
     padding-bottom: 6px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
figure { margin: 12px 0 18px; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figcaption, .caption { color: #374151; font-size: 13px; margin-top: 6px; max-width: 900px; }
.gallery { display: flex; flex-wrap: wrap; gap: 10px; }
.gallery figure.thumb { margin: 0; width: 164px; }
figure.thumb img { width: 160px; height: 160px; object-fit: cover; image-rendering: pixelated; }
figure.thumb figcaption { font-size: 11px; overflow-wrap: anywhere; margin-top: 2px; }
.note { color: var(--muted); font-style: italic; margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 12px 4px 0; text-align: left;
         vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td:first-child { font-family: ui-monospace, Menlo, Consolas, monospace; }
pre { background: #f3f4f6; padding: 10px 12px; overflow-x: auto; font-size: 12px;
      max-height: 420px; }
summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><h1>{title}</h1><p>{subtitle}</p><nav>{nav}</nav></header>
<main>
{body}
</main>
</body>
</html>
"""
