"""Train the tiny diffusion model in one process of a ``torchrun`` group (tests/diffusion/test_ddp.py).

Usage: python -m torch.distributed.run --nproc_per_node N tests/diffusion/ddp_train.py
DATA OUT BATCH_PER_PROCESS STEPS
"""

from __future__ import annotations

import sys
from dataclasses import replace

import torch

from msfdiff.data.abundances import load_abundance_dataset
from msfdiff.diffusion.training import train
from tests.diffusion.tiny import tiny_config

if __name__ == "__main__":
    data, out, batch, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(1)
    config = tiny_config(batch_size=batch, max_steps=steps, checkpoint_every=steps)
    # dropout masks are drawn per process; with one channel per GroupNorm group, biases and
    # time projections get gradients that are zero up to rounding, which Adam blows up to +-lr
    config = replace(config, unet=replace(config.unet, dropout=0.0, norm_num_groups=4))
    train(config, load_abundance_dataset(data), out)
