"""One checkpoint format for every trainer.

``FOLDER/step_00001200/`` holds whatever the trainer writes into it (weights via
``save_pretrained``, a ``state.pt`` with optimiser and RNG state). A checkpoint appears whole
or not at all (written under a temporary name, then renamed), the newest complete one is the
one to resume from, and older ones beyond ``keep`` (and any of a later step, left by an
abandoned run) are deleted after the new one is in place.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from msfdiff._io import atomic_dir

STATE_NAME = "state.pt"
_PREFIX = "step_"


def save_checkpoint(
    folder: str | os.PathLike, step: int, write: Callable[[Path], None], *, keep: int = 1
) -> Path:
    """Call ``write(tmp_folder)`` and publish it as the checkpoint of ``step``."""
    folder = Path(folder)
    path = folder / f"{_PREFIX}{step:08d}"
    with atomic_dir(path, force=True) as tmp:
        write(tmp)
    for old in checkpoints(folder):
        if checkpoint_step(old) > step:  # left by an abandoned, longer run: never resume it
            shutil.rmtree(old)
    for old in checkpoints(folder)[:-keep] if keep > 0 else []:
        shutil.rmtree(old)
    return path


def checkpoints(folder: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first."""
    return sorted(p for p in Path(folder).glob(f"{_PREFIX}*") if p.is_dir())


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint in ``folder``, or None."""
    found = checkpoints(folder)
    return found[-1] if found else None


def checkpoint_step(path: str | os.PathLike) -> int:
    """The training step a checkpoint folder was written at."""
    return int(Path(path).name.removeprefix(_PREFIX))


def derive_seed(*parts: int) -> int:
    """A seed for one stream of draws, e.g. ``(seed, STREAM, step)``: trainers derive every
    draw of a step from the step number, so resuming from a checkpoint needs no RNG state."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0])


@contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """Turn the first Ctrl-C into a flag checked between steps; a second one interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
