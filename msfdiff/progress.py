"""Progress and log callbacks: how long work reports itself without knowing who listens.

The core (unmixing, diffusion, fusion, evaluation) takes a ``progress`` callable and a ``log``
callable; the CLI passes rich bars and the console, a notebook or a test passes its own or
nothing. One convention for all of them::

    progress(done, total, status)   # after each unit of work; status e.g. "loss 0.0123"
    log(line)                       # one human-readable line
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")

Log = Callable[[str], None]


class Progress(Protocol):
    def __call__(self, done: int, total: int, status: str = "") -> None: ...


def no_progress(done: int, total: int, status: str = "") -> None:
    """The default listener: says nothing."""


def no_log(line: str) -> None:
    """The default log: says nothing."""


def track(
    items: Iterable[T], total: int, progress: Progress | None, status: str = ""
) -> Iterator[T]:
    """Yield ``items``, reporting ``done/total`` to ``progress`` after each one."""
    report = progress or no_progress
    for done, item in enumerate(items, start=1):
        yield item
        report(done, total, status)
