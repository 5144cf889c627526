"""SIGKILL in the middle of sampling, then rerun: nothing duplicated, nothing half-written
read as good, and the finished set equals an uninterrupted one (#16)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from msfdiff.generate import generate_samples
from msfdiff.generator import SamplingSettings, load_generator
from msfdiff.layout import sample_abundance_paths
from tests.diffusion.tiny import K

N, BANDS = 30, 6  # enough samples that a busy machine still kills mid-way
SETTINGS = SamplingSettings(format="npy", sampler="ddim", steps=3, batch_size=1, seed=3)

SCRIPT = """
import sys, numpy as np
from types import SimpleNamespace
from msfdiff.generate import generate_samples
from msfdiff.generator import SamplingSettings, load_generator
parts = np.load(sys.argv[2])
unmixer = SimpleNamespace(endmembers_=parts["e"], wavelengths_=parts["w"], noise_std_=parts["s"])
settings = SamplingSettings(format="npy", sampler="ddim", steps=3, batch_size=1, seed=3)
generate_samples(load_generator(sys.argv[1]), sys.argv[3], unmixer=unmixer, n=int(sys.argv[4]),
                 settings=settings)
"""


def fake_unmixer(seed: int = 0) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    return SimpleNamespace(
        endmembers_=rng.uniform(0, 1, (K, BANDS)).astype(np.float32),
        wavelengths_=np.linspace(450, 650, BANDS),
        noise_std_=np.full(BANDS, 0.01, dtype=np.float32),
    )


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix == ".npy"}


def test_sigkill_during_sampling_then_rerun_equals_an_uninterrupted_run(trained_run, tmp_path):
    unmixer = fake_unmixer()
    parts = tmp_path / "unmixer.npz"
    np.savez(parts, e=unmixer.endmembers_, w=unmixer.wavelengths_, s=unmixer.noise_std_)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", SCRIPT, trained_run / "diffusion", parts, out, N]
    proc = subprocess.Popen([str(c) for c in cmd], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.is_dir() or len(sample_abundance_paths(out)) < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(sample_abundance_paths(out))
    assert 2 <= done < N, f"killed after {done} of {N} samples; the test needs it mid-way"

    generator = load_generator(trained_run / "diffusion")
    generate_samples(generator, out, unmixer=unmixer, n=N, settings=SETTINGS)
    straight = tmp_path / "straight"
    generate_samples(generator, straight, unmixer=unmixer, n=N, settings=SETTINGS)

    assert len(sample_abundance_paths(out)) == N
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]  # no leftovers
    killed, expected = files(out), files(straight)
    assert killed.keys() == expected.keys()  # no duplicates, nothing missing
    different = [name for name in expected if killed[name] != expected[name]]
    assert not different, f"differ from an uninterrupted run: {different}"


TRAIN = Path(__file__).with_name("train_tiny.py")


def unet_bytes(run: Path) -> bytes:
    return (run / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()


def test_training_killed_at_random_moments_resumes_to_the_uninterrupted_weights(
    abundance_dir, tmp_path
):
    import os
    import random

    from msfdiff.checkpoints import STATE_NAME, checkpoint_step, checkpoints, latest_checkpoint

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}

    def start(out: Path, *extra: str) -> subprocess.Popen:
        cmd = [sys.executable, str(TRAIN), str(abundance_dir), str(out), "4", "300", "25"]
        return subprocess.Popen([*cmd, *extra], env=env, cwd=root, stderr=subprocess.DEVNULL)

    def newest(out: Path) -> int:
        found = latest_checkpoint(out / "checkpoints")
        return -1 if found is None else checkpoint_step(found)

    assert start(tmp_path / "straight").wait(timeout=300) == 0
    out, rng, kills = tmp_path / "killed", random.Random(16), []
    for attempt in range(2):  # kill, resume, kill again: each a random moment after a checkpoint
        proc = start(out, *(["--resume"] if attempt else []))
        seen, deadline = newest(out), time.time() + 120
        while time.time() < deadline and newest(out) <= seen and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append((running, newest(out)))
        # every published checkpoint is whole; a killed write leaves only a hidden temporary
        for folder in checkpoints(out / "checkpoints"):
            assert (folder / STATE_NAME).is_file() and (folder / "unet").is_dir()
    assert any(running and step < 300 for running, step in kills), kills
    assert start(out, "--resume").wait(timeout=300) == 0
    assert unet_bytes(out) == unet_bytes(tmp_path / "straight")


def test_a_run_stopped_before_its_last_step_is_refused_for_sampling(abundance_dir, tmp_path):
    from msfdiff.data.abundances import load_abundance_dataset
    from msfdiff.diffusion.generator import AbundanceDiffusion
    from msfdiff.diffusion.training import DiffusionTrainer, train
    from msfdiff.errors import NotFittedError
    from tests.diffusion.tiny import tiny_config

    dataset = load_abundance_dataset(abundance_dir)
    train(tiny_config(max_steps=4, checkpoint_every=2).replace(training={"max_steps": 2}),
          dataset, tmp_path / "run")  # fmt: skip
    config_path = tmp_path / "run" / "config.yaml"  # as if started for 4 steps, killed at 2
    config_path.write_text(config_path.read_text().replace("max_steps: 2", "max_steps: 4"))
    with pytest.raises(NotFittedError, match="stopped at step 2 of 4"):
        AbundanceDiffusion.from_pretrained(tmp_path / "run")
    DiffusionTrainer.resume(dataset, tmp_path / "run", max_steps=2).run()  # "ends it at N"
    assert AbundanceDiffusion.from_pretrained(tmp_path / "run").pipeline_ is not None
