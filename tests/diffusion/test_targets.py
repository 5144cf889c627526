"""Training targets and their loss weights agree with how diffusers' samplers read them."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from msfdiff.diffusion.training import min_snr_weights, training_target

PAPER = dict(num_train_timesteps=2000, beta_start=1e-6, beta_end=1e-2, clip_sample=False)


@pytest.mark.parametrize("kind", ["epsilon", "sample", "v_prediction"])
def test_a_perfect_prediction_gives_back_x0_in_the_sampler(kind):
    train = DDPMScheduler(**PAPER, prediction_type=kind)
    sampler = DDIMScheduler.from_config(train.config)
    sampler.set_timesteps(50)
    gen = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 5, 8, 8, generator=gen), torch.randn(2, 5, 8, 8, generator=gen)
    for t in sampler.timesteps[[0, 10, 40]]:
        ts = torch.full((2,), int(t))
        noisy = train.add_noise(x0, noise, ts)
        target = training_target(train, kind, x0, noise, ts)
        step = sampler.step(target, int(t), noisy)
        torch.testing.assert_close(step.pred_original_sample, x0, atol=2e-4, rtol=1e-4)


def test_min_snr_weights_equalise_the_three_targets():
    scheduler = DDPMScheduler(**PAPER)
    t = torch.tensor([5, 300, 900, 1999])
    gamma = 5.0
    abar = scheduler.alphas_cumprod[t]
    snr = abar / (1 - abar)
    expected = torch.clamp(snr, max=gamma)  # the weight on the squared x0 error
    # a unit x0 error is an ε error of √SNR and a v error of √(SNR+1)
    for kind, per_x0 in (("epsilon", snr), ("v_prediction", snr + 1), ("sample", torch.ones(4))):
        weights = min_snr_weights(scheduler, kind, t, gamma)
        torch.testing.assert_close(weights * per_x0, expected, rtol=1e-4, atol=0)
    # gamma above every SNR: ε-loss weights are all one (plain DDPM)
    ones = min_snr_weights(scheduler, "epsilon", t, float(snr.max()) * 2)
    torch.testing.assert_close(ones, torch.ones(4))
