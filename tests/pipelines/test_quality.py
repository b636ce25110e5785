"""Model quality per problem type (``pipelines.common.quality``): the values are
scikit-learn's, and the names those of MLflow's default evaluators. Pure: no Spark."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from pipelines.common import quality
from pipelines.common.project import ProblemType

REGRESSION, CLASSIFICATION = ProblemType.REGRESSION, ProblemType.CLASSIFICATION

Y_TRUE = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0])
PROBA = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.05, 0.45, 0.3])
Y_PRED = (PROBA >= 0.5).astype(int)


def test_regression_quality_is_scikit_learns():
    y_true = np.array([10.0, 12.5, 7.0, 30.0, 22.0])
    y_pred = np.array([11.0, 12.0, 9.5, 26.0, 21.0])

    found = quality.model_quality(REGRESSION, y_true, y_pred)

    assert list(found) == list(quality.metric_names(REGRESSION))
    assert found == {
        "root_mean_squared_error": pytest.approx(metrics.root_mean_squared_error(y_true, y_pred)),
        "mean_absolute_error": pytest.approx(metrics.mean_absolute_error(y_true, y_pred)),
        "r2_score": pytest.approx(metrics.r2_score(y_true, y_pred)),
    }
    assert all(type(v) is float for v in found.values())


def test_classification_quality_is_scikit_learns_for_the_positive_class():
    found = quality.model_quality(CLASSIFICATION, Y_TRUE, Y_PRED, PROBA)

    assert list(found) == list(quality.metric_names(CLASSIFICATION))
    assert found == {
        "roc_auc": pytest.approx(metrics.roc_auc_score(Y_TRUE, PROBA)),
        "f1_score": pytest.approx(metrics.f1_score(Y_TRUE, Y_PRED)),
        "log_loss": pytest.approx(metrics.log_loss(Y_TRUE, PROBA)),
        "accuracy_score": pytest.approx(metrics.accuracy_score(Y_TRUE, Y_PRED)),
        "precision_score": pytest.approx(metrics.precision_score(Y_TRUE, Y_PRED)),
        "recall_score": pytest.approx(metrics.recall_score(Y_TRUE, Y_PRED)),
    }
    # Crafted so that no two metrics coincide: each is computed from the right inputs.
    assert found["precision_score"] == pytest.approx(2 / 3)
    assert found["recall_score"] == pytest.approx(2 / 4)
    assert found["accuracy_score"] == pytest.approx(7 / 10)
    assert found["roc_auc"] == pytest.approx(21 / 24)


def test_predict_probas_two_columns_give_the_same_quality():
    two_columns = np.column_stack([1 - PROBA, PROBA])
    assert quality.model_quality(CLASSIFICATION, Y_TRUE, Y_PRED, two_columns) == (
        quality.model_quality(CLASSIFICATION, Y_TRUE, Y_PRED, PROBA)
    )
    with pytest.raises(ValueError, match=r"shape \(10, 3\)"):
        quality.model_quality(CLASSIFICATION, Y_TRUE, Y_PRED, np.ones((10, 3)) / 3)


def test_a_classifiers_quality_needs_probabilities():
    with pytest.raises(ValueError, match="needs y_proba"):
        quality.model_quality(CLASSIFICATION, Y_TRUE, Y_PRED)


def test_no_positive_predicted_gives_zero_precision_without_a_warning(recwarn):
    found = quality.model_quality(CLASSIFICATION, Y_TRUE, np.zeros_like(Y_TRUE), PROBA / 2)
    assert (found["precision_score"], found["recall_score"], found["f1_score"]) == (0, 0, 0)
    assert not [w for w in recwarn if "UndefinedMetric" in type(w.message).__name__]


def test_the_primary_metric_and_its_direction():
    assert quality.primary_metric(REGRESSION) == ("root_mean_squared_error", False)
    assert quality.primary_metric(CLASSIFICATION) == ("roc_auc", True)
    assert quality.primary_metric("classification") == ("roc_auc", True)
    for kind in ProblemType:
        assert quality.primary_metric(kind)[0] in quality.metric_names(kind)


def test_the_names_and_values_are_those_of_mlflows_evaluators():
    """The names MLflow's default regressor and binary classifier evaluators give
    (``mlflow.models.evaluate``), computed by its own helpers on the same arrays."""
    from mlflow.models.evaluation.evaluators.classifier import _get_binary_classifier_metrics
    from mlflow.models.evaluation.evaluators.regressor import _get_regressor_metrics

    y_true, y_pred = np.array([3.0, 5.0, 2.5, 7.0]), np.array([2.5, 5.0, 3.0, 8.0])
    theirs = _get_regressor_metrics(y_true, y_pred, None)
    ours = quality.model_quality(REGRESSION, y_true, y_pred)
    assert ours == {name: pytest.approx(theirs[name]) for name in ours}

    proba = np.column_stack([1 - PROBA, PROBA])
    theirs = _get_binary_classifier_metrics(
        y_true=Y_TRUE, y_pred=Y_PRED, y_proba=proba, labels=[0, 1], pos_label=1
    )
    # MLflow adds roc_auc from its ROC curve (sklearn's auc of roc_curve).
    fpr, tpr, _ = metrics.roc_curve(Y_TRUE, PROBA, pos_label=1)
    theirs["roc_auc"] = metrics.auc(fpr, tpr)
    ours = quality.model_quality(CLASSIFICATION, Y_TRUE, Y_PRED, PROBA)
    assert ours == {name: pytest.approx(theirs[name]) for name in ours}
