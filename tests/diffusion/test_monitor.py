"""Training with a monitor: samples and edge coherence every N steps, from the weights as they
stand (the GPU path's progress log, #13)."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.diffusion.generator import AbundanceDiffusion
from msfdiff.evaluation.monitor import SampleMonitor
from msfdiff.evaluation.spectral import edge_coherence
from tests.diffusion.tiny import tiny_config


def test_the_monitor_draws_from_the_weights_of_its_step_and_survives_resume(tmp_path, dataset):
    reference = np.stack([dataset[i][0].numpy().transpose(1, 2, 0) for i in range(4)])
    monitor = SampleMonitor(tmp_path / "monitor", reference, every=2, n=3, sampler="ddim", steps=3)
    run = tmp_path / "diffusion"
    model = AbundanceDiffusion(tiny_config(max_steps=4), conditional=True)
    model.fit(dataset, run, monitor=monitor)
    rows = monitor.rows()
    assert [r["step"] for r in rows] == [2, 4]
    # the step-4 row is what the saved model draws with the same settings: no stale weights
    saved = AbundanceDiffusion.from_pretrained(run).generate(3, seed=0, sampler="ddim", steps=3)
    assert rows[-1]["edge_coherence"] == pytest.approx(edge_coherence(list(saved)))
    assert rows[-1]["relative_to_real"] == pytest.approx(
        rows[-1]["edge_coherence"] / edge_coherence(list(reference))
    )
    assert (tmp_path / "monitor" / "step_00000004.png").is_file()
    # resumed to 6 steps from the step-4 checkpoint: the rows continue, none repeated
    AbundanceDiffusion(tiny_config(), conditional=True).fit(
        dataset, run, resume=True, max_steps=6, monitor=monitor
    )
    assert [r["step"] for r in monitor.rows()] == [2, 4, 6]
