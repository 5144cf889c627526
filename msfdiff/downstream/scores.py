"""Classification scores used in hyperspectral papers, all read off one confusion matrix.

Overall accuracy (OA) rewards the big classes; average accuracy (AA, the mean per-class recall)
and Cohen's kappa show whether the small ones were learnt too, which is where added training
samples should help (the paper's Table 7 reports OA only). Runs over several seeds are
summarised as mean and sample standard deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from msfdiff.errors import DataFormatError

METRICS = ("overall_accuracy", "average_accuracy", "kappa")


@dataclass(frozen=True)
class Scores:
    """One run's scores, fractions in [0, 1] (kappa in [-1, 1]).

    ``per_class`` holds each class's recall, NaN for a class without test samples; AA
    averages the others (as scikit-learn's ``balanced_accuracy_score`` does).
    """

    overall_accuracy: float
    average_accuracy: float
    kappa: float
    per_class: tuple[float, ...]

    def as_dict(self) -> dict:
        return {**asdict(self), "per_class": list(self.per_class)}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class), shape (n_classes, n_classes), rows = truth."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise DataFormatError(f"{y_true.size} true labels but {y_pred.size} predictions")
    for name, values in (("true labels", y_true), ("predictions", y_pred)):
        if values.size and (values.min() < 0 or values.max() >= n_classes):
            raise DataFormatError(f"{name} must lie in 0..{n_classes - 1}")
    from sklearn.metrics import confusion_matrix as sklearn_confusion

    return sklearn_confusion(y_true, y_pred, labels=np.arange(n_classes))


def scores_from_confusion(matrix: np.ndarray) -> Scores:
    """OA, AA, kappa and per-class recall of a confusion matrix (rows = truth)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    total = matrix.sum()
    if total == 0:
        raise DataFormatError("no test samples to score")
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(matrix) / support
        agreement = np.trace(matrix) / total
        chance = float(support @ matrix.sum(axis=0)) / total**2
        kappa = (agreement - chance) / (1.0 - chance)  # NaN when chance agreement is 1
    return Scores(
        overall_accuracy=float(agreement),
        average_accuracy=float(recall[support > 0].mean()),
        kappa=float(kappa),
        per_class=tuple(float(r) for r in recall),
    )


def score(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> Scores:
    """Scores of predictions against the truth (class indices 0..n_classes-1)."""
    return scores_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def summarise(runs: Sequence[Scores]) -> dict:
    """Mean and sample standard deviation (ddof=1) of each score over runs (seeds).

    Returns a JSON-ready dict: ``{"n_runs": n, "overall_accuracy": {"mean": .., "std": ..},
    ..., "per_class": {"mean": [...], "std": [...]}}``. NaN values (a class without test
    samples in that run, an undefined kappa) are left out; a score with one value left has
    no spread and gets std 0.0 (``n_runs`` says how many runs there were), none left gives NaN.
    """
    if not runs:
        raise DataFormatError("no runs to summarise")
    summary: dict = {"n_runs": len(runs)}
    for name in METRICS:
        summary[name] = _mean_std([getattr(run, name) for run in runs])
    columns = [_mean_std(values) for values in zip(*(run.per_class for run in runs), strict=True)]
    summary["per_class"] = {key: [c[key] for c in columns] for key in ("mean", "std")}
    return summary


def _mean_std(values: Sequence[float]) -> dict[str, float]:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return {"mean": float("nan"), "std": float("nan")}
    spread = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
    return {"mean": float(finite.mean()), "std": spread}
