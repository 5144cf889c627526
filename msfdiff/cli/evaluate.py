"""``msfdiff evaluate``: compare a real and a synthetic set, write a JSON report and plots."""

from __future__ import annotations

from pathlib import Path

import typer

from msfdiff.cli._common import ProgressBar, console, log
from msfdiff.evaluation.metrics import EvaluationOptions

DEFAULTS = EvaluationOptions()
WAVELENGTHS_HELP = (
    "Band centres for HSI files that store none: a one-column CSV in nm, or START:STOP:COUNT."
)
SCALE_HELP = "Divide the set's stored HSI values by this (e.g. 65535 for uint16 reflectance)."
KIND_HELP = "auto, hsi or rgb (auto: folders with .mat/.npy/.npz/.hdr are HSIs, others photos)."


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the ``msfdiff`` app."""
    app.command("evaluate")(evaluate_command)


def evaluate_command(
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
    real_scale: float | None = typer.Option(None, "--real-scale", help=SCALE_HELP),
    synthetic_scale: float | None = typer.Option(None, "--synthetic-scale", help=SCALE_HELP),
    real_kind: str = typer.Option("auto", "--real-kind", help=KIND_HELP),
    synthetic_kind: str = typer.Option("auto", "--synthetic-kind", help=KIND_HELP),
    photo_size: int | None = typer.Option(
        None, "--photo-size", help="Centre-crop and resize photos to this square size."
    ),
    real_abundances: Path | None = typer.Option(
        None, "--real-abundances", help="Abundance dataset folder inferred from the real set."
    ),
    synthetic_abundances: Path | None = typer.Option(
        None,
        "--synthetic-abundances",
        help="Abundance dataset folder, or samples folder, of the synthetic set.",
    ),
    train_abundances: Path | None = typer.Option(
        None,
        "--train-abundances",
        help="Abundance dataset the generator trained on (e.g. RUN/abundances): adds novelty "
        "and the memorisation rate.",
    ),
    source_abundances: Path | None = typer.Option(
        None,
        "--source-abundances",
        help="Source maps of variations (abundance dataset; sample i follows row i mod n). "
        "Default: the dataset the samples folder's sampling.json names.",
    ),
    rendering: str = typer.Option(
        DEFAULTS.rendering,
        "--rendering",
        help="How HSIs become RGB for Inception, e.g. camera:cie1931+srgb or nearest:640,550,460.",
    ),
    max_images: int | None = typer.Option(
        None, "--max-images", help="Read at most N files per set (seeded random choice)."
    ),
    max_quality_images: int = typer.Option(
        DEFAULTS.max_quality_images,
        "--max-quality-images",
        help="Images per set scored band by band (NIQE/PIQE/BRISQUE).",
    ),
    niqe_patch: int = typer.Option(
        DEFAULTS.niqe_patch_size, "--niqe-patch", help="NIQE patch size (96 as published)."
    ),
    k: int = typer.Option(DEFAULTS.k, "--k", help="Neighbour rank for precision/recall."),
    no_fid: bool = typer.Option(
        False, "--no-fid", help="Skip FID/KID/precision/recall (the Inception network)."
    ),
    no_quality: bool = typer.Option(False, "--no-quality", help="Skip per-band NIQE/PIQE/BRISQUE."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed", help="Seed of every random choice."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing report and plots."),
) -> None:
    """Score synthetic HSIs (or photos) against real ones: FID, KID, precision/recall, spectral
    distances, per-band NIQE/PIQE/BRISQUE, novelty; definitions in docs/metrics.md."""
    from msfdiff.data.wavelengths import parse_wavelengths
    from msfdiff.evaluation import evaluate, load_set
    from msfdiff.evaluation.output import check_outputs, write_evaluation
    from msfdiff.evaluation.sets import abundance_maps, cycled_sources, recorded_sources

    check_outputs(json_out, plots, force=force)
    options = EvaluationOptions(
        generative=not no_fid,
        quality=not no_quality,
        rendering=rendering,
        k=k,
        niqe_patch_size=niqe_patch,
        max_quality_images=max_quality_images,
        seed=seed,
    )
    options.check_models()  # a missing network fails before the sets are read
    wl = None if wavelengths is None else parse_wavelengths(wavelengths)
    common = {"wavelengths_nm": wl, "key": key, "photo_size": photo_size}
    common.update(max_images=max_images, seed=seed)
    real_set = load_set(real, kind=real_kind, scale=real_scale, **common)
    synthetic_set = load_set(synthetic, kind=synthetic_kind, scale=synthetic_scale, **common)
    abundances = [
        None if folder is None else list(abundance_maps(folder)[:max_images])
        for folder in (real_abundances, synthetic_abundances)
    ]
    training = None if train_abundances is None else abundance_maps(train_abundances)
    sources, note = None, None
    if abundances[1] is not None and source_abundances is not None:
        sources = cycled_sources(abundance_maps(source_abundances), len(abundances[1]))
    elif abundances[1] is not None and training is not None:
        sources, note = recorded_sources(synthetic_abundances, len(abundances[1]))
    console.print(
        f"real: {len(real_set.images)} {real_set.kind} images; "
        f"synthetic: {len(synthetic_set.images)} {synthetic_set.kind} images"
    )
    with ProgressBar("evaluation", unit="image") as bar:
        result = evaluate(
            real_set,
            synthetic_set,
            options=options,
            real_abundances=abundances[0],
            synthetic_abundances=abundances[1],
            training_abundances=training,
            source_abundances=sources,
            progress=bar,
            log=log,
        )
    if note:
        result.notes.append(f"{note} (pass --source-abundances)")
    write_evaluation(result, json_out, plots, force=force)
    for name, entry in result.metrics.items():
        arrow = "↓" if entry["better"] == "lower" else "↑"
        value = "—" if entry["value"] is None else f"{entry['value']:.4g}"
        console.print(f"  {name:24s} {value} {arrow}")
    for line in result.notes:
        console.print(f"  [dim]note: {line}[/]")
    console.print(f"wrote {json_out}" + (f" and plots in {plots}" if plots else ""))
