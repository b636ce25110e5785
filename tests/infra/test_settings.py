"""The stack settings: the committed stack files parse, and every bad setting is reported
naming the stack file, the key, the value and what was expected, all problems at once."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infra.settings import (
    TOP_LEVEL_KEYS,
    UC_MASTER_ROLE_ARN,
    ClassificationMonitoring,
    InvalidStackConfig,
    RegressionMonitoring,
    Schedule,
    Secret,
    StackSettings,
    Storage,
    parse_settings,
    read_stack_file,
    settings_from_stack_file,
)
from pipelines.common.project import MONITOR_METRICS, ProblemType
from pipelines.projects import projects

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "staging", "prod")
DELETE = object()
DEPLOYER = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
RUNNER = "8e7d6c5b-4a39-4281-9f0e-d1c2b3a49586"

CHURN_RUNNER = "22222222-2222-4222-8222-222222222222"


def config_for(stack: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A committed stack file's config with some ``mlops-stack:`` settings changed: a dotted
    key reaches into an object; the value DELETE removes the key."""
    config = copy.deepcopy(read_stack_file(ROOT / f"Pulumi.{stack}.yaml"))
    for dotted, value in (changes or {}).items():
        top, *path = dotted.split(".")
        full = f"mlops-stack:{top}"
        if not path:
            if value is DELETE:
                config.pop(full, None)
            else:
                config[full] = value
            continue
        node = config.setdefault(full, {})
        for name in path[:-1]:
            node = node.setdefault(name, {})
        if value is DELETE:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    return config


def parse(stack: str = "staging", changes: dict[str, Any] | None = None) -> StackSettings:
    return parse_settings(config_for(stack, changes), stack, f"Pulumi.{stack}.yaml")


def error(stack: str = "staging", changes: dict[str, Any] | None = None) -> str:
    with pytest.raises(InvalidStackConfig) as caught:
        parse(stack, changes)
    return str(caught.value)


# --- the committed stack files ---------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_files_parse(stack: str) -> None:
    settings = settings_from_stack_file(ROOT / f"Pulumi.{stack}.yaml")

    assert (settings.stack, settings.source, settings.environment) == (
        stack,
        f"Pulumi.{stack}.yaml",
        stack,
    )
    assert settings.catalog == stack
    assert settings.project_names == ("fare", "churn")
    assert settings.schedules_paused is (stack == "dev")
    assert settings.protect is (stack == "prod")
    fare, churn = settings.project("fare"), settings.project("churn")
    assert fare.model_full_name == f"{stack}.nyc_taxi.fare_model"
    assert churn.model_full_name == f"{stack}.telco.churn_model"
    assert fare.experiment_path == f"/Shared/mlops-stack/{stack}/experiment"
    assert churn.experiment_path == f"/Shared/mlops-stack/{stack}/churn/experiment"
    assert fare.predictions == f"{stack}.nyc_taxi.predictions"
    assert churn.predictions == f"{stack}.telco.churn_predictions"
    for project in settings.projects:
        assert set(project.schedules) == {
            "feature_engineering",
            "training",
            "batch_inference",
            "monitoring",
        }
        # The tables are the roles the project declares, in its order.
        assert tuple(project.tables) == project.declaration.roles()
        assert project.runner == settings.principals.runner
        assert project.compute == settings.compute
        assert project.runner_reaches == ()
    assert fare.schedules["monitoring"] == Schedule("0 0 8 * * ?", "UTC")
    assert fare.monitoring == RegressionMonitoring(
        enabled=True,
        granularities=("1 day",),
        metric="root_mean_squared_error",
        violated_when="above",
        threshold=5.0,
        evaluation_windows=7,
        violation_windows=3,
        lookback_days=30,
        refresh_schedule=Schedule("0 0 9 ? * SUN", "UTC"),
    )
    assert churn.monitoring == ClassificationMonitoring(
        enabled=True,
        granularities=("1 week",),
        metric="accuracy_score",
        violated_when="below",
        threshold=0.95,
        evaluation_windows=3,
        violation_windows=2,
        lookback_days=100,
    )
    assert churn.validation.limits() == {
        "min_roc_auc": 0.7,
        "min_f1": 0.0,
        "max_log_loss": 0.3,
        "max_roc_auc_decrease": 0.02,
    }
    assert set(fare.validation.limits()) == {"max_rmse", "max_mae", "min_r2", "max_rmse_increase"}
    if stack == "dev":
        assert settings.principals.runner is None
        assert settings.principals.deployer is None
    else:
        assert settings.principals.runner and settings.principals.deployer
        assert settings.principals.runner != settings.principals.deployer


def test_prod_reads_trips_from_the_shared_bronze_layer() -> None:
    fare = parse("prod").project("fare")
    assert fare.tables["trips"] == "prod.bronze.nyc_taxi_trips"
    assert fare.outputs == (
        "prod.nyc_taxi.pickup_features",
        "prod.nyc_taxi.dropoff_features",
        "prod.nyc_taxi.predictions",
    )
    assert fare.inputs == ("prod.bronze.nyc_taxi_trips", "prod.nyc_taxi.inference_requests")


def test_tables_left_out_are_in_the_projects_schema_under_their_default_names() -> None:
    churn = parse("staging").project("churn")
    assert dict(churn.tables) == {
        t.role: f"staging.telco.{t.default_name}" for t in projects()["churn"].tables
    }
    assert str(churn.table_map()).startswith("customers=staging.telco.customers,")


def test_a_projects_block_defaults_follow_its_name() -> None:
    churn = parse("dev", {"churn": {"monitoring": {"threshold": 0.5}}}).project("churn")
    assert (churn.schema, churn.model_name) == ("churn", "churn_model")
    assert churn.experiment_path == "/Shared/mlops-stack/dev/churn/experiment"
    assert churn.monitoring.metric == "f1_score.macro"
    assert churn.monitoring.violated_when == "below"
    assert churn.validation.run_mode == "enabled"
    assert churn.tables["predictions"] == "dev.churn.churn_predictions"


@pytest.mark.parametrize(
    ("stack", "expected"),
    [
        ("dev", ["mlops-stack:workspaceHost"]),
        (
            "staging",
            [
                "mlops-stack:workspaceHost",
                "mlops-stack:principals.deployer",
                "mlops-stack:principals.runner",
                "mlops-stack:sqlWarehouseId",
            ],
        ),
        (
            "prod",
            [
                "mlops-stack:workspaceHost",
                "mlops-stack:principals.deployer",
                "mlops-stack:principals.runner",
                "mlops-stack:sqlWarehouseId",
            ],
        ),
    ],
)
def test_committed_stack_files_hold_placeholders(stack: str, expected: list[str]) -> None:
    assert parse(stack).placeholders() == expected


@pytest.mark.parametrize("stack", STACKS)
def test_a_filled_in_stack_has_no_placeholders(stack: str) -> None:
    changes: dict[str, Any] = {"workspaceHost": f"https://acme-{stack}.cloud.databricks.com"}
    if stack != "dev":
        changes |= {"principals.deployer": DEPLOYER, "principals.runner": RUNNER}
        changes |= {"sqlWarehouseId": "0123456789abcdef"}
    assert parse(stack, changes).placeholders() == []


