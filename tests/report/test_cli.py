"""``msfdiff report`` as registered by ``msfdiff.cli.report.register``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from msfdiff.errors import OutputExistsError
from tests.report.conftest import make_app


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


def test_screenshot_refused_before_the_report_is_written(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"old")
    result = CliRunner().invoke(
        make_app(), ["report", "--run", str(tmp_path), "--screenshot", str(shot)]
    )
    assert isinstance(result.exception, OutputExistsError)
    assert not (tmp_path / "report.html").exists()
    assert shot.read_bytes() == b"old"
