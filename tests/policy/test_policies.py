"""The policy pack mlops-stack-guardrails (policy/): every stack as the program registers it
passes every policy; a crafted bad resource (a real one, mutated) is rejected by its policy."""

from __future__ import annotations

import ast
import copy
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from mlops.render import Render, RenderedResource, fake_id
from policy import policies
from policy.policies import StackResource
from tests.infra.conftest import STACKS, _quiet_deprecations, render_with, renders
from tests.infra.test_lakehouse_storage import ENABLED

__all__ = ["_quiet_deprecations", "renders"]  # the session fixtures of tests/infra

MAIN = Path(__file__).resolve().parents[2] / "policy" / "__main__.py"


@pytest.fixture(scope="module")
def storage() -> dict[str, Render]:
    renders = {stack: render_with(stack, storage=ENABLED) for stack in ("dev", "prod")}
    # The stack creating its catalog on its bucket: a catalog resource and its grants.
    renders["prod-own-catalog"] = render_with(
        "prod",
        storage={**ENABLED, "managedLocation": "catalog"},
        fare={"tables": {"trips": "shared.bronze.nyc_taxi_trips"}},
    )
    return renders


@pytest.fixture(scope="module")
def everything(renders: dict[str, Render], storage: dict[str, Render]) -> list[tuple[str, Render]]:
    return [*renders.items(), *storage.items()]


def check_all(render: Render, resource: RenderedResource) -> list[str]:
    stack = render.settings.stack
    return [
        message
        for policy in policies.RESOURCE_POLICIES
        for message in policy(resource.type, resource.inputs, stack, resource.name)
    ]


def stack_resources(render: Render) -> list[StackResource]:
    """The stack as the stack policy sees it: outputs (with the id the mocks gave) by URN."""
    stack = render.settings.stack
    return [
        StackResource(
            type=r.type,
            name=r.name,
            props={**r.inputs, "id": fake_id(r.type, r.name, r.inputs)},
            urn=f"urn:pulumi:{stack}::mlops-stack::{r.type}::{r.name}",
        )
        for r in render.resources
    ]


def one(render: Render, resource_type: str, **where: Any) -> RenderedResource:
    found = [r for r in render.of_type(resource_type) if all(r.inputs.get(k) for k in where)]
    assert found, f"no {resource_type} in {render.settings.stack}"
    return copy.deepcopy(found[0])


# --- every stack passes -----------------------------------------------------------------


def test_every_resource_of_every_stack_passes_every_policy(everything) -> None:
    checked = 0
    for _, render in everything:
        for resource in render.resources:
            assert check_all(render, resource) == [], resource.name
            checked += 1
        assert policies.every_bucket_is_protected(stack_resources(render)) == []
    assert checked > 100


def test_the_storage_renders_hold_what_policy_6_looks_at(storage) -> None:
    for render in storage.values():
        types = render.counts()
        assert types[policies.BUCKETS[0]] == 1
        assert types[policies.ENCRYPTIONS[0]] == 1
        assert types[policies.VERSIONINGS[0]] == 1
        assert types[policies.PUBLIC_ACCESS_BLOCK] == 1


# --- the environment --------------------------------------------------------------------


def test_the_stack_comes_from_the_urn() -> None:
    urn = "urn:pulumi:prod::mlops-stack::databricks:index/job:Job::prod-mlops-stack-x"
    assert policies.stack_of_urn(urn) == "prod"
    assert policies.stack_of_urn("not a urn") == ""


def test_conflicting_or_missing_signals_get_the_stricter_rules() -> None:
    dev_tags = {"tags": {"environment": "dev"}}
    assert policies.is_strict(dev_tags, "staging") and policies.is_dev(dev_tags, "staging")
    assert policies.is_strict({}, "alice", "my-job")
    assert not policies.is_strict(dev_tags, "alice", "dev-mlops-stack-job")


# --- each policy rejects its bad resource -----------------------------------------------


def test_1_a_prod_job_running_as_a_user_is_rejected(renders) -> None:
    job = one(renders["prod"], policies.JOB)
    job.inputs["runAs"] = {"userName": "alice@example.com"}
    messages = policies.job_runs_as_service_principal(job.type, job.inputs, "prod", job.name)
    assert len(messages) == 2
    assert "must run as a service principal" in messages[0]
    assert "runs as the user alice@example.com" in messages[1]
    del job.inputs["runAs"]
    assert policies.job_runs_as_service_principal(job.type, job.inputs, "prod", job.name)
    # dev jobs run as the deploying user.
    dev = one(renders["dev"], policies.JOB)
    assert "runAs" not in dev.inputs
    assert policies.job_runs_as_service_principal(dev.type, dev.inputs, "dev", dev.name) == []


