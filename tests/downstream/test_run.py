"""``msfdiff downstream`` end to end on a small labelled scene written to files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from msfdiff.downstream.run import load_downstream, run_downstream
from msfdiff.errors import ConfigError, OutputExistsError, OutputSpaceError
from msfdiff.layout import DownstreamLayout
from tests.synthetic import labelled_scene

CONFIG = {
    "name": "tiny",
    "scene": {
        "cube": "cube.npy",
        "labels": "labels.npy",
        "class_names": ["red-ish", "green-ish", "blue-ish"],
        "wavelengths": "400:700:31",
    },
    "split": {"patch_size": 5, "train_fraction": 0.3, "max_per_class": 12},
    "target_per_class": 16,
    "seeds": [0, 1],
    "conditions": ["real", "augment", "conditional"],
    "classifiers": {"networks": ["resnet18"], "spectra": ["svm"], "iterations": 6},
    "chain": {
        "n_endmembers": 3,
        "unmixer_steps": 300,
        "diffusion_steps": 10,
        "sampling_steps": 4,
        "diffusion_overrides": {
            "unet": {"block_out_channels": [16, 32], "attention_resolutions": [],
                     "norm_num_groups": 8},
        },
    },
}  # fmt: skip


def without_times(summary: dict) -> dict:
    drop = {"seconds", "created_utc"}
    runs = [{k: v for k, v in run.items() if k not in drop} for run in summary["runs"]]
    return {**{k: v for k, v in summary.items() if k not in drop}, "runs": runs}


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scene")
    cube, labels, _ = labelled_scene()
    np.save(folder / "cube.npy", cube.data)
    np.save(folder / "labels.npy", labels)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


@pytest.fixture(scope="module")
def first(config_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "a"
    folder, summary = run_downstream(config_path, out)
    return folder, summary


def test_writes_the_table_the_figures_and_the_report(first):
    folder, summary = first
    layout = DownstreamLayout(folder)
    for path in (layout.table_md, layout.figure, layout.split_figure, layout.spectra_figure):
        assert path.is_file() and path.stat().st_size > 0
    assert "Per-class accuracy" in layout.report.read_text()
    table = {(c["condition"], c["classifier"]): c for c in summary["table"]}
    assert len(table) == 6 and all(c["n_runs"] == 2 for c in table.values())
    assert table[("real", "svm")]["n_added"] == 0
    train = summary["split"]["train_per_class"]
    assert table[("augment", "svm")]["n_added"] == sum(max(16 - n, 0) for n in train)
    for run in summary["runs"]:  # a separable scene: far above chance (1/3)
        if run["classifier"] == "svm":
            assert run["overall_accuracy"] > 0.8


def test_the_same_seeds_reproduce_the_table(first, config_path, tmp_path):
    _, summary = first
    _, again = run_downstream(config_path, tmp_path / "b")
    assert without_times(again) == without_times(summary)


def test_a_second_run_keeps_finished_results_and_other_settings_need_force(
    first, config_path, tmp_path
):
    folder, summary = first
    result = DownstreamLayout(folder).result("augment", "resnet18", 1)
    stamp = result.stat().st_mtime_ns
    lines: list[str] = []
    _, again = run_downstream(config_path, folder, log=lines.append)
    assert result.stat().st_mtime_ns == stamp
    assert not any(line.startswith("[augment] resnet18") for line in lines)
    assert without_times(again)["runs"] == without_times(summary)["runs"]

    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({**CONFIG, "target_per_class": 20}))
    (tmp_path / "cube.npy").symlink_to(config_path.parent / "cube.npy")
    (tmp_path / "labels.npy").symlink_to(config_path.parent / "labels.npy")
    with pytest.raises(OutputExistsError, match="--force"):
        run_downstream(changed, folder)


def test_bad_configs_fail_at_load_with_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    for change, message in (
        ({"conditions": ["real", "magic"]}, "conditions"),
        ({"classifiers": {"networks": ["lenet"]}}, "lenet"),
        ({"scene": {"cube": "c.npy"}}, "scene"),
        ({"folders": {"root": "sets"}}, "either scene"),
        ({"seeds": []}, "seeds"),
    ):
        bad.write_text(yaml.safe_dump({**CONFIG, **change}))
        with pytest.raises(ConfigError, match=message):
            load_downstream(bad)


def test_cli_names_a_missing_scene_file_in_one_line(config_path, tmp_path):
    raw = {**CONFIG, "scene": {**CONFIG["scene"], "cube": "missing.npy"}}
    path = config_path.parent / "missing.yaml"
    path.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "msfdiff.cli.main", "downstream", str(path)]
    result = subprocess.run([*cmd, "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert result.returncode != 0
    assert "missing.npy" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()


def test_no_room_fails_after_reading_the_scene_and_before_writing(
    config_path, monkeypatch, tmp_path
):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr("msfdiff._io.shutil.disk_usage", lambda p: usage._replace(free=1 << 20))
    with pytest.raises(OutputSpaceError, match="only 1.0 MiB is free"):
        run_downstream(config_path, tmp_path / "full")
    assert not (tmp_path / "full").exists()


def test_shipped_downstream_configs_load():
    from pathlib import Path

    for path in sorted(Path("configs").glob("downstream_*.yaml")):
        config, _ = load_downstream(path)
        assert (config.scene or config.folders) is not None and len(config.seeds) >= 5
        assert json.dumps(config.split.__dict__)