@pytest.mark.parametrize("stack", STACKS)
def test_json_text_objects_give_the_same_settings_as_objects(stack: str) -> None:
    config = config_for(stack)
    as_json = {
        key: json.dumps(value) if isinstance(value, dict | list) else value
        for key, value in config.items()
    }
    assert any(isinstance(value, str) and value.startswith("{") for value in as_json.values())

    source = f"Pulumi.{stack}.yaml"
    assert parse_settings(as_json, stack, source) == parse_settings(config, stack, source)


# --- one bad setting at a time ---------------------------------------------------------

SPARK = "a Databricks ML runtime version, e.g. 17.3.x-cpu-ml-scala2.13"
CRON = "a Quartz cron expression such as '0 0 5 * * ?' (daily at 05:00); here"
IDENT = "a lower-case identifier (letters, digits, underscores)"
HOST = "the workspace URL, https://<name>.cloud.databricks.com"
PATH = "an absolute workspace path under /Shared/, /Users/ or /Workspace/, without '..'"
UUID = "a service principal's application id (a lower-case UUID)"
STAGING_SP = f"{UUID}: staging deploys from CI and runs its jobs as a service principal"
PROD_SP = f"{UUID}: prod deploys from CI and runs its jobs as a service principal"
STAGING_DEPLOYER = "00000000-0000-0000-0000-00000000d001"
BUCKET = "an S3 bucket name Unity Catalog accepts: 3-63 lower-case letters, digits and hyphens"
STORAGE = {
    "enabled": True,
    "bucketName": "acme-mlops-lakehouse",
    "awsRegion": "eu-west-1",
    "awsAccountId": "123456789012",
}

