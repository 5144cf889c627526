"""The embedded default scene: real photos and measured spectra from pip-installed packages.

What is real and what is simulated (also in the README):

* **Real**: the photos (scikit-image's bundled test images: astronaut, chelsea, coffee, rocket,
  motorcycle) and the reflectance spectra (colour-science's measured sets: ColorChecker,
  CIE/NIST test colours, rawtoaces 190 patches, …), on the CIE 1931 observer under D65.
* **Simulated**: the hyperspectral cubes. Each photo is "spectrally up-sampled": its colours are
  clustered into a palette, each palette colour is given the measured spectrum whose rendered
  chromaticity is closest, and each pixel mixes the palette spectra by colour similarity and is
  scaled to the pixel's luminance, plus Gaussian sensor noise. So the spatial layout is real,
  the spectra are real, the mixing is simulated.

The photo collection the diffusion model learns from is random crops of the same five photos,
labelled by photo (so class conditioning has classes to work with).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from skimage.transform import resize

from msfdiff.data.bands import parse_band_selector, srgb_decode
from msfdiff.data.cube import HyperCube
from msfdiff.data.spectra import library_spectra

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")
WAVELENGTHS_NM = np.arange(400.0, 701.0, 10.0)
LUMINANCE = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)  # Rec. 709 / sRGB


def load_photo(name: str) -> np.ndarray:
    """A bundled scikit-image photo as sRGB floats in [0, 1], shape (H, W, 3)."""
    import skimage.data

    image = (
        skimage.data.stereo_motorcycle()[0]
        if name == "motorcycle"
        else getattr(skimage.data, name)()
    )
    return np.asarray(image, dtype=np.float32)[..., :3] / 255.0


@dataclass(frozen=True)
class SpectralUpsampler:
    """Turn an sRGB photo into a plausible reflectance cube made of measured spectra.

    Parameters
    ----------
    palette_size : int
        Number of palette colours (materials) per photo.
    sharpness : float
        How strongly a pixel prefers its nearest palette colours (higher: purer pixels).
    noise_std : float
        Gaussian sensor noise added to the reflectance cube.
    """

    palette_size: int = 12
    sharpness: float = 60.0
    noise_std: float = 0.002
    wavelengths_nm: tuple[float, ...] = tuple(WAVELENGTHS_NM)

    def __call__(self, photo: np.ndarray, *, seed: int = 0, source: str = "<photo>") -> HyperCube:
        from sklearn.cluster import KMeans

        wl = np.asarray(self.wavelengths_nm)
        _, spectra = library_spectra(wl)
        renderer = parse_band_selector("camera:cie1931")
        library_rgb = renderer.hsi_to_rgb(spectra[None].astype(np.float32), wavelengths_nm=wl)[0]
        linear = srgb_decode(photo).reshape(-1, 3)
        rng = np.random.default_rng(seed)
        sample = linear[rng.choice(len(linear), size=min(len(linear), 20000), replace=False)]
        centres = (
            KMeans(self.palette_size, n_init=3, random_state=seed)
            .fit(_chroma(sample))
            .cluster_centers_
        )
        picks = [int(np.argmin(((_chroma(library_rgb) - c) ** 2).sum(1))) for c in centres]
        palette, palette_rgb = spectra[picks], library_rgb[picks]

        dist = ((_chroma(linear)[:, None, :] - _chroma(palette_rgb)[None]) ** 2).sum(-1)
        logits = -self.sharpness * dist / max(float(np.median(dist.min(1))) + 1e-3, 1e-3)
        weights = np.exp(logits - logits.max(1, keepdims=True))
        weights /= weights.sum(1, keepdims=True)
        mixed = weights @ palette
        target_y = linear @ LUMINANCE
        mixed_y = (weights @ palette_rgb) @ LUMINANCE
        gain = np.clip(
            target_y / np.maximum(mixed_y, 1e-4), 0.0, 1.0 / np.maximum(mixed.max(1), 1e-4)
        )
        cube = mixed * gain[:, None] + rng.normal(0, self.noise_std, mixed.shape)
        cube = np.clip(cube, 0.0, 1.0).astype(np.float32).reshape(*photo.shape[:2], len(wl))
        return HyperCube(cube, wl, source, {"palette_size": self.palette_size})


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Chromaticity (r, g) = (R, G) / (R + G + B): colour without brightness."""
    total = rgb.sum(-1, keepdims=True) + 1e-4
    return (rgb / total)[..., :2]


def random_crops(
    photo: np.ndarray, *, n: int, size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """``n`` square crops at random positions and scales (from ``size`` to the short side)."""
    h, w = photo.shape[:2]
    crops = []
    for _ in range(n):
        side = int(rng.integers(min(size * 2, min(h, w)) // 2, min(h, w) + 1))
        r, c = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = resize(photo[r : r + side, c : c + side], (size, size), anti_aliasing=True)
        crops.append(crop.astype(np.float32))
    return crops


def build_embedded_dataset(
    out_dir: str | Path,
    *,
    hsi_size: int = 128,
    photo_size: int = 64,
    crops_per_photo: int = 60,
    seed: int = 0,
) -> dict[str, Path]:
    """Write the embedded default data set into ``out_dir``.

    Layout: ``hsi/<photo>.mat`` (key ``HSI``, ``wavelengths``; the centre of each photo,
    resized to ``hsi_size``) and ``rgb/<photo>/<photo>_NNN.png`` (random crops, the external
    photo collection). Returns the two folders.
    """
    import scipy.io
    from PIL import Image

    from msfdiff._io import atomic_path

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    upsampler = SpectralUpsampler()
    for i, name in enumerate(PHOTOS):
        photo = load_photo(name)
        side = min(photo.shape[:2])
        r0, c0 = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        centre = resize(
            photo[r0 : r0 + side, c0 : c0 + side], (hsi_size, hsi_size), anti_aliasing=True
        )
        cube = upsampler(centre.astype(np.float32), seed=seed + i, source=name)
        with atomic_path(out_dir / "hsi" / f"{name}.mat") as tmp:
            scipy.io.savemat(tmp, {"HSI": cube.data, "wavelengths": cube.wavelengths_nm})
        for j, crop in enumerate(random_crops(photo, n=crops_per_photo, size=photo_size, rng=rng)):
            with atomic_path(out_dir / "rgb" / name / f"{name}_{j:03d}.png") as tmp:
                Image.fromarray((crop * 255 + 0.5).astype(np.uint8)).save(tmp, format="PNG")
    return {"hsi": out_dir / "hsi", "rgb": out_dir / "rgb"}
