"""The real stages glued together: a tiny experiment through every stage of ``msfdiff run``.

k = 2 endmembers, 8x8 maps, a few training steps: nothing here is good, but every stage reads
what the one before wrote, so a broken hand-over (a dropped ``scale``, a misnamed folder)
fails here and not after an hour of training.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from msfdiff.config import from_dict
from msfdiff.errors import ConfigError, DataNotFoundError
from msfdiff.layout import RunLayout, sample_abundance_paths
from msfdiff.pipeline.config import ExperimentConfig
from msfdiff.pipeline.runner import Runner
from msfdiff.pipeline.stages import STAGE_NAMES
from tests.synthetic import write_experiment_data

TINY = {
    "unmixing": {
        "overrides": {"n_endmembers": 2, "steps": 30, "crop_size": 8, "batch_size": 2},
        "checkpoint_every": 10,
    },
    "inference": {"size": 8},
    "diffusion": {
        "overrides": {
            "image_size": 8,
            "unet": {
                "block_out_channels": [8, 16],
                "attention_resolutions": [],
                "norm_num_groups": 8,
            },
            "training": {"max_steps": 4, "batch_size": 2, "crop_size": 8, "checkpoint_every": 2},
        }
    },
    "sampling": {"n": 2, "steps": 2},
    "evaluation": {"fid": False, "quality": False, "max_images": 4},
}


@pytest.fixture
def data(tmp_path) -> dict:
    return write_experiment_data(tmp_path)


def _experiment(data: dict, **sections) -> ExperimentConfig:
    raw = {"name": "tiny", "data": data, **TINY, **sections}
    return from_dict(ExperimentConfig, raw, where="test")


def test_every_real_stage_runs_on_integer_data_with_scale(data, tmp_path):
    run = tmp_path / "run"
    outcome = Runner(_experiment(data), run).run()
    assert outcome == {name: "ran" for name in STAGE_NAMES}
    layout = RunLayout(run)
    # the held-out scene was read scaled: reconstruction in reflectance, not in raw counts
    held_out = json.loads(layout.unmixing_eval.read_text())
    assert held_out["mean"]["psnr"] > 15.0
    maps = [np.load(p) for p in sample_abundance_paths(layout.samples)]
    assert len(maps) == 2 and all(m.shape == (8, 8, 2) for m in maps)
    assert all(np.allclose(m.sum(-1), 1.0, atol=1e-4) and m.min() >= 0 for m in maps)
    metrics = json.loads(layout.metrics.read_text())
    assert metrics["sets"]["real"]["n_images"] == 1
    assert metrics["sets"]["synthetic"]["n_images"] == 2
    # both sets in reflectance (raw uint16 counts would put the distance near 1e6)
    assert metrics["metrics"]["spectral_fd"]["value"] < 1.0
    # samples are compared with the maps the generator was trained on (the photo abundances)
    assert 0.0 <= metrics["metrics"]["memorisation_rate"]["value"] <= 1.0
    assert layout.report.is_file()
    # a second run has nothing to do
    assert set(Runner(_experiment(data), run).run().values()) == {"skipped"}


def test_typo_in_diffusion_overrides_fails_at_load(data):
    with pytest.raises(ConfigError, match="learnin_rate"):
        _experiment(data, diffusion={"overrides": {"training": {"learnin_rate": 1e-4}}})


def test_typo_in_unmixing_overrides_fails_at_load(data):
    with pytest.raises(ConfigError, match="stepz"):
        _experiment(data, unmixing={"overrides": {"stepz": 10}})


def test_fingerprints_cover_how_the_data_is_read(data, tmp_path):
    """Changing ``scale`` (or ``key``) changes what every HSI-reading stage sees."""
    base = Runner(_experiment(data), tmp_path / "run")
    rescaled = Runner(_experiment({**data, "scale": 255.0}), tmp_path / "run")
    for stage in ("unmix", "eval_unmix", "evaluate"):
        assert base.fingerprint(stage) != rescaled.fingerprint(stage), stage
    assert base.fingerprint("infer") != rescaled.fingerprint("infer")  # downstream of unmix


def test_missing_evaluation_model_fails_before_any_stage(data, tmp_path, monkeypatch):
    monkeypatch.setenv("MSFDIFF_INCEPTION", str(tmp_path / "nowhere.pt"))
    experiment = _experiment(data, evaluation={"fid": True, "quality": False})
    with pytest.raises(DataNotFoundError, match="nowhere.pt: Inception network file not found"):
        Runner(experiment, tmp_path / "run").run()
    assert not (tmp_path / "run").exists()  # not even the run folder was made