BAD = [
    # (stack, changes, problem as reported, after "mlops-stack:")
    pytest.param(
        "staging",
        {"shedules": {"training": {"cron": "0 0 6 ? * MON"}}},
        'shedules is {"training": {"cron": "0 0 6 ? * MON"}}: expected no such key;'
        " the settings are environment, workspaceHost, catalog, projects,",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "staging",
        {"compute.nodetype": "i3.xlarge"},
        "compute.nodetype is 'i3.xlarge': expected no such key; compute takes kind,"
        " sparkVersion, nodeType, numWorkers,",
        id="unknown-nested-key",
    ),
    pytest.param(
        "staging",
        {"compute.numWorkers": "two"},
        "compute.numWorkers is 'two': expected a whole number from 0 to 100.",
        id="workers-text",
    ),
    pytest.param(
        "staging",
        {"compute.numWorkers": 2.5},
        "compute.numWorkers is 2.5: expected a whole number from 0 to 100.",
        id="workers-fraction",
    ),
    pytest.param(
        "staging",
        {"compute.numWorkers": True},
        "compute.numWorkers is true: expected a whole number from 0 to 100.",
        id="workers-bool",
    ),
    pytest.param(
        "staging",
        {"compute": ["jobCluster"]},
        'compute is ["jobCluster"]: expected an object with the keys kind, sparkVersion,',
        id="list-for-object",
    ),
    pytest.param(
        "staging",
        {"compute.sparkVersion": "15.4.x-scala2.12"},
        f"compute.sparkVersion is '15.4.x-scala2.12': expected {SPARK}",
        id="not-an-ml-runtime",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.training.cron": "0 5 * * *"},
        f"fare.schedules.training.cron is '0 5 * * *': expected {CRON} 5 fields where Quartz"
        " needs 6 or 7",
        id="cron-unix-five-fields",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.training.cron": "0 0 5 * * *"},
        f"fare.schedules.training.cron is '0 0 5 * * *': expected {CRON} exactly one of"
        " day-of-month and day-of-week must be '?'",
        id="cron-both-day-fields",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.featureEngineering.cron": "0 61 5 * * ?"},
        f"fare.schedules.featureEngineering.cron is '0 61 5 * * ?': expected {CRON} the minutes"
        " field '61' is outside 0-59",
        id="cron-minute-61",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.batchInference.cron": "0 0/x 7 * * ?"},
        f"fare.schedules.batchInference.cron is '0 0/x 7 * * ?': expected {CRON} the minutes"
        " field '0/x' has a step that is not a positive number",
        id="cron-step-not-a-number",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.training.cron": 6},
        f"fare.schedules.training.cron is 6: expected {CRON} not a string",
        id="cron-not-text",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.training.timezone": "Mars/Olympus"},
        "fare.schedules.training.timezone is 'Mars/Olympus': expected an IANA time zone such as"
        " UTC or Europe/Amsterdam.",
        id="timezone-unknown",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.training.timezone": "Europe"},
        "fare.schedules.training.timezone is 'Europe': expected an IANA time zone",
        id="timezone-a-region-folder",
    ),
    pytest.param(
        "staging",
        {"catalog": "Staging"},
        f"catalog is 'Staging': expected {IDENT}.",
        id="catalog-upper-case",
    ),
    pytest.param(
        "staging",
        {"fare.schema": "nyc-taxi"},
        f"fare.schema is 'nyc-taxi': expected {IDENT}.",
        id="schema-dash",
    ),
    pytest.param(
        "staging",
        {"fare.modelName": "fare.model"},
        f"fare.modelName is 'fare.model': expected {IDENT}.",
        id="model-dot",
    ),
    pytest.param(
        "staging",
        {"fare.tables.trips": "bronze.trips"},
        "fare.tables.trips is 'bronze.trips': expected a fully qualified lower-case table name,"
        " catalog.schema.table.",
        id="two-level-table",
    ),
    pytest.param(
        "staging",
        {"fare.tables.predictions": "staging.other.predictions"},
        "fare.tables.predictions is 'staging.other.predictions': expected a table in project"
        " fare's own schema staging.nyc_taxi, where the stack creates it.",
        id="output-outside-schema",
    ),
    pytest.param(
        "staging",
        {"workspaceHost": "http://acme.cloud.databricks.com"},
        f"workspaceHost is 'http://acme.cloud.databricks.com': expected {HOST}",
        id="host-http",
    ),
    pytest.param(
        "staging",
        {"workspaceHost": "https://acme.cloud.databricks.com/api/2.0"},
        f"workspaceHost is 'https://acme.cloud.databricks.com/api/2.0': expected {HOST}",
        id="host-with-path",
    ),
    pytest.param(
        "staging",
        {"workspaceHost": "https://databricks.acme.com"},
        f"workspaceHost is 'https://databricks.acme.com': expected {HOST}",
        id="host-not-databricks",
    ),
    pytest.param(
        "staging",
        {"fare.experimentPath": "Shared/mlops-stack/exp"},
        f"fare.experimentPath is 'Shared/mlops-stack/exp': expected {PATH}",
        id="experiment-relative",
    ),
    pytest.param(
        "staging",
        {"fare.experimentPath": "/Shared/../Users/someone/exp"},
        f"fare.experimentPath is '/Shared/../Users/someone/exp': expected {PATH}",
        id="experiment-dotdot",
    ),
    pytest.param(
        "staging",
        {"fare.experimentPath": "/Shared/mlops-stack/"},
        f"fare.experimentPath is '/Shared/mlops-stack/': expected {PATH}",
        id="experiment-trailing-slash",
    ),
    pytest.param(
        "staging",
        {"principals.runner": DELETE},
        f"principals.runner is missing: expected {STAGING_SP}",
        id="staging-without-runner",
    ),
    pytest.param(
        "staging",
        {"principals.runner": None},
        f"principals.runner is missing: expected {STAGING_SP}",
        id="staging-runner-left-empty",
    ),
    pytest.param(
        "staging",
        {"principals.deployer": DELETE},
        f"principals.deployer is missing: expected {STAGING_SP}",
        id="staging-without-deployer",
    ),
    pytest.param(
        "prod",
        {"principals.runner": DELETE},
        f"principals.runner is missing: expected {PROD_SP}",
        id="prod-without-runner",
    ),
    pytest.param(
        "prod",
        {"principals.deployer": DELETE},
        f"principals.deployer is missing: expected {PROD_SP}",
        id="prod-without-deployer",
    ),
    pytest.param(
        "staging",
        {"principals.runner": STAGING_DEPLOYER},
        f"principals.runner is '{STAGING_DEPLOYER}': expected a different principal from"
        " principals.deployer",
        id="runner-is-deployer",
    ),
    pytest.param(
        "staging",
        {"principals.deployer": "ci-deployer"},
        f"principals.deployer is 'ci-deployer': expected {UUID}.",
        id="principal-not-a-uuid",
    ),
    pytest.param(
        "dev",
        {"principals": {"runner": "ml-engineer@example.com"}},
        f"principals.runner is 'ml-engineer@example.com': expected {UUID}.",
        id="dev-principal-not-a-uuid",
    ),
    pytest.param(
        "staging",
        {"environment": "production"},
        "environment is 'production': expected one of dev, staging, prod.",
        id="environment-bad",
    ),
    pytest.param(
        "staging",
        {"environment": DELETE},
        "environment is missing: expected one of dev, staging, prod.",
        id="environment-missing",
    ),
    pytest.param(
        "staging",
        {"notifications.onFailure": ["ml-oncall"]},
        'notifications.onFailure is ["ml-oncall"]: expected a list of email addresses.',
        id="email-bad",
    ),
    pytest.param(
        "staging",
        {"notifications.onFailure": "ml-oncall@example.com"},
        "notifications.onFailure is 'ml-oncall@example.com': expected a list of email addresses.",
        id="email-not-a-list",
    ),
    pytest.param(
        "staging",
        {"tags.project": "taxi"},
        "tags.project is 'taxi': expected no such tag: project, environment, model_project and"
        " code_version are set by the stack.",
        id="reserved-tag",
    ),
    pytest.param(
        "staging",
        {"fare.validation.runMode": "on"},
        "fare.validation.runMode is 'on': expected one of disabled, dry_run, enabled.",
        id="run-mode",
    ),
    pytest.param(
        "staging",
        {"fare.validation.minR2": 2},
        "fare.validation.minR2 is 2: expected a number from -1 to 1.",
        id="min-r2-above-1",
    ),
    pytest.param(
        "staging",
        {"fare.validation.maxRmseIncrease": -0.1},
        "fare.validation.maxRmseIncrease is -0.1: expected a number from 0 to 1.",
        id="rmse-increase-negative",
    ),
    pytest.param(
        "staging",
        {"sqlWarehouseId": "warehouse-1"},
        "sqlWarehouseId is 'warehouse-1': expected a SQL warehouse id (16 hex digits).",
        id="warehouse-id",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.training.cron": "0 */0 6 ? * MON"},
        "fare.schedules.training.cron is '0 */0 6 ? * MON': expected " + CRON,
        id="cron-step-zero",
    ),
    pytest.param(
        "staging",
        {"fare.experimentPath": "/Shared//experiment"},
        "fare.experimentPath is '/Shared//experiment': expected " + PATH,
        id="experiment-path-empty-part",
    ),
    pytest.param(
        "staging",
        {"fare.tables.predictions": "staging.nyc_taxi.trips"},
        "fare.tables.predictions is 'staging.nyc_taxi.trips': expected a table of its own;"
        " fare.tables.trips is staging.nyc_taxi.trips too.",
        id="output-table-is-an-input",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.training": "0 0 6 ? * MON"},
        "fare.schedules.training is '0 0 6 ? * MON': expected an object with the keys cron,"
        " timezone",
        id="schedule-as-text",
    ),
    # --- monitoring -------------------------------------------------------------------
    pytest.param(
        "staging",
        {"fare.monitoring": DELETE},
        "fare.monitoring is missing: expected an object with at least a threshold for the"
        " retraining rule, or {enabled: false} to deploy the project without a monitor.",
        id="monitoring-missing",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.threshold": DELETE},
        "fare.monitoring.threshold is missing: expected a number from 0 to 1000000: the"
        " root_mean_squared_error beyond which a window counts as violating.",
        id="threshold-missing",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.threshold": "six"},
        "fare.monitoring.threshold is 'six': expected a number from 0 to 1000000.",
        id="threshold-text",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.threshold": -1},
        "fare.monitoring.threshold is -1: expected a number from 0 to 1000000.",
        id="threshold-negative-error",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.metric": "r2_score", "fare.monitoring.threshold": 1.5},
        "fare.monitoring.threshold is 1.5: expected a number from -1 to 1.",
        id="threshold-r2-above-1",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.metric": "rmse"},
        "fare.monitoring.metric is 'rmse': expected one of root_mean_squared_error,"
        " mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, r2_score:"
        " the regression metrics of a quality monitor's profile metrics table.",
        id="metric-unknown",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.violatedWhen": "over"},
        "fare.monitoring.violatedWhen is 'over': expected one of above, below.",
        id="violated-when-unknown",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.violatedWhen": "below"},
        "fare.monitoring.violatedWhen is 'below': expected 'above' for root_mean_squared_error,"
        " where lower is better (or leave it out).",
        id="error-metric-violated-below",
    ),
    pytest.param(
        "staging",
        {
            "fare.monitoring.metric": "r2_score",
            "fare.monitoring.threshold": 0.5,
            "fare.monitoring.violatedWhen": "above",
        },
        "fare.monitoring.violatedWhen is 'above': expected 'below' for r2_score, where higher is"
        " better (or leave it out).",
        id="r2-violated-above",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.granularities": "1 day"},
        "fare.monitoring.granularities is '1 day': expected a non-empty list of distinct window"
        " sizes from 1 hour, 1 day, 1 week; the first is the one the violation check evaluates.",
        id="granularities-not-a-list",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.granularities": ["1 day", "5 minutes"]},
        'fare.monitoring.granularities is ["1 day", "5 minutes"]: expected a non-empty list of'
        " distinct window sizes from 1 hour, 1 day, 1 week;",
        id="granularity-unsupported",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.granularities": []},
        "fare.monitoring.granularities is []: expected a non-empty list",
        id="granularities-empty",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.granularities": ["1 day", "1 day"]},
        'fare.monitoring.granularities is ["1 day", "1 day"]: expected a non-empty list of'
        " distinct",
        id="granularities-repeated",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.evaluationWindows": 0},
        "fare.monitoring.evaluationWindows is 0: expected a whole number from 1 to 365.",
        id="evaluation-windows-zero",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.violationWindows": 0},
        "fare.monitoring.violationWindows is 0: expected a whole number from 1 to 365.",
        id="violation-windows-zero",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.evaluationWindows": 5, "fare.monitoring.violationWindows": 6},
        "fare.monitoring.violationWindows is 6: expected a whole number from 1 to"
        " monitoring.evaluationWindows (5): no more windows can violate than are evaluated.",
        id="m-above-n",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.violationWindows": 2.5},
        "fare.monitoring.violationWindows is 2.5: expected a whole number from 1 to 365.",
        id="violation-windows-fraction",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.lookbackDays": 0},
        "fare.monitoring.lookbackDays is 0: expected a whole number from 1 to 3650.",
        id="lookback-zero",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.baselineTable": "baseline"},
        "fare.monitoring.baselineTable is 'baseline': expected a fully qualified lower-case table"
        " name, catalog.schema.table.",
        id="baseline-one-level",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.baselineTable": "staging.nyc_taxi.predictions"},
        "fare.monitoring.baselineTable is 'staging.nyc_taxi.predictions': expected a table of"
        " reference rows (e.g. scored validation data), not the project's predictions table"
        " staging.nyc_taxi.predictions, the monitored table itself.",
        id="baseline-is-the-monitored-table",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.slicingExprs": "pickup_zip"},
        "fare.monitoring.slicingExprs is 'pickup_zip': expected a list of column expressions such"
        " as 'pickup_zip' or 'trip_distance > 10'.",
        id="slicing-not-a-list",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.slicingExprs": ["pickup_zip", ""]},
        'fare.monitoring.slicingExprs is ["pickup_zip", ""]: expected a list of column expressions',
        id="slicing-empty-expression",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.refreshSchedule.cron": "0 9 * * 0"},
        f"fare.monitoring.refreshSchedule.cron is '0 9 * * 0': expected {CRON} 5 fields where"
        " Quartz needs 6 or 7",
        id="refresh-cron-unix",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.refreshSchedule": "weekly"},
        "fare.monitoring.refreshSchedule is 'weekly': expected an object with the keys cron,"
        " timezone",
        id="refresh-schedule-as-text",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.enabled": "yes"},
        "fare.monitoring.enabled is 'yes': expected true or false.",
        id="enabled-not-a-bool",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.treshold": 6.0},
        "fare.monitoring.treshold is 6.0: expected no such key; fare.monitoring takes enabled,"
        " granularities, metric, violatedWhen, threshold,",
        id="monitoring-unknown-key",
    ),
    pytest.param(
        "staging",
        {"fare.schedules.monitoring.cron": "0 0 25 * * ?"},
        f"fare.schedules.monitoring.cron is '0 0 25 * * ?': expected {CRON} the hours field '25'"
        " is outside 0-23",
        id="retraining-cron-hour-25",
    ),
    *[
        pytest.param(
            "staging",
            {"storage": {**STORAGE, **change}},
            problem,
            id=f"storage-{name}",
        )
        for name, change, problem in [
            (
                "bucket-upper-case",
                {"bucketName": "Acme_Lake"},
                f"storage.bucketName is 'Acme_Lake': expected {BUCKET}",
            ),
            (
                "bucket-double-dot",
                {"bucketName": "acme..lake"},
                f"storage.bucketName is 'acme..lake': expected {BUCKET}",
            ),
            (
                "bucket-ip-address",
                {"bucketName": "10.0.0.1"},
                f"storage.bucketName is '10.0.0.1': expected {BUCKET}",
            ),
            (
                "bucket-reserved-suffix",
                {"bucketName": "acme-lake-s3alias"},
                f"storage.bucketName is 'acme-lake-s3alias': expected {BUCKET}",
            ),
            (
                "bucket-too-short",
                {"bucketName": "ab"},
                f"storage.bucketName is 'ab': expected {BUCKET}",
            ),
            (
                "bucket-missing",
                {"bucketName": DELETE},
                f"storage.bucketName is missing: expected {BUCKET}",
            ),
            (
                "bucket-with-dots",
                {"bucketName": "acme.mlops.lakehouse"},
                f"storage.bucketName is 'acme.mlops.lakehouse': expected {BUCKET}",
            ),
            (
                "databricks-account-id-is-no-setting",
                {"databricksAccountId": "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"},
                "storage.databricksAccountId is '3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b':"
                " expected no such key",
            ),
            (
                "aws-account-short",
                {"awsAccountId": "12345"},
                "storage.awsAccountId is '12345': expected an AWS account id: 12 digits",
            ),
            (
                "aws-account-number",
                {"awsAccountId": 123456789012},
                "storage.awsAccountId is 123456789012: expected an AWS account id: 12 digits,"
                " quoted so that YAML keeps it text",
            ),
            (
                "aws-account-missing",
                {"awsAccountId": DELETE},
                "storage.awsAccountId is missing: expected an AWS account id: 12 digits,"
                " quoted so that YAML keeps it text (storage.enabled is true).",
            ),
            (
                "region",
                {"awsRegion": "Europe"},
                "storage.awsRegion is 'Europe': expected an AWS region such as us-east-1",
            ),
            (
                "uc-role-not-an-arn",
                {"unityCatalogRoleArn": "UCMasterRole"},
                "storage.unityCatalogRoleArn is 'UCMasterRole': expected an IAM role ARN",
            ),
            (
                "enabled-text",
                {"enabled": "yes"},
                "storage.enabled is 'yes': expected true or false.",
            ),
            (
                "force-destroy-text",
                {"forceDestroy": "no"},
                "storage.forceDestroy is 'no': expected true or false.",
            ),
            (
                "unknown-key",
                {"bucket": "acme-lake"},
                "storage.bucket is 'acme-lake': expected no such key; storage takes enabled,"
                " bucketName, awsRegion,",
            ),
        ]
    ],
]


