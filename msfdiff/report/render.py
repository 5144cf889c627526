"""Write a run's report: the sections of :mod:`msfdiff.report.sections` on one page."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

import msfdiff.report.template as html
from msfdiff._io import atomic_write, check_new
from msfdiff._version import __version__
from msfdiff.errors import DataNotFoundError
from msfdiff.layout import RunLayout
from msfdiff.report.embed import Scratch
from msfdiff.report.run import RunContents
from msfdiff.report.sections import SECTIONS, Context, build_section


def write_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    force: bool = False,
    max_images: int = 8,
) -> Path:
    """Write the run's self-contained HTML report (atomically) and return its path.

    Parameters
    ----------
    run_dir : path
        A run directory as written by the pipeline; any part of it may be missing.
    out : path, optional
        The HTML file; the run's ``report.html`` by default.
    force : bool
        Replace an existing report (the pipeline does, after every stage).
    max_images : int
        Photos and synthetic HSIs shown per gallery.

    Raises
    ------
    DataNotFoundError
        ``run_dir`` is not a directory.
    OutputExistsError
        ``out`` exists and ``force`` is False.
    """
    layout = RunLayout(run_dir)
    if not layout.root.is_dir():
        raise DataNotFoundError(f"{layout.root}: run directory not found")
    out = check_new(layout.report if out is None else out, force=force)
    page = render_report(layout.root, max_images=max_images)
    return atomic_write(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def render_report(run_dir: str | os.PathLike, *, max_images: int = 8) -> str:
    """The report of ``run_dir`` as one HTML string (see :func:`write_report`)."""
    run = RunContents(run_dir)
    with tempfile.TemporaryDirectory(prefix="msfdiff-report-") as tmp:
        ctx = Context(run, Scratch(Path(tmp)), max_images)
        body = [build_section(ctx, *spec) for spec in SECTIONS]
    root = run.root.resolve()
    made = datetime.now().astimezone().isoformat(timespec="seconds")
    return html.page(
        title=f"msfdiff run report: {root.name}",
        subtitle=f"{root} · made {made} by msfdiff {__version__}",
        nav=[(key, title) for key, title, _ in SECTIONS],
        body=body,
    )
