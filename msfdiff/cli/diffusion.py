"""``msfdiff diffusion train`` and ``msfdiff sample``: phases 2 and 3 from the command line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import typer

from msfdiff.cli._common import console, progress

diffusion_app = typer.Typer(
    help="Abundance diffusion: learn the distribution of abundance maps.", no_args_is_help=True
)
MANIFEST_NAME = "sampling.json"


def register(app: typer.Typer) -> None:
    app.add_typer(diffusion_app, name="diffusion")
    app.command("sample")(sample)


@diffusion_app.command("train")
def train(
    run: Path = typer.Option(..., "--run", help="Run directory; the model goes to RUN/diffusion."),
    abundances: Path = typer.Option(
        ..., "--abundances", help="Abundance dataset folder (from `msfdiff unmix infer`)."
    ),
    preset: str | None = typer.Option(
        None, help="cpu (default; minutes on a CPU), paper or official (GPU-sized)."
    ),
    steps: int | None = typer.Option(None, help="Total training steps (with --resume: new total)."),
    batch_size: int | None = typer.Option(None, help="Maps per step (per GPU)."),
    representation: str | None = typer.Option(
        None, help="logratio (default: on the simplex), paper (softmax of [-1,1]) or official."
    ),
    conditional: bool = typer.Option(
        False, "--conditional", help="Condition on the scene label, so `sample --class` works."
    ),
    seed: int | None = typer.Option(None, help="Seed of weights, data order and noise."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the latest checkpoint."),
    force: bool = typer.Option(False, "--force", help="Delete RUN/diffusion and start afresh."),
) -> None:
    """Train the abundance denoiser (paper Algorithm 1); Ctrl-C saves a checkpoint and stops."""
    from msfdiff.data.abundances import load_abundance_dataset
    from msfdiff.diffusion.config import load_diffusion_preset
    from msfdiff.diffusion.training import DiffusionTrainer
    from msfdiff.errors import ConfigError

    dataset = load_abundance_dataset(abundances)
    out = run / "diffusion"
    changed = {
        "--preset": preset,
        "--batch-size": batch_size,
        "--representation": representation,
        "--seed": seed,
        "--conditional": conditional or None,
    }
    if resume:
        given = [name for name, value in changed.items() if value is not None]
        if given:
            raise ConfigError(
                f"{out}: {', '.join(given)} cannot change when resuming (only --steps)"
            )
        trainer = DiffusionTrainer.resume(dataset, out, max_steps=steps)
    else:
        config = load_diffusion_preset(preset or "cpu")
        training = {"max_steps": steps, "batch_size": batch_size, "seed": seed}
        config = config.replace(
            training={key: value for key, value in training.items() if value is not None},
            representation=representation or config.representation,
            conditional=conditional,
        )
        trainer = DiffusionTrainer.start(config, dataset, out, force=force)
    total = trainer.config.training.max_steps
    console.print(
        f"training {out} from step {trainer.step} to {total} on {trainer.accelerator.device} "
        f"({len(dataset)} maps, k={dataset.k}, {trainer.config.representation} representation)"
    )
    last = None
    for info in progress(trainer.steps(), total=total - trainer.step, description="training"):
        last = info
    if trainer.interrupted:
        console.print(
            f"interrupted at step {trainer.step}; checkpoint saved, continue with --resume"
        )
        raise typer.Exit(130)
    loss = f", last loss {last.loss:.4g}" if last is not None else ""
    console.print(f"done: {out} at step {trainer.step}{loss}")


def sample(
    run: Path = typer.Option(..., "--run", help="Run directory with unmixing/ and diffusion/."),
    n: int = typer.Option(..., "--n", min=1, help="Number of synthetic HSIs."),
    out: Path = typer.Option(..., "--out", help="Output folder (an interrupted run resumes)."),
    sampler: str = typer.Option("ddpm", help="ddpm (paper, full T steps), ddim or dpmsolver++."),
    steps: int | None = typer.Option(
        None, help="Denoising steps (default: T for ddpm, 50 ddim, 20 dpmsolver++)."
    ),
    format: str = typer.Option("envi", "--format", help="HSI file format: envi, npy, mat or tif."),
    class_name: str | None = typer.Option(
        None, "--class", help="Scene class (class-conditional models only)."
    ),
    seed: int = typer.Option(0, help="Sample i uses seed + i, whatever the batch size."),
    batch_size: int = typer.Option(8, help="Maps denoised together."),
    noise: bool = typer.Option(
        False, "--noise/--no-noise", help="Add the unmixer's per-band residual noise (Eq. 5)."
    ),
    force: bool = typer.Option(False, "--force", help="Regenerate samples already in OUT."),
) -> None:
    """Sample abundance maps and fuse them with the unmixer's endmembers into HSIs."""
    import numpy as np

    from msfdiff.diffusion.pipeline import AbundancePipeline, make_sampler
    from msfdiff.errors import DataFormatError
    from msfdiff.fusion import HSI_SUFFIXES, abundance_path, fuse, write_sample
    from msfdiff.unmixing import load_unmixer

    if format not in HSI_SUFFIXES:
        raise DataFormatError(f"unknown --format {format!r}; choose one of {list(HSI_SUFFIXES)}")
    unmixer = load_unmixer(run)
    pipe = AbundancePipeline.from_pretrained(run / "diffusion")
    endmembers = np.asarray(unmixer.endmembers_)
    if endmembers.shape[0] != pipe.k:
        raise DataFormatError(
            f"{run}: the unmixer has {endmembers.shape[0]} endmembers, the diffusion model {pipe.k}"
        )
    pipe.class_index(class_name)  # fail before touching OUT
    scheduler = make_sampler(pipe.scheduler_config, sampler, steps)
    settings = {
        "model_sha256": _weights_digest(run / "diffusion"),
        "unmixer": str((run / "unmixing").resolve()),
        "sampler": sampler,
        "steps": len(scheduler.timesteps),
        "seed": seed,
        "class": class_name,
        "format": format,
        "noise": noise,
    }
    _prepare_out(out, settings, force=force)
    todo = [i for i in range(n) if force or not abundance_path(out, i).exists()]
    if len(todo) < n:
        console.print(
            f"{n - len(todo)} of {n} samples already in {out}; making the other {len(todo)}"
        )
    batches = pipe.generate(
        todo,
        sampler=sampler,
        steps=steps,
        seed=seed,
        batch_size=batch_size,
        class_name=class_name,
    )
    per_sample = ((i, a) for indices, maps in batches for i, a in zip(indices, maps, strict=True))
    for i, abundance in progress(per_sample, total=len(todo), description="sampling"):
        hsi = fuse(
            endmembers,
            abundance,
            bias=unmixer.bias_,
            noise_std=unmixer.noise_std_ if noise else None,
            rng=np.random.default_rng([seed, i]),
        )
        # force: leftovers of an interrupted sample are ours (OUT was checked above)
        write_sample(
            out,
            i,
            abundance,
            hsi,
            wavelengths_nm=unmixer.wavelengths_,
            endmembers=endmembers,
            format=format,
            force=True,
        )
    console.print(f"done: {n} samples in {out} ({sampler}, {settings['steps']} steps)")


def _weights_digest(folder: Path) -> str:
    """SHA-256 of the sampling weights, so resuming into OUT never mixes two models."""
    from msfdiff.diffusion.pipeline import UNET_DIR

    digest = hashlib.sha256()
    for path in sorted((folder / UNET_DIR).glob("*.safetensors")):
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def _prepare_out(out: Path, settings: dict, *, force: bool) -> None:
    """Create OUT or check it holds samples made with the same settings (then they are reused)."""
    from msfdiff._io import write_json
    from msfdiff.errors import OutputExistsError

    manifest = out / MANIFEST_NAME
    if out.exists() and not force:
        if manifest.is_file():
            previous = json.loads(manifest.read_text())
            differ = sorted(key for key in settings if previous.get(key) != settings[key])
            if differ:
                raise OutputExistsError(
                    f"{out}: holds samples made with other settings ({', '.join(differ)}); "
                    "use --force or another --out"
                )
        elif any(out.iterdir()):
            raise OutputExistsError(f"{out}: exists and is not a sampling folder; use --force")
    out.mkdir(parents=True, exist_ok=True)
    write_json(manifest, settings)
