"""``msfdiff report``: write a run's HTML report and, optionally, a browser screenshot of it."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to the ``msfdiff`` app."""
    app.command("report")(report)


def report(
    run: Path = typer.Option(..., "--run", help="Run directory (any stage may be missing)."),
    out: Path | None = typer.Option(
        None, "--out", help="HTML file to write (default RUN/report.html)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite an existing report (and screenshot)."
    ),
    screenshot: Path | None = typer.Option(
        None,
        "--screenshot",
        help="Also open the report in headless Chromium, fail if a picture does not render, "
        "and save the page as this PNG (needs chromium, chromium-driver and selenium).",
    ),
    width: int = typer.Option(1280, "--width", help="Screenshot page width in CSS pixels."),
    height: int | None = typer.Option(
        None, "--height", help="Keep only the top of the page in the screenshot (CSS pixels)."
    ),
) -> None:
    """Write a self-contained HTML report of a run: figures embedded, opens offline."""
    from msfdiff._io import check_new
    from msfdiff.cli._common import console
    from msfdiff.report import write_report

    if screenshot is not None:  # refuse before the report is written, not after
        check_new(screenshot, force=force)
    path = write_report(run, out, force=force)
    console.print(f"report: {path}")
    if screenshot is not None:
        from msfdiff.report.screenshot import screenshot as take_screenshot

        shot = take_screenshot(path, screenshot, width=width, max_height=height)
        console.print(f"screenshot: {shot}")
