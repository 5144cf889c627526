"""The shared step loop of torch baselines: losses fall, resume repeats an uninterrupted run,
folders round-trip and refuse to be overwritten."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from msfdiff.baselines.training import TorchGenerator, TrainingSettings, random_batch
from msfdiff.data.maps import MapDataset
from msfdiff.errors import OutputExistsError
from msfdiff.generator import load_generator


@dataclasses.dataclass(frozen=True)
class MeanConfig(TrainingSettings):
    max_steps: int = 30
    batch_size: int = 4
    learning_rate: float = 0.05
    checkpoint_every: int = 10


class PerChannelMean(TorchGenerator):
    """Learns each channel's mean; samples are that mean plus unit noise (a known answer)."""

    output_space = "hsi"
    Config = MeanConfig

    def build(self, meta):
        return {"mean": nn.ParameterDict({"value": nn.Parameter(torch.zeros(meta["channels"]))})}

    def train_step(self, dataset, optimizers, generator):
        x, _ = random_batch(dataset, self.config.batch_size, generator, crop=4)
        value = self.modules["mean"]["value"]
        loss = (x - value[None, :, None, None]).square().mean()
        optimizers["adam"].zero_grad()
        loss.backward()
        optimizers["adam"].step()
        return {"mse": loss.item()}

    def sample(self, indices, *, seed, class_name, size, **options):
        size = size or self.meta["size"]
        noise = torch.stack(
            [
                torch.randn(size, size, self.n_channels, generator=g)
                for g in self.sample_generators(indices, seed)
            ]
        )
        with torch.no_grad():
            return (noise * 0.0 + self.modules["mean"]["value"]).numpy()


@pytest.fixture
def dataset():
    rng = np.random.default_rng(0)
    maps = rng.normal([0.2, 0.5, 0.9], 0.05, size=(6, 8, 8, 3)).astype(np.float32)
    return MapDataset(maps, ["a", "b", "a", "b", "a", "b"])


def test_loss_falls_and_the_folder_loads_back(dataset, tmp_path):
    gen = PerChannelMean(max_steps=120).fit(dataset, tmp_path / "g")
    rows = (tmp_path / "g" / "losses.csv").read_text().splitlines()
    first, last = float(rows[0].split(",")[1]), float(rows[-1].split(",")[1])
    assert last < first / 10
    np.testing.assert_allclose(gen.generate(2)[0, 0, 0], [0.2, 0.5, 0.9], atol=0.05)
    again = load_generator(tmp_path / "g")
    assert isinstance(again, PerChannelMean) and again.config.max_steps == 120
    assert again.fingerprint() == gen.fingerprint()
    np.testing.assert_array_equal(again.generate(3, seed=4), gen.generate(3, seed=4))


def test_resume_repeats_an_uninterrupted_run(dataset, tmp_path):
    whole = PerChannelMean().fit(dataset, tmp_path / "whole")
    PerChannelMean(max_steps=20).fit(dataset, tmp_path / "part")
    resumed = PerChannelMean().fit(dataset, tmp_path / "part", resume=True)
    assert resumed.fingerprint() == whole.fingerprint()


def test_refuses_to_overwrite_without_force(dataset, tmp_path):
    PerChannelMean(max_steps=2).fit(dataset, tmp_path / "g")
    with pytest.raises(OutputExistsError, match="--force"):
        PerChannelMean(max_steps=2).fit(dataset, tmp_path / "g")
    PerChannelMean(max_steps=2).fit(dataset, tmp_path / "g", force=True)