@pytest.mark.parametrize(("stack", "changes", "problem"), BAD)
def test_a_bad_setting_is_reported(stack: str, changes: dict[str, Any], problem: str) -> None:
    changes = {
        key: {k: v for k, v in value.items() if v is not DELETE} if key == "storage" else value
        for key, value in changes.items()
    }
    message = error(stack, changes)

    assert message.startswith(f"Pulumi.{stack}.yaml (stack '{stack}') has 1 invalid setting,")
    assert f"(1) mlops-stack:{problem}" in message
    assert "\n" not in message


# --- the projects: one block each --------------------------------------------------------

PROJECT_NAME = (
    "a project name: a lower-case identifier naming a folder under pipelines/projects/ that"
    " declares PROJECT, one of churn, fare."
)
CHURN_BLOCK = "expected no block for project churn, which mlops-stack:projects does not list"

BAD_PROJECTS = [
    # (stack, changes, the problems as reported, after "mlops-stack:", in order)
    pytest.param(
        "staging",
        {"projects": ["fare", "Churn"]},
        # The block of churn is not reported as a block nobody lists: the list is wrong.
        [f"projects[1] is 'Churn': expected {PROJECT_NAME}"],
        id="project-name-not-an-identifier",
    ),
    pytest.param(
        "staging",
        {"projects": ["fare", "churn", "taxi"]},
        [f"projects[2] is 'taxi': expected {PROJECT_NAME}"],
        id="project-not-a-folder",
    ),
    pytest.param(
        "staging",
        {"projects": ["fare", "churn", "fare"]},
        ["projects[2] is 'fare': expected each project once; projects[0] is fare too."],
        id="project-twice",
    ),
    pytest.param(
        "staging",
        {"projects": []},
        ["projects is []: expected a non-empty list of the projects the stack deploys"],
        id="no-project",
    ),
    pytest.param(
        "staging",
        {"projects": "fare"},
        ["projects is 'fare': expected a non-empty list of the projects the stack deploys"],
        id="projects-not-a-list",
    ),
    pytest.param(
        "staging",
        {"projects": DELETE},
        ["projects is missing: expected a non-empty list of the projects the stack deploys,"],
        id="projects-missing",
    ),
    pytest.param(
        "staging",
        {"churn": DELETE},
        [
            "churn is missing: expected the block of project churn, which mlops-stack:projects"
            " lists: an object with at least its monitoring"
        ],
        id="listed-project-without-its-block",
    ),
    pytest.param(
        "staging",
        {"projects": ["fare"]},
        [
            'churn is {"schema": "telco", "modelName": "churn_model", "schedules":'
            ' {"featureEnginee...:'
            f" {CHURN_BLOCK} (fare): add churn to mlops-stack:projects to deploy it, or remove the"
            " block."
        ],
        id="block-of-a-project-not-listed",
    ),
    pytest.param(
        "staging",
        {"schedules": {"training": {"cron": "0 0 6 ? * MON"}}},
        [
            'schedules is {"training": {"cron": "0 0 6 ? * MON"}}: expected no such key: since'
            " schemaVersion 2 it belongs in the block of each project, e.g."
            " mlops-stack:fare.schedules."
        ],
        id="a-project-setting-at-the-top",
    ),
    pytest.param(
        "staging",
        {"churn.schedules.training.cron": "0 6 3 * *"},
        [f"churn.schedules.training.cron is '0 6 3 * *': expected {CRON} 5 fields"],
        id="a-projects-bad-cron",
    ),
    pytest.param(
        "staging",
        {"churn.shedules": {}},
        [
            "churn.shedules is {}: expected no such key; churn takes schema, modelName,"
            " experimentPath, tables, schedules, training, validation, monitoring, compute,"
            " runnerReaches, runner, modelOwners."
        ],
        id="unknown-key-in-a-block",
    ),
    pytest.param(
        "staging",
        {"churn.tables.scoringRequests": "staging.telco.requests"},
        [
            "churn.tables.scoringRequests is 'staging.telco.requests': expected no such key;"
            " churn.tables takes customers, snapshots, labels, scoring_requests,"
            " customer_features, predictions."
        ],
        id="a-role-the-project-does-not-declare",
    ),
    pytest.param(
        "staging",
        {"fare.tables.customers": "staging.nyc_taxi.customers"},
        ["fare.tables.customers is 'staging.nyc_taxi.customers': expected no such key;"],
        id="another-projects-role",
    ),
    pytest.param(
        "staging",
        {"churn.validation.maxRmse": 8.0},
        [
            "churn.validation.maxRmse is 8.0: expected no such key: maxRmse is a limit of"
            " regression models, and churn is a classification project, whose validation"
            " takes runMode, minRocAuc, minF1, maxLogLoss, maxRocAucDecrease."
        ],
        id="a-regression-limit-for-a-classifier",
    ),
    pytest.param(
        "staging",
        {"fare.validation.minRocAuc": 0.7},
        [
            "fare.validation.minRocAuc is 0.7: expected no such key: minRocAuc is a limit of"
            " classification models, and fare is a regression project, whose validation"
            " takes runMode, maxRmse, maxMae, minR2, maxRmseIncrease."
        ],
        id="a-classification-limit-for-a-regression",
    ),
    pytest.param(
        "staging",
        {"churn.validation.minRocAuc": 0.4},
        ["churn.validation.minRocAuc is 0.4: expected a number from 0.5 to 1."],
        id="a-classification-limit-out-of-range",
    ),
    pytest.param(
        "staging",
        {"churn.validation.maxRocAuc": 0.9},
        ["churn.validation.maxRocAuc is 0.9: expected no such key; churn.validation takes"],
        id="an-unknown-limit",
    ),
    pytest.param(
        "staging",
        {"churn.monitoring.metric": "root_mean_squared_error"},
        [
            "churn.monitoring.metric is 'root_mean_squared_error': expected one of"
            " accuracy_score, log_loss, f1_score.macro, f1_score.weighted, precision.macro,"
            " precision.weighted, recall.macro, recall.weighted: the classification metrics"
            " of a quality monitor's profile metrics table."
        ],
        id="a-regression-metric-for-a-classifier",
    ),
    pytest.param(
        "staging",
        {"fare.monitoring.metric": "f1_score.macro"},
        ["fare.monitoring.metric is 'f1_score.macro': expected one of root_mean_squared_error,"],
        id="a-classification-metric-for-a-regression",
    ),
    pytest.param(
        "staging",
        {"churn.monitoring.violatedWhen": "above"},
        [
            "churn.monitoring.violatedWhen is 'above': expected 'below' for accuracy_score,"
            " where higher is better (or leave it out)."
        ],
        id="a-score-violated-above",
    ),
    pytest.param(
        "staging",
        {"churn.monitoring.threshold": 1.5},
        ["churn.monitoring.threshold is 1.5: expected a number from 0 to 1."],
        id="a-score-threshold-above-1",
    ),
    pytest.param(
        "staging",
        {"churn.schema": "nyc_taxi"},
        [
            "churn.schema is 'nyc_taxi': expected a schema of its own: fare.schema is nyc_taxi"
            " too, and each project's runner is granted on its own schema's tables only."
        ],
        id="two-projects-one-schema",
    ),
    pytest.param(
        "staging",
        {"churn.schema": "nyc_taxi", "churn.tables.predictions": "staging.nyc_taxi.predictions"},
        [
            "churn.schema is 'nyc_taxi': expected a schema of its own",
            "churn.tables.predictions is 'staging.nyc_taxi.predictions': expected a table no"
            " other project writes: fare.tables.predictions is staging.nyc_taxi.predictions too.",
        ],
        id="two-projects-writing-one-table",
    ),
    pytest.param(
        "staging",
        {"churn.experimentPath": "/Shared/mlops-stack/staging/experiment"},
        [
            "churn.experimentPath is '/Shared/mlops-stack/staging/experiment': expected an"
            " experiment of its own: fare.experimentPath is"
            " /Shared/mlops-stack/staging/experiment too."
        ],
        id="two-projects-one-experiment",
    ),
    pytest.param(
        "staging",
        {"churn.experimentPath": "/Shared/mlops-stack/staging/telco/experiment"},
        [
            "churn.experimentPath is '/Shared/mlops-stack/staging/telco/experiment': expected an"
            " experiment directly in the stack's own folder /Shared/mlops-stack/staging or in"
            " its project folder /Shared/mlops-stack/staging/churn (both created by the stack)"
        ],
        id="experiment-in-a-folder-nobody-creates",
    ),
    pytest.param(
        "staging",
        {"churn.tables.customers": "staging.nyc_taxi.trips"},
        [
            "churn.tables.customers is 'staging.nyc_taxi.trips': expected a table outside the"
            " schemas of the stack's other projects, or one of project fare's tables with fare"
            " in churn.runnerReaches"
        ],
        id="reading-another-projects-table-unreached",
    ),
    pytest.param(
        "staging",
        {"churn.runnerReaches": ["fare"], "churn.tables.customers": "staging.nyc_taxi.mine"},
        ["churn.tables.customers is 'staging.nyc_taxi.mine': expected a table outside the"],
        id="reading-a-table-of-another-projects-schema-it-does-not-have",
    ),
    pytest.param(
        "staging",
        {"churn.runnerReaches": ["churn"]},
        [
            'churn.runnerReaches is ["churn"]: expected a list of other projects this stack'
            " deploys, each once (fare): the projects whose tables churn's jobs may read."
        ],
        id="reaching-itself",
    ),
    pytest.param(
        "staging",
        {"churn.runnerReaches": ["taxi"]},
        ['churn.runnerReaches is ["taxi"]: expected a list of other projects this stack'],
        id="reaching-a-project-not-deployed",
    ),
    pytest.param(
        "staging",
        {"churn.runnerReaches": "fare"},
        ["churn.runnerReaches is 'fare': expected "],
        id="reaches-not-a-list",
    ),
    pytest.param(
        "staging",
        {"churn.runner": "00000000-0000-0000-0000-00000000d001", "churn.modelOwners": "own"},
        [
            "churn.runner is '00000000-0000-0000-0000-00000000d001': expected a different"
            " principal from principals.deployer, so that the jobs cannot change the"
            " infrastructure they run on."
        ],
        id="own-runner-is-the-deployer",
    ),
    pytest.param(
        "prod",
        {"churn.runner": CHURN_RUNNER},
        [
            "churn.modelOwners is null: expected an account group of project churn's own, not"
            " groups.modelOwners (mlops-prod-model-owners), with the deployer and churn's"
            f" runner {CHURN_RUNNER} as its members"
        ],
        id="own-runner-sharing-the-model-owners",
    ),
    pytest.param(
        "prod",
        {"churn.runner": CHURN_RUNNER, "churn.modelOwners": "mlops-prod-model-owners"},
        ["churn.modelOwners is 'mlops-prod-model-owners': expected an account group of"],
        id="own-runner-naming-the-shared-owners",
    ),
    pytest.param(
        "staging",
        {"churn.runner": "not-a-uuid"},
        ["churn.runner is 'not-a-uuid': expected "],
        id="own-runner-not-an-application-id",
    ),
    pytest.param(
        "staging",
        {"churn.compute.numWorkers": 101},
        ["churn.compute.numWorkers is 101: expected a whole number from 0 to 100."],
        id="a-projects-compute",
    ),
    pytest.param(
        "staging",
        {"churn.monitoring.baselineTable": "staging.telco.churn_predictions"},
        [
            "churn.monitoring.baselineTable is 'staging.telco.churn_predictions': expected a"
            " table of reference rows"
        ],
        id="a-projects-baseline-is-its-predictions",
    ),
    pytest.param(
        "staging",
        {"churn": "telco"},
        ["churn is 'telco': expected an object with the keys schema, modelName,"],
        id="a-block-that-is-no-object",
    ),
]


