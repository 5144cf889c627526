"""Does the unmixing default generalise? Network vs the linear 3-band map on held-out data.

For each data set, train on some scenes and reconstruct others from their own 3 selected
channels, side by side in one run:

* ``linear``: least-squares affine map from the same 3 channels to the full spectrum (one
  per band selection among the variants); ``--degrees 1 2 3`` adds least-squares polynomial
  maps of those degrees (``poly2``, ``poly3``): does *any* per-pixel non-linearity learned on
  the training scenes transfer to the held-out ones?
* one row per ``--variant`` of :class:`SceneUnmixer` (the ``cpu`` preset plus overrides, e.g.
  ``"nearest=band_selection:nearest:672,569,471"`` or ``"k4=n_endmembers:4;steps:3000"``).

Data sets (from ``../shared/data`` or ``$MSFDIFF_DATA``, except ``demo``, which is built from
pip packages):

* ``chikusei``: official MSF-Diff patch 118 → 282 (59 bands, 399–698 nm);
* ``cave``: balloons, flowers, peppers, oil painting → jelly beans, stuffed toys (2×2-binned
  to 256², 31 bands, 400–700 nm);
* ``cave-folds``: each of the six shared CAVE scenes held out in turn, the other five trained
  on (six fits per variant and seed; one row per fold, then their mean);
* ``cave-more``: every other scene of a full CAVE copy (``--cave DIR``, e.g. the 32-scene
  database, either layout ``DIR/<scene>/*.png`` or ``DIR/<scene>/<scene>/*.png``; the
  8-bit ``watercolors_ms`` is skipped) → the six shared scenes (their mean);
* ``demo``: the embedded scene of ``msfdiff demo``, four cubes → rocket;
* ``samson``: left half → right half (156 bands, 401–899 nm: most of the spectrum lies beyond
  what an RGB camera sees).

Prints held-out PSNR (dB, data range = the target's maximum), SAD (°), the lowest endmember
value, the least-used endmember's mean abundance, the number of re-seeds and training seconds.

Usage: ``python benchmarks/unmixing_across_data.py [--data chikusei cave cave-folds demo samson]
[--variant "NAME=key:value;key:value" ...] [--seeds 0 1] [--degrees 1 2 3]
[--cave DIR --data cave-more]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from msfdiff.data import chikusei_msfdiff_wavelengths, read_hsi
from msfdiff.data.cube import HyperCube
from msfdiff.data.readers import read_band_images
from msfdiff.data.shared import shared_data_dir
from msfdiff.errors import DegenerateModelError
from msfdiff.evaluation.reconstruction import reconstruction_metrics
from msfdiff.unmixing import DEFAULT_PRESET, SceneUnmixer

CAVE_TRAIN = ("balloons_ms", "flowers_ms", "fake_and_real_peppers_ms", "oil_painting_ms")
CAVE_TEST = ("jelly_beans_ms", "stuffed_toys_ms")
CAVE_SHARED = (*CAVE_TRAIN, *CAVE_TEST)


def splits(
    name: str, data: Path | None, cave: Path | None = None
) -> list[tuple[str, list[HyperCube], list[HyperCube]]]:
    """(label, training cubes, held-out cubes) of each split of one data set."""
    if name == "cave-more":
        return [_cave_more(cave)]
    if name != "cave-folds":
        return [(name, *load(name, data))]
    if data is None:
        raise SystemExit("shared data not found: set MSFDIFF_DATA")
    scenes = {s: _cave(data / "hsi" / "cave_ms" / s) for s in CAVE_SHARED}
    return [
        (f"cave-{held.split('_')[0]}", [c for s, c in scenes.items() if s != held], [scenes[held]])
        for held in scenes
    ]


def load(name: str, data: Path | None) -> tuple[list[HyperCube], list[HyperCube]]:
    """(training cubes, held-out cubes) of one data set."""
    if name == "demo":
        from msfdiff.data.embedded import build_embedded_dataset

        folder = Path(tempfile.mkdtemp()) / "embedded"
        build_embedded_dataset(folder)
        cubes = [read_hsi(p) for p in sorted((folder / "hsi").glob("*.mat"))]
        return cubes[:-1], cubes[-1:]
    if data is None:
        raise SystemExit("shared data not found: set MSFDIFF_DATA")
    if name == "chikusei":
        folder, wl = data / "hsi" / "chikusei_msfdiff", chikusei_msfdiff_wavelengths()
        read = [
            read_hsi(folder / f"block_Chikusei_train_{i}.mat", key="Y", wavelengths=wl)
            for i in (118, 282)
        ]
        return read[:1], read[1:]
    if name == "cave":
        folder = data / "hsi" / "cave_ms"
        return [_cave(folder / s) for s in CAVE_TRAIN], [_cave(folder / s) for s in CAVE_TEST]
    if name == "samson":
        cube = read_hsi(
            data / "hsi" / "samson" / "samson_1.mat",
            wavelengths=data / "hsi" / "wavelengths" / "samson.csv",
        )
        half = cube.shape[1] // 2
        return [cube.with_data(cube.data[:, :half])], [cube.with_data(cube.data[:, half:])]
    raise SystemExit(f"unknown data set {name!r}")


def _cave_more(cave: Path | None) -> tuple[str, list[HyperCube], list[HyperCube]]:
    """Every scene of a full CAVE copy but the six shared ones → those six."""
    if cave is None or not cave.is_dir():
        raise SystemExit("--data cave-more needs --cave DIR, a folder of CAVE scene folders")
    missing = [s for s in CAVE_SHARED if not (cave / s).is_dir()]
    others = sorted(
        p
        for p in cave.iterdir()
        if p.is_dir() and p.name.endswith("_ms") and p.name not in (*CAVE_SHARED, "watercolors_ms")
    )
    if missing or not others:
        raise SystemExit(
            f"{cave}: needs the six shared CAVE scenes (missing: {missing or 'none'}) and at "
            "least one other <scene>_ms folder"
        )
    return "cave-more", [_cave(p) for p in others], [_cave(cave / s) for s in CAVE_SHARED]


def _cave(folder: Path) -> HyperCube:
    """One CAVE scene (31 PNGs, 400–700 nm), 2×2-binned to 256²."""
    if (folder / folder.name).is_dir():  # the database's own zip layout
        folder = folder / folder.name
    scene = folder.name
    bands = sorted(folder.glob(f"{scene}_[0-9][0-9].png"))
    if len(bands) != 31:
        raise SystemExit(
            f"{folder}: expected 31 band PNGs {scene}_01.png … _31.png, found {len(bands)}"
        )
    cube = read_band_images(
        bands,
        wavelengths="400:700:31",
        scale=65535,
        source=scene,
    )
    h, w, c = cube.shape
    binned = cube.data.reshape(h // 2, 2, w // 2, 2, c).mean((1, 3), dtype=np.float32)
    return cube.with_data(binned)


def polynomial_baselines(
    unmixer: SceneUnmixer, train: list[HyperCube], test: list[HyperCube], degrees: list[int]
) -> dict[int, dict[str, float]]:
    """Held-out metrics of least-squares polynomial maps (degree 1: affine) from the unmixer's
    3 input channels to the full spectrum, one per degree."""
    x = np.concatenate([unmixer.rgb_from_hsi(c).reshape(-1, 3) for c in train])
    y = np.concatenate([np.asarray(c.data).reshape(-1, c.n_bands) for c in train])
    inputs = [unmixer.rgb_from_hsi(c).reshape(-1, 3) for c in test]  # once, for every degree
    found = {}
    for degree in degrees:
        poly = PolynomialFeatures(degree, include_bias=False)  # LinearRegression fits the bias
        fit = make_pipeline(poly, LinearRegression()).fit(x, y)
        found[degree] = _mean(
            [
                reconstruction_metrics(
                    fit.predict(rgb).reshape(c.shape).astype(np.float32), np.asarray(c.data)
                )
                for rgb, c in zip(inputs, test, strict=True)
            ]
        )
    return found


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in ("psnr", "sad_deg")}


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, spec = text.partition("=")
    overrides = {}
    for item in filter(None, spec.split(";")):
        key, _, value = item.partition(":")
        overrides[key] = yaml.safe_load(value)
    return name, overrides


def run_split(
    name: str,
    train: list[HyperCube],
    test: list[HyperCube],
    args: argparse.Namespace,
    means: dict[str, list[dict[str, float]]],
) -> None:
    """Fit every variant and seed on ``train``; print held-out rows (and keep them in ``means``)."""
    baselines: set[str] = set()  # one per band selection
    for variant in args.variant:
        label, overrides = parse_variant(variant)
        for seed in args.seeds:
            start = time.perf_counter()
            unmixer = SceneUnmixer(preset=args.preset, overrides=overrides, random_state=seed)
            try:
                unmixer.fit(train)
            except DegenerateModelError as err:
                print(f"{name:<10}{label:<22}{seed:>5}  collapsed: {err}", flush=True)
                continue
            seconds = time.perf_counter() - start
            bands = unmixer.band_selector_.spec
            if bands not in baselines:
                baselines.add(bands)
                for degree, base in polynomial_baselines(
                    unmixer, train, test, args.degrees
                ).items():
                    model = "linear" if degree == 1 else f"poly{degree}"
                    means.setdefault(model, []).append(base)
                    print(
                        f"{name:<10}{model + ' ' + bands:<22}{'':>5}{base['psnr']:9.2f}"
                        f"{base['sad_deg']:8.2f}",
                        flush=True,
                    )
            net = _mean(
                [reconstruction_metrics(unmixer.reconstruct(c), np.asarray(c.data)) for c in test]
            )
            means.setdefault(label, []).append(net)
            print(
                f"{name:<10}{label:<22}{seed:>5}{net['psnr']:9.2f}{net['sad_deg']:8.2f}"
                f"{unmixer.endmembers_.min():8.3f}{unmixer.usage_.min():9.3f}"
                f"{unmixer.reseeds_:8d}{seconds:9.0f}",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=["chikusei", "cave", "demo", "samson"])
    parser.add_argument("--variant", nargs="+", default=["default="])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--degrees", type=int, nargs="+", default=[1], help="polynomial baselines (1: linear)"
    )
    parser.add_argument("--preset", default=DEFAULT_PRESET)
    parser.add_argument("--cave", type=Path, help="a full CAVE copy, for --data cave-more")
    args = parser.parse_args()
    if min(args.degrees) < 1:
        parser.error("--degrees are polynomial degrees ≥ 1")
    args.degrees = sorted(set(args.degrees))
    if args.cave is not None and "cave-more" not in args.data:
        parser.error("--cave is read by --data cave-more only")
    root = shared_data_dir()
    print(
        f"{'data':<10}{'model':<22}{'seed':>5}{'PSNR dB':>9}{'SAD °':>8}{'min E':>8}"
        f"{'min use':>9}{'reseeds':>8}{'train s':>9}",
        flush=True,
    )
    for name in args.data:
        means: dict[str, list[dict[str, float]]] = {}
        folds = splits(name, root, args.cave)
        for label, train, test in folds:
            run_split(label, train, test, args, means)
        if len(folds) > 1:
            for model, rows in means.items():
                mean = _mean(rows)
                print(
                    f"{name + ' mean':<10}{model:<22}{'':>5}{mean['psnr']:9.2f}{mean['sad_deg']:8.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
