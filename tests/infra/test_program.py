"""The program under Pulumi's mock engine: what each stack registers, and its guarantees."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import jsonschema
import pytest

from infra.outputs import output_schema, validate_outputs
from infra.program import CodePackage
from infra.render import RecordingMocks, Render, render_stack
from infra.settings import InvalidStackConfig
from tests.infra.conftest import CODE, STACKS, TOKEN_SENTINEL, render_with, stack_path

JOB = "databricks:index/job:Job"
GRANT = "databricks:index/grant:Grant"
GRANTS = "databricks:index/grants:Grants"
COMPONENT_TYPES = {
    "mlops-stack:catalog:CatalogAccess",
    "mlops-stack:ml:MlArtifacts",
    "mlops-stack:code:PipelineCode",
    "mlops-stack:jobs:FeatureEngineeringJob",
    "mlops-stack:jobs:TrainingJob",
    "mlops-stack:jobs:BatchInferenceJob",
}


def jobs(render: Render) -> dict[str, dict]:
    return {job.inputs["name"]: job.inputs for job in render.of_type(JOB)}


# --- structure and naming --------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_builds_every_component_with_its_children(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    components = [root for root in render.roots if not root.type.startswith("pulumi:")]
    assert {c.type for c in components} == COMPONENT_TYPES
    for component in components:
        assert re.fullmatch(r"mlops-stack:[a-z]+:[A-Z][A-Za-z]+", component.type)
        assert component.children, f"{component.type} registered no children"
        for child in component.children:
            assert child.type.startswith("databricks:index/"), child.type
            assert child.name.startswith(component.name + "-"), child.name
    counts = render.counts()
    assert counts[JOB] == 3
    assert counts["databricks:index/sqlTable:SqlTable"] == 3
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
        for task in job["tasks"]:
            assert task["maxRetries"] == settings.jobs.max_retries
            assert task["timeoutSeconds"] == settings.jobs.timeout_minutes * 60
            assert (
                task["minRetryIntervalMillis"] == settings.jobs.min_retry_interval_minutes * 60_000
            )
            assert task["pythonWheelTask"]["packageName"] == "mlops_stack"
    permissions = [
        r for r in render.of_type("databricks:index/permissions:Permissions") if "jobId" in r.inputs
    ]
    assert len(permissions) == 3
    for permission in permissions:
        assert permission.inputs["accessControls"] == [
            {"groupName": settings.groups.readers, "permissionLevel": "CAN_VIEW"},
            {"groupName": settings.groups.ml_team, "permissionLevel": "CAN_MANAGE_RUN"},
        ]


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
            for task in job["tasks"]:
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
        for task in job["tasks"]:
            assert task["environmentKey"] == environment["environmentKey"]
            assert "libraries" not in task


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
        for task in job["tasks"]:
            assert task["libraries"] == [{"whl": path}]


def test_a_code_change_changes_the_wheel_path_and_every_job() -> None:
    before = render_with("staging")
    changed = CodePackage(version="fedcba987654", wheel_file=CODE.wheel_file)
    after = render_with("staging", code=changed)
    assert before.exports["code"]["wheel"] != after.exports["code"]["wheel"]
    assert "fedcba987654" in after.exports["code"]["wheel"]
    old, new = jobs(before), jobs(after)
    for name in old:
        assert old[name]["tasks"][0]["libraries"] != new[name]["tasks"][0]["libraries"]
        assert new[name]["tags"]["code_version"] == "fedcba987654"


# --- grants: the least-privilege audit ------------------------------------------------------

ALLOWED = {
    "CATALOG": {"USE_CATALOG"},
    "SCHEMA": {"USE_SCHEMA", "CREATE_TABLE"},
    "TABLE": {"SELECT", "MODIFY"},
    "MODEL": {"EXECUTE"},
    "VOLUME": {"READ_VOLUME"},
}


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
    }
    if runner:
        expected |= {
            ("CATALOG", s.catalog, runner): {"USE_CATALOG"},
            ("SCHEMA", home, runner): {"USE_SCHEMA", "CREATE_TABLE"},
            ("MODEL", s.model_full_name, runner): {"EXECUTE"},
            ("VOLUME", f"{home}.code", runner): {"READ_VOLUME"},
        }
        for table in s.tables.outputs:
            expected[("TABLE", table, runner)] = {"SELECT", "MODIFY"}
        for table in s.tables.inputs:
            expected[("TABLE", table, runner)] = {"SELECT"}
            if table.rpartition(".")[0] != home:
                expected[("SCHEMA", table.rpartition(".")[0], runner)] = {"USE_SCHEMA"}
    assert granted(render) == expected


@pytest.mark.parametrize("stack", STACKS)
def test_no_grant_is_broader_than_its_securable_needs(
    renders: dict[str, Render], stack: str
) -> None:
    for (kind, name, principal), privileges in granted(renders[stack]).items():
        assert privileges <= ALLOWED[kind], (kind, name, principal, privileges)
        assert "ALL_PRIVILEGES" not in privileges
        assert principal.lower() not in {"account users", "users", "all users"}


def test_the_readers_never_modify_and_the_runner_modifies_only_the_outputs(
    renders: dict[str, Render],
) -> None:
    render = renders["prod"]
    s = render.settings
    for (kind, name, principal), privileges in granted(render).items():
        if "MODIFY" in privileges:
            assert principal == s.principals.runner and name in s.tables.outputs, name
        if principal == s.groups.readers:
            assert privileges <= {"USE_CATALOG", "USE_SCHEMA", "SELECT", "EXECUTE"}
            if kind == "TABLE":
                assert name == s.tables.predictions


def test_the_runner_owns_the_model_in_staging_and_prod(renders: dict[str, Render]) -> None:
    for stack in ("staging", "prod"):
        (model,) = renders[stack].of_type("databricks:index/registeredModel:RegisteredModel")
        assert model.inputs["owner"] == renders[stack].settings.principals.runner
    (dev_model,) = renders["dev"].of_type("databricks:index/registeredModel:RegisteredModel")
    assert "owner" not in dev_model.inputs


# --- protection ----------------------------------------------------------------------------

KEPT_TYPES = {
    "databricks:index/registeredModel:RegisteredModel",
    "databricks:index/sqlTable:SqlTable",
    "databricks:index/schema:Schema",
}


@pytest.mark.parametrize("stack", STACKS)
def test_prod_model_schema_and_tables_are_protected_from_deletion(
    renders: dict[str, Render], stack: str
) -> None:
    protected = {(r.type, r.name) for r in renders[stack].resources if r.protected}
    kept = {(r.type, r.name) for r in renders[stack].resources if r.type in KEPT_TYPES}
    assert len(kept) == 5
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
    assert predictions["dataSourceFormat"] == "DELTA"
    keys = {c["name"]: c.get("nullable") for c in tables["pickup_features"]["columns"]}
    assert keys["zip"] is False and keys["window_end"] is False


# --- outputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_exports_follow_the_published_schema(renders: dict[str, Render], stack: str) -> None:
    exports = renders[stack].exports
    validate_outputs(exports)
    assert exports["environment"] == stack
    assert exports["model"]["name"] == renders[stack].settings.model_full_name
    assert set(exports["jobs"]) == {"featureEngineering", "training", "batchInference"}


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


def test_bad_settings_fail_before_any_resource_is_registered(tmp_path, monkeypatch) -> None:
    recorded: list[str] = []
    original = RecordingMocks.new_resource

    def spy(self, args):
        recorded.append(args.name)
        return original(self, args)

    monkeypatch.setattr(RecordingMocks, "new_resource", spy)
    path = tmp_path / "Pulumi.prod.yaml"
    source = stack_path("prod").read_text().replace('"0 0 6 ? * MON"', '"0 6 * * 1"')
    path.write_text(source)
    with pytest.raises(InvalidStackConfig, match=r"Pulumi.prod.yaml.*schedules.training.cron"):
        render_stack(path, CODE)
    assert recorded == []
