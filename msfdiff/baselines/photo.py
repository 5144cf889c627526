"""The bound a generator of new scenes is measured against: the training photos themselves.

:class:`PhotoReconstruction` learns nothing. Its sample i is the abundance map that unmixing
inferred from training photo ``i % n``, so fused with the endmembers it is that photo
reconstructed as an HSI: real scenes, with only what unmixing and fusion lose. A generator
whose samples score like these is as realistic as the pipeline allows, and the gap between the
two is what generating costs; novelty metrics rate these samples as pure copies.

Folder after ``fit``::

    maps.npy        the training maps, float32 (n, H, W, k); pixels that float16 storage left off
                    a sum of 1 are renormalised
    photos.json     {"height", "width", "k", "files", "labels", "classes"}
    generator.json  written last: the folder is finished
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from msfdiff._io import atomic_path, write_json
from msfdiff.baselines.training import fresh_folder
from msfdiff.errors import ConfigError, DataFormatError, DataNotFoundError, NotFittedError
from msfdiff.generator import GENERATOR_FILE, Generator
from msfdiff.progress import Log, Progress, no_log, track

MAPS_NAME = "maps.npy"
INDEX_NAME = "photos.json"
_CHUNK = 256  # maps copied (and hashed) at a time, so a large memory-mapped set never fills RAM


class PhotoReconstruction(Generator):
    """Replays the training maps: sample i is stored map ``i % n``.

    Deterministic: ``seed`` is ignored, and sample i is the same map whatever the batch.
    With ``class_name`` (a label of the training set, listed in ``classes``) sample i is the
    ``i % m``-th of that class's m maps. Only the stored size can be drawn.

    Attributes
    ----------
    maps_ : ndarray of shape (n, H, W, k), float32
        The stored maps (memory-mapped after :meth:`from_pretrained`).
    index_ : dict
        ``photos.json``: the source file and label of each map, and the sorted classes.
    """

    output_space = "abundances"

    def __init__(self) -> None:
        self.maps_: np.ndarray | None = None
        self.index_: dict[str, Any] | None = None
        self._digest: str | None = None

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
        """Copy ``dataset``'s maps and labels into ``out_dir``; ``resume`` on a finished
        folder loads it instead."""
        out_dir = Path(out_dir)
        if resume and (out_dir / GENERATOR_FILE).is_file():
            self._load(out_dir)
            if self.maps_.shape != np.shape(dataset.array):
                raise DataFormatError(
                    f"{out_dir}: holds maps {self.maps_.shape}, not the data's "
                    f"{np.shape(dataset.array)}; store them afresh with --force"
                )
            log(f"{out_dir}: already holds the photos' maps; loaded it")
            return self
        fresh_folder(out_dir, force=force or resume)
        n, height, width, k = np.shape(dataset.array)
        files = getattr(dataset, "files", None) or [f"{dataset.folder}[{i}]" for i in range(n)]
        chunks = range(0, n, _CHUNK)
        with atomic_path(out_dir / MAPS_NAME) as tmp:
            maps = np.lib.format.open_memmap(
                tmp, mode="w+", dtype=np.float32, shape=(n, height, width, k)
            )
            for start in track(chunks, len(chunks), progress, "copying maps"):
                chunk = np.asarray(dataset.array[start : start + _CHUNK], dtype=np.float32)
                sums = chunk.sum(axis=-1, keepdims=True)  # float16 storage rounds them
                maps[start : start + _CHUNK] = np.where(abs(sums - 1) > 1e-6, chunk / sums, chunk)
            maps.flush()
            del maps
        index = {
            "height": height,
            "width": width,
            "k": k,
            "files": list(files),
            "labels": list(dataset.labels),
            "classes": list(dataset.classes),
        }
        write_json(out_dir / INDEX_NAME, index)
        self.mark_folder(out_dir)
        log(f"stored {n} maps of {height}x{width}x{k} in {out_dir}")
        return self._load(out_dir)

    # -- sampling ---------------------------------------------------------------

    @property
    def index(self) -> dict[str, Any]:
        if self.index_ is None:
            raise NotFittedError(f"{type(self).__name__}: call fit or from_pretrained first")
        return self.index_

    @property
    def classes(self) -> list[str]:
        return list(self.index["classes"])

    @property
    def n_channels(self) -> int:
        return int(self.index["k"])

    def check_request(
        self, *, class_name: str | None = None, size: int | None = None, **options: Any
    ) -> dict[str, Any]:
        super().check_request(class_name=class_name, size=size, **options)
        height, width = self.index["height"], self.index["width"]
        if size is not None and (size, size) != (height, width):
            raise ConfigError(
                f"photo reconstructions have the stored size {height}x{width}, not {size}"
            )
        return {"size": height if height == width else [height, width]}

    def sample(
        self,
        indices: Sequence[int],
        *,
        seed: int,
        class_name: str | None = None,
        size: int | None = None,
        **options: Any,
    ) -> np.ndarray:
        """Stored maps ``rows[i % len(rows)]`` for each i: every map, or those of
        ``class_name``; ``seed`` is ignored."""
        self.check_request(class_name=class_name, size=size)
        rows = np.arange(len(self.maps_))
        if class_name is not None:
            rows = rows[np.asarray(self.index["labels"], dtype=object) == class_name]
        chosen = [int(rows[i % len(rows)]) for i in indices]
        return np.asarray(self.maps_[chosen], dtype=np.float32)

    # -- folders ----------------------------------------------------------------

    def fingerprint(self) -> str:
        """SHA-256 of the stored maps and their index (computed once: the maps may be large)."""
        if self._digest is None:
            digest = hashlib.sha256(json.dumps(self.index, sort_keys=True).encode())
            for start in range(0, len(self.maps_), _CHUNK):
                digest.update(np.ascontiguousarray(self.maps_[start : start + _CHUNK]).tobytes())
            self._digest = digest.hexdigest()
        return self._digest

    def _save_pretrained(self, folder: Path) -> None:
        index = self.index  # raises when not fitted
        with atomic_path(folder / MAPS_NAME) as tmp, open(tmp, "wb") as file:
            np.save(file, self.maps_)
        write_json(folder / INDEX_NAME, index)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> Self:
        return cls()._load(Path(folder))

    def _load(self, folder: Path) -> Self:
        """Memory-map the maps saved in ``folder`` and read their index."""
        maps_path, index_path = folder / MAPS_NAME, folder / INDEX_NAME
        for path in (maps_path, index_path):
            if not path.is_file():
                raise DataNotFoundError(
                    f"{folder}: not a photo reconstruction ({path.name} missing)"
                )
        try:
            index = json.loads(index_path.read_text())
            shape = tuple(int(index[key]) for key in ("height", "width", "k"))
            labels = list(index["labels"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"{index_path}: not a photo index ({exc})") from None
        try:
            maps = np.load(maps_path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise DataFormatError(f"{maps_path}: not a readable .npy array ({exc})") from None
        if maps.dtype != np.float32 or maps.shape[1:] != shape or len(maps) != len(labels):
            raise DataFormatError(
                f"{maps_path}: float32 maps of shape (n, *{shape}) with one label each expected, "
                f"got {maps.dtype} {maps.shape} and {len(labels)} labels"
            )
        self.maps_, self.index_, self._digest = maps, index, None
        return self
