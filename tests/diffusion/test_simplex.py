"""The abundance <-> diffusion-space maps keep samples on the simplex."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.diffusion.simplex import SimplexCodec, clr, clr_bound, estimate_clr_scale

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
