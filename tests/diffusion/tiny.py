"""A tiny diffusion setup (16x16 maps, k=3, ~20k parameters) shared by the diffusion tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from msfdiff.diffusion.config import DiffusionConfig, ScheduleConfig, TrainingConfig, UNetConfig

K = 3
SIZE = 16
LABELS = ["farmland", "river", "farmland", "river", "farmland", "river"]


def tiny_config(**training) -> DiffusionConfig:
    """A ~20k-parameter U-Net on 16x16 maps with the paper's noise schedule."""
    return DiffusionConfig(
        image_size=SIZE,
        unet=UNetConfig(
            block_out_channels=(8, 16), norm_num_groups=8, attention_resolutions=(8,), dropout=0.1
        ),
        schedule=ScheduleConfig(),
        training=TrainingConfig(
            **{"batch_size": 4, "max_steps": 4, "checkpoint_every": 2, "log_every": 1, **training}
        ),
    )


@contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from a second thread, and on a busy 2-core machine OpenMP
    spin-waits make two threads ~50x slower; one keeps the tests fast and their timing stable."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
