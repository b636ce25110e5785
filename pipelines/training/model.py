"""The model and how it is split, scored and packaged: pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error
from sklearn.pipeline import Pipeline

from pipelines.features.join import MODEL_INPUTS


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


def split_by_time(
    frame: pd.DataFrame, time_column: str, test_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier rows train, the latest ``test_fraction`` of rows test: no future in training."""
    ordered = frame.sort_values(time_column, kind="stable")
    cut = round(len(ordered) * (1 - test_fraction))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def regression_metrics(y_true: pd.Series, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "root_mean_squared_error": float(root_mean_squared_error(y_true, y_pred)),
        "mean_absolute_error": float(mean_absolute_error(y_true, y_pred)),
        "r2_score": float(r2_score(y_true, y_pred)),
    }


def pip_requirements() -> list[str]:
    """Exact versions of what the model needs to load; giving them explicitly also spares
    MLflow a slow dependency inference at logging time."""
    packages = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "skops")
    return [f"{name}=={metadata.version(name)}" for name in packages]
