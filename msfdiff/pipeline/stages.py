"""MSF-Diff's stages, declared as data: name, what each reads and writes, what it depends on,
and the function that does it (each calls the same Python API as its CLI command).

To add a stage, append a :class:`Stage`; to swap one (a different generator, say), replace its
``run`` with :func:`dataclasses.replace`. The runner needs nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from msfdiff.layout import RunLayout
from msfdiff.pipeline.config import ExperimentConfig
from msfdiff.progress import Log, Progress, no_progress

BarFactory = Callable[[str, str], AbstractContextManager[Progress]]
"""``bar(description, unit)`` → a context manager that is a progress listener."""


def no_bar(description: str, unit: str = "step") -> AbstractContextManager[Progress]:
    return nullcontext(no_progress)


@dataclass(frozen=True)
class StageContext:
    """What a stage body gets: the experiment, the run's paths, and where to report."""

    config: ExperimentConfig
    layout: RunLayout
    log: Log
    bar: BarFactory


@dataclass(frozen=True)
class Stage:
    name: str
    depends: tuple[str, ...]
    inputs: Callable[[ExperimentConfig], Any]
    """What the stage reads (config section, input files): part of its fingerprint."""
    outputs: Callable[[RunLayout], tuple[Path, ...]]
    """What it writes: removed before the stage runs afresh."""
    run: Callable[[StageContext, bool], None]
    """``run(context, resume)``."""
    requires: Callable[[ExperimentConfig], None] = lambda config: None
    """Raises if something the stage will need is missing: checked before any stage runs,
    so a missing model file fails in a second, not after an hour of training."""
    shared: bool = False
    """Under a multi-process launch, every process runs it (it splits its own work, e.g.
    DDP training or sharded sampling); otherwise the main process alone does."""


def file_fingerprint(paths) -> list:
    """(path, size, mtime) of every file under ``paths``: cheap, and changes when data does."""
    rows = []
    for raw in paths:
        path = Path(raw)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            stat = f.stat() if f.exists() else None
            rows.append([str(f.resolve()), stat and stat.st_size, stat and stat.st_mtime_ns])
    return rows


def _hsi_inputs(config: ExperimentConfig, paths) -> list:
    """Everything that decides what a set of HSI files reads as."""
    d = config.data
    return [file_fingerprint(paths), d.wavelengths, d.key, d.scale]


def _read_cubes(context: StageContext, paths):
    from msfdiff.data.readers import read_hsi_collection

    d = context.config.data
    return read_hsi_collection(paths, key=d.key, wavelengths=d.wavelengths, scale=d.scale)


def _unmixer(context: StageContext):
    from msfdiff.unmixing import load_unmixer

    return load_unmixer(context.layout.root)


# ------------------------------------------------------------------ stage bodies


def unmix(context: StageContext, resume: bool) -> None:
    from msfdiff.unmixing import SceneUnmixer
    from msfdiff.unmixing.workflow import train_and_save

    cfg = context.config.unmixing
    cubes = _read_cubes(context, context.config.data.hsi)
    unmixer = SceneUnmixer(preset=cfg.preset, overrides=cfg.overrides, random_state=cfg.seed)
    with context.bar("unmixing", "step") as bar:
        train_and_save(
            unmixer,
            cubes,
            context.layout.root,
            checkpoint_every=cfg.checkpoint_every,
            resume=resume,
            progress=bar,
            log=context.log,
        )


def eval_unmix(context: StageContext, resume: bool) -> None:
    from msfdiff._io import write_json
    from msfdiff.evaluation.unmixing import evaluate_unmixer

    paths = context.config.data.eval_hsi
    if not paths:
        context.log("no data.eval_hsi given: held-out unmixing check skipped")
        return
    layout = context.layout
    result = evaluate_unmixer(
        _unmixer(context), _read_cubes(context, paths), layout.unmixing_eval_figures
    )
    write_json(layout.unmixing_eval, result)
    m = result["mean"]
    context.log(f"held-out: PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f}, SAD {m['sad_deg']:.2f}°")


def infer(context: StageContext, resume: bool) -> None:
    from msfdiff.unmixing.workflow import infer_photo_abundances

    cfg = context.config.inference
    with context.bar("inferring photo abundances", "photo") as bar:
        infer_photo_abundances(
            _unmixer(context),
            context.config.data.rgb,
            context.layout.abundances,
            size=cfg.size,
            crop=cfg.crop,
            force=True,
            progress=bar,
            log=context.log,
        )


