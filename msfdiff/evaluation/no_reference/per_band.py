"""No-reference quality of every band of a cube (paper Fig. 12)."""

from __future__ import annotations

import numpy as np

from msfdiff.evaluation.no_reference.brisque import brisque
from msfdiff.evaluation.no_reference.models import BrisqueModel, NiqeModel
from msfdiff.evaluation.no_reference.niqe import niqe
from msfdiff.evaluation.no_reference.nss import band_to_gray
from msfdiff.evaluation.no_reference.piqe import piqe


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
