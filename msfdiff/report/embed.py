"""Pictures into the page: plots go to scratch PNG files, PNG files become data URIs.

Embedding every picture as ``data:image/png;base64,...`` is what lets the one HTML file be
mailed and opened offline; big pictures are shrunk first so the page stays light.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

MAX_EMBED_BYTES = 1_500_000  # larger PNGs are shrunk before embedding
MAX_EMBED_SIDE = 1600
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def data_uri(png: Path) -> str:
    """``data:image/png;base64,...`` of a PNG file; big or non-PNG files are re-encoded smaller."""
    data = png.read_bytes()
    if not data.startswith(_PNG_SIGNATURE) or len(data) > MAX_EMBED_BYTES:
        from PIL import Image

        with Image.open(png) as image:
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            image.thumbnail((MAX_EMBED_SIDE, MAX_EMBED_SIDE))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
        data = buffer.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


class Scratch:
    """Fresh numbered PNG paths in a temporary folder: the plotting helpers write files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._n_png = 0

    def png(self, name: str) -> Path:
        """A new path for a figure called ``name``."""
        self._n_png += 1
        return self.folder / f"{self._n_png:03d}_{name}.png"
