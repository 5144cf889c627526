"""Compare a real and a synthetic set with every applicable metric; write JSON and plots.

:func:`evaluate_sets` is the one entry point (the ``msfdiff evaluate`` command is a thin
wrapper). Which metrics apply depends on what the sets are:

- always: FID, KID, precision and recall on RGB images (HSIs rendered by :func:`render_rgb`);
- both sets HSIs with the same bands: spectral Fréchet distance and spectral-angle distance;
- per band (per channel for RGB photos): NIQE, PIQE, BRISQUE curves and their means;
- abundances given for both sets: per-endmember histogram and power-spectrum distances.

Every number in the JSON carries ``better`` (``lower``/``higher``) and ``definition`` (the
heading key in docs/metrics.md, repeated in the JSON's ``definitions``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from msfdiff._io import check_new, write_json
from msfdiff._version import __version__
from msfdiff.data.bands import BandSelector, parse_band_selector, srgb_encode
from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.evaluation import no_reference, plots, spectral
from msfdiff.evaluation.generative import (
    frechet_feature_distance,
    kernel_distance,
    precision_recall,
)
from msfdiff.evaluation.inception import WEIGHTS_PACKAGE, WEIGHTS_VERSION, InceptionFeatures
from msfdiff.evaluation.inception import inception_features as compute_inception_features

T = TypeVar("T")
Progress = Callable[[Iterable[T], int, str], Iterable[T]]

DEFAULT_RENDERING = "camera:cie1931+srgb"
STRETCH_PERCENTILES = (1.0, 99.0)
INCEPTION_BATCH = 16
# Dominant wavelengths of the sRGB (Rec. 709) primaries, R, G, B: where a photo's channels are
# placed on the wavelength axis of the per-band quality plot.
SRGB_DOMINANT_NM = (611.3, 549.1, 464.3)
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
HSI_ONLY_SUFFIXES = frozenset({".mat", ".npy", ".npz", ".hdr"})
HSI_SUFFIXES = HSI_ONLY_SUFFIXES | {".tif", ".tiff"}
PLOT_FILES = {
    "band_quality": "band_quality.png",
    "spectra": "spectra.png",
    "histograms": "histograms.png",
    "abundance_power_spectra": "abundance_power_spectra.png",
}

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
}
_BETTER = {"precision": "higher", "recall": "higher"}


@dataclass(frozen=True)
class SampleSet:
    """A set of images to evaluate: HSIs (with wavelengths) or RGB photos.

    Attributes
    ----------
    images : list of ndarray of shape (height, width, n_channels)
        Same channel count throughout; sizes may differ. RGB photos are floats in [0, 1].
    kind : {'hsi', 'rgb'}
    wavelengths_nm : ndarray of shape (n_channels,) or None
        Band centres of HSIs; needed to pick false-colour bands.
    name : str
        Shown in reports (usually the folder).
    """

    images: list[np.ndarray]
    kind: str
    wavelengths_nm: np.ndarray | None = None
    name: str = ""
    sources: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        where = self.name or "set"
        if self.kind not in ("hsi", "rgb"):
            raise DataFormatError(f"{where}: kind must be 'hsi' or 'rgb', got {self.kind!r}")
        if not self.images:
            raise DataFormatError(f"{where}: no images")
        channels = {image.shape[-1] for image in self.images}
        if any(image.ndim != 3 for image in self.images) or len(channels) != 1:
            raise DataFormatError(f"{where}: images must all be (height, width, C) with one C")
        if self.kind == "rgb" and channels != {3}:
            raise DataFormatError(f"{where}: RGB photos need 3 channels, got {channels.pop()}")
        if self.wavelengths_nm is not None and len(self.wavelengths_nm) != self.n_channels:
            raise DataFormatError(
                f"{where}: {len(self.wavelengths_nm)} wavelengths for {self.n_channels} bands"
            )

    @property
    def n_channels(self) -> int:
        return int(self.images[0].shape[-1])

    def describe(self) -> dict[str, Any]:
        shapes = sorted({image.shape[:2] for image in self.images})
        return {
            "name": self.name,
            "kind": self.kind,
            "n_images": len(self.images),
            "n_channels": self.n_channels,
            "image_sizes": [list(s) for s in shapes],
            "wavelengths_nm": None if self.wavelengths_nm is None else self.wavelengths_nm.tolist(),
        }


def load_set(
    paths: Sequence[str | os.PathLike],
    *,
    kind: str = "auto",
    wavelengths_nm: np.ndarray | None = None,
    key: str | None = None,
    photo_size: int | None = None,
    max_images: int | None = None,
    seed: int = 0,
) -> SampleSet:
    """Read files and folders into a :class:`SampleSet`.

    Parameters
    ----------
    paths : sequence of path-like
        Files or folders. A folder holding ``.mat``, ``.npy``, ``.npz`` or ENVI ``.hdr``
        files is an HSI folder (those files plus TIFFs, not recursive); any other folder is
        searched recursively for photos (the AID class-folder layout works).
    kind : {'auto', 'hsi', 'rgb'}
        Force the reading, e.g. ``'hsi'`` for a folder of multi-band TIFFs.
    wavelengths_nm : ndarray of shape (n_bands,), optional
        For HSI files that store none.
    key : str, optional
        Variable name inside ``.mat``/``.npz`` files.
    photo_size : int, optional
        Centre-crop and resize photos to this square size.
    max_images : int, optional
        Read only this many files, a seeded random choice (a full synthetic run can hold
        thousands of cubes).
    """
    from msfdiff.data.readers import read_hsi_many
    from msfdiff.data.rgb import list_photos, read_photo

    if kind not in ("auto", "hsi", "rgb"):
        raise DataFormatError(f"unknown set kind {kind!r}; use auto, hsi or rgb")
    hsi_files: list[Path] = []
    photo_files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise DataNotFoundError(f"{path}: no such file or folder")
        if path.is_file():
            is_photo = kind == "rgb" or (kind == "auto" and path.suffix.lower() in PHOTO_SUFFIXES)
            (photo_files if is_photo else hsi_files).append(path)
            continue
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if kind == "hsi" or (
            kind == "auto" and any(f.suffix.lower() in HSI_ONLY_SUFFIXES for f in files)
        ):
            # a sample's abundance map sits beside its HSI (msfdiff sample): not an HSI
            hsi_files += [
                f
                for f in files
                if f.suffix.lower() in HSI_SUFFIXES and not f.name.endswith("_abundance.npy")
            ]
        else:
            photo_files += [photo.path for photo in list_photos(path)]
    name = ", ".join(os.fspath(p) for p in paths)
    if photo_files and hsi_files:
        raise DataFormatError(f"{name}: mixes photos and hyperspectral files; give them separately")
    files = photo_files or hsi_files
    if not files:
        raise DataNotFoundError(f"{name}: no images found")
    if max_images is not None and len(files) > max_images:
        rng = np.random.default_rng(seed)
        files = [files[i] for i in np.sort(rng.choice(len(files), size=max_images, replace=False))]
    if photo_files:
        images = [read_photo(f, size=photo_size) for f in files]
        return SampleSet(images, "rgb", None, name, tuple(map(str, files)))
    cubes = read_hsi_many(files, key=key, wavelengths=wavelengths_nm)
    images = [np.asarray(c.data, dtype=np.float32) for c in cubes]
    return SampleSet(images, "hsi", cubes[0].wavelengths_nm, name, tuple(c.source for c in cubes))


def render_rgb(
    cube: np.ndarray,
    wavelengths_nm: np.ndarray | None,
    *,
    selector: BandSelector,
    percentiles: tuple[float, float] = STRETCH_PERCENTILES,
) -> np.ndarray:
    """An RGB image of an HSI for Inception: rendered, robustly stretched, then encoded.

    The cube goes through the selector's linear rendering (CIE 1931 under D65 by default, or
    nearest bands), the three channels are stretched together (colour balance survives) from
    their joint 1st to 99th percentile to [0, 1] per image, like a camera's auto-exposure, and
    finally sRGB-encoded if the selector asks for it, as photos are. Brightness differences
    between sets therefore do not reach Inception; colour and texture do.

    Returns
    -------
    ndarray of shape (height, width, 3), float32 in [0, 1]
    """
    linear = replace(selector, encoding="linear").hsi_to_rgb(cube, wavelengths_nm=wavelengths_nm)
    lo, hi = np.percentile(linear, percentiles)
    stretched = np.clip((linear - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(linear)
    return srgb_encode(stretched) if selector.encoding == "srgb" else stretched.astype(np.float32)


def renderings(sample_set: SampleSet, *, selector: BandSelector) -> Iterator[np.ndarray]:
    """The RGB images Inception sees for a set (photos as they are, HSIs via :func:`render_rgb`)."""
    if sample_set.kind == "rgb":
        yield from (np.clip(image, 0, 1) for image in sample_set.images)
        return
    for cube in sample_set.images:
        yield render_rgb(cube, sample_set.wavelengths_nm, selector=selector)


def _metric(key: str, value: float | None, **extra: Any) -> dict[str, Any]:
    return {
        "value": value,
        "better": _BETTER.get(key, "lower"),
        "definition": key,
        **extra,
    }


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _no_progress(iterable: Iterable[T], total: int, description: str) -> Iterable[T]:
    return iterable


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


def evaluate_sets(
    real: SampleSet,
    synthetic: SampleSet,
    *,
    json_path: str | os.PathLike | None = None,
    plots_dir: str | os.PathLike | None = None,
    force: bool = False,
    real_abundances: Sequence[np.ndarray] | None = None,
    synthetic_abundances: Sequence[np.ndarray] | None = None,
    generative: bool = True,
    quality: bool = True,
    inception: InceptionFeatures | None = None,
    rendering: str | BandSelector = DEFAULT_RENDERING,
    k: int = 3,
    pca_components: int = 10,
    niqe_patch_size: int = 96,
    max_quality_images: int = 32,
    max_pixels: int = 100_000,
    seed: int = 0,
    progress: Progress = _no_progress,
) -> dict[str, Any]:
    """Compute every applicable metric between two sets; optionally write JSON and plots.

    Parameters
    ----------
    real, synthetic : SampleSet
    json_path : path-like, optional
        Where to write the report (atomically; refused if it exists unless ``force``).
    plots_dir : path-like, optional
        Folder for the PNG figures (``band_quality.png``, ``spectra.png``, ``histograms.png``,
        ``abundance_power_spectra.png``, as applicable).
    real_abundances, synthetic_abundances : sequence of ndarray of shape (H, W, n_endmembers)
        Abundances inferred from the real set and those sampled for the synthetic one.
    generative, quality : bool
        Turn off FID/KID/precision/recall (the slow, network-based part) or per-band quality.
    inception : InceptionFeatures, optional
        A loaded feature network (else located with ``find_inception_weights``).
        ~0.14 s per image on a 2-core CPU.
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
    progress : callable, optional
        ``progress(iterable, total, description)`` wrapping long loops (the CLI's bar).

    Returns
    -------
    dict
        The report, as written to ``json_path``.
    """
    json_path = None if json_path is None else check_new(json_path, force=force)
    plots_dir = None if plots_dir is None else Path(plots_dir)
    if plots_dir is not None:
        for name in PLOT_FILES.values():
            check_new(plots_dir / name, force=force)
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    real, synthetic = _share_wavelengths(real, synthetic, notes)
    metrics: dict[str, Any] = {}
    report: dict[str, Any] = {
        "msfdiff_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "sets": {"real": real.describe(), "synthetic": synthetic.describe()},
        "settings": {
            "k": k,
            "pca_components": pca_components,
            "niqe_patch_size": niqe_patch_size,
            "max_quality_images": max_quality_images,
            "max_pixels": max_pixels,
            "seed": seed,
        },
        "metrics": metrics,
        "definitions": DEFINITIONS,
        "notes": notes,
    }
    figures: dict[str, Path] = {}
    hist_pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    if generative:
        selector = (
            rendering if isinstance(rendering, BandSelector) else parse_band_selector(rendering)
        )
        report["feature_network"] = _generative(
            real, synthetic, metrics, notes, inception, selector, k, seed, progress
        )

    if real.kind == synthetic.kind == "hsi" and _same_bands(real, synthetic):
        hist_pairs = _spectral(
            real, synthetic, metrics, pca_components, max_pixels, seed, plots_dir, figures
        )
    else:
        notes.append("spectral distances skipped: they need two HSI sets with the same bands")

    if quality:
        per_band = _quality(
            real, synthetic, metrics, notes, niqe_patch_size, max_quality_images, rng, progress
        )
        positions = _band_positions(real, synthetic)
        report["per_band"] = {
            role: {
                "positions": None if x is None else x.tolist(),
                **{
                    name: {"mean": np.nanmean(v, 0).tolist(), "std": np.nanstd(v, 0).tolist()}
                    for name, v in per_band[role].items()
                },
            }
            for role, x in zip(("real", "synthetic"), positions, strict=True)
        }
        if plots_dir is not None and per_band["real"]:
            figures["band_quality"] = plots.plot_band_quality(
                per_band["real"],
                per_band["synthetic"],
                plots_dir / PLOT_FILES["band_quality"],
                positions=positions,
            )

    if real_abundances is not None and synthetic_abundances is not None:
        hist_pairs.update(
            _abundances(
                real_abundances, synthetic_abundances, report, max_pixels, seed, plots_dir, figures
            )
        )
    else:
        notes.append("abundance statistics skipped: no abundances given for both sets")

    if plots_dir is not None and hist_pairs:
        figures["histograms"] = plots.plot_histograms(
            hist_pairs, plots_dir / PLOT_FILES["histograms"]
        )
    report["plots"] = {name: str(path) for name, path in figures.items()}
    if json_path is not None:
        write_json(json_path, report)
    return report


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


def _same_bands(a: SampleSet, b: SampleSet) -> bool:
    if a.n_channels != b.n_channels:
        return False
    if a.wavelengths_nm is None or b.wavelengths_nm is None:
        return True
    return bool(np.allclose(a.wavelengths_nm, b.wavelengths_nm, atol=1e-3))


def _share_wavelengths(
    real: SampleSet, synthetic: SampleSet, notes: list[str]
) -> tuple[SampleSet, SampleSet]:
    """Give an HSI set without wavelengths those of the other set when the band counts match.

    Typical case: real ``.mat`` patches that store none against synthetic ENVI files that do.
    """
    if real.kind != "hsi" or synthetic.kind != "hsi" or real.n_channels != synthetic.n_channels:
        return real, synthetic
    if real.wavelengths_nm is None and synthetic.wavelengths_nm is not None:
        notes.append("the real set stores no wavelengths; those of the synthetic set were used")
        return replace(real, wavelengths_nm=synthetic.wavelengths_nm), synthetic
    if synthetic.wavelengths_nm is None and real.wavelengths_nm is not None:
        notes.append("the synthetic set stores no wavelengths; those of the real set were used")
        return real, replace(synthetic, wavelengths_nm=real.wavelengths_nm)
    return real, synthetic


def _generative(
    real: SampleSet,
    synthetic: SampleSet,
    metrics: dict[str, Any],
    notes: list[str],
    inception: InceptionFeatures | None,
    selector: BandSelector,
    k: int,
    seed: int,
    progress: Progress,
) -> dict[str, Any]:
    """FID, KID, precision, recall; returns the network's provenance and measured cost."""
    model = inception if inception is not None else InceptionFeatures()
    start = time.perf_counter()
    feats = {}
    for role, sample_set in (("real", real), ("synthetic", synthetic)):
        batches = _batched(renderings(sample_set, selector=selector), INCEPTION_BATCH)
        n_batches = -(-len(sample_set.images) // INCEPTION_BATCH)
        description = f"Inception, {role} (batches of {INCEPTION_BATCH})"
        feats[role] = np.concatenate(
            [
                compute_inception_features(batch, model=model, batch_size=INCEPTION_BATCH)
                for batch in progress(batches, n_batches, description)
            ]
        )
    n_images = len(real.images) + len(synthetic.images)
    seconds = time.perf_counter() - start
    x, y = feats["real"], feats["synthetic"]
    n_min = min(len(x), len(y))
    if n_min >= 2:
        metrics["fid"] = _metric("fid", frechet_feature_distance(x, y))
        kid_mean, kid_std = kernel_distance(x, y, seed=seed)
        metrics["kid"] = _metric("kid", kid_mean, std=kid_std)
    else:
        notes.append("FID and KID skipped: they need at least 2 images per set")
    if n_min > k:
        precision, recall = precision_recall(x, y, k=k)
        metrics["precision"] = _metric("precision", precision)
        metrics["recall"] = _metric("recall", recall)
    else:
        notes.append(f"precision/recall skipped: they need more than k={k} images per set")
    if n_min < 50:
        notes.append(
            f"only {n_min} images in the smaller set: FID is biased upwards at small sizes; "
            "compare it only between runs of equal size (KID is unbiased)"
        )
    return {
        "package": f"{WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}",
        "path": str(model.weights_path),
        "sha1": model.weights_sha1,
        "hsi_rendering": f"{selector.spec}, joint per-image {STRETCH_PERCENTILES[0]:g}-"
        f"{STRETCH_PERCENTILES[1]:g} percentile stretch before encoding",
        "seconds_per_image": seconds / n_images,
    }


def _spectral(
    real: SampleSet,
    synthetic: SampleSet,
    metrics: dict[str, Any],
    pca_components: int,
    max_pixels: int,
    seed: int,
    plots_dir: Path | None,
    figures: dict[str, Path],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Spectral Fréchet and angle distances; returns the angle histograms to plot."""
    real_px = spectral.sample_pixels(real.images, max_pixels=max_pixels, seed=seed)
    synth_px = spectral.sample_pixels(synthetic.images, max_pixels=max_pixels, seed=seed)
    metrics["spectral_fd"] = _metric(
        "spectral_fd",
        spectral.spectral_frechet_distance(real_px, synth_px, n_components=pca_components),
    )
    metrics["spectral_angle_w1"] = _metric(
        "spectral_angle_w1", spectral.spectral_angle_distance(real_px, synth_px), unit="deg"
    )
    if plots_dir is not None:
        figures["spectra"] = plots.plot_spectra(
            real_px, synth_px, plots_dir / PLOT_FILES["spectra"], wavelengths_nm=real.wavelengths_nm
        )
    reference = real_px.mean(axis=0)
    return {
        "spectral angle to real mean (deg)": (
            spectral.spectral_angles_to(real_px, reference),
            spectral.spectral_angles_to(synth_px, reference),
        )
    }


def _quality(
    real: SampleSet,
    synthetic: SampleSet,
    metrics: dict[str, Any],
    notes: list[str],
    niqe_patch_size: int,
    max_images: int,
    rng: np.random.Generator,
    progress: Progress,
) -> dict[str, dict[str, np.ndarray]]:
    """Per-band NIQE/PIQE/BRISQUE for both sets; their means go into ``metrics``."""
    niqe_model = _load_optional(no_reference.load_niqe_model, "NIQE", notes)
    brisque_model = _load_optional(no_reference.load_brisque_model, "BRISQUE", notes)
    per_band: dict[str, dict[str, np.ndarray]] = {}
    for role, sample_set in (("real", real), ("synthetic", synthetic)):
        chosen = _subset(sample_set.images, max_images, rng)
        scores = [
            no_reference.per_band_quality(
                image,
                niqe_model=niqe_model,
                brisque_model=brisque_model,
                niqe_patch_size=niqe_patch_size,
            )
            for image in progress(chosen, len(chosen), f"band quality ({role})")
        ]
        common = set.intersection(*(set(s) for s in scores))
        per_band[role] = {name: np.stack([s[name] for s in scores]) for name in sorted(common)}
        if niqe_model is not None and "niqe" not in common:
            notes.append(
                f"NIQE skipped for the {role} set: images smaller than {niqe_patch_size} px"
            )
    for name in sorted(set(per_band["real"]) & set(per_band["synthetic"])):
        for role in ("real", "synthetic"):
            metrics[f"{name}_{role}"] = _metric(name, float(np.nanmean(per_band[role][name])))
    return per_band


def _abundances(
    real_maps: Sequence[np.ndarray],
    synthetic_maps: Sequence[np.ndarray],
    report: dict[str, Any],
    max_pixels: int,
    seed: int,
    plots_dir: Path | None,
    figures: dict[str, Path],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Abundance histogram, power-spectrum, edge and spread distances; returns histogram panels."""
    real_px = spectral.sample_pixels(real_maps, max_pixels=max_pixels, seed=seed)
    synth_px = spectral.sample_pixels(synthetic_maps, max_pixels=max_pixels, seed=seed)
    hist = spectral.abundance_histogram_distances(real_px, synth_px)
    psd = spectral.power_spectrum_distances(real_maps, synthetic_maps)
    metrics = report["metrics"]
    metrics["abundance_hist_w1"] = _metric(
        "abundance_hist_w1", float(hist.mean()), per_endmember=hist.tolist()
    )
    metrics["abundance_psd_log_mad"] = _metric(
        "abundance_psd_log_mad", float(psd.mean()), per_endmember=psd.tolist(), unit="decades"
    )
    gaps = (
        ("abundance_edge_coherence_gap", spectral.edge_coherence),
        ("abundance_composition_spread_gap", spectral.composition_spread),
    )
    for name, measure in gaps:  # one figure per set; the metric is their gap, both kept
        values = {"real": measure(real_maps), "synthetic": measure(synthetic_maps)}
        metrics[name] = _metric(name, abs(values["synthetic"] - values["real"]), **values)
    if plots_dir is not None:
        n_bins = spectral.common_bin_count(real_maps, synthetic_maps)
        freqs, real_psd = spectral.radial_power_spectrum(real_maps, n_bins=n_bins)
        _, synth_psd = spectral.radial_power_spectrum(synthetic_maps, n_bins=n_bins)
        figures["abundance_power_spectra"] = plots.plot_power_spectra(
            freqs, real_psd, synth_psd, plots_dir / PLOT_FILES["abundance_power_spectra"]
        )
    return {
        f"abundance, endmember {j + 1}": (real_px[:, j], synth_px[:, j])
        for j in range(real_px.shape[1])
    }
