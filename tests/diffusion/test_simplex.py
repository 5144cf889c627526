"""The abundance <-> diffusion-space maps keep samples on the simplex; the standard one
(cubes, latents) standardises each channel and inverts exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.diffusion.config import DiffusionConfig, load_config, save_config
from msfdiff.diffusion.simplex import (
    STANDARD_CLIP_MARGIN,
    SimplexCodec,
    StandardCodec,
    clr,
    clr_bound,
    estimate_clr_scale,
    estimate_standard,
)
from msfdiff.errors import ConfigError

FLOOR = 1e-3


@pytest.fixture
def abundances() -> torch.Tensor:
    """(N, k, H, W) float64 maps with exact zeros, as a softmax unmixer can round to."""
    maps = make_synthetic_abundances(4, 12, 12, 5, sharpness=6.0, seed=3).astype(np.float64)
    maps[maps < 1e-4] = 0.0
    maps /= maps.sum(-1, keepdims=True)
    return torch.from_numpy(maps).permute(0, 3, 1, 2)


def test_softmax_inverts_clr(abundances):
    k = abundances.shape[1]
    back = torch.softmax(clr(abundances, floor=FLOOR), dim=1)
    expected = (abundances + FLOOR) / (1 + k * FLOOR)
    assert (back - expected).abs().max() < 1e-6


def test_logratio_decode_encode_is_identity(abundances):
    codec = SimplexCodec("logratio", FLOOR, scale=2.7)
    assert (codec.decode(codec.encode(abundances)) - abundances).abs().max() < 1e-6


@pytest.mark.parametrize("representation", ["logratio", "paper"])
def test_any_sample_decodes_onto_the_simplex(representation):
    x = torch.randn(3, 5, 8, 8, generator=torch.Generator().manual_seed(0)) * 30
    a = SimplexCodec(representation, FLOOR, scale=2.0).decode(x)
    assert a.min() >= 0
    assert (a.sum(dim=1) - 1).abs().max() < 1e-5


def test_official_representation_is_not_on_the_simplex():
    x = torch.rand(2, 5, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    a = SimplexCodec("official").decode(x)
    assert a.min() >= 0 and a.max() <= 1
    assert (a.sum(dim=1) - 1).abs().max() > 0.5  # honest: rows do not sum to one


def test_scale_gives_unit_variance(abundances):
    scale = estimate_clr_scale([abundances[:2], abundances[2:]], floor=FLOOR)
    encoded = SimplexCodec("logratio", FLOOR, scale).encode(abundances)
    assert encoded.square().mean().sqrt().item() == pytest.approx(1.0, abs=1e-9)
    assert encoded.sum(dim=1).abs().max() < 1e-9  # CLR: zero mean over endmembers


def test_clip_range_is_the_exact_bound(abundances):
    codec = SimplexCodec("logratio", FLOOR, scale=1.5)
    vertex = torch.tensor([1.0, 0, 0, 0, 0], dtype=torch.float64).reshape(1, 5, 1, 1)
    assert codec.encode(vertex).abs().max().item() == pytest.approx(codec.clip_range(5))
    assert codec.encode(abundances).abs().max() <= codec.clip_range(5) + 1e-12
    assert clr_bound(5, floor=FLOOR) == pytest.approx(0.8 * math.log(1001))
    assert SimplexCodec("paper").clip_range(5) == 1.0


def test_paper_softmax_flattens_pure_pixels():
    vertex = torch.tensor([1.0, 0, 0, 0, 0]).reshape(1, 5, 1, 1)
    back = SimplexCodec("paper").decode(SimplexCodec("paper").encode(vertex))
    expected = math.e / (math.e + 4 / math.e)  # softmax(1, -1, -1, -1, -1)[0] = 0.65
    assert back[0, 0, 0, 0].item() == pytest.approx(expected, rel=1e-6)


def test_codec_validates_its_arguments():
    with pytest.raises(ValueError, match="representation must be one of"):
        SimplexCodec("softmax")
    with pytest.raises(ValueError, match="must be > 0"):
        SimplexCodec("logratio", floor=0.0)


@pytest.fixture
def cubes() -> torch.Tensor:
    """(N, C, H, W) float64 values whose channels differ in mean and spread; one is constant."""
    rng = np.random.default_rng(0)
    values = rng.normal([0.1, 0.5, 3.0, 0.0], [0.02, 0.2, 1.5, 0.0], size=(5, 9, 9, 4))
    return torch.from_numpy(values).permute(0, 3, 1, 2)


def test_standard_codec_round_trips_exactly(cubes):
    codec = estimate_standard([cubes[:2], cubes[2:]])
    assert (codec.decode(codec.encode(cubes)) - cubes).abs().max() < 1e-12
    single = cubes.float()
    assert torch.allclose(codec.decode(codec.encode(single)), single, rtol=1e-6, atol=1e-7)
    last = codec.encode(cubes.permute(0, 2, 3, 1), dim=-1)  # the channel axis anywhere
    assert torch.allclose(last.permute(0, 3, 1, 2), codec.encode(cubes))


def test_standard_estimate_is_each_channels_mean_and_spread(cubes):
    codec = estimate_standard([cubes[:1], cubes[1:4], cubes[4:]])  # merged over uneven batches
    flat = cubes.permute(1, 0, 2, 3).reshape(4, -1).numpy()
    np.testing.assert_allclose(codec.offset, flat.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(codec.scale[:3], flat[:3].std(axis=1), rtol=1e-12)
    assert codec.scale[3] == 1.0  # a constant channel encodes to 0 whatever the scale
    encoded = codec.encode(cubes)
    assert encoded[:, :3].square().mean(dim=(0, 2, 3)).sqrt().numpy() == pytest.approx(1.0)
    largest = encoded.abs().max().item()
    assert codec.clip_range(4) == pytest.approx(STANDARD_CLIP_MARGIN * largest)


def test_standard_codec_refuses_what_it_cannot_encode(cubes):
    with pytest.raises(ValueError, match="one value per channel"):
        StandardCodec((0.0, 1.0), (1.0,), bound=3.0)
    with pytest.raises(ValueError, match="must be > 0"):
        StandardCodec((0.0,), (0.0,), bound=3.0)
    codec = StandardCodec((0.0, 1.0), (1.0, 2.0), bound=3.0)
    with pytest.raises(ValueError, match="expected 2 channels"):
        codec.encode(cubes)
    with pytest.raises(ValueError, match="constant data"):
        estimate_standard([torch.ones(2, 3, 4, 4)])
    with pytest.raises(ValueError, match="empty data"):
        estimate_standard([])


def test_a_standard_config_keeps_its_statistics(cubes, tmp_path):
    config = DiffusionConfig(representation="standard")
    with pytest.raises(ValueError, match="estimated when training starts"):
        config.codec  # noqa: B018
    codec = estimate_standard([cubes])
    resolved = config.replace(
        n_endmembers=4,
        standard_offset=codec.offset,
        standard_scale=codec.scale,
        standard_clip=codec.bound,
    )
    assert resolved.codec == codec
    save_config(resolved, tmp_path)
    assert load_config(tmp_path) == resolved  # the YAML keeps every float exactly
    with pytest.raises(ConfigError, match="n_endmembers"):
        resolved.replace(n_endmembers=3)
    with pytest.raises(ConfigError, match="not all set"):
        config.replace(standard_offset=codec.offset)
