"""``msfdiff diffusion train`` and ``msfdiff sample``: phases 2 and 3 from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from msfdiff.cli._common import ProgressBar, console, log
from msfdiff.generator import (
    COLLAGE_BAND,
    COLLAGE_CELLS,
    COLLAGE_STRENGTH,
    VARIATION_STRENGTH,
    SamplingSettings,
)

DEFAULTS = SamplingSettings  # its class attributes are the defaults (no data import at startup)

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
        None, help="cpu (default; minutes on a CPU), medium (a GPU-day), paper or official."
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
    monitor_every: int | None = typer.Option(
        None,
        "--monitor-every",
        min=1,
        help="Every N steps draw 8 maps and log their edge coherence against the training maps "
        "(RUN/diffusion/monitor: CSV, curve, map grids).",
    ),
) -> None:
    """Train the abundance denoiser (paper Algorithm 1); Ctrl-C saves a checkpoint and stops."""
    from msfdiff.data.abundances import load_abundance_dataset
    from msfdiff.diffusion.config import DEFAULT_PRESET
    from msfdiff.diffusion.generator import AbundanceDiffusion
    from msfdiff.errors import ConfigError
    from msfdiff.evaluation.monitor import monitor_for
    from msfdiff.generator import TrainingInterrupted
    from msfdiff.layout import RunLayout

    layout = RunLayout(run)
    out = layout.generator
    fixed = {
        "--preset": preset,
        "--batch-size": batch_size,
        "--representation": representation,
        "--seed": seed,
        "--conditional": conditional or None,
    }
    given = [name for name, value in fixed.items() if value is not None]
    if resume and given:
        raise ConfigError(f"{out}: {', '.join(given)} cannot change when resuming (only --steps)")
    training = {"batch_size": batch_size, "seed": seed}
    overrides = {
        "training": {key: value for key, value in training.items() if value is not None},
        **({"representation": representation} if representation else {}),
    }
    generator = AbundanceDiffusion(
        preset or DEFAULT_PRESET, conditional=conditional, overrides=overrides
    )
    dataset = load_abundance_dataset(abundances)
    with ProgressBar("training") as bar:
        try:
            generator.fit(
                dataset,
                out,
                resume=resume,
                force=force,
                max_steps=steps,
                progress=bar,
                log=log,
                monitor=monitor_for(dataset, layout.generator_monitor, monitor_every)
                if monitor_every
                else None,
            )
        except TrainingInterrupted as stop:
            console.print(f"{stop}; continue with --resume")
            raise typer.Exit(130) from None


def sample(
    run: Path = typer.Option(..., "--run", help="Run directory with unmixing/ and diffusion/."),
    n: int = typer.Option(..., "--n", min=1, help="Number of synthetic HSIs."),
    out: Path = typer.Option(..., "--out", help="Output folder (an interrupted run resumes)."),
    sampler: str = typer.Option(
        DEFAULTS.sampler,
        help="unipc or dpmsolver++3m (8 steps), dpmsolver++ (20), ddim (50) or ddpm "
        "(the paper's, all T steps).",
    ),
    steps: int | None = typer.Option(
        DEFAULTS.steps, help="Denoising steps (default: the sampler's, above)."
    ),
    format: str = typer.Option(
        DEFAULTS.format, "--format", help="HSI file format: envi, npy, mat or tif."
    ),
    class_name: str | None = typer.Option(
        DEFAULTS.class_name,
        "--class",
        help="Scene class (class-conditional models only); without it sample i is drawn from "
        "the model's classes in turn.",
    ),
    seed: int = typer.Option(
        DEFAULTS.seed, help="Sample i uses seed + i, whatever the batch size."
    ),
    size: int | None = typer.Option(
        DEFAULTS.size, "--size", help="Map size in pixels (default: the model's image_size)."
    ),
    batch_size: int = typer.Option(DEFAULTS.batch_size, help="Maps denoised together."),
    noise: bool = typer.Option(
        DEFAULTS.noise,
        "--noise/--no-noise",
        help="Add the unmixer's per-band residual noise (Eq. 5).",
    ),
    like: Path | None = typer.Option(
        None,
        "--like",
        help="Variations of these photos (a folder or file; RUN's unmixer infers their "
        "abundances) or of an abundance data set folder: sample i starts from source i mod m.",
    ),
    collage: Path | None = typer.Option(
        None,
        "--collage",
        help="Collages of these photos or abundance maps: regions of several maps, seams "
        "regenerated at --strength.",
    ),
    strength: float | None = typer.Option(
        None,
        "--strength",
        help=f"How much of each source the noise replaces, 0..1 (1 - sqrt(alpha_bar)); 1 is "
        f"plain sampling. Default {VARIATION_STRENGTH} (--like), {COLLAGE_STRENGTH} "
        "(--collage).",
    ),
    band: int = typer.Option(
        COLLAGE_BAND, "--band", help="--collage: pixels each side of a seam to regenerate."
    ),
    cells: int = typer.Option(COLLAGE_CELLS, "--cells", help="--collage: regions per collage."),
    shard: str | None = typer.Option(
        None,
        "--shard",
        help="R/N: this is process R of N sampling into OUT, making samples i with i % N == R "
        "(the set is the same for any N); auto: R/N from the launcher (accelerate launch).",
    ),
    force: bool = typer.Option(False, "--force", help="Regenerate samples already in OUT."),
) -> None:
    """Draw samples from RUN's generator (abundances are fused with RUN's unmixer) into OUT."""
    from msfdiff.diffusion.collage import make_collages
    from msfdiff.errors import ConfigError
    from msfdiff.generate import Shard, generate_samples, load_sources
    from msfdiff.generator import Guidance, load_generator
    from msfdiff.layout import RunLayout
    from msfdiff.unmixing import load_unmixer

    source = like or collage
    if like is not None and collage is not None:
        raise ConfigError("--like and --collage exclude each other; give one")
    if strength is not None and source is None:
        raise ConfigError("--strength needs --like or --collage (without them S = 1)")
    if strength is not None and not 0.0 <= strength <= 1.0:
        raise ConfigError(f"--strength must be in [0, 1], got {strength}")
    share = Shard() if shard is None else Shard.parse(shard)
    layout = RunLayout(run)
    settings = SamplingSettings(
        sampler=sampler,
        steps=steps,
        format=format,
        seed=seed,
        noise=noise,
        class_name=class_name,
        size=size,
        batch_size=batch_size,
    )
    generator = load_generator(layout.generator)
    fused = generator.output_space == "abundances"
    unmixer = load_unmixer(layout.unmixing) if fused or source is not None else None
    guidance = None
    if source is not None:
        options = {name: getattr(settings, name) for name in generator.options}
        map_size = generator.check_request(size=size, **options)["size"]
        maps, labels = load_sources(source, unmixer=unmixer, size=map_size, log=log)
        if like is not None:
            guidance = Guidance(
                maps, VARIATION_STRENGTH if strength is None else strength, labels=labels
            )
        else:
            guidance = make_collages(
                maps,
                n,
                labels=labels,
                size=size,
                cells=cells,
                band=band,
                strength=COLLAGE_STRENGTH if strength is None else strength,
                seed=seed,
            )
    with ProgressBar("sampling", unit="sample") as bar:
        generate_samples(
            generator,
            out,
            unmixer=unmixer if fused else None,
            n=n,
            settings=settings,
            guidance=guidance,
            shard=share,
            force=force,
            progress=bar,
            log=log,
        )
    made = f"shard {share}: {len(share.indices(n))} of {n}" if share.world > 1 else f"{n}"
    console.print(f"done: {made} samples in {out} ({sampler})")
