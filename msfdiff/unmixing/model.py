"""The scene-unmixing autoencoder: 3-band image → k abundance maps → full HSI (paper Eq. 2–3).

The encoder is a stack of residual spectral-attention (RSA) blocks ending in a softmax, so the
abundances satisfy ANC and ASC by construction. The decoder is a single 1×1 convolution: its
weights *are* the endmembers and its bias is the ``b`` of Eq. 3 — the linear mixing model.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

MODEL_FOLDER = "model"
"""Where the weights go (``save_pretrained``) inside a saved unmixer or a checkpoint."""


class ChannelAttention(nn.Module):
    """Channel ("spectral") attention: CBAM's avg+max pooled shared MLP, or SE's avg only."""

    def __init__(self, channels: int, *, reduction: int = 16, kind: Literal["cbam", "se"] = "cbam"):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.kind = kind
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weigh(x, x.mean(dim=(2, 3), keepdim=True), x.amax(dim=(2, 3), keepdim=True))

    def weigh(self, x: torch.Tensor, mean: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
        """``x`` weighted per channel from pooled features (a tiled image passes the whole
        image's mean and maximum)."""
        logits = self.mlp(mean)
        if self.kind == "cbam":
            logits = logits + self.mlp(peak)
        return x * torch.sigmoid(logits)


class ResidualSpectralAttention(nn.Module):
    """``x + s·CA(conv3(relu(conv3(x))))``: two 3×3 convs, channel attention, scaled skip."""

    def __init__(
        self, channels: int, *, reduction: int, kind: Literal["cbam", "se"], res_scale: float
    ):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1),
            ChannelAttention(channels, reduction=reduction, kind=kind),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


