"""Tiny abundance datasets and a tiny trained run, shared by the diffusion tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from msfdiff.data.abundances import (
    load_abundance_dataset,
    make_synthetic_abundances,
    write_abundance_dataset,
)
from tests.diffusion.tiny import LABELS, K, one_thread, tiny_config


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="session")
def abundance_dir(tmp_path_factory) -> Path:
    """Six labelled 20x20 maps (k=3): larger than the 16x16 crops, so cropping is exercised."""
    folder = tmp_path_factory.mktemp("data") / "abundances"
    maps = make_synthetic_abundances(len(LABELS), 20, 20, K, smoothness=2.0, seed=1)
    return write_abundance_dataset(folder, maps, labels=LABELS)


@pytest.fixture(scope="session")
def dataset(abundance_dir):
    return load_abundance_dataset(abundance_dir)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, dataset) -> Path:
    """RUN_DIR with a class-conditional tiny generator trained for 4 steps under diffusion/."""
    from msfdiff.diffusion.generator import AbundanceDiffusion

    run = tmp_path_factory.mktemp("run")
    with one_thread():
        AbundanceDiffusion(tiny_config(), conditional=True).fit(dataset, run / "diffusion")
    return run
