"""The paper's "GMM" baseline (Table 5): a Gaussian mixture over abundances, with no network.

Abundances live on the simplex; a Gaussian does not. So the mixture is fitted to centred
log-ratios (CLR, :func:`msfdiff.diffusion.simplex.clr`, the space MSF-Diff's own diffusion runs
in) and samples are decoded by softmax (:class:`~msfdiff.diffusion.simplex.SimplexCodec`), which
puts every draw exactly on the simplex. The CLR of k abundances sums to zero, so its
covariance is singular; the mixture is fitted to coordinates in an orthonormal basis of the
space the CLR values span instead, ``clr = clr_mean_ + scores @ components_``:

``mode="pixels"`` (the paper's reading: its Fig. 10(b) shows independent pixels)
    one pixel's k abundances; the basis is the Helmert basis of the k-1 dimensional subspace
    where CLR vectors sum to zero (the isometric log-ratio, Egozcue et al. 2003). Each pixel
    of a sample is an independent draw, so the composition is right and the map is speckle:
    any size can be drawn.
``mode="maps"``
    a whole map's CLR, flattened; the basis is its first principal components (PCA). A draw
    is a whole map, spatially coherent but blurry (a linear model of H*W*k values from a few
    hundred maps); only the training size can be drawn. The variance PCA drops is missing
    from the samples, so their pixels are less pure than the data's and the mean map drifts
    towards the softmax of the mean CLR (measured: 0.02 mean absolute error with 16 of 39
    components, 0.03 with 8).

Folder after ``fit``::

    gmm.json       settings (the constructor's arguments) and facts from the data
    gmm.npz        weights_, means_, covariances_, clr_mean_, components_ (no pickle)
    generator.json written last: the folder is finished
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from msfdiff._io import atomic_write, write_json
from msfdiff.baselines.training import fresh_folder
from msfdiff.diffusion.simplex import SimplexCodec, clr
from msfdiff.errors import ConfigError, DataFormatError, DataNotFoundError, NotFittedError
from msfdiff.generator import GENERATOR_FILE, Generator
from msfdiff.progress import Log, Progress, no_log, no_progress

SETTINGS_NAME = "gmm.json"
ARRAYS_NAME = "gmm.npz"
ARRAYS = ("weights_", "means_", "covariances_", "clr_mean_", "components_")
MODES = ("pixels", "maps")
_SAMPLE_STREAM = 2
"""Samples draw from ``default_rng([seed, _SAMPLE_STREAM, i])``, not ``[seed, i]``: fusion
(:func:`msfdiff.generate.generate_samples`) takes its noise for sample i from that stream."""


class GaussianMixtureAbundances(Generator, BaseEstimator):
    """A Gaussian mixture of CLR abundances, of single pixels or of whole maps.

    A scikit-learn estimator: the constructor only stores its parameters (``get_params`` and
    ``sklearn.base.clone`` work). Unconditional (``classes`` is empty).

    Parameters
    ----------
    mode : {"pixels", "maps"}
        What one Gaussian draw is: a pixel or a whole map (see the module docstring).
    n_components : int
        Mixture components (``covariance_type="full"``).
    pca_components : int
        ``"maps"`` only: principal components kept (at most the number of maps - 1).
    max_pixels : int
        ``"pixels"`` only: the mixture is fitted to a random subsample of this many pixels.
    floor : float
        Added to abundances before the logarithm; also what decoding removes again.
    random_state : int
        Seed of the pixel subsample, the PCA and the mixture's initialisation.

    Attributes
    ----------
    weights_, means_, covariances_ : ndarray
        The mixture, in the basis coordinates (scores): (n_components,), (n_components, d),
        (n_components, d, d).
    clr_mean_ : ndarray of shape (F,)
        CLR of the basis origin; F is k (pixels) or H*W*k (maps).
    components_ : ndarray of shape (d, F)
        Orthonormal rows: the Helmert basis (pixels) or the principal axes (maps).
    facts_ : dict
        What the data told: ``k``, ``height``, ``width``, ``n_maps``, ``n_fitted`` (pixels or
        maps the mixture saw), ``data_classes``, ``lower_bound`` (mean log-likelihood).

    Examples
    --------
    >>> gmm = GaussianMixtureAbundances().fit(dataset, "runs/gmm")  # doctest: +SKIP
    >>> maps = gmm.generate(4, seed=0)                              # (4, H, W, k)
    """

    output_space = "abundances"

    def __init__(
        self,
        mode: Literal["pixels", "maps"] = "pixels",
        *,
        n_components: int = 8,
        pca_components: int = 32,
        max_pixels: int = 200_000,
        floor: float = 1e-3,
        random_state: int = 0,
    ) -> None:
        self.mode = mode
        self.n_components = n_components
        self.pca_components = pca_components
        self.max_pixels = max_pixels
        self.floor = floor
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------

    def fit(
        self,
        dataset: Any,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        force: bool = False,
        progress: Progress | None = None,
        log: Log = no_log,
    ) -> Self:
        """Fit to ``dataset`` (maps (n, H, W, k) on the simplex) and save into ``out_dir``.

        One EM run, in seconds: nothing to checkpoint. ``resume`` on a finished folder loads
        it (with the settings saved there); on an unfinished one it fits afresh.
        """
        out_dir = Path(out_dir)
        if resume and (out_dir / GENERATOR_FILE).is_file():
            self._load(out_dir)
            if any(self.facts_[key] != value for key, value in self._data_facts(dataset).items()):
                raise DataFormatError(
                    f"{out_dir}: was fitted to different data ({self.facts_}); "
                    "fit afresh with --force"
                )
            log(f"{out_dir}: already fitted; loaded it")
            return self
        self._check_settings(dataset)
        fresh_folder(out_dir, force=force or resume)
        report = progress or no_progress
        report(0, 1, "fitting")
        log(f"fitting a {self.n_components}-component GMM of {self.mode} to {len(dataset)} maps")
        scores = self._fit_basis(dataset)
        mixture = GaussianMixture(
            self.n_components, covariance_type="full", random_state=self.random_state
        ).fit(scores)
        self.weights_ = mixture.weights_
        self.means_ = mixture.means_
        self.covariances_ = mixture.covariances_
        self.facts_ = {
            **self._data_facts(dataset),
            "n_maps": len(dataset),
            "n_fitted": len(scores),
            "data_classes": list(dataset.classes),
            "lower_bound": float(mixture.lower_bound_),
        }
        self._save_pretrained(out_dir)
        self.mark_folder(out_dir)
        status = f"log-likelihood {mixture.lower_bound_:.4g}"
        report(1, 1, status)
        log(f"fitted {out_dir}: {status} per {'pixel' if self.mode == 'pixels' else 'map'}")
        return self

    def _check_settings(self, dataset: Any) -> None:
        """Refuse what cannot be fitted before the folder is touched."""
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        for name in ("n_components", "pca_components", "max_pixels"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.floor > 0:
            raise ConfigError(f"floor must be > 0, got {self.floor}")
        if dataset.k < 2:
            raise DataFormatError(f"{dataset.folder}: a GMM of abundances needs k >= 2 endmembers")
        pixels = len(dataset) * dataset.height * dataset.width
        points = len(dataset) if self.mode == "maps" else min(pixels, self.max_pixels)
        needed = max(self.n_components, 2)
        if points < needed:
            raise ConfigError(
                f"{self.n_components} mixture components need at least {needed} {self.mode}, "
                f"got {points}"
            )

    @staticmethod
    def _data_facts(dataset: Any) -> dict[str, int]:
        return {"k": dataset.k, "height": dataset.height, "width": dataset.width}

    def _fit_basis(self, dataset: Any) -> np.ndarray:
        """Set ``clr_mean_`` and ``components_`` from the data; return the scores to fit."""
        rng = np.random.default_rng(self.random_state)
        if self.mode == "pixels":
            pixels = np.asarray(dataset.array).reshape(-1, dataset.k)
            if len(pixels) > self.max_pixels:
                pixels = pixels[np.sort(rng.choice(len(pixels), self.max_pixels, replace=False))]
            values = self._clr(pixels)
            self.clr_mean_ = np.zeros(dataset.k)
            self.components_ = helmert_basis(dataset.k)
            return values @ self.components_.T
        values = self._clr(np.asarray(dataset.array)).reshape(len(dataset), -1)
        pca = PCA(min(self.pca_components, len(dataset) - 1), random_state=self.random_state)
        scores = pca.fit_transform(values)
        self.clr_mean_ = pca.mean_.astype(np.float64)
        self.components_ = pca.components_.astype(np.float64)
        return scores.astype(np.float64)

    def _clr(self, abundances: np.ndarray) -> np.ndarray:
        values = torch.from_numpy(np.asarray(abundances, dtype=np.float64))
        return clr(values, floor=self.floor, dim=-1).numpy()

    # -- sampling ---------------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        return []

    @property
    def n_channels(self) -> int:
        return int(self._fitted()["k"])

    def check_request(
        self, *, class_name: str | None = None, size: int | None = None, **options: Any
    ) -> dict[str, Any]:
        super().check_request(class_name=class_name, size=size, **options)
        height, width = self._shape(size)
        return {"size": height if height == width else [height, width]}

    def _shape(self, size: int | None) -> tuple[int, int]:
        """(H, W) of the maps asked for: the training size, or ``size``² where it can be drawn."""
        facts = self._fitted()
        trained = (int(facts["height"]), int(facts["width"]))
        if size is None:
            return trained
        if size < 1:
            raise ConfigError(f"map size must be >= 1, got {size}")
        if self.mode == "maps" and (size, size) != trained:
            raise ConfigError(
                f"a GMM of whole maps draws only its training size {trained[0]}x{trained[1]}, "
                f"not {size}"
            )
        return size, size

    def sample(
        self,
        indices: Sequence[int],
        *,
        seed: int,
        class_name: str | None = None,
        size: int | None = None,
        **options: Any,
    ) -> np.ndarray:
        """Maps (len(indices), H, W, k) on the simplex; sample i draws only from ``(seed, i)``."""
        super().check_request(class_name=class_name)
        height, width = self._shape(size)
        draws = height * width if self.mode == "pixels" else 1
        cholesky = np.linalg.cholesky(self.covariances_)
        values = np.stack(
            [
                self._draw(np.random.default_rng([seed, _SAMPLE_STREAM, i]), draws, cholesky)
                for i in indices
            ]
        )
        values = values.reshape(len(values), height, width, self.n_channels)
        codec = SimplexCodec("logratio", floor=self.floor, scale=1.0)
        return codec.decode(torch.from_numpy(values), dim=-1).numpy().astype(np.float32)

    def _draw(self, rng: np.random.Generator, count: int, cholesky: np.ndarray) -> np.ndarray:
        """``count`` CLR vectors: a component per draw, then its mean + L z."""
        chosen = rng.choice(len(self.weights_), size=count, p=self.weights_)
        noise = rng.standard_normal((count, self.means_.shape[1]))
        scores = self.means_[chosen] + np.einsum("nij,nj->ni", cholesky[chosen], noise)
        return self.clr_mean_ + scores @ self.components_

    # -- folders ----------------------------------------------------------------

    def _fitted(self) -> dict[str, Any]:
        if not hasattr(self, "facts_"):
            raise NotFittedError(f"{type(self).__name__}: call fit or from_pretrained first")
        return self.facts_

    def _spec(self) -> dict[str, Any]:
        return {"settings": self.get_params(), "facts": self._fitted()}

    def _save_pretrained(self, folder: Path) -> None:
        arrays = {name: getattr(self, name) for name in ARRAYS}

        def write(path: Path) -> None:
            with open(path, "wb") as file:
                np.savez(file, **arrays)

        atomic_write(folder / ARRAYS_NAME, write)
        write_json(folder / SETTINGS_NAME, self._spec())

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> Self:
        return cls()._load(Path(folder))

    def _load(self, folder: Path) -> Self:
        """Take the settings and the fitted arrays saved in ``folder``."""
        paths = (folder / SETTINGS_NAME, folder / ARRAYS_NAME)
        for path in paths:
            if not path.is_file():
                raise DataNotFoundError(f"{folder}: not a fitted GMM ({path.name} missing)")
        try:
            spec = json.loads(paths[0].read_text())
            self.set_params(**spec["settings"])
            facts = dict(spec["facts"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"{paths[0]}: not a GMM's settings ({exc})") from None
        try:
            with np.load(paths[1], allow_pickle=False) as saved:
                arrays = {name: saved[name] for name in ARRAYS}
        except (KeyError, ValueError, OSError) as exc:
            raise DataFormatError(f"{paths[1]}: not a GMM's arrays ({exc})") from None
        for name, value in arrays.items():
            setattr(self, name, value)
        self.facts_ = facts
        return self

    def facts(self) -> dict[str, int | None]:
        """``parameters``: the numbers fitted (mixture, plus the PCA basis of ``"maps"``)."""
        self._fitted()
        d = self.means_.shape[1]
        mixture = self.weights_.size - 1 + self.means_.size + len(self.weights_) * d * (d + 1) // 2
        basis = self.clr_mean_.size + self.components_.size if self.mode == "maps" else 0
        return {"parameters": mixture + basis, "training_steps": None}

    def fingerprint(self) -> str:
        """SHA-256 of the settings, the facts and every fitted array."""
        digest = hashlib.sha256(json.dumps(self._spec(), sort_keys=True).encode())
        for name in ARRAYS:
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(getattr(self, name), dtype=np.float64).tobytes())
        return digest.hexdigest()


def helmert_basis(k: int) -> np.ndarray:
    """(k-1, k) orthonormal rows spanning the vectors that sum to zero (the CLR subspace).

    Row j contrasts part j+1 with the mean of parts 0..j, the classic Helmert contrasts; a
    closed form, so a saved mixture means the same on every machine.
    """
    basis = np.zeros((k - 1, k))
    for j in range(1, k):
        basis[j - 1, :j] = 1.0
        basis[j - 1, j] = -j
        basis[j - 1] /= np.sqrt(j * (j + 1))
    return basis
