"""Task values as Databricks hands them on: references resolved to strings, conditions on
strings, and the notebook a publishing task runs as (pipelines.common.task_values and
pipelines.notebook). The notebook itself is run in test_monitoring_tasks.py."""

from __future__ import annotations

import pytest

from pipelines.common.task_values import (
    IS_METRIC_VIOLATED,
    MODEL_VERSION,
    TaskValueRef,
    UnresolvedTaskValue,
    as_reference_text,
    condition_holds,
    references,
    resolve,
)
from pipelines.notebook import CELL, HEADER, notebook_source
from pipelines.tasks import tasks


def test_a_reference_reads_as_databricks_renders_the_value() -> None:
    ref = TaskValueRef("Train", MODEL_VERSION)
    assert ref.reference == "{{tasks.Train.values.model_version}}"
    published = {"Train": {MODEL_VERSION: "7"}, "CheckViolation": {IS_METRIC_VIOLATED: True}}
    assert resolve(f"--model-version={ref.reference}", published) == "--model-version=7"
    violated = TaskValueRef("CheckViolation", IS_METRIC_VIOLATED).reference
    assert resolve(violated, published) == "true"
    assert [as_reference_text(v) for v in (True, False, 3, "3")] == ["true", "false", "3", "3"]
    assert references(f"a {ref.reference} b") == [ref]


def test_a_reference_nothing_published_is_an_error_naming_it() -> None:
    with pytest.raises(UnresolvedTaskValue, match=r"task Train published no value 'model_vers"):
        resolve("{{tasks.Train.values.model_version}}", {"Train": {}})


@pytest.mark.parametrize(
    ("left", "op", "right", "holds"),
    [
        ("true", "EQUAL_TO", "true", True),
        ("false", "EQUAL_TO", "true", False),
        # String comparison: 12.0 is not 12 for EQUAL_TO, but is for the numeric operators.
        ("12.0", "EQUAL_TO", "12", False),
        ("12.0", "GREATER_THAN_OR_EQUAL", "12", True),
        ("3", "LESS_THAN", "12", True),
        ("a", "NOT_EQUAL", "b", True),
    ],
)
def test_conditions_compare_as_condition_tasks_do(
    left: str, op: str, right: str, holds: bool
) -> None:
    assert condition_holds(left, op, right) is holds


def test_an_unknown_operator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown condition operator 'EQUALS'"):
        condition_holds("a", "EQUALS", "a")


def test_only_the_tasks_that_hand_values_on_publish_them() -> None:
    published = {name: task.publishes for name, task in tasks().items() if task.publishes}
    assert published == {"train": (MODEL_VERSION,), "check-violation": (IS_METRIC_VIOLATED,)}


def test_the_notebook_installs_the_wheel_then_runs_the_task_with_its_flags() -> None:
    source = notebook_source(
        "train", ["input-table", "start-date"], "/Volumes/c/s/code/v1/w.whl", "v1"
    )
    cells = source.split(CELL)
    assert source.splitlines()[0] == HEADER
    assert "# MAGIC %pip install --quiet /Volumes/c/s/code/v1/w.whl" in cells[0]
    assert cells[1].strip() == "dbutils.library.restartPython()"
    compile(cells[2], "notebook", "exec")  # the cell that runs is valid Python
    assert "run_in_notebook(dbutils, 'train', ['input-table', 'start-date'])" in cells[2]
