"""Fail fast: an output that cannot be written is refused before training or scoring (#16)."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.errors import OutputSpaceError


@pytest.mark.parametrize("command", ["unmix", "diffusion", "evaluate"])
def test_an_output_below_a_file_fails_before_any_work(command, tmp_path):
    """Fail fast: an output folder that cannot be made is refused before training or scoring."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputSpaceError, match="a-file: not a writable folder"):
        if command == "unmix":
            from msfdiff.data.cube import HyperCube
            from msfdiff.unmixing import SceneUnmixer
            from msfdiff.unmixing.workflow import train_and_save

            cube = HyperCube(np.full((8, 8, 31), 0.5, np.float32), np.linspace(400, 700, 31))
            train_and_save(SceneUnmixer(2), [cube], blocker / "run")
        elif command == "diffusion":
            from msfdiff.data.abundances import (
                load_abundance_dataset,
                make_synthetic_abundances,
                write_abundance_dataset,
            )
            from msfdiff.diffusion.training import DiffusionTrainer
            from tests.diffusion.tiny import tiny_config

            maps = make_synthetic_abundances(2, 16, 16, 3, seed=0)
            dataset = load_abundance_dataset(write_abundance_dataset(tmp_path / "abu", maps))
            DiffusionTrainer.start(tiny_config(), dataset, blocker / "diffusion")
        else:
            from msfdiff.evaluation.output import check_outputs

            check_outputs(blocker / "metrics.json")
