"""MonitoredTable under Pulumi's mock engine: each project's quality monitor on its
predictions table, the grants on its metric tables, and the retraining job that starts
its training job."""

from __future__ import annotations

import json

import jsonschema
import pytest

from infra.outputs import validate_outputs
from mlops.render import Render, format_text
from tests.infra.conftest import PROJECTS, STACKS, render_with

MONITOR = "databricks:index/qualityMonitor:QualityMonitor"
JOB = "databricks:index/job:Job"
GRANTS = "databricks:index/grants:Grants"
PERMISSIONS = "databricks:index/permissions:Permissions"
STACKS_AND_PROJECTS = [(stack, project) for stack in STACKS for project in PROJECTS]


def monitor(render: Render, project: str = "fare") -> dict:
    (found,) = [m for m in render.of_type(MONITOR) if m.name.split("-")[3] == project]
    return found.inputs


def job(render: Render, item: str, project: str = "fare") -> dict:
    return render.find(JOB, f"{render.settings.stack}-mlops-stack-{project}-{item}").inputs


def retraining(render: Render, project: str = "fare") -> dict:
    return job(render, "monitoring-retraining-job", project)


def tasks(render: Render, project: str = "fare") -> dict[str, dict]:
    return {task["taskKey"]: task for task in retraining(render, project)["tasks"]}


def task_parameters(task: dict) -> dict[str, str]:
    """A task's named flags, whether it runs the wheel or a notebook."""
    if "pythonWheelTask" in task:
        return task["pythonWheelTask"]["namedParameters"]
    return task["notebookTask"]["baseParameters"]


