"""``msfdiff run`` killed with SIGKILL at random moments, then run again, ends exactly as an
uninterrupted run: every stage resumes or redoes its part, and nothing half-written is read."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from msfdiff.layout import RunLayout, sample_abundance_paths
from tests.synthetic import write_experiment_data
from tests.test_pipeline_end_to_end import TINY

EXPERIMENT = {
    **TINY,
    "unmixing": {**TINY["unmixing"], "overrides": {**TINY["unmixing"]["overrides"], "steps": 200}},
}


def start(config: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "msfdiff.cli.main", "run", str(config), "--out", str(out)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def results(run: Path) -> dict[str, bytes]:
    """What the run made that must not depend on interruptions (timings and pictures aside)."""
    layout = RunLayout(run)
    files = [*sample_abundance_paths(layout.samples), *layout.unmixing.glob("model/*.safetensors")]
    files += [layout.abundances / "abundances.npy", *layout.generator.glob("unet/*.safetensors")]
    found = {str(p.relative_to(run)): p.read_bytes() for p in files}
    metrics = json.loads(layout.metrics.read_text())["metrics"]
    found["metrics"] = json.dumps(metrics, sort_keys=True).encode()
    return found


def test_a_run_killed_at_random_moments_ends_as_an_uninterrupted_one(tmp_path):
    config = tmp_path / "tiny.yaml"
    data = write_experiment_data(tmp_path)
    config.write_text(yaml.safe_dump({"name": "tiny", "data": data, **EXPERIMENT}))
    began = time.time()
    straight = start(config, tmp_path / "straight")
    assert straight.wait(timeout=600) == 0, straight.stderr.read().decode()[-2000:]
    duration = time.time() - began
    rng, stages_hit = random.Random(16), set()
    for _ in range(3):
        proc = start(config, tmp_path / "killed")
        time.sleep(rng.uniform(0.2, 0.9) * duration)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        records = sorted(RunLayout(tmp_path / "killed").stages.glob("*.json"))
        stages_hit |= {p.stem for p in records if json.loads(p.read_text())["status"] == "running"}
    assert stages_hit, "every kill came before the first stage started or after the last ended"
    final = start(config, tmp_path / "killed")
    assert final.wait(timeout=600) == 0, final.stderr.read().decode()[-2000:]
    killed, expected = results(tmp_path / "killed"), results(tmp_path / "straight")
    assert killed.keys() == expected.keys()
    assert [name for name in expected if killed[name] != expected[name]] == []
    assert RunLayout(tmp_path / "killed").report.is_file()


def test_a_run_on_two_processes_ends_as_a_run_on_one(tmp_path):
    import numpy as np

    data = write_experiment_data(tmp_path)
    diffusion = EXPERIMENT["diffusion"]["overrides"]
    half = {**diffusion, "training": {**diffusion["training"], "batch_size": 1}}
    for name, overrides in (("one", diffusion), ("two", half)):  # the same global batch of 2
        raw = {"name": "tiny", "data": data, **EXPERIMENT, "diffusion": {"overrides": overrides}}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(raw))
    launch = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    for name, launcher in (("one", []), ("two", launch)):
        command = [sys.executable, *launcher, "-m", "msfdiff.cli.main", "run",
                   str(tmp_path / f"{name}.yaml"), "--out", str(tmp_path / name)]  # fmt: skip
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=600,
            env={**env, "OMP_NUM_THREADS": "1"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
    one, two = results(tmp_path / "one"), results(tmp_path / "two")
    assert one.keys() == two.keys()
    # the unmixer (trained once) and the photo maps (sharded) are the one-process files; the
    # diffusion weights are DDP's, equal up to the order of float sums, and so the samples
    differ = sorted(name for name in one if one[name] != two[name])
    assert all(("diffusion/" in n or "samples/" in n or n == "metrics") for n in differ), differ
    for path in sample_abundance_paths(RunLayout(tmp_path / "one").samples):
        twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
        np.testing.assert_allclose(np.load(path), np.load(twin), atol=1e-4)
    assert RunLayout(tmp_path / "two").report.is_file()
