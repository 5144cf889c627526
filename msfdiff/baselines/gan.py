"""Abundance GAN: the paper's "abundance-based BigGAN" baseline (Table 5), BigGAN's ideas
(Brock et al. 2019) at a small scale.

The generator maps ``z`` to a 4x4 grid and doubles it with residual blocks (batch norm, ReLU,
nearest up-sampling, 3x3 convs) up to the training size, with one SAGAN self-attention block
on the way; its k output logits go through a softmax, so every map lies on the simplex like
MSF-Diff's and is fused with the same endmembers. The discriminator mirrors it with residual
down-sampling blocks, the same attention, global sum pooling and a linear score. As in BigGAN:
spectral normalisation in both networks, the hinge loss, Adam with betas (0, 0.999) and a
discriminator learning rate above the generator's (two time scales), and samples drawn from an
exponential moving average (EMA) of the generator's weights.

The EMA generator keeps its own batch-norm statistics: after each weight update it runs once
in training mode on the step's latents, an amortised form of BigGAN's "standing statistics".
Samples use those running statistics (eval mode), so sample i never depends on its batch.

Scaled down from BigGAN for CPU training (2000 steps in minutes): width 8 instead of 64-96
channels per unit (64 at 4x4 instead of 1024), one discriminator step per generator step (the two learning rates instead
of BigGAN's two D steps), no class conditioning (so plain batch norm, no shared embedding or
hierarchical z), no orthogonal regularisation or truncation trick, EMA decay 0.999 from step
200 instead of 0.9999 from step 20 000. ``width`` grows it back (paper-like: ``width=64``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from msfdiff.baselines.training import (
    TorchGenerator,
    TrainingSettings,
    random_batch,
    sample_noise,
)
from msfdiff.errors import ConfigError

MAX_MULTIPLIER = 8
"""Channels double at each halving of the resolution, up to this many times ``width``."""


@dataclasses.dataclass(frozen=True)
class GANConfig(TrainingSettings):
    """Hyperparameters of :class:`AbundanceGAN` (CPU defaults: ~0.1 s a step at 64x64,
    batch 16, k=5 on 2 cores).

    ``learning_rate`` is the generator's, ``discriminator_learning_rate`` the discriminator's.
    ``width``: channels at full resolution (x2 per halving, up to x8). ``attention_resolution``:
    size (px) of the self-attention block, between 8 and half the training size.
    ``ema_decay`` applies from step ``ema_start``; before it the EMA copies the generator.
    """

    max_steps: int = 2000
    learning_rate: float = 1e-4
    discriminator_learning_rate: float = 4e-4
    latent_dim: int = 64
    width: int = 8
    attention_resolution: int = 16
    ema_decay: float = 0.999
    ema_start: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("latent_dim", "width", "attention_resolution"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.discriminator_learning_rate <= 0:
            raise ConfigError("discriminator_learning_rate must be > 0")
        if not 0.0 <= self.ema_decay < 1.0 or self.ema_start < 0:
            raise ConfigError(
                f"ema_decay must be in [0, 1) and ema_start >= 0, got {self.ema_decay}, "
                f"{self.ema_start}"
            )


class AbundanceGAN(TorchGenerator):
    """A BigGAN-style GAN of abundance maps; samples come from the EMA generator.

    Unconditional; draws only its training size. Examples
    --------
    >>> gan = AbundanceGAN(max_steps=2000).fit(dataset, "runs/gan")  # doctest: +SKIP
    >>> maps = gan.generate(8, seed=0)  # (8, 64, 64, k), on the simplex  # doctest: +SKIP
    """

    output_space = "abundances"
    Config = GANConfig

    def describe(self, dataset: Any) -> dict[str, Any]:
        meta = super().describe(dataset)
        _check_size(dataset.height, dataset.width, self.config)
        return meta

    def build(self, meta: Mapping[str, Any]) -> dict[str, nn.Module]:
        config, size, channels = self.config, int(meta["size"]), int(meta["channels"])
        args = (size, config.width, config.attention_resolution)
        generator = _GeneratorNet(channels, config.latent_dim, *args)
        ema = _GeneratorNet(channels, config.latent_dim, *args).requires_grad_(False)
        ema.load_state_dict(generator.state_dict())
        return {
            "generator": generator,
            "discriminator": _DiscriminatorNet(channels, *args),
            "ema": _EMA(ema),
        }

    def make_optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """One Adam per player, BigGAN's betas, two time scales."""
        betas = (0.0, 0.999)
        return {
            "generator": torch.optim.Adam(
                modules["generator"].parameters(), lr=self.config.learning_rate, betas=betas
            ),
            "discriminator": torch.optim.Adam(
                modules["discriminator"].parameters(),
                lr=self.config.discriminator_learning_rate,
                betas=betas,
            ),
        }

    def train_step(
        self,
        dataset: Any,
        optimizers: Mapping[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, float]:
        """A discriminator step, then a generator step on the same fakes, then the EMA."""
        config = self.config
        g_net, d_net = self.modules["generator"], self.modules["discriminator"]
        real, _ = random_batch(dataset, config.batch_size, generator)
        z = torch.randn((len(real), config.latent_dim), generator=generator)
        fake = torch.softmax(g_net(z), dim=1)
        real_score, fake_score = d_net(real), d_net(fake.detach())
        d_loss = F.relu(1.0 - real_score).mean() + F.relu(1.0 + fake_score).mean()
        optimizers["discriminator"].zero_grad()
        d_loss.backward()
        optimizers["discriminator"].step()
        d_net.requires_grad_(False)  # the generator's step needs no discriminator gradients
        g_loss = -d_net(fake).mean()
        d_net.requires_grad_(True)
        optimizers["generator"].zero_grad()
        g_loss.backward()
        optimizers["generator"].step()
        self.modules["ema"].update(g_net, z, config.ema_decay, config.ema_start)
        return {"d_hinge": d_loss.item(), "g_hinge": g_loss.item()}

    def check_request(
        self, *, class_name: str | None = None, size: int | None = None, **options: Any
    ) -> dict[str, Any]:
        super().check_request(class_name=class_name, size=size, **options)
        return {"size": self._size(size)}

    def sample(
        self,
        indices: Sequence[int],
        *,
        seed: int,
        class_name: str | None = None,
        size: int | None = None,
        **options: Any,
    ) -> np.ndarray:
        self._size(size)
        z = sample_noise(self.sample_generators(indices, seed), (self.config.latent_dim,))
        with torch.no_grad():  # one map at a time: batched convolutions round differently
            logits = torch.cat([self.modules["ema"].model(z[j : j + 1]) for j in range(len(z))])
            maps = torch.softmax(logits, dim=1)
        return maps.permute(0, 2, 3, 1).numpy().astype(np.float32)

    def facts(self) -> dict[str, int | None]:
        """Parameters of the generator and discriminator (the EMA copy is not counted twice)."""
        params = sum(
            p.numel()
            for name in ("generator", "discriminator")
            for p in self.modules[name].parameters()
        )
        return {"parameters": params, "training_steps": self.config.max_steps}

    def _size(self, size: int | None) -> int:
        trained = int(self.meta["size"])
        if size is not None and size != trained:
            raise ConfigError(f"the GAN draws only its training size {trained}, not {size}")
        return trained


def _check_size(height: int, width: int, config: GANConfig) -> None:
    """Refuse maps the networks cannot be built for: square, 4 * 2^m px, attention inside,
    a chunk of ``z`` for the 4x4 grid and each of the m blocks."""

    def doubles_from_4(n: int) -> bool:
        return n >= 8 and n & (n - 1) == 0

    if height != width or not doubles_from_4(height):
        raise ConfigError(f"the GAN needs square maps of 4 * 2^m px (m >= 1), got {height}x{width}")
    attention = config.attention_resolution
    if not (doubles_from_4(attention) and attention <= height // 2):
        raise ConfigError(
            f"attention_resolution must be a power of two from 8 to half the map size "
            f"{height}, got {attention}"
        )
    chunks = height.bit_length() - 2  # 1 + m
    if config.latent_dim < chunks:
        raise ConfigError(
            f"latent_dim must be >= {chunks} (one chunk per block), got {config.latent_dim}"
        )


def _channels(width: int, size: int, resolution: int) -> int:
    return width * min(MAX_MULTIPLIER, size // resolution)


class _SelfAttention(nn.Module):
    """SAGAN's self-attention (Zhang et al. 2019): every position attends to all others through
    1x1 query/key (C/8) and value (C/2) maps; the result is added with a gain that starts at 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.query = spectral_norm(nn.Conv2d(channels, inner, 1, bias=False))
        self.key = spectral_norm(nn.Conv2d(channels, inner, 1, bias=False))
        self.value = spectral_norm(nn.Conv2d(channels, max(1, channels // 2), 1, bias=False))
        self.out = spectral_norm(nn.Conv2d(max(1, channels // 2), channels, 1, bias=False))
        self.gain = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, height, width = x.shape
        query = self.query(x).flatten(2).transpose(1, 2)  # (n, HW, C/8)
        key = self.key(x).flatten(2)  # (n, C/8, HW)
        value = self.value(x).flatten(2)  # (n, C/2, HW)
        attention = torch.softmax(query @ key, dim=-1)  # (n, HW, HW)
        mixed = (value @ attention.transpose(1, 2)).view(n, -1, height, width)
        return x + self.gain * self.out(mixed)


class _ConditionalNorm(nn.Module):
    """BigGAN's conditional batch norm: statistics without affine parameters, then a gain
    ``1 + W_g c`` and a bias ``W_b c`` predicted from the block's chunk ``c`` of ``z``."""

    def __init__(self, channels: int, condition: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = spectral_norm(nn.Linear(condition, channels, bias=False))
        self.bias = spectral_norm(nn.Linear(condition, channels, bias=False))

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        gain, bias = 1.0 + self.gain(condition), self.bias(condition)
        return self.norm(x) * gain[:, :, None, None] + bias[:, :, None, None]


class _UpBlock(nn.Module):
    """BigGAN's generator block: CBN-ReLU-up-conv3x3-CBN-ReLU-conv3x3, shortcut up-conv1x1
    (computed as conv1x1-up, the same map at a quarter of the cost)."""

    def __init__(self, channels_in: int, channels_out: int, condition: int) -> None:
        super().__init__()
        self.norm1 = _ConditionalNorm(channels_in, condition)
        self.norm2 = _ConditionalNorm(channels_out, condition)
        self.conv1 = spectral_norm(nn.Conv2d(channels_in, channels_out, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(channels_out, channels_out, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(channels_in, channels_out, 1))

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, condition)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), condition)))
        return h + F.interpolate(self.shortcut(x), scale_factor=2, mode="nearest")


class _DownBlock(nn.Module):
    """BigGAN's discriminator block: (ReLU)-conv3x3-ReLU-conv3x3-avgpool, shortcut
    avgpool-conv1x1 (the two commute). The first block takes the maps themselves, so it starts
    without the ReLU."""

    def __init__(self, channels_in: int, channels_out: int, *, first: bool) -> None:
        super().__init__()
        self.first = first
        self.conv1 = spectral_norm(nn.Conv2d(channels_in, channels_out, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(channels_out, channels_out, 3, padding=1))
        self.shortcut = spectral_norm(nn.Conv2d(channels_in, channels_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        return F.avg_pool2d(h, 2) + self.shortcut(F.avg_pool2d(x, 2))


class _GeneratorNet(nn.Module):
    """``z`` (n, latent_dim) -> logits (n, k, size, size). BigGAN's hierarchical latents: ``z``
    is cut into one chunk for the 4x4 grid and one for each block's conditional norms."""

    def __init__(
        self, channels: int, latent_dim: int, size: int, width: int, attention: int
    ) -> None:
        super().__init__()
        resolutions = [4 * 2**i for i in range(1, size.bit_length() - 2)]  # 8 .. size
        self.chunks = [len(c) for c in torch.arange(latent_dim).tensor_split(len(resolutions) + 1)]
        self.start = _channels(width, size, 4)
        self.linear = spectral_norm(nn.Linear(self.chunks[0], self.start * 16))
        self.blocks = nn.ModuleList(
            _UpBlock(_channels(width, size, r // 2), _channels(width, size, r), chunk)
            for r, chunk in zip(resolutions, self.chunks[1:], strict=True)
        )
        self.attention_after = resolutions.index(attention)
        self.attention = _SelfAttention(_channels(width, size, attention))
        self.norm = nn.BatchNorm2d(width)
        self.out = spectral_norm(nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        first, *chunks = z.split(self.chunks, dim=1)
        h = self.linear(first).view(len(z), self.start, 4, 4)
        for i, (block, chunk) in enumerate(zip(self.blocks, chunks, strict=True)):
            h = block(h, chunk)
            if i == self.attention_after:
                h = self.attention(h)
        return self.out(F.relu(self.norm(h)))


class _DiscriminatorNet(nn.Module):
    """Maps (n, k, size, size) -> one score each (higher: more real)."""

    def __init__(self, channels: int, size: int, width: int, attention: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        resolution, channels_in = size, channels
        while resolution > 4:  # BigGAN's widths: a block works at its input's resolution
            channels_out = _channels(width, size, resolution)
            resolution //= 2
            blocks.append(_DownBlock(channels_in, channels_out, first=not blocks))
            if resolution == attention:
                blocks.append(_SelfAttention(channels_out))
            channels_in = channels_out
        self.blocks = nn.Sequential(*blocks)
        self.final = spectral_norm(nn.Conv2d(channels_in + 1, channels_in, 3, padding=1))
        self.linear = spectral_norm(nn.Linear(channels_in, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores of one batch, all real or all fake: the batch's spread is one of its features."""
        h = F.relu(self.blocks(x))
        spread = h.std(0, unbiased=False).mean().expand(len(h), 1, *h.shape[2:])
        h = F.relu(self.final(torch.cat([h, spread], dim=1)))
        return self.linear(h.sum((2, 3))).squeeze(1)


class _EMA(nn.Module):
    """An exponential moving average of the generator (what samples come from), and the count
    of updates so far (saved with the weights, so a resumed run starts averaging on time)."""

    def __init__(self, model: _GeneratorNet) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    @torch.no_grad()
    def update(self, source: nn.Module, z: torch.Tensor, decay: float, start: int) -> None:
        """Move the weights toward ``source``'s (copy them before ``start`` updates), then
        refresh the batch-norm statistics and spectral-norm vectors with one forward on ``z``."""
        keep = decay if int(self.updates) >= start else 0.0
        for mine, theirs in zip(self.model.parameters(), source.parameters(), strict=True):
            mine.lerp_(theirs, 1.0 - keep)
        self.model.train()
        self.model(z)
        self.updates += 1
