"""Samplers: schedule facts, swapping by name, per-sample seeding, simplex outputs."""

from __future__ import annotations

import typing
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    UniPCMultistepScheduler,
)

from msfdiff.diffusion.pipeline import (
    DEFAULT_STEPS,
    SCHEDULERS,
    AbundancePipeline,
    build_scheduler,
    build_unet,
    make_sampler,
)
from msfdiff.errors import ConfigError, DataNotFoundError
from msfdiff.generator import Sampler
from tests.diffusion.tiny import SIZE, K, tiny_config


def test_paper_schedule_ends_near_pure_noise():
    scheduler = DDPMScheduler(2000, 1e-6, 1e-2, "linear")
    assert float(scheduler.alphas_cumprod[-1]) == pytest.approx(4.4e-5, rel=0.01)


@pytest.fixture(scope="module")
def scheduler_config():
    return build_scheduler(tiny_config().replace(n_endmembers=K, clr_scale=2.0)).config


def test_samplers_are_built_from_one_config(scheduler_config):
    ddpm = make_sampler(scheduler_config, "ddpm")
    assert isinstance(ddpm, DDPMScheduler) and len(ddpm.timesteps) == 2000
    ddim = make_sampler(scheduler_config, "ddim")
    assert isinstance(ddim, DDIMScheduler) and len(ddim.timesteps) == 50
    assert int(ddim.timesteps[0]) == 1999  # 'trailing' starts from pure noise
    dpm = make_sampler(scheduler_config, "dpmsolver++", 20)
    assert isinstance(dpm, DPMSolverMultistepScheduler) and len(dpm.timesteps) == 20
    assert dpm.config.algorithm_type == "dpmsolver++" and dpm.config.thresholding
    for scheduler in (ddim, dpm):
        assert torch.equal(scheduler.betas, ddpm.betas)
    # the log-ratio x0 clip is the exact bound of encoded abundances, not [-1, 1]
    assert ddpm.config.clip_sample_range == pytest.approx(2 / 3 * np.log(1001) / 2.0)


def test_dpm_solver_clips_x0_like_ddpm(scheduler_config):
    dpm = make_sampler(scheduler_config, "dpmsolver++")
    bound = scheduler_config["clip_sample_range"]
    x0 = torch.linspace(-3 * bound, 3 * bound, 12).reshape(1, 3, 2, 2)
    expected = x0.clamp(-bound, bound)  # plain clip, no rescaling by a quantile
    assert torch.equal(dpm._threshold_sample(x0), expected)
    assert float(dpm.config.sample_max_value) == pytest.approx(bound)


def test_the_few_step_solvers(scheduler_config):
    """Every Sampler name has a scheduler; the few-step ones clip x0 plainly, like the rest."""
    assert set(SCHEDULERS) == set(typing.get_args(Sampler))
    bound = scheduler_config["clip_sample_range"]
    x0 = torch.linspace(-3 * bound, 3 * bound, 12).reshape(1, 3, 2, 2)
    for sampler, cls, order in (
        ("dpmsolver++3m", DPMSolverMultistepScheduler, 3),
        ("unipc", UniPCMultistepScheduler, 2),
    ):
        scheduler = make_sampler(scheduler_config, sampler)
        assert isinstance(scheduler, cls) and scheduler.config.solver_order == order
        assert len(scheduler.timesteps) == DEFAULT_STEPS[sampler] <= 10
        assert int(scheduler.timesteps[0]) == 1999  # from pure noise
        assert torch.equal(scheduler._threshold_sample(x0), x0.clamp(-bound, bound))
        assert torch.equal(scheduler.betas, make_sampler(scheduler_config, "ddpm").betas)


@pytest.mark.parametrize("sampler", ["dpmsolver++3m", "unipc"])
@pytest.mark.parametrize("steps", [5, 8, 10])
def test_few_step_solvers_use_one_network_evaluation_per_step(pipe, sampler, steps):
    calls = []
    hook = pipe.unet.register_forward_hook(lambda *_: calls.append(1))
    maps = pipe(2, sampler=sampler, steps=steps, seed=3, batch_size=2)
    hook.remove()
    assert len(calls) == 2 * steps  # batch-invariant: one call per sample and step
    assert maps.min() >= 0 and np.abs(maps.sum(-1) - 1).max() < 1e-5


