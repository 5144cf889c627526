"""Photo reconstruction: sample i is stored map i % n (of a class, if asked), whatever the
seed or batch; folders round-trip; only the stored size is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.baselines.photo import PhotoReconstruction
from msfdiff.data.abundances import (
    load_abundance_dataset,
    make_synthetic_abundances,
    write_abundance_dataset,
)
from msfdiff.errors import ConfigError, NotFittedError, OutputExistsError
from msfdiff.generator import load_generator

LABELS = ["farm", "city", "farm", "city", "farm"]


@pytest.fixture
def maps():
    return make_synthetic_abundances(5, 8, 8, 3, seed=2)


@pytest.fixture
def fitted(maps, tmp_path):
    dataset = load_abundance_dataset(
        write_abundance_dataset(tmp_path / "abundances", maps, labels=LABELS)
    )
    return PhotoReconstruction().fit(dataset, tmp_path / "photo")


def test_sample_i_is_stored_map_i_mod_n(fitted, maps):
    drawn = fitted.generate(12, seed=7, batch_size=5)
    assert drawn.dtype == np.float32 and drawn.shape == (12, 8, 8, 3)
    np.testing.assert_array_equal(drawn, maps[np.arange(12) % 5])
    np.testing.assert_array_equal(fitted.generate(12, seed=0), drawn)  # the seed is ignored
    alone = fitted.sample([8], seed=7, class_name=None, size=8)
    np.testing.assert_array_equal(alone[0], maps[3])


def test_a_class_restricts_samples_to_its_maps(fitted, maps):
    assert fitted.classes == ["city", "farm"]
    np.testing.assert_array_equal(fitted.generate(4, class_name="city"), maps[[1, 3, 1, 3]])
    np.testing.assert_array_equal(
        fitted.sample([4], seed=0, class_name="farm", size=None)[0], maps[2]
    )
    with pytest.raises(ConfigError, match="unknown class"):
        fitted.generate(1, class_name="forest")


def test_round_trip_and_folder_rules(fitted, maps, tmp_path):
    again = load_generator(tmp_path / "photo")
    assert isinstance(again, PhotoReconstruction)
    assert again.fingerprint() == fitted.fingerprint() and again.n_channels == 3
    np.testing.assert_array_equal(again.generate(6), fitted.generate(6))
    copied = load_generator(again.save_pretrained(tmp_path / "copy"))
    assert copied.fingerprint() == fitted.fingerprint()
    dataset = load_abundance_dataset(tmp_path / "abundances")
    with pytest.raises(OutputExistsError):
        PhotoReconstruction().fit(dataset, tmp_path / "photo")
    assert PhotoReconstruction().fit(dataset, tmp_path / "photo", resume=True).fingerprint() == (
        fitted.fingerprint()
    )
    other = load_abundance_dataset(
        write_abundance_dataset(tmp_path / "other", maps[::-1].copy(), labels=LABELS)
    )
    forced = PhotoReconstruction().fit(other, tmp_path / "photo", force=True)
    assert forced.fingerprint() != fitted.fingerprint()


def test_refuses_other_sizes_and_unfitted_use(fitted):
    with pytest.raises(ConfigError, match="stored size 8x8"):
        fitted.generate(1, size=16)
    assert fitted.check_request(size=8) == {"size": 8}
    with pytest.raises(NotFittedError):
        PhotoReconstruction().generate(1)


def test_float16_maps_are_stored_on_the_simplex(maps, tmp_path):
    dataset = load_abundance_dataset(
        write_abundance_dataset(tmp_path / "half", maps, dtype="float16")
    )
    drawn = PhotoReconstruction().fit(dataset, tmp_path / "photo").generate(5)
    np.testing.assert_allclose(drawn.sum(axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(drawn, maps, atol=2e-3)
    assert PhotoReconstruction().fit(dataset, tmp_path / "p2").classes == []
