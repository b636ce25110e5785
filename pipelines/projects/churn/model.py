"""The churn model: gradient-boosted trees on the snapshot features, the categorical ones
encoded as categories the trees split on natively. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from pipelines.projects.churn.schemas import CATEGORICAL_INPUTS, NUMERIC_INPUTS

DEFAULTS: Mapping[str, Any] = {"max_iter": 200, "learning_rate": 0.1, "random_state": 42}


def build_model(hyperparameters: Mapping[str, Any]) -> Pipeline:
    """Categories are ordinal-encoded (unknown ones become their own code) and marked
    categorical for the trees; numbers pass through, missing ones stay NaN."""
    values = {**DEFAULTS, **{k: v for k, v in hyperparameters.items() if k in DEFAULTS}}
    n_categorical = len(CATEGORICAL_INPUTS)
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-1,
                ),
                list(CATEGORICAL_INPUTS),
            ),
            ("numbers", "passthrough", list(NUMERIC_INPUTS)),
        ]
    )
    return Pipeline(
        [
            ("inputs", encode),
            (
                "classifier",
                HistGradientBoostingClassifier(
                    max_iter=values["max_iter"],
                    learning_rate=values["learning_rate"],
                    random_state=values["random_state"],
                    categorical_features=list(range(n_categorical)),
                    max_leaf_nodes=15,
                    l2_regularization=1.0,
                ),
            ),
        ]
    )
