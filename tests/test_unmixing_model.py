"""Unmixing network, losses and presets: properties that must hold whatever the weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from msfdiff.config import load_preset, preset_names
from msfdiff.errors import ConfigError
from msfdiff.unmixing.config import UnmixingConfig
from msfdiff.unmixing.losses import endmember_tv, spectral_angle, unmixing_loss
from msfdiff.unmixing.model import UnmixingAutoencoder


def test_abundances_on_simplex_and_decoder_is_linear_mixing():
    torch.manual_seed(0)
    model = UnmixingAutoencoder(n_bands=7, n_endmembers=4, widths=(8, 8), linear_skip=True)
    rgb = torch.rand(2, 3, 9, 9)
    recon, abundances = model(rgb)
    assert abundances.shape == (2, 4, 9, 9)
    assert torch.all(abundances >= 0)
    torch.testing.assert_close(abundances.sum(1), torch.ones(2, 9, 9))
    expected = (
        torch.einsum("nkhw,kc->nchw", abundances, model.endmembers)
        + model.decoder.bias[None, :, None, None]
    )
    torch.testing.assert_close(recon, expected)


def test_encoder_widths_follow_the_paper():
    model = UnmixingAutoencoder(n_bands=59, n_endmembers=5)
    convs = [m for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [c.in_channels for c in convs] == [3, 32, 64, 128, 96, 48]
    assert [c.out_channels for c in convs] == [32, 64, 128, 96, 48, 5]
    assert model.decoder.kernel_size == (1, 1) and model.decoder.bias is not None


def test_save_load_round_trip(tmp_path):
    model = UnmixingAutoencoder(
        n_bands=6, n_endmembers=3, widths=(8,), decoder_bias=False, input_mean=(0.1, 0.2, 0.3)
    )
    model.save_pretrained(tmp_path)
    again = UnmixingAutoencoder.from_pretrained(tmp_path)
    assert again.config.input_mean == [0.1, 0.2, 0.3] or tuple(again.config.input_mean) == (
        0.1,
        0.2,
        0.3,
    )
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_spectral_angle_known_value():
    a = torch.tensor([[1.0, 0.0]]).T[None, :, :, None]  # (1, 2, 1, 1)
    b = torch.tensor([[1.0, 1.0]]).T[None, :, :, None]
    assert spectral_angle(a, b).item() == pytest.approx(np.pi / 4, abs=1e-4)
    assert spectral_angle(b, 3 * b).item() == pytest.approx(0.0, abs=2e-3)


def test_endmember_tv_axis():
    e = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])  # (k=2, C=3)
    assert endmember_tv(e, axis="wavelength").item() == pytest.approx(1.0)  # (2 + 0) / 2
    assert endmember_tv(e, axis="endmember").item() == pytest.approx(
        1 / 3
    )  # |diff| over k, mean over C


def test_loss_weights_combine():
    torch.manual_seed(0)
    pred, target, e = torch.rand(1, 4, 3, 3), torch.rand(1, 4, 3, 3), torch.rand(2, 4)
    parts = unmixing_loss(pred, target, e, sad_weight=0.1, tv_weight=1e-3)
    assert parts["total"].item() == pytest.approx(
        (parts["recon"] + 0.1 * parts["sad"] + 1e-3 * parts["tv"]).item()
    )
    assert parts["recon"].item() == pytest.approx((pred - target).abs().mean().item())


def test_rmse_reconstruction_term_known_value():
    target = torch.zeros(1, 2, 1, 2)
    pred = torch.tensor([3.0, 0.0, 0.0, 4.0]).view(1, 2, 1, 2)  # squared errors 9, 0, 0, 16
    e = torch.zeros(2, 2)
    assert unmixing_loss(pred, target, e, reconstruction="rmse")["recon"].item() == pytest.approx(
        2.5
    )
    assert unmixing_loss(pred, target, e)["recon"].item() == pytest.approx(1.75)  # MAE


@pytest.mark.parametrize("name", ["paper", "official", "cpu"])
def test_presets_validate(name):
    assert name in preset_names("unmixing")
    config = load_preset(UnmixingConfig, "unmixing", name)
    assert config.n_endmembers == 5


def test_preset_values_match_the_sources():
    paper = load_preset(UnmixingConfig, "unmixing", "paper")
    assert (paper.sad_weight, paper.tv_weight, paper.tv_axis, paper.decoder_bias) == (
        0.1,
        1e-3,
        "wavelength",
        True,
    )
    assert paper.widths == (32, 64, 128, 96, 48)
    official = load_preset(UnmixingConfig, "unmixing", "official")
    assert (official.reconstruction_loss, official.tv_weight, official.decoder_bias) == (
        "charbonnier",
        0.01,
        False,
    )
    assert (official.learning_rate, official.batch_size, official.steps, official.res_scale) == (
        2e-4,
        16,
        2100,
        0.1,
    )


def test_bad_config_rejected():
    with pytest.raises(ConfigError, match="n_endmembers"):
        load_preset(UnmixingConfig, "unmixing", "paper", n_endmembers=1)
    with pytest.raises(ConfigError, match="unknown key"):
        load_preset(UnmixingConfig, "unmixing", "paper", n_endmember=3)
    with pytest.raises(ConfigError, match="unknown unmixing preset"):
        load_preset(UnmixingConfig, "unmixing", "nope")


@pytest.mark.parametrize("linear_skip", [False, True])
def test_abundance_prior_is_where_every_pixel_starts(linear_skip):
    torch.manual_seed(0)
    model = UnmixingAutoencoder(n_bands=7, n_endmembers=4, widths=(8, 8), linear_skip=linear_skip)
    prior = torch.tensor([0.7, 0.2, 0.06, 0.04])
    model.init_abundance_prior_(prior)
    with torch.no_grad():  # with the logits' input terms silenced, only the prior is left
        model._final_conv.weight.zero_()
        if model.skip is not None:
            model.skip.weight.zero_()
    abundances = model.encode(torch.rand(2, 3, 5, 5))
    torch.testing.assert_close(abundances.mean((0, 2, 3)), prior)
