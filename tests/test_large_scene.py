"""Scenes larger than memory: tiled inference gives the whole-image result, and reading a
memory-mapped scene (its NaN check, its patches, its inference) keeps only a block resident.

The memory tests use a 32 MB cube; ``benchmarks/large_scene.py`` runs the same paths on a
3 GB one.
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.format import open_memmap
from typer.testing import CliRunner

from msfdiff.cli.main import app
from msfdiff.data.patches import PatchSet, make_manifest
from msfdiff.data.readers import read_hsi
from msfdiff.errors import ConfigError, DataFormatError, OutputExistsError
from msfdiff.layout import RunLayout
from msfdiff.unmixing import SceneUnmixer, estimator
from tests.synthetic import known_scene

WAVELENGTHS = "400:700:31"  # known_scene's bands
TINY = dict(
    widths=(16, 16),
    steps=150,
    batch_size=4,
    crop_size=16,
    learning_rate=3e-3,
    linear_skip=True,
    band_selection="nearest:620,540,460",
)
LARGE = (512, 512, 31)  # 32.5 MB of float32
LARGE_BYTES = int(np.prod(LARGE)) * 4


@pytest.fixture(scope="module")
def unmixer() -> SceneUnmixer:
    cube, _, _ = known_scene(size=32, k=3)
    return SceneUnmixer(3, preset="cpu", overrides=TINY).fit(cube)


@pytest.fixture(scope="module")
def scene_path(tmp_path_factory) -> Path:
    cube, _, _ = known_scene(size=80, k=3, seed=1)
    path = tmp_path_factory.mktemp("scene") / "scene.npy"
    np.save(path, cube.data)
    return path


@pytest.fixture(scope="module")
def large_scene(tmp_path_factory) -> tuple[Path, float]:
    """A 512×512×31 .npy written in row blocks, and the sum of its values."""
    path = tmp_path_factory.mktemp("large") / "large.npy"
    cube = open_memmap(path, mode="w+", dtype=np.float32, shape=LARGE)
    rng, total = np.random.default_rng(0), 0.0
    for start in range(0, LARGE[0], 64):
        block = rng.uniform(0.05, 0.6, (64, *LARGE[1:])).astype(np.float32)
        cube[start : start + 64] = block
        total += float(block.sum(dtype=np.float64))
    cube.flush()
    del cube
    return path, total


def resident_file_bytes() -> int:
    """Bytes of memory-mapped files resident in this process (``RssFile``, Linux only)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssFile line in /proc/self/status")


linux_only = pytest.mark.skipif(
    sys.platform != "linux", reason="reads RssFile from /proc/self/status"
)


def test_tiles_give_the_whole_image_result(unmixer, scene_path):
    cube = read_hsi(scene_path, wavelengths=WAVELENGTHS)
    assert isinstance(cube.data, np.memmap)
    whole = unmixer.transform(cube)  # 80×80 is below TILE_PIXELS: one piece
    for rows in (1, 7, 30):
        np.testing.assert_allclose(unmixer.transform(cube, tile_rows=rows), whole, atol=1e-5)
    # the attention pools over the whole image, so a halo alone would not do: the top rows
    # encoded as an image of their own (far from its lower edge) come out different
    alone = unmixer.transform(cube.with_data(np.asarray(cube.data[:20])))
    assert np.abs(alone[:10] - whole[:10]).max() > 1e-3
    with pytest.raises(ConfigError, match="tile_rows must be at least 1, got 0"):
        unmixer.transform(cube, tile_rows=0)


