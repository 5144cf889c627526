"""The metric families of an evaluation, each a function from the sets to its own findings.

- :func:`generative_findings`: FID, KID, precision and recall on Inception features;
- :func:`spectral_findings`: spectral Fréchet and angle distances (two HSI sets, same bands);
- :func:`quality_findings`: per-band NIQE, PIQE, BRISQUE and their means;
- :func:`abundance_findings`: per-endmember histogram, power-spectrum, edge and spread gaps;
- :func:`novelty_findings`: distance to the nearest training map, memorisation rate.

None of them writes anything: figures come back as functions that draw into a path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import islice
from pathlib import Path
from typing import TypeVar

import numpy as np

from msfdiff.data.bands import BandSelector, parse_band_selector
from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.evaluation import novelty, plots, spectral
from msfdiff.evaluation.generative import (
    frechet_feature_distance,
    kernel_distance,
    precision_recall,
)
from msfdiff.evaluation.inception import (
    STRETCH_PERCENTILES,
    WEIGHTS_PACKAGE,
    WEIGHTS_VERSION,
    InceptionFeatures,
    inception_features,
    renderings,
)
from msfdiff.evaluation.metrics import NOVELTY_PLOT, EvaluationOptions, Findings, metric
from msfdiff.evaluation.no_reference.models import load_brisque_model, load_niqe_model
from msfdiff.evaluation.no_reference.per_band import per_band_quality
from msfdiff.evaluation.sets import SampleSet, same_bands

T = TypeVar("T")

Tick = Callable[[int, str], None]
"""``tick(n, status)``: ``n`` more images were scored; status names the phase."""

INCEPTION_BATCH = 16
# Dominant wavelengths of the sRGB (Rec. 709) primaries, R, G, B: where a photo's channels are
# placed on the wavelength axis of the per-band quality plot.
SRGB_DOMINANT_NM = (611.3, 549.1, 464.3)
ROLES = ("real", "synthetic")


def quality_count(sample_set: SampleSet, options: EvaluationOptions) -> int:
    """How many of a set's images get per-band quality scores."""
    return min(len(sample_set.images), options.max_quality_images)


# ------------------------------------------------------------------------------- generative


def generative_findings(
    real: SampleSet,
    synthetic: SampleSet,
    options: EvaluationOptions,
    *,
    inception: InceptionFeatures | None,
    tick: Tick,
) -> Findings:
    """FID, KID, precision, recall; ``feature_network`` records the network and its cost."""
    rendering = options.rendering
    selector = rendering if isinstance(rendering, BandSelector) else parse_band_selector(rendering)
    model = inception if inception is not None else InceptionFeatures()
    start = time.perf_counter()
    x, y = (
        _features(sample_set, model, selector, tick, f"Inception, {role}")
        for role, sample_set in zip(ROLES, (real, synthetic), strict=True)
    )
    seconds_per_image = (time.perf_counter() - start) / (len(real.images) + len(synthetic.images))
    found = Findings()
    n_min = min(len(x), len(y))
    if n_min >= 2:
        found.metrics["fid"] = metric("fid", frechet_feature_distance(x, y))
        kid_mean, kid_std = kernel_distance(x, y, seed=options.seed)
        found.metrics["kid"] = metric("kid", kid_mean, std=kid_std)
    else:
        found.notes.append("FID and KID skipped: they need at least 2 images per set")
    if n_min > options.k:
        precision, recall = precision_recall(x, y, k=options.k)
        found.metrics["precision"] = metric("precision", precision)
        found.metrics["recall"] = metric("recall", recall)
    else:
        found.notes.append(
            f"precision/recall skipped: they need more than k={options.k} images per set"
        )
    if n_min < 50:
        found.notes.append(
            f"only {n_min} images in the smaller set: FID is biased upwards at small sizes; "
            "compare it only between runs of equal size (KID is unbiased)"
        )
    found.sections["feature_network"] = {
        "package": f"{WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}",
        "path": str(model.weights_path),
        "sha1": model.weights_sha1,
        "hsi_rendering": f"{selector.spec}, joint per-image {STRETCH_PERCENTILES[0]:g}-"
        f"{STRETCH_PERCENTILES[1]:g} percentile stretch before encoding",
        "seconds_per_image": seconds_per_image,
    }
    return found


def _features(
    sample_set: SampleSet,
    model: InceptionFeatures,
    selector: BandSelector,
    tick: Tick,
    status: str,
) -> np.ndarray:
    """Inception features of a set's renderings, batch by batch."""
    features = []
    for batch in _batched(renderings(sample_set, selector=selector), INCEPTION_BATCH):
        features.append(inception_features(batch, model=model, batch_size=INCEPTION_BATCH))
        tick(len(batch), status)
    return np.concatenate(features)


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# ------------------------------------------------------------------------------- spectral


