"""Report figures that :mod:`msfdiff.plotting` does not have.

Only one so far: abundance maps next to the picture they belong to, on one shared colour
scale, so inferred (photo) and synthetic (diffusion) rows can be compared at a glance.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from msfdiff.plotting import save_figure, subplots


def plot_abundance_rows(
    images: Sequence[np.ndarray | None],
    abundances: Sequence[np.ndarray],
    path: str | os.PathLike,
    *,
    row_labels: Sequence[str],
    cmap: str = "viridis",
) -> Path:
    """One row per image: the picture, then its k abundance maps on a shared 0..1 scale.

    Parameters
    ----------
    images : sequence of (ndarray of shape (H, W, 3) in [0, 1]) or None
        The photo or false-colour rendering of each row; None leaves the panel blank
        (e.g. a photo file that has moved).
    abundances : sequence of ndarray of shape (H, W, k)
        Same k in every row; sizes may differ between rows.
    path : path
        PNG to write (atomically).
    row_labels : sequence of str
        Shown left of each row.

    Returns
    -------
    Path
        ``path``.
    """
    n, k = len(abundances), abundances[0].shape[-1]
    fig, axes = subplots(n, k + 1, figsize=(1.55 * (k + 1) + 0.9, 1.55 * n + 0.35), squeeze=False)
    mappable = None
    for r, (image, abundance) in enumerate(zip(images, abundances, strict=True)):
        if image is not None:
            axes[r, 0].imshow(np.clip(image, 0, 1))
        else:
            axes[r, 0].text(0.5, 0.5, "no picture", ha="center", va="center", fontsize=7)
        axes[r, 0].set_ylabel(row_labels[r], fontsize=7)
        for c in range(k):
            mappable = axes[r, c + 1].imshow(abundance[..., c], cmap=cmap, vmin=0, vmax=1)
    for c, ax in enumerate(axes[0]):
        ax.set_title("picture" if c == 0 else f"E{c}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(mappable, ax=axes, shrink=min(0.9, 3.0 / n), label="abundance", pad=0.02)
    return save_figure(fig, path)
