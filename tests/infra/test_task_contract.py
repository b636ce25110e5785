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
from pipelines.common.project import TableMap
from pipelines.tasks import task as registered_task
from tests.infra.conftest import PROJECTS, STACKS, render_with

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


def parsed_tasks(render: Render, project: str) -> dict[str, Any]:
    """Each task of ``project``'s jobs, parsed, by task key."""
    prefix = f"{render.settings.stack}-mlops-stack-{project}-"
    return {
        task: parse(entry, argv)
        for job, task, entry, argv in command_lines(render)
        if job.startswith(prefix)
    }


@pytest.mark.parametrize("stack", STACKS)
def test_every_task_flag_is_accepted_by_its_entry_point(
    renders: dict[str, Render], stack: str
) -> None:
    lines = command_lines(renders[stack])
    assert len(lines) == 8 * len(PROJECTS)
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


STACKS_AND_PROJECTS = [(stack, project) for stack in STACKS for project in PROJECTS]


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_every_task_of_a_project_names_it_and_all_its_tables(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    settings = renders[stack].settings.project(project)
    for task, params in parsed_tasks(renders[stack], project).items():
        assert params.project == project, task
        tables = getattr(params, "tables", None)
        if task in ("RefreshMetrics", "CheckViolation"):
            assert tables is None, task  # they take the project alone
        else:
            assert tables == TableMap.of(settings.tables), task


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_windows_come_from_the_run_date_and_the_settings(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    settings = renders[stack].settings.project(project)
    parsed = parsed_tasks(renders[stack], project)
    run_date = dt.date(2026, 3, 2)
    holdout = dt.timedelta(days=settings.training.holdout_days)
    lookback = dt.timedelta(days=settings.training.lookback_days)
    assert parsed["Train"].end_date == run_date - holdout
    assert parsed["Train"].start_date == run_date - holdout - lookback
    assert parsed["Train"].model_name == settings.model_full_name
    assert parsed["Train"].experiment == settings.experiment_path
    for task in ("ModelValidation", "ModelDeployment"):
        assert (parsed[task].start_date, parsed[task].end_date) == (run_date - holdout, run_date)
        assert parsed[task].model_version == 7
    for task in ("WriteFeatures", "ScoreBatch"):
        assert parsed[task].end_date == run_date
        assert parsed[task].start_date == run_date - dt.timedelta(days=1)
    validate = parsed["ModelValidation"]
    assert validate.run_mode == settings.validation.run_mode
    for limit, value in settings.validation.limits().items():
        assert getattr(validate, limit) == value, limit
    assert str(parsed["ScoreBatch"].output_table) == settings.predictions
    assert parsed["ScoreBatch"].model_alias == "champion"
    lookback = dt.timedelta(days=settings.monitoring.lookback_days)
    for task in ("JoinLabels", "RefreshMetrics"):
        assert parsed[task].start_date == run_date - lookback
        assert parsed[task].end_date == run_date
        assert str(parsed[task].inference_table) == settings.predictions
    assert tuple(parsed["RefreshMetrics"].granularities) == settings.monitoring.granularities
    assert parsed["RefreshMetrics"].baseline_table is None


def test_the_classification_limits_reach_validate(renders: dict[str, Render]) -> None:
    validate = parsed_tasks(renders["staging"], "churn")["ModelValidation"]
    assert (validate.min_roc_auc, validate.max_log_loss) == (0.7, 0.3)
    assert validate.max_rmse is None  # a regression limit: not given to a classifier
    fare = parsed_tasks(renders["staging"], "fare")["ModelValidation"]
    assert fare.min_roc_auc is None and fare.max_rmse == 9.0


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_the_violation_check_applies_the_rule_of_the_settings(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    rule = renders[stack].settings.project(project).monitoring
    check = parsed_tasks(renders[stack], project)["CheckViolation"]
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
    exported = renders[stack].exports["projects"][project]["monitor"]
    assert str(check.profile_metrics_table) == exported["profileMetricsTable"]


def test_a_baseline_and_several_granularities_reach_the_refresh_task() -> None:
    render = render_with(
        "prod",
        fare={
            "monitoring": {
                "granularities": ["1 hour", "1 day"],
                "threshold": 0.5,
                "metric": "r2_score",
                "baselineTable": "prod.bronze.fare_baseline",
            }
        },
    )
    parsed = parsed_tasks(render, "fare")
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
    without_tables = [flag for flag in argv if not flag.startswith("--tables=")]
    assert len(without_tables) == len(argv) - 1
    with pytest.raises(UsageError, match="required: --tables"):
        parse(entry_point, without_tables)
    # A role left out of --tables is refused by the task, naming the project's roles.
    (tables,) = [flag for flag in argv if flag.startswith("--tables=")]
    fewer = ",".join(tables.removeprefix("--tables=").split(",")[:-1])
    with pytest.raises(UsageError, match="no table for predictions"):
        parse(entry_point, [*without_tables, f"--tables={fewer}"])