def test_images_over_tile_pixels_are_tiled_automatically(unmixer, scene_path, monkeypatch):
    cube = read_hsi(scene_path, wavelengths=WAVELENGTHS)
    whole = unmixer.transform(cube)
    rows_used = []
    encode_tiled = SceneUnmixer._encode_tiled

    def spy(self, rgb, out, rows):
        rows_used.append(rows)
        encode_tiled(self, rgb, out, rows)

    monkeypatch.setattr(SceneUnmixer, "_encode_tiled", spy)
    monkeypatch.setattr(estimator, "TILE_PIXELS", 1000)
    np.testing.assert_allclose(unmixer.transform(cube), whole, atol=1e-5)
    assert rows_used == [1000 // 80]


def test_out_array_is_filled_and_returned(unmixer, scene_path, tmp_path):
    cube = read_hsi(scene_path, wavelengths=WAVELENGTHS)
    out = open_memmap(tmp_path / "a.npy", mode="w+", dtype=np.float32, shape=(80, 80, 3))
    assert unmixer.transform(cube, out=out, tile_rows=16) is out
    del out
    np.testing.assert_allclose(np.load(tmp_path / "a.npy"), unmixer.transform(cube), atol=1e-5)
    photos = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
    batch_out = np.full((2, 16, 16, 3), np.nan, np.float32)
    unmixer.transform(photos, out=batch_out)
    np.testing.assert_array_equal(batch_out, unmixer.transform(photos))
    with pytest.raises(DataFormatError, match=r"out has shape \(80, 80, 4\); .* \(80, 80, 3\)"):
        unmixer.transform(cube, out=np.empty((80, 80, 4), np.float32))


@linux_only
def test_patches_of_a_memory_mapped_scene_are_read_without_holding_it(large_scene):
    path, total = large_scene
    before = resident_file_bytes()
    tracemalloc.start()
    try:
        manifest = make_manifest([path], size=32, stride=32, val_fraction=0.0)
        patches = PatchSet(manifest, "train")
        assert len(patches) == (512 // 32) ** 2
        patch_total = sum(float(p.sum(dtype=np.float64)) for p in patches)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert patch_total == pytest.approx(total, rel=1e-9)  # the patches tile the scene exactly
    assert peak < LARGE_BYTES / 4, f"allocated {peak / 2**20:.1f} MiB"
    grown = resident_file_bytes() - before
    assert grown < LARGE_BYTES / 8, f"{grown / 2**20:.1f} MiB of the file left resident"


@linux_only
def test_inference_streams_a_memory_mapped_scene_into_a_memory_mapped_map(
    unmixer, large_scene, tmp_path
):
    path, _ = large_scene
    cube = read_hsi(path, wavelengths=WAVELENGTHS)
    out = open_memmap(tmp_path / "a.npy", mode="w+", dtype=np.float32, shape=(*LARGE[:2], 3))
    before = resident_file_bytes()
    tracemalloc.start()
    try:
        unmixer.transform(cube, out=out, tile_rows=64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < LARGE_BYTES / 4, f"allocated {peak / 2**20:.1f} MiB"
    grown = resident_file_bytes() - before
    assert grown < LARGE_BYTES / 8, f"{grown / 2**20:.1f} MiB of the files left resident"
    np.testing.assert_allclose(out, unmixer.transform(cube), atol=1e-5)


def test_cli_streams_an_hsi_into_a_npy_atomically(unmixer, scene_path, tmp_path):
    run = tmp_path / "run"
    unmixer.save(RunLayout(run).unmixing)
    out = tmp_path / "maps" / "scene_abundances.npy"
    args = ["unmix", "infer", "--run", str(run), "--hsi", str(scene_path), "--out", str(out)]
    args += ["--wavelengths", WAVELENGTHS]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = unmixer.transform(read_hsi(scene_path, wavelengths=WAVELENGTHS))
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    assert isinstance(CliRunner().invoke(app, args).exception, OutputExistsError)

    other = tmp_path / "five_bands.npy"
    np.save(other, np.full((8, 8, 5), 0.3, np.float32))
    wrong = [*args[:5], str(other), "--out", str(tmp_path / "maps" / "wrong.npy")]
    failed = CliRunner().invoke(app, [*wrong, "--wavelengths", "400:700:5"])
    assert isinstance(failed.exception, DataFormatError)
    assert "expected 31 bands" in str(failed.exception)
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # nothing half-written

    base = ["unmix", "infer", "--run", str(run), "--hsi", str(scene_path)]
    for bad, message in [
        (["--out", str(tmp_path / "a.txt")], "--out is the abundance map's .npy file"),
        (["--out", str(out), "--rgb", str(tmp_path)], "either --rgb"),
    ]:
        refused = CliRunner().invoke(app, [*base, *bad])
        assert isinstance(refused.exception, ConfigError) and message in str(refused.exception)
