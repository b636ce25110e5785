"""``mlops integration-run``: the staging job CI runs after ``pulumi up``, read from real
rendered stack outputs, driven through the Databricks SDK's own ``Wait`` with a jobs API
that answers as the workspace would (no workspace is reachable here)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from databricks.sdk.errors import DatabricksError, NotFound, OperationFailed
from databricks.sdk.service._internal import Wait
from databricks.sdk.service.jobs import (
    Run,
    RunLifeCycleState,
    RunNowResponse,
    RunResultState,
    RunState,
)

from mlops.cli import main
from mlops.integration_run import (
    IntegrationRunFailed,
    JobTarget,
    job_target,
    read_outputs,
    run_job,
)
from mlops.render import Render

RUN_ID = 4242
TIMEOUT = timedelta(minutes=3)


@dataclass
class JobsApi:
    """The part of ``WorkspaceClient().jobs`` the integration run uses; ``ends`` is what
    the SDK's waiter does when the run stops being active: return a Run, or raise."""

    ends: Any
    started: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    waited: list[timedelta] = field(default_factory=list)

    def run_now(self, job_id: int) -> Wait[Run]:
        self.started.append(job_id)
        if isinstance(self.ends, DatabricksError):
            raise self.ends  # the API refused to start it

        def wait(timeout: timedelta, callback: Any = None, run_id: int = 0) -> Run:
            self.waited.append(timeout)
            if isinstance(self.ends, BaseException):
                raise self.ends
            return self.ends

        return Wait(wait, response=RunNowResponse(run_id=RUN_ID), run_id=RUN_ID)

    def cancel_run(self, run_id: int) -> None:
        self.cancelled.append(run_id)


def ended(result: RunResultState, message: str = "") -> Run:
    return Run(
        run_id=RUN_ID,
        state=RunState(
            life_cycle_state=RunLifeCycleState.TERMINATED,
            result_state=result,
            state_message=message,
        ),
        run_page_url=f"https://acme.cloud.databricks.com/jobs/1/runs/{RUN_ID}",
    )


@pytest.fixture
def outputs(renders: dict[str, Render], tmp_path: Path) -> Path:
    """What `pulumi stack output --json --stack staging` prints, from the staging render."""
    path = tmp_path / "stack-outputs.json"
    path.write_text(json.dumps(renders["staging"].exports))
    return path


def test_the_target_is_the_staging_training_job_of_the_outputs(
    outputs: Path, renders: dict[str, Render]
) -> None:
    exports = renders["staging"].exports
    target = job_target(read_outputs(outputs), "training")
    assert target == JobTarget(
        host=exports["workspace"]["host"],
        job="training",
        job_id=int(exports["jobs"]["training"]["id"]),
    )


def test_a_successful_run_is_started_once_and_waited_for(outputs: Path) -> None:
    jobs = JobsApi(ends=ended(RunResultState.SUCCESS))
    target = job_target(read_outputs(outputs), "training")
    outcome = run_job(jobs, target, TIMEOUT)
    assert (outcome.run_id, outcome.result) == (RUN_ID, "SUCCESS")
    assert jobs.started == [target.job_id] and jobs.waited == [TIMEOUT]
    assert jobs.cancelled == []


@pytest.mark.parametrize(
    ("ends", "expected", "cancelled"),
    [
        (
            ended(RunResultState.FAILED, "Task Train failed: RMSE above 5"),
            f"run {RUN_ID} of the training job ended FAILED, not SUCCESS: Task Train failed:"
            " RMSE above 5 (run page: https://",
            [],
        ),
        (
            ended(RunResultState.CANCELED),
            f"run {RUN_ID} of the training job ended CANCELED, not SUCCESS: no message",
            [],
        ),
        (
            TimeoutError("timed out after 0:03:00: Running"),
            f"run {RUN_ID} of the training job did not end within 0:03:00; it was cancelled",
            [RUN_ID],
        ),
        (
            OperationFailed("failed to reach TERMINATED or SKIPPED, got INTERNAL_ERROR"),
            f"run {RUN_ID} of the training job failed: failed to reach TERMINATED or SKIPPED",
            [],
        ),
        (
            NotFound("Job 1 does not exist."),
            "the training job (",
            [],
        ),
    ],
    ids=["failed", "canceled", "timed-out", "internal-error", "no-such-job"],
)
def test_any_other_end_fails_with_what_happened(
    outputs: Path, ends: Any, expected: str, cancelled: list[int]
) -> None:
    jobs = JobsApi(ends=ends)
    with pytest.raises(IntegrationRunFailed) as caught:
        run_job(jobs, job_target(read_outputs(outputs), "training"), TIMEOUT)
    assert str(caught.value).startswith(expected)
    assert jobs.cancelled == cancelled


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (None, "does not exist: expected the stack outputs"),
        ("{not json", "is not JSON"),
        ("[]", "holds a list: expected an object"),
        (
            {"workspace": {"host": "https://a.cloud.databricks.com"}, "jobs": {"batch": {}}},
            "the stack outputs have no jobs.training: expected one of batch",
        ),
        (
            {"workspace": {"host": "https://a.cloud.databricks.com"}, "jobs": {"training": {}}},
            "the stack outputs' jobs.training.id is None: expected a job id (digits)",
        ),
        ({"workspace": {}, "jobs": {}}, "the stack outputs' workspace.host is None"),
        ("<directory>", "cannot be read (Is a directory): expected the stack outputs file"),
    ],
    ids=["missing", "not-json", "not-an-object", "no-such-job", "no-id", "no-host", "a-folder"],
)
def test_bad_outputs_are_named_before_anything_starts(
    tmp_path: Path, document: Any, expected: str
) -> None:
    path = tmp_path / "outputs.json"
    if document == "<directory>":
        path.mkdir()
    elif document is not None:
        path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(IntegrationRunFailed) as caught:
        job_target(read_outputs(path), "training")
    assert expected in str(caught.value)


def test_the_command_refuses_bad_flags_and_names_bad_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(
            [
                "integration-run",
                "--outputs",
                "x.json",
                "--job",
                "training",
                "--timeout-minutes",
                "0",
            ]
        )
    assert usage.value.code == 2
    assert "'0' is not a whole number of minutes >= 1" in capsys.readouterr().err
    missing = tmp_path / "none.json"
    assert main(["integration-run", "--outputs", str(missing), "--job", "training"]) == 1
    assert capsys.readouterr().err == (
        f"error: {missing} does not exist: expected the stack outputs, from"
        " `pulumi stack output --json --stack <stack> > FILE`\n"
    )
