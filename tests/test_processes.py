"""Commands launched on several processes (``accelerate launch``) give one process's result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import scipy.io

from msfdiff.layout import RunLayout
from msfdiff.processes import main_process_only, rank_and_world
from msfdiff.unmixing import SceneUnmixer
from tests.synthetic import known_scene

LAUNCH = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
UNMIX = ["unmix", "train", "--k", "3", "--steps", "60", "--batch-size", "4", "--crop-size", "16",
         "--bands", "nearest:620,540,460"]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    env = {k: v for k, v in env.items() if k not in ("RANK", "WORLD_SIZE")}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_alone_a_process_is_the_main_one(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert rank_and_world() == (0, 1)
    with main_process_only() as main:
        assert main


def test_unmix_train_on_two_processes_trains_once_and_matches_one_process(tmp_path: Path):
    cube, _, _ = known_scene(size=32, k=3, seed=0)
    scene = tmp_path / "scene.mat"
    scipy.io.savemat(scene, {"HSI": cube.data, "wavelengths": cube.wavelengths_nm})
    one = run("-m", "msfdiff.cli.main", *UNMIX, "--hsi", str(scene), "--out", str(tmp_path / "a"))
    assert one.returncode == 0, one.stderr[-2000:]
    two = run(*LAUNCH, "-m", "msfdiff.cli.main", *UNMIX, "--hsi", str(scene),
              "--out", str(tmp_path / "b"))  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    a = SceneUnmixer.load(RunLayout(tmp_path / "a").unmixing)
    b = SceneUnmixer.load(RunLayout(tmp_path / "b").unmixing)
    np.testing.assert_array_equal(a.endmembers_, b.endmembers_)
    # the main process trained (its log) and the other loaded what it saved
    assert (two.stdout + two.stderr).count("step 60/60") >= 1
