"""Which band selector should the unmixing encoder see? Prints the table in docs/band-selection.md.

Two questions, both on real data from the shared folder:

1. Information: how much of the 59-band Chikusei cube can a plain linear map (3 channels +
   bias -> 59 bands, least squares) recover from the selector's output? Fit on patch 118,
   test on patch 282; PSNR (data range = max of the test cube) and mean SAD in degrees.
2. Domain match: on the 6 CAVE scenes, how close is ``hsi_to_rgb(cube)`` to
   ``photo_to_input(photo)`` for the database's real sRGB rendering? Mean per-channel
   Pearson correlation, and relative RMSE after the best single global gain.

Usage: ``python benchmarks/band_selection.py [--data DIR]`` (defaults to the shared data).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from msfdiff.data import (
    BandSelector,
    chikusei_msfdiff_wavelengths,
    parse_band_selector,
    read_band_images,
    read_hsi,
    read_photo,
)
from msfdiff.data.shared import shared_data_dir
from msfdiff.errors import ConfigError

CAVE_SCENES = (
    "balloons_ms",
    "flowers_ms",
    "fake_and_real_peppers_ms",
    "oil_painting_ms",
    "jelly_beans_ms",
    "stuffed_toys_ms",
)
SELECTORS = (
    "indices:27,17,7",
    "indices:27,17,7+srgb",
    "nearest:672,569,471",
    "nearest:672,569,471+srgb",
    "nearest:650,550,450",
    "nearest:620,540,460",
    "camera:cie1931",
    "camera:cie1931+srgb",
    "camera:Nikon 5100 (NPL)",
    "camera:Nikon 5100 (NPL)+srgb",
    "camera:Sigma SDMerill (NPL)",
    "camera:Canon EOS 5D Mark II (rawtoaces)",
    "camera:jiang2013:Canon 5DMarkII",
    "camera:jiang2013:Nikon D5100",
    "camera:jiang2013:SONY NEX-5N",
)


def linear_map_scores(selector: BandSelector, train, test) -> tuple[float, float]:
    """PSNR (dB) and mean SAD (degrees) of a least-squares map from 3 channels + bias."""

    def design(cube):
        rgb = selector.hsi_to_rgb(cube).reshape(-1, 3).astype(np.float64)
        return np.hstack([rgb, np.ones((rgb.shape[0], 1))])

    target = np.asarray(train.data, dtype=np.float64).reshape(-1, train.n_bands)
    coef, *_ = np.linalg.lstsq(design(train), target, rcond=None)
    truth = np.asarray(test.data, dtype=np.float64).reshape(-1, test.n_bands)
    pred = design(test) @ coef
    mse = np.mean((pred - truth) ** 2)
    psnr = 10 * np.log10(truth.max() ** 2 / mse)
    cos = np.sum(pred * truth, 1) / (np.linalg.norm(pred, axis=1) * np.linalg.norm(truth, axis=1))
    sad = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).mean()
    return float(psnr), float(sad)


def domain_scores(selector: BandSelector, scenes) -> tuple[float, float]:
    """Mean per-channel correlation and relative RMSE after a global gain, over scenes."""
    corrs, errors = [], []
    for cube, photo in scenes:
        rendered = selector.hsi_to_rgb(cube).reshape(-1, 3).astype(np.float64)
        real = selector.photo_to_input(photo).reshape(-1, 3).astype(np.float64)
        corrs.append(np.mean([np.corrcoef(rendered[:, c], real[:, c])[0, 1] for c in range(3)]))
        gain = np.sum(rendered * real) / np.sum(rendered * rendered)
        errors.append(np.linalg.norm(gain * rendered - real) / np.linalg.norm(real))
    return float(np.mean(corrs)), float(np.mean(errors))


def cave_equivalent(spec: str) -> str:
    """Indices refer to Chikusei bands; on CAVE use the wavelengths those indices stand for."""
    selector = parse_band_selector(spec)
    if selector.method != "indices":
        return spec
    wl = chikusei_msfdiff_wavelengths()[list(selector.indices)]
    encoding = "+srgb" if selector.encoding == "srgb" else ""
    return "nearest:" + ",".join(f"{w:.2f}" for w in wl) + encoding


def load_cave(root: Path) -> list[tuple]:
    scenes = []
    for scene in CAVE_SCENES:
        folder = root / "hsi" / "cave_ms" / scene
        bands = sorted(folder.glob(f"{scene}_[0-9][0-9].png"))
        cube = read_band_images(bands, wavelengths="400:700:31", scale=65535)
        photo = read_photo(next(folder.glob("*_RGB.bmp")))
        scenes.append((cube, photo))
    return scenes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_data_dir(), help="shared data folder")
    args = parser.parse_args(argv)
    if args.data is None or not args.data.is_dir():
        print("shared data folder not found: pass --data or set MSFDIFF_DATA", file=sys.stderr)
        return 2
    start = time.perf_counter()
    chikusei = args.data / "hsi" / "chikusei_msfdiff"
    wl = chikusei_msfdiff_wavelengths()
    train = read_hsi(chikusei / "block_Chikusei_train_118.mat", key="Y", wavelengths=wl)
    test = read_hsi(chikusei / "block_Chikusei_train_282.mat", key="Y", wavelengths=wl)
    scenes = load_cave(args.data)
    print(
        "| selector | Chikusei linear map PSNR (dB) | SAD (°) | CAVE photo corr. | CAVE rel. RMSE |"
    )
    print("|---|---|---|---|---|")
    for spec in SELECTORS:
        try:
            selector = parse_band_selector(spec)
        except ConfigError as exc:  # e.g. a Jiang camera when its file is absent
            print(f"| `{spec}` | skipped: {exc} | | | |")
            continue
        psnr, sad = linear_map_scores(selector, train, test)
        corr, rel = domain_scores(parse_band_selector(cave_equivalent(spec)), scenes)
        print(f"| `{spec}` | {psnr:.1f} | {sad:.2f} | {corr:.3f} | {rel:.3f} |")
    print(f"\n({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
