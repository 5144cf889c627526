"""What an evaluation reports: its options, the metric entries of metrics.json, their meaning.

Every number in metrics.json carries ``better`` (``lower``/``higher``) and ``definition`` (the
heading key in docs/metrics.md, repeated in the JSON's ``definitions``). The HTML report and
docs/metrics.md read these names, so they are stated here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from msfdiff.data.bands import BandSelector

DEFAULT_RENDERING = "camera:cie1931+srgb"

NOVELTY_PLOT = "novelty"
PLOT_NAMES = ("band_quality", "spectra", "histograms", "abundance_power_spectra", NOVELTY_PLOT)
"""The figures an evaluation may draw; each is written as ``<name>.png``."""

DEFINITIONS = {
    "fid": "Fréchet distance between Gaussians fitted to Inception pool3 features of the two "
    "sets' RGB renderings (TF-Inception-v3 2015-12-05, StyleGAN3 export).",
    "kid": "Kernel Inception Distance: unbiased MMD² with kernel (x·y/2048 + 1)³ on the same "
    "features, mean over random subsets.",
    "precision": "Share of synthetic samples inside the real feature manifold (balls to the "
    "3rd nearest neighbour), Kynkäänniemi et al. 2019: fidelity.",
    "recall": "Share of real samples inside the synthetic feature manifold: diversity.",
    "spectral_fd": "Fréchet distance between pixel-spectrum distributions on the first PCA "
    "components of the real pixels (squared data units).",
    "spectral_angle_w1": "1-Wasserstein distance (degrees) between distributions of the angle "
    "from each pixel spectrum to the real mean spectrum.",
    "niqe": "NIQE per band, mean over bands and images (original 2013 pristine model).",
    "piqe": "PIQE per band, mean over bands and images, 0-100.",
    "brisque": "BRISQUE per band, mean over bands and images (LIVE-trained SVR of image-quality "
    "1.2.7).",
    "abundance_hist_w1": "Per-endmember 1-Wasserstein distance between abundance value "
    "distributions (abundance fractions).",
    "abundance_psd_log_mad": "Per-endmember mean |log10 P_real - log10 P_synthetic| of radially "
    "averaged spatial power spectra (decades).",
    "abundance_edge_coherence_gap": "|synthetic - real| edge coherence of the abundance maps: "
    "the share of gradient energy along one local direction (structure tensor, 3-pixel "
    "window); straight man-made edges raise it, isotropic texture lowers it.",
    "abundance_composition_spread_gap": "|synthetic - real| spread of scene make-up: the std "
    "over maps of each endmember's mean abundance; low synthetic spread means every sample is "
    "the same mixed scene.",
    "novelty_nearest_train": "Median distance from a sample to its nearest training map over the "
    "median distance from a training map to its nearest other one (distance: L1 over "
    "endmembers, mean over pixels, least over the 8 rotations/flips; a smaller map is placed "
    "at its best offset in a larger one). 0: copies; about 1: as new as a real scene.",
    "novelty_source": "Median distance from a variation to its own source map (pixel by pixel) "
    "over the real-to-real median: how far the variation moved from the map it started from.",
    "memorisation_rate": "Share of samples at most as far from a training map as the closest 5 % "
    "of real maps are from their nearest other training map; fresh real maps score about 0.05.",
    "local_copy_share": "Share of the samples' 16 x 16 tiles at most as far from their best "
    "window in any training map as the closest 5 % of real tiles are from any other training "
    "map; fresh real maps score about 0.05, a collage of copied regions near 1.",
}
_BETTER = {
    "precision": "higher",
    "recall": "higher",
    "novelty_nearest_train": "higher",
    "novelty_source": "higher",
}


@dataclass(frozen=True)
class EvaluationOptions:
    """How to evaluate; one place for the defaults of ``msfdiff evaluate`` and the pipeline.

    Attributes
    ----------
    generative, quality : bool
        Turn off FID/KID/precision/recall (the slow, network-based part) or per-band quality.
    rendering : str or BandSelector
        How HSIs become RGB for Inception (a :func:`~msfdiff.data.bands.parse_band_selector`
        spec): CIE 1931 colour, sRGB-encoded, by default; ``nearest:640,550,460`` for the
        usual false colour.
    k : int
        Neighbour rank for precision/recall.
    pca_components : int
        Components of the spectral Fréchet distance.
    niqe_patch_size : int
        NIQE patch size (96 as published; NIQE is skipped for smaller images).
    max_quality_images : int
        Images per set (seeded random choice) that get per-band quality scores.
    max_pixels : int
        Pixels sampled per set for spectral and abundance statistics.
    seed : int
        Seeds every random choice, so a report is reproducible.
    """

    generative: bool = True
    quality: bool = True
    rendering: str | BandSelector = DEFAULT_RENDERING
    k: int = 3
    pca_components: int = 10
    niqe_patch_size: int = 96
    max_quality_images: int = 32
    max_pixels: int = 100_000
    seed: int = 0

    def check_models(self) -> None:
        """Locate the offline networks these options will load (Inception for FID; the NIQE
        and BRISQUE models), so a missing one fails before any image is read."""
        from msfdiff.evaluation.inception import find_inception_weights
        from msfdiff.evaluation.no_reference.models import find_brisque_model, find_niqe_params

        if self.generative:
            find_inception_weights()
        if self.quality:
            find_niqe_params()
            find_brisque_model()

    def settings(self) -> dict[str, Any]:
        """The numeric settings, as metrics.json records them."""
        return {
            "k": self.k,
            "pca_components": self.pca_components,
            "niqe_patch_size": self.niqe_patch_size,
            "max_quality_images": self.max_quality_images,
            "max_pixels": self.max_pixels,
            "seed": self.seed,
        }


def metric(key: str, value: float | None, **extra: Any) -> dict[str, Any]:
    """One metrics.json entry: the value, which direction is better, and its definition."""
    return {"value": value, "better": _BETTER.get(key, "lower"), "definition": key, **extra}


Figure = Callable[[Path], Path]
"""Draws one figure into the given PNG path and returns it."""

HistogramPanels = dict[str, tuple[np.ndarray, np.ndarray]]
"""Panel title → (real values, synthetic values) of the shared histograms figure."""


@dataclass
class Findings:
    """What one family of metrics found; :func:`~msfdiff.evaluation.compare.evaluate` merges them.

    ``sections`` are extra top-level blocks of metrics.json (``feature_network``,
    ``per_band``); ``histograms`` are panels every family adds to one shared figure.
    """

    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    histograms: HistogramPanels = field(default_factory=dict)
