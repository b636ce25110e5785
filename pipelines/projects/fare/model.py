"""The fare model: gradient-boosted trees on the point-in-time inputs. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from pipelines.projects.fare.features import MODEL_INPUTS


@dataclass(frozen=True)
class Hyperparameters:
    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    random_state: int = 42


def build_model(hp: Hyperparameters) -> Pipeline:
    """Gradient-boosted trees on the model inputs; missing features stay NaN, which the
    trees handle natively (a zip with no recent trips is information, not noise)."""
    return Pipeline(
        [
            ("inputs", ColumnTransformer([("model_inputs", "passthrough", MODEL_INPUTS)])),
            (
                "regressor",
                HistGradientBoostingRegressor(
                    max_iter=hp.max_iter,
                    learning_rate=hp.learning_rate,
                    max_leaf_nodes=hp.max_leaf_nodes,
                    random_state=hp.random_state,
                ),
            ),
        ]
    )


def from_flags(values: Mapping[str, Any]) -> Hyperparameters:
    """The hyperparameters the train task's flags set (max_iter, learning_rate)."""
    known = {k: v for k, v in values.items() if k in Hyperparameters.__dataclass_fields__}
    return Hyperparameters(**known)
