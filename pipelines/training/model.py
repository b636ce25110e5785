"""How a training set is split, scored and packaged: pure functions, no I/O. The models
themselves are the projects' (``ProjectLifecycle.build_model``)."""

from __future__ import annotations

from importlib import metadata

import pandas as pd


def split_by_time(
    frame: pd.DataFrame, time_column: str, test_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier rows train, the latest ``test_fraction`` of rows test: no future in training."""
    ordered = frame.sort_values(time_column, kind="stable")
    cut = round(len(ordered) * (1 - test_fraction))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def pip_requirements() -> list[str]:
    """Exact versions of what the model needs to load; giving them explicitly also spares
    MLflow a slow dependency inference at logging time."""
    packages = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "skops")
    return [f"{name}=={metadata.version(name)}" for name in packages]
