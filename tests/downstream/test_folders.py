"""``msfdiff downstream`` on a scene-classification set: a folder per class, split per image."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from msfdiff.config import merge_overrides
from msfdiff.downstream.run import run_downstream
from msfdiff.downstream.scene import read_class_folders
from msfdiff.downstream.split import split_images
from msfdiff.downstream.task import image_task
from msfdiff.errors import DataFormatError
from msfdiff.layout import DownstreamLayout
from tests.downstream.test_run import CONFIG as SCENE_CONFIG
from tests.synthetic import class_folders

CONFIG = {
    "name": "folders",
    "folders": {"root": "set", "image_size": 8, "wavelengths": "400:700:31"},
    "split": {"train_fraction": 0.4, "seed": 0},
    "target_per_class": 8,
    "seeds": [0, 1],
    "conditions": ["real", "augment", "conditional"],
    "classifiers": {"networks": ["resnet18"], "spectra": ["svm"], "iterations": 6},
    "chain": merge_overrides(
        SCENE_CONFIG["chain"],
        {"diffusion_steps": 150, "sampling_steps": 6,
         "diffusion_overrides": {"training": {"batch_size": 16, "learning_rate": 2e-3,
                                              "lr_warmup_steps": 10}}},
    ),
}  # fmt: skip


def angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


def test_images_are_read_per_class_folder_and_area_averaged(tmp_path):
    class_folders(tmp_path, n_per_class=2, size=12)
    full = read_class_folders(tmp_path)
    half = read_class_folders(tmp_path, image_size=6)
    assert full.class_names == ["class_0", "class_1", "class_2"]
    assert full.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert full.images.shape == (6, 12, 12, 31) and half.images.shape == (6, 6, 6, 31)
    blocks = full.images.reshape(6, 6, 2, 6, 2, 31).mean(axis=(2, 4))  # 2 x 2 means
    np.testing.assert_allclose(half.images, blocks, rtol=1e-5, atol=1e-6)


def test_a_wide_image_is_centre_cropped_and_mismatches_are_named(tmp_path):
    class_folders(tmp_path, n_per_class=1, size=6)
    wide = np.arange(6 * 10 * 31, dtype=np.float32).reshape(6, 10, 31)
    np.save(tmp_path / "class_0" / "0.npy", wide)
    cropped = read_class_folders(tmp_path, image_size=6)
    np.testing.assert_array_equal(cropped.images[0], wide[:, 2:8])
    with pytest.raises(DataFormatError, match="not square"):
        read_class_folders(tmp_path)
    np.save(tmp_path / "class_1" / "0.npy", np.ones((6, 6, 20), np.float32))
    with pytest.raises(DataFormatError, match=r"class_1/0\.npy: 20 bands"):
        read_class_folders(tmp_path, image_size=6)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("folders")
    class_folders(base / "set", n_per_class=10, size=12)
    path = base / "folders.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    folder, summary = run_downstream(path, base / "out")
    return folder, summary, base


def test_the_chain_and_the_classifiers_train_on_training_images_only(tmp_path):
    for c in range(2):  # every pixel of image i holds the value i: ids show what went where
        (tmp_path / f"c{c}").mkdir()
        for i in range(5 * c, 5 * c + 5):
            np.save(tmp_path / f"c{c}" / f"{i}.npy", np.full((4, 4, 3), i, np.float32))
    images = read_class_folders(tmp_path)
    task = image_task(images, split_images(images.labels, train_fraction=0.4, seed=0), seed=0)
    train_ids = {int(v) for v in task.train.ravel()}
    assert train_ids == {int(v) for cube in task.unmixing_cubes for v in cube.data.ravel()}
    assert not train_ids & {int(v) for v in np.asarray(task.test).ravel()}
    assert len(train_ids) == 4 and task.train_labels.tolist() == [0, 0, 1, 1]
    np.testing.assert_array_equal(task.label_spectra(task.train)[:, 0], sorted(train_ids))


def test_the_split_is_saved_per_image(run):
    folder, summary, _ = run
    split = np.load(DownstreamLayout(folder).split)
    train, test = set(split["train_images"]), set(split["test_images"])
    assert not train & test and len(train | test) == 30
    assert summary["split"]["train_per_class"] == [4, 4, 4]
    assert summary["data"]["kind"] == "images" and summary["split"]["image_size"] == 8


def test_the_table_is_written_and_conditional_samples_carry_their_class_spectrum(run):
    folder, summary, _ = run
    layout = DownstreamLayout(folder)
    for path in (layout.table_md, layout.figure, layout.split_figure, layout.report):
        assert path.is_file() and path.stat().st_size > 0
    assert "split per image" in layout.table_md.read_text()
    svm = [r for r in summary["runs"] if r["classifier"] == "svm"]
    assert all(r["overall_accuracy"] > 0.9 for r in svm)  # chance is 1/3
    real, made = np.load(layout.spectra("real")), np.load(layout.spectra("conditional"))
    for c in range(3):
        angles = [angle(made[c], r) for r in real]
        assert int(np.argmin(angles)) == c, f"class {c}: angles {np.degrees(angles)}"
