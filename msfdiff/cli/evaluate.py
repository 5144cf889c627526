"""``msfdiff evaluate``: compare a real and a synthetic set, write a JSON report and plots."""

from __future__ import annotations

from pathlib import Path

import typer

from msfdiff.cli._common import console, progress

WAVELENGTHS_HELP = (
    "Band centres for HSI files that store none: a one-column CSV in nm, or START:STOP:COUNT."
)
KIND_HELP = "auto, hsi or rgb (auto: folders with .mat/.npy/.npz/.hdr are HSIs, others photos)."


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the ``msfdiff`` app."""
    app.command("evaluate")(evaluate)


def _progress(iterable, total, description):
    return progress(iterable, total=total, description=description)


def evaluate(
    real: list[Path] = typer.Option(
        ..., "--real", help="Real HSI/photo files or folders (repeat)."
    ),
    synthetic: list[Path] = typer.Option(
        ..., "--synthetic", help="Synthetic HSI/photo files or folders (repeat)."
    ),
    json_out: Path = typer.Option(..., "--json", help="Where to write the JSON report."),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for the PNG figures."),
    wavelengths: str | None = typer.Option(None, "--wavelengths", help=WAVELENGTHS_HELP),
    key: str | None = typer.Option(None, "--key", help="Array name inside .mat/.npz files."),
    real_kind: str = typer.Option("auto", "--real-kind", help=KIND_HELP),
    synthetic_kind: str = typer.Option("auto", "--synthetic-kind", help=KIND_HELP),
    photo_size: int | None = typer.Option(
        None, "--photo-size", help="Centre-crop and resize photos to this square size."
    ),
    real_abundances: Path | None = typer.Option(
        None, "--real-abundances", help="Abundance dataset folder inferred from the real set."
    ),
    synthetic_abundances: Path | None = typer.Option(
        None, "--synthetic-abundances", help="Abundance dataset folder of the synthetic set."
    ),
    rendering: str = typer.Option(
        "camera:cie1931+srgb",
        "--rendering",
        help="How HSIs become RGB for Inception, e.g. camera:cie1931+srgb or nearest:640,550,460.",
    ),
    max_images: int | None = typer.Option(
        None, "--max-images", help="Read at most N files per set (seeded random choice)."
    ),
    max_quality_images: int = typer.Option(
        32, "--max-quality-images", help="Images per set scored band by band (NIQE/PIQE/BRISQUE)."
    ),
    niqe_patch: int = typer.Option(96, "--niqe-patch", help="NIQE patch size (96 as published)."),
    k: int = typer.Option(3, "--k", help="Neighbour rank for precision/recall."),
    no_fid: bool = typer.Option(
        False, "--no-fid", help="Skip FID/KID/precision/recall (the Inception network)."
    ),
    no_quality: bool = typer.Option(False, "--no-quality", help="Skip per-band NIQE/PIQE/BRISQUE."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing report and plots."),
) -> None:
    """Score synthetic HSIs (or photos) against real ones: FID, KID, precision/recall, spectral
    distances, per-band NIQE/PIQE/BRISQUE; definitions in docs/metrics.md."""
    from msfdiff.data.abundances import load_abundance_dataset
    from msfdiff.data.wavelengths import parse_wavelengths
    from msfdiff.evaluation.report import evaluate_sets, load_set

    wl = None if wavelengths is None else parse_wavelengths(wavelengths)
    common = {"wavelengths_nm": wl, "key": key, "photo_size": photo_size}
    common.update(max_images=max_images, seed=seed)
    real_set = load_set(real, kind=real_kind, **common)
    synthetic_set = load_set(synthetic, kind=synthetic_kind, **common)
    abundances = [
        None if folder is None else list(load_abundance_dataset(folder).array[:max_images])
        for folder in (real_abundances, synthetic_abundances)
    ]
    console.print(
        f"real: {len(real_set.images)} {real_set.kind} images; "
        f"synthetic: {len(synthetic_set.images)} {synthetic_set.kind} images"
    )
    report = evaluate_sets(
        real_set,
        synthetic_set,
        json_path=json_out,
        plots_dir=plots,
        force=force,
        real_abundances=abundances[0],
        synthetic_abundances=abundances[1],
        generative=not no_fid,
        quality=not no_quality,
        rendering=rendering,
        k=k,
        niqe_patch_size=niqe_patch,
        max_quality_images=max_quality_images,
        seed=seed,
        progress=_progress,
    )
    for name, entry in report["metrics"].items():
        arrow = "↓" if entry["better"] == "lower" else "↑"
        console.print(f"  {name:24s} {entry['value']:.4g} {arrow}")
    for note in report["notes"]:
        console.print(f"  [dim]note: {note}[/]")
    console.print(f"wrote {json_out}" + (f" and plots in {plots}" if plots else ""))
