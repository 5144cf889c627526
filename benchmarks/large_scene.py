"""Peak memory and throughput on a scene larger than memory: 2517×2335×128 float32 (2.8 GiB).

Writes a synthetic scene (5 smooth random spectra mixed by smoothly varying abundances, plus
1 % noise) as a ``.npy`` in a temporary folder, row block by row block, so it is never whole
in memory; fits a small cpu-preset unmixer on a 128×128 crop (not timed); then, on the
memory-mapped scene, times

* opening it (``read_hsi``, which checks every value for NaN/Inf),
* patch extraction: every 64×64 patch at stride 64 through a manifest and ``PatchSet``,
* whole-scene inference: ``SceneUnmixer.transform`` in row tiles into an ``open_memmap``
  abundance file.

It prints a table with the peak resident set size (``ru_maxrss``, which counts the pages of
memory-mapped files too) after each step, deletes the scene, and exits with 1 if the peak
reached ``--limit-gb`` (1.5). The file was just written, so reads come from the page cache.

Usage::

    python benchmarks/large_scene.py            # the full scene: ~3 GB on disk, a few minutes
    python benchmarks/large_scene.py --quick    # 512×512×128, ~20 s
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")  # before numpy/torch start their thread pools

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numpy.lib.format import open_memmap, write_array_header_1_0

from msfdiff.data.cube import HyperCube
from msfdiff.data.patches import PatchSet, make_manifest
from msfdiff.data.readers import read_hsi
from msfdiff.unmixing import SceneUnmixer

FULL = (2517, 2335, 128)
QUICK = (512, 512, 128)
K = 5
PATCH = 64
BLOCK_ROWS = 64  # rows generated and written at a time
FIT_CROP = 128
UNMIXER = {"steps": 200, "band_selection": "nearest:650,550,450"}


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def write_scene(path: Path, shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Write the synthetic scene block by block with plain writes (no mapping that would
    count towards this process's memory); returns its wavelengths."""
    height, width, n_bands = shape
    rng = np.random.default_rng(seed)
    wavelengths = np.linspace(400.0, 1000.0, n_bands)
    centres, widths = rng.uniform(400, 1000, (K, 3)), rng.uniform(40, 200, (K, 3))
    bumps = np.exp(-(((wavelengths[None, None] - centres[..., None]) / widths[..., None]) ** 2))
    endmembers = (0.05 + 0.5 * bumps.mean(1)).astype(np.float32)  # (K, bands), smooth, > 0
    freq = rng.uniform(1, 6, (K, 3, 2)) * 2 * np.pi / np.array([height, width])
    phase = rng.uniform(0, 2 * np.pi, (K, 3))
    cols = np.arange(width)
    with open(path, "wb") as f:
        write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
        for start in range(0, height, BLOCK_ROWS):
            rows = np.arange(start, min(start + BLOCK_ROWS, height))
            angle = (
                freq[..., 0, None, None] * rows[:, None] + freq[..., 1, None, None] * cols
            ) + phase[..., None, None]  # (K, 3, rows, width)
            logits = 3.0 * np.sin(angle).sum(1)
            weights = np.exp(logits - logits.max(0))
            abundances = (weights / weights.sum(0)).transpose(1, 2, 0).astype(np.float32)
            block = abundances @ endmembers
            block *= 1 + 0.01 * rng.standard_normal(block.shape, dtype=np.float32)
            block.tofile(f)
    return wavelengths


def measure(
    path: Path,
    wavelengths: np.ndarray,
    unmixer: SceneUnmixer,
    record: Callable[[str, float, str], None],
) -> None:
    """Time opening, patch extraction and inference on the scene at ``path``."""
    start = time.perf_counter()
    cube = read_hsi(path, wavelengths=wavelengths)
    seconds = time.perf_counter() - start
    height, width, n_bands = cube.shape
    gib = height * width * n_bands * 4 / 2**30
    record("open + NaN/Inf check", seconds, f"{gib / seconds:.2f} GiB/s")

    start = time.perf_counter()
    manifest = make_manifest(
        [path], size=PATCH, stride=PATCH, val_fraction=0.0, reader=lambda _: cube
    )
    patches = PatchSet(manifest, "train", reader=lambda _: cube)
    for patch in patches:
        assert patch.shape == (PATCH, PATCH, n_bands)
    seconds = time.perf_counter() - start
    mib = len(patches) * PATCH * PATCH * n_bands * 4 / 2**20
    record(
        f"{len(patches)} patches {PATCH}×{PATCH}",
        seconds,
        f"{len(patches) / seconds:.0f} patches/s, {mib / seconds:.0f} MiB/s",
    )

    start = time.perf_counter()
    out = open_memmap(path.with_name("abundances.npy"), "w+", np.float32, (height, width, K))
    unmixer.transform(cube, out=out)
    out.flush()
    seconds = time.perf_counter() - start
    record(
        "inference (band selection + tiled encoder)",
        seconds,
        f"{height * width / 1e6 / seconds:.3f} Mpx/s",
    )
    sums = np.asarray(out[:: max(1, height // 16)]).sum(-1)
    if not np.allclose(sums, 1.0, atol=1e-4):
        raise RuntimeError("abundances do not sum to one: the inference is broken")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"a {QUICK[0]}×{QUICK[1]} scene")
    parser.add_argument("--shape", type=int, nargs=3, metavar=("H", "W", "BANDS"), help="size")
    parser.add_argument("--dir", type=Path, help="where the scene goes (default: system temp)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--limit-gb", type=float, default=1.5, help="peak RSS that fails")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shape = tuple(args.shape) if args.shape else QUICK if args.quick else FULL
    height, width, n_bands = shape
    scene_gib = height * width * n_bands * 4 / 2**30
    rows: list[tuple[str, float, str, float]] = []

    def record(step: str, seconds: float, throughput: str) -> None:
        rows.append((step, seconds, throughput, peak_rss_mb()))

    with tempfile.TemporaryDirectory(prefix="msfdiff-large-", dir=args.dir) as tmp:
        path = Path(tmp) / "scene.npy"
        start = time.perf_counter()
        wavelengths = write_scene(path, shape)
        seconds = time.perf_counter() - start
        record(
            f"write the scene ({scene_gib:.2f} GiB)", seconds, f"{scene_gib / seconds:.2f} GiB/s"
        )

        start = time.perf_counter()
        crop = np.array(np.load(path, mmap_mode="r")[:FIT_CROP, :FIT_CROP])
        unmixer = SceneUnmixer(K, preset="cpu", overrides=UNMIXER)
        unmixer.fit(HyperCube(crop, wavelengths))
        record(f"setup: fit an unmixer on a {FIT_CROP}² crop", time.perf_counter() - start, "")

        measure(path, wavelengths, unmixer, record)

    peak = peak_rss_mb()
    print(f"scene {height}×{width}×{n_bands} float32, {torch.get_num_threads()} torch threads")
    print("| step | time (s) | throughput | peak RSS so far (MiB) |")
    print("|---|---|---|---|")
    for step, seconds, throughput, rss in rows:
        print(f"| {step} | {seconds:.1f} | {throughput} | {rss:.0f} |")
    peak_gb = peak * 2**20 / 1e9
    verdict = "under" if peak_gb < args.limit_gb else "OVER"
    print(f"\npeak RSS {peak:.0f} MiB = {peak_gb:.2f} GB, {verdict} the {args.limit_gb} GB limit")
    return 0 if peak_gb < args.limit_gb else 1


if __name__ == "__main__":
    sys.exit(main())
