"""The program under Pulumi's mock engine: what each stack registers, and its guarantees."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import jsonschema
import pytest

from infra.outputs import output_schema, validate_outputs
from infra.program import CodePackage
from infra.settings import InvalidStackConfig
from mlops.render import Render, render_stack
from tests.infra.conftest import CODE, STACKS, TOKEN_SENTINEL, render_with, stack_path

JOB = "databricks:index/job:Job"
NOTEBOOK = "databricks:index/notebook:Notebook"
GRANT = "databricks:index/grant:Grant"
GRANTS = "databricks:index/grants:Grants"
COMPONENT_TYPES = {
    "mlops-stack:workspace:StackFolder",
    "mlops-stack:catalog:CatalogAccess",
    "mlops-stack:ml:MlArtifacts",
    "mlops-stack:code:PipelineCode",
    "mlops-stack:jobs:FeatureEngineeringJob",
    "mlops-stack:jobs:TrainingJob",
    "mlops-stack:jobs:BatchInferenceJob",
    "mlops-stack:monitoring:MonitoredTable",
}
NESTED_COMPONENT_TYPES = {"mlops-stack:jobs:RetrainingJob"}


def jobs(render: Render) -> dict[str, dict]:
    return {job.inputs["name"]: job.inputs for job in render.of_type(JOB)}


def wheel_tasks(job: dict) -> list[dict]:
    """The tasks that run the wheel (not the notebook, condition and run-job tasks)."""
    return [task for task in job["tasks"] if "pythonWheelTask" in task]


def code_tasks(job: dict) -> list[dict]:
    """The tasks that run our code: wheel tasks and the notebooks around entry points."""
    return [task for task in job["tasks"] if {"pythonWheelTask", "notebookTask"} & set(task)]


# --- structure and naming --------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_builds_every_component_with_its_children(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    components = [root for root in render.roots if not root.type.startswith("pulumi:")]
    assert {c.type for c in components} == COMPONENT_TYPES
    nested = [c for root in components for c in root.children if c.type.startswith("mlops-stack:")]
    assert {c.type for c in nested} == NESTED_COMPONENT_TYPES
    for component in components + nested:
        assert re.fullmatch(r"mlops-stack:[a-z]+:[A-Z][A-Za-z]+", component.type)
        assert component.children, f"{component.type} registered no children"
        for child in component.children:
            assert child.type.startswith("databricks:index/") or child in nested, child.type
            assert child.name.startswith(component.name + "-"), child.name
    counts = render.counts()
    assert counts[JOB] == 4
    assert counts["databricks:index/qualityMonitor:QualityMonitor"] == 1
    # The three output tables, and the input tables that live in the stack's own schema.
    home = f"{render.settings.catalog}.{render.settings.schema}."
    own_inputs = [t for t in render.settings.tables.inputs if t.startswith(home)]
    assert counts["databricks:index/sqlTable:SqlTable"] == 3 + len(own_inputs)
    assert counts["databricks:index/notebook:Notebook"] == 2
    assert counts["databricks:index/directory:Directory"] == 1
    assert counts["databricks:index/registeredModel:RegisteredModel"] == 1
    assert counts["databricks:index/mlflowExperiment:MlflowExperiment"] == 1


@pytest.mark.parametrize("stack", STACKS)
def test_names_follow_env_project_item(renders: dict[str, Render], stack: str) -> None:
    render = renders[stack]
    for resource in render.resources:
        assert resource.name.startswith(f"{stack}-mlops-stack-"), resource.name
    assert set(jobs(render)) == {
        f"{stack}-mlops-stack-feature-engineering",
        f"{stack}-mlops-stack-training",
        f"{stack}-mlops-stack-batch-inference",
        f"{stack}-mlops-stack-monitoring",
    }


# --- jobs --------------------------------------------------------------------------------


def test_dev_schedules_are_paused_and_staging_and_prod_run(renders: dict[str, Render]) -> None:
    for stack, expected in (("dev", "PAUSED"), ("staging", "UNPAUSED"), ("prod", "UNPAUSED")):
        for name, job in jobs(renders[stack]).items():
            assert job["schedule"]["pauseStatus"] == expected, name
            assert job["schedule"]["timezoneId"] == "UTC"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_jobs_run_as_the_running_service_principal(
    renders: dict[str, Render], stack: str
) -> None:
    runner = renders[stack].settings.principals.runner
    assert runner
    for name, job in jobs(renders[stack]).items():
        assert job["runAs"] == {"servicePrincipalName": runner}, name


def test_dev_jobs_run_as_whoever_deploys_them(renders: dict[str, Render]) -> None:
    assert all("runAs" not in job for job in jobs(renders["dev"]).values())


@pytest.mark.parametrize("stack", STACKS)
def test_jobs_carry_retries_timeouts_notifications_tags_and_permissions(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    settings = render.settings
    for name, job in jobs(render).items():
        assert job["maxConcurrentRuns"] == 1
        assert job["tags"]["project"] == "mlops-stack"
        assert job["tags"]["environment"] == stack
        assert job["tags"]["code_version"] == CODE.version
        assert job["tags"]["team"] == "ml-platform"
        emails = list(settings.notification_emails)
        assert (job.get("emailNotifications") or {}).get("onFailures", []) == emails, name
        assert {p["name"] for p in job["parameters"]} >= {"run_date"}
        for task in code_tasks(job):
            assert task["maxRetries"] == settings.jobs.max_retries
            assert task["timeoutSeconds"] == settings.jobs.timeout_minutes * 60
            assert (
                task["minRetryIntervalMillis"] == settings.jobs.min_retry_interval_minutes * 60_000
            )
        for task in wheel_tasks(job):
            assert task["pythonWheelTask"]["packageName"] == "mlops_stack"
    permissions = [
        r for r in render.of_type("databricks:index/permissions:Permissions") if "jobId" in r.inputs
    ]
    assert len(permissions) == 4
    everyone = [
        {"groupName": settings.groups.readers, "permissionLevel": "CAN_VIEW"},
        {"groupName": settings.groups.ml_team, "permissionLevel": "CAN_MANAGE_RUN"},
    ]
    runner = settings.principals.runner
    for permission in permissions:
        expected = everyone
        # The retraining job starts the training job as the runner (test_monitoring.py).
        if permission.name == f"{stack}-mlops-stack-training-permissions" and runner:
            expected = [{"servicePrincipalName": runner, "permissionLevel": "CAN_MANAGE_RUN"}]
            expected += everyone
        assert permission.inputs["accessControls"] == expected, permission.name


def test_training_job_chains_train_validation_deployment(renders: dict[str, Render]) -> None:
    job = jobs(renders["prod"])["prod-mlops-stack-training"]
    order = {t["taskKey"]: [d["taskKey"] for d in t.get("dependsOns") or []] for t in job["tasks"]}
    assert order == {
        "Train": [],
        "ModelValidation": ["Train"],
        "ModelDeployment": ["ModelValidation"],
    }


def test_job_clusters_use_the_ml_runtime_in_dedicated_mode(renders: dict[str, Render]) -> None:
    for stack in STACKS:
        compute = renders[stack].settings.compute
        for name, job in jobs(renders[stack]).items():
            (cluster,) = job["jobClusters"]
            new_cluster = cluster["newCluster"]
            assert new_cluster["sparkVersion"] == compute.spark_version
            assert "-ml-" in new_cluster["sparkVersion"]
            assert new_cluster["dataSecurityMode"] == "SINGLE_USER"
            assert new_cluster["numWorkers"] == compute.num_workers
            for task in code_tasks(job):
                assert task["jobClusterKey"] == cluster["jobClusterKey"], name
    single_node = jobs(renders["dev"])["dev-mlops-stack-training"]["jobClusters"][0]
    assert single_node["newCluster"]["customTags"] == {"ResourceClass": "SingleNode"}


def test_serverless_compute_installs_the_wheel_through_the_job_environment() -> None:
    render = render_with("staging", compute={"kind": "serverless"})
    for name, job in jobs(render).items():
        assert "jobClusters" not in job, name
        (environment,) = job["environments"]
        assert environment["spec"]["dependencies"] == [render.exports["code"]["wheel"]]
        assert environment["spec"]["environmentVersion"] == "3"
        for task in wheel_tasks(job):
            assert task["environmentKey"] == environment["environmentKey"]
            assert "libraries" not in task
        # A serverless notebook task takes no job environment: the notebook installs the
        # wheel itself (docs/platform.md, "Task values").
        for task in code_tasks(job):
            if "notebookTask" in task:
                assert "environmentKey" not in task and "jobClusterKey" not in task


# --- code upload -------------------------------------------------------------------------


def test_every_task_pins_the_uploaded_wheel_of_this_code_version(
    renders: dict[str, Render],
) -> None:
    render = renders["prod"]
    (wheel,) = render.of_type("databricks:index/file:File")
    path = wheel.inputs["path"]
    assert path == f"/Volumes/prod/nyc_taxi/code/{CODE.version}/mlops_stack-0.1.0-py3-none-any.whl"
    assert wheel.inputs["source"] == CODE.wheel_file
    assert render.exports["code"] == {"version": CODE.version, "wheel": path}
    for job in jobs(render).values():
        for task in wheel_tasks(job):
            assert task["libraries"] == [{"whl": path}]


def test_a_code_change_changes_the_wheel_path_and_every_job() -> None:
    before = render_with("staging")
    changed = CodePackage(version="fedcba987654", wheel_file=CODE.wheel_file)
    after = render_with("staging", code=changed)
    assert before.exports["code"]["wheel"] != after.exports["code"]["wheel"]
    assert "fedcba987654" in after.exports["code"]["wheel"]
    old, new = jobs(before), jobs(after)
    for name in old:
        assert old[name]["tasks"] != new[name]["tasks"], name
        assert new[name]["tags"]["code_version"] == "fedcba987654"
    notebooks = {n.name: n.inputs["path"] for n in after.of_type(NOTEBOOK)}
    assert notebooks and all("/code/fedcba987654/" in path for path in notebooks.values())


# --- grants: the least-privilege audit ------------------------------------------------------

ALLOWED = {
    "CATALOG": {"USE_CATALOG"},
    "SCHEMA": {"USE_SCHEMA", "CREATE_TABLE"},
    "TABLE": {"SELECT", "MODIFY"},
    "MODEL": {"EXECUTE"},
    "VOLUME": {"READ_VOLUME"},
}
# The one exception: the runner refreshes the predictions table's quality monitor, which
# takes MANAGE on that table (see MonitoredTable); on no other table, for nobody else.
REFRESH_MONITOR = {"MANAGE"}


def allowed(render: Render, kind: str, name: str, principal: str) -> set[str]:
    s = render.settings
    refreshes = (kind, name, principal) == ("TABLE", s.tables.predictions, s.principals.runner)
    return ALLOWED[kind] | (REFRESH_MONITOR if refreshes else set())


def granted(render: Render) -> dict[tuple[str, str, str], set[str]]:
    """(securable kind, securable name, principal) -> privileges, over every grant."""
    found: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for resource in render.of_type(GRANT) + render.of_type(GRANTS):
        inputs = resource.inputs
        (kind,) = [k for k in ("catalog", "schema", "table", "model", "volume") if k in inputs]
        entries = inputs.get("grants") or [inputs]
        for entry in entries:
            found[(kind.upper(), inputs[kind], entry["principal"])] |= set(entry["privileges"])
    return dict(found)


@pytest.mark.parametrize("stack", STACKS)
def test_grants_are_exactly_the_least_privilege_set(renders: dict[str, Render], stack: str) -> None:
    render = renders[stack]
    s = render.settings
    runner, readers, home = s.principals.runner, s.groups.readers, f"{s.catalog}.{s.schema}"
    expected: dict[tuple[str, str, str], set[str]] = {
        ("CATALOG", s.catalog, readers): {"USE_CATALOG"},
        ("SCHEMA", home, readers): {"USE_SCHEMA"},
        ("TABLE", s.tables.predictions, readers): {"SELECT"},
        ("MODEL", s.model_full_name, readers): {"EXECUTE"},
        ("TABLE", f"{s.tables.predictions}_profile_metrics", readers): {"SELECT"},
        ("TABLE", f"{s.tables.predictions}_drift_metrics", readers): {"SELECT"},
    }
    # The input tables the stack creates in its schema: the ML team loads them.
    for table in s.tables.inputs:
        if table.rpartition(".")[0] == home:
            expected[("TABLE", table, s.groups.ml_team)] = {"SELECT", "MODIFY"}
    if runner:
        # The runner holds the model through the owners group; no grant names it there.
        expected |= {
            ("CATALOG", s.catalog, runner): {"USE_CATALOG"},
            ("SCHEMA", home, runner): {"USE_SCHEMA", "CREATE_TABLE"},
            ("VOLUME", f"{home}.code", runner): {"READ_VOLUME"},
        }
        for table in s.tables.outputs:
            expected[("TABLE", table, runner)] = {"SELECT", "MODIFY"}
        expected[("TABLE", s.tables.predictions, runner)] |= {"MANAGE"}
        expected[("TABLE", f"{s.tables.predictions}_profile_metrics", runner)] = {"SELECT"}
        for table in s.tables.inputs:
            expected[("TABLE", table, runner)] = {"SELECT"}
            if table.rpartition(".")[0] != home:
                expected[("SCHEMA", table.rpartition(".")[0], runner)] = {"USE_SCHEMA"}
    assert granted(render) == expected


@pytest.mark.parametrize("stack", STACKS)
def test_no_grant_is_broader_than_its_securable_needs(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    for (kind, name, principal), privileges in granted(render).items():
        assert privileges <= allowed(render, kind, name, principal), (kind, name, principal)
        assert "ALL_PRIVILEGES" not in privileges
        assert principal.lower() not in {"account users", "users", "all users"}


def test_the_readers_never_modify_and_the_runner_modifies_only_the_outputs(
    renders: dict[str, Render],
) -> None:
    render = renders["prod"]
    s = render.settings
    for (kind, name, principal), privileges in granted(render).items():
        if "MODIFY" in privileges:
            runner_writes = principal == s.principals.runner and name in s.tables.outputs
            team_loads = principal == s.groups.ml_team and name in s.tables.inputs
            assert runner_writes or team_loads, name
        if principal == s.groups.readers:
            assert privileges <= {"USE_CATALOG", "USE_SCHEMA", "SELECT", "EXECUTE"}
            if kind == "TABLE":
                # The predictions, and the monitor's metric tables for the dashboard.
                assert (
                    name.removesuffix("_profile_metrics").removesuffix("_drift_metrics")
                    == s.tables.predictions
                ), name
        if "MANAGE" in privileges:
            assert (principal, name) == (s.principals.runner, s.tables.predictions), name


def test_the_model_owners_group_owns_the_model_in_staging_and_prod(
    renders: dict[str, Render],
) -> None:
    for stack in ("staging", "prod"):
        (model,) = renders[stack].of_type("databricks:index/registeredModel:RegisteredModel")
        assert model.inputs["owner"] == renders[stack].settings.groups.model_owners
    (dev_model,) = renders["dev"].of_type("databricks:index/registeredModel:RegisteredModel")
    assert "owner" not in dev_model.inputs


# --- protection ----------------------------------------------------------------------------

KEPT_TYPES = {
    "databricks:index/registeredModel:RegisteredModel",
    "databricks:index/sqlTable:SqlTable",
    "databricks:index/schema:Schema",
    "databricks:index/directory:Directory",
}


@pytest.mark.parametrize("stack", STACKS)
def test_prod_model_schema_tables_and_folder_are_protected_from_deletion(
    renders: dict[str, Render], stack: str
) -> None:
    protected = {(r.type, r.name) for r in renders[stack].resources if r.protected}
    kept = {(r.type, r.name) for r in renders[stack].resources if r.type in KEPT_TYPES}
    assert protected == (kept if stack == "prod" else set())


def test_output_tables_have_the_pipelines_columns(renders: dict[str, Render]) -> None:
    from pipelines.common import schemas

    tables = {
        r.inputs["name"]: r.inputs
        for r in renders["prod"].of_type("databricks:index/sqlTable:SqlTable")
    }
    predictions = tables["predictions"]
    assert [c["name"] for c in predictions["columns"]] == schemas.INFERENCE.fieldNames()
    assert predictions["properties"] == {"delta.enableChangeDataFeed": "true"}
    assert predictions["tableType"] == "MANAGED"
    # Unity Catalog's default, Delta, without the provider's CREATE OR REPLACE.
    assert "dataSourceFormat" not in predictions
    keys = {c["name"]: c.get("nullable") for c in tables["pickup_features"]["columns"]}
    assert keys["zip"] is False and keys["window_end"] is False


# --- outputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_exports_follow_the_published_schema(renders: dict[str, Render], stack: str) -> None:
    exports = renders[stack].exports
    validate_outputs(exports)
    assert exports["environment"] == stack
    assert exports["model"]["name"] == renders[stack].settings.model_full_name
    assert set(exports["jobs"]) == {
        "featureEngineering",
        "training",
        "batchInference",
        "monitoring",
    }
    assert exports["monitor"]["table"] == renders[stack].settings.tables.predictions


def test_the_schema_rejects_a_broken_export(renders: dict[str, Render]) -> None:
    broken = json.loads(json.dumps(renders["prod"].exports))
    broken["jobs"]["training"]["id"] = "not-a-number"
    with pytest.raises(jsonschema.ValidationError):
        validate_outputs(broken)
    broken = json.loads(json.dumps(renders["prod"].exports))
    broken["token"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        validate_outputs(broken)
    assert output_schema()["additionalProperties"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_reaches_an_export_or_a_resource_input(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    exported = json.dumps(render.exports)
    inputs = json.dumps([r.inputs for r in render.resources])
    for text in (exported, inputs):
        assert TOKEN_SENTINEL not in text
        assert not re.search(r"dapi[0-9a-f]{8,}", text)
    assert not re.search(r"(?i)token|secret|password", exported)
    (provider,) = [r for r in render.resources if r.type == "pulumi:providers:databricks"]
    assert set(provider.inputs) == {"host"}


# --- bad settings stop everything ----------------------------------------------------------


def test_bad_settings_fail_before_any_resource_is_registered(
    tmp_path, registered: list[str]
) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    source = stack_path("prod").read_text().replace('"0 0 6 ? * MON"', '"0 6 * * 1"')
    path.write_text(source)
    with pytest.raises(InvalidStackConfig, match=r"Pulumi.prod.yaml.*schedules.training.cron"):
        render_stack(path, CODE)
    assert registered == []
