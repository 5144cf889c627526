"""Evaluation: how close a synthetic set is to a real one, and what each number means.

- :mod:`~msfdiff.evaluation.sets`: :func:`load_set`, the real or synthetic side as images;
- :mod:`~msfdiff.evaluation.compare`: :func:`evaluate`, every applicable metric of two sets;
- :mod:`~msfdiff.evaluation.output`: :func:`write_evaluation`, metrics.json and its figures;
- :mod:`~msfdiff.evaluation.metrics`: :class:`EvaluationOptions`, metric entries, definitions;
- :mod:`~msfdiff.evaluation.families`: the metric families :func:`evaluate` merges;
- :mod:`~msfdiff.evaluation.generative`: FID/FD, KID, precision and recall on feature sets;
- :mod:`~msfdiff.evaluation.inception`: the offline TF-Inception-v3 FID feature network and
  the RGB renderings of HSIs it sees;
- :mod:`~msfdiff.evaluation.spectral`: HSI-native distances (spectra, angles, abundances);
- :mod:`~msfdiff.evaluation.novelty`: each sample's distance to the nearest training map,
  the real-to-real reference and the memorisation rate;
- :mod:`~msfdiff.evaluation.no_reference`: NIQE, PIQE, BRISQUE of single bands;
- :mod:`~msfdiff.evaluation.reconstruction`: full-reference RMSE, PSNR, SSIM, SAD, ERGAS;
- :mod:`~msfdiff.evaluation.unmixing`: the unmixer's held-out check (paper Table 3) and its
  agreement with reference endmembers;
- :mod:`~msfdiff.evaluation.plots`: the figures.

Definitions, directions and provenance of every number: docs/metrics.md. The names below are
imported on first use, so importing one module loads none of the others: the unmixer's
held-out check (``reconstruction``) gets no figure or Inception code, and the CLI reads its
defaults (``metrics``) without loading torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Evaluation": "msfdiff.evaluation.compare",
    "evaluate": "msfdiff.evaluation.compare",
    "EvaluationOptions": "msfdiff.evaluation.metrics",
    "write_evaluation": "msfdiff.evaluation.output",
    "SampleSet": "msfdiff.evaluation.sets",
    "load_set": "msfdiff.evaluation.sets",
    "nearest_distances": "msfdiff.evaluation.novelty",
    "novelty_summary": "msfdiff.evaluation.novelty",
    "match_endmembers": "msfdiff.evaluation.reconstruction",
    "reconstruction_metrics": "msfdiff.evaluation.reconstruction",
    "evaluate_unmixer": "msfdiff.evaluation.unmixing",
    "endmember_agreement": "msfdiff.evaluation.unmixing",
    "read_endmembers": "msfdiff.evaluation.unmixing",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
