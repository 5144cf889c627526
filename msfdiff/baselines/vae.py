"""Abundance VAE: the paper's "abundance-based E-VDVAE" baseline (Table 5), a small hierarchical
VAE in the spirit of Efficient-VDVAE (Hazami et al. 2022; VDVAE, Child 2021).

A bottom-up encoder of residual blocks halves the map down to the coarsest latent resolution;
a top-down decoder starts there and, at each latent resolution (default 4, 8 and 16 px), draws
one group of latents from a diagonal Gaussian: the prior ``p(z_l | z_<l)`` is predicted from
the top-down state, the posterior ``q(z_l | x, z_<l)`` from that state and the encoder's
features at the same resolution. The decoder ends in k logits whose softmax is the abundance
map, so every sample lies on the simplex like MSF-Diff's and is fused with the same endmembers.

The reconstruction term treats each pixel's abundances as soft targets of a categorical
likelihood: ``KL(a || softmax(logits))`` summed over pixels (the cross-entropy less the data's
own entropy, so a perfect reconstruction costs 0). The loss is the beta-weighted negative ELBO
per pixel, beta warmed up linearly; gradients are clipped by norm.

Scaled down from the originals for CPU training (2000 steps in minutes): one group per
resolution instead of dozens, width 32 instead of 256-512, one residual block per resolution,
no skip of huge-gradient updates, no learning-rate schedule or EMA of the weights. Kept:
VDVAE's bottleneck residual blocks and zero-initialised priors (every group starts at
``N(0, 1)``), Efficient-VDVAE's softplus standard deviations
("gradient smoothing"). ``width`` and ``blocks_per_resolution`` grow it back.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msfdiff.baselines.training import (
    TorchGenerator,
    TrainingSettings,
    random_batch,
    sample_noise,
)
from msfdiff.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class VAEConfig(TrainingSettings):
    """Hyperparameters of :class:`HierarchicalVAE` (CPU defaults: ~0.09 s a step at 64x64,
    batch 16, k=5 on 2 cores; a paper-like model is ``width=256``).

    ``latent_resolutions``: sizes (px) of the latent groups, each a power-of-two fraction of
    the training size; ``latent_channels``: channels of each group. ``beta`` weights the KL,
    reached linearly over ``warmup_steps``; ``grad_clip`` bounds the gradient norm;
    ``temperature`` scales the prior's standard deviations when sampling (1 = the model).
    """

    max_steps: int = 2000
    learning_rate: float = 1e-3
    width: int = 32
    blocks_per_resolution: int = 1
    latent_channels: int = 4
    latent_resolutions: tuple[int, ...] = (4, 8, 16)
    beta: float = 1.0
    warmup_steps: int = 200
    grad_clip: float = 200.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "latent_resolutions", tuple(sorted(self.latent_resolutions)))
        for name in ("width", "blocks_per_resolution", "latent_channels", "warmup_steps"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width % 4:
            raise ConfigError(
                f"width must be a multiple of 4 (bottleneck width/4), got {self.width}"
            )
        resolutions = self.latent_resolutions
        if not resolutions or len(set(resolutions)) != len(resolutions) or resolutions[0] < 1:
            raise ConfigError(f"latent_resolutions must be distinct sizes >= 1, got {resolutions}")
        if self.beta < 0 or self.grad_clip <= 0 or self.temperature < 0:
            raise ConfigError("beta and temperature must be >= 0 and grad_clip > 0")


class HierarchicalVAE(TorchGenerator):
    """Hierarchical VAE of abundance maps; samples are drawn top-down from the priors.

    Unconditional; draws only its training size. Examples
    --------
    >>> vae = HierarchicalVAE(max_steps=2000).fit(dataset, "runs/vae")  # doctest: +SKIP
    >>> maps = vae.generate(8, seed=0)  # (8, 64, 64, k), on the simplex  # doctest: +SKIP
    """

    output_space = "abundances"
    Config = VAEConfig

    def describe(self, dataset: Any) -> dict[str, Any]:
        meta = super().describe(dataset)
        _ladder(dataset.height, dataset.width, self.config.latent_resolutions)  # refuse early
        return meta

    def build(self, meta: Mapping[str, Any]) -> dict[str, nn.Module]:
        config = self.config
        return {
            "vae": _VAENet(
                channels=int(meta["channels"]),
                ladder=_ladder(meta["size"], meta["size"], config.latent_resolutions),
                latent_resolutions=config.latent_resolutions,
                latent_channels=config.latent_channels,
                width=config.width,
                blocks=config.blocks_per_resolution,
            )
        }

    def train_step(
        self,
        dataset: Any,
        optimizers: Mapping[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, float]:
        config, net = self.config, self.modules["vae"]
        x, _ = random_batch(dataset, config.batch_size, generator)
        noises = {
            r: torch.randn((len(x), config.latent_channels, r, r), generator=generator)
            for r in config.latent_resolutions
        }
        logits, kl = net.decoder(noises, net.encoder(x))
        reconstruction = (torch.xlogy(x, x) - x * F.log_softmax(logits, dim=1)).sum((1, 2, 3))
        pixels = x.shape[2] * x.shape[3]
        beta = config.beta * min(1.0, (int(net.steps) + 1) / config.warmup_steps)
        loss = (reconstruction + beta * kl).mean() / pixels
        optimizers["adam"].zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
        optimizers["adam"].step()
        net.steps += 1
        reconstruction, kl = reconstruction.mean().item() / pixels, kl.mean().item() / pixels
        return {"neg_elbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}

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
        config, net = self.config, self.modules["vae"]
        generators = self.sample_generators(indices, seed)
        noises = {  # drawn group by group, each sample from its own generator
            r: config.temperature * sample_noise(generators, (config.latent_channels, r, r))
            for r in config.latent_resolutions
        }
        with torch.no_grad():  # one map at a time: batched convolutions round differently
            logits = torch.cat(
                [
                    net.decoder({r: z[j : j + 1] for r, z in noises.items()})[0]
                    for j in range(len(generators))
                ]
            )
            maps = torch.softmax(logits, dim=1)
        return maps.permute(0, 2, 3, 1).numpy().astype(np.float32)

    def _size(self, size: int | None) -> int:
        trained = int(self.meta["size"])
        if size is not None and size != trained:
            raise ConfigError(f"the VAE draws only its training size {trained}, not {size}")
        return trained


def _ladder(height: int, width: int, latent_resolutions: Sequence[int]) -> list[int]:
    """Resolutions of the encoder, largest first: ``height`` halved down to the coarsest latent."""
    ladder = [height]
    while ladder[-1] > latent_resolutions[0] and ladder[-1] % 2 == 0:
        ladder.append(ladder[-1] // 2)
    if (
        height != width
        or ladder[-1] != latent_resolutions[0]
        or set(latent_resolutions) - set(ladder)
    ):
        raise ConfigError(
            f"the VAE needs square maps whose size halves to each of latent_resolutions "
            f"{list(latent_resolutions)}, got {height}x{width}"
        )
    return ladder


def _std(raw: torch.Tensor) -> torch.Tensor:
    """Efficient-VDVAE's smooth standard deviation: softplus with beta ln 2 (so raw 0 -> 1)."""
    return F.softplus(raw, beta=math.log(2.0)) + 1e-5


