"""SIGKILL in the middle of sampling, then rerun: nothing duplicated, nothing half-written
read as good, and the finished set equals an uninterrupted one (#16)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from msfdiff.generate import generate_samples
from msfdiff.generator import SamplingSettings, load_generator
from msfdiff.layout import sample_abundance_paths
from tests.diffusion.tiny import K

N, BANDS = 10, 6
SETTINGS = SamplingSettings(format="npy", sampler="ddim", steps=3, batch_size=1, seed=3)

SCRIPT = """
import sys, numpy as np
from types import SimpleNamespace
from msfdiff.generate import generate_samples
from msfdiff.generator import SamplingSettings, load_generator
parts = np.load(sys.argv[2])
unmixer = SimpleNamespace(endmembers_=parts["e"], wavelengths_=parts["w"], noise_std_=parts["s"])
settings = SamplingSettings(format="npy", sampler="ddim", steps=3, batch_size=1, seed=3)
generate_samples(load_generator(sys.argv[1]), sys.argv[3], unmixer=unmixer, n=int(sys.argv[4]),
                 settings=settings)
"""


def fake_unmixer(seed: int = 0) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    return SimpleNamespace(
        endmembers_=rng.uniform(0, 1, (K, BANDS)).astype(np.float32),
        wavelengths_=np.linspace(450, 650, BANDS),
        noise_std_=np.full(BANDS, 0.01, dtype=np.float32),
    )


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix == ".npy"}


def test_sigkill_during_sampling_then_rerun_equals_an_uninterrupted_run(trained_run, tmp_path):
    unmixer = fake_unmixer()
    parts = tmp_path / "unmixer.npz"
    np.savez(parts, e=unmixer.endmembers_, w=unmixer.wavelengths_, s=unmixer.noise_std_)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-c", SCRIPT, trained_run / "diffusion", parts, out, N]
    proc = subprocess.Popen([str(c) for c in cmd], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.is_dir() or len(sample_abundance_paths(out)) < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(sample_abundance_paths(out))
    assert 2 <= done < N, f"killed after {done} of {N} samples; the test needs it mid-way"

    generator = load_generator(trained_run / "diffusion")
    generate_samples(generator, out, unmixer=unmixer, n=N, settings=SETTINGS)
    straight = tmp_path / "straight"
    generate_samples(generator, straight, unmixer=unmixer, n=N, settings=SETTINGS)

    assert len(sample_abundance_paths(out)) == N
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]  # no leftovers
    killed, expected = files(out), files(straight)
    assert killed.keys() == expected.keys()  # no duplicates, nothing missing
    different = [name for name in expected if killed[name] != expected[name]]
    assert not different, f"differ from an uninterrupted run: {different}"
