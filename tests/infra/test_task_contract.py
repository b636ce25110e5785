"""Contract 1: every wheel or notebook task of every stack runs a `pipelines` entry point with
flags that entry point's own parser accepts, once Databricks has substituted the dynamic
values.
(Condition and run-job tasks run no code of ours; test_monitoring.py covers them.)"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mlops.render import Render
from pipelines.common.errors import UsageError
from pipelines.tasks import task as registered_task
from tests.infra.conftest import STACKS, render_with

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
JOB = "databricks:index/job:Job"
NOTEBOOK = "databricks:index/notebook:Notebook"
# What Databricks puts in place of each dynamic value reference at run time.
RUN_VALUES = {
    "job.start_time.iso_date": "2026-03-02",
    "job.parameters.run_date": None,  # the job parameter's default, itself substituted
    "job.parameters.days": None,
    "tasks.Train.values.model_version": "7",
    "job.run_id": "881234",
}


def console_scripts() -> dict[str, str]:
    return tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]


def substitute(text: str, job_parameters: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        reference = match.group(1)
        if reference.startswith("job.parameters."):
            return substitute(job_parameters[reference.removeprefix("job.parameters.")], {})
        if RUN_VALUES.get(reference) is None:
            raise AssertionError(f"unknown dynamic value reference {{{{{reference}}}}}")
        return RUN_VALUES[reference]

    return re.sub(r"\{\{([^}]+)\}\}", value, text)


def notebook_call(render: Render, path: str) -> tuple[str, list[str]]:
    """The task a generated notebook runs and the flags it reads from its widgets."""
    (notebook,) = [n for n in render.of_type(NOTEBOOK) if n.inputs["path"] == path]
    source = base64.b64decode(notebook.inputs["contentBase64"]).decode()
    (call,) = [line for line in source.splitlines() if line.startswith("run_in_notebook(")]
    task, flags = ast.literal_eval(call.removeprefix("run_in_notebook(dbutils, ").rstrip(")"))
    return task, flags


def command_lines(render: Render) -> list[tuple[str, str, str, list[str]]]:
    """(job, task, entry point, argv) for every task that runs our code (a wheel task, or a
    notebook around an entry point), as the task would be started."""
    found = []
    for job in render.of_type(JOB):
        parameters = {p["name"]: p["default"] for p in job.inputs.get("parameters", [])}
        for task in job.inputs["tasks"]:
            if "pythonWheelTask" in task:
                entry_point = task["pythonWheelTask"]["entryPoint"]
                named = task["pythonWheelTask"]["namedParameters"]
            elif "notebookTask" in task:
                named = task["notebookTask"]["baseParameters"]
                name, flags = notebook_call(render, task["notebookTask"]["notebookPath"])
                # The notebook reads exactly the parameters the task is given.
                assert sorted(flags) == sorted(named), task["taskKey"]
                entry_point = f"mlops-{name}"
            else:
                continue
            argv = [f"--{key}={substitute(value, parameters)}" for key, value in named.items()]
            found.append((job.inputs["name"], task["taskKey"], entry_point, argv))
    return found


def parse(entry_point: str, argv: list[str]) -> Any:
    """The task's typed params from its command line, as its console script parses them."""
    return registered_task(entry_point.removeprefix("mlops-")).parse(argv)


@pytest.mark.parametrize("stack", STACKS)
def test_every_task_flag_is_accepted_by_its_entry_point(
    renders: dict[str, Render], stack: str
) -> None:
    lines = command_lines(renders[stack])
    assert {task for _, task, _, _ in lines} == {
        "WriteFeatures",
        "Train",
        "ModelValidation",
        "ModelDeployment",
        "ScoreBatch",
        "JoinLabels",
        "RefreshMetrics",
        "CheckViolation",
    }
    for job, task, entry_point, argv in lines:
        assert entry_point in console_scripts(), f"{job}/{task}: no console script {entry_point}"
        namespace = parse(entry_point, argv)
        assert namespace is not None, f"{job}/{task}"