class _Block(nn.Module):
    """VDVAE's bottleneck block: GELU before each of 1x1 -> 3x3 -> 3x3 -> 1x1 convs, through
    a quarter of the width; residual when it keeps the channel count. Its last conv's initial
    weights are multiplied by ``last_scale``: 0 for the prior (every group starts at the
    prior ``N(0, 1)``), ``1/sqrt(depth)`` for residual blocks (VDVAE)."""

    def __init__(
        self, channels_in: int, width: int, channels_out: int, *, last_scale: float = 1.0
    ) -> None:
        super().__init__()
        middle = width // 4
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(channels_in, middle, 1),
                nn.Conv2d(middle, middle, 3, padding=1),
                nn.Conv2d(middle, middle, 3, padding=1),
                nn.Conv2d(middle, channels_out, 1),
            ]
        )
        self.residual = channels_in == channels_out
        with torch.no_grad():
            self.convs[-1].weight.mul_(last_scale)
            self.convs[-1].bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for conv in self.convs:
            h = conv(F.gelu(h))
        return x + h if self.residual else h


class _Encoder(nn.Module):
    """Bottom-up path: a stem conv, then residual blocks at each resolution of ``ladder``."""

    def __init__(
        self,
        channels: int,
        ladder: list[int],
        keep: Sequence[int],
        width: int,
        blocks: int,
        depth: int,
    ) -> None:
        super().__init__()
        self.ladder, self.keep = ladder, set(keep)
        self.stem = nn.Conv2d(channels, width, 3, padding=1)
        self.stages = nn.ModuleList(
            nn.Sequential(
                *(
                    _Block(width, width, width, last_scale=1 / math.sqrt(depth))
                    for _ in range(blocks)
                )
            )
            for _ in ladder
        )

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Features at each kept resolution."""
        h, features = self.stem(x), {}
        for i, (resolution, stage) in enumerate(zip(self.ladder, self.stages, strict=True)):
            h = stage(F.avg_pool2d(h, 2) if i else h)
            if resolution in self.keep:
                features[resolution] = h
        return features


class _LatentGroup(nn.Module):
    """One stochastic layer (VDVAE's DecBlock): prior from the top-down state, posterior from
    that state and the encoder's features, ``z`` projected back into the state."""

    def __init__(self, width: int, latent_channels: int, depth: int) -> None:
        super().__init__()
        self.latent_channels = latent_channels
        self.prior = _Block(width, width, 2 * latent_channels + width, last_scale=0.0)
        self.posterior = _Block(2 * width, width, 2 * latent_channels)
        self.project = nn.Conv2d(latent_channels, width, 1)
        with torch.no_grad():
            self.project.weight.mul_(1 / math.sqrt(depth))

    def forward(
        self, h: torch.Tensor, noise: torch.Tensor, features: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """New state and the group's KL per map (None when drawing from the prior)."""
        c = self.latent_channels
        prior = self.prior(h)
        p_mean, p_std = prior[:, :c], _std(prior[:, c : 2 * c])
        if features is None:
            z, kl = p_mean + p_std * noise, None
        else:
            q_mean, q_raw = self.posterior(torch.cat([h, features], dim=1)).chunk(2, dim=1)
            q_std = _std(q_raw)
            z = q_mean + q_std * noise
            kl = (
                torch.log(p_std / q_std)
                + (q_std.square() + (q_mean - p_mean).square()) / (2 * p_std.square())
                - 0.5
            ).sum((1, 2, 3))
        return h + prior[:, 2 * c :] + self.project(z), kl


class _Decoder(nn.Module):
    """Top-down path from a learned coarsest state up to k logits at full resolution."""

    def __init__(
        self,
        channels: int,
        ladder: list[int],
        latent_resolutions: Sequence[int],
        latent_channels: int,
        width: int,
        blocks: int,
        depth: int,
    ) -> None:
        super().__init__()
        self.ladder = ladder[::-1]
        self.start = nn.Parameter(torch.zeros(1, width, self.ladder[0], self.ladder[0]))
        self.groups = nn.ModuleDict(
            {str(r): _LatentGroup(width, latent_channels, depth) for r in latent_resolutions}
        )
        self.stages = nn.ModuleList(
            nn.Sequential(
                *(
                    _Block(width, width, width, last_scale=1 / math.sqrt(depth))
                    for _ in range(blocks)
                )
            )
            for _ in self.ladder
        )
        self.out = nn.Conv2d(width, channels, 3, padding=1)

    def forward(
        self, noises: Mapping[int, torch.Tensor], features: Mapping[int, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (n, k, H, W) and the KL per map summed over groups (zeros from the prior)."""
        n = len(next(iter(noises.values())))
        h, kl = self.start.expand(n, -1, -1, -1), torch.zeros(n)
        for resolution, stage in zip(self.ladder, self.stages, strict=True):
            if str(resolution) in self.groups:
                group = self.groups[str(resolution)]
                feature = None if features is None else features[resolution]
                h, group_kl = group(h, noises[resolution], feature)
                kl = kl if group_kl is None else kl + group_kl
            h = stage(h)
            if resolution != self.ladder[-1]:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
        return self.out(F.gelu(h)), kl


class _VAENet(nn.Module):
    """Encoder, decoder and the count of steps trained (drives the KL warm-up; saved with the
    weights so a resumed run warms up as an uninterrupted one)."""

    def __init__(
        self,
        *,
        channels: int,
        ladder: list[int],
        latent_resolutions: Sequence[int],
        latent_channels: int,
        width: int,
        blocks: int,
    ) -> None:
        super().__init__()
        depth = 2 * len(ladder) * blocks + len(latent_resolutions)
        self.encoder = _Encoder(channels, ladder, latent_resolutions, width, blocks, depth)
        self.decoder = _Decoder(
            channels, ladder, latent_resolutions, latent_channels, width, blocks, depth
        )
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
