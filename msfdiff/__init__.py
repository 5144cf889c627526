"""msfdiff: hyperspectral image synthesis from the abundance perspective (MSF-Diff).

The public API, one import away (``from msfdiff import SceneUnmixer, AbundanceDiffusion``).
The layers behind it, lowest first, are in docs/architecture.md::

    data → unmixing (SceneUnmixer) → generator (Generator, AbundanceDiffusion)
         → fusion (fuse, generate_samples) → evaluation (evaluate) → report → pipeline

Names load on first use, so ``import msfdiff`` (and every ``msfdiff`` command) starts without
importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from msfdiff._version import __version__

_EXPORTS = {
    # data
    "HyperCube": "msfdiff.data.cube",
    "read_hsi": "msfdiff.data.readers",
    "read_hsi_collection": "msfdiff.data.readers",
    "read_band_images": "msfdiff.data.readers",
    "write_hsi": "msfdiff.data.writers",
    "read_photo": "msfdiff.data.rgb",
    "load_abundance_dataset": "msfdiff.data.abundances",
    "load_samples": "msfdiff.data.samples",
    # phase 1: unmixing
    "SceneUnmixer": "msfdiff.unmixing.estimator",
    "load_unmixer": "msfdiff.unmixing.estimator",
    # phase 2: generators
    "Generator": "msfdiff.generator",
    "SamplingSettings": "msfdiff.generator",
    "load_generator": "msfdiff.generator",
    "Guidance": "msfdiff.generator",
    "AbundanceDiffusion": "msfdiff.diffusion.generator",
    "make_collages": "msfdiff.diffusion.collage",
    "outpainting": "msfdiff.diffusion.guidance",
    # phase 3: fusion
    "fuse": "msfdiff.fusion",
    "generate_samples": "msfdiff.generate",
    "Shard": "msfdiff.generate",
    "load_sources": "msfdiff.generate",
    # evaluation, report, pipeline
    "evaluate": "msfdiff.evaluation.compare",
    "EvaluationOptions": "msfdiff.evaluation.metrics",
    "load_set": "msfdiff.evaluation.sets",
    "write_evaluation": "msfdiff.evaluation.output",
    "evaluate_unmixer": "msfdiff.evaluation.unmixing",
    "write_report": "msfdiff.report.render",
    "RunLayout": "msfdiff.layout",
    "Runner": "msfdiff.pipeline.runner",
    "load_experiment": "msfdiff.pipeline.config",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
