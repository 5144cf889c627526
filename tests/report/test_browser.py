"""The report in a real browser: headless Chromium must render every picture.

The fixture installs Chromium with apt-get when it is missing and we are root (it skips,
saying why, only where that is impossible); Selenium drives the system chromedriver, so
nothing is downloaded at test time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from msfdiff.errors import DataNotFoundError
from msfdiff.report.screenshot import broken_images, find_browser, open_page, save_screenshot
from tests.report.conftest import make_app, parse_report

APT_TIMEOUT_S = 900


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    """Chromium and chromedriver paths, installing the Debian packages if needed."""
    pytest.importorskip("selenium", reason="selenium not installed (pip install selenium)")
    try:
        return find_browser()
    except DataNotFoundError as missing:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(f"{missing}; cannot install it here (not root with apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"],
        ):
            try:
                subprocess.run(
                    command, env=env, check=True, capture_output=True, timeout=APT_TIMEOUT_S
                )
            except (OSError, subprocess.SubprocessError) as exc:
                pytest.skip(f"{missing}; `{' '.join(command)}` failed: {exc}")
    return find_browser()


def test_every_picture_renders_in_chromium(
    chromium: tuple[Path, Path], full_report: Path, tmp_path: Path
) -> None:
    n_images = len(parse_report(full_report).images)
    with open_page(full_report, width=1200) as driver:
        assert driver.execute_script("return document.images.length") == n_images > 10
        assert broken_images(driver) == []
        widths = driver.execute_script(
            "return Array.from(document.images, img => img.naturalWidth)"
        )
        titles = driver.execute_script(
            "return Array.from(document.querySelectorAll('section h2'), h => h.textContent)"
        )
        shot = save_screenshot(driver, tmp_path / "report.png")
    assert min(widths) > 0
    assert titles[0] == "Overview" and len(titles) == 8
    with Image.open(shot) as image:
        assert image.width == 1200
        assert image.height > 3000  # the whole page, not only the first screen


def test_broken_picture_is_detected(chromium: tuple[Path, Path], tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        '<img alt="ok" src="data:image/png;base64,'
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">'
        '<img alt="bad" src="data:image/png;base64,AAAA">'
    )
    with open_page(page) as driver:
        assert broken_images(driver) == ["bad"]


def test_report_command_takes_the_screenshot(chromium: tuple[Path, Path], tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    args = ["report", "--run", str(tmp_path), "--screenshot", str(shot), "--width", "900"]
    result = CliRunner().invoke(make_app(), [*args, "--height", "300"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").is_file()
    with Image.open(shot) as image:
        assert image.size == (900, 300)
