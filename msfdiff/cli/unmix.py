"""``msfdiff unmix train|eval|infer``: phase 1 from the command line."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import typer

from msfdiff.cli._common import console, progress

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
    preset: str = typer.Option("cpu", help="Unmixing preset: cpu, paper or official."),
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
    from msfdiff.unmixing.reporting import train_and_save

    target = out / "unmixing"
    if (target / "unmixer.json").exists() and not (force or resume):
        raise OutputExistsError(
            f"{target}: a trained unmixer exists already (use --force to retrain)"
        )
    if force and not resume and target.exists():
        shutil.rmtree(target)
    cubes = read_cubes(hsi, key=key, wavelengths=wavelengths, scale=scale)
    bar = StepBar("unmixing")
    with bar:
        unmixer = train_and_save(
            cubes,
            target,
            n_endmembers=k,
            preset=preset,
            random_state=seed,
            checkpoint_every=checkpoint_every,
            resume=resume,
            on_step=bar,
            steps=steps,
            batch_size=batch_size,
            crop_size=crop_size,
            band_selection=bands,
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
    from msfdiff.unmixing import load_unmixer
    from msfdiff.unmixing.reporting import endmember_agreement, evaluate_unmixer, read_endmembers

    check_new(json_path, force=force)
    unmixer = load_unmixer(run)
    reference = (
        None
        if endmembers is None
        else read_endmembers(endmembers, unmixer.n_bands_in_, key=endmembers_key)
    )
    cubes = read_cubes(hsi, key=key, wavelengths=wavelengths, scale=scale)
    fig_dir = figures or json_path.parent / f"{json_path.stem}_figures"
    result = evaluate_unmixer(
        unmixer, progress(cubes, total=len(cubes), description="evaluating"), fig_dir
    )
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
    rgb: Path = typer.Option(
        ..., "--rgb", help="Folder of photos (jpg/png/tif); sub-folders are class labels."
    ),
    out: Path = typer.Option(..., "--out", help="Output folder for the abundance dataset."),
    size: int = typer.Option(
        64, help="Photos are resized/cropped to SIZE×SIZE (diffusion map size)."
    ),
    crop: str = typer.Option("resize", help="How photos reach SIZE: resize or center (crop)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing dataset."),
) -> None:
    """Infer abundances of every photo in a folder; writes one streamable dataset + preview PNGs."""
    from msfdiff.unmixing import load_unmixer
    from msfdiff.unmixing.reporting import infer_photo_abundances

    unmixer = load_unmixer(run)
    n = infer_photo_abundances(unmixer, rgb, out, size=size, crop=crop, force=force)
    console.print(f"abundances of {n} photos written to {out}")


class StepBar:
    """Progress fed by the trainer's ``on_step`` callback: a rich bar on a terminal, else a log.

    Redirected to a file, a bar shows nothing until it ends, so there one line with the step,
    loss, elapsed time and ETA is written every ``LOG_EVERY_S`` seconds instead.
    """

    LOG_EVERY_S = 30.0

    def __init__(self, description: str):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.description = description
        self.interactive = console.is_terminal
        self.progress = Progress(
            TextColumn(description),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.interactive,
        )
        self.task = None
        self.started: tuple[float, int] | None = None
        self.logged = 0.0

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, step: int, total: int, losses: dict[str, float]) -> None:
        if self.interactive:
            if self.task is None:
                self.task = self.progress.add_task("", total=total, completed=step - 1, loss="")
            self.progress.update(self.task, completed=step, loss=f"{losses['total']:.4g}")
            return
        now = time.monotonic()
        if self.started is None:  # the first line comes after LOG_EVERY_S, with a real ETA
            self.started, self.logged = (now, step - 1), now
        if now - self.logged >= self.LOG_EVERY_S or step == total:
            self.logged = now
            console.print(
                log_line(self.description, step, total, losses["total"], *self.started, now)
            )


def log_line(
    what: str, step: int, total: int, loss: float, t0: float, step0: int, now: float
) -> str:
    """``unmixing: step 300/1500 (20%), loss 0.0123, 45 s elapsed, ETA 3 min 0 s``."""
    elapsed = now - t0
    done = step - step0
    eta = elapsed / done * (total - step) if done > 0 else float("nan")
    return (
        f"{what}: step {step}/{total} ({step / total:.0%}), loss {loss:.4g}, "
        f"{_duration(elapsed)} elapsed, ETA {_duration(eta)}"
    )


def _duration(seconds: float) -> str:
    if seconds != seconds:  # nan: no step timed yet
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


__all__ = ["StepBar", "read_cubes", "register"]
