"""Per-run HTML report: everything a run directory holds, as one self-contained page.

>>> from msfdiff.report import write_report          # doctest: +SKIP
>>> write_report("runs/demo")                         # -> runs/demo/report.html

``register(app)`` adds ``msfdiff report --run RUN [--out FILE] [--force]`` to the CLI. The
report module (matplotlib, readers) is imported on first use, so registering costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

__all__ = ["register", "render_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name in ("write_report", "render_report"):
        from msfdiff.report import html

        return getattr(html, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to the ``msfdiff`` app."""
    app.command("report")(report)


def report(
    run: Path = typer.Option(..., "--run", help="Run directory (any stage may be missing)."),
    out: Path | None = typer.Option(
        None, "--out", help="HTML file to write (default RUN/report.html)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing report."),
) -> None:
    """Write a self-contained HTML report of a run: figures embedded, opens offline."""
    from msfdiff.cli._common import console
    from msfdiff.report.html import write_report

    path = write_report(run, out=out, force=force)
    console.print(f"report: {path}")
