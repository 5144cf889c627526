"""The stage runner: skip finished stages, resume interrupted ones, rerun on changed inputs."""

from __future__ import annotations

import dataclasses
import json

import pytest

from msfdiff.config import from_dict
from msfdiff.errors import ConfigError, OutputSpaceError
from msfdiff.pipeline.config import ExperimentConfig, load_experiment
from msfdiff.pipeline.runner import Runner
from msfdiff.pipeline.stages import STAGE_NAMES, STAGES


@pytest.fixture
def experiment(tmp_path):
    hsi = tmp_path / "a.mat"
    hsi.write_bytes(b"x")
    rgb = tmp_path / "photos"
    rgb.mkdir()
    (rgb / "p.png").write_bytes(b"y")
    return from_dict(ExperimentConfig, {"data": {"hsi": [str(hsi)], "rgb": str(rgb)}})


def recording(calls: list, fail_at: str | None = None):
    """The real stage declarations with bodies that only record their calls."""

    def make(name):
        def fn(context, resume):
            calls.append((name, resume))
            if name == fail_at:
                raise KeyboardInterrupt

        return fn

    return [dataclasses.replace(stage, run=make(stage.name)) for stage in STAGES]


def test_second_run_skips_everything(experiment, tmp_path):
    calls: list = []
    run = tmp_path / "run"
    Runner(experiment, run, stages=recording(calls), log=lambda s: None).run()
    assert [c[0] for c in calls] == list(STAGE_NAMES)
    calls.clear()
    outcome = Runner(experiment, run, stages=recording(calls), log=lambda s: None).run()
    assert calls == [] and set(outcome.values()) == {"skipped"}
    assert (run / "config.yaml").exists()
    assert json.loads((run / "stages" / "unmix.json").read_text())["status"] == "done"


def test_a_run_folder_that_cannot_be_written_fails_before_any_stage(experiment, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    calls: list = []
    with pytest.raises(OutputSpaceError, match="file.txt: not a writable folder"):
        Runner(experiment, blocker / "run", stages=recording(calls)).run()
    assert calls == []


def test_interrupted_stage_resumes_and_earlier_ones_skip(experiment, tmp_path):
    calls: list = []
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        Runner(
            experiment,
            run,
            stages=recording(calls, fail_at="diffusion"),
            log=lambda s: None,
        ).run()
    assert json.loads((run / "stages" / "diffusion.json").read_text())["status"] == "running"
    calls.clear()
    outcome = Runner(experiment, run, stages=recording(calls), log=lambda s: None).run()
    assert outcome["unmix"] == "skipped" and outcome["diffusion"] == "resumed"
    assert calls[0] == ("diffusion", True)


def test_changed_input_reruns_that_stage_and_downstream(experiment, tmp_path):
    calls: list = []
    run = tmp_path / "run"
    Runner(experiment, run, stages=recording(calls), log=lambda s: None).run()
    (tmp_path / "photos" / "q.png").write_bytes(b"new photo")
    calls.clear()
    outcome = Runner(experiment, run, stages=recording(calls), log=lambda s: None).run()
    assert outcome["unmix"] == "skipped" and outcome["eval_unmix"] == "skipped"
    assert [c for c in calls] == [
        (s, False) for s in ("infer", "diffusion", "sample", "evaluate", "report")
    ]


def test_stage_option_reruns_one_stage(experiment, tmp_path):
    calls: list = []
    run = tmp_path / "run"
    Runner(experiment, run, stages=recording(calls), log=lambda s: None).run()
    calls.clear()
    Runner(experiment, run, stages=recording(calls), log=lambda s: None).run(only="sample")
    assert calls == [("sample", False)]
    with pytest.raises(ConfigError, match="unknown stage"):
        Runner(experiment, run, stages=recording(calls), log=lambda s: None).run(only="nope")


def test_experiment_yaml_validates(tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {hsi: [a.mat], rgb: photos}\nunmixing: {presett: cpu}\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_experiment(bad)
    monkeypatch.setenv("MSFDIFF_DATA", str(tmp_path))
    good = tmp_path / "good.yaml"
    good.write_text(
        'data: {hsi: ["${MSFDIFF_DATA}/a.mat"], rgb: "${MSFDIFF_DATA}/p"}\nsampling: {n: 3}\n'
    )
    config = load_experiment(good)
    assert config.data.hsi == (f"{tmp_path}/a.mat",) and config.sampling.n == 3


def test_shipped_configs_validate():
    """Every shipped experiment loads (comparisons and downstream runs: their own tests)."""
    from pathlib import Path

    others = ("compare_", "downstream_")  # their own tests load them
    experiments = [p for p in Path("configs").glob("*.yaml") if not p.name.startswith(others)]
    assert len(experiments) >= 3
    for path in sorted(experiments):
        config = load_experiment(path) if "${" not in path.read_text() or _has_data() else None
        if config is not None:
            assert config.data.hsi and config.data.rgb


def _has_data() -> bool:
    from msfdiff.data.shared import shared_data_dir

    return shared_data_dir() is not None
