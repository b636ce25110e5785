"""The integration run CI makes after ``pulumi up -s staging``: start the job the stack
outputs name, wait for it to end, and succeed only if the run does.

``mlops integration-run --outputs <pulumi stack output --json> --job training``. The
workspace host and the job id come from the stack outputs (``infra/outputs.py``); the
credentials from the environment, as for Pulumi (OIDC or OAuth M2M).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any


class IntegrationRunFailed(Exception):
    """The job could not be started, did not end in time, or ended other than SUCCESS."""


@dataclass(frozen=True)
class JobTarget:
    """Which job to run, and where."""

    host: str
    job: str
    job_id: int


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    run_id: int
    result: str
    message: str
    page_url: str | None


def read_outputs(path: Path) -> dict[str, Any]:
    """The JSON document of ``pulumi stack output --json``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IntegrationRunFailed(
            f"{path} does not exist: expected the stack outputs, from"
            " `pulumi stack output --json --stack <stack> > FILE`"
        ) from None
    except OSError as exc:  # a directory, no permission, ...
        raise IntegrationRunFailed(
            f"{path} cannot be read ({exc.strerror}): expected the stack outputs file"
        ) from None
    except json.JSONDecodeError as exc:
        raise IntegrationRunFailed(
            f"{path} is not JSON ({exc}): expected the stack outputs"
        ) from None
    if not isinstance(document, dict):
        raise IntegrationRunFailed(f"{path} holds a {type(document).__name__}: expected an object")
    return document


def job_target(outputs: Mapping[str, Any], job: str) -> JobTarget:
    """The workspace host and the id of ``jobs.<job>`` in the stack outputs."""
    host = (outputs.get("workspace") or {}).get("host")
    jobs = outputs.get("jobs") or {}
    if not isinstance(host, str) or not host.startswith("https://"):
        raise IntegrationRunFailed(
            f"the stack outputs' workspace.host is {host!r}: expected the workspace URL"
        )
    if job not in jobs:
        raise IntegrationRunFailed(
            f"the stack outputs have no jobs.{job}: expected one of {', '.join(sorted(jobs))}"
        )
    job_id = (jobs[job] or {}).get("id")
    try:
        return JobTarget(host=host, job=job, job_id=int(str(job_id)))
    except ValueError:
        raise IntegrationRunFailed(
            f"the stack outputs' jobs.{job}.id is {job_id!r}: expected a job id (digits)"
        ) from None


def run_job(jobs: Any, target: JobTarget, timeout: timedelta) -> RunOutcome:
    """Start ``target`` with the Databricks SDK's jobs API (``WorkspaceClient().jobs``) and
    wait for it. A run still going at ``timeout`` is cancelled, so no integration run is
    left running behind a failed workflow."""
    from databricks.sdk.errors import DatabricksError, OperationFailed
    from databricks.sdk.service.jobs import RunResultState

    try:
        waiter = jobs.run_now(job_id=target.job_id)
    except DatabricksError as exc:
        raise IntegrationRunFailed(
            f"the {target.job} job ({target.job_id}) on {target.host} could not be started: {exc}"
        ) from None
    run_id = waiter.run_id
    print(f"job {target.job} ({target.job_id}): started run {run_id}", flush=True)
    try:
        run = waiter.result(timeout=timeout)
    except TimeoutError:
        jobs.cancel_run(run_id=run_id)
        raise IntegrationRunFailed(
            f"run {run_id} of the {target.job} job did not end within {timeout}; it was cancelled"
        ) from None
    except OperationFailed as exc:
        raise IntegrationRunFailed(f"run {run_id} of the {target.job} job failed: {exc}") from None
    state = run.state
    result = state.result_state if state is not None else None
    outcome = RunOutcome(
        run_id=run_id,
        result=result.value if result is not None else "UNKNOWN",
        message=(state.state_message or "") if state is not None else "",
        page_url=run.run_page_url,
    )
    if result != RunResultState.SUCCESS:
        raise IntegrationRunFailed(
            f"run {run_id} of the {target.job} job ended {outcome.result}, not SUCCESS:"
            f" {outcome.message or 'no message'} (run page: {outcome.page_url})"
        )
    return outcome


def integration_run(outputs_path: Path, job: str, timeout: timedelta) -> RunOutcome:
    """Read the outputs, connect to their workspace and run ``job``."""
    from databricks.sdk import WorkspaceClient

    target = job_target(read_outputs(outputs_path), job)
    try:
        client = WorkspaceClient(host=target.host)
    except ValueError as exc:  # the SDK's word for credentials it cannot find or use
        raise IntegrationRunFailed(
            f"no Databricks credentials for {target.host}: {exc}. Expected DATABRICKS_CLIENT_ID"
            " with GitHub OIDC (DATABRICKS_AUTH_TYPE=github-oidc) or DATABRICKS_CLIENT_SECRET"
        ) from None
    return run_job(client.jobs, target, timeout)
