"""What a comparison hands each row to learn from, and how every row is scored alike.

Training data by :attr:`~msfdiff.generator.Generator.fit_data`: the training photos'
abundance maps; the same maps fused with the endmembers (and the unmixer's noise) into
HSIs, so cube- and latent-space diffusion see exactly the information abundance diffusion
sees; or real HSIs with their 3-channel inputs plus the training photos (MST++).

Scoring: a row's HSIs against real HSI crops (spectral metrics) and, rendered to RGB,
against the held-out photos (FID, KID, precision, recall); its abundance maps against the
held-out photos' maps (histograms, power spectra, edge coherence, composition spread) and
the training maps (novelty). Rows that output HSIs get their maps by fully constrained
least squares on the same endmembers, so every row is measured in the same space.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from msfdiff.errors import DataFormatError
from msfdiff.layout import RunLayout, sample_abundance_paths

CROP_STRIDE_DIVISOR = 4

if TYPE_CHECKING:
    from msfdiff.evaluation.sets import SampleSet
    from msfdiff.generator import Generator
    from msfdiff.pipeline.config import ExperimentConfig
    from msfdiff.unmixing import SceneUnmixer


def training_data(
    kind: str,
    unmixer_run: Path,
    unmixer: SceneUnmixer,
    experiment: ExperimentConfig,
    photos: Path,
    *,
    seed: int,
):
    """The data set a generator of ``fit_data`` kind trains on (see the module docstring):
    ``photos`` is the folder of training photos, ``seed`` seeds the fusion noise."""
    from msfdiff.data.abundances import load_abundance_dataset

    abundances = load_abundance_dataset(RunLayout(unmixer_run).abundances)
    if kind == "abundances":
        return abundances
    if kind == "cubes":
        return fused_cubes(abundances, unmixer, seed=seed)
    if kind == "spectral_pairs":
        return spectral_pairs(experiment, unmixer, photos)
    raise DataFormatError(f"unknown fit_data {kind!r}")


def fused_cubes(abundances, unmixer: SceneUnmixer, *, seed: int):
    """Every training map fused into an HSI, as the abundance rows' samples are fused."""
    from msfdiff.data.maps import MapDataset
    from msfdiff.fusion import fuse

    endmembers = np.asarray(unmixer.endmembers_)
    cubes = np.empty((*abundances.array.shape[:3], endmembers.shape[1]), dtype=np.float32)
    for i in range(len(abundances)):
        rng = np.random.default_rng([seed, i])
        maps = np.asarray(abundances.array[i], dtype=np.float32)
        cubes[i] = fuse(endmembers, maps, noise_std=unmixer.noise_std_, rng=rng)
    return MapDataset(
        cubes, abundances.labels, name="fused training maps", wavelengths_nm=unmixer.wavelengths_
    )


def _training_cubes(experiment: ExperimentConfig, paths) -> list:
    from msfdiff.data.readers import read_hsi_collection

    d = experiment.data
    return read_hsi_collection(paths, key=d.key, wavelengths=d.wavelengths, scale=d.scale)


def spectral_pairs(experiment: ExperimentConfig, unmixer: SceneUnmixer, photo_folder: Path):
    """Real training HSIs (cut to their common size), their 3-channel inputs, and the
    training photos in the same 3-channel space (one brightness gain for the collection)."""
    from msfdiff.baselines.mstpp import SpectralPairs
    from msfdiff.data.rgb import list_photos, read_photo

    cubes = _training_cubes(experiment, experiment.data.hsi)
    h = min(c.data.shape[0] for c in cubes)
    w = min(c.data.shape[1] for c in cubes)
    targets = np.stack([np.asarray(c.data[:h, :w], dtype=np.float32) for c in cubes])
    inputs = np.stack([unmixer.rgb_from_hsi(c)[:h, :w] for c in cubes]).astype(np.float32)
    size, crop = experiment.inference.size, experiment.inference.crop
    photos = list_photos(photo_folder)
    images = np.stack([read_photo(p.path, size=size, crop=crop) for p in photos])
    gain = unmixer.photo_gain(list(images[:: max(1, len(images) // 64)]))
    return SpectralPairs(
        inputs=inputs,
        targets=targets,
        photos=unmixer.rgb_from_photo(images, gain=gain).astype(np.float32),
        wavelengths_nm=np.asarray(unmixer.wavelengths_),
        photo_labels=tuple(p.label for p in photos),
    )


def real_hsi_crops(experiment: ExperimentConfig, *, size: int, n: int, seed: int) -> SampleSet:
    """Up to ``n`` ``size``² crops (a seeded choice) of the experiment's HSIs on a grid of
    stride ``size // 4``: overlapping, because a few small patches (two 128² Chikusei
    patches) hold only a handful of disjoint tiles; spectral statistics pool the pixels."""
    from msfdiff.evaluation.sets import SampleSet

    d = experiment.data
    cubes = _training_cubes(experiment, [*d.hsi, *d.eval_hsi])
    stride = max(1, size // CROP_STRIDE_DIVISOR)
    tiles = [
        (i, r, c)
        for i, cube in enumerate(cubes)
        for r in range(0, cube.data.shape[0] - size + 1, stride)
        for c in range(0, cube.data.shape[1] - size + 1, stride)
    ]
    if len(tiles) < 2:
        raise DataFormatError(
            f"{cubes[0].source}: the HSIs hold {len(tiles)} crop(s) of {size}x{size}; "
            "the spectral reference needs at least 2"
        )
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(tiles), size=min(n, len(tiles)), replace=False))
    images = [
        np.asarray(cubes[i].data[r : r + size, c : c + size], dtype=np.float32)
        for i, r, c in (tiles[j] for j in chosen)
    ]
    name = f"real HSI crops ({len(images)} of {size}x{size}, stride {stride})"
    return SampleSet(images, "hsi", cubes[0].wavelengths_nm, name)


def held_out_reconstruction(generator: Generator, experiment: ExperimentConfig) -> dict | None:
    """Paper Fig. 7: a generator with its own autoencoder (``reconstruct``) rebuilds the
    held-out HSIs, to set beside the scene-based unmixer's reconstruction of them."""
    from msfdiff.evaluation.reconstruction import reconstruction_metrics

    reconstruct = getattr(generator, "reconstruct", None)
    if reconstruct is None or not experiment.data.eval_hsi:
        return None
    found = [
        reconstruction_metrics(reconstruct(np.asarray(c.data, dtype=np.float32)[None])[0], c.data)
        for c in _training_cubes(experiment, experiment.data.eval_hsi)
    ]
    return {key: float(np.mean([f[key] for f in found])) for key in ("psnr", "sad_deg")}


def sample_maps(
    generator: Generator, samples: Path, synthetic: SampleSet, unmixer: SceneUnmixer
) -> list[np.ndarray]:
    """A row's abundance maps: its own, or FCLS of its HSIs on the unmixer's endmembers."""
    from msfdiff.unmixing.endmembers import fcls

    if generator.output_space == "abundances":
        return [np.load(p) for p in sample_abundance_paths(samples)]
    endmembers = np.asarray(unmixer.endmembers_, dtype=np.float64)
    return [
        fcls(endmembers, cube.reshape(-1, cube.shape[-1])).reshape(*cube.shape[:2], -1)
        for cube in synthetic.images
    ]
