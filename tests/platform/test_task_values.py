"""Rule: only a Python notebook task may set a task value; any task reads one through
``{{tasks.<key>.values.<name>}}``, which Databricks replaces by the value as a string
(booleans as ``true``/``false``), and a condition task's EQUAL_TO compares strings.

Sources: docs.databricks.com/jobs/task-values ("can be used only in notebooks with Python
selected as the language"; references "for all tasks that support parameters"), the Jobs
API's ConditionTask (databricks-sdk-py ``service/jobs.py``: string comparison for
EQUAL_TO/NOT_EQUAL, booleans serialized to "true"/"false"), docs.databricks.com
/jobs/if-else; serverless notebook tasks take no job environment (the platform's refusal
quoted in databricks/dbt-databricks#1009). docs/platform.md, "Task values".
"""

from __future__ import annotations

import base64

import pytest

from mlops.render import Render
from pipelines.common.task_values import references
from pipelines.tasks import task as registered_task
from tests.infra.conftest import PROJECTS, STACKS, render_with

JOB = "databricks:index/job:Job"
NOTEBOOK = "databricks:index/notebook:Notebook"


def task_strings(task: dict) -> list[str]:
    """Every string of a task where a reference may stand."""
    found: list[str] = []
    for key in ("pythonWheelTask", "notebookTask", "conditionTask", "runJobTask"):
        part = task.get(key) or {}
        for value in part.values():
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, dict):
                found.extend(v for v in value.values() if isinstance(v, str))
    return found


def upstream(tasks: dict[str, dict], key: str) -> set[str]:
    """The tasks ``key`` waits for, directly or not."""
    seen: set[str] = set()
    pending = [d["taskKey"] for d in tasks[key].get("dependsOns") or []]
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending.extend(d["taskKey"] for d in tasks[current].get("dependsOns") or [])
    return seen


def notebook_task_name(render: Render, path: str) -> str:
    (notebook,) = [n for n in render.of_type(NOTEBOOK) if n.inputs["path"] == path]
    assert notebook.inputs["language"] == "PYTHON"  # the rule: Python notebooks only
    source = base64.b64decode(notebook.inputs["contentBase64"]).decode()
    assert source.startswith("# Databricks notebook source\n")
    (call,) = [line for line in source.splitlines() if line.startswith("run_in_notebook(")]
    return call.split("'")[1]


@pytest.mark.parametrize("stack", STACKS)
def test_every_reference_reads_a_value_an_earlier_python_notebook_task_publishes(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    seen = 0
    for job in render.of_type(JOB):
        tasks = {task["taskKey"]: task for task in job.inputs["tasks"]}
        for key, task in tasks.items():
            for text in task_strings(task):
                for ref in references(text):
                    seen += 1
                    assert ref.task_key in upstream(tasks, key), (key, ref)
                    publisher = tasks[ref.task_key]
                    assert "notebookTask" in publisher, f"{ref.task_key} is not a notebook task"
                    name = notebook_task_name(render, publisher["notebookTask"]["notebookPath"])
                    assert ref.name in registered_task(name).publishes, (ref, name)
    # Per project: two model_version readers and the IsViolated condition.
    assert seen == 3 * len(PROJECTS)


@pytest.mark.parametrize("stack", STACKS)
def test_only_publishing_tasks_are_notebooks_and_no_wheel_task_publishes(
    renders: dict[str, Render], stack: str
) -> None:
    for job in renders[stack].of_type(JOB):
        for task in job.inputs["tasks"]:
            if "pythonWheelTask" in task:
                name = task["pythonWheelTask"]["entryPoint"].removeprefix("mlops-")
                assert not registered_task(name).publishes, task["taskKey"]
            if "notebookTask" in task:
                path = task["notebookTask"]["notebookPath"]
                assert registered_task(notebook_task_name(renders[stack], path)).publishes


@pytest.mark.parametrize("stack", STACKS)
def test_a_condition_on_a_boolean_compares_with_the_string_true(
    renders: dict[str, Render], stack: str
) -> None:
    conditions = [
        task["conditionTask"]
        for job in renders[stack].of_type(JOB)
        for task in job.inputs["tasks"]
        if "conditionTask" in task
    ]
    assert conditions == [
        {
            "left": "{{tasks.CheckViolation.values.is_metric_violated}}",
            "op": "EQUAL_TO",
            "right": "true",
        }
    ] * len(PROJECTS)  # one retraining job per project


@pytest.mark.parametrize("stack", STACKS)
def test_no_notebook_flag_is_shadowed_by_a_job_parameter(
    renders: dict[str, Render], stack: str
) -> None:
    """Job parameters reach notebook tasks as widgets too, and win a name clash
    (docs.databricks.com/jobs/job-parameters): no flag may share a job parameter's name."""
    for job in renders[stack].of_type(JOB):
        names = {p["name"] for p in job.inputs.get("parameters") or []}
        for task in job.inputs["tasks"]:
            if "notebookTask" in task:
                assert not names & set(task["notebookTask"]["baseParameters"]), task["taskKey"]


def test_serverless_notebook_tasks_take_no_job_environment() -> None:
    render = render_with("staging", compute={"kind": "serverless"})
    notebook_tasks = [
        task
        for job in render.of_type(JOB)
        for task in job.inputs["tasks"]
        if "notebookTask" in task
    ]
    assert len(notebook_tasks) == 2 * len(PROJECTS)
    for task in notebook_tasks:
        assert "environmentKey" not in task and "libraries" not in task
