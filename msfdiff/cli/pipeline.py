"""``msfdiff run CONFIG`` and ``msfdiff demo`` (the whole pipeline in one command), ``msfdiff
compare`` and ``msfdiff downstream`` (the experiments built on it)."""

from __future__ import annotations

from pathlib import Path

import typer

from msfdiff.cli._common import ProgressBar, console, log
from msfdiff.layout import DownstreamLayout, RunLayout


def _bar(description: str, unit: str) -> ProgressBar:
    return ProgressBar(description, unit=unit)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("demo")(demo)
    app.command("compare")(compare)
    app.command("downstream")(downstream)


def run(
    config: Path = typer.Argument(..., help="Experiment YAML (see configs/)."),
    out: Path | None = typer.Option(None, "--out", help="Run directory (default: runs/<name>)."),
    stage: str | None = typer.Option(
        None,
        "--stage",
        help="Rerun only this stage: unmix, eval_unmix, infer, diffusion, sample, evaluate, report.",
    ),
) -> None:
    """Run every stage of an experiment; finished stages are skipped, interrupted ones resume."""
    from msfdiff.pipeline.config import load_experiment
    from msfdiff.pipeline.runner import Runner

    experiment = load_experiment(config)
    run_dir = out or Path("runs") / experiment.name
    Runner(experiment, run_dir, log=log, bar=_bar).run(only=stage)
    console.print(f"run directory: {run_dir}  (open {RunLayout(run_dir).report})")


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run directory."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Real data folder shaped like ../shared/data (hsi/chikusei_msfdiff, rgb/aid_150px_subset): "
        "runs the paper's remote-sensing case instead of the embedded scene.",
    ),
    stage: str | None = typer.Option(None, "--stage", help="Rerun only this stage."),
) -> None:
    """The whole pipeline on the embedded default scene (no downloads), or on --data."""
    from msfdiff.pipeline.demo import demo_experiment
    from msfdiff.pipeline.runner import Runner

    experiment = demo_experiment(out, data=data, log=log)
    Runner(experiment, out, log=log, bar=_bar).run(only=stage)
    console.print(f"done: open {RunLayout(out).report}")


def compare(
    config: Path = typer.Argument(..., help="Comparison YAML (see configs/compare_*.yaml)."),
    out: Path | None = typer.Option(
        None, "--out", help="Comparison directory (default: runs/<name>)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Start afresh where the directory holds a different comparison."
    ),
    rescore: bool = typer.Option(
        False, "--rescore", help="Score finished rows again from their samples (no retraining)."
    ),
) -> None:
    """Baselines and ablations side by side (paper Tables 4-5): train or reuse each row,
    sample, score, and write compare.md, compare.json and compare_figure.png."""
    from msfdiff.pipeline.compare import load_compare, run_comparison

    comparison, _ = load_compare(config)
    folder = out or Path("runs") / comparison.name
    table = run_comparison(config, folder, force=force, rescore=rescore, log=log, bar=_bar)
    console.print(table.read_text())
    console.print(f"comparison directory: {folder}")


def downstream(
    config: Path = typer.Argument(..., help="Downstream YAML (see configs/downstream_*.yaml)."),
    out: Path | None = typer.Option(None, "--out", help="Directory (default: runs/<name>)."),
    force: bool = typer.Option(
        False, "--force", help="Start afresh where the directory holds other settings."
    ),
) -> None:
    """Does msfdiff data help a classifier more than augmentation? (paper Tables 6-7): split a
    labelled scene (or a folder per class of HSIs) without leaks, train the chain on the
    training part only, train classifiers per condition and seed, and write downstream.md,
    downstream.json and report.html."""
    from msfdiff.downstream.run import run_downstream

    folder, _ = run_downstream(config, out, force=force, log=log, bar=_bar)
    console.print(DownstreamLayout(folder).table_md.read_text())
    console.print(f"downstream directory: {folder}  (open {DownstreamLayout(folder).report})")
