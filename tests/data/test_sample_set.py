"""``load_samples``: a samples folder read back lazily, complete samples only."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.data.samples import SampleFolder, load_samples
from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.generate import generate_samples
from msfdiff.generator import SamplingSettings
from msfdiff.layout import SAMPLING_MANIFEST, sample_abundance_path
from tests.diffusion.test_crash import fake_unmixer
from tests.diffusion.test_generate import QUIET, FixedMaps, NoiseCubes


def test_the_loader_yields_exactly_the_complete_samples(tmp_path):
    out = generate_samples(
        FixedMaps(), tmp_path / "out", unmixer=fake_unmixer(), n=4, settings=QUIET
    )
    sample_abundance_path(out, 2).unlink()  # sample 2 interrupted before its marker
    samples = load_samples(out)
    assert len(samples) == 3 and samples.indices == [0, 1, 3]
    for (hsi, abundances, meta), index in zip(samples, [0, 1, 3], strict=True):
        assert isinstance(hsi, np.memmap) and isinstance(abundances, np.memmap)  # not loaded
        np.testing.assert_array_equal(hsi, np.load(out / f"sample_{index:04d}.npy"))
        np.testing.assert_array_equal(abundances, FixedMaps().generate(4)[index])
        assert meta["index"] == index and meta["path"] == out / f"sample_{index:04d}.npy"
        assert meta["wavelengths_nm"].shape == (hsi.shape[2],) and meta["class"] is None
    assert samples[-1].meta["index"] == 3


def test_a_sample_is_read_only_when_asked_for(tmp_path):
    out = generate_samples(
        FixedMaps(), tmp_path / "out", unmixer=fake_unmixer(), n=3, settings=QUIET
    )
    (out / "sample_0002.npy").write_bytes(b"not an array")  # damaged after it was complete
    samples = load_samples(out)  # opens no sample
    assert len(samples) == 3 and samples[1].meta["index"] == 1
    with pytest.raises(DataFormatError, match=r"sample_0002\.npy: not a readable"):
        samples[2]


def test_cubes_without_abundances_stream_from_envi(tmp_path):
    settings = SamplingSettings(format="envi")
    out = generate_samples(NoiseCubes(), tmp_path / "cubes", n=2, settings=settings)
    (hsi, abundances, meta), _ = load_samples(out)
    assert isinstance(hsi, np.memmap) and abundances is None
    assert meta["path"].name == "sample_0000.hdr"
    np.testing.assert_allclose(hsi, NoiseCubes().generate(1, seed=settings.seed)[0], atol=1e-6)


def test_a_missing_or_corrupt_manifest_is_a_one_line_error(tmp_path):
    with pytest.raises(DataNotFoundError, match=f"{tmp_path}: not a samples folder"):
        load_samples(tmp_path)
    manifest = tmp_path / SAMPLING_MANIFEST
    for content, message in [
        (b'{"format": ', "sampling.json: not valid JSON"),
        (b"\xff\xfe\x00", "sampling.json: not text"),
        (b'{"format": "hdf"}', "sampling.json: not a sampling manifest"),
    ]:
        manifest.write_bytes(content)
        with pytest.raises(DataFormatError, match=message):
            load_samples(tmp_path)


def test_each_sample_has_the_class_it_was_drawn_for(tmp_path):
    drawn_in_turn = SampleFolder(tmp_path, {"format": "npy", "classes": ["a", "b"]}, [])
    assert [drawn_in_turn.class_of(i) for i in range(3)] == ["a", "b", "a"]
    asked = SampleFolder(tmp_path, {"format": "npy", "class": "b", "classes": []}, [])
    assert asked.class_of(0) == "b"
