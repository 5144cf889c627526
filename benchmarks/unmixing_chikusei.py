"""Does the unmixing network beat a linear band-to-spectrum map? (issue: phase-1 acceptance)

Trains on the official MSF-Diff Chikusei patch 118 and evaluates on patch 282, for each band
selector, side by side in one run:

* baseline: least-squares linear map, 3 selected channels + bias → 59 bands (scikit-learn);
* network: ``SceneUnmixer`` with the chosen preset (k abundances → linear mixing), once per
  ``--enclose`` value: the decoder starts at N-FINDR's simplex widened to hold that fraction
  of the training pixels (0: the preset default; 0.99: configs/remote_sensing_cpu.yaml).

Prints PSNR (data range = max of the test cube), SSIM, mean SAD (degrees), training seconds,
and the network−baseline PSNR gain. The paper's Table 3 bar is PSNR ≥ 32 dB, SAD ≤ 7.75°.

Usage: ``python benchmarks/unmixing_chikusei.py [--preset cpu] [--epochs N] [--bands SPEC ...]
[--enclose F ...]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from sklearn.linear_model import LinearRegression

from msfdiff.data import chikusei_msfdiff_wavelengths, parse_band_selector, read_hsi
from msfdiff.data.shared import shared_data_dir
from msfdiff.evaluation.reconstruction import reconstruction_metrics
from msfdiff.unmixing import SceneUnmixer

DEFAULT_BANDS = ("camera:cie1931", "nearest:672,569,471", "indices:27,17,7")


def linear_baseline(spec: str, train, test) -> dict[str, float]:
    """Least-squares map from the selector's 3 channels (+ bias) to the full spectrum."""
    selector = parse_band_selector(spec)
    x_train = selector.hsi_to_rgb(train).reshape(-1, 3)
    x_test = selector.hsi_to_rgb(test).reshape(-1, 3)
    model = LinearRegression().fit(x_train, np.asarray(train.data).reshape(-1, train.n_bands))
    pred = model.predict(x_test).reshape(test.shape)
    return reconstruction_metrics(pred.astype(np.float32), np.asarray(test.data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--bands", nargs="+", default=list(DEFAULT_BANDS))
    parser.add_argument("--enclose", type=float, nargs="+", default=[0.0, 0.99])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = shared_data_dir()
    if data is None:
        print("shared data not found: set MSFDIFF_DATA", file=sys.stderr)
        return 2
    folder = data / "hsi" / "chikusei_msfdiff"
    wl = chikusei_msfdiff_wavelengths()
    train = read_hsi(folder / "block_Chikusei_train_118.mat", key="Y", wavelengths=wl)
    test = read_hsi(folder / "block_Chikusei_train_282.mat", key="Y", wavelengths=wl)
    print(
        f"{'bands':<22}{'model':<14}{'PSNR dB':>9}{'SSIM':>8}{'SAD °':>8}{'train s':>9}{'ΔPSNR':>8}"
    )
    for spec in args.bands:
        base = linear_baseline(spec, train, test)
        rows = [("linear", base, 0.0)]
        for enclose in args.enclose:
            start = time.perf_counter()
            unmixer = SceneUnmixer(
                preset=args.preset,
                band_selection=spec,
                epochs=args.epochs,
                decoder_enclose=enclose,
                random_state=args.seed,
            )
            unmixer.fit(train)
            seconds = time.perf_counter() - start
            net = reconstruction_metrics(unmixer.reconstruct(test), np.asarray(test.data))
            rows.append((f"{args.preset} e={enclose:g}", net, seconds))
        for name, m, secs in rows:
            gain = m["psnr"] - base["psnr"]
            print(
                f"{spec:<22}{name:<14}{m['psnr']:9.2f}{m['ssim']:8.4f}{m['sad_deg']:8.2f}{secs:9.0f}{gain:8.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
