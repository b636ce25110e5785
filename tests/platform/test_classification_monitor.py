"""What an inference-log monitor needs of its table, per problem type (docs/platform.md,
"Classification monitors"):

- model quality is computed only when both label_col and prediction_col are given
  (Databricks docs, "Data profiling metric tables", "Additional statistics for model
  accuracy monitoring (InferenceLog only)");
- a regression monitor's prediction column must be numeric (the service's refusal quoted
  in databricks/mlops-stacks issue #195);
- a classification monitor's prediction and label are strings in Databricks' own example
  ("InferenceLog classification analysis" notebook);
- prediction_proba_col must be a map of class to probability (databricks-sdk-py
  MonitorInferenceLog docstring): the stack's probability column is a double, so it is
  never passed.
"""

from __future__ import annotations

import pytest

from mlops.render import Render

STACKS = ("dev", "staging", "prod")
MONITOR = "databricks:index/qualityMonitor:QualityMonitor"
TABLE = "databricks:index/sqlTable:SqlTable"
NUMERIC = {"DOUBLE", "FLOAT", "INT", "BIGINT", "DECIMAL", "SMALLINT", "TINYINT"}


def table_columns(render: Render, full_name: str) -> dict[str, str]:
    for table in render.of_type(TABLE):
        inputs = table.inputs
        name = f"{inputs['catalogName']}.{inputs['schemaName']}.{inputs['name']}"
        if name == full_name:
            return {c["name"]: c["type"].upper() for c in inputs.get("columns", [])}
    raise AssertionError(f"no table {full_name} in the render")


@pytest.mark.parametrize("stack", STACKS)
def test_every_monitor_reads_columns_its_table_has_with_the_types_the_service_takes(
    renders: dict[str, Render], stack: str
) -> None:
    monitors = renders[stack].of_type(MONITOR)
    kinds = set()
    for monitor in monitors:
        log = monitor.inputs["inferenceLog"]
        columns = table_columns(renders[stack], monitor.inputs["tableName"])
        for key in ("predictionCol", "labelCol", "modelIdCol", "timestampCol"):
            assert log[key] in columns, (monitor.name, key, log[key])
        prediction, label = columns[log["predictionCol"]], columns[log["labelCol"]]
        kinds.add(log["problemType"])
        if log["problemType"] == "PROBLEM_TYPE_REGRESSION":
            assert prediction in NUMERIC, (monitor.name, prediction)
        else:
            assert log["problemType"] == "PROBLEM_TYPE_CLASSIFICATION"
            assert (prediction, label) == ("STRING", "STRING"), monitor.name
        assert "predictionProbaCol" not in log, monitor.name
    assert kinds == {"PROBLEM_TYPE_REGRESSION", "PROBLEM_TYPE_CLASSIFICATION"}