def diffusion(context: StageContext, resume: bool) -> None:
    from msfdiff.data.abundances import load_abundance_dataset
    from msfdiff.diffusion.generator import AbundanceDiffusion
    from msfdiff.evaluation.monitor import monitor_for

    cfg, layout = context.config.diffusion, context.layout
    dataset = load_abundance_dataset(layout.abundances)
    generator = AbundanceDiffusion(cfg.preset, conditional=cfg.conditional, overrides=cfg.overrides)
    monitor = None
    if cfg.monitor_every:
        monitor = monitor_for(dataset, layout.generator_monitor, cfg.monitor_every)
    with context.bar("diffusion", "step") as bar:
        generator.fit(
            dataset,
            layout.generator,
            resume=resume,
            progress=bar,
            log=context.log,
            monitor=monitor,
        )


def sample(context: StageContext, resume: bool) -> None:
    from msfdiff.generate import Shard, generate_samples
    from msfdiff.generator import load_generator
    from msfdiff.processes import rank_and_world

    cfg = context.config.sampling
    with context.bar("sampling", "sample") as bar:
        generate_samples(
            load_generator(context.layout.generator),
            context.layout.samples,
            unmixer=_unmixer(context),
            n=cfg.n,
            settings=cfg.settings,
            shard=Shard(*rank_and_world()),
            force=not resume,
            progress=bar,
            log=context.log,
        )


def evaluate(context: StageContext, resume: bool) -> None:
    import numpy as np

    from msfdiff.data.abundances import load_abundance_dataset
    from msfdiff.evaluation import EvaluationOptions, evaluate, load_set, write_evaluation
    from msfdiff.layout import sample_abundance_paths

    cfg, d, layout = context.config.evaluation, context.config.data, context.layout
    if not cfg.enabled:
        context.log("evaluation disabled in the config")
        return
    wavelengths = _unmixer(context).wavelengths_
    real = load_set(
        list(d.eval_hsi or d.hsi),
        kind="hsi",
        wavelengths_nm=wavelengths,
        key=d.key,
        scale=d.scale,
        max_images=cfg.max_images,
    )
    synthetic = load_set(
        [layout.samples], kind="hsi", wavelengths_nm=wavelengths, max_images=cfg.max_images
    )
    training_maps = load_abundance_dataset(layout.abundances).array  # what the generator saw
    with context.bar("evaluating", "image") as bar:
        result = evaluate(
            real,
            synthetic,
            options=EvaluationOptions(generative=cfg.fid, quality=cfg.quality),
            real_abundances=list(np.asarray(training_maps[: cfg.max_images], dtype=np.float32)),
            training_abundances=training_maps,
            synthetic_abundances=[np.load(p) for p in sample_abundance_paths(layout.samples)],
            progress=bar,
            log=context.log,
        )
    write_evaluation(result, layout.metrics, layout.evaluation, force=True)


def _evaluation_models(config: ExperimentConfig) -> None:
    """The offline networks and models the evaluate stage loads, if it is to compute them."""
    from msfdiff.evaluation.metrics import EvaluationOptions

    cfg = config.evaluation
    if cfg.enabled:
        EvaluationOptions(generative=cfg.fid, quality=cfg.quality).check_models()


def report(context: StageContext, resume: bool) -> None:
    from msfdiff.report import write_report

    context.log(f"report: {write_report(context.layout.root, force=True)}")


STAGES: tuple[Stage, ...] = (
    Stage(
        "unmix",
        (),
        lambda c: {"data": _hsi_inputs(c, c.data.hsi), "cfg": asdict(c.unmixing)},
        lambda run: (run.unmixing,),
        unmix,
        shared=True,
    ),
    Stage(
        "eval_unmix",
        ("unmix",),
        lambda c: {"data": _hsi_inputs(c, c.data.eval_hsi)},
        lambda run: (run.unmixing_eval, run.unmixing_eval_figures),
        eval_unmix,
    ),
    Stage(
        "infer",
        ("unmix",),
        lambda c: {"files": file_fingerprint([c.data.rgb]), "cfg": asdict(c.inference)},
        lambda run: (run.abundances,),
        infer,
        shared=True,
    ),
    Stage(
        "diffusion",
        ("infer",),
        lambda c: {"cfg": {k: v for k, v in asdict(c.diffusion).items() if k != "monitor_every"}},
        lambda run: (run.generator,),
        diffusion,
        shared=True,
    ),
    Stage(
        "sample",
        ("unmix", "diffusion"),
        lambda c: {"cfg": asdict(c.sampling)},
        lambda run: (run.samples,),
        sample,
        shared=True,
    ),
    Stage(
        "evaluate",
        ("infer", "sample"),
        lambda c: {
            "data": _hsi_inputs(c, c.data.eval_hsi or c.data.hsi),
            "cfg": asdict(c.evaluation),
        },
        lambda run: (run.evaluation,),
        evaluate,
        _evaluation_models,
    ),
    Stage(
        "report",
        ("unmix", "eval_unmix", "infer", "diffusion", "sample", "evaluate"),
        lambda c: {},
        lambda run: (run.report,),
        report,
    ),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
