"""An in-memory set of maps with the item protocol of
:class:`~msfdiff.data.abundances.AbundanceDataset`, for what is not an abundance map: fused
HSI cubes and autoencoder latents that baselines train on (docs/baselines.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from msfdiff.errors import DataFormatError


class MapDataset(Dataset):
    """Maps (n, H, W, C) and their scene labels; items are ``(tensor (C, H, W), class index)``.

    ``check`` validates shape and values (off for large memory-mapped sets checked elsewhere).
    ``k`` is the channel count (named as on abundance sets so trainers take either), and the
    class index is the label's position in :attr:`classes`, or -1 when unlabelled.
    """

    def __init__(
        self,
        maps: np.ndarray,
        labels: Sequence[str | None] | None = None,
        *,
        name: str = "maps",
        wavelengths_nm: np.ndarray | None = None,
        check: bool = True,
    ) -> None:
        if check:
            _check_maps(maps, name)
        labels = [None] * len(maps) if labels is None else list(labels)
        if len(labels) != len(maps):
            raise DataFormatError(f"{name}: {len(labels)} labels for {len(maps)} maps")
        self.array = maps
        self.folder = Path(name)
        self.labels: list[str | None] = labels
        self.classes: list[str] = sorted({label for label in labels if label is not None})
        lookup = {label: i for i, label in enumerate(self.classes)}
        self.class_indices = np.array([lookup.get(lab, -1) for lab in labels], dtype=np.int64)
        self.wavelengths_nm = wavelengths_nm

    @property
    def k(self) -> int:
        return int(self.array.shape[3])

    @property
    def height(self) -> int:
        return int(self.array.shape[1])

    @property
    def width(self) -> int:
        return int(self.array.shape[2])

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        row = np.asarray(self.array[i], dtype=np.float32)
        return torch.from_numpy(row.transpose(2, 0, 1).copy()), int(self.class_indices[i])


def _check_maps(maps: np.ndarray, name: str) -> None:
    if maps.ndim != 4 or len(maps) == 0 or not np.issubdtype(maps.dtype, np.floating):
        raise DataFormatError(f"{name}: expected float maps (n, H, W, C), got {maps.shape}")
    if not np.isfinite(maps).all():
        raise DataFormatError(f"{name}: maps contain NaN or infinite values")
