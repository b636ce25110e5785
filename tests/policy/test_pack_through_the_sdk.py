"""policy/__main__.py as the Pulumi CLI drives it: each resource goes through the policy
SDK's own analyzer (protobuf request -> deserialization -> unknown-checking proxies -> our
wrapper -> diagnostics), just without the gRPC server that ``PolicyPack(...)`` starts.

``PolicyPack`` is swapped for a recorder while the pack's ``__main__`` runs, so the
policies it registers are the real ones; they are then handed to the SDK's analyzer
servicer, the object the CLI's ``Analyze``/``AnalyzeStack`` calls reach.
"""

from __future__ import annotations

import copy
import runpy
from pathlib import Path
from typing import Any

import pulumi_policy
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from mlops.render import Render, RenderedResource
from policy import policies
from tests.infra.conftest import _quiet_deprecations, render_with, renders
from tests.infra.test_lakehouse_storage import ENABLED

__all__ = ["_quiet_deprecations", "renders"]

MAIN = Path(__file__).resolve().parents[2] / "policy" / "__main__.py"


@pytest.fixture(scope="module")
def analyzer() -> _PolicyAnalyzerServicer:
    recorded: dict[str, Any] = {}

    def record(**kwargs: Any) -> None:
        recorded.update(kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pulumi_policy, "PolicyPack", record)
        runpy.run_path(str(MAIN), run_name="__main__")
    assert recorded["name"] == "mlops-stack-guardrails"
    return _PolicyAnalyzerServicer(
        recorded["name"], "0.0.1", recorded["policies"], recorded["enforcement_level"]
    )


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(props, struct)
    return struct


def urn(stack: str, resource: RenderedResource) -> str:
    return f"urn:pulumi:{stack}::mlops-stack::{resource.type}::{resource.name}"


def analyze(
    analyzer: _PolicyAnalyzerServicer, stack: str, resource: RenderedResource
) -> list[tuple[str, str]]:
    request = proto.AnalyzeRequest(
        type=resource.type,
        properties=_struct(resource.inputs),
        urn=urn(stack, resource),
        name=resource.name,
    )
    response = analyzer.Analyze(request, None)
    assert all(d.enforcementLevel == proto.MANDATORY for d in response.diagnostics)
    return [(d.policyName, d.message) for d in response.diagnostics]


def analyze_stack(
    analyzer: _PolicyAnalyzerServicer, render: Render, drop: str | None = None
) -> list[str]:
    stack = render.settings.stack
    resources = [
        proto.AnalyzerResource(
            type=r.type, properties=_struct(r.inputs), urn=urn(stack, r), name=r.name
        )
        for r in render.resources
        if r.type != drop
    ]
    response = analyzer.AnalyzeStack(proto.AnalyzeStackRequest(resources=resources), None)
    return [d.policyName for d in response.diagnostics]


@pytest.fixture(scope="module")
def prod_storage() -> Render:
    return render_with("prod", storage=ENABLED)


def test_every_resource_passes_through_the_sdk(analyzer, renders, prod_storage) -> None:
    for stack, render in [*renders.items(), ("prod", prod_storage)]:
        for resource in render.resources:
            assert analyze(analyzer, stack, resource) == [], resource.name
        assert analyze_stack(analyzer, render) == []


def _job(render: Render) -> RenderedResource:
    return copy.deepcopy(render.of_type(policies.JOB)[0])


def test_the_stack_comes_from_the_urn_and_bad_resources_are_mandatory_failures(
    analyzer, renders
) -> None:
    prod_job = _job(renders["prod"])
    prod_job.inputs["runAs"] = {"userName": "alice@example.com"}
    found = analyze(analyzer, "prod", prod_job)
    assert [name for name, _ in found] == ["job-runs-as-service-principal"] * 2
    assert "runs as the user alice@example.com" in found[1][1]

    dev_job = _job(renders["dev"])
    dev_job.inputs["schedule"]["pauseStatus"] = "UNPAUSED"
    ((name, message),) = analyze(analyzer, "dev", dev_job)
    assert name == "dev-schedules-paused" and "UNPAUSED in dev" in message

    grants = copy.deepcopy(next(g for g in renders["prod"].of_type(policies.GRANTS)))
    grants.inputs["grants"][0]["principal"] = "account users"
    assert [name for name, _ in analyze(analyzer, "prod", grants)] == ["no-broad-grants"]


def _monitor(render: Render) -> RenderedResource:
    # fare's: staging's and prod's have a refresh schedule of their own (churn's have none).
    (monitor,) = [m for m in render.of_type(policies.QUALITY_MONITOR) if "-fare-" in m.name]
    return copy.deepcopy(monitor)


def test_a_monitor_schedule_in_dev_or_with_a_pause_status_is_a_mandatory_failure(
    analyzer, renders
) -> None:
    schedule = _monitor(renders["staging"]).inputs["schedule"]
    dev = _monitor(renders["dev"])
    dev.inputs["schedule"] = {**schedule, "pauseStatus": "PAUSED"}
    found = analyze(analyzer, "dev", dev)
    assert [name for name, _ in found] == [
        "dev-schedules-paused",
        "monitor-schedule-without-pause-status",
    ]
    assert "dev monitors must have none" in found[0][1]
    del dev.inputs["schedule"]["pauseStatus"]
    assert [name for name, _ in analyze(analyzer, "dev", dev)] == ["dev-schedules-paused"]

    prod = _monitor(renders["prod"])
    prod.inputs["schedule"]["pauseStatus"] = "UNPAUSED"
    ((name, message),) = analyze(analyzer, "prod", prod)
    assert name == "monitor-schedule-without-pause-status"
    assert "sets pause_status UNPAUSED" in message
    prod.inputs["schedule"]["pauseStatus"] = UNKNOWN_STRING_VALUE
    assert analyze(analyzer, "prod", prod) == []


def test_values_unknown_during_preview_reach_no_policy_as_violations(analyzer, renders) -> None:
    job = _job(renders["dev"])
    job.inputs["schedule"]["pauseStatus"] = UNKNOWN_STRING_VALUE
    job.inputs["tags"] = UNKNOWN_STRING_VALUE
    assert analyze(analyzer, "dev", job) == []


def test_a_bucket_without_its_versioning_fails_the_stack_policy(analyzer, prod_storage) -> None:
    dropped = policies.VERSIONINGS[0]
    assert analyze_stack(analyzer, prod_storage, drop=dropped) == ["every-bucket-is-protected"]


def test_every_stack_passes_the_stack_policies_through_the_sdk(analyzer, renders) -> None:
    for render in renders.values():
        assert analyze_stack(analyzer, render) == []


def test_two_projects_jobs_of_one_name_fail_the_stack_policy_through_the_sdk(
    analyzer, renders
) -> None:
    render = copy.deepcopy(renders["prod"])
    churn = render.find(policies.JOB, "prod-mlops-stack-churn-training-job")
    churn.inputs["name"] = "prod-mlops-stack-fare-training"
    assert analyze_stack(analyzer, render) == ["job-names-are-unique"]
