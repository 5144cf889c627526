"""PIQE (Venkatanath et al. 2015): the share of blocks showing blocking or noise; model-free."""

from __future__ import annotations

import numpy as np

from msfdiff.errors import DataFormatError
from msfdiff.evaluation.no_reference.nss import mscn, split_blocks

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
    blocks = split_blocks(mscn(np.round(255 * image / peak)), _PIQE_BLOCK)
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
