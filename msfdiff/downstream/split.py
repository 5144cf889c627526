"""Train/test splits that cannot leak: spatially disjoint blocks for scenes, per image for sets.

Patch classifiers label a P x P patch by its centre pixel. A random pixel split puts
neighbouring, overlapping patches in training and test, and published "99 %" results on
Salinas or Indian Pines often come from that leak. Here the scene is cut into square blocks,
whole blocks go to training, and a test centre must lie more than ``P - 1`` pixels (Chebyshev)
from every pixel of every training block. A training patch reaches ``P // 2`` pixels beyond its
block and a test patch ``P // 2`` around its centre, so they cannot share a pixel; this holds
even if a generator is trained on whole training blocks rather than on the patches.
(A guard of only ``P // 2`` would not suffice: patches on both sides would meet in it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from msfdiff.errors import ConfigError, DataFormatError


@dataclass(frozen=True, eq=False)
class Patches:
    """Patches of a cube centred on given pixels, cut on demand (the test set can be large).

    Indexing with an int, a slice or an index array returns float32 ``(n, P, P, C)`` (one
    patch: ``(P, P, C)``). Near the border the cube is mirrored (numpy's ``reflect``), which
    only repeats pixels that lie inside the patch's own window.
    """

    padded: np.ndarray  # (H + P - 1, W + P - 1, C)
    centres: np.ndarray  # (n, 2) row, col in the unpadded cube
    size: int

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.centres), self.size, self.size, self.padded.shape[2])

    ndim = 4

    def __len__(self) -> int:
        return len(self.centres)

    def __getitem__(self, index) -> np.ndarray:
        centres = self.centres[index]
        offsets = np.arange(self.size)
        rows = centres[..., 0, None] + offsets  # top-left in padded coordinates = centre
        cols = centres[..., 1, None] + offsets
        return self.padded[rows[..., :, None], cols[..., None, :]]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def centre_spectra(self) -> np.ndarray:
        """The centre pixels' spectra, shape (n, C), without cutting whole patches."""
        half = self.size // 2
        return self.padded[self.centres[:, 0] + half, self.centres[:, 1] + half]


def centre_spectra(samples: np.ndarray | Patches) -> np.ndarray:
    """Spectra (n, C) from patches (n, P, P, C) (their centre pixels) or from spectra as given."""
    if isinstance(samples, Patches):
        return samples.centre_spectra()
    samples = np.asarray(samples)
    if samples.ndim == 4:
        return samples[:, samples.shape[1] // 2, samples.shape[2] // 2]
    if samples.ndim == 2:
        return samples
    raise DataFormatError(f"expected patches (n, P, P, C) or spectra (n, C), got {samples.shape}")


def make_patches(data: np.ndarray, centres: np.ndarray, size: int) -> Patches:
    """A lazy :class:`Patches` over ``data`` (height, width, bands) for ``centres`` (n, 2)."""
    if size < 1 or size % 2 == 0:
        raise ConfigError(f"patch size must be odd and positive, got {size}")
    half = size // 2
    padded = np.pad(
        np.asarray(data, dtype=np.float32), ((half, half), (half, half), (0, 0)), "reflect"
    )
    return Patches(padded, np.asarray(centres, dtype=np.int64).reshape(-1, 2), size)


@dataclass(frozen=True, eq=False)
class Split:
    """Training and test patch centres of one labelled scene.

    Attributes
    ----------
    patch_size, block_size : int
    train_centres, test_centres : ndarray of shape (n, 2), int64
        (row, col) of each patch centre, in row-major order.
    train_labels, test_labels : ndarray of shape (n,), int64
        Class index, 0-based: scene label ``k`` becomes ``k - 1``.
    train_region : ndarray of shape (height, width), bool
        The training blocks. A generator may learn from anything inside them.
    n_classes : int
    seed : int
    """

    patch_size: int
    block_size: int
    train_centres: np.ndarray
    train_labels: np.ndarray
    test_centres: np.ndarray
    test_labels: np.ndarray
    train_region: np.ndarray
    n_classes: int
    seed: int

    def patches(self, data: np.ndarray, which: str = "train") -> Patches:
        """Lazy (n, P, P, C) patches of ``data`` for the ``"train"`` or ``"test"`` centres."""
        if which not in ("train", "test"):
            raise ConfigError(f"which must be 'train' or 'test', got {which!r}")
        centres = self.train_centres if which == "train" else self.test_centres
        return make_patches(data, centres, self.patch_size)

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Patches per class in training and in test, each of shape (n_classes,)."""
        return (
            np.bincount(self.train_labels, minlength=self.n_classes),
            np.bincount(self.test_labels, minlength=self.n_classes),
        )


class _Blocks:
    """The scene's square blocks, which are chosen, and what choosing one costs the test set.

    Choosing a block guards every pixel within ``P - 1`` of it (the rectangle ``guard``), so
    the test pixels each class has left are tracked, and the choice can avoid taking a
    class's last test pixels (small Indian Pines fields would otherwise vanish from testing).
    """

    def __init__(self, labels: np.ndarray, size: int, patch_size: int, n_classes: int) -> None:
        height, width = labels.shape
        self.labels, self.size, self.reach = labels, size, patch_size - 1
        self.across = -(-width // size)
        self.index = (np.arange(height)[:, None] // size) * self.across + np.arange(width) // size
        counts = np.zeros((int(self.index.max()) + 1, n_classes + 1), dtype=np.int64)
        np.add.at(counts, (self.index.ravel(), labels.ravel()), 1)
        self.classes = counts[:, 1:]  # labelled pixels per block and class
        self.chosen = np.zeros(len(counts), dtype=bool)
        self.guarded = np.zeros(labels.shape, dtype=bool)
        self.test_left = self.classes.sum(axis=0)

    def guard(self, b: int) -> tuple[slice, slice]:
        row, col = divmod(int(b), self.across)
        first_row, first_col = row * self.size - self.reach, col * self.size - self.reach
        last_row, last_col = (row + 1) * self.size + self.reach, (col + 1) * self.size + self.reach
        return slice(max(first_row, 0), last_row), slice(max(first_col, 0), last_col)

    def test_lost(self, b: int) -> np.ndarray:
        window = self.guard(b)
        newly = self.labels[window][~self.guarded[window]]
        return np.bincount(newly, minlength=self.classes.shape[1] + 1)[1:]

    def keeps_test_classes(self, b: int) -> bool:
        """Whether every class that still has test pixels keeps some after choosing ``b``."""
        left = self.test_left - self.test_lost(b)
        return not np.any((self.test_left > 0) & (left == 0))

    def take(self, b: int) -> None:
        self.test_left = self.test_left - self.test_lost(b)
        self.guarded[self.guard(b)] = True
        self.chosen[b] = True


def spatial_split(
    labels: np.ndarray,
    *,
    patch_size: int,
    train_fraction: float = 0.1,
    block_size: int | None = None,
    max_per_class: int | None = None,
    n_classes: int | None = None,
    seed: int = 0,
) -> Split:
    """Split a label map into spatially disjoint training and test patches.

    Blocks are chosen in two passes, seeded. First, for each class from the rarest up that no
    chosen block holds yet, a random block holding it. Then, in random order, every block that
    keeps the labelled pixels in training at or under ``train_fraction``. Both passes skip
    blocks whose guard would take a class's last test pixels, when another choice exists.
    ``max_per_class`` then keeps at most that many training centres per class (drawn at
    random), which makes a small, still imbalanced training set. Test centres are the
    labelled pixels outside every guard.

    Parameters
    ----------
    labels : ndarray of shape (height, width), int
        0 = unlabelled, 1..K classes (as in :class:`LabelledScene`).
    patch_size : int
        Odd patch side P.
    train_fraction : float
        Target share of labelled pixels in training blocks (before ``max_per_class``).
    block_size : int, optional
        Side of the square blocks; defaults to ``patch_size``. Smaller blocks follow
        ``train_fraction`` more closely; every training block costs a guard ring of width P-1.
    n_classes : int, optional
        K; defaults to the largest label.

    Raises
    ------
    ConfigError
        Bad sizes or fraction, or a split that leaves no training or no test patch.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "iu":
        raise DataFormatError(
            f"labels must be a 2-D integer map, got {labels.dtype} {labels.shape}"
        )
    if patch_size < 1 or patch_size % 2 == 0:
        raise ConfigError(f"patch_size must be odd and positive, got {patch_size}")
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(f"train_fraction must lie in (0, 1), got {train_fraction}")
    block = patch_size if block_size is None else block_size
    if block < 1:
        raise ConfigError(f"block_size must be positive, got {block}")
    if max_per_class is not None and max_per_class < 1:
        raise ConfigError(f"max_per_class must be positive, got {max_per_class}")
    n_classes = int(labels.max()) if n_classes is None else n_classes
    rng = np.random.default_rng(seed)
    blocks = _Blocks(labels, block, patch_size, n_classes)
    totals = blocks.classes.sum(axis=0)
    for k in np.argsort(totals, kind="stable"):
        if totals[k] == 0 or blocks.classes[blocks.chosen, k].any():
            continue
        holders = np.flatnonzero(blocks.classes[:, k])
        safe = [b for b in holders if blocks.keeps_test_classes(b)]
        blocks.take(rng.choice(safe if safe else holders))
    in_training, target = blocks.classes[blocks.chosen].sum(), train_fraction * totals.sum()
    for b in rng.permutation(len(blocks.chosen)):
        size = blocks.classes[b].sum()
        if blocks.chosen[b] or not size or in_training + size > target:
            continue
        if blocks.keeps_test_classes(b):
            blocks.take(b)
            in_training += size

    region = blocks.chosen[blocks.index]
    train = np.argwhere(region & (labels > 0))
    if max_per_class is not None:
        keep = []
        for k in range(1, n_classes + 1):
            rows = np.flatnonzero(labels[train[:, 0], train[:, 1]] == k)
            keep.append(
                rows
                if rows.size <= max_per_class
                else rng.choice(rows, max_per_class, replace=False)
            )
        train = train[np.sort(np.concatenate(keep))]
    test = np.argwhere(~blocks.guarded & (labels > 0))
    if not len(train) or not len(test):
        raise ConfigError(
            f"the split left {len(train)} training and {len(test)} test patches; "
            "use a smaller patch_size or block_size, or another train_fraction"
        )
    return Split(
        patch_size=patch_size,
        block_size=block,
        train_centres=train,
        train_labels=labels[train[:, 0], train[:, 1]].astype(np.int64) - 1,
        test_centres=test,
        test_labels=labels[test[:, 0], test[:, 1]].astype(np.int64) - 1,
        train_region=region,
        n_classes=n_classes,
        seed=seed,
    )


@dataclass(frozen=True, eq=False)
class ImageSplit:
    """Indices of training and test images of a scene-classification set (sorted)."""

    train: np.ndarray
    test: np.ndarray


def split_images(
    labels: np.ndarray,
    *,
    train_fraction: float = 0.4,
    max_per_class: int | None = None,
    seed: int = 0,
) -> ImageSplit:
    """A seeded split per class: ``round(train_fraction * n)`` images of each class train.

    Whole images are the unit, as in the paper's HSRS-SC experiment (40 % training). A class
    with at least two images keeps one in each part. ``max_per_class`` caps training images.
    Class ``k`` draws from ``default_rng([seed, k])``, so adding a class leaves others alone.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataFormatError(
            f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}"
        )
    if not 0.0 < train_fraction < 1.0:
        raise ConfigError(f"train_fraction must lie in (0, 1), got {train_fraction}")
    train, test = [], []
    for k in np.unique(labels):
        members = np.random.default_rng([seed, int(k)]).permutation(np.flatnonzero(labels == k))
        n_train = round(train_fraction * members.size)
        if members.size >= 2:
            n_train = min(max(n_train, 1), members.size - 1)
        if max_per_class is not None:
            n_train = min(n_train, max_per_class)
        train.append(members[:n_train])
        test.append(members[n_train:])
    return ImageSplit(np.sort(np.concatenate(train)), np.sort(np.concatenate(test)))
