"""Several processes of one job (``accelerate launch``, ``torchrun``): who is the main one.

A launcher starts the same command N times and tells each process its ``RANK`` and the
``WORLD_SIZE`` in the environment. Diffusion training splits each global batch over the
processes (DDP, through accelerate); work too small to share (the unmixer trains in minutes)
runs on the main process while the others wait, then load its result. Without a launcher
there is one process and nothing here imports accelerate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accelerate import PartialState


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, the number of processes) as the launcher set them; (0, 1) alone."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def default_device() -> str:
    """This process's GPU (``cuda:LOCAL_RANK`` under a launcher, so N processes use N GPUs),
    or the CPU."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"


def process_state() -> PartialState:
    """accelerate's shared process state, joined to the launcher's group.

    ``cpu=True`` where there is no GPU: without it, processes started on CPUs would each
    believe they are alone (the state is a singleton, so the first call decides).
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def wait_for_everyone() -> None:
    """Block until every process of the launch gets here (alone: return at once)."""
    if rank_and_world()[1] > 1:
        process_state().wait_for_everyone()


@contextmanager
def main_process_only() -> Iterator[bool]:
    """Yield whether this is the main process; every process waits for all at the end.

    The block does its work only where the yielded value is True; afterwards the others can
    read what it wrote.
    """
    _, world = rank_and_world()
    if world == 1:
        yield True
        return
    state = process_state()
    try:
        yield state.is_main_process
    finally:
        state.wait_for_everyone()