@pytest.mark.parametrize(("stack", "changes", "problems"), BAD_PROJECTS)
def test_a_bad_project_setting_is_reported(
    stack: str, changes: dict[str, Any], problems: list[str]
) -> None:
    message = error(stack, changes)

    count = len(problems)
    assert message.startswith(
        f"Pulumi.{stack}.yaml (stack '{stack}') has {count} invalid setting{'s' * (count > 1)},"
        " so nothing was registered: "
    ), message
    position = 0
    for n, problem in enumerate(problems, start=1):
        found = message.find(f"({n}) mlops-stack:{problem}", position)
        assert found >= position, (problem, message)
        position = found
    assert "\n" not in message


def test_a_secret_block_is_named_once() -> None:
    message = error("staging", {"churn": Secret()})
    assert message.startswith("Pulumi.staging.yaml (stack 'staging') has 1 invalid setting,")
    assert "(1) mlops-stack:churn is '[secret]': expected a plain setting" in message


def test_every_problem_is_reported_at_once() -> None:
    message = error(
        "prod",
        {
            "catalog": "Prod",
            "compute.numWorkers": "two",
            "fare.schedules.training.cron": "0 5 * * *",
            "churn.monitoring.metric": "r2_score",
        },
    )

    assert message.startswith("Pulumi.prod.yaml (stack 'prod') has 4 invalid settings,")
    assert "(1) mlops-stack:catalog is 'Prod'" in message
    assert "(2) mlops-stack:compute.numWorkers is 'two'" in message
    assert "(3) mlops-stack:fare.schedules.training.cron is '0 5 * * *'" in message
    assert "(4) mlops-stack:churn.monitoring.metric is 'r2_score'" in message
    assert "\n" not in message


