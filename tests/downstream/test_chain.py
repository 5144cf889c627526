"""The msfdiff chain on a split: class-conditional samples carry their class's spectrum."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.downstream.chain import (
    ChainConfig,
    PatchSynthesizer,
    crop_back,
    mirror_out,
    sampled_size,
)
from msfdiff.downstream.scene import LabelledScene
from msfdiff.downstream.split import spatial_split
from msfdiff.downstream.task import scene_task, training_cubes
from msfdiff.errors import ConfigError, NotFittedError
from tests.synthetic import labelled_scene

SMALL_UNET = {
    "unet": {"block_out_channels": [16, 32], "attention_resolutions": [], "norm_num_groups": 8},
    "training": {"batch_size": 32, "learning_rate": 2e-3, "lr_warmup_steps": 10},
}
TINY = ChainConfig(
    n_endmembers=3,
    unmixer_steps=300,
    diffusion_steps=300,
    diffusion_overrides=SMALL_UNET,
    sampling_steps=10,
)


def angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    cube, labels, _ = labelled_scene()
    split = spatial_split(labels, patch_size=5, train_fraction=0.3, seed=0)
    task = scene_task(LabelledScene(cube, labels, ["a", "b", "c"]), split)
    folder = tmp_path_factory.mktemp("chain")
    chain = PatchSynthesizer(TINY).fit(
        task.unmixing_cubes, task.train, task.train_labels, task.class_names, folder
    )
    return chain, cube, labels, task, folder


def test_class_conditional_samples_are_nearest_their_class_spectrum(fitted):
    chain, cube, labels, _, _ = fitted
    real = [cube.data[labels == c + 1].mean(axis=0) for c in range(3)]
    patches, classes = chain.generate([24, 24, 24], "conditional", seed=0)
    assert patches.shape == (72, 5, 5, cube.n_bands) and (patches >= 0).all()
    for c in range(3):
        mean = patches[classes == c].reshape(-1, cube.n_bands).mean(axis=0)
        angles = [angle(mean, r) for r in real]
        assert int(np.argmin(angles)) == c, f"class {c}: angles {np.degrees(angles)}"


def test_every_mode_gives_the_counts_asked_and_a_seed_repeats(fitted):
    chain, cube, _, _, _ = fitted
    for mode in ("variations", "collage"):
        patches, classes = chain.generate([3, 0, 2], mode, seed=1)
        assert patches.shape == (5, 5, 5, cube.n_bands)
        assert classes.tolist() == [0, 0, 0, 2, 2]
        again, _ = chain.generate([3, 0, 2], mode, seed=1)
        np.testing.assert_array_equal(patches, again)
    with pytest.raises(ConfigError, match="unknown generation mode"):
        chain.generate([1, 1, 1], "dreams", seed=0)


def test_refit_in_the_same_folder_loads_instead_of_training(fitted):
    chain, _, _, task, folder = fitted
    again = PatchSynthesizer(TINY).fit(
        task.unmixing_cubes, task.train, task.train_labels, task.class_names, folder
    )
    np.testing.assert_array_equal(again.unmixer_.endmembers_, chain.unmixer_.endmembers_)
    assert again.generator_.fingerprint() == chain.generator_.fingerprint()


def test_the_unmixer_sees_only_training_blocks_and_their_patch_reach():
    _, labels, _ = labelled_scene()
    split = spatial_split(labels, patch_size=5, train_fraction=0.2, seed=3)
    ids = np.arange(labels.size, dtype=np.float32).reshape(*labels.shape, 1)
    seen = {int(v) for cube in training_cubes(ids, None, split) for v in cube.data.ravel()}
    patches = np.asarray(split.patches(ids, "train"))
    reach = {int(v) for v in patches.ravel()}
    region = np.zeros(labels.shape, bool)
    for top, left in np.argwhere(split.train_region):
        region[max(top - 2, 0) : top + 3, max(left - 2, 0) : left + 3] = True
    assert reach <= seen <= set(np.flatnonzero(region.ravel()).tolist())
    test = {int(v) for v in np.asarray(split.patches(ids, "test")).ravel()}
    assert not seen & test


def test_mirror_out_and_crop_back_round_trip(rng):
    maps = rng.random((4, 9, 9, 3)).astype(np.float32)
    assert sampled_size(9, "cpu") == 16  # four levels: multiples of 8
    assert sampled_size(5, "cpu", SMALL_UNET) == 6  # two levels: multiples of 2
    out = mirror_out(maps, 16)
    assert out.shape == (4, 16, 16, 3)
    np.testing.assert_array_equal(crop_back(out, 9), maps)


def test_generate_before_fit_is_refused():
    with pytest.raises(NotFittedError):
        PatchSynthesizer().generate([1], "conditional", seed=0)
