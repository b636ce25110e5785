"""A model's quality on labelled rows, per problem type: pure functions, no I/O.

The metric names are those of MLflow's default evaluators (``mlflow.models.evaluate`` with
``model_type`` ``regressor`` or ``classifier``), so a number the train task logs, one the
validate task judges and one the deploy task compares mean the same thing. A classifier
is binary with positive class 1; its probability metrics need the probabilities
(``predict_proba``).

scikit-learn is imported by ``model_quality`` alone: the names and the primary metric cost
no import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from pipelines.common.project import ProblemType

POSITIVE_CLASS = 1

# The metrics ``model_quality`` returns, in order, per problem type.
QUALITY_METRICS: Mapping[ProblemType, tuple[str, ...]] = {
    ProblemType.REGRESSION: ("root_mean_squared_error", "mean_absolute_error", "r2_score"),
    ProblemType.CLASSIFICATION: (
        "roc_auc",
        "f1_score",
        "log_loss",
        "accuracy_score",
        "precision_score",
        "recall_score",
    ),
}

# The metric champion and challenger are compared on, and whether more is better.
_PRIMARY: Mapping[ProblemType, tuple[str, bool]] = {
    ProblemType.REGRESSION: ("root_mean_squared_error", False),
    ProblemType.CLASSIFICATION: ("roc_auc", True),
}


def metric_names(problem_type: ProblemType) -> tuple[str, ...]:
    """The metrics ``model_quality`` returns for ``problem_type``, in order."""
    return QUALITY_METRICS[ProblemType(problem_type)]


def primary_metric(problem_type: ProblemType) -> tuple[str, bool]:
    """``(metric, higher_is_better)``: what champion and challenger are compared on."""
    return _PRIMARY[ProblemType(problem_type)]


def positive_probabilities(y_proba: Any) -> np.ndarray:
    """The positive class's probabilities: ``y_proba`` as they are when one-dimensional,
    its column of class 1 when it is ``predict_proba``'s (rows, 2) output."""
    proba = np.asarray(y_proba, dtype=float)
    if proba.ndim == 2 and proba.shape[1] == 2:
        return proba[:, POSITIVE_CLASS]
    if proba.ndim == 1:
        return proba
    raise ValueError(
        f"y_proba of shape {proba.shape}: expected the positive class's probabilities (rows,)"
        " or a binary classifier's predict_proba (rows, 2)"
    )


def model_quality(
    problem_type: ProblemType, y_true: Any, y_pred: Any, y_proba: Any = None
) -> dict[str, float]:
    """The quality metrics of predictions ``y_pred`` (and, for a classifier, the
    probabilities ``y_proba``) against ``y_true``, named as in ``QUALITY_METRICS``.

    Regression: RMSE, MAE and R2. Classification (binary, positive class 1): ROC AUC and
    log loss from ``y_proba`` (required), F1, accuracy, precision and recall from
    ``y_pred``; a precision or recall with nothing to count (no positive predicted, or
    none there) is 0, as scikit-learn's default gives after its warning.
    """
    from sklearn import metrics

    kind = ProblemType(problem_type)
    if kind is ProblemType.REGRESSION:
        return {
            "root_mean_squared_error": float(metrics.root_mean_squared_error(y_true, y_pred)),
            "mean_absolute_error": float(metrics.mean_absolute_error(y_true, y_pred)),
            "r2_score": float(metrics.r2_score(y_true, y_pred)),
        }
    if y_proba is None:
        raise ValueError(
            "a classifier's quality needs y_proba (the positive class's probabilities, or"
            " predict_proba's output) for roc_auc and log_loss"
        )
    positive = positive_probabilities(y_proba)
    labels = [1 - POSITIVE_CLASS, POSITIVE_CLASS]
    binary: dict[str, Any] = {"pos_label": POSITIVE_CLASS, "zero_division": 0.0}
    return {
        "roc_auc": float(metrics.roc_auc_score(y_true, positive)),
        "f1_score": float(metrics.f1_score(y_true, y_pred, **binary)),
        "log_loss": float(metrics.log_loss(y_true, positive, labels=labels)),
        "accuracy_score": float(metrics.accuracy_score(y_true, y_pred)),
        "precision_score": float(metrics.precision_score(y_true, y_pred, **binary)),
        "recall_score": float(metrics.recall_score(y_true, y_pred, **binary)),
    }
