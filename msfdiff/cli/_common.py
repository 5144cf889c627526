"""Shared CLI plumbing: one-line errors, progress bars and option parsing helpers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")
console = Console(stderr=True)


def debug_enabled() -> bool:
    """``--debug`` (or MSFDIFF_DEBUG=1) shows tracebacks instead of one-line errors."""
    return os.environ.get("MSFDIFF_DEBUG", "") not in ("", "0")


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` on one line and exit."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def progress(
    iterable: Iterable[T], *, total: int | None = None, description: str = ""
) -> Iterator[T]:
    """Wrap ``iterable`` in a rich progress bar on stderr (quiet when not a terminal)."""
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            yield item
            bar.advance(task)