def spectral_findings(
    real: SampleSet, synthetic: SampleSet, options: EvaluationOptions
) -> Findings:
    """Spectral Fréchet and angle distances, the spectra figure and the angle histograms."""
    found = Findings()
    if not same_bands(real, synthetic):
        found.notes.append("spectral distances skipped: they need two HSI sets with the same bands")
        return found
    real_px, synth_px = (
        spectral.sample_pixels(s.images, max_pixels=options.max_pixels, seed=options.seed)
        for s in (real, synthetic)
    )
    found.metrics["spectral_fd"] = metric(
        "spectral_fd",
        spectral.spectral_frechet_distance(real_px, synth_px, n_components=options.pca_components),
    )
    found.metrics["spectral_angle_w1"] = metric(
        "spectral_angle_w1", spectral.spectral_angle_distance(real_px, synth_px), unit="deg"
    )
    found.figures["spectra"] = partial(
        plots.plot_spectra, real_px, synth_px, wavelengths_nm=real.wavelengths_nm
    )
    reference = real_px.mean(axis=0)
    found.histograms["spectral angle to real mean (deg)"] = (
        spectral.spectral_angles_to(real_px, reference),
        spectral.spectral_angles_to(synth_px, reference),
    )
    return found


# ------------------------------------------------------------------------------- per-band quality


def quality_findings(
    real: SampleSet, synthetic: SampleSet, options: EvaluationOptions, *, tick: Tick
) -> Findings:
    """Per-band NIQE/PIQE/BRISQUE of a seeded choice of images; their means are the metrics."""
    found = Findings()
    niqe_model = _load_optional(load_niqe_model, "NIQE", found.notes)
    brisque_model = _load_optional(load_brisque_model, "BRISQUE", found.notes)
    rng = np.random.default_rng(options.seed)
    per_band: dict[str, dict[str, np.ndarray]] = {}
    for role, sample_set in zip(ROLES, (real, synthetic), strict=True):
        scores = []
        for image in _subset(sample_set.images, options.max_quality_images, rng):
            scores.append(
                per_band_quality(
                    image,
                    niqe_model=niqe_model,
                    brisque_model=brisque_model,
                    niqe_patch_size=options.niqe_patch_size,
                )
            )
            tick(1, f"band quality, {role}")
        common = set.intersection(*(set(s) for s in scores))
        per_band[role] = {name: np.stack([s[name] for s in scores]) for name in sorted(common)}
        if niqe_model is not None and "niqe" not in common:
            found.notes.append(
                f"NIQE skipped for the {role} set: images smaller than {options.niqe_patch_size} px"
            )
    for name in sorted(set(per_band["real"]) & set(per_band["synthetic"])):
        for role in ROLES:
            found.metrics[f"{name}_{role}"] = metric(name, float(np.nanmean(per_band[role][name])))
    positions = _band_positions(real, synthetic)
    found.sections["per_band"] = {
        role: {
            "positions": None if x is None else x.tolist(),
            **{
                name: {"mean": np.nanmean(v, 0).tolist(), "std": np.nanstd(v, 0).tolist()}
                for name, v in per_band[role].items()
            },
        }
        for role, x in zip(ROLES, positions, strict=True)
    }
    if per_band["real"]:
        found.figures["band_quality"] = partial(
            plots.plot_band_quality, per_band["real"], per_band["synthetic"], positions=positions
        )
    return found