def test_good_values_are_kept() -> None:
    settings = parse(
        "staging",
        {
            "compute.kind": "serverless",
            "compute.numWorkers": 4,
            "fare.schedules.training": {
                "cron": "0 30 6 ? * MON-FRI",
                "timezone": "Europe/Amsterdam",
            },
            "fare.tables.predictions": "staging.nyc_taxi.fare_predictions",
            "notifications.onFailure": ["a@example.com", "b@example.org"],
            "sqlWarehouseId": "0123456789abcdef",
        },
    )

    assert settings.compute.kind == "serverless"
    assert settings.compute.num_workers == 4
    fare = settings.project("fare")
    assert fare.compute == settings.compute
    assert fare.schedules["training"].cron == "0 30 6 ? * MON-FRI"
    assert fare.schedules["training"].timezone == "Europe/Amsterdam"
    assert fare.predictions == "staging.nyc_taxi.fare_predictions"
    assert settings.notification_emails == ("a@example.com", "b@example.org")
    assert settings.sql_warehouse_id == "0123456789abcdef"


def test_a_projects_compute_overrides_only_the_keys_it_gives() -> None:
    settings = parse("prod", {"churn.compute": {"numWorkers": 8, "kind": "serverless"}})
    churn, fare = settings.project("churn"), settings.project("fare")
    assert (churn.compute.num_workers, churn.compute.kind) == (8, "serverless")
    assert churn.compute.node_type == settings.compute.node_type == "i3.2xlarge"
    assert fare.compute == settings.compute


