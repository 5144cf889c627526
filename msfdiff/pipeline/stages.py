"""The stage bodies of ``msfdiff run``: each calls the same Python API as its CLI command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msfdiff.cli._common import console, progress

if TYPE_CHECKING:
    from msfdiff.pipeline.runner import Runner


def _cubes(runner: Runner, paths):
    from msfdiff.data.readers import read_hsi_collection

    d = runner.config.data
    return read_hsi_collection(paths, key=d.key, wavelengths=d.wavelengths, scale=d.scale)


def unmix(runner: Runner, resume: bool) -> None:
    from msfdiff.cli.unmix import StepBar
    from msfdiff.unmixing.reporting import train_and_save

    cfg = runner.config.unmixing
    target = runner.run_dir / "unmixing"
    cubes = _cubes(runner, runner.config.data.hsi)
    with StepBar("unmixing") as bar:
        train_and_save(
            cubes,
            target,
            preset=cfg.preset,
            random_state=cfg.seed,
            checkpoint_every=cfg.checkpoint_every,
            resume=resume,
            on_step=bar,
            **cfg.overrides,
        )


def eval_unmix(runner: Runner, resume: bool) -> None:
    from msfdiff._io import write_json
    from msfdiff.unmixing import load_unmixer
    from msfdiff.unmixing.reporting import evaluate_unmixer

    paths = runner.config.data.eval_hsi
    if not paths:
        console.print("no data.eval_hsi given: held-out unmixing check skipped")
        return
    unmixer = load_unmixer(runner.run_dir)
    cubes = _cubes(runner, paths)
    result = evaluate_unmixer(unmixer, cubes, runner.run_dir / "unmixing" / "eval_figures")
    write_json(runner.run_dir / "unmixing" / "eval.json", result)
    m = result["mean"]
    console.print(
        f"held-out: PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f}, SAD {m['sad_deg']:.2f}°"
    )


def infer(runner: Runner, resume: bool) -> None:
    from msfdiff.unmixing import load_unmixer
    from msfdiff.unmixing.reporting import infer_photo_abundances

    cfg = runner.config.inference
    infer_photo_abundances(
        load_unmixer(runner.run_dir),
        runner.config.data.rgb,
        runner.run_dir / "abundances",
        size=cfg.size,
        crop=cfg.crop,
        force=True,
    )


def diffusion(runner: Runner, resume: bool) -> None:
    from msfdiff.data.abundances import load_abundance_dataset
    from msfdiff.diffusion.config import load_diffusion_preset
    from msfdiff.diffusion.training import DiffusionTrainer

    cfg = runner.config.diffusion
    dataset = load_abundance_dataset(runner.run_dir / "abundances")
    out = runner.run_dir / "diffusion"
    if resume and (out / "checkpoints").exists():
        trainer = DiffusionTrainer.resume(dataset, out)
    else:
        config = load_diffusion_preset(cfg.preset).replace(
            conditional=cfg.conditional, **cfg.overrides
        )
        trainer = DiffusionTrainer.start(config, dataset, out, force=True)
    total = trainer.config.training.max_steps
    for _ in progress(trainer.steps(), total=total - trainer.step, description="diffusion"):
        pass
    if trainer.interrupted:
        raise KeyboardInterrupt


def sample(runner: Runner, resume: bool) -> None:
    from msfdiff.generate import generate_samples

    cfg = runner.config.sampling
    generate_samples(
        runner.run_dir,
        runner.run_dir / "samples",
        n=cfg.n,
        sampler=cfg.sampler,
        steps=cfg.steps,
        format=cfg.format,
        seed=cfg.seed,
        noise=cfg.noise,
        class_name=cfg.class_name,
        size=cfg.size,
        batch_size=cfg.batch_size,
        force=not resume,
        progress=lambda items, total: progress(items, total=total, description="sampling"),
        log=console.print,
    )


def evaluate(runner: Runner, resume: bool) -> None:
    import numpy as np

    from msfdiff.evaluation.report import evaluate_sets, load_set

    cfg = runner.config.evaluation
    if not cfg.enabled:
        console.print("evaluation disabled in the config")
        return
    d = runner.config.data
    unmixer_wl = _unmixer_wavelengths(runner)
    real = load_set(
        list(d.eval_hsi or d.hsi),
        kind="hsi",
        wavelengths_nm=unmixer_wl,
        key=d.key,
        max_images=cfg.max_images,
    )
    synthetic = load_set(
        [runner.run_dir / "samples"],
        kind="hsi",
        wavelengths_nm=unmixer_wl,
        max_images=cfg.max_images,
    )
    real_abundances = np.load(runner.run_dir / "abundances" / "abundances.npy", mmap_mode="r")[
        : cfg.max_images
    ]
    synthetic_abundances = [
        np.load(p) for p in sorted((runner.run_dir / "samples").glob("*_abundance.npy"))
    ]
    evaluate_sets(
        real,
        synthetic,
        json_path=runner.run_dir / "evaluation" / "metrics.json",
        plots_dir=runner.run_dir / "evaluation",
        force=True,
        real_abundances=list(np.asarray(real_abundances, dtype=np.float32)),
        synthetic_abundances=synthetic_abundances,
        generative=cfg.fid,
        quality=cfg.quality,
    )


def _unmixer_wavelengths(runner: Runner):
    from msfdiff.unmixing import load_unmixer

    return load_unmixer(runner.run_dir).wavelengths_


def report(runner: Runner, resume: bool) -> None:
    from msfdiff.report import write_report

    path = write_report(runner.run_dir, force=True)
    console.print(f"report: {path}")


STAGE_FUNCTIONS = {
    "unmix": unmix,
    "eval_unmix": eval_unmix,
    "infer": infer,
    "diffusion": diffusion,
    "sample": sample,
    "evaluate": evaluate,
    "report": report,
}