def test_2_an_all_purpose_cluster_in_staging_is_rejected(renders) -> None:
    job = one(renders["staging"], policies.JOB)
    task = job.inputs["tasks"][0]
    task.pop("jobClusterKey", None)
    task["existingClusterId"] = "0123-456789-abcdef"
    (message,) = policies.no_all_purpose_clusters(job.type, job.inputs, "staging", job.name)
    assert f"task {task['taskKey']}" in message and "0123-456789-abcdef" in message
    assert "all-purpose" in message
    cluster_name = "staging-mlops-stack-shared-cluster"
    (message,) = policies.no_all_purpose_clusters(
        policies.CLUSTER, {"clusterName": "shared"}, "staging", cluster_name
    )
    assert "no all-purpose clusters in staging/prod" in message
    assert policies.no_all_purpose_clusters(policies.CLUSTER, {}, "dev", "dev-mlops-stack-c") == []


def test_3_missing_tags_are_rejected(renders, storage) -> None:
    job = one(renders["staging"], policies.JOB)
    del job.inputs["tags"]["code_version"]
    (message,) = policies.required_tags(job.type, job.inputs, "staging", job.name)
    assert "lacks the tags code_version" in message
    job.inputs["tags"]["code_version"] = "abc"
    job.inputs["tags"]["environment"] = "dev"
    messages = policies.required_tags(job.type, job.inputs, "staging", job.name)
    assert "environment=dev in the stack staging" in messages[0]
    job.inputs["tags"]["environment"] = "staging"
    del job.inputs["tags"]["model_project"]
    (message,) = policies.required_tags(job.type, job.inputs, "staging", job.name)
    assert "lacks the tags model_project" in message
    # A project's jobs are named after it, so two projects' jobs never share a name.
    job.inputs["tags"]["model_project"] = "churn"
    assert job.inputs["name"] == "staging-mlops-stack-fare-feature-engineering"
    (message,) = policies.required_tags(job.type, job.inputs, "staging", job.name)
    assert "is tagged model_project=churn but named staging-mlops-stack-fare-" in message
    assert "named staging-mlops-stack-churn-<job>" in message
    job.inputs["tags"]["model_project"] = "fare"
    assert policies.required_tags(job.type, job.inputs, "staging", job.name) == []

    bucket = one(storage["prod"], policies.BUCKETS[0])
    bucket.inputs["tags"] = {"team": "ml-platform"}
    (message,) = policies.required_tags(bucket.type, bucket.inputs, "prod", bucket.name)
    assert "lacks the tags project, environment" in message
    bucket.inputs["tags"] = {"project": "mlops-stack", "environment": "prod"}
    assert policies.required_tags(bucket.type, bucket.inputs, "prod", bucket.name) == []

    provider = one(storage["prod"], policies.AWS_PROVIDER)
    provider.inputs["defaultTags"] = '{"tags": {"project": "mlops-stack"}}'
    (message,) = policies.required_tags(provider.type, provider.inputs, "prod", provider.name)
    assert "default tags lack environment" in message


def test_4_an_unpaused_dev_schedule_is_rejected(renders) -> None:
    job = one(renders["dev"], policies.JOB)
    job.inputs["schedule"]["pauseStatus"] = "UNPAUSED"
    (message,) = policies.dev_schedules_paused(job.type, job.inputs, "dev", job.name)
    assert "schedule is UNPAUSED in dev" in message
    del job.inputs["schedule"]["pauseStatus"]
    assert policies.dev_schedules_paused(job.type, job.inputs, "dev", job.name)
    # Staging and prod schedules run.
    prod = one(renders["prod"], policies.JOB)
    assert prod.inputs["schedule"]["pauseStatus"] == "UNPAUSED"
    assert policies.dev_schedules_paused(prod.type, prod.inputs, "prod", prod.name) == []


def test_4_a_dev_monitor_with_any_schedule_is_rejected(renders) -> None:
    """A monitor's schedule cannot be paused, so in dev it must not exist, paused or not."""
    monitor = one(renders["dev"], policies.QUALITY_MONITOR)
    assert "schedule" not in monitor.inputs
    assert policies.dev_schedules_paused(monitor.type, monitor.inputs, "dev", monitor.name) == []
    staging = one(renders["staging"], policies.QUALITY_MONITOR)
    for pause_status in (None, "PAUSED", "UNPAUSED"):
        monitor.inputs["schedule"] = copy.deepcopy(staging.inputs["schedule"])
        if pause_status:
            monitor.inputs["schedule"]["pauseStatus"] = pause_status
        (message,) = policies.dev_schedules_paused(
            monitor.type, monitor.inputs, "dev", monitor.name
        )
        assert message.startswith(f"quality monitor {monitor.name}: it has a schedule in dev")
        assert "cannot pause a monitor's schedule" in message
        assert "dev monitors must have none" in message
    # Staging and prod monitors keep their schedule.
    assert (
        policies.dev_schedules_paused(staging.type, staging.inputs, "staging", staging.name) == []
    )


