"""``mlops integration-run``: the staging jobs CI runs after ``pulumi up`` (one project's, or
every project's at once), read from real rendered stack outputs, driven through the
Databricks SDK's own ``Wait`` with a jobs API that answers as the workspace would (no
workspace is reachable here)."""

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
    job_targets,
    read_outputs,
    run_job,
    run_jobs,
)
from mlops.render import Render

RUN_ID = 4242
TIMEOUT = timedelta(minutes=3)


@dataclass
class JobsApi:
    """The part of ``WorkspaceClient().jobs`` the integration run uses; ``ends`` is what
    the SDK's waiter does when the run stops being active: return a Run, or raise (one
    for every job, or by job id). Run ids are RUN_ID, RUN_ID + 1, ... in start order."""

    ends: Any
    started: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    waited: list[timedelta] = field(default_factory=list)

    def run_now(self, job_id: int) -> Wait[Run]:
        ends = self.ends.get(job_id) if isinstance(self.ends, dict) else self.ends
        if isinstance(ends, DatabricksError):
            raise ends  # the API refused to start it
        run_id = RUN_ID + len(self.started)
        self.started.append(job_id)

        def wait(timeout: timedelta, callback: Any = None, run_id: int = 0) -> Run:
            self.waited.append(timeout)
            if isinstance(ends, BaseException):
                raise ends
            return ends

        return Wait(wait, response=RunNowResponse(run_id=run_id), run_id=run_id)

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


def _job_id(exports: dict, project: str, job: str = "training") -> int:
    return int(exports["projects"][project]["jobs"][job]["id"])


def test_the_target_is_the_staging_training_job_of_the_project(
    outputs: Path, renders: dict[str, Render]
) -> None:
    exports = renders["staging"].exports
    for project in ("fare", "churn"):
        target = job_target(read_outputs(outputs), "training", project)
        assert target == JobTarget(
            host=exports["workspace"]["host"],
            project=project,
            job="training",
            job_id=_job_id(exports, project),
        )


def test_without_a_project_every_projects_job_is_a_target(
    outputs: Path, renders: dict[str, Render]
) -> None:
    exports = renders["staging"].exports
    targets = job_targets(read_outputs(outputs), "batchInference")
    assert [(t.project, t.job_id) for t in targets] == [
        ("fare", _job_id(exports, "fare", "batchInference")),
        ("churn", _job_id(exports, "churn", "batchInference")),
    ]


def test_a_successful_run_is_started_once_and_waited_for(outputs: Path) -> None:
    jobs = JobsApi(ends=ended(RunResultState.SUCCESS))
    target = job_target(read_outputs(outputs), "training", "fare")
    outcome = run_job(jobs, target, TIMEOUT)
    assert (outcome.run_id, outcome.result, outcome.project) == (RUN_ID, "SUCCESS", "fare")
    assert jobs.started == [target.job_id] and jobs.waited == [TIMEOUT]
    assert jobs.cancelled == []


def test_every_projects_run_is_started_before_any_is_waited_for(outputs: Path) -> None:
    jobs = JobsApi(ends=ended(RunResultState.SUCCESS))
    targets = job_targets(read_outputs(outputs), "training")
    outcomes = run_jobs(jobs, targets, TIMEOUT)
    assert [o.project for o in outcomes] == ["fare", "churn"]
    assert jobs.started == [t.job_id for t in targets]
    # The first wait may take the whole timeout; the second only what is left of it.
    assert jobs.waited[0] == TIMEOUT and jobs.waited[1] <= TIMEOUT
    assert jobs.cancelled == []


def test_one_projects_failure_fails_the_run_and_names_it(
    outputs: Path, renders: dict[str, Render]
) -> None:
    exports = renders["staging"].exports
    fare, churn = _job_id(exports, "fare"), _job_id(exports, "churn")
    jobs = JobsApi(ends={fare: ended(RunResultState.SUCCESS), churn: ended(RunResultState.FAILED)})
    with pytest.raises(IntegrationRunFailed) as caught:
        run_jobs(jobs, job_targets(read_outputs(outputs), "training"), TIMEOUT)
    message = str(caught.value)
    assert message.startswith(
        f"run {RUN_ID + 1} of the training job of churn ended FAILED, not SUCCESS"
    )
    assert "fare" not in message


def test_a_timeout_cancels_every_run_still_going(outputs: Path) -> None:
    jobs = JobsApi(ends=TimeoutError("timed out"))
    with pytest.raises(IntegrationRunFailed) as caught:
        run_jobs(jobs, job_targets(read_outputs(outputs), "training"), TIMEOUT)
    assert jobs.cancelled == [RUN_ID, RUN_ID + 1]
    assert str(caught.value) == (
        f"run {RUN_ID} of the training job of fare did not end within 0:03:00; it was"
        f" cancelled; run {RUN_ID + 1} of the training job of churn was cancelled with it"
    )


