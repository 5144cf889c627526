"""Shared CLI plumbing: one-line errors, and the progress listener the CLI hands the core."""

from __future__ import annotations

import os
import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def debug_enabled() -> bool:
    """``--debug`` (or MSFDIFF_DEBUG=1) shows tracebacks instead of one-line errors."""
    return os.environ.get("MSFDIFF_DEBUG", "") not in ("", "0")


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` on one line and exit."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def log(line: str) -> None:
    """The core's ``log`` callback: one line on stderr."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


class ProgressBar:
    """A :class:`msfdiff.progress.Progress` listener: a rich bar on a terminal, else a log.

    Redirected to a file, a bar shows nothing until it ends, so there one line with the count,
    the status (e.g. the loss), elapsed time and ETA is written every ``LOG_EVERY_S`` seconds
    and at the end. Use as a context manager around the work it listens to.
    """

    LOG_EVERY_S = 30.0

    def __init__(self, description: str, *, unit: str = "step"):
        self.description, self.unit = description, unit
        self.interactive = console.is_terminal
        self.bar = Progress(
            TextColumn(description),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not self.interactive,
        )
        self.task = None
        self.started: tuple[float, int] | None = None
        self.logged = 0.0

    def __enter__(self) -> ProgressBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, done: int, total: int, status: str = "") -> None:
        if self.interactive:
            if self.task is None:
                self.task = self.bar.add_task("", total=total, completed=done - 1, status="")
            self.bar.update(self.task, completed=done, status=status)
            return
        now = time.monotonic()
        if self.started is None:  # the first line comes after LOG_EVERY_S, with a real ETA
            self.started, self.logged = (now, done - 1), now
        if now - self.logged >= self.LOG_EVERY_S or done == total:
            self.logged = now
            log(log_line(self.description, done, total, status, *self.started, now, self.unit))


def log_line(
    what: str,
    done: int,
    total: int,
    status: str,
    t0: float,
    done0: int,
    now: float,
    unit: str = "step",
) -> str:
    """``unmixing: step 300/1500 (20%), loss 0.0123, 45 s elapsed, ETA 3 min 0 s``."""
    elapsed = now - t0
    timed = done - done0
    eta = elapsed / timed * (total - done) if timed > 0 else float("nan")
    status = f", {status}" if status else ""
    return (
        f"{what}: {unit} {done}/{total} ({done / total:.0%}){status}, "
        f"{_duration(elapsed)} elapsed, ETA {_duration(eta)}"
    )


def _duration(seconds: float) -> str:
    if seconds != seconds:  # nan: nothing timed yet
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
