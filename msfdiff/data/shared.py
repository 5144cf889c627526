"""Where the real reference data lives: ``$MSFDIFF_DATA`` or ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path | None:
    """Return the shared real-data folder, or None when it is absent.

    Looked up in order: ``$MSFDIFF_DATA``, ``./../shared/data`` (relative to the working
    directory), and ``../shared/data`` beside the source checkout.
    """
    env = os.environ.get("MSFDIFF_DATA")
    candidates = [Path(env)] if env else []
    candidates += [
        Path.cwd().parent / "shared" / "data",
        Path(__file__).resolve().parents[3] / "shared" / "data",
    ]
    for path in candidates:
        if path.is_dir():
            return path
    return None