def test_runner_reaches_names_the_other_projects_read() -> None:
    churn = parse("staging", {"churn.runnerReaches": ["fare"]}).project("churn")
    assert churn.runner_reaches == ("fare",)
    # An input table in another project's schema is then allowed, if it is one of that
    # project's tables.
    settings = parse(
        "staging",
        {"churn.runnerReaches": ["fare"], "churn.tables.customers": "staging.nyc_taxi.trips"},
    )
    assert settings.project("churn").tables["customers"] == "staging.nyc_taxi.trips"


def test_a_project_may_run_as_its_own_runner_with_its_own_model_owners() -> None:
    settings = parse(
        "prod", {"churn.runner": CHURN_RUNNER, "churn.modelOwners": "churn-model-owners"}
    )
    churn, fare = settings.project("churn"), settings.project("fare")
    assert (churn.runner, churn.model_owners) == (CHURN_RUNNER, "churn-model-owners")
    assert (fare.runner, fare.model_owners) == (
        settings.principals.runner,
        settings.groups.model_owners,
    )
    assert settings.runners == (settings.principals.runner, CHURN_RUNNER)
    # Dev has no model owners: a project's own runner needs none there.
    assert parse("dev", {"churn.runner": CHURN_RUNNER}).project("churn").model_owners is None


def test_a_projects_own_runner_placeholder_is_reported() -> None:
    placeholder = "00000000-0000-0000-0000-0000000000c3"
    settings = parse("prod", {"churn.runner": placeholder, "churn.modelOwners": "churn-owners"})
    assert "mlops-stack:churn.runner" in settings.placeholders()


def test_storage_is_off_by_default_and_its_values_are_kept() -> None:
    assert parse("staging", {"storage": DELETE}).storage == Storage()
    assert parse("staging").storage.enabled is False
    storage = parse("staging", {"storage": {**STORAGE, "forceDestroy": True}}).storage
    assert storage == Storage(
        enabled=True,
        bucket_name="acme-mlops-lakehouse",
        aws_region="eu-west-1",
        unity_catalog_role_arn=UC_MASTER_ROLE_ARN,
        aws_account_id="123456789012",
        force_destroy=True,
    )


def test_disabled_storage_needs_no_account_ids_but_checks_those_given() -> None:
    assert parse("dev", {"storage": {"enabled": False}}).storage == Storage()
    message = error("dev", {"storage": {"enabled": False, "awsAccountId": "12"}})
    assert "(1) mlops-stack:storage.awsAccountId is '12'" in message


def test_every_storage_problem_is_reported_at_once() -> None:
    message = error(
        "prod",
        {"storage": {"enabled": True, "bucketName": "Bad_Bucket"}},
    )
    assert message.startswith("Pulumi.prod.yaml (stack 'prod') has 3 invalid settings,")
    for n, key in enumerate(["bucketName", "awsRegion", "awsAccountId"], start=1):
        assert f"({n}) mlops-stack:storage.{key} is " in message
    assert "\n" not in message


def test_monitoring_values_are_kept() -> None:
    fare = parse(
        "prod",
        {
            "fare.monitoring.granularities": ["1 hour", "1 day"],
            "fare.monitoring.metric": "mean_absolute_error",
            "fare.monitoring.threshold": 4,
            "fare.monitoring.evaluationWindows": 10,
            "fare.monitoring.violationWindows": 10,
            "fare.monitoring.lookbackDays": 14,
            "fare.monitoring.baselineTable": "prod.bronze.fare_baseline",
            "fare.monitoring.slicingExprs": ["pickup_zip", "trip_distance > 10"],
            "fare.schedules.monitoring": {"cron": "0 30 8 * * ?", "timezone": "Europe/Amsterdam"},
        },
    ).project("fare")
    monitoring = fare.monitoring

    assert monitoring.granularities == ("1 hour", "1 day")
    assert monitoring.granularity == "1 hour"
    assert (monitoring.metric, monitoring.violated_when) == ("mean_absolute_error", "above")
    assert monitoring.threshold == 4.0 and isinstance(monitoring.threshold, float)
    assert (monitoring.evaluation_windows, monitoring.violation_windows) == (10, 10)
    assert monitoring.lookback_days == 14
    assert monitoring.baseline_table == "prod.bronze.fare_baseline"
    assert monitoring.slicing_exprs == ("pickup_zip", "trip_distance > 10")
    assert parse("prod", {"fare.schedules.monitoring.cron": "0 30 8 * * ?"}).project(
        "fare"
    ).schedules["monitoring"] == Schedule("0 30 8 * * ?", "UTC")


def test_r2_score_is_violated_below_its_threshold_by_default() -> None:
    monitoring = (
        parse("staging", {"fare.monitoring.metric": "r2_score", "fare.monitoring.threshold": 0.4})
        .project("fare")
        .monitoring
    )
    assert monitoring.violated_when == "below"
    assert monitoring.threshold == 0.4


@pytest.mark.parametrize(
    ("metric", "direction", "threshold"),
    [
        ("accuracy_score", "below", 0.8),
        ("log_loss", "above", 0.4),
        ("f1_score.weighted", "below", 0.9),
        ("recall.macro", "below", 0.5),
    ],
)
def test_a_classification_metric_is_violated_on_its_side_by_default(
    metric: str, direction: str, threshold: float
) -> None:
    changes = {
        "churn.monitoring": {"metric": metric, "threshold": threshold},
    }
    monitoring = parse("staging", changes).project("churn").monitoring
    assert (monitoring.metric, monitoring.violated_when) == (metric, direction)
    assert MONITOR_METRICS[ProblemType.CLASSIFICATION][metric] == direction


def test_the_default_m_never_exceeds_a_small_n() -> None:
    monitoring = (
        parse(
            "staging",
            {"fare.monitoring.evaluationWindows": 2, "fare.monitoring.violationWindows": DELETE},
        )
        .project("fare")
        .monitoring
    )
    assert (monitoring.evaluation_windows, monitoring.violation_windows) == (2, 2)


def test_monitoring_can_be_disabled_without_a_threshold() -> None:
    settings = parse("prod", {"fare.monitoring": {"enabled": False}})
    assert settings.project("fare").monitoring.enabled is False
    assert settings.project("churn").monitoring.enabled is True
    assert settings.project("fare").schedules["monitoring"].cron == "0 0 8 * * ?"


def test_every_monitoring_problem_is_reported_at_once() -> None:
    message = error(
        "staging",
        {
            "fare.monitoring.metric": "r2_score",
            "fare.monitoring.violatedWhen": "above",
            "fare.monitoring.threshold": 7,
            "fare.monitoring.evaluationWindows": 3,
            "fare.monitoring.violationWindows": 4,
        },
    )

    assert message.startswith("Pulumi.staging.yaml (stack 'staging') has 3 invalid settings,")
    assert "(1) mlops-stack:fare.monitoring.violatedWhen is 'above'" in message
    assert "(2) mlops-stack:fare.monitoring.threshold is 7" in message
    assert "(3) mlops-stack:fare.monitoring.violationWindows is 4" in message


