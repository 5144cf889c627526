"""Run an experiment's stages in order inside one run directory, skipping finished work.

Run directory layout (fixed)::

    RUN/config.yaml            the resolved experiment config
    RUN/stages/<stage>.json    fingerprint, status (running|done), seconds
    RUN/unmixing/              trained unmixer, figures/, eval.json
    RUN/abundances/            abundances inferred from the photos (the diffusion data set)
    RUN/diffusion/             diffusion run: config.yaml, loss CSV, checkpoints, sampling weights
    RUN/samples/               synthetic HSIs + their abundance maps + previews
    RUN/evaluation/            metrics.json + plots
    RUN/report.html            everything above as pictures and tables

A stage's *fingerprint* hashes its config section, the files it reads (path, size, mtime) and
the fingerprints of the stages it depends on. A stage whose record says ``done`` with the same
fingerprint is skipped; one that says ``running`` (it was interrupted) resumes; anything else
starts that stage afresh.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from msfdiff._io import atomic_write, write_json
from msfdiff.errors import ConfigError
from msfdiff.pipeline.config import ExperimentConfig, experiment_to_yaml

STAGES = ("unmix", "eval_unmix", "infer", "diffusion", "sample", "evaluate", "report")
DEPENDS = {
    "unmix": (),
    "eval_unmix": ("unmix",),
    "infer": ("unmix",),
    "diffusion": ("infer",),
    "sample": ("unmix", "diffusion"),
    "evaluate": ("infer", "sample"),
    "report": ("unmix", "eval_unmix", "infer", "diffusion", "sample", "evaluate"),
}
OUTPUTS = {
    "unmix": ("unmixing",),
    "eval_unmix": ("unmixing/eval.json", "unmixing/eval_figures"),
    "infer": ("abundances",),
    "diffusion": ("diffusion",),
    "sample": ("samples",),
    "evaluate": ("evaluation",),
    "report": ("report.html",),
}


def file_fingerprint(paths: list[str] | tuple[str, ...]) -> list:
    """(path, size, mtime) of every file under ``paths``: cheap, and changes when data does."""
    rows = []
    for raw in paths:
        path = Path(raw)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            stat = f.stat() if f.exists() else None
            rows.append(
                [
                    str(f.resolve()),
                    stat.st_size if stat else None,
                    stat.st_mtime_ns if stat else None,
                ]
            )
    return rows


class Runner:
    """Executes the stages of ``config`` in ``run_dir``.

    Parameters
    ----------
    stage_functions : mapping, optional
        Stage name → ``fn(runner, resume: bool)``; defaults to :mod:`msfdiff.pipeline.stages`.
    log : callable
        Receives one human-readable line per event.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: str | Path,
        *,
        stage_functions: dict[str, Callable[[Runner, bool], None]] | None = None,
        log: Callable[[str], None] = print,
    ):
        from msfdiff.pipeline import stages

        self.config = config
        self.run_dir = Path(run_dir)
        self.functions = stage_functions or stages.STAGE_FUNCTIONS
        self.log = log
        self._fingerprints: dict[str, str] = {}

    # ----------------------------------------------------------- bookkeeping
    def record_path(self, stage: str) -> Path:
        return self.run_dir / "stages" / f"{stage}.json"

    def record(self, stage: str) -> dict | None:
        path = self.record_path(stage)
        return json.loads(path.read_text()) if path.exists() else None

    def inputs(self, stage: str) -> dict:
        """What a stage reads: its config section and input files."""
        c = self.config
        d = c.data
        table = {
            "unmix": {
                "data": [file_fingerprint(d.hsi), d.wavelengths, d.key, d.scale],
                "cfg": asdict(c.unmixing),
            },
            "eval_unmix": {"files": file_fingerprint(d.eval_hsi)},
            "infer": {"files": file_fingerprint([d.rgb]), "cfg": asdict(c.inference)},
            "diffusion": {"cfg": asdict(c.diffusion)},
            "sample": {"cfg": asdict(c.sampling)},
            "evaluate": {
                "files": file_fingerprint(d.eval_hsi or d.hsi),
                "cfg": asdict(c.evaluation),
            },
            "report": {},
        }
        return table[stage]

    def fingerprint(self, stage: str) -> str:
        if stage not in self._fingerprints:
            payload = {
                "stage": stage,
                "inputs": self.inputs(stage),
                "upstream": [self.fingerprint(s) for s in DEPENDS[stage]],
            }
            text = json.dumps(payload, sort_keys=True, default=str)
            self._fingerprints[stage] = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self._fingerprints[stage]

    # -------------------------------------------------------------- running
    def run(self, *, only: str | None = None) -> dict[str, str]:
        """Run every stage (or rerun ``only``); returns stage → ran|resumed|skipped."""
        if only is not None and only not in STAGES:
            raise ConfigError(f"unknown stage {only!r}; stages are {', '.join(STAGES)}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(
            self.run_dir / "config.yaml", lambda p: p.write_text(experiment_to_yaml(self.config))
        )
        outcome = {}
        for stage in STAGES:
            if only is not None and stage != only:
                continue
            outcome[stage] = self._run_stage(stage, forced=only is not None)
        return outcome

    def _run_stage(self, stage: str, *, forced: bool) -> str:
        fp = self.fingerprint(stage)
        rec = self.record(stage)
        same = rec is not None and rec.get("fingerprint") == fp
        if same and rec.get("status") == "done" and not forced:
            self.log(f"[{stage}] up to date, skipped")
            return "skipped"
        resume = same and rec.get("status") == "running" and not forced
        if not resume:
            for rel in OUTPUTS[stage]:
                target = self.run_dir / rel
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        self.log(f"[{stage}] {'resuming' if resume else 'running'}")
        previous = float(rec.get("seconds", 0.0)) if resume and rec else 0.0
        start = time.perf_counter()
        write_json(
            self.record_path(stage),
            {"stage": stage, "fingerprint": fp, "status": "running", "seconds": previous},
        )
        self.functions[stage](self, resume)
        seconds = previous + time.perf_counter() - start
        write_json(
            self.record_path(stage),
            {
                "stage": stage,
                "fingerprint": fp,
                "status": "done",
                "seconds": round(seconds, 2),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
        )
        self.log(f"[{stage}] done in {seconds:.1f} s")
        return "resumed" if resume else "ran"
