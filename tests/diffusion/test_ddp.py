"""Diffusion training under DDP: 2 CPU processes (gloo, torchrun) match one process with the
same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from msfdiff.diffusion.pipeline import UNET_DIR

SCRIPT = Path(__file__).with_name("train_tiny.py")
LR, STEPS = 1e-4, 3  # tiny_config's learning rate; Adam moves each weight about LR a step


def launch(processes: int, batch: int, data: Path, out: Path) -> dict[str, np.ndarray]:
    """Train with ``processes`` torchrun processes of ``batch`` maps each; the U-Net's weights."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={processes}", str(SCRIPT), str(data), str(out),
               str(batch), str(STEPS), str(STEPS)]  # fmt: skip
    result = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return load_file(out / UNET_DIR / "diffusion_pytorch_model.safetensors")


def largest_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


def test_two_processes_match_one_with_the_same_global_batch(tmp_path, abundance_dir):
    one = launch(1, 4, abundance_dir, tmp_path / "one")
    two = launch(2, 2, abundance_dir, tmp_path / "two")
    # the same samples, crops, timesteps and noise, gradients averaged by DDP: only the order
    # of float sums differs, which Adam can magnify on near-zero gradients, never to a step
    assert largest_difference(one, two) < 0.1 * LR
    losses = [(tmp_path / run / "loss.csv").read_text().splitlines() for run in ("one", "two")]
    assert [r.split(",")[:2] for r in losses[0]] == [r.split(",")[:2] for r in losses[1]]
    # a global batch of other samples moves the weights by about a step: the check can fail
    half = launch(1, 2, abundance_dir, tmp_path / "half")
    assert largest_difference(one, half) > 0.5 * LR