@pytest.mark.parametrize("stack", STACKS)
def test_4b_a_monitor_schedule_with_a_pause_status_is_rejected(renders, stack: str) -> None:
    monitor = one(renders[stack], policies.QUALITY_MONITOR)
    schedule = copy.deepcopy(one(renders["staging"], policies.QUALITY_MONITOR).inputs["schedule"])
    assert "pauseStatus" not in schedule
    check = policies.monitor_schedule_without_pause_status
    monitor.inputs["schedule"] = schedule
    assert check(monitor.type, monitor.inputs, stack, monitor.name) == []
    for pause_status in ("PAUSED", "UNPAUSED"):
        schedule["pauseStatus"] = pause_status
        (message,) = check(monitor.type, monitor.inputs, stack, monitor.name)
        assert message.startswith(
            f"quality monitor {monitor.name}: its schedule sets pause_status {pause_status}"
        )
        assert "read-only" in message
    # As the engine may hand a nested input over: a JSON string.
    monitor.inputs["schedule"] = json.dumps(schedule)
    assert check(monitor.type, monitor.inputs, stack, monitor.name)
    # Jobs' schedules do carry their pause status.
    job = one(renders[stack], policies.JOB)
    assert check(job.type, job.inputs, stack, job.name) == []


def test_5_broad_grants_are_rejected(renders) -> None:
    grants = one(renders["prod"], policies.GRANTS, grants=True)
    grants.inputs["grants"].append({"principal": "account users", "privileges": ["SELECT"]})
    (message,) = policies.no_broad_grants(grants.type, grants.inputs, "prod", grants.name)
    assert "to 'account users', i.e. to everyone" in message
    grants.inputs["grants"][-1] = {"principal": "ml-engineers", "privileges": ["ALL_PRIVILEGES"]}
    (message,) = policies.no_broad_grants(grants.type, grants.inputs, "prod", grants.name)
    assert "grants ALL_PRIVILEGES to ml-engineers" in message

    grant = one(renders["prod"], policies.GRANT, principal=True)
    grant.inputs["principal"] = "users"
    grant.inputs["privileges"] = ["ALL_PRIVILEGES"]
    messages = policies.no_broad_grants(grant.type, grant.inputs, "prod", grant.name)
    assert len(messages) == 2


def test_6_an_unencrypted_unversioned_public_bucket_is_rejected(storage) -> None:
    render = storage["prod"]
    encryption = one(render, policies.ENCRYPTIONS[0])
    encryption.inputs["rules"] = []
    (message,) = policies.s3_buckets_encrypted_versioned_private(
        encryption.type, encryption.inputs, "prod", encryption.name
    )
    assert "S3 default encryption needs a rule" in message

    versioning = one(render, policies.VERSIONINGS[0])
    versioning.inputs["versioningConfiguration"]["status"] = "Suspended"
    (message,) = policies.s3_buckets_encrypted_versioned_private(
        versioning.type, versioning.inputs, "prod", versioning.name
    )
    assert "S3 versioning is Suspended; it must be Enabled" in message

    block = one(render, policies.PUBLIC_ACCESS_BLOCK)
    block.inputs["restrictPublicBuckets"] = False
    (message,) = policies.s3_buckets_encrypted_versioned_private(
        block.type, block.inputs, "prod", block.name
    )
    assert "leaves restrictPublicBuckets off" in message


@pytest.mark.parametrize(
    ("dropped", "missing"),
    [
        (policies.ENCRYPTIONS[0], "server-side encryption configuration"),
        (policies.VERSIONINGS[0], "versioning"),
        (policies.PUBLIC_ACCESS_BLOCK, "public access block"),
    ],
)
def test_6_a_bucket_without_its_protection_fails_the_stack_policy(
    storage, dropped: str, missing: str
) -> None:
    resources = [r for r in stack_resources(storage["prod"]) if r.type != dropped]
    (message,) = policies.every_bucket_is_protected(resources)
    assert message.startswith("S3 bucket prod-mlops-stack-storage-bucket has no ")
    assert missing in message


def test_6_a_protection_of_another_bucket_does_not_count(storage) -> None:
    resources = stack_resources(storage["prod"])
    for r in resources:
        if r.type == policies.VERSIONINGS[0]:
            r.props = {**r.props, "bucket": "some-other-bucket"}
    (message,) = policies.every_bucket_is_protected(resources)
    assert "has no versioning" in message


def test_6_during_preview_the_bucket_is_found_by_property_dependency(storage) -> None:
    resources = stack_resources(storage["prod"])
    (bucket,) = [r for r in resources if r.type in policies.BUCKETS]
    for r in resources:
        if "bucket" in r.props and r is not bucket:
            r.props = {**r.props, "bucket": policies.UNKNOWN}
            r.property_dependencies = {"bucket": [bucket.urn]}
    assert policies.every_bucket_is_protected(resources) == []