class UnmixingAutoencoder(ModelMixin, ConfigMixin):
    """Encoder (RSA stack + softmax) and linear-mixing decoder.

    Parameters
    ----------
    n_bands : int
        Bands of the reconstructed HSI (decoder outputs).
    n_endmembers : int
        k, the number of abundance maps.
    widths : tuple of int
        Encoder channel widths between the 3-band input and the k outputs; the paper's
        3→32→64→128→96→48→k is ``(32, 64, 128, 96, 48)``.
    blocks_per_stage : int
        RSA blocks at each width (official code: 3).
    attention : {"cbam", "se"}
        Channel attention flavour.
    res_scale : float
        Scale of each residual branch (official code: 0.1).
    decoder_bias : bool
        Whether the decoder has the bias ``b`` of Eq. 3 (paper: yes; official code: no).
    linear_skip : bool
        Add a 1×1 convolution from the input straight to the logits, so the deep path only
        learns the non-linear part (the official code gets a similar shortcut from its global
        skips); it speeds up short CPU runs.
    input_mean, input_std : tuple of float
        Per-channel statistics of the training inputs; the encoder standardises with them so
        reflectance (≈0–0.5) and photos share one scale inside the network.
    """

    @register_to_config
    def __init__(
        self,
        n_bands: int = 59,
        n_endmembers: int = 5,
        widths: tuple[int, ...] = (32, 64, 128, 96, 48),
        blocks_per_stage: int = 1,
        attention: str = "cbam",
        reduction: int = 16,
        res_scale: float = 1.0,
        decoder_bias: bool = True,
        linear_skip: bool = False,
        input_mean: tuple[float, ...] = (0.0, 0.0, 0.0),
        input_std: tuple[float, ...] = (1.0, 1.0, 1.0),
    ):
        super().__init__()
        widths = tuple(widths)
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, padding=1)]
        for w_in, w_out in zip(widths, (*widths[1:], n_endmembers), strict=True):
            for _ in range(blocks_per_stage):
                layers.append(
                    ResidualSpectralAttention(
                        w_in, reduction=reduction, kind=attention, res_scale=res_scale
                    )
                )
            layers.append(nn.Conv2d(w_in, w_out, 3, padding=1))
            if w_out != n_endmembers:
                layers.append(nn.ReLU(inplace=True))
        self.encoder = nn.Sequential(*layers)
        self.skip = nn.Conv2d(3, n_endmembers, 1) if linear_skip else None
        self.decoder = nn.Conv2d(n_endmembers, n_bands, 1, bias=decoder_bias)
        self.register_buffer(
            "_mean", torch.tensor(input_mean, dtype=torch.float32).view(1, 3, 1, 1)
        )
        self.register_buffer("_std", torch.tensor(input_std, dtype=torch.float32).view(1, 3, 1, 1))

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        """Abundances (N, k, H, W) on the simplex from 3-band input (N, 3, H, W)."""
        x = (rgb - self._mean) / self._std
        logits = self.encoder(x)
        if self.skip is not None:
            logits = logits + self.skip(x)
        return torch.softmax(logits, dim=1)

    def decode(self, abundances: torch.Tensor) -> torch.Tensor:
        """Linear mixing: HSI (N, C, H, W) = endmembers · abundances + bias."""
        return self.decoder(abundances)

    def forward(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        abundances = self.encode(rgb)
        return self.decode(abundances), abundances

    @property
    def endmembers(self) -> torch.Tensor:
        """Endmember matrix of shape (k, C): row i is the spectrum of endmember i."""
        return self.decoder.weight[:, :, 0, 0].T

    @torch.no_grad()
    def init_decoder(
        self,
        mean_spectrum: torch.Tensor,
        *,
        endmembers: torch.Tensor | None = None,
        jitter: float = 0.2,
    ) -> None:
        """Start the decoder at given ``endmembers`` (k, C), or near the mean spectrum.

        With given endmembers the bias starts at zero. Otherwise, with a bias, the bias takes
        half the mean and the endmembers start as jittered copies of the other half; without
        one, the endmembers start at the mean (any abundance then reproduces it).
        """
        has_bias = self.decoder.bias is not None
        if endmembers is not None:
            weights, bias = endmembers, torch.zeros_like(mean_spectrum)
        else:
            share = 0.5 if has_bias else 1.0  # with a bias, it holds the other half of the mean
            jittered = 1 + jitter * torch.randn(self.config.n_endmembers, mean_spectrum.numel())
            weights, bias = share * mean_spectrum[None] * jittered, share * mean_spectrum
        if has_bias:
            self.decoder.bias.copy_(bias)
        self.decoder.weight.copy_(weights.T[:, :, None, None])

    @property
    def folded_endmembers(self) -> torch.Tensor:
        """Endmembers with the bias folded in, (k, C): ``E·a + b = Σ a_i (e_i + b)`` on the simplex.

        These are the spectra a pixel of one pure material would have, so the physical
        constraint (non-negativity) applies to them, not to ``endmembers``.
        """
        if self.decoder.bias is None:
            return self.endmembers
        return self.endmembers + self.decoder.bias[None]

    @torch.no_grad()
    def project_endmembers_(self) -> None:
        """Clamp the folded endmembers to be non-negative (projected gradient descent)."""
        weight = self.decoder.weight
        if self.decoder.bias is None:
            weight.clamp_(min=0)
        else:
            weight.copy_(torch.maximum(weight, -self.decoder.bias[:, None, None, None]))

    @torch.no_grad()
    def set_endmember_(self, index: int, spectrum: torch.Tensor) -> None:
        """Make folded endmember ``index`` equal ``spectrum`` (C,)."""
        bias = 0.0 if self.decoder.bias is None else self.decoder.bias
        self.decoder.weight[:, index, 0, 0] = spectrum - bias

    @property
    def _final_conv(self) -> nn.Conv2d:
        """The encoder's last convolution, whose outputs are the abundance logits."""
        return [m for m in self.encoder if isinstance(m, nn.Conv2d)][-1]

    @torch.no_grad()
    def init_abundance_prior_(self, prior: torch.Tensor) -> None:
        """Start every pixel's abundances near ``prior`` (k,) instead of 1/k each.

        A geometric start knows how much of the data each endmember explains. From 1/k, the
        first steps move every pixel at once towards what most pixels need (on CAVE, the
        dark background's endmember), and with k = 8 or on some scene sets the others never
        came back (docs/unmixing.md).
        """
        logits = prior.clamp(min=1e-3).log()
        self._final_conv.bias.copy_(logits - logits.mean())
        if self.skip is not None:
            self.skip.bias.zero_()

    @torch.no_grad()
    def split_output_(self, donor: int, *, into: int) -> None:
        """Give abundance ``into`` a copy of ``donor``'s logit; each then gets half its share."""
        final = self._final_conv
        for layer in (final, self.skip):
            if layer is None:
                continue
            layer.weight[into] = layer.weight[donor]
            if layer.bias is not None:
                layer.bias[into] = layer.bias[donor]
        # subtracting log 2 from both logits halves both shares of exp(logit_donor)
        final.bias[[donor, into]] -= math.log(2.0)
