"""Sampling shards (#16): processes sharing one folder, each owning the indices
``i % world == rank``, make exactly the set one process makes, whatever their number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from msfdiff.errors import ConfigError, OutputExistsError
from msfdiff.generate import Shard, generate_samples
from msfdiff.generator import SamplingSettings
from msfdiff.layout import SAMPLE_INDEX, complete_samples, shard_manifest_path
from tests.diffusion.test_crash import fake_unmixer
from tests.diffusion.test_generate import QUIET, FixedMaps

N = 6

# `msfdiff sample` as a console script, with RUN's unmixer replaced by the fake one in ARGV[1]
CLI = """
import sys, numpy as np, torch
from types import SimpleNamespace
import msfdiff.unmixing
from msfdiff.cli.main import main
torch.set_num_threads(1)
parts = np.load(sys.argv[1])
unmixer = SimpleNamespace(endmembers_=parts["e"], wavelengths_=parts["w"], noise_std_=parts["s"])
msfdiff.unmixing.load_unmixer = lambda run: unmixer
sys.argv = ["msfdiff", *sys.argv[2:]]
main()
"""


def contents(folder: Path) -> dict[str, bytes]:
    """The files directly in a samples folder (not the shard records under shards/), by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_two_processes_make_the_set_one_process_makes(trained_run, tmp_path):
    unmixer = fake_unmixer()
    parts = tmp_path / "unmixer.npz"
    np.savez(parts, e=unmixer.endmembers_, w=unmixer.wavelengths_, s=unmixer.noise_std_)
    shared = tmp_path / "shared"
    args = [trained_run, "--out", shared, "--n", N, "--sampler", "ddim", "--steps", 2]
    args += ["--format", "npy", "--seed", 3, "--batch-size", 2]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    procs = [
        subprocess.Popen(
            [str(a) for a in (sys.executable, "-c", CLI, parts, "sample", "--run", *args)]
            + ["--shard", f"{r}/2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for r in range(2)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    for rank, (proc, output) in enumerate(zip(procs, outputs, strict=True)):
        assert proc.returncode == 0, output
        assert f"done: shard {rank}/2: 3 of {N} samples in" in output

    from msfdiff.generator import load_generator

    single = tmp_path / "single"
    settings = SamplingSettings(format="npy", sampler="ddim", steps=2, seed=3, batch_size=2)
    generator = load_generator(trained_run / "diffusion")
    generate_samples(generator, single, unmixer=unmixer, n=N, settings=settings)

    made, expected = contents(shared), contents(single)
    assert made.keys() == expected.keys()  # sample files, sampling.json and samples.json
    assert complete_samples(shared) == list(range(N))
    different = [name for name in expected if made[name] != expected[name]]
    assert not different, f"differ from one process's set: {different}"
    for rank in range(2):
        record = json.loads(shard_manifest_path(shared, rank, 2).read_text())
        assert record == {"rank": rank, "world": 2, "n": N, "indices": [rank, rank + 2, rank + 4]}


def test_resuming_with_another_number_of_processes_gives_the_same_set(tmp_path):
    unmixer, out = fake_unmixer(), tmp_path / "out"
    generate_samples(FixedMaps(), out, unmixer=unmixer, n=N, settings=QUIET, shard=Shard(0, 2))
    assert complete_samples(out) == [0, 2, 4]
    assert not (out / SAMPLE_INDEX).exists()  # written only once the set is complete
    # what SIGKILL left of samples 1 (an image) and 5 (write_hsi's folder): shards 1/3 and 2/3's
    leftovers = [out / ".sample_0001_profiles.png.x1.tmp.png", out / ".sample_0005.npy.x2"]
    leftovers[0].write_bytes(b"half a png")
    leftovers[1].mkdir()

    for rank in range(3):  # the crashed 2-process run resumed by 3 processes
        generator, lines = FixedMaps(), []
        shard = Shard(rank, 3)
        generate_samples(
            generator, out, unmixer=unmixer, n=N, settings=QUIET, shard=shard, log=lines.append
        )
        assert generator.batches == [[{0: 3, 1: 1, 2: 5}[rank]]]  # the one not made before
        assert lines == [f"1 of 2 samples of shard {rank}/3 already in {out}; making the other 1"]
        assert [p.exists() for p in leftovers] == [rank < 1, rank < 2]  # each removes its own
    generate_samples(FixedMaps(), tmp_path / "single", unmixer=unmixer, n=N, settings=QUIET)
    assert contents(out) == contents(tmp_path / "single")
    index = json.loads((out / SAMPLE_INDEX).read_text())
    assert index["n"] == N and index["format"] == "npy"
    assert index["samples"][5] == {
        "index": 5,
        "hsi": "sample_0005.npy",
        "abundance": "sample_0005_abundance.npy",
    }


def test_a_shard_with_other_settings_is_refused(tmp_path):
    unmixer, out = fake_unmixer(), tmp_path / "out"
    generate_samples(FixedMaps(), out, unmixer=unmixer, n=N, settings=QUIET, shard=Shard(0, 2))
    reseeded = SamplingSettings(format="npy", noise=False, batch_size=2, seed=1)
    with pytest.raises(OutputExistsError, match=r"other settings \(seed\)"):
        generate_samples(
            FixedMaps(), out, unmixer=unmixer, n=N, settings=reseeded, shard=Shard(1, 2)
        )
    assert complete_samples(out) == [0, 2, 4]


def test_a_folder_another_shard_is_creating_is_not_foreign(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".sampling.json.1234.tmp.json").write_text("{")  # its manifest, half-written
    generate_samples(FixedMaps(), out, unmixer=fake_unmixer(), n=1, settings=QUIET)
    assert complete_samples(out) == [0]
    (out / "notes.txt").write_text("mine")
    (out / "sampling.json").unlink()
    with pytest.raises(OutputExistsError, match="is not a sampling folder"):
        generate_samples(FixedMaps(), out, unmixer=fake_unmixer(), n=1, settings=QUIET)


def test_shard_parse_and_refusals(monkeypatch):
    assert Shard.parse("1/4") == Shard(1, 4) and list(Shard(1, 4).indices(10)) == [1, 5, 9]
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert Shard.parse("auto") == Shard(2, 3)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert Shard.parse("auto") == Shard(0, 1)  # no launcher: one process
    for text in ("2", "a/2", "-1/2", "1/"):
        with pytest.raises(ConfigError, match=f"--shard must be R/N .* got '{text}'"):
            Shard.parse(text)
    for text in ("2/2", "0/0"):
        with pytest.raises(ConfigError, match=f"a shard is R/N with 0 <= R < N, got {text}"):
            Shard.parse(text)
