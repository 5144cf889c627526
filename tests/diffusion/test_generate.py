"""``generate_samples`` takes any generator: tiny fakes in both output spaces, no diffusion."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from msfdiff.data.abundances import make_synthetic_abundances, write_abundance_dataset
from msfdiff.errors import ConfigError, DataFormatError, OutputExistsError, OutputSpaceError
from msfdiff.fusion import fuse
from msfdiff.generate import generate_samples, load_sources
from msfdiff.generator import Generator, Guidance, SamplingSettings, load_generator
from msfdiff.layout import SAMPLING_MANIFEST, sample_abundance_path, sample_abundance_paths

K, SIZE, BANDS = 3, 8, 5


class FixedMaps(Generator):
    """Abundance maps that depend on (seed, i) alone, as the interface asks."""

    output_space = "abundances"

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self.batches: list[list[int]] = []

    @property
    def classes(self) -> list[str]:
        return []

    @property
    def n_channels(self) -> int:
        return K

    def fit(self, dataset, out_dir, **kwargs) -> FixedMaps:
        self.save_pretrained(out_dir)
        return self

    def sample(self, indices: Sequence[int], *, seed, class_name, size) -> np.ndarray:
        self.batches.append(list(indices))
        size = size or SIZE
        seeds = [self.offset + seed * 1000 + i for i in indices]
        return np.stack([make_synthetic_abundances(1, size, size, K, seed=s)[0] for s in seeds])

    def fingerprint(self) -> str:
        return f"fixed-{self.offset}"

    def _save_pretrained(self, folder: Path) -> None:
        (folder / "offset.json").write_text(json.dumps(self.offset))

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> FixedMaps:
        return cls(json.loads((Path(folder) / "offset.json").read_text()))


class NoiseCubes(FixedMaps):
    """Finished cubes: an ``"hsi"`` generator needs no unmixer."""

    output_space = "hsi"
    wavelengths_nm = np.linspace(450, 650, BANDS)

    @property
    def n_channels(self) -> int:
        return BANDS

    def sample(self, indices: Sequence[int], *, seed, class_name, size) -> np.ndarray:
        shape = (size or SIZE, size or SIZE, BANDS)
        return np.stack([np.random.default_rng([seed, i]).uniform(0, 1, shape) for i in indices])


@pytest.fixture
def unmixer(rng):
    return SimpleNamespace(
        endmembers_=rng.uniform(0, 1, (K, BANDS)).astype(np.float32),
        wavelengths_=np.linspace(450, 650, BANDS),
        noise_std_=np.full(BANDS, 0.01, dtype=np.float32),
    )


QUIET = SamplingSettings(format="npy", noise=False, batch_size=2)


def test_any_abundance_generator_is_fused_and_resumed(tmp_path, unmixer):
    out = tmp_path / "out"
    generator = FixedMaps()
    generate_samples(generator, out, unmixer=unmixer, n=3, settings=QUIET)
    assert generator.batches == [[0, 1], [2]]  # batch_size 2
    maps = [np.load(p) for p in sample_abundance_paths(out)]
    assert len(maps) == 3
    for i, a in enumerate(maps):
        np.testing.assert_array_equal(a, generator.generate(3)[i])
        expected = fuse(unmixer.endmembers_, a)
        np.testing.assert_allclose(np.load(out / f"sample_{i:04d}.npy"), expected, atol=1e-6)
    manifest = json.loads((out / SAMPLING_MANIFEST).read_text())
    assert manifest["model_sha256"] == "fixed-0" and manifest["size"] is None
    assert "sampler" not in manifest  # not one of this generator's options

    sample_abundance_path(out, 1).unlink()  # as if interrupted while writing sample 1
    lines = []
    generate_samples(generator, out, unmixer=unmixer, n=4, settings=QUIET, log=lines.append)
    assert lines == [f"2 of 4 samples already in {out}; making the other 2"]
    assert generator.batches[-1] == [1, 3]
    np.testing.assert_array_equal(np.load(sample_abundance_path(out, 1)), maps[1])
    with pytest.raises(OutputExistsError, match=r"other settings \(model_sha256\)"):
        generate_samples(FixedMaps(offset=1), out, unmixer=unmixer, n=4, settings=QUIET)


def test_batch_size_does_not_change_samples(tmp_path, unmixer):
    noisy = SamplingSettings(format="npy", seed=3)
    generate_samples(FixedMaps(), tmp_path / "a", unmixer=unmixer, n=3, settings=noisy)
    one_by_one = SamplingSettings(format="npy", seed=3, batch_size=1)
    generate_samples(FixedMaps(), tmp_path / "b", unmixer=unmixer, n=3, settings=one_by_one)
    for i in range(3):
        name = f"sample_{i:04d}.npy"
        a, b = np.load(tmp_path / "a" / name), np.load(tmp_path / "b" / name)
        np.testing.assert_array_equal(a, b)  # the fusion noise, too, is seeded by (seed, i)


def test_an_hsi_generator_writes_cubes_without_an_unmixer(tmp_path):
    from msfdiff.data.readers import read_hsi

    out, settings = tmp_path / "cubes", SamplingSettings(format="npy")  # noise: for fusion only
    generate_samples(NoiseCubes(), out, n=2, settings=settings)
    cube = read_hsi(out / "sample_0001.npy")
    expected = NoiseCubes().generate(2, seed=settings.seed)[1]
    np.testing.assert_allclose(np.asarray(cube.data), expected, atol=1e-6)
    np.testing.assert_allclose(cube.wavelengths_nm, NoiseCubes.wavelengths_nm, atol=1e-4)
    assert sample_abundance_paths(out) == [] and (out / "sample_0001_profiles.png").is_file()
    manifest = json.loads((out / SAMPLING_MANIFEST).read_text())
    assert manifest["unmixer_sha256"] is None and manifest["noise"] is False
    stamp = (out / "sample_0000.npy").stat().st_mtime_ns
    lines = []
    generate_samples(NoiseCubes(), out, n=2, settings=settings, log=lines.append)
    assert lines == [f"2 of 2 samples already in {out}; making the other 0"]
    assert (out / "sample_0000.npy").stat().st_mtime_ns == stamp


def test_requests_are_checked_before_out_is_touched(tmp_path, unmixer):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="needs the unmixer"):
        generate_samples(FixedMaps(), out, n=1, settings=QUIET)
    wrong = SimpleNamespace(**{**vars(unmixer), "endmembers_": unmixer.endmembers_[:2]})
    with pytest.raises(DataFormatError, match="the unmixer has 2 endmembers, the generator 3"):
        generate_samples(FixedMaps(), out, unmixer=wrong, n=1, settings=QUIET)
    river = SamplingSettings(class_name="river")
    with pytest.raises(ConfigError, match="unknown class 'river'"):
        generate_samples(FixedMaps(), out, unmixer=unmixer, n=1, settings=river)
    assert not out.exists()
    with pytest.raises(ConfigError, match="unknown format 'hdf'"):
        SamplingSettings(format="hdf")
    with pytest.raises(ConfigError, match="unknown sampler 'euler'"):
        SamplingSettings(sampler="euler")
    with pytest.raises(ConfigError, match="takes no option"):
        FixedMaps().generate(1, sampler="ddim")


def test_no_room_for_the_samples_fails_before_out_is_touched(tmp_path, unmixer, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr("msfdiff._io.shutil.disk_usage", lambda p: usage._replace(free=100 << 20))
    out = tmp_path / "out"
    big = SamplingSettings(format="npy", noise=False, size=512)  # 5000 x (8 MiB + previews): 41 GiB
    with pytest.raises(
        OutputSpaceError, match=r"5000 samples need about 4\d\.\d GiB, but only 100\.0 MiB"
    ):
        generate_samples(FixedMaps(), out, unmixer=unmixer, n=5000, settings=big)
    assert not out.exists()
    # one sample fits (with the margin)
    generate_samples(FixedMaps(), out, unmixer=unmixer, n=1, settings=QUIET)


def test_an_output_folder_under_a_file_is_refused_before_any_work(tmp_path, unmixer):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(OutputSpaceError, match="file.txt: not a writable folder"):
        generate_samples(FixedMaps(), blocker / "out", unmixer=unmixer, n=1, settings=QUIET)


def test_any_saved_generator_loads_without_registration(tmp_path):
    FixedMaps(offset=7).save_pretrained(tmp_path / "gen")
    loaded = load_generator(tmp_path / "gen")
    assert isinstance(loaded, FixedMaps) and loaded.fingerprint() == "fixed-7"
    spec = json.loads((tmp_path / "gen" / "generator.json").read_text())
    assert spec == {"class": f"{__name__}:FixedMaps", "output_space": "abundances"}


def test_only_a_guided_generator_takes_guidance(tmp_path, unmixer):
    guidance = Guidance(make_synthetic_abundances(2, SIZE, SIZE, K), 0.5)
    with pytest.raises(ConfigError, match="FixedMaps cannot start from real maps"):
        generate_samples(FixedMaps(), tmp_path / "out", unmixer=unmixer, n=1, guidance=guidance)
    with pytest.raises(ConfigError, match="cannot start from real maps"):
        FixedMaps().generate(1, guidance=guidance)
    assert not (tmp_path / "out").exists()


def test_load_sources_reads_an_abundance_dataset_as_it_is(tmp_path):
    maps = make_synthetic_abundances(3, SIZE, SIZE, K, seed=2)
    folder = write_abundance_dataset(tmp_path / "data", maps, labels=["a", None, "b"])
    sources, labels = load_sources(folder)
    np.testing.assert_array_equal(sources, maps)
    assert labels == ["a", None, "b"]
    with pytest.raises(ConfigError, match="photos need the unmixer"):
        load_sources(tmp_path)
