"""Training: exact resume, run-folder contents, interruption, and input checks."""

from __future__ import annotations

import csv
import os
import signal

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from msfdiff.data.abundances import (
    load_abundance_dataset,
    make_synthetic_abundances,
    write_abundance_dataset,
)
from msfdiff.diffusion.config import load_config
from msfdiff.diffusion.pipeline import AbundancePipeline
from msfdiff.diffusion.simplex import estimate_clr_scale
from msfdiff.diffusion.training import DiffusionTrainer, train
from msfdiff.errors import ConfigError, DataFormatError, OutputExistsError
from tests.diffusion.tiny import SIZE, K, tiny_config


def _tensors(trainer: DiffusionTrainer) -> list[torch.Tensor]:
    optimizer = trainer.optimizer.state_dict()["state"]
    moments = [t for state in optimizer.values() for t in state.values()]
    return [*trainer.model.parameters(), *trainer.ema.shadow_params, *moments]


def test_resume_reproduces_an_uninterrupted_run(tmp_path, dataset):
    config = tiny_config(max_steps=6, checkpoint_every=3)  # dropout 0.1, EMA, crops, flips
    straight = train(config, dataset, tmp_path / "straight")
    train(config.replace(training={"max_steps": 3}), dataset, tmp_path / "split")
    resumed = DiffusionTrainer.resume(dataset, tmp_path / "split", max_steps=6).run()
    assert resumed.step == straight.step == 6
    assert resumed.ema.optimization_step == straight.ema.optimization_step == 6
    pairs = list(zip(_tensors(straight), _tensors(resumed), strict=True))
    assert all(torch.equal(a, b) for a, b in pairs)
    # another seed gives other weights, so the equality above is not vacuous
    other = train(config.replace(training={"seed": 1}), dataset, tmp_path / "other_seed")
    assert not torch.equal(next(other.model.parameters()), next(straight.model.parameters()))


def test_run_folder_holds_config_weights_and_loss_curve(tmp_path, dataset):
    out = tmp_path / "diffusion"
    trainer = train(tiny_config(max_steps=5, checkpoint_every=2, log_every=2), dataset, out)
    saved = load_config(out)
    assert saved == trainer.config and saved.n_endmembers == dataset.k
    expected_scale = estimate_clr_scale(
        (dataset[i][0] for i in range(len(dataset))), floor=1e-3, dim=0
    )
    assert saved.clr_scale == pytest.approx(expected_scale)
    with open(out / "loss.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "loss", "lr", "seconds"]
    assert [int(r[0]) for r in rows[1:]] == [2, 4, 5]
    assert all(0 < float(r[1]) < 10 and float(r[2]) == 1e-4 for r in rows[1:])
    # keep_checkpoints=2: steps 4 and 5 remain, each with safetensors weights
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "step_00000004",
        "step_00000005",
    ]
    last = out / "checkpoints" / "step_00000005"
    weights = load_file(last / "unet" / "diffusion_pytorch_model.safetensors")
    assert torch.equal(weights["conv_in.weight"], trainer.model.conv_in.weight)
    ema = load_file(out / "unet" / "diffusion_pytorch_model.safetensors")  # what sampling loads
    assert torch.equal(ema["conv_in.weight"], trainer.ema.shadow_params[0])


def test_ctrl_c_stops_after_the_step_and_saves(tmp_path, dataset):
    out = tmp_path / "run"
    handler = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN under `nohup … &`
    trainer = DiffusionTrainer.start(tiny_config(max_steps=8, checkpoint_every=5), dataset, out)
    for info in trainer.steps():
        if info.step == 3:
            os.kill(os.getpid(), signal.SIGINT)
    assert trainer.interrupted and trainer.step == 3
    assert (out / "checkpoints" / "step_00000003" / "state.pt").is_file()
    resumed = DiffusionTrainer.resume(dataset, out).run()
    assert resumed.step == 8 and not resumed.interrupted
    assert signal.getsignal(signal.SIGINT) is handler  # the trainer restores what it found


def test_learns_to_denoise(tmp_path, dataset):
    """A few hundred steps must beat predicting zero noise (loss 1) clearly."""
    config = tiny_config(max_steps=150, checkpoint_every=150, log_every=25)
    config = config.replace(training={"learning_rate": 3e-3, "ema_decay": None})
    train(config, dataset, tmp_path / "run")
    with open(tmp_path / "run" / "loss.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert losses[-1] < 0.6 * losses[0]


def test_crops_train_a_model_that_samples_whole_maps(tmp_path, dataset):
    config = tiny_config(max_steps=2, crop_size=8, augment=False)
    trainer = DiffusionTrainer.start(config, dataset, tmp_path / "run")
    maps = trainer._batch()[0]
    assert maps.shape == (4, K, 8, 8)
    span = range(dataset.height - 8 + 1)
    windows = [
        dataset[r][0][:, t : t + 8, c : c + 8]
        for r in range(len(dataset))
        for t in span
        for c in span
    ]
    assert all(any(torch.equal(crop, w) for w in windows) for crop in maps)
    assert len({(float(m[0, 0, 0]), float(m[1, 3, 5])) for m in maps}) == 4  # not one window
    trainer.run()
    pipe = AbundancePipeline.from_pretrained(tmp_path / "run", device="cpu")
    assert pipe(1, sampler="ddim", steps=2).shape == (1, SIZE, SIZE, K)


def test_inputs_are_checked(tmp_path, dataset):
    train(tiny_config(max_steps=1), dataset, tmp_path / "run")
    with pytest.raises(OutputExistsError, match="use --resume to continue or --force"):
        DiffusionTrainer.start(tiny_config(), dataset, tmp_path / "run")
    unlabelled = make_synthetic_abundances(2, 16, 16, 4, seed=0)
    other = load_abundance_dataset(write_abundance_dataset(tmp_path / "k4", unlabelled))
    with pytest.raises(DataFormatError, match="k=4, but .* was trained with k=3"):
        DiffusionTrainer.resume(other, tmp_path / "run")
    with pytest.raises(DataFormatError, match="--conditional needs a label on every map"):
        DiffusionTrainer.start(tiny_config().replace(conditional=True), other, tmp_path / "c")
    small = load_abundance_dataset(write_abundance_dataset(tmp_path / "small", unlabelled[:, :8]))
    with pytest.raises(DataFormatError, match="smaller than the 16x16 training crops"):
        DiffusionTrainer.start(tiny_config(), small, tmp_path / "s")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="bf16 needs a GPU"):
            DiffusionTrainer.start(tiny_config(mixed_precision="bf16"), dataset, tmp_path / "bf16")
    assert np.all([not (tmp_path / name).exists() for name in ("c", "s", "bf16")])