def test_bad_sampler_requests(scheduler_config):
    with pytest.raises(ConfigError, match="unknown sampler 'euler'"):
        make_sampler(scheduler_config, "euler")
    with pytest.raises(ConfigError, match=r"--steps must be in 1\.\.2000"):
        make_sampler(scheduler_config, "ddim", 5000)


@pytest.fixture(scope="module")
def pipe(scheduler_config):
    torch.manual_seed(0)
    config = tiny_config().replace(n_endmembers=K, clr_scale=2.0)
    return AbundancePipeline(build_unet(config), scheduler_config, config)


class ElementwiseDenoiser(torch.nn.Module):
    """A stand-in denoiser that treats samples independently *bitwise* (unlike batched convs)."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(0.5))
        self.config = SimpleNamespace(in_channels=K, sample_size=SIZE)

    def forward(self, x, t, class_labels=None):
        return SimpleNamespace(sample=torch.tanh(x) * self.gain)


SAMPLERS = [("ddpm", 30), ("ddim", 10), ("dpmsolver++", 10), ("dpmsolver++3m", 8), ("unipc", 5)]


@pytest.mark.parametrize(("sampler", "steps"), SAMPLERS)
def test_sample_i_is_seeded_by_its_index_alone(scheduler_config, sampler, steps):
    config = tiny_config().replace(n_endmembers=K, clr_scale=2.0)
    pipe = AbundancePipeline(ElementwiseDenoiser(), scheduler_config, config)
    together = pipe(3, sampler=sampler, steps=steps, seed=7, batch_size=3)
    alone = pipe(3, sampler=sampler, steps=steps, seed=7, batch_size=1)
    [(indices, later)] = pipe.generate([2], sampler=sampler, steps=steps, seed=7)
    assert np.array_equal(together, alone) and np.array_equal(later[0], together[2])
    assert indices == [2] and np.abs(together[0] - together[1]).max() > 0.1


@pytest.mark.parametrize(("sampler", "steps"), SAMPLERS)
def test_unet_samples_match_across_batch_sizes_and_lie_on_the_simplex(pipe, sampler, steps):
    together = pipe(3, sampler=sampler, steps=steps, seed=7, batch_size=3)
    alone = pipe(3, sampler=sampler, steps=steps, seed=7, batch_size=1)
    assert together.shape == (3, SIZE, SIZE, K)
    # the real U-Net, run per sample (batch_invariant): bit-identical whatever the batch size
    np.testing.assert_array_equal(together, alone)
    assert together.min() >= 0 and np.abs(together.sum(-1) - 1).max() < 1e-5


def test_trained_run_loads_and_checks_classes(trained_run):
    pipe = AbundancePipeline.from_pretrained(trained_run / "diffusion", device="cpu")
    assert pipe.classes == ["farmland", "river"] and pipe.k == K and pipe.image_size == SIZE
    maps = pipe(2, sampler="dpmsolver++", steps=5, class_name="river")
    assert maps.shape == (2, SIZE, SIZE, K) and np.abs(maps.sum(-1) - 1).max() < 1e-5
    # no class: the classes in turn, each sample as if its class had been named
    mixed = pipe(3, sampler="ddim", steps=2, seed=4)
    assert [pipe.class_of(i) for i in range(3)] == ["farmland", "river", "farmland"]
    for i, name in enumerate(["farmland", "river"]):
        named = pipe(i + 1, sampler="ddim", steps=2, seed=4, class_name=name)
        np.testing.assert_array_equal(mixed[i], named[i])
    assert not np.array_equal(
        mixed[0], pipe(1, sampler="ddim", steps=2, seed=4, class_name="river")[0]
    )
    with pytest.raises(ConfigError, match="unknown class 'forest'"):
        pipe(1, sampler="ddim", steps=2, class_name="forest")
    with pytest.raises(DataNotFoundError, match="no trained diffusion model"):
        AbundancePipeline.from_pretrained(trained_run / "nothing")
