"""Train (or resume) the tiny diffusion model in a process of its own, as the DDP and the kill
tests need (tests/diffusion/test_ddp.py, tests/test_kill.py).

Usage: python tests/diffusion/train_tiny.py DATA OUT BATCH STEPS CHECKPOINT_EVERY [--resume]
(under ``python -m torch.distributed.run`` for several processes).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import torch

from msfdiff.data.abundances import load_abundance_dataset
from msfdiff.diffusion.training import DiffusionTrainer, train
from tests.diffusion.tiny import tiny_config

if __name__ == "__main__":
    data, out = sys.argv[1], sys.argv[2]
    batch, steps, every = (int(a) for a in sys.argv[3:6])
    torch.set_num_threads(1)
    dataset = load_abundance_dataset(data)
    if "--resume" in sys.argv:
        DiffusionTrainer.resume(dataset, out, max_steps=steps).run()
    else:
        config = tiny_config(batch_size=batch, max_steps=steps, checkpoint_every=every)
        # dropout masks are drawn per process; with one channel per GroupNorm group, biases and
        # time projections get gradients that are zero up to rounding, which Adam blows up
        config = replace(config, unet=replace(config.unet, dropout=0.0, norm_num_groups=4))
        train(config, dataset, out)
