"""Fixtures for the report tests: a full fake run (built once), an HTML parser, the command."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from PIL import Image

from msfdiff.cli.report import register
from msfdiff.report import write_report
from tests.report.fake_run import build_run

PNG_URI = "data:image/png;base64,"


@dataclass
class Figure:
    src: str
    alt: str
    caption: str = ""

    def image(self) -> Image.Image:
        """Decode the embedded PNG (raises if it is not one)."""
        assert self.src.startswith(PNG_URI), self.src[:40]
        image = Image.open(io.BytesIO(base64.b64decode(self.src[len(PNG_URI) :], validate=True)))
        image.load()
        assert image.format == "PNG"
        return image


@dataclass
class Section:
    id: str
    title: str = ""
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


class ReportParser(HTMLParser):
    """Sections of a report with their figures (img + figcaption), grey notes and captions."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, Section] = {}
        self.images: list[Figure] = []  # every <img>, inside a section or not
        self._section: Section | None = None
        self._figure: Figure | None = None
        self._capture: str | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "section":
            self._section = self.sections.setdefault(attr["id"], Section(attr["id"]))
        elif tag == "img":
            figure = Figure(attr.get("src") or "", attr.get("alt") or "")
            self.images.append(figure)
            if self._section is not None:
                self._section.figures.append(figure)
            self._figure = figure
        elif tag in ("figcaption", "h2") or (
            tag == "p" and attr.get("class") in ("note", "caption")
        ):
            self._capture = {"p": attr.get("class")}.get(tag, tag)
            self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        if self._capture and tag in ("figcaption", "h2", "p"):
            text = "".join(self._buffer).strip()
            if self._capture == "figcaption" and self._figure is not None:
                self._figure.caption = text
            elif self._section is not None:
                target = {
                    "h2": None,
                    "note": self._section.notes,
                    "caption": self._section.captions,
                }
                if self._capture == "h2":
                    self._section.title = text
                else:
                    target[self._capture].append(text)
            self._capture = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._capture:
            self._buffer.append(data)
        if self._section is not None:
            self._section.text.append(data)


def make_app() -> typer.Typer:
    """An app with only `msfdiff report` registered, as cli/main.py registers it."""
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keeps `report` a sub-command, as in the msfdiff app
        pass

    return app


def parse_report(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


@pytest.fixture(scope="session")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory with every part, in the pipeline's real formats (built once: ~10 s)."""
    base = tmp_path_factory.mktemp("report")
    return build_run(base / "run", base / "photos")


@pytest.fixture(scope="session")
def full_report(full_run: Path) -> Path:
    return write_report(full_run)
