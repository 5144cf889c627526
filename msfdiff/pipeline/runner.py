"""Run an experiment's stages in order inside one run directory, skipping finished work.

The run directory's names belong to :class:`msfdiff.layout.RunLayout`; the stages and what
each reads and writes are declared in :mod:`msfdiff.pipeline.stages`.

A stage's *fingerprint* hashes what it reads (its config section, the files it reads by path,
size and mtime) and the fingerprints of the stages it depends on. A stage whose record says
``done`` with the same fingerprint is skipped; one that says ``running`` (it was interrupted)
resumes; anything else starts that stage afresh, after its old outputs are removed.

Under a multi-process launch (``accelerate launch … run``) every process walks the stages
together: all decide from the same records, the main process alone removes outputs and
writes records, and a stage runs on every process only if it shares its work
(``Stage.shared``: unmixing, inference, diffusion training, sampling); the others run on
the main process while the rest wait.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from msfdiff._io import atomic_write, check_room, write_json
from msfdiff.errors import ConfigError
from msfdiff.layout import RunLayout
from msfdiff.pipeline.config import ExperimentConfig, experiment_to_yaml
from msfdiff.pipeline.stages import STAGES, BarFactory, Stage, StageContext, no_bar
from msfdiff.processes import main_process_only, wait_for_everyone
from msfdiff.progress import Log, no_log


class Runner:
    """Executes ``stages`` (default: MSF-Diff's seven) of ``config`` in ``run_dir``.

    Parameters
    ----------
    stages : sequence of Stage, optional
        The stages in order; swap one with ``dataclasses.replace(stage, run=...)``.
    log : callable
        Receives one human-readable line per event.
    bar : callable
        ``bar(description, unit)`` → a context manager that is a progress listener; the CLI
        passes its rich bar, the default says nothing.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: str | Path,
        *,
        stages: Sequence[Stage] = STAGES,
        log: Log = no_log,
        bar: BarFactory = no_bar,
    ):
        self.config = config
        self.layout = RunLayout(run_dir)
        self.stages = {stage.name: stage for stage in stages}
        self.context = StageContext(config, self.layout, log, bar)
        self.log = log
        self._fingerprints: dict[str, str] = {}

    def record(self, stage: str) -> dict | None:
        path = self.layout.stage_record(stage)
        return json.loads(path.read_text()) if path.exists() else None

    def fingerprint(self, stage: str) -> str:
        if stage not in self._fingerprints:
            spec = self.stages[stage]
            payload = {
                "stage": stage,
                "inputs": spec.inputs(self.config),
                "upstream": [self.fingerprint(s) for s in spec.depends],
            }
            text = json.dumps(payload, sort_keys=True, default=str)
            self._fingerprints[stage] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self._fingerprints[stage]

    def run(self, *, only: str | None = None) -> dict[str, str]:
        """Run every stage (or rerun ``only``); returns stage → ran|resumed|skipped."""
        if only is not None and only not in self.stages:
            raise ConfigError(f"unknown stage {only!r}; stages are {', '.join(self.stages)}")
        for name, stage in self.stages.items():
            if only is None or name == only:
                stage.requires(self.config)
        check_room(self.layout.root, 0, what="the run's files")  # samples check their own size
        with main_process_only() as main:
            if main:
                self.layout.root.mkdir(parents=True, exist_ok=True)
                text = experiment_to_yaml(self.config)
                atomic_write(self.layout.config, lambda p: p.write_text(text))
        return {
            name: self._run_stage(name, forced=only is not None)
            for name in self.stages
            if only is None or name == only
        }

    def _run_stage(self, name: str, *, forced: bool) -> str:
        stage, fp, rec = self.stages[name], self.fingerprint(name), self.record(name)
        wait_for_everyone()  # every process has read the record before the main one writes it
        same = rec is not None and rec.get("fingerprint") == fp
        if same and rec.get("status") == "done" and not forced:
            self.log(f"[{name}] up to date, skipped")
            return "skipped"
        resume = same and rec.get("status") == "running" and not forced
        previous = float(rec.get("seconds", 0.0)) if resume and rec else 0.0
        record = {"stage": name, "fingerprint": fp, "status": "running", "seconds": previous}
        record["started_at"] = (rec or {}).get("started_at") if resume else _now()
        with main_process_only() as main:
            if main and not resume:
                for target in stage.outputs(self.layout):
                    if target.is_dir():
                        shutil.rmtree(target)
                    elif target.exists():
                        target.unlink()
            if main:
                write_json(self.layout.stage_record(name), record)
        self.log(f"[{name}] {'resuming' if resume else 'running'}")
        start = time.perf_counter()
        with main_process_only() as main:
            if main or stage.shared:
                stage.run(self.context, resume)
        seconds = previous + time.perf_counter() - start
        record.update(status="done", seconds=round(seconds, 2), finished_at=_now())
        with main_process_only() as main:
            if main:
                write_json(self.layout.stage_record(name), record)
        self.log(f"[{name}] done in {seconds:.1f} s")
        return "resumed" if resume else "ran"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
