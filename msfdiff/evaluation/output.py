"""Writing an evaluation: metrics.json and its figures, atomically, never over old ones by accident."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from msfdiff._io import check_new, check_room, write_json
from msfdiff.evaluation.compare import Evaluation
from msfdiff.evaluation.metrics import PLOT_NAMES


def plot_path(plots_dir: str | os.PathLike, name: str) -> Path:
    """Where figure ``name`` of an evaluation is written."""
    return Path(plots_dir) / f"{name}.png"


def check_outputs(
    json_path: str | os.PathLike,
    plots_dir: str | os.PathLike | None = None,
    *,
    force: bool = False,
) -> None:
    """Refuse existing outputs, unless ``force``, and unwritable or full folders: call before
    the minutes of computing."""
    check_new(json_path, force=force)
    check_room(Path(json_path).parent, 0, what="the evaluation report")
    if plots_dir is not None:
        for name in PLOT_NAMES:
            check_new(plot_path(plots_dir, name), force=force)


def write_evaluation(
    evaluation: Evaluation,
    json_path: str | os.PathLike,
    plots_dir: str | os.PathLike | None = None,
    *,
    force: bool = False,
) -> dict[str, Any]:
    """Draw the figures into ``plots_dir`` and write metrics.json (each file atomically).

    Returns
    -------
    dict
        The summary as written: the evaluation's, plus ``plots`` (figure name → path).
    """
    check_outputs(json_path, plots_dir, force=force)
    drawn = {}
    if plots_dir is not None:
        drawn = {
            name: str(draw(plot_path(plots_dir, name))) for name, draw in evaluation.figures.items()
        }
    summary = {**evaluation.summary, "plots": drawn}
    write_json(json_path, summary)
    return summary
