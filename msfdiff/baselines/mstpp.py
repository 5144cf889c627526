"""MST++ (Cai et al., "MST++: Multi-stage Spectral-wise Transformer for Efficient Spectral
Reconstruction", CVPRW 2022) as Table 5's spectral super-resolution row.

MST++ makes no new scenes: it learns to turn a 3-channel image into an HSI from (3-channel
input, HSI) pairs cut from the real HSIs, then converts the photo collection. Its sample ``i`` is
photo ``i % M`` as an HSI, so the row measures how far photos plus spectral super-resolution get
without a generative model.

The network (:class:`MSTPlusPlus`) follows the paper: a 3x3 ``conv_in`` to ``n_feat`` shallow
features, ``stages`` single-stage spectral-wise transformers (:class:`SingleStageMST`, each a
U-Net of S-MSA blocks with its own residual), a 3x3 ``conv_out`` and the shallow features added
back (the paper's global residual). It trains with the L1 loss on reflectance, not the paper's
MRAE (mean |error| / reference), because MRAE divides by reflectances near 0 (shadows, water,
absorption bands), where it explodes and rules the gradient.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msfdiff._io import atomic_write
from msfdiff.baselines.training import TorchGenerator, TrainingSettings, random_batch
from msfdiff.errors import ConfigError, DataFormatError
from msfdiff.progress import Log, Progress, no_log

PHOTOS_NAME = "photos.npy"
"""The photos a fitted MST++ converts, float16, beside its weights."""
PAD_MULTIPLE = 8
"""Inputs are reflect-padded to a multiple of this (two 2x down-samplings, as the paper pads)."""


# -- the network ---------------------------------------------------------------------------


class SpectralAttention(nn.Module):
    """S-MSA: self-attention whose tokens are channels, not pixels, so its cost grows with the
    pixel count only linearly. Per head, L2-normalised queries and keys (over pixels) give a
    channel-by-channel map scaled by a learned temperature; a depth-wise positional branch on the
    values restores the spatial detail that channel tokens lose."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Conv2d(dim, 3 * dim, 1, bias=False)
        self.rescale = nn.Parameter(torch.ones(heads, 1, 1))
        self.proj = nn.Conv2d(dim, dim, 1)
        self.position = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False),
            nn.GELU(),
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=1)
        q, k, tokens = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attention = (q @ k.transpose(-2, -1) * self.rescale).softmax(dim=-1)
        out = (attention @ tokens).reshape(b, c, h, w)
        return self.proj(out) + self.position(v)