def _band_positions(
    real: SampleSet, synthetic: SampleSet
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Where each set's bands sit on a wavelength axis (photos: sRGB dominant wavelengths).

    None for both when either set has no wavelengths: curves are then drawn by band index.
    """
    positions = [
        np.array(SRGB_DOMINANT_NM) if s.kind == "rgb" else s.wavelengths_nm
        for s in (real, synthetic)
    ]
    if any(x is None for x in positions):
        return None, None
    return positions[0], positions[1]


def _subset(images: list[np.ndarray], limit: int, rng: np.random.Generator) -> list[np.ndarray]:
    if len(images) <= limit:
        return images
    return [images[i] for i in np.sort(rng.choice(len(images), size=limit, replace=False))]


def _load_optional(loader: Callable[[], T], label: str, notes: list[str]) -> T | None:
    try:
        return loader()
    except (DataNotFoundError, DataFormatError) as err:
        notes.append(f"{label} skipped: {err}")
        return None


# ------------------------------------------------------------------------------- abundances


def abundance_findings(
    real_maps: Sequence[np.ndarray] | None,
    synthetic_maps: Sequence[np.ndarray] | None,
    options: EvaluationOptions,
) -> Findings:
    """Abundance histogram, power-spectrum, edge and spread distances (maps of both sets)."""
    found = Findings()
    if real_maps is None or synthetic_maps is None:
        found.notes.append("abundance statistics skipped: no abundances given for both sets")
        return found
    real_px, synth_px = (
        spectral.sample_pixels(maps, max_pixels=options.max_pixels, seed=options.seed)
        for maps in (real_maps, synthetic_maps)
    )
    hist = spectral.abundance_histogram_distances(real_px, synth_px)
    psd = spectral.power_spectrum_distances(real_maps, synthetic_maps)
    found.metrics["abundance_hist_w1"] = metric(
        "abundance_hist_w1", float(hist.mean()), per_endmember=hist.tolist()
    )
    found.metrics["abundance_psd_log_mad"] = metric(
        "abundance_psd_log_mad", float(psd.mean()), per_endmember=psd.tolist(), unit="decades"
    )
    gaps = (
        ("abundance_edge_coherence_gap", spectral.edge_coherence),
        ("abundance_composition_spread_gap", spectral.composition_spread),
    )
    for name, measure in gaps:  # one figure per set; the metric is their gap, both kept
        values = {"real": measure(real_maps), "synthetic": measure(synthetic_maps)}
        found.metrics[name] = metric(name, abs(values["synthetic"] - values["real"]), **values)
    found.figures["abundance_power_spectra"] = partial(
        _plot_power_spectra, real_maps, synthetic_maps
    )
    found.histograms.update(
        {
            f"abundance, endmember {j + 1}": (real_px[:, j], synth_px[:, j])
            for j in range(real_px.shape[1])
        }
    )
    return found


def _plot_power_spectra(
    real_maps: Sequence[np.ndarray], synthetic_maps: Sequence[np.ndarray], path: Path
) -> Path:
    n_bins = spectral.common_bin_count(real_maps, synthetic_maps)
    freqs, real_psd = spectral.radial_power_spectrum(real_maps, n_bins=n_bins)
    _, synth_psd = spectral.radial_power_spectrum(synthetic_maps, n_bins=n_bins)
    return plots.plot_power_spectra(freqs, real_psd, synth_psd, path)


# ------------------------------------------------------------------------------- novelty


def novelty_findings(
    synthetic_maps: Sequence[np.ndarray] | None,
    training_maps: novelty.Maps | None,
    options: EvaluationOptions,
    *,
    source_maps: Sequence[np.ndarray] | None = None,
) -> Findings:
    """How far the samples are from the maps the generator trained on, against real scenes."""
    found = Findings()
    if synthetic_maps is None or training_maps is None:
        found.notes.append(
            "novelty skipped: it needs the synthetic abundances and the training abundances"
        )
        return found
    summary = novelty.novelty_summary(
        synthetic_maps, training_maps, sources=source_maps, seed=options.seed
    )
    nearest, reference = summary["nearest_training"], summary["real_to_real"]
    found.metrics["novelty_nearest_train"] = metric(
        "novelty_nearest_train",
        summary["nearest_training_relative"],
        median=nearest["median"],
        real_to_real_median=reference["median"],
    )
    found.metrics["memorisation_rate"] = metric(
        "memorisation_rate",
        summary["memorisation_rate"],
        memorised=len(summary["memorised"]),
        threshold=summary["memorisation_threshold"],
        expected_for_real=summary["memorisation_quantile"],
    )
    if "source" in summary:
        found.metrics["novelty_source"] = metric(
            "novelty_source", summary["source"]["relative"], median=summary["source"]["median"]
        )
    smallest = min(min(np.shape(m)[:2]) for m in (*synthetic_maps, training_maps[0]))
    if smallest >= 2 * novelty.LOCAL_TILE:  # at least four tiles a map
        local = novelty.local_novelty(synthetic_maps, training_maps, seed=options.seed)
        found.metrics["local_copy_share"] = metric(
            "local_copy_share",
            local["copied_share"],
            tile=local["tile"],
            tiles=local["n_tiles"],
            threshold=local["threshold"],
            expected_for_real=novelty.MEMORISATION_QUANTILE,
        )
        summary["local"] = local
    if summary["nearest_training_relative"] is None:
        found.notes.append("novelty: training maps have duplicates, so no relative distance")
    found.sections["novelty"] = summary
    distances = summary["distances"]
    found.figures[NOVELTY_PLOT] = partial(
        plots.plot_novelty,
        np.array(distances["real_to_real"]),
        np.array(distances["nearest_training"]),
        summary["memorisation_threshold"],
        to_source=np.array(distances["source"]) if "source" in distances else None,
    )
    return found
