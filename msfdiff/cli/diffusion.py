"""``msfdiff diffusion train`` and ``msfdiff sample``: phases 2 and 3 from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from msfdiff.cli._common import console, progress

diffusion_app = typer.Typer(
    help="Abundance diffusion: learn the distribution of abundance maps.", no_args_is_help=True
)


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
        None,
        "--class",
        help="Scene class (class-conditional models only); without it sample i is drawn from "
        "the model's classes in turn.",
    ),
    seed: int = typer.Option(0, help="Sample i uses seed + i, whatever the batch size."),
    size: int | None = typer.Option(
        None, "--size", help="Map size in pixels (default: the model's image_size)."
    ),
    batch_size: int = typer.Option(8, help="Maps denoised together."),
    noise: bool = typer.Option(
        False, "--noise/--no-noise", help="Add the unmixer's per-band residual noise (Eq. 5)."
    ),
    force: bool = typer.Option(False, "--force", help="Regenerate samples already in OUT."),
) -> None:
    """Sample abundance maps and fuse them with the unmixer's endmembers into HSIs."""
    from msfdiff.generate import generate_samples

    generate_samples(
        run,
        out,
        n=n,
        sampler=sampler,
        steps=steps,
        format=format,
        seed=seed,
        noise=noise,
        class_name=class_name,
        size=size,
        batch_size=batch_size,
        force=force,
        progress=lambda items, total: progress(items, total=total, description="sampling"),
        log=console.print,
    )
    console.print(f"done: {n} samples in {out} ({sampler})")
