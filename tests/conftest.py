"""Shared fixtures. Tests needing real data skip, with the reason, when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

from msfdiff.data.shared import shared_data_dir  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real reference data folder; skips the test when it is missing."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("real data not found: set MSFDIFF_DATA or place it at ../shared/data")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
