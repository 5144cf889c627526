"""Open a report in headless Chromium: check its pictures rendered, take a screenshot.

Uses the system's Chromium and chromedriver (Debian: ``apt-get install chromium
chromium-driver``) through Selenium (``pip install selenium``), never Selenium Manager, and
starts the browser with networking features off and a fresh profile, so it works offline.

From the command line: ``msfdiff report --run RUN --screenshot OUT.png`` (the README's
screenshot).
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from msfdiff._io import atomic_path
from msfdiff.errors import DataFormatError, DataNotFoundError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)
_BROKEN_IMAGES_JS = """
return Array.from(document.images)
  .filter(img => !img.complete || img.naturalWidth === 0)
  .map(img => img.alt || img.src.slice(0, 60));
"""


def find_browser() -> tuple[Path, Path]:
    """Paths of the Chromium binary and chromedriver, found on PATH.

    Raises
    ------
    DataNotFoundError
        Either is missing; the message says how to install them.
    """
    browser = next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        raise DataNotFoundError(
            "chromium and chromedriver not found on PATH "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    return Path(browser), Path(driver)


@contextmanager
def open_page(html: str | os.PathLike, *, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """Yield a Selenium driver showing ``html`` in headless Chromium; quit it afterwards."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ModuleNotFoundError as exc:
        raise DataNotFoundError("selenium is not installed (pip install selenium)") from exc
    html = Path(html).resolve()
    if not html.is_file():
        raise DataNotFoundError(f"{html}: report not found")
    browser, driver_path = find_browser()
    with tempfile.TemporaryDirectory(prefix="msfdiff-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(browser)
        for flag in (
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
        try:
            driver.get(html.as_uri())
            yield driver
        finally:
            driver.quit()


def broken_images(driver: Any) -> list[str]:
    """Alt texts of the images on the page that did not load or decode (empty: all rendered)."""
    return list(driver.execute_script(_BROKEN_IMAGES_JS))


def save_screenshot(driver: Any, path: str | os.PathLike, *, max_height: int | None = None) -> Path:
    """PNG of the whole page (or its top ``max_height`` CSS pixels), written atomically."""
    width = driver.execute_script("return document.documentElement.scrollWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    height = height if max_height is None else min(height, max_height)
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    with atomic_path(path) as tmp:
        tmp.write_bytes(base64.b64decode(shot["data"]))
    return Path(path)


def screenshot(
    html: str | os.PathLike,
    out: str | os.PathLike,
    *,
    width: int = 1280,
    max_height: int | None = None,
) -> Path:
    """Check that every picture of a report renders, then save a PNG of the page.

    Raises
    ------
    DataFormatError
        Some picture of the report did not render.
    """
    with open_page(html, width=width) as driver:
        broken = broken_images(driver)
        if broken:
            raise DataFormatError(
                f"{html}: {len(broken)} picture(s) did not render, e.g. {broken[0]}"
            )
        return save_screenshot(driver, out, max_height=max_height)