# --- the quality monitor -----------------------------------------------------------------


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_the_monitor_watches_the_predictions_as_an_inference_log_of_its_problem_type(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    render = renders[stack]
    s = render.settings
    p = s.project(project)
    declared = p.declaration
    inputs = monitor(render, project)

    assert inputs["tableName"] == p.predictions
    assert inputs["outputSchemaName"] == p.home
    assert inputs["assetsDir"] == f"/Workspace/Shared/mlops-stack/{stack}/{project}/monitoring"
    assert inputs["inferenceLog"] == {
        "problemType": declared.problem_type.monitor_problem_type,
        "predictionCol": declared.monitoring.prediction_col,
        "labelCol": declared.monitoring.label_col,
        "modelIdCol": "model_version",
        "timestampCol": "timestamp",
        "granularities": list(p.monitoring.granularities),
    }
    columns = set(declared.implementation().schemas()["predictions"].fieldNames())
    log = inputs["inferenceLog"]
    assert {log["predictionCol"], log["labelCol"], log["modelIdCol"], log["timestampCol"]} <= (
        columns
    )
    assert "baselineTableName" not in inputs and "slicingExprs" not in inputs
    assert inputs.get("warehouseId") == s.sql_warehouse_id
    emails = list(s.notification_emails)
    if emails:
        assert inputs["notifications"] == {"onFailure": {"emailAddresses": emails}}
    else:
        assert "notifications" not in inputs


def test_fare_is_a_regression_and_churn_a_classification(renders: dict[str, Render]) -> None:
    render = renders["staging"]
    assert monitor(render, "fare")["inferenceLog"]["problemType"] == "PROBLEM_TYPE_REGRESSION"
    assert monitor(render, "churn")["inferenceLog"]["problemType"] == (
        "PROBLEM_TYPE_CLASSIFICATION"
    )
    assert monitor(render, "churn")["inferenceLog"]["labelCol"] == "churned"


def test_the_monitors_own_schedule_runs_in_staging_and_prod_only(
    renders: dict[str, Render],
) -> None:
    """A monitor's schedule cannot be paused (the provider's pause_status is read-only), so
    dev, whose schedules are paused, gets none although its stack file sets one."""
    for stack in STACKS:
        refresh = renders[stack].settings.project("fare").monitoring.refresh_schedule
        assert refresh is not None and refresh.cron == "0 0 9 ? * SUN", stack
        # churn sets none: the retraining job refreshes its monitor.
        assert renders[stack].settings.project("churn").monitoring.refresh_schedule is None
        assert "schedule" not in monitor(renders[stack], "churn")
    assert "schedule" not in monitor(renders["dev"])
    for stack in ("staging", "prod"):
        assert monitor(renders[stack])["schedule"] == {
            "quartzCronExpression": "0 0 9 ? * SUN",
            "timezoneId": "UTC",
        }


@pytest.mark.parametrize("project", PROJECTS)
def test_the_monitored_table_holds_the_monitor_its_grants_and_the_job(
    renders: dict[str, Render], project: str
) -> None:
    render = renders["prod"]
    (monitored,) = [
        r
        for r in render.roots
        if r.type == "mlops-stack:monitoring:MonitoredTable"
        and r.name == f"prod-mlops-stack-{project}-monitoring"
    ]
    names = {child.name for child in monitored.children}
    assert names == {
        f"prod-mlops-stack-{project}-monitoring-monitor",
        f"prod-mlops-stack-{project}-monitoring-profile-metrics-grants",
        f"prod-mlops-stack-{project}-monitoring-drift-metrics-grants",
        f"prod-mlops-stack-{project}-monitoring-dashboard-permissions",
        f"prod-mlops-stack-{project}-monitoring-retraining",
    }


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_readers_may_view_the_dashboard_and_the_ml_team_rerun_it(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    render = renders[stack]
    s = render.settings
    dashboard = render.find(
        PERMISSIONS, f"{stack}-mlops-stack-{project}-monitoring-dashboard-permissions"
    )
    exported = render.exports["projects"][project]["monitor"]
    assert dashboard.inputs["dashboardId"] == exported["dashboardId"]
    assert dashboard.inputs["accessControls"] == [
        {"groupName": s.groups.readers, "permissionLevel": "CAN_READ"},
        {"groupName": s.groups.ml_team, "permissionLevel": "CAN_RUN"},
    ]


def test_baseline_slices_warehouse_and_granularities_reach_the_monitor() -> None:
    render = render_with(
        "staging",
        sqlWarehouseId="0123456789abcdef",
        fare={
            "monitoring": {
                "granularities": ["1 hour", "1 day"],
                "threshold": 5.0,
                "baselineTable": "staging.nyc_taxi.fare_baseline",
                "slicingExprs": ["pickup_zip", "trip_distance > 10"],
            }
        },
    )
    inputs = monitor(render)
    assert inputs["inferenceLog"]["granularities"] == ["1 hour", "1 day"]
    assert inputs["baselineTableName"] == "staging.nyc_taxi.fare_baseline"
    assert inputs["slicingExprs"] == ["pickup_zip", "trip_distance > 10"]
    assert inputs["warehouseId"] == "0123456789abcdef"
    assert "schedule" not in inputs  # no refreshSchedule: the retraining job refreshes it
    flags = task_parameters(tasks(render)["RefreshMetrics"])
    assert flags["granularities"] == "1 hour,1 day"
    assert flags["baseline-table"] == "staging.nyc_taxi.fare_baseline"
    assert task_parameters(tasks(render)["CheckViolation"])["granularity"] == "1 hour"


# --- the retraining job ----------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_the_retraining_job_checks_then_retrains_only_when_violated(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    render = renders[stack]
    inputs = retraining(render, project)
    assert inputs["name"] == f"{stack}-mlops-stack-{project}-monitoring"
    assert [t["taskKey"] for t in inputs["tasks"]] == [
        "JoinLabels",
        "RefreshMetrics",
        "CheckViolation",
        "IsViolated",
        "Retrain",
    ]
    after = {t["taskKey"]: t.get("dependsOns") or [] for t in inputs["tasks"]}
    assert after == {
        "JoinLabels": [],
        "RefreshMetrics": [{"taskKey": "JoinLabels"}],
        "CheckViolation": [{"taskKey": "RefreshMetrics"}],
        "IsViolated": [{"taskKey": "CheckViolation"}],
        "Retrain": [{"taskKey": "IsViolated", "outcome": "true"}],
    }
    by_key = tasks(render, project)
    assert by_key["IsViolated"]["conditionTask"] == {
        "left": "{{tasks.CheckViolation.values.is_metric_violated}}",
        "op": "EQUAL_TO",
        "right": "true",
    }
    for key in ("IsViolated", "Retrain"):
        task = by_key[key]
        assert "pythonWheelTask" not in task and "jobClusterKey" not in task, key
        assert "libraries" not in task and "maxRetries" not in task, key
    assert [p["name"] for p in inputs["parameters"]] == ["run_date", "days"]
    days = {p["name"]: p["default"] for p in inputs["parameters"]}["days"]
    assert days == str(render.settings.project(project).monitoring.lookback_days)


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_retrain_starts_the_projects_training_job_for_the_same_run_date(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    render = renders[stack]
    run_job = tasks(render, project)["Retrain"]["runJobTask"]
    training_id = render.exports["projects"][project]["jobs"]["training"]["id"]
    # The mock engine hands numbers over as floats; the provider wants the job id as one.
    assert run_job["jobId"] == int(training_id)
    assert run_job["jobParameters"] == {"run_date": "{{job.parameters.run_date}}"}
    training = job(render, "training-job", project)
    training_limit = training["timeoutSeconds"]
    assert tasks(render, project)["Retrain"]["timeoutSeconds"] == training_limit
    policy = render.settings.jobs
    # Each wheel task may use every attempt and wait between them.
    task_limit = (policy.max_retries + 1) * policy.timeout_minutes * 60
    task_limit += policy.max_retries * policy.min_retry_interval_minutes * 60
    assert retraining(render, project)["timeoutSeconds"] == 3 * task_limit + training_limit


def test_the_retraining_job_runs_daily_after_batch_inference(renders: dict[str, Render]) -> None:
    for stack, expected in (("dev", "PAUSED"), ("staging", "UNPAUSED"), ("prod", "UNPAUSED")):
        for project, cron in (("fare", "0 0 8 * * ?"), ("churn", "0 30 8 * * ?")):
            schedule = retraining(renders[stack], project)["schedule"]
            assert schedule == {
                "quartzCronExpression": cron,
                "timezoneId": "UTC",
                "pauseStatus": expected,
            }
            batch = job(renders[stack], "batch-inference-job", project)["schedule"]
            assert batch["quartzCronExpression"] < cron


# --- privileges ----------------------------------------------------------------------------


def grants_on(render: Render, table: str) -> list[dict]:
    (found,) = [g for g in render.of_type(GRANTS) if g.inputs.get("table") == table]
    return found.inputs["grants"]


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_metric_tables_are_read_by_readers_and_the_profile_by_the_runner(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    render = renders[stack]
    s = render.settings
    predictions = s.project(project).predictions
    exported = render.exports["projects"][project]["monitor"]
    profile, drift = exported["profileMetricsTable"], exported["driftMetricsTable"]
    assert (profile, drift) == (
        f"{predictions}_profile_metrics",
        f"{predictions}_drift_metrics",
    )
    runner, readers = s.principals.runner, s.groups.readers
    expected_profile = [{"principal": readers, "privileges": ["SELECT"]}]
    if runner:
        expected_profile.insert(0, {"principal": runner, "privileges": ["SELECT"]})
    assert grants_on(render, profile) == expected_profile
    assert grants_on(render, drift) == [{"principal": readers, "privileges": ["SELECT"]}]


@pytest.mark.parametrize(
    ("stack", "project"), [(s, p) for s in ("staging", "prod") for p in PROJECTS]
)
def test_the_runner_may_refresh_the_monitor_and_start_training(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    render = renders[stack]
    s = render.settings
    runner = s.principals.runner
    on_predictions = {
        g["principal"]: g["privileges"] for g in grants_on(render, s.project(project).predictions)
    }
    assert on_predictions[runner] == ["SELECT", "MODIFY", "MANAGE"]
    assert on_predictions[s.groups.readers] == ["SELECT"]
    training = render.find(PERMISSIONS, f"{stack}-mlops-stack-{project}-training-permissions")
    assert training.inputs["accessControls"][0] == {
        "servicePrincipalName": runner,
        "permissionLevel": "CAN_MANAGE_RUN",
    }
    for other in ("feature-engineering", "batch-inference", "monitoring-retraining"):
        permissions = render.find(PERMISSIONS, f"{stack}-mlops-stack-{project}-{other}-permissions")
        assert all(
            "servicePrincipalName" not in acl for acl in permissions.inputs["accessControls"]
        )


def test_dev_grants_the_deploying_person_nothing_extra(renders: dict[str, Render]) -> None:
    render = renders["dev"]
    assert render.settings.principals.runner is None
    for project in render.settings.projects:
        predictions = grants_on(render, project.predictions)
        assert predictions == [{"principal": "mlops-readers", "privileges": ["SELECT"]}]
        training = render.find(PERMISSIONS, f"dev-mlops-stack-{project.name}-training-permissions")
        assert all("servicePrincipalName" not in acl for acl in training.inputs["accessControls"])


# --- exports and the plan ---------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "project"), STACKS_AND_PROJECTS)
def test_the_monitor_exports_follow_the_schema(
    renders: dict[str, Render], stack: str, project: str
) -> None:
    render = renders[stack]
    exports = render.exports
    validate_outputs(exports)
    rule = render.settings.project(project).monitoring
    exported = exports["projects"][project]
    assert exported["monitor"]["dashboardId"]
    assert exported["monitor"]["retrainWhen"] == {
        "metric": rule.metric,
        "violatedWhen": rule.violated_when,
        "threshold": rule.threshold,
        "granularity": rule.granularity,
        "evaluationWindows": rule.evaluation_windows,
        "violationWindows": rule.violation_windows,
    }
    assert exported["jobs"]["monitoring"]["name"] == f"{stack}-mlops-stack-{project}-monitoring"


def test_the_schema_ties_each_retraining_job_to_its_monitor(renders: dict[str, Render]) -> None:
    exports = json.loads(json.dumps(renders["prod"].exports))
    for project in PROJECTS:
        without_job = json.loads(json.dumps(exports))
        del without_job["projects"][project]["jobs"]["monitoring"]
        with pytest.raises(jsonschema.ValidationError):
            validate_outputs(without_job)
        without_monitor = json.loads(json.dumps(exports))
        without_monitor["projects"][project]["monitor"] = None
        with pytest.raises(jsonschema.ValidationError):
            validate_outputs(without_monitor)
        extra = json.loads(json.dumps(exports))
        extra["projects"][project]["monitor"]["token"] = "x"
        with pytest.raises(jsonschema.ValidationError):
            validate_outputs(extra)


def test_a_project_without_monitoring_registers_none_of_it_and_the_other_keeps_its() -> None:
    render = render_with("prod", fare={"monitoring": {"enabled": False}})
    types = render.counts()
    assert types[MONITOR] == 1
    assert types[JOB] == 3 + 4
    assert not any(r.name == "prod-mlops-stack-fare-monitoring" for r in render.roots)
    fare, churn = render.exports["projects"]["fare"], render.exports["projects"]["churn"]
    assert fare["monitor"] is None
    assert "monitoring" not in fare["jobs"]
    assert churn["monitor"] is not None and "monitoring" in churn["jobs"]
    validate_outputs(render.exports)
    s = render.settings
    on_predictions = {
        g["principal"]: g["privileges"] for g in grants_on(render, s.project("fare").predictions)
    }
    assert on_predictions[s.principals.runner] == ["SELECT", "MODIFY"]
    training = render.find(PERMISSIONS, "prod-mlops-stack-fare-training-permissions")
    assert all("servicePrincipalName" not in acl for acl in training.inputs["accessControls"])


def test_the_plan_shows_both_monitors_and_the_branching_tasks(renders: dict[str, Render]) -> None:
    text = format_text(renders["dev"])
    for project, table, problem in (
        ("fare", "dev.nyc_taxi.predictions", "PROBLEM_TYPE_REGRESSION"),
        ("churn", "dev.telco.churn_predictions", "PROBLEM_TYPE_CLASSIFICATION"),
    ):
        training_id = renders["dev"].exports["projects"][project]["jobs"]["training"]["id"]
        assert (
            f"mlops-stack:monitoring:MonitoredTable  dev-mlops-stack-{project}-monitoring" in text
        )
        assert f"inference log on {table}, {problem}" in text
        assert (
            f"task Retrain after IsViolated is true: run job {training_id} and wait with"
            " run_date={{job.parameters.run_date}}" in text
        )
    assert "refresh schedule none of its own (the retraining job refreshes it)" in text
    assert (
        "task IsViolated after CheckViolation:"
        " if {{tasks.CheckViolation.values.is_metric_violated}} EQUAL_TO true" in text
    )
    assert "--granularities='1 day'" in text and "--threshold=5.0" in text
    assert "--metric=accuracy_score" in text and "--violated-when=below" in text
