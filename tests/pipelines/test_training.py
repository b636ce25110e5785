"""The ``train`` task: a new registered version, aliased challenger, that loads and predicts."""

from __future__ import annotations

import math

import mlflow
import pytest

from pipelines.common.code_version import code_version
from pipelines.common.errors import SchemaMismatch, UsageError
from pipelines.projects.fare.features import MODEL_INPUTS
from tests.conftest import Lake, run_task

EXPERIMENT = "/Shared/tests/training"


def train_args(lake: Lake, model_name: str, *extra: str) -> list[str]:
    return [
        *lake.project_flags(),
        "--start-date", "2016-01-01", "--end-date", "2016-01-15",
        "--model-name", model_name, "--experiment", EXPERIMENT,
        "--max-iter", "20", *extra,
    ]  # fmt: skip


def test_train_registers_a_challenger_that_loads_and_predicts(ctx, lake, schema):
    name = f"{schema}.fare"

    result = run_task("train", train_args(lake, name), ctx)

    client = ctx.mlflow
    version = result["model_version"]
    assert str(client.get_model_version_by_alias(name, "challenger").version) == version
    tags = client.get_model_version(name, version).tags
    assert tags["code_version"] == code_version()
    assert (tags["train_start"], tags["train_end"]) == ("2016-01-01", "2016-01-15")
    assert tags["run_id"] == result["run_id"]
    assert ctx.task_values["model_version"] == int(version)
    assert 0 < result["metrics"]["root_mean_squared_error"] < 10

    model = mlflow.pyfunc.load_model(f"models:/{name}@challenger")
    assert model.metadata.get_input_schema().input_names() == MODEL_INPUTS
    example = model.input_example
    assert list(example.columns) == MODEL_INPUTS
    predictions = model.predict(example)
    assert len(predictions) == len(example) == 5
    assert all(math.isfinite(p) and 2 < p < 200 for p in predictions)


def test_train_rejects_an_out_of_range_test_fraction(ctx, lake, schema):
    with pytest.raises(UsageError, match="--test-fraction"):
        run_task("train", train_args(lake, f"{schema}.fare", "--test-fraction", "0.9"), ctx)


def test_train_on_a_window_without_trips_names_the_table_and_writes_nothing(ctx, lake, schema):
    name = f"{schema}.fare"
    argv = [
        *lake.project_flags(),
        "--start-date", "2015-06-01", "--end-date", "2015-06-08",
        "--model-name", name, "--experiment", "/Shared/tests/training",
    ]  # fmt: skip
    with pytest.raises(SchemaMismatch) as raised:
        run_task("train", argv, ctx)
    assert str(lake.trips) in str(raised.value)
    assert "training needs at least" in str(raised.value)
    assert ctx.mlflow.search_model_versions(f"name = '{name}'") == []
