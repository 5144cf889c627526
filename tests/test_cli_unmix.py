"""`msfdiff unmix` as a user runs it: outputs, resume after a kill, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from sklearn.base import clone

from msfdiff.checkpoints import STATE_NAME, checkpoint_step, latest_checkpoint
from msfdiff.layout import RunLayout
from tests.synthetic import known_scene

TINY = [
    "--k",
    "3",
    "--steps",
    "200",
    "--batch-size",
    "4",
    "--crop-size",
    "16",
    "--bands",
    "nearest:620,540,460",
]


def msfdiff(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "msfdiff.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def scene_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("scene")
    for i, seed in enumerate((0, 1)):
        cube, _, _ = known_scene(size=32, k=3, seed=seed)
        scipy.io.savemat(
            folder / f"scene{i}.mat", {"HSI": cube.data, "wavelengths": cube.wavelengths_nm}
        )
    return folder / "scene0.mat", folder / "scene1.mat"


@pytest.fixture(scope="module")
def trained_run(scene_files, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    result = msfdiff("unmix", "train", "--hsi", str(scene_files[0]), "--out", str(run), *TINY)
    assert result.returncode == 0, result.stderr
    # not a terminal: progress is logged as lines with an ETA, the last one at the final step
    assert "unmixing: step 200/200 (100%), loss " in result.stderr
    assert " elapsed, ETA 0 s" in result.stderr
    return run


def test_progress_log_line_states_step_loss_elapsed_and_eta():
    from msfdiff.cli._common import log_line

    line = log_line("unmixing", 300, 1500, "loss 0.0123", 100.0, 0, 145.0)
    assert line == "unmixing: step 300/1500 (20%), loss 0.0123, 45 s elapsed, ETA 3 min 0 s"
    resumed = log_line("unmixing", 1300, 1500, "loss 0.01", 0.0, 1200, 60.0)  # 100 steps in 60 s
    assert resumed.endswith("1 min 0 s elapsed, ETA 2 min 0 s")


def test_train_writes_model_and_figures(trained_run):
    folder = trained_run / "unmixing"
    state = json.loads((folder / "unmixer.json").read_text())
    assert state["n_bands"] == 31 and len(state["wavelengths_nm"]) == 31
    assert (folder / "model" / "config.json").exists()
    assert list((folder / "model").glob("*.safetensors"))
    for name in ("endmembers.png", "abundances.png", "reconstruction.png", "loss.png"):
        assert (folder / "figures" / name).stat().st_size > 1000


def test_eval_json_shape_and_values(trained_run, scene_files, tmp_path):
    out = tmp_path / "m.json"
    result = msfdiff(
        "unmix", "eval", "--run", str(trained_run), "--hsi", str(scene_files[1]), "--json", str(out)
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(out.read_text())
    assert set(metrics["mean"]) >= {"rmse", "psnr", "ssim", "sad_deg"}
    assert len(metrics["images"]) == 1
    # the JSON holds what the Python API computes for the same model and cube
    from msfdiff.data.readers import read_hsi
    from msfdiff.evaluation.reconstruction import reconstruction_metrics
    from msfdiff.unmixing import load_unmixer

    cube = read_hsi(scene_files[1])
    expected = reconstruction_metrics(load_unmixer(trained_run).reconstruct(cube), cube.data)
    for key, value in expected.items():
        assert metrics["images"][0][key] == pytest.approx(value, rel=1e-5), key
    flat = np.broadcast_to(cube.data.mean((0, 1)), cube.shape)
    assert metrics["mean"]["psnr"] > reconstruction_metrics(flat, cube.data)["psnr"] + 3
    again = msfdiff(
        "unmix", "eval", "--run", str(trained_run), "--hsi", str(scene_files[1]), "--json", str(out)
    )
    assert again.returncode != 0 and "--force" in again.stderr


def test_infer_photo_folder(trained_run, tmp_path):
    from PIL import Image

    photos = tmp_path / "photos" / "farmland"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(
            photos / f"p{i}.png"
        )
    out = tmp_path / "abund"
    result = msfdiff(
        "unmix",
        "infer",
        "--run",
        str(trained_run),
        "--rgb",
        str(tmp_path / "photos"),
        "--out",
        str(out),
        "--size",
        "16",
    )
    assert result.returncode == 0, result.stderr
    from msfdiff.data.abundances import load_abundance_dataset

    data = load_abundance_dataset(out)
    assert len(data) == 3 and data.k == 3 and data.classes == ["farmland"]
    maps = np.load(out / "abundances.npy")
    assert maps.shape == (3, 16, 16, 3)
    np.testing.assert_allclose(maps.sum(-1), 1, atol=1e-5)
    assert (out / "previews" / "abundance_grid.png").exists()


def test_kill_and_resume_continues_from_checkpoint(scene_files, tmp_path):
    run = tmp_path / "run"
    args = [
        "unmix",
        "train",
        "--hsi",
        str(scene_files[0]),
        "--out",
        str(run),
        "--k",
        "3",
        "--steps",
        "800",
        "--batch-size",
        "2",
        "--crop-size",
        "16",
        "--checkpoint-every",
        "20",
        "--bands",
        "nearest:620,540,460",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "msfdiff.cli.main", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    layout = RunLayout(run)

    def newest_step() -> int:
        newest = latest_checkpoint(layout.unmixing_checkpoints)
        return -1 if newest is None else checkpoint_step(newest)

    deadline = time.time() + 120
    while time.time() < deadline and newest_step() < 40:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = newest_step()
    assert 40 <= killed_at < 800
    assert not (layout.unmixing / "unmixer.json").exists()
    # every checkpoint folder present is complete (no half-written one is ever published)
    ckpt = latest_checkpoint(layout.unmixing_checkpoints)
    assert ckpt.name == f"step_{killed_at:08d}"
    assert (ckpt / STATE_NAME).exists() and (ckpt / "model" / "config.json").exists()
    result = msfdiff(*args, "--resume")
    assert result.returncode == 0, result.stderr
    history = json.loads((run / "unmixing" / "history.json").read_text())
    assert history[killed_at - 1]["step"] == killed_at and len(history) == 800


def test_resume_equals_uninterrupted(scene_files, tmp_path):
    """Exact resume: 6 steps + interrupt + resume to 12 == 12 steps straight."""
    from msfdiff.data.readers import read_hsi
    from msfdiff.unmixing import SceneUnmixer

    cube = read_hsi(scene_files[0])
    overrides = dict(
        widths=(8,), steps=12, batch_size=2, crop_size=16, band_selection="nearest:620,540,460"
    )
    unmixer = SceneUnmixer(3, preset="cpu", overrides=overrides)
    straight = clone(unmixer).fit(cube)
    ckpt = tmp_path / "ck"

    def interrupt(step, total, status=""):
        if step == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clone(unmixer).fit(cube, checkpoint_dir=ckpt, checkpoint_every=1000, progress=interrupt)
    lines = []
    resumed = clone(unmixer).fit(
        cube, checkpoint_dir=ckpt, checkpoint_every=1000, resume=True, log=lines.append
    )
    assert lines[0].startswith("unmixing: resuming from step 6 of 12")
    assert len(resumed.history_) == len(straight.history_) == 12
    for a, b in zip(
        straight.model_.state_dict().values(), resumed.model_.state_dict().values(), strict=True
    ):
        assert torch_equal(a, b)


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_infer_killed_at_a_random_moment_leaves_nothing_that_reads_as_a_dataset(
    trained_run, tmp_path
):
    import random

    from PIL import Image

    from msfdiff.data.abundances import load_abundance_dataset

    rng = np.random.default_rng(1)
    for i in range(600):
        folder = tmp_path / "photos" / ("field" if i % 2 else "town")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    args = ["unmix", "infer", "--run", str(trained_run), "--rgb", str(tmp_path / "photos"),
            "--size", "16"]  # fmt: skip
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "msfdiff.cli.main", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120  # until the dataset's temporary folder exists, then a while
    while time.time() < deadline and not list(tmp_path.glob(".killed.*")) and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(random.Random(16).uniform(0.0, 0.2))
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert running, "inference ended before the kill; the test needs more photos"
    assert not out.exists()  # only a hidden temporary folder, which no reader lists
    assert all(p.name.startswith(".") for p in tmp_path.iterdir() if "killed" in p.name)
    again = msfdiff(*args, "--out", str(out))  # no --force needed: nothing is there
    assert again.returncode == 0, again.stderr
    straight = msfdiff(*args, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    assert len(load_abundance_dataset(out)) == 600
    np.testing.assert_array_equal(
        np.load(out / "abundances.npy"), np.load(tmp_path / "straight" / "abundances.npy")
    )


def test_infer_on_two_processes_writes_the_one_process_dataset(trained_run, tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    for i in range(40):  # three batches of 16: process 0 takes the first and third
        folder = tmp_path / "photos" / ("field" if i % 3 else "town")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    args = ["unmix", "infer", "--run", str(trained_run), "--rgb", str(tmp_path / "photos"),
            "--size", "16", "--out"]  # fmt: skip
    launch = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
    # one thread per process in both runs: a batch summed by other threads rounds otherwise
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    for name, launcher in (("one", []), ("two", launch)):
        result = subprocess.run(
            [sys.executable, *launcher, "-m", "msfdiff.cli.main", *args, str(tmp_path / name)],
            capture_output=True, text=True, timeout=300, env={**env, "OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
    for name in ("abundances.npy", "index.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert not [p.name for p in tmp_path.iterdir() if ".shard-" in p.name]  # shards gathered
    assert (tmp_path / "two" / "previews" / "abundance_grid.png").is_file()