@pytest.mark.parametrize("stack", STACKS)
def test_windows_come_from_the_run_date_and_the_settings(
    renders: dict[str, Render], stack: str
) -> None:
    settings = renders[stack].settings
    parsed = {task: parse(entry, argv) for _, task, entry, argv in command_lines(renders[stack])}
    run_date = dt.date(2026, 3, 2)
    holdout = dt.timedelta(days=settings.training.holdout_days)
    lookback = dt.timedelta(days=settings.training.lookback_days)
    assert parsed["Train"].end_date == run_date - holdout
    assert parsed["Train"].start_date == run_date - holdout - lookback
    for task in ("ModelValidation", "ModelDeployment"):
        assert (parsed[task].start_date, parsed[task].end_date) == (run_date - holdout, run_date)
        assert parsed[task].model_version == 7
    for task in ("WriteFeatures", "ScoreBatch"):
        assert parsed[task].end_date == run_date
        assert parsed[task].start_date == run_date - dt.timedelta(days=1)
    assert parsed["ModelValidation"].run_mode == settings.validation.run_mode
    assert parsed["ModelValidation"].max_rmse == settings.validation.max_rmse
    assert str(parsed["ScoreBatch"].output_table) == settings.tables.predictions
    assert parsed["ScoreBatch"].model_alias == "champion"
    lookback = dt.timedelta(days=settings.monitoring.lookback_days)
    for task in ("JoinLabels", "RefreshMetrics"):
        assert parsed[task].start_date == run_date - lookback
        assert parsed[task].end_date == run_date
        assert str(parsed[task].inference_table) == settings.tables.predictions
    assert str(parsed["JoinLabels"].labels_table) == settings.tables.trips
    assert tuple(parsed["RefreshMetrics"].granularities) == settings.monitoring.granularities
    assert parsed["RefreshMetrics"].baseline_table is None


@pytest.mark.parametrize("stack", STACKS)
def test_the_violation_check_applies_the_rule_of_the_settings(
    renders: dict[str, Render], stack: str
) -> None:
    rule = renders[stack].settings.monitoring
    parsed = {task: parse(entry, argv) for _, task, entry, argv in command_lines(renders[stack])}
    check = parsed["CheckViolation"]
    assert check.metric == rule.metric
    assert check.threshold == rule.threshold
    assert check.violated_when == rule.violated_when
    assert (check.evaluation_windows, check.violation_windows) == (
        rule.evaluation_windows,
        rule.violation_windows,
    )
    assert check.granularity == rule.granularity
    # The windows judged end at the run date (its default: the run's start date).
    assert check.end_date == dt.date.fromisoformat(RUN_VALUES["job.start_time.iso_date"])
    assert (
        str(check.profile_metrics_table) == renders[stack].exports["monitor"]["profileMetricsTable"]
    )


def test_a_baseline_and_several_granularities_reach_the_refresh_task() -> None:
    render = render_with(
        "prod",
        monitoring={
            "granularities": ["1 hour", "1 day"],
            "threshold": 0.5,
            "metric": "r2_score",
            "baselineTable": "prod.bronze.fare_baseline",
        },
    )
    parsed = {task: parse(entry, argv) for _, task, entry, argv in command_lines(render)}
    assert tuple(parsed["RefreshMetrics"].granularities) == ("1 hour", "1 day")
    assert str(parsed["RefreshMetrics"].baseline_table) == "prod.bronze.fare_baseline"
    assert parsed["CheckViolation"].granularity == "1 hour"
    assert (parsed["CheckViolation"].metric, parsed["CheckViolation"].violated_when) == (
        "r2_score",
        "below",
    )


def test_the_contract_check_catches_a_flag_the_parser_does_not_know(
    renders: dict[str, Render],
) -> None:
    _, _, entry_point, argv = command_lines(renders["prod"])[0]
    with pytest.raises(UsageError, match="unrecognized arguments: --not-a-flag=1"):
        parse(entry_point, [*argv, "--not-a-flag=1"])
    without_input = [flag for flag in argv if not flag.startswith("--input-table=")]
    assert len(without_input) == len(argv) - 1
    with pytest.raises(UsageError, match="required: --input-table"):
        parse(entry_point, without_input)
