"""The job and monitoring components are reusable: a program outside this repository builds
a TrainingJob, a BatchInferenceJob and a MonitoredTable for a model project (here the fare
project's code on tables of its own) from their narrow args alone, with no StackSettings,
and a misspelt task flag fails while it builds."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_databricks as databricks
import pytest

from infra.components.batch_inference_job import BatchInferenceJob, BatchInferenceJobArgs
from infra.components.monitored_table import InferenceLog, MonitoredTable, MonitoredTableArgs
from infra.components.retraining_job import RetrainingJobArgs
from infra.components.scheduled_job import (
    Compute,
    JobCode,
    JobSettings,
    Permission,
    RetryPolicy,
    Schedule,
)
from infra.components.training_job import TrainingJob, TrainingJobArgs
from pipelines.common.interface import TaskInterfaceError

HOST = "https://dbc-0000aaaa-1111.cloud.databricks.com"
CODE = JobCode(
    wheel_path="/Volumes/acme/demand/code/v1/mlops_stack-0.1.0-py3-none-any.whl",
    code_version="v1",
    notebook_folder="/Shared/acme/code/v1",
)
TABLES = (
    "trips=acme.demand.orders,inference_requests=acme.demand.requests,"
    "pickup_features=acme.demand.store_features,dropoff_features=acme.demand.region_features,"
    "predictions=acme.demand.predictions"
)
DATA = {"project": "fare", "tables": TABLES}


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources[args.name] = (args.typ, args.inputs)
        outputs = dict(args.inputs)
        if args.typ == "databricks:index/job:Job":
            return "4242", outputs
        if args.typ == "databricks:index/qualityMonitor:QualityMonitor":
            table = args.inputs["tableName"]
            outputs["profileMetricsTableName"] = f"{table}_profile_metrics"
            outputs["driftMetricsTableName"] = f"{table}_drift_metrics"
            outputs["dashboardId"] = "dash-1"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def settings(name: str, *, run_as: str | None = None) -> JobSettings:
    return JobSettings(
        name=name,
        schedule=Schedule(cron="0 0 4 * * ?", timezone="Europe/Paris", paused=True),
        compute=Compute(kind="serverless", serverless_environment_version="3"),
        retries=RetryPolicy(max_retries=2, min_retry_interval_minutes=3, timeout_minutes=30),
        run_as=run_as,
        permissions=(Permission("demand-readers", "CAN_VIEW"),),
        tags={"team": "demand"},
    )


def training_args(**changes: Any) -> TrainingJobArgs:
    values: dict[str, Any] = {
        "job": settings("demand-training", run_as="11111111-2222-4333-8444-555555555555"),
        "code": CODE,
        "workspace_host": HOST,
        "data": DATA,
        "model_name": "acme.demand.order_value",
        "experiment_path": "/Shared/acme/experiment",
        "lookback_days": 60,
        "holdout_days": 5,
        "validation": {"run_mode": "enabled", "max_rmse": 3.5},
        **changes,
    }
    return TrainingJobArgs(**values)


def build(program: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="acme", stack="test", preview=False)

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        return program()

    run()
    return mocks.resources


def tasks_of(job_inputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["taskKey"]: task for task in job_inputs["tasks"]}


def test_training_and_batch_inference_jobs_from_their_own_args() -> None:
    def program() -> pulumi.Output[Any]:
        training = TrainingJob("demand-training", training_args())
        scoring = BatchInferenceJob(
            "demand-scoring",
            BatchInferenceJobArgs(
                job=settings("demand-scoring"),
                code=CODE,
                workspace_host=HOST,
                data=DATA,
                output_table="acme.demand.predictions",
                model_name="acme.demand.order_value",
                days=2,
            ),
        )
        return pulumi.Output.all(training.job_url, scoring.job_id)

    resources = build(program)
    kind, job = resources["demand-training-job"]
    assert kind == "databricks:index/job:Job"
    tasks = tasks_of(job)
    assert list(tasks) == ["Train", "ModelValidation", "ModelDeployment"]
    validate = tasks["ModelValidation"]["pythonWheelTask"]["namedParameters"]
    assert validate["project"] == "fare"
    assert validate["tables"] == TABLES
    assert validate["max-rmse"] == "3.5"
    assert validate["model-version"] == "{{tasks.Train.values.model_version}}"
    # Train publishes a task value, so it is a notebook task; its notebook is generated.
    assert tasks["Train"]["notebookTask"]["notebookPath"] == "/Shared/acme/code/v1/training/Train"
    assert resources["demand-training-Train-notebook"][0] == "databricks:index/notebook:Notebook"
    assert job["runAs"] == {"servicePrincipalName": "11111111-2222-4333-8444-555555555555"}
    assert job["schedule"]["pauseStatus"] == "PAUSED"
    assert job["tags"] == {"team": "demand", "code_version": "v1"}
    # Three tasks, each with three attempts of 30 min and two waits of 3 min.
    assert job["timeoutSeconds"] == 3 * (3 * 30 * 60 + 2 * 3 * 60)

    _, scoring = resources["demand-scoring-job"]
    (score,) = scoring["tasks"]
    assert score["pythonWheelTask"]["namedParameters"]["output-table"] == (
        "acme.demand.predictions"
    )
    assert {"name": "days", "default": "2"} in scoring["parameters"]
    assert score["environmentKey"] == "pipelines"
    permissions = resources["demand-scoring-permissions"][1]
    assert permissions["accessControls"] == [
        {"groupName": "demand-readers", "permissionLevel": "CAN_VIEW"}
    ]


def test_a_monitored_table_with_its_retraining_job_from_its_own_args() -> None:
    def program() -> pulumi.Output[Any]:
        training = TrainingJob("demand-training", training_args())
        table = databricks.SqlTable(
            "predictions",
            catalog_name="acme",
            schema_name="demand",
            name="predictions",
            table_type="MANAGED",
        )
        monitored = MonitoredTable(
            "demand-monitoring",
            MonitoredTableArgs(
                table_name="acme.demand.predictions",
                table=table,
                inference_log=InferenceLog(
                    problem_type="PROBLEM_TYPE_CLASSIFICATION",
                    prediction_col="predicted_class",
                    label_col="label",
                    model_id_col="model_version",
                    timestamp_col="scored_at",
                    prediction_proba_col="probabilities",
                ),
                granularities=("1 week",),
                assets_dir="/Workspace/Shared/acme/monitoring",
                readers="demand-readers",
                ml_team="demand-ml",
                warehouse_id="0123456789abcdef",
                retraining=RetrainingJobArgs(
                    job=settings("demand-retraining"),
                    code=CODE,
                    workspace_host=HOST,
                    labels={**DATA, "inference_table": "acme.demand.predictions"},
                    refresh={
                        "project": "fare",
                        "inference_table": "acme.demand.predictions",
                        "granularities": "1 week",
                    },
                    rule={
                        "project": "fare",
                        "profile_metrics_table": "acme.demand.predictions_profile_metrics",
                        "metric": "mean_absolute_error",
                        "threshold": 2.0,
                        "violated_when": "above",
                        "evaluation_windows": 4,
                        "violation_windows": 2,
                        "granularity": "1 week",
                    },
                    lookback_days=28,
                    training_job_id=training.job.id.apply(int),
                    training_timeout_seconds=training.timeout_seconds,
                ),
            ),
        )
        return monitored.dashboard_id

    resources = build(program)
    kind, monitor = resources["demand-monitoring-monitor"]
    assert kind == "databricks:index/qualityMonitor:QualityMonitor"
    assert monitor["inferenceLog"]["problemType"] == "PROBLEM_TYPE_CLASSIFICATION"
    assert monitor["inferenceLog"]["predictionProbaCol"] == "probabilities"
    assert "schedule" not in monitor
    _, retraining = resources["demand-monitoring-retraining-job"]
    tasks = tasks_of(retraining)
    assert list(tasks) == [
        "JoinLabels",
        "RefreshMetrics",
        "CheckViolation",
        "IsViolated",
        "Retrain",
    ]
    assert tasks["Retrain"]["runJobTask"]["jobId"] == 4242
    check = tasks["CheckViolation"]["notebookTask"]["baseParameters"]
    assert check["metric"] == "mean_absolute_error"
    assert json.loads(check["evaluation-windows"]) == 4
    assert {"name": "days", "default": "28"} in retraining["parameters"]


def test_a_misspelt_or_missing_task_flag_fails_while_the_job_is_built() -> None:
    with pytest.raises(TaskInterfaceError, match=r"task validate: no flag --max-rsme"):
        build(lambda: TrainingJob("t", training_args(validation={"max_rsme": 3.5})))
    data = {k: v for k, v in DATA.items() if k != "tables"}
    with pytest.raises(TaskInterfaceError, match=r"required --tables"):
        build(lambda: TrainingJob("t", training_args(data=data)))
    with pytest.raises(TaskInterfaceError, match=r"--project taxi: no project 'taxi'"):
        build(lambda: TrainingJob("t", training_args(data={**DATA, "project": "taxi"})))
    with pytest.raises(TaskInterfaceError, match=r"--run-mode sometimes: expected one of"):
        build(lambda: TrainingJob("t", training_args(validation={"run_mode": "sometimes"})))
