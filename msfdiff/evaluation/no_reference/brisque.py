"""BRISQUE (Mittal, Moorthy & Bovik 2012): an RBF support-vector regressor on 36 MSCN statistics.

The regressor is the LIVE-trained model of
:func:`~msfdiff.evaluation.no_reference.models.load_brisque_model`; without it BRISQUE is
skipped.
"""

from __future__ import annotations

import numpy as np
from skimage.transform import rescale

from msfdiff.errors import DataFormatError
from msfdiff.evaluation.no_reference.models import BrisqueModel, load_brisque_model
from msfdiff.evaluation.no_reference.nss import fit_aggd, mscn


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
