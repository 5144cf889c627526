"""Guided sampling: strength, variations, inpainting, outpainting, RePaint resampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler

from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.diffusion.guidance import (
    outpainting,
    start_timestep,
    strengths,
    truncation,
)
from msfdiff.diffusion.pipeline import (
    SAMPLERS,
    AbundancePipeline,
    build_scheduler,
    build_unet,
    make_sampler,
)
from msfdiff.errors import ConfigError, DataFormatError
from msfdiff.generator import Guidance, load_generator
from tests.diffusion.tiny import SIZE, K, tiny_config

FAST = [("ddpm", 20), ("ddim", 6), ("dpmsolver++", 6), ("dpmsolver++3m", 6), ("unipc", 6)]


@pytest.fixture(scope="module")
def pipe() -> AbundancePipeline:
    torch.manual_seed(0)
    config = tiny_config().replace(n_endmembers=K, clr_scale=2.0)
    return AbundancePipeline(build_unet(config), build_scheduler(config).config, config)


@pytest.fixture(scope="module")
def sources() -> np.ndarray:
    return make_synthetic_abundances(2, SIZE, SIZE, K, smoothness=2.0, seed=3)


def on_simplex(maps: np.ndarray) -> bool:
    return maps.min() >= 0 and np.abs(maps.sum(-1) - 1).max() < 1e-5


def count_calls(pipe: AbundancePipeline) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    calls: list[int] = []
    return calls, pipe.unet.register_forward_hook(lambda *_: calls.append(1))


# ----------------------------------------------------------------------------- strength


def test_strength_is_the_share_of_the_source_amplitude_replaced():
    alphas_cumprod = DDPMScheduler(2000, 1e-6, 1e-2, "linear").alphas_cumprod
    s = strengths(alphas_cumprod)
    assert np.all(np.diff(s) > 0) and s[0] < 1e-6 and s[-1] == pytest.approx(0.9934, abs=1e-4)
    # the "S = 0.3" (t/T = 0.3) keeps 64 % of the amplitude: S = 0.36 here
    assert s[600] == pytest.approx(1 - 0.6366, abs=1e-3)
    t = start_timestep(alphas_cumprod, 0.5)
    assert abs(s[t] - 0.5) <= min(abs(s[t - 1] - 0.5), abs(s[t + 1] - 0.5))  # the nearest
    assert float(alphas_cumprod[t]) == pytest.approx(0.25, abs=1e-3)  # half the amplitude kept
    assert start_timestep(alphas_cumprod, 1.0) == 1999 and start_timestep(alphas_cumprod, 1e-9) == 1
    with pytest.raises(ConfigError, match="strength must be in"):
        start_timestep(alphas_cumprod, 0.0)


def test_a_truncated_schedule_is_a_prefix_of_the_training_one(pipe):
    full = DDPMScheduler.from_config(pipe.scheduler_config)
    short = DDPMScheduler.from_config(
        pipe.scheduler_config, **truncation(pipe.scheduler_config, 300)
    )
    assert short.config.num_train_timesteps == 301
    assert torch.equal(short.alphas_cumprod, full.alphas_cumprod[:301])
    for sampler in SAMPLERS:
        steps = None if sampler == "ddpm" else 8
        scheduler = make_sampler(pipe.scheduler_config, sampler, steps, start=300)
        assert int(scheduler.timesteps[0]) == 300  # the noised source is where it starts
        assert len(scheduler.timesteps) == (301 if sampler == "ddpm" else 8)
    # at most one step per timestep on a short path
    assert len(make_sampler(pipe.scheduler_config, "unipc", 8, start=3).timesteps) == 3


# ----------------------------------------------------------------------------- variations


@pytest.mark.parametrize(("sampler", "steps"), FAST)
def test_strength_one_is_plain_sampling_bit_for_bit(pipe, sources, sampler, steps):
    plain = pipe(3, sampler=sampler, steps=steps, seed=4)
    guided = pipe(3, sampler=sampler, steps=steps, seed=4, guidance=Guidance(sources, 1.0))
    np.testing.assert_array_equal(guided, plain)


@pytest.mark.parametrize(("sampler", "steps"), FAST)
def test_strength_near_zero_returns_the_source(pipe, sources, sampler, steps):
    np.testing.assert_array_equal(
        pipe(2, sampler=sampler, steps=steps, guidance=Guidance(sources, 0.0)), sources
    )
    errors = [
        np.abs(pipe(2, sampler=sampler, steps=steps, guidance=Guidance(sources, s)) - sources)
        for s in (1e-6, 1e-3, 0.1, 0.5)
    ]
    means = [float(e.mean()) for e in errors]
    # an untrained denoiser moves the source only about as far as the noise it added
    assert means[0] < 2e-3 and means[0] < means[1] < means[2] < means[3]
    assert float(errors[0].max()) < 0.05


def test_variations_differ_by_seed_keep_their_source_and_lie_on_the_simplex(pipe, sources):
    guidance = Guidance(sources, 0.3)
    maps = pipe(4, sampler="unipc", seed=1, guidance=guidance)
    assert maps.shape == (4, SIZE, SIZE, K) and on_simplex(maps)
    to_own = np.abs(maps - sources[[0, 1, 0, 1]]).mean(axis=(1, 2, 3))
    to_other = np.abs(maps - sources[[1, 0, 1, 0]]).mean(axis=(1, 2, 3))
    assert np.all(to_own < to_other)  # sample i follows source i mod 2
    assert np.abs(maps[0] - maps[2]).max() > 1e-3  # same source, another seed: another map
    # sample i depends on (seed, i) alone, whatever the batch
    alone = pipe(4, sampler="unipc", seed=1, guidance=guidance, batch_size=1)
    np.testing.assert_array_equal(alone, maps)


def test_variations_at_another_map_size(pipe):
    wide = make_synthetic_abundances(1, SIZE, 2 * SIZE, K, seed=5)
    maps = pipe(1, sampler="ddim", steps=4, guidance=Guidance(wide, 0.4))
    assert maps.shape == (1, SIZE, 2 * SIZE, K) and on_simplex(maps)
    with pytest.raises(ConfigError, match="differs from the sources"):
        pipe(1, size=SIZE, guidance=Guidance(wide, 0.4))
    with pytest.raises(ConfigError, match="must be a positive multiple of 2"):
        pipe(1, guidance=Guidance(make_synthetic_abundances(1, 9, 9, K), 0.4))
    with pytest.raises(DataFormatError, match="the sources have 4 endmembers, the model 3"):
        pipe(1, guidance=Guidance(make_synthetic_abundances(1, SIZE, SIZE, 4), 0.4))


def test_guidance_refuses_what_it_cannot_mean(sources):
    with pytest.raises(ConfigError, match=r"strength must be in \[0, 1\]"):
        Guidance(sources, 1.5)
    with pytest.raises(ConfigError, match="resample must be"):
        Guidance(sources, 0.5, resample=-1)
    with pytest.raises(DataFormatError, match="keep must be a bool mask"):
        Guidance(sources, keep=np.ones((SIZE, SIZE)))
    with pytest.raises(DataFormatError, match=r"of shape \(16, 16\) or \(2, 16, 16\)"):
        Guidance(sources, keep=np.ones((3, SIZE, SIZE), dtype=bool))
    with pytest.raises(DataFormatError, match="3 labels for 2 sources"):
        Guidance(sources, labels=["a", "b", "c"])
    with pytest.raises(DataFormatError, match="must be >= 0"):
        Guidance(sources - 0.5)
    with pytest.raises(DataFormatError, match=r"\(m, H, W, k\)"):
        Guidance(sources[0])
    same = Guidance(sources.copy(), 0.2, labels=["a", None])
    assert same.digest == Guidance(sources, 0.2, labels=["a", None]).digest
    assert same.digest != Guidance(sources, 0.2, labels=["a", "b"]).digest


def test_conditional_variations_keep_their_sources_class(trained_run, sources):
    pipe = AbundancePipeline.from_pretrained(trained_run / "diffusion", device="cpu")
    guidance = Guidance(sources, 1.0, labels=["river", None])
    maps = pipe(3, sampler="ddim", steps=2, seed=6, guidance=guidance)
    # S = 1: exactly plain sampling in the source's class; no label: the classes in turn
    np.testing.assert_array_equal(
        maps[0], pipe(1, sampler="ddim", steps=2, seed=6, class_name="river")[0]
    )
    np.testing.assert_array_equal(maps[1], pipe(2, sampler="ddim", steps=2, seed=6)[1])
    named = pipe(1, sampler="ddim", steps=2, seed=6, class_name="farmland", guidance=guidance)
    np.testing.assert_array_equal(
        named[0], pipe(1, sampler="ddim", steps=2, seed=6, class_name="farmland")[0]
    )
    with pytest.raises(ConfigError, match="unknown class 'sea'"):
        pipe(1, guidance=Guidance(sources, 0.5, labels=["sea", None]))
    generator = load_generator(trained_run / "diffusion")
    np.testing.assert_array_equal(
        generator.generate(3, seed=6, guidance=guidance, sampler="ddim", steps=2), maps
    )


# ----------------------------------------------------------------------------- inpainting


@pytest.mark.parametrize(("sampler", "steps"), FAST)
@pytest.mark.parametrize("resample", [0, 1])
def test_inpainting_keeps_the_known_pixels_exactly(pipe, sources, sampler, steps, resample):
    keep = np.zeros((SIZE, SIZE), dtype=bool)
    keep[:, : SIZE // 2] = True
    guidance = Guidance(sources, keep=keep, resample=resample)
    calls, hook = count_calls(pipe)
    maps = pipe(2, sampler=sampler, steps=steps, seed=2, guidance=guidance, batch_size=2)
    hook.remove()
    np.testing.assert_array_equal(maps[:, keep], sources[:, keep])
    assert on_simplex(maps) and np.abs(maps[:, ~keep] - sources[:, ~keep]).max() > 0.05
    # RePaint: every step but the last is done 1 + resample times, per sample
    assert len(calls) == 2 * (steps + resample * (steps - 1))


def test_inpainting_at_low_strength_edits_only_the_masked_region_a_little(pipe, sources):
    keep = np.ones((2, SIZE, SIZE), dtype=bool)
    keep[:, 4:12, 4:12] = False
    maps = pipe(2, sampler="dpmsolver++", guidance=Guidance(sources, 0.05, keep=keep))
    np.testing.assert_array_equal(maps[keep], sources[keep])
    assert 0 < np.abs(maps - sources).mean() < 0.02 and on_simplex(maps)


def test_outpainting_grows_a_map_without_touching_it(pipe, sources):
    guidance = outpainting(sources, (2 * SIZE, 3 * SIZE), offset=(0, SIZE))
    maps = pipe(2, sampler="unipc", steps=5, guidance=guidance)
    assert maps.shape == (2, 2 * SIZE, 3 * SIZE, K) and on_simplex(maps)
    np.testing.assert_array_equal(maps[:, :SIZE, SIZE : 2 * SIZE], sources)
    centred = outpainting(sources, 2 * SIZE)
    assert centred.keep[0, SIZE // 2 : 3 * SIZE // 2, SIZE // 2 : 3 * SIZE // 2].all()
    assert centred.keep.sum() == 2 * SIZE * SIZE
    with pytest.raises(ConfigError, match="does not fit"):
        outpainting(sources, 2 * SIZE, offset=(SIZE + 1, 0))
