"""Compare a real and a synthetic set with every applicable metric.

:func:`evaluate` is the one entry point (``msfdiff evaluate`` and the pipeline's evaluate
stage are thin wrappers); :func:`~msfdiff.evaluation.output.write_evaluation` writes what it
returns. Which metrics apply depends on what the sets are:

- always: FID, KID, precision and recall on RGB images (HSIs rendered by
  :func:`~msfdiff.evaluation.inception.render_rgb`);
- both sets HSIs with the same bands: spectral Fréchet distance and spectral-angle distance;
- per band (per channel for RGB photos): NIQE, PIQE, BRISQUE curves and their means;
- abundances given for both sets: per-endmember histogram and power-spectrum distances;
- synthetic and training abundances given: novelty (distance to the nearest training map)
  and the memorisation rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from msfdiff._version import __version__
from msfdiff.evaluation import families, plots
from msfdiff.evaluation.metrics import DEFINITIONS, EvaluationOptions, Figure, Findings
from msfdiff.evaluation.novelty import Maps
from msfdiff.evaluation.sets import SampleSet, share_wavelengths
from msfdiff.progress import Log, Progress, no_log, no_progress

if TYPE_CHECKING:
    from msfdiff.evaluation.inception import InceptionFeatures


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` found.

    Attributes
    ----------
    summary : dict
        metrics.json without its ``plots`` entry: ``metrics`` (every number with ``better``
        and ``definition``), ``definitions``, ``notes``, the sets, the settings, and, as they
        apply, ``feature_network`` and ``per_band``.
    figures : dict of str to callable
        Figure name (see :data:`~msfdiff.evaluation.metrics.PLOT_NAMES`) to a function that
        draws it into a PNG path.
    """

    summary: dict[str, Any]
    figures: dict[str, Figure]

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        return self.summary["metrics"]

    @property
    def notes(self) -> list[str]:
        return self.summary["notes"]


def evaluate(
    real: SampleSet,
    synthetic: SampleSet,
    *,
    options: EvaluationOptions = EvaluationOptions(),
    real_abundances: Sequence[np.ndarray] | None = None,
    synthetic_abundances: Sequence[np.ndarray] | None = None,
    training_abundances: Maps | None = None,
    source_abundances: Sequence[np.ndarray] | None = None,
    inception: InceptionFeatures | None = None,
    progress: Progress | None = None,
    log: Log = no_log,
) -> Evaluation:
    """Compute every applicable metric between two sets.

    Parameters
    ----------
    real, synthetic : SampleSet
    options : EvaluationOptions
        Which families run, their parameters, and the seed.
    real_abundances, synthetic_abundances : sequence of ndarray of shape (H, W, n_endmembers)
        Abundances inferred from the real set and those sampled for the synthetic one.
    training_abundances : sequence of ndarray, or ndarray of shape (n, H, W, n_endmembers)
        The maps the generator trained on (a memory-mapped data set is read block by block):
        novelty runs only with them. ``real_abundances`` never stands in for them, since the
        real set may be held out, and a subset would make copies look new.
    source_abundances : sequence of ndarray, optional
        For variations: the source map of each synthetic map, in the same order.
    inception : InceptionFeatures, optional
        A loaded feature network (else located with ``find_inception_weights``).
        ~0.14 s per image on a 2-core CPU.
    progress : Progress, optional
        Told ``(done, total, status)`` after every scored image; one count runs over the
        Inception features and then the per-band quality of both sets.
    log : Log
        One line as each family starts.
    """
    real, synthetic, shared = share_wavelengths(real, synthetic)
    tick = _Ticker(progress or no_progress, _image_count(real, synthetic, options))
    found = [Findings(notes=shared)]
    if options.generative:
        log(f"Inception features of {len(real.images)} + {len(synthetic.images)} images")
        found.append(
            families.generative_findings(real, synthetic, options, inception=inception, tick=tick)
        )
    found.append(families.spectral_findings(real, synthetic, options))
    if options.quality:
        log(
            f"per-band quality of {families.quality_count(real, options)} + "
            f"{families.quality_count(synthetic, options)} images"
        )
        found.append(families.quality_findings(real, synthetic, options, tick=tick))
    found.append(families.abundance_findings(real_abundances, synthetic_abundances, options))
    if synthetic_abundances is not None and training_abundances is not None:
        n, m = len(synthetic_abundances), len(training_abundances)
        log(f"novelty of {n} synthetic maps against {m} training maps")
    found.append(
        families.novelty_findings(
            synthetic_abundances, training_abundances, options, source_maps=source_abundances
        )
    )
    return _merge(real, synthetic, options, found)


def _merge(
    real: SampleSet, synthetic: SampleSet, options: EvaluationOptions, found: list[Findings]
) -> Evaluation:
    """One summary from the families' findings, in the order they ran."""
    summary: dict[str, Any] = {
        "msfdiff_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "sets": {"real": real.describe(), "synthetic": synthetic.describe()},
        "settings": options.settings(),
        "metrics": {name: entry for f in found for name, entry in f.metrics.items()},
        "definitions": DEFINITIONS,
        "notes": [note for f in found for note in f.notes],
    }
    for f in found:
        summary.update(f.sections)
    figures = {name: draw for f in found for name, draw in f.figures.items()}
    histograms = {title: pair for f in found for title, pair in f.histograms.items()}
    if histograms:
        figures["histograms"] = partial(plots.plot_histograms, histograms)
    return Evaluation(summary, figures)


def _image_count(real: SampleSet, synthetic: SampleSet, options: EvaluationOptions) -> int:
    """Images the progress count runs over: Inception inputs, then quality-scored images."""
    count = 0
    if options.generative:
        count += len(real.images) + len(synthetic.images)
    if options.quality:
        count += families.quality_count(real, options) + families.quality_count(synthetic, options)
    return count


class _Ticker:
    """Turns the families' ``tick(n, status)`` into one running ``progress(done, total)``."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, n: int, status: str) -> None:
        self.done += n
        self.progress(self.done, self.total, status)
