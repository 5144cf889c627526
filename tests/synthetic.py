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


def labelled_scene(
    *, size: int = 40, n_classes: int = 3, stripe: int = 8, seed: int = 0
) -> tuple[HyperCube, np.ndarray, np.ndarray]:
    """Return (cube, labels (size, size) 0..n_classes, endmembers (n_classes, n_bands)).

    Diagonal fields of classes 1..n_classes (a row of unlabelled pixels between them, as in
    Salinas-A); in class c's field endmember c has abundance 0.6-0.9, varying smoothly, and
    the others share the rest, so each class has its own mean spectrum and texture.
    """
    cube, endmembers, _ = known_scene(size=size, k=n_classes, seed=seed)
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((size, size))
    band = (rows + cols) // stripe
    labels = (band % n_classes + 1).astype(np.int64)
    labels[(rows + cols) % stripe == 0] = 0
    dominant = 0.75 + 0.15 * np.tanh(gaussian_filter(rng.normal(size=(size, size)), 2) * 4)
    rest = rng.dirichlet(np.ones(n_classes - 1), size=(size, size))
    abundances = np.zeros((size, size, n_classes), dtype=np.float32)
    for c in range(n_classes):
        here = band % n_classes == c
        others = [j for j in range(n_classes) if j != c]
        abundances[here, c] = dominant[here]
        for i, j in enumerate(others):
            abundances[..., j][here] = (1 - dominant[here]) * rest[here][:, i]
    data = abundances @ endmembers + rng.normal(0, 0.003, (size, size, len(endmembers[0])))
    cube = HyperCube(np.clip(data, 0, None).astype(np.float32), cube.wavelengths_nm, "<labelled>")
    return cube, labels, endmembers


def class_folders(
    root: Path, *, n_per_class: int = 8, size: int = 12, n_classes: int = 3, seed: int = 0
) -> np.ndarray:
    """Write a scene-classification set ``root/class_<c>/<i>.npy`` (31 bands, 400-700 nm);
    returns the endmembers (n_classes, 31).

    In every image of class c endmember c covers 60 % of each pixel and a smooth random mix
    of all endmembers the rest, so each class has its own mean spectrum and every image its
    own texture.
    """
    _, endmembers, _ = known_scene(size=size, k=n_classes, seed=seed)
    for c in range(n_classes):
        folder = root / f"class_{c}"
        folder.mkdir(parents=True)
        for i in range(n_per_class):
            _, _, mix = known_scene(size=size, k=n_classes, seed=seed + 1000 * c + i + 1)
            abundances = 0.4 * mix
            abundances[..., c] += 0.6
            np.save(folder / f"{i}.npy", (abundances @ endmembers).astype(np.float32))
    return endmembers
