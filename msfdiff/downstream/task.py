"""One downstream task, whatever the labelled data: training and test samples, and what the
msfdiff chain may learn from.

The classifiers and the chain see the same thing for both kinds of data the command takes:

- a labelled scene: P x P patches labelled by their centre pixel, from a spatially disjoint
  split; the unmixer learns from the training blocks grown by the ``P // 2`` pixels their
  patches reach (:func:`training_cubes`);
- a scene-classification set: whole images of one size, split per image; the unmixer learns
  from the training images.

Either way a sample is an (S, S, C) array with a class, and nothing of the test part reaches
the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from msfdiff.data.cube import HyperCube
from msfdiff.downstream.scene import ImageSet, LabelledScene
from msfdiff.downstream.split import ImageSplit, Patches, Split, centre_spectra
from msfdiff.errors import DegenerateModelError


@dataclass(frozen=True, eq=False)
class Task:
    """Training and test samples of one split.

    Attributes
    ----------
    kind : "scene" or "images"
    train : ndarray of shape (n_train, S, S, C), float32
    train_labels, test_labels : ndarray of shape (n,), int64
        0-based class indices.
    test : Patches or ndarray of shape (n_test, S, S, C)
        Scene patches are cut on demand (the test set can be large).
    class_names : list of str
    wavelengths_nm : ndarray or None
    unmixing_cubes : list of HyperCube
        All the unmixer may learn from: training blocks (plus reach) or training images.
    source : str
    facts : dict
        The split in numbers, for the summary and the report.
    data : LabelledScene or ImageSet
    split : Split or ImageSplit
    """

    kind: Literal["scene", "images"]
    train: np.ndarray
    train_labels: np.ndarray
    test: Patches | np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    wavelengths_nm: np.ndarray | None
    unmixing_cubes: list[HyperCube]
    source: str
    facts: dict[str, Any]
    data: LabelledScene | ImageSet
    split: Split | ImageSplit

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def size(self) -> int:
        """The side S of every sample."""
        return self.train.shape[1]

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Samples per class in training and in test, each of shape (n_classes,)."""
        n = self.n_classes
        return np.bincount(self.train_labels, minlength=n), np.bincount(
            self.test_labels, minlength=n
        )

    def label_spectra(self, samples: np.ndarray | Patches) -> np.ndarray:
        """The spectra a label speaks of: a patch's centre pixel, or a whole image's mean."""
        if self.kind == "scene":
            return centre_spectra(samples)
        return np.asarray(samples).mean(axis=(1, 2))


def scene_task(scene: LabelledScene, split: Split) -> Task:
    """The task of a labelled scene's spatially disjoint split."""
    task = Task(
        kind="scene",
        train=np.asarray(split.patches(scene.data, "train")),
        train_labels=split.train_labels,
        test=split.patches(scene.data, "test"),
        test_labels=split.test_labels,
        class_names=scene.class_names,
        wavelengths_nm=scene.wavelengths_nm,
        unmixing_cubes=training_cubes(scene.data, scene.wavelengths_nm, split),
        source=scene.cube.source,
        facts={"kind": "scene", "patch_size": split.patch_size, "block_size": split.block_size},
        data=scene,
        split=split,
    )
    return _with_counts(task, split.seed)


def image_task(images: ImageSet, split: ImageSplit, seed: int) -> Task:
    """The task of a scene-classification set split per image."""
    train = images.images[split.train]
    task = Task(
        kind="images",
        train=train,
        train_labels=images.labels[split.train],
        test=images.images[split.test],
        test_labels=images.labels[split.test],
        class_names=images.class_names,
        wavelengths_nm=images.wavelengths_nm,
        unmixing_cubes=[
            HyperCube(image, images.wavelengths_nm, images.paths[i])
            for i, image in zip(split.train, train, strict=True)
        ],
        source=images.source,
        facts={"kind": "images", "image_size": int(images.images.shape[1])},
        data=images,
        split=split,
    )
    return _with_counts(task, seed)


def _with_counts(task: Task, seed: int) -> Task:
    train, test = task.counts()
    task.facts.update(
        seed=seed, size=task.size, train_per_class=train.tolist(), test_per_class=test.tolist()
    )
    return task


def training_cubes(
    data: np.ndarray, wavelengths_nm: np.ndarray | None, split: Split
) -> list[HyperCube]:
    """One cube per training block, grown by the ``P // 2`` pixels its patches reach."""
    region, size, half = split.train_region, split.block_size, split.patch_size // 2
    height, width = region.shape
    cubes = []
    for top in range(0, height, size):
        for left in range(0, width, size):
            if not region[top, left]:
                continue
            rows = slice(max(top - half, 0), min(top + size + half, height))
            cols = slice(max(left - half, 0), min(left + size + half, width))
            cubes.append(HyperCube(np.ascontiguousarray(data[rows, cols]), wavelengths_nm))
    if not cubes:
        raise DegenerateModelError("the split has no training block to unmix")
    return cubes
