"""MSF-Diff's diffusion as a Generator: save/load round trips, trainer folders, fit and resume."""

from __future__ import annotations

import json
import os
import shutil
import signal

import numpy as np
import pytest
import torch

from msfdiff.diffusion.generator import AbundanceDiffusion
from msfdiff.diffusion.pipeline import AbundancePipeline, build_scheduler, build_unet
from msfdiff.diffusion.training import train
from msfdiff.errors import DataFormatError, DataNotFoundError, NotFittedError
from msfdiff.generator import GENERATOR_FILE, TrainingInterrupted, load_generator
from tests.diffusion.tiny import SIZE, K, tiny_config

FAST = {"sampler": "ddim", "steps": 2}


def test_pipeline_save_pretrained_round_trips(tmp_path):
    config = tiny_config().replace(
        n_endmembers=K, clr_scale=2.0, conditional=True, classes=("a", "b")
    )
    torch.manual_seed(0)
    fresh = AbundancePipeline(build_unet(config), build_scheduler(config).config, config)
    fresh.save_pretrained(tmp_path / "first")
    pipe = AbundancePipeline.from_pretrained(tmp_path / "first", device="cpu")
    pipe.save_pretrained(tmp_path / "second")
    loaded = AbundancePipeline.from_pretrained(tmp_path / "second", device="cpu")
    assert loaded.config == pipe.config == config and loaded.classes == ["a", "b"]
    assert loaded.scheduler_config == pipe.scheduler_config
    for sampler, steps in (("ddpm", 5), ("dpmsolver++", 3)):
        before = pipe(3, sampler=sampler, steps=steps, seed=5)
        np.testing.assert_array_equal(loaded(3, sampler=sampler, steps=steps, seed=5), before)
    weights = fresh.unet.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in loaded.unet.state_dict().items())


def test_a_trained_run_loads_as_the_generator(trained_run, tmp_path):
    folder = trained_run / "diffusion"
    generator = load_generator(folder)
    assert isinstance(generator, AbundanceDiffusion) and generator.output_space == "abundances"
    assert generator.classes == ["farmland", "river"] and generator.n_channels == K
    pipe = AbundancePipeline.from_pretrained(folder)
    maps = generator.generate(3, seed=2, **FAST)
    np.testing.assert_array_equal(maps, pipe(3, seed=2, **FAST))
    # sample i depends on (seed, i) alone, not on the batches
    np.testing.assert_array_equal(generator.generate(3, seed=2, batch_size=1, **FAST), maps)
    # the interface's defaults are the one set of sampling defaults: UniPC, 8 steps
    assert generator.check_request(sampler="unipc", steps=None) == {
        "sampler": "unipc",
        "steps": 8,
        "size": SIZE,
    }
    np.testing.assert_array_equal(generator.generate(1), pipe(1, sampler="unipc", steps=8))

    generator.save_pretrained(tmp_path / "copy")
    copy = load_generator(tmp_path / "copy")
    assert copy.fingerprint() == generator.fingerprint()
    np.testing.assert_array_equal(copy.generate(3, seed=2, **FAST), maps)
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [
        "config.yaml",
        GENERATOR_FILE,
        "scheduler",
        "unet",
    ]


def test_a_folder_of_the_trainer_alone_loads(tmp_path, dataset):
    """Folders written by DiffusionTrainer without the generator (e.g. before generator.json)."""
    train(tiny_config(max_steps=1), dataset, tmp_path / "diffusion")
    generator = AbundanceDiffusion.from_pretrained(tmp_path / "diffusion", device="cpu")
    assert generator.classes == [] and generator.generate(1, **FAST).shape == (1, SIZE, SIZE, K)
    with pytest.raises(DataNotFoundError, match="generator.json missing"):
        load_generator(tmp_path / "diffusion")
    (tmp_path / "diffusion" / GENERATOR_FILE).write_text(json.dumps({"class": "json:loads"}))
    with pytest.raises(DataFormatError, match="json:loads is not a Generator"):
        load_generator(tmp_path / "diffusion")


def test_other_weights_give_another_fingerprint(trained_run, tmp_path):
    shutil.copytree(trained_run / "diffusion", tmp_path / "d")
    generator = load_generator(tmp_path / "d")
    with torch.no_grad():
        next(generator.pipeline.unet.parameters())[0] += 1e-3
    assert generator.fingerprint() != load_generator(trained_run / "diffusion").fingerprint()


def test_fit_reports_progress_and_resumes_after_ctrl_c(tmp_path, dataset):
    out = tmp_path / "diffusion"
    handler = signal.getsignal(signal.SIGINT)
    heard, lines = [], []

    def progress(done: int, total: int, status: str = "") -> None:
        heard.append((done, total, status.split()[0]))
        if done == 2:
            os.kill(os.getpid(), signal.SIGINT)

    generator = AbundanceDiffusion(tiny_config(max_steps=5, checkpoint_every=5))
    with pytest.raises(NotFittedError):
        generator.generate(1)
    with pytest.raises(TrainingInterrupted, match="interrupted at step 2"):
        generator.fit(dataset, out, progress=progress, log=lines.append)
    assert heard == [(1, 5, "loss"), (2, 5, "loss")]
    assert (out / "checkpoints" / "step_00000002").is_dir() and (out / GENERATOR_FILE).is_file()
    heard.clear()
    generator.fit(dataset, out, resume=True, progress=lambda d, t, s="": heard.append(d))
    assert heard == [3, 4, 5] and signal.getsignal(signal.SIGINT) is handler
    assert generator.generate(1, **FAST).shape == (1, SIZE, SIZE, K)
    assert lines[0].startswith(f"training {out} from step 0 to 5 on ")
