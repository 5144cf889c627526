"""``msfdiff unmix train|eval|infer``: phase 1 from the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from msfdiff.cli._common import ProgressBar, console, log
from msfdiff.layout import RunLayout
from msfdiff.unmixing.config import DEFAULT_PRESET

unmix_app = typer.Typer(
    help="Scene-based unmixing: learn endmembers from HSIs, infer abundances of photos."
)


def register(app: typer.Typer) -> None:
    app.add_typer(unmix_app, name="unmix")


def read_cubes(paths: list[Path], *, key: str | None, wavelengths: str | None, scale: float | None):
    from msfdiff.data.readers import read_hsi_collection

    return read_hsi_collection(paths, key=key, wavelengths=wavelengths, scale=scale)


WAVELENGTHS_HELP = (
    "Band centres: a one-column CSV in nm, or START:STOP:COUNT (needed when the files carry none)."
)


@unmix_app.command("train")
def train(
    hsi: list[Path] = typer.Option(
        ..., "--hsi", help="HSI files or folders (ENVI, .mat, .tif, .npy)."
    ),
    out: Path = typer.Option(..., "--out", help="Run directory; the unmixer goes to OUT/unmixing."),
    preset: str = typer.Option(DEFAULT_PRESET, help="Unmixing preset: cpu, paper or official."),
    wavelengths: str | None = typer.Option(None, "--wavelengths", help=WAVELENGTHS_HELP),
    k: int | None = typer.Option(None, "--k", help="Number of endmembers (preset default: 5)."),
    steps: int | None = typer.Option(None, help="Training steps (preset default)."),
    batch_size: int | None = typer.Option(None, help="Crops per step (preset default)."),
    crop_size: int | None = typer.Option(None, help="Crop side in pixels (preset default)."),
    bands: str | None = typer.Option(
        None,
        "--bands",
        help="Band selection: nearest:672,569,471 | indices:27,17,7 | camera:cie1931+srgb.",
    ),
    key: str | None = typer.Option(None, help="Array name inside .mat/.npz files when ambiguous."),
    scale: float | None = typer.Option(
        None, help="Divide stored values by this (e.g. 65535 for uint16)."
    ),
    seed: int = typer.Option(0, help="Random seed."),
    checkpoint_every: int = typer.Option(200, help="Checkpoint every N steps."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the last checkpoint in OUT."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite a finished unmixer in OUT."),
) -> None:
    """Train the unmixing network on HSIs; writes OUT/unmixing (model, endmembers, figures)."""
    from msfdiff.errors import OutputExistsError
    from msfdiff.unmixing.estimator import SceneUnmixer, is_saved_unmixer
    from msfdiff.unmixing.workflow import train_and_save

    target = RunLayout(out).unmixing
    if is_saved_unmixer(target) and not (force or resume):
        raise OutputExistsError(
            f"{target}: a trained unmixer exists already (use --force to retrain)"
        )
    if force and not resume and target.exists():
        shutil.rmtree(target)
    cubes = read_cubes(hsi, key=key, wavelengths=wavelengths, scale=scale)
    overrides = {
        "steps": steps,
        "batch_size": batch_size,
        "crop_size": crop_size,
        "band_selection": bands,
    }  # None keeps the preset's value
    unmixer = SceneUnmixer(k, preset=preset, overrides=overrides, random_state=seed)
    with ProgressBar("unmixing") as bar:
        unmixer = train_and_save(
            unmixer,
            cubes,
            out,
            checkpoint_every=checkpoint_every,
            resume=resume,
            progress=bar,
            log=log,
        )
    console.print(f"unmixer saved to {target} ({len(unmixer.history_)} steps)")


@unmix_app.command("eval")
def evaluate(
    run: Path = typer.Option(..., "--run", help="Run directory with a trained unmixer."),
    hsi: list[Path] = typer.Option(..., "--hsi", help="Held-out HSI files or folders."),
    json_path: Path = typer.Option(..., "--json", help="Where to write the metrics JSON."),
    wavelengths: str | None = typer.Option(None, "--wavelengths", help=WAVELENGTHS_HELP),
    key: str | None = typer.Option(None, help="Array name inside .mat/.npz files."),
    scale: float | None = typer.Option(None, help="Divide stored values by this."),
    figures: Path | None = typer.Option(
        None, help="Folder for reconstruction figures (default: beside JSON)."
    ),
    endmembers: Path | None = typer.Option(
        None,
        help="Ground-truth endmembers (.mat/.npy/.csv) to compare with, by Hungarian-matched SAD.",
    ),
    endmembers_key: str | None = typer.Option(
        None, help="Array name of the endmembers inside a .mat file."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing JSON."),
) -> None:
    """Reconstruct held-out HSIs from their 3 bands; write RMSE/PSNR/SSIM/SAD per image and mean."""
    from msfdiff._io import check_new, write_json
    from msfdiff.evaluation.unmixing import (
        endmember_agreement,
        evaluate_unmixer,
        read_endmembers,
    )
    from msfdiff.unmixing import load_unmixer

    check_new(json_path, force=force)
    unmixer = load_unmixer(run)
    reference = (
        None
        if endmembers is None
        else read_endmembers(endmembers, unmixer.n_bands_in_, key=endmembers_key)
    )
    cubes = read_cubes(hsi, key=key, wavelengths=wavelengths, scale=scale)
    fig_dir = figures or json_path.parent / f"{json_path.stem}_figures"
    with ProgressBar("evaluating", unit="image") as bar:
        result = evaluate_unmixer(unmixer, cubes, fig_dir, progress=bar)
    if reference is not None:
        result["endmembers"] = endmember_agreement(unmixer, reference)
        sads = ", ".join(f"{v:.1f}°" for v in result["endmembers"]["sad_deg"])
        console.print(f"endmember SAD against {endmembers.name}: {sads}")
    write_json(json_path, result)
    mean = result["mean"]
    console.print(
        f"mean over {len(result['images'])} image(s): RMSE {mean['rmse']:.4f}  PSNR {mean['psnr']:.2f} dB  "
        f"SSIM {mean['ssim']:.4f}  SAD {mean['sad_deg']:.2f}°  → {json_path}"
    )


@unmix_app.command("infer")
def infer(
    run: Path = typer.Option(..., "--run", help="Run directory with a trained unmixer."),
    rgb: Path | None = typer.Option(
        None, "--rgb", help="Folder of photos (jpg/png/tif); sub-folders are class labels."
    ),
    hsi: Path | None = typer.Option(
        None,
        "--hsi",
        help="One HSI file instead of photos; its abundance map is streamed into OUT (a .npy), "
        "so the scene need not fit in memory.",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Output folder for the abundance dataset, or the .npy file for --hsi."
    ),
    size: int = typer.Option(
        64, help="Photos are resized/cropped to SIZE×SIZE (diffusion map size)."
    ),
    crop: str = typer.Option("resize", help="How photos reach SIZE: resize or center (crop)."),
    wavelengths: str | None = typer.Option(None, "--wavelengths", help=WAVELENGTHS_HELP),
    key: str | None = typer.Option(None, help="Array name inside a .mat/.npz file (--hsi)."),
    scale: float | None = typer.Option(None, help="Divide stored values by this (--hsi)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output."),
) -> None:
    """Infer abundances of every photo in a folder (one streamable dataset + preview PNGs), or
    the abundance map of one HSI scene."""
    from msfdiff._io import check_new
    from msfdiff.errors import ConfigError
    from msfdiff.unmixing import load_unmixer
    from msfdiff.unmixing.workflow import infer_photo_abundances, infer_scene_abundances

    if (rgb is None) == (hsi is None):
        raise ConfigError("pass either --rgb (a photo folder) or --hsi (one HSI file)")
    if hsi is not None:
        from msfdiff.data.readers import read_hsi

        if out.suffix.lower() != ".npy":
            raise ConfigError(f"{out}: with --hsi, --out is the abundance map's .npy file")
        check_new(out, force=force)  # before the model and the scene are read
        cube = read_hsi(hsi, key=key, wavelengths=wavelengths, scale=scale)
        shape = infer_scene_abundances(load_unmixer(run), cube, out, force=force).shape
        console.print(f"abundances of {hsi.name} ({shape[0]}×{shape[1]}, k={shape[2]}) → {out}")
        return
    unmixer = load_unmixer(run)
    with ProgressBar("inferring", unit="photo") as bar:
        n = infer_photo_abundances(
            unmixer, rgb, out, size=size, crop=crop, force=force, progress=bar, log=log
        )
    console.print(f"abundances of {n} photos written to {out}")


__all__ = ["read_cubes", "register"]