@pytest.mark.parametrize("stack", STACKS)
def test_7_two_jobs_of_one_name_fail_the_stack_policy(renders, stack: str) -> None:
    resources = stack_resources(renders[stack])
    assert policies.job_names_are_unique(resources) == []
    jobs = [r for r in resources if r.type == policies.JOB]
    assert len(jobs) == 8  # four per project, each its own name
    churn = next(r for r in jobs if r.props["name"] == f"{stack}-mlops-stack-churn-training")
    churn.props = {**churn.props, "name": f"{stack}-mlops-stack-fare-training"}
    (message,) = policies.job_names_are_unique(resources)
    assert message.startswith(
        f"jobs {stack}-mlops-stack-fare-training-job, {stack}-mlops-stack-churn-training-job"
        f" share the name {stack}-mlops-stack-fare-training"
    )
    churn.props = {**churn.props, "name": policies.UNKNOWN}
    assert policies.job_names_are_unique(resources) == []


@pytest.mark.parametrize("stack", STACKS)
def test_8_two_grant_resources_on_one_securable_fail_the_stack_policy(
    renders, storage, stack: str
) -> None:
    for render in (renders[stack], *storage.values()):
        assert policies.one_grant_list_per_securable(stack_resources(render)) == [], stack
    resources = stack_resources(renders[stack])
    # Two authoritative lists on one table: each apply revokes the other's principals.
    grants = [r for r in resources if r.type == policies.GRANTS and r.props.get("table")]
    first, second = grants[0], grants[1]
    second.props = {**second.props, "table": first.props["table"]}
    (message,) = policies.one_grant_list_per_securable(resources)
    assert f"all grant on TABLE {first.props['table']}: one Grants resource per securable" in (
        message
    )
    # An additive grant for a principal an authoritative list names too.
    resources = stack_resources(renders[stack])
    (catalog,) = [
        r
        for r in resources
        if r.type == policies.GRANT and r.props.get("catalog") and "readers" in r.name
    ]
    extra = StackResource(
        type=policies.GRANT,
        name=f"{stack}-mlops-stack-churn-catalog-readers",
        props=dict(catalog.props),
    )
    (message,) = policies.one_grant_list_per_securable([*resources, extra])
    assert f"manage the privileges of mlops-readers on CATALOG {stack}" in message
    # Unknown during preview: nothing to compare.
    extra.props = {**extra.props, "catalog": policies.UNKNOWN}
    assert policies.one_grant_list_per_securable([*resources, extra]) == []


def test_unknown_values_are_not_reported(renders) -> None:
    job = one(renders["dev"], policies.JOB)
    job.inputs["schedule"]["pauseStatus"] = policies.UNKNOWN
    job.inputs["tags"] = policies.UNKNOWN
    assert policies.dev_schedules_paused(job.type, job.inputs, "dev", job.name) == []
    assert policies.required_tags(job.type, job.inputs, "dev", job.name) == []

    monitor = one(renders["dev"], policies.QUALITY_MONITOR)
    monitor.inputs["schedule"] = policies.UNKNOWN
    for policy in (policies.dev_schedules_paused, policies.monitor_schedule_without_pause_status):
        assert policy(monitor.type, monitor.inputs, "dev", monitor.name) == []
    prod = one(renders["prod"], policies.QUALITY_MONITOR)
    prod.inputs["schedule"]["pauseStatus"] = policies.UNKNOWN
    assert (
        policies.monitor_schedule_without_pause_status(prod.type, prod.inputs, "prod", prod.name)
        == []
    )


# --- the pack ---------------------------------------------------------------------------


def test_the_pack_lists_every_policy_function() -> None:
    """Parsed, not imported: PolicyPack(...) starts the analyzer server and never returns."""
    tree = ast.parse(MAIN.read_text())
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "policies"
    }
    registered = {f.__name__ for f in (*policies.RESOURCE_POLICIES, *policies.STACK_POLICIES)}
    defined = {
        name
        for name, f in inspect.getmembers(policies, inspect.isfunction)
        if f.__module__ == policies.__name__
        and list(inspect.signature(f).parameters)[:1] in (["resource_type"], ["resources"])
    }
    assert registered == defined
    assert registered <= used, f"not in policy/__main__.py: {sorted(registered - used)}"
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PolicyPack"
    ]
    assert len(calls) == 1
    keywords = {k.arg: k.value for k in calls[0].keywords}
    assert ast.literal_eval(keywords["name"]) == "mlops-stack-guardrails"
    assert ast.unparse(keywords["enforcement_level"]) == "MANDATORY"


def test_the_stacks_are_all_covered(renders) -> None:
    assert set(renders) == set(STACKS)