class ChannelLayerNorm(nn.LayerNorm):
    """Layer norm over the channels of a (B, C, H, W) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class SpectralBlock(nn.Module):
    """S-MSA then a feed-forward net (1x1 up x4, depth-wise 3x3, 1x1 down; GELUs) behind a
    layer norm, each with a residual (the paper's MSAB)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attention = SpectralAttention(dim, heads)
        self.norm = ChannelLayerNorm(dim)
        hidden = 4 * dim
        self.feed_forward = nn.Sequential(
            nn.Conv2d(dim, hidden, 1, bias=False),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
            nn.GELU(),
            nn.Conv2d(hidden, dim, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(x)
        return x + self.feed_forward(self.norm(x))


def _blocks(dim: int, heads: int, n: int) -> nn.Sequential:
    return nn.Sequential(*(SpectralBlock(dim, heads) for _ in range(n)))


class SingleStageMST(nn.Module):
    """One stage: a U-Net over widths dim, 2dim, 4dim (4x4 stride-2 convs down, 2x2 transposed
    convs up, skips fused by 1x1 convs) of spectral blocks with one head per ``dim`` channels,
    between two 3x3 convs, plus its input (the paper's SST)."""

    def __init__(self, dim: int, blocks: int) -> None:
        super().__init__()
        widths = (dim, 2 * dim)
        self.embedding = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.encoder = nn.ModuleList(_blocks(w, w // dim, blocks) for w in widths)
        self.down = nn.ModuleList(nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False) for w in widths)
        self.bottleneck = _blocks(4 * dim, 4, blocks)
        self.up = nn.ModuleList(nn.ConvTranspose2d(2 * w, w, 2, 2) for w in reversed(widths))
        self.fuse = nn.ModuleList(nn.Conv2d(2 * w, w, 1, bias=False) for w in reversed(widths))
        self.decoder = nn.ModuleList(_blocks(w, w // dim, blocks) for w in reversed(widths))
        self.mapping = nn.Conv2d(dim, dim, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, skips = self.embedding(x), []
        for blocks, down in zip(self.encoder, self.down, strict=True):
            features = blocks(features)
            skips.append(features)
            features = down(features)
        features = self.bottleneck(features)
        for up, fuse, blocks, skip in zip(
            self.up, self.fuse, self.decoder, reversed(skips), strict=True
        ):
            features = blocks(fuse(torch.cat([up(features), skip], dim=1)))
        return self.mapping(features) + x


class MSTPlusPlus(nn.Module):
    """3-channel image (B, 3, H, W) -> HSI (B, bands, H, W), any H, W >= 8.

    The paper's model is ``n_feat=31, stages=3, blocks=1`` at 31 bands (1.62 M parameters).
    Its global residual adds the shallow features to the output, which needs ``n_feat ==
    bands``; with other widths a 1x1 conv projects them (ResNet's projection shortcut).
    """

    def __init__(
        self,
        bands: int,
        *,
        n_feat: int = 31,
        stages: int = 3,
        blocks: int = 1,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, n_feat, 3, padding=1, bias=False)
        self.body = nn.Sequential(*(SingleStageMST(n_feat, blocks) for _ in range(stages)))
        self.conv_out = nn.Conv2d(n_feat, bands, 3, padding=1, bias=False)
        self.shortcut = (
            nn.Identity() if n_feat == bands else nn.Conv2d(n_feat, bands, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        x = F.pad(x, (0, -width % PAD_MULTIPLE, 0, -height % PAD_MULTIPLE), mode="reflect")
        features = self.conv_in(x)
        out = self.conv_out(self.body(features)) + self.shortcut(features)
        return out[..., :height, :width]


# -- the data ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SpectralPairs:
    """What MST++ learns from (real HSI crops and their 3-channel inputs) and is applied to.

    It is also a data set in the item protocol of :class:`~msfdiff.data.maps.MapDataset`:
    item ``i`` is input ``i`` and target ``i`` stacked as one (3 + C, H, W) view, so
    :func:`~msfdiff.baselines.training.random_batch` crops and turns both alike.
    """

    inputs: np.ndarray  # (N, H, W, 3) float32: the unmixer's 3-channel inputs of real HSIs
    targets: np.ndarray  # (N, H, W, C) float32 reflectance of the same HSIs
    photos: np.ndarray  # (M, h, w, 3) float32: the photo collection, same 3-channel space
    wavelengths_nm: np.ndarray  # (C,)
    photo_labels: tuple[str | None, ...] | None = None

    def __post_init__(self) -> None:
        inputs, targets, photos = self.inputs, self.targets, self.photos
        if inputs.ndim != 4 or inputs.shape[-1] != 3 or len(inputs) == 0:
            raise DataFormatError(f"inputs must be (N, H, W, 3), got {inputs.shape}")
        if targets.ndim != 4 or targets.shape[:3] != inputs.shape[:3]:
            raise DataFormatError(f"targets {targets.shape} do not pair with inputs {inputs.shape}")
        if inputs.shape[1] != inputs.shape[2]:
            raise DataFormatError(f"pairs must be square (N, H, H, ...), got {inputs.shape}")
        if photos.ndim != 4 or photos.shape[-1] != 3 or len(photos) == 0:
            raise DataFormatError(f"photos must be (M, h, w, 3), got {photos.shape}")
        if min(photos.shape[1:3]) < PAD_MULTIPLE:
            raise DataFormatError(f"photos must be at least {PAD_MULTIPLE} px, got {photos.shape}")
        if np.shape(self.wavelengths_nm) != targets.shape[-1:]:
            raise DataFormatError(
                f"{np.size(self.wavelengths_nm)} wavelengths for {targets.shape[-1]} bands"
            )
        if self.photo_labels is not None and len(self.photo_labels) != len(photos):
            raise DataFormatError(f"{len(self.photo_labels)} labels for {len(photos)} photos")

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self._stacked[i], -1

    @cached_property
    def _stacked(self) -> torch.Tensor:
        """Inputs and targets side by side, (N, 3 + C, H, W), made once: items are views, so a
        crop copies its window only, not a whole scene."""
        both = np.concatenate([self.inputs, self.targets], axis=-1, dtype=np.float32)
        return torch.from_numpy(both).permute(0, 3, 1, 2)


# -- the generator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MSTPlusPlusConfig(TrainingSettings):
    """Hyperparameters. The default fits the CPU budget of ``msfdiff compare``: 2000 steps of
    8 crops of 64 px at 59 bands take about 3.5 minutes on 2 cores (0.10 s a step, 157 k
    parameters; the paper's width 31 costs 0.23 s a step with one stage). :data:`PAPER_CONFIG`
    is the paper's model and optimiser.

    ``n_feat`` is the width of every stage (heads of ``n_feat`` channels), ``stages`` the
    number of single-stage MSTs, ``blocks`` the spectral blocks per U-Net level, ``crop`` the
    side of the random training windows, and ``cosine`` decays the learning rate to 0 along a
    half cosine over ``max_steps`` (the paper's schedule).
    """

    max_steps: int = 2000
    batch_size: int = 8
    learning_rate: float = 1e-3
    checkpoint_every: int = 500
    crop: int = 64
    n_feat: int = 16
    stages: int = 1
    blocks: int = 1
    cosine: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_feat", "stages", "blocks"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.crop < PAD_MULTIPLE:
            raise ConfigError(f"crop must be >= {PAD_MULTIPLE}, got {self.crop}")


PAPER_CONFIG = MSTPlusPlusConfig(
    n_feat=31, stages=3, blocks=1, crop=128, batch_size=20, learning_rate=4e-4
)
"""The paper's MST++: width 31, 3 stages, one block per level (1.62 M parameters at 31 bands),
Adam at 4e-4 with cosine decay on 128 px crops in batches of 20. The paper trains 300 000
steps; ``max_steps`` is left at the comparison's budget."""


class MSTPlusPlusGenerator(TorchGenerator):
    """MST++ trained on :class:`SpectralPairs`; sample ``i`` is photo ``i % M`` converted
    (clipped at 0), or with ``class_name`` the ``i``-th photo of that class in turn.

    Deterministic: the seed is accepted and unused, since a conversion draws nothing.
    """

    output_space = "hsi"
    fit_data = "spectral_pairs"
    Config: ClassVar[type[MSTPlusPlusConfig]] = MSTPlusPlusConfig

    def __init__(self, config: MSTPlusPlusConfig | None = None, **changes: Any) -> None:
        super().__init__(config, **changes)
        self.photos_: np.ndarray | None = None

    @classmethod
    def paper(cls, **changes: Any) -> Self:
        """The paper's model and optimiser (:data:`PAPER_CONFIG`), with ``changes``."""
        return cls(PAPER_CONFIG, **changes)

    def describe(self, pairs: SpectralPairs) -> dict[str, Any]:
        photos = pairs.photos.astype(np.float16)
        labels = None if pairs.photo_labels is None else list(pairs.photo_labels)
        return {
            "channels": int(pairs.targets.shape[-1]),
            "wavelengths_nm": [float(w) for w in pairs.wavelengths_nm],
            "pairs": len(pairs),
            "pair_size": int(pairs.inputs.shape[1]),
            "photos": len(photos),
            "photo_size": list(photos.shape[1:3]),
            "photos_sha256": hashlib.sha256(photos.tobytes()).hexdigest(),
            "photo_labels": labels,
            "classes": sorted({label for label in labels or () if label is not None}),
        }

    def build(self, meta: Mapping[str, Any]) -> dict[str, nn.Module]:
        config = self.config
        network = MSTPlusPlus(
            meta["channels"], n_feat=config.n_feat, stages=config.stages, blocks=config.blocks
        )
        return {"network": network}

    def fit(
        self,
        pairs: SpectralPairs,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        force: bool = False,
        progress: Progress | None = None,
        log: Log = no_log,
    ) -> Self:
        if not isinstance(pairs, SpectralPairs):
            raise DataFormatError(f"MST++ learns from SpectralPairs, got {type(pairs).__name__}")
        self.photos_ = pairs.photos.astype(np.float16)
        self.wavelengths_nm = np.asarray(pairs.wavelengths_nm, dtype=np.float64)
        return super().fit(pairs, out_dir, resume=resume, force=force, progress=progress, log=log)

    def train_step(
        self,
        dataset: SpectralPairs,
        optimizers: Mapping[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, float]:
        batch, _ = random_batch(dataset, self.config.batch_size, generator, crop=self.config.crop)
        inputs, targets = batch[:, :3], batch[:, 3:]
        optimizer = optimizers["adam"]
        if self.config.cosine:
            self._decay_learning_rate(optimizer)
        loss = (self.modules["network"](inputs) - targets).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"l1": loss.item()}

    def _decay_learning_rate(self, optimizer: torch.optim.Optimizer) -> None:
        """Half-cosine decay over ``max_steps``, at the step Adam has counted (its state is
        checkpointed, so a resumed run follows the same curve)."""
        state = optimizer.state.get(optimizer.param_groups[0]["params"][0], {})
        done = int(state.get("step", 0))
        progress = min(done / self.config.max_steps, 1.0)
        for group in optimizer.param_groups:
            group["lr"] = self.config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * progress))

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def photos(self) -> np.ndarray:
        self.modules  # noqa: B018 (raises when not fitted)
        return self.photos_

    def check_request(
        self, *, class_name: str | None = None, size: int | None = None, **options: Any
    ) -> dict[str, Any]:
        height, width = self.meta["photo_size"]
        if size is not None and (size != height or size != width):
            raise ConfigError(
                f"MST++ converts the photos at their size ({height}x{width}); pass size=None"
            )
        return super().check_request(class_name=class_name, size=size, **options)

    def sample(
        self,
        indices: Sequence[int],
        *,
        seed: int,
        class_name: str | None,
        size: int | None,
        **options: Any,
    ) -> np.ndarray:
        self.check_request(class_name=class_name, size=size)
        rows = self._photo_rows(class_name)
        network = self.modules["network"]
        cubes = []
        with torch.inference_mode():
            for i in indices:  # one at a time: a conversion never depends on its batch
                photo = self.photos[rows[i % len(rows)]].astype(np.float32).transpose(2, 0, 1)
                cube = network(torch.from_numpy(photo)[None]).clamp_min(0.0)
                cubes.append(cube[0].permute(1, 2, 0).numpy())
        return np.stack(cubes).astype(np.float32, copy=False)

    def _photo_rows(self, class_name: str | None) -> list[int]:
        labels = self.meta["photo_labels"]
        if class_name is None:
            return list(range(len(self.photos)))
        return [row for row, label in enumerate(labels) if label == class_name]

    def _save_pretrained(self, folder: Path) -> None:
        super()._save_pretrained(folder)
        atomic_write(folder / PHOTOS_NAME, lambda path: np.save(path, self.photos))

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> Self:
        generator = super().from_pretrained(folder)
        path = Path(folder) / PHOTOS_NAME
        try:
            photos = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataFormatError(f"{path}: cannot read the photos ({exc})") from None
        expected = (generator.meta["photos"], *generator.meta["photo_size"], 3)
        if photos.dtype != np.float16 or photos.shape != expected:
            raise DataFormatError(
                f"{path}: expected float16 {expected}, got {photos.dtype} {photos.shape}"
            )
        generator.photos_ = photos
        generator.wavelengths_nm = np.asarray(generator.meta["wavelengths_nm"], dtype=np.float64)
        return generator