# --- secrets ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["databricks:token", "databricks:clientSecret"])
def test_a_plain_text_credential_is_rejected(key: str) -> None:
    config = config_for("staging") | {key: "dapi-plain-text-0123456789"}
    with pytest.raises(InvalidStackConfig) as caught:
        parse_settings(config, "staging", "Pulumi.staging.yaml")
    message = str(caught.value)

    assert message.startswith("Pulumi.staging.yaml (stack 'staging') has 1 invalid setting,")
    assert f"{key} holds a credential in plain text" in message
    assert f"pulumi config set --secret {key}" in message
    assert "environment (DATABRICKS_TOKEN" in message
    assert "dapi-plain-text" not in message


@pytest.mark.parametrize("key", ["databricks:token", "databricks:clientSecret"])
def test_a_secret_credential_is_accepted(key: str) -> None:
    config = config_for("staging") | {key: Secret(), "databricks:host": "https://x"}
    assert parse_settings(config, "staging", "Pulumi.staging.yaml").environment == "staging"


def test_a_setting_given_as_a_secret_is_rejected() -> None:
    message = error("staging", {"catalog": Secret()})
    assert (
        "(1) mlops-stack:catalog is '[secret]': expected a plain setting: no mlops-stack"
        " setting is secret." in message
    )


def test_a_secure_value_in_a_stack_file_reads_as_a_secret(tmp_path: Path) -> None:
    committed = (ROOT / "Pulumi.staging.yaml").read_text()
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(committed + "  databricks:token:\n    secure: v1:abc\n")

    config = read_stack_file(path)
    assert isinstance(config["databricks:token"], Secret)
    settings = settings_from_stack_file(path)
    assert (settings.stack, settings.source) == ("staging", "Pulumi.staging.yaml")


# --- reading stack files ----------------------------------------------------------------


def test_a_missing_stack_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.qa.yaml"
    with pytest.raises(InvalidStackConfig) as caught:
        read_stack_file(path)
    assert str(caught.value).startswith(f"{path} does not exist: expected a stack file")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("config:\n  mlops-stack:catalog: [dev\n", " is not valid YAML: "),
        ("config:\n  a: 1\n b: 2\n", " is not valid YAML: "),
        ("config: [dev]\n", ": expected a 'config:' mapping of settings"),
    ],
    ids=["unclosed-list", "bad-indent", "config-not-a-mapping"],
)
def test_an_unreadable_stack_file_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "Pulumi.qa.yaml"
    path.write_text(text)
    with pytest.raises(InvalidStackConfig) as caught:
        read_stack_file(path)
    message = str(caught.value)

    assert message.startswith(f"{path}{expected}")
    assert "\n" not in message


# --- the models -------------------------------------------------------------------------


def test_a_stack_file_spells_keys_as_the_settings_do_not_as_python_names() -> None:
    message = error("staging", {"compute.num_workers": 2})
    assert (
        "(1) mlops-stack:compute.num_workers is 2: expected no such key; compute takes kind,"
        " sparkVersion, nodeType, numWorkers," in message
    )


def test_a_warehouse_left_empty_in_staging_is_missing() -> None:
    message = error("staging", {"sqlWarehouseId": None})
    assert "(1) mlops-stack:sqlWarehouseId is missing: expected a SQL warehouse id" in message


def test_the_sections_are_frozen_models_built_by_name_and_validated() -> None:
    from pydantic import ValidationError

    from infra.settings import Compute, project_block_model

    compute = Compute(kind="serverless", num_workers=3)
    assert (compute.kind, compute.num_workers, compute.node_type) == ("serverless", 3, "i3.xlarge")
    assert Compute().kind == "job_cluster"
    with pytest.raises(ValidationError):
        compute.num_workers = 4  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Compute(num_workers=101)
    assert RegressionMonitoring(enabled=False).threshold == 0.0
    assert RegressionMonitoring(metric="r2_score", threshold=0.5).violated_when == "below"
    with pytest.raises(ValidationError):
        RegressionMonitoring(metric="r2_score", threshold=2.0)
    with pytest.raises(ValidationError):
        RegressionMonitoring(metric="f1_score.macro", threshold=0.5)
    assert ClassificationMonitoring(threshold=0.5).metric == "f1_score.macro"
    with pytest.raises(ValidationError):
        Storage(enabled=True, bucket_name="acme-lake")  # no region, no account
    assert Schedule("0 0 5 * * ?") == Schedule(cron="0 0 5 * * ?", timezone="UTC")
    churn = project_block_model("churn")
    assert churn is project_block_model("churn")  # one model per project
    tables = churn.model_fields["tables"].annotation
    assert list(tables.model_fields) == list(projects()["churn"].roles())  # type: ignore[union-attr]


def test_the_choices_are_the_models() -> None:
    from infra.settings import (
        DEFAULT_METRICS,
        DEFAULT_SCHEDULES,
        DIRECTIONS,
        GRANULARITIES,
        JOBS,
        MANAGED_LOCATIONS,
        METRICS,
        RUN_MODES,
        VALIDATION_MODELS,
    )

    assert RUN_MODES == ("disabled", "dry_run", "enabled")
    assert GRANULARITIES == ("1 hour", "1 day", "1 week")
    for problem_type, metrics in MONITOR_METRICS.items():
        assert METRICS[problem_type] == tuple(metrics)
        assert DEFAULT_METRICS[problem_type] in metrics
    assert METRICS[ProblemType.REGRESSION][-1] == "r2_score"
    assert (DIRECTIONS, MANAGED_LOCATIONS) == (("above", "below"), ("schema", "catalog"))
    assert JOBS == tuple(parse("dev").project("fare").schedules) == tuple(DEFAULT_SCHEDULES)
    assert DEFAULT_SCHEDULES["training"] == Schedule("0 0 6 ? * MON")
    for mode in RUN_MODES:
        for model in VALIDATION_MODELS.values():
            assert model(run_mode=mode).run_mode == mode


def test_the_validation_limits_are_the_validate_tasks_flags() -> None:
    """Each limit of a problem type's validation block is a flag of validate for that
    problem type (pipelines.validation.thresholds.LIMITS), named as the field."""
    from infra.settings import VALIDATION_MODELS
    from pipelines.validation.thresholds import limits_of

    for problem_type, model in VALIDATION_MODELS.items():
        assert list(model().limits()) == [limit.name for limit in limits_of(problem_type)]


def test_a_project_may_not_be_named_like_a_stack_level_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import infra.settings as settings_module

    known = {**projects(), "tags": projects()["fare"]}
    monkeypatch.setattr(settings_module, "known_projects", lambda: known)
    message = error("staging", {"projects": ["fare", "churn", "tags"]})
    assert (
        "mlops-stack:projects[2] is 'tags': expected a project that is not named like a"
        " stack-level setting: the block mlops-stack:tags would be that setting" in message
    )
    assert "tags" in TOP_LEVEL_KEYS