def test_a_job_that_cannot_be_started_cancels_those_started_before(
    outputs: Path, renders: dict[str, Render]
) -> None:
    exports = renders["staging"].exports
    fare, churn = _job_id(exports, "fare"), _job_id(exports, "churn")
    jobs = JobsApi(ends={fare: ended(RunResultState.SUCCESS), churn: NotFound("no such job")})
    with pytest.raises(IntegrationRunFailed) as caught:
        run_jobs(jobs, job_targets(read_outputs(outputs), "training"), TIMEOUT)
    assert str(caught.value).startswith(f"the training job of churn ({churn}) on https://")
    assert jobs.cancelled == [RUN_ID]


@pytest.mark.parametrize(
    ("ends", "expected", "cancelled"),
    [
        (
            ended(RunResultState.FAILED, "Task Train failed: RMSE above 5"),
            f"run {RUN_ID} of the training job of fare ended FAILED, not SUCCESS: Task Train"
            " failed: RMSE above 5 (run page: https://",
            [],
        ),
        (
            ended(RunResultState.CANCELED),
            f"run {RUN_ID} of the training job of fare ended CANCELED, not SUCCESS: no message",
            [],
        ),
        (
            TimeoutError("timed out after 0:03:00: Running"),
            f"run {RUN_ID} of the training job of fare did not end within 0:03:00; it was"
            " cancelled",
            [RUN_ID],
        ),
        (
            OperationFailed("failed to reach TERMINATED or SKIPPED, got INTERNAL_ERROR"),
            f"run {RUN_ID} of the training job of fare failed: failed to reach TERMINATED or"
            " SKIPPED",
            [],
        ),
        (
            NotFound("Job 1 does not exist."),
            "the training job of fare (",
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
        run_job(jobs, job_target(read_outputs(outputs), "training", "fare"), TIMEOUT)
    assert str(caught.value).startswith(expected)
    assert jobs.cancelled == cancelled


HOST = {"host": "https://a.cloud.databricks.com"}


def _outputs(projects: Any, version: Any = 2) -> dict:
    return {"schemaVersion": version, "workspace": HOST, "projects": projects}


@pytest.mark.parametrize(
    ("document", "project", "expected"),
    [
        (None, "fare", "does not exist: expected the stack outputs"),
        ("{not json", "fare", "is not JSON"),
        ("[]", "fare", "holds a list: expected an object"),
        (
            _outputs({"fare": {"jobs": {"batch": {}}}}),
            "fare",
            "the stack outputs have no projects.fare.jobs.training: expected one of batch",
        ),
        (
            _outputs({"fare": {"jobs": {"training": {}}}}),
            "fare",
            "the stack outputs' projects.fare.jobs.training.id is None: expected a job id (digits)",
        ),
        (
            _outputs({"fare": {"jobs": {"training": {"id": "1"}}}}),
            "churn",
            "the stack outputs have no projects.churn: expected one of fare",
        ),
        (
            _outputs({"fare": {"jobs": {"training": {"id": "1"}}}, "churn": {"jobs": {}}}),
            None,
            "the stack outputs have no projects.churn.jobs.training: expected one of ",
        ),
        (_outputs({}), None, "the stack outputs' projects is {}: expected each project's"),
        (
            {"workspace": HOST, "jobs": {"training": {"id": "1"}}},
            "fare",
            "the stack outputs' schemaVersion is None: expected 2, whose jobs are under"
            " projects.<name>.jobs",
        ),
        ({"workspace": {}, "projects": {}}, "fare", "the stack outputs' workspace.host is None"),
        ("<directory>", "fare", "cannot be read (Is a directory): expected the stack outputs file"),
    ],
    ids=[
        "missing",
        "not-json",
        "not-an-object",
        "no-such-job",
        "no-id",
        "no-such-project",
        "a-project-without-the-job",
        "no-projects",
        "the-old-shape",
        "no-host",
        "a-folder",
    ],
)
def test_bad_outputs_are_named_before_anything_starts(
    tmp_path: Path, document: Any, project: str | None, expected: str
) -> None:
    path = tmp_path / "outputs.json"
    if document == "<directory>":
        path.mkdir()
    elif document is not None:
        path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(IntegrationRunFailed) as caught:
        job_targets(read_outputs(path), "training", project)
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
    capsys.readouterr()
    flags = ["--outputs", str(missing), "--job", "training", "--project", "churn"]
    assert main(["integration-run", *flags]) == 1
    assert capsys.readouterr().err == (
        f"error: {missing} does not exist: expected the stack outputs, from"
        " `pulumi stack output --json --stack <stack> > FILE`\n"
    )
