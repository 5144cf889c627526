"""A synthetic scene with known endmembers and abundances, built from real library spectra.

Uses the measured reflectances colour-science ships, so it needs no shared data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from msfdiff.data.cube import HyperCube
from msfdiff.data.spectra import library_spectra

MAT_SCALE = 10000.0
"""Integer scenes store reflectance x MAT_SCALE."""


def known_scene(
    *, size: int = 32, k: int = 3, n_bands: int = 31, sharpness: float = 4.0, seed: int = 0
) -> tuple[HyperCube, np.ndarray, np.ndarray]:
    """Return (cube, endmembers (k, n_bands), abundances (size, size, k)).

    Endmembers are the ColorChecker patches most different in colour (so three RGB bands can
    tell them apart); abundances are softmax-sharpened smooth random fields with many
    near-pure pixels, which makes the endmembers identifiable.
    """
    wl = np.linspace(400, 700, n_bands)
    names, spectra = library_spectra(wl, sets=["colorchecker-ohta"])
    wanted = ["blue", "green", "red", "yellow", "white 9.5 (.05 D)"][:k]
    picks = [[n.split(":", 1)[1] for n in names].index(w) for w in wanted]
    endmembers = spectra[picks].astype(np.float32)
    rng = np.random.default_rng(seed)
    fields = np.stack(
        [gaussian_filter(rng.normal(size=(size, size)), 3, mode="wrap") for _ in range(k)], -1
    )
    logits = sharpness * fields / fields.std()
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    abundances = (weights / weights.sum(-1, keepdims=True)).astype(np.float32)
    cube = HyperCube(abundances @ endmembers, wl, "<synthetic scene>")
    return cube, endmembers, abundances


def write_experiment_data(folder: Path, *, size: int = 16, k: int = 2) -> dict:
    """The ``data`` section of a tiny experiment written into ``folder``: two known scenes as
    integer .mat files (uint16, reflectance x 10000; the second held out) and six 12x12
    photos in two classes."""
    import scipy.io
    from PIL import Image

    hsi = []
    for seed in (0, 1):
        cube, _, _ = known_scene(size=size, k=k, seed=seed)
        path = folder / f"scene_{seed}.mat"
        scipy.io.savemat(path, {"cube": np.round(cube.data * MAT_SCALE).astype(np.uint16)})
        hsi.append(str(path))
    photos = folder / "photos"
    rng = np.random.default_rng(0)
    for label in ("field", "town"):
        (photos / label).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(photos / label / f"{i}.png")
    return {
        "hsi": hsi[:1],
        "eval_hsi": hsi[1:],
        "rgb": str(photos),
        "key": "cube",
        "scale": MAT_SCALE,
        "wavelengths": "400:700:31",
    }
