"""``msfdiff report`` as registered by ``msfdiff.report.register``."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from msfdiff.errors import OutputExistsError
from msfdiff.report import register


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keeps `report` a sub-command, as in the msfdiff app
        pass

    return app


def test_report_command_writes_and_refuses_overwrite(tmp_path: Path) -> None:
    app, runner = make_app(), CliRunner()
    result = runner.invoke(app, ["report", "--run", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report.html"
    assert out.read_text().startswith("<!DOCTYPE html>")
    again = runner.invoke(app, ["report", "--run", str(tmp_path)])
    assert isinstance(again.exception, OutputExistsError)
    forced = runner.invoke(app, ["report", "--run", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.output
    other = tmp_path / "sub" / "r.html"
    assert (
        runner.invoke(app, ["report", "--run", str(tmp_path), "--out", str(other)]).exit_code == 0
    )
    assert other.is_file()
