"""OA, AA and kappa from the confusion matrix agree with scikit-learn; seeds summarise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from msfdiff.downstream.scores import (
    Scores,
    confusion_matrix,
    score,
    scores_from_confusion,
    summarise,
)
from msfdiff.errors import DataFormatError

# A known matrix (rows = truth): 3 classes, unequal support, some confusion.
KNOWN = np.array([[50, 3, 2], [10, 20, 0], [4, 1, 10]])


def _pairs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label vectors whose confusion matrix is ``matrix``."""
    truth, pred = np.nonzero(np.ones_like(matrix))
    counts = matrix.ravel()
    return np.repeat(truth, counts), np.repeat(pred, counts)


def test_known_confusion_matrix_matches_sklearn():
    y_true, y_pred = _pairs(KNOWN)
    np.testing.assert_array_equal(sk_confusion_matrix(y_true, y_pred), KNOWN)
    got = scores_from_confusion(KNOWN)
    assert got.overall_accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert got.overall_accuracy == pytest.approx(80 / 100)
    assert got.average_accuracy == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert got.average_accuracy == pytest.approx((50 / 55 + 20 / 30 + 10 / 15) / 3)
    assert got.kappa == pytest.approx(cohen_kappa_score(y_true, y_pred))
    np.testing.assert_allclose(got.per_class, [50 / 55, 20 / 30, 10 / 15])
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, 3), KNOWN)


def test_random_predictions_match_sklearn_with_a_class_missing_from_the_test():
    rng = np.random.default_rng(0)
    y_true = rng.choice([0, 1, 3], size=300)  # class 2 has no test samples
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 4, size=300))
    got = score(y_true, y_pred, 4)
    assert got.overall_accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert got.kappa == pytest.approx(cohen_kappa_score(y_true, y_pred))
    with pytest.warns(UserWarning):  # sklearn warns about the predicted-only class, then skips it
        assert got.average_accuracy == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert np.isnan(got.per_class[2])


def test_summary_is_mean_and_sample_std():
    runs = [
        Scores(0.8, 0.7, 0.6, (0.9, float("nan"))),
        Scores(0.9, 0.8, 0.7, (0.7, 0.5)),
        Scores(0.7, 0.6, 0.5, (0.8, 0.7)),
    ]
    summary = summarise(runs)
    assert summary["n_runs"] == 3
    assert summary["overall_accuracy"]["mean"] == pytest.approx(0.8)
    assert summary["overall_accuracy"]["std"] == pytest.approx(np.std([0.8, 0.9, 0.7], ddof=1))
    assert summary["per_class"]["mean"] == pytest.approx([0.8, 0.6])
    assert summary["per_class"]["std"][1] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert summarise(runs[:1])["kappa"] == {"mean": 0.6, "std": 0.0}


def test_bad_inputs():
    with pytest.raises(DataFormatError, match="0..2"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(DataFormatError, match="2 true labels but 3"):
        confusion_matrix([0, 1], [0, 1, 1], 3)
    with pytest.raises(DataFormatError, match="no test samples"):
        scores_from_confusion(np.zeros((2, 2)))
