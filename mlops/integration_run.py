"""The integration run CI makes after ``pulumi up -s staging``: start the job the stack
outputs name, for one project or for each, wait for the runs to end, and succeed only if
every run does.

``mlops integration-run --outputs <pulumi stack output --json> --job training [--project
fare]``. The workspace host and the job ids come from the stack outputs
(``infra/outputs.py``: ``projects.<name>.jobs.<job>.id``); the credentials from the
environment, as for Pulumi (OIDC or OAuth M2M). Without ``--project`` the job of every
project of the outputs is started at once, and all are waited for within the one timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

# The shape of the outputs this reads (infra/outputs.py SCHEMA_VERSION).
OUTPUTS_SCHEMA_VERSION = 2


class IntegrationRunFailed(Exception):
    """The job could not be started, did not end in time, or ended other than SUCCESS."""


@dataclass(frozen=True)
class JobTarget:
    """Which job to run, of which project, and where."""

    host: str
    project: str
    job: str
    job_id: int

    @property
    def label(self) -> str:
        """The job as the messages name it: ``the training job of fare``."""
        return f"the {self.job} job of {self.project}"


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended."""

    run_id: int
    result: str
    message: str
    page_url: str | None
    project: str = ""


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


def job_target(outputs: Mapping[str, Any], job: str, project: str) -> JobTarget:
    """The workspace host and the id of ``projects.<project>.jobs.<job>`` in the outputs."""
    (target,) = job_targets(outputs, job, project)
    return target


def job_targets(
    outputs: Mapping[str, Any], job: str, project: str | None = None
) -> list[JobTarget]:
    """The job ``job`` of ``project``, or of every project of the outputs (None), in the
    outputs' order."""
    host = (outputs.get("workspace") or {}).get("host")
    if not isinstance(host, str) or not host.startswith("https://"):
        raise IntegrationRunFailed(
            f"the stack outputs' workspace.host is {host!r}: expected the workspace URL"
        )
    version = outputs.get("schemaVersion")
    if version != OUTPUTS_SCHEMA_VERSION:
        raise IntegrationRunFailed(
            f"the stack outputs' schemaVersion is {version!r}: expected"
            f" {OUTPUTS_SCHEMA_VERSION}, whose jobs are under projects.<name>.jobs (outputs of"
            " a stack deployed by an older version of the program? pulumi up first)"
        )
    projects = outputs.get("projects") or {}
    if not isinstance(projects, Mapping) or not projects:
        raise IntegrationRunFailed(
            f"the stack outputs' projects is {projects!r}: expected each project's outputs"
        )
    if project is not None and project not in projects:
        raise IntegrationRunFailed(
            f"the stack outputs have no projects.{project}: expected one of {', '.join(projects)}"
        )
    targets = []
    for name in [project] if project is not None else list(projects):
        jobs = (projects[name] or {}).get("jobs") or {}
        if job not in jobs:
            raise IntegrationRunFailed(
                f"the stack outputs have no projects.{name}.jobs.{job}: expected one of"
                f" {', '.join(sorted(jobs))}"
            )
        job_id = (jobs[job] or {}).get("id")
        try:
            targets.append(JobTarget(host=host, project=name, job=job, job_id=int(str(job_id))))
        except ValueError:
            raise IntegrationRunFailed(
                f"the stack outputs' projects.{name}.jobs.{job}.id is {job_id!r}: expected a"
                " job id (digits)"
            ) from None
    return targets


def run_job(jobs: Any, target: JobTarget, timeout: timedelta) -> RunOutcome:
    """Start ``target`` with the Databricks SDK's jobs API (``WorkspaceClient().jobs``) and
    wait for it. A run still going at ``timeout`` is cancelled, so no integration run is
    left running behind a failed workflow."""
    (outcome,) = run_jobs(jobs, [target], timeout)
    return outcome


def run_jobs(jobs: Any, targets: Sequence[JobTarget], timeout: timedelta) -> list[RunOutcome]:
    """Start every target at once, then wait for each within ``timeout`` from the start.
    Every run still going when one fails or time is up is cancelled. Raises
    ``IntegrationRunFailed`` naming each run that did not end SUCCESS."""
    from databricks.sdk.errors import DatabricksError, OperationFailed
    from databricks.sdk.service.jobs import RunResultState

    started: list[tuple[JobTarget, Any]] = []
    for target in targets:
        try:
            waiter = jobs.run_now(job_id=target.job_id)
        except DatabricksError as exc:
            _cancel(jobs, [w.run_id for _, w in started])
            raise IntegrationRunFailed(
                f"{target.label} ({target.job_id}) on {target.host} could not be started: {exc}"
            ) from None
        print(f"{target.label} ({target.job_id}): started run {waiter.run_id}", flush=True)
        started.append((target, waiter))
    deadline = time.monotonic() + timeout.total_seconds()
    outcomes: list[RunOutcome] = []
    failures: list[str] = []
    pending = list(started)
    while pending:
        # The first wait is the whole timeout; each later one what is left of it.
        left = (
            timeout
            if len(pending) == len(started)
            else timedelta(seconds=max(deadline - time.monotonic(), 0))
        )
        target, waiter = pending.pop(0)
        run_id = waiter.run_id
        try:
            run = waiter.result(timeout=left)
        except TimeoutError:
            _cancel(jobs, [run_id, *(w.run_id for _, w in pending)])
            failures.append(
                f"run {run_id} of {target.label} did not end within {timeout}; it was cancelled"
            )
            failures += [f"run {w.run_id} of {t.label} was cancelled with it" for t, w in pending]
            break
        except OperationFailed as exc:
            failures.append(f"run {run_id} of {target.label} failed: {exc}")
            continue
        state = run.state
        result = state.result_state if state is not None else None
        outcome = RunOutcome(
            run_id=run_id,
            result=result.value if result is not None else "UNKNOWN",
            message=(state.state_message or "") if state is not None else "",
            page_url=run.run_page_url,
            project=target.project,
        )
        outcomes.append(outcome)
        if result != RunResultState.SUCCESS:
            failures.append(
                f"run {run_id} of {target.label} ended {outcome.result}, not SUCCESS:"
                f" {outcome.message or 'no message'} (run page: {outcome.page_url})"
            )
    if failures:
        raise IntegrationRunFailed("; ".join(failures))
    return outcomes


def _cancel(jobs: Any, run_ids: Sequence[int]) -> None:
    for run_id in run_ids:
        jobs.cancel_run(run_id=run_id)


def integration_run(
    outputs_path: Path, job: str, timeout: timedelta, project: str | None = None
) -> list[RunOutcome]:
    """Read the outputs, connect to their workspace and run ``job`` of ``project`` (None:
    of every project)."""
    from databricks.sdk import WorkspaceClient

    targets = job_targets(read_outputs(outputs_path), job, project)
    host = targets[0].host
    try:
        client = WorkspaceClient(host=host)
    except ValueError as exc:  # the SDK's word for credentials it cannot find or use
        raise IntegrationRunFailed(
            f"no Databricks credentials for {host}: {exc}. Expected DATABRICKS_CLIENT_ID"
            " with GitHub OIDC (DATABRICKS_AUTH_TYPE=github-oidc) or DATABRICKS_CLIENT_SECRET"
        ) from None
    return run_jobs(client.jobs, targets, timeout)
