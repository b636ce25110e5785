"""Running a stack's job specs on a laptop: the same tasks, flags, dependencies, task values
and conditions a Databricks job run has, in this process.

``run_job`` walks a ``JobSpec``'s tasks in their order (each after the ones it depends
on), substitutes the dynamic value references Databricks would (``{{job.parameters.*}}``,
``{{job.start_time.iso_date}}``, ``{{job.run_id}}``, ``{{tasks.<key>.values.<name>}}``),
runs wheel and notebook tasks through their own parsers, evaluates condition tasks as a
condition task does, and hands a run-job task's job to ``start_job``. A task whose
dependency failed or was skipped, or whose condition outcome did not hold, is skipped, as
with Databricks' default "all succeeded" dependencies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.components.scheduled_job import (
    ConditionTaskSpec,
    Dependency,
    JobSpec,
    RunJobTaskSpec,
    TaskSpec,
)
from pipelines.common.errors import PipelineError
from pipelines.common.task import TaskContext
from pipelines.common.task_values import condition_holds, resolve
from pipelines.tasks import run_task

_JOB_VALUE = re.compile(r"\{\{job\.([a-z_.]+)\}\}")


@dataclass
class TaskRun:
    """What became of one task: ``succeeded``, ``failed`` or ``skipped``, and how long it
    ran (wall seconds; a run-job task's include the run it started)."""

    key: str
    state: str
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0


@dataclass
class JobRun:
    job: str
    parameters: dict[str, str]
    tasks: list[TaskRun] = field(default_factory=list)

    def task(self, key: str) -> TaskRun:
        (found,) = [t for t in self.tasks if t.key == key]
        return found

    @property
    def succeeded(self) -> bool:
        return all(t.state != "failed" for t in self.tasks)

    @property
    def seconds(self) -> float:
        """Wall seconds of the run: its tasks one after another."""
        return sum(t.seconds for t in self.tasks)


def job_parameters(spec: JobSpec, overrides: Mapping[str, str]) -> dict[str, str]:
    """The run's job parameters: the spec's defaults, ``overrides`` on top."""
    unknown = sorted(set(overrides) - {p.name for p in spec.parameters})
    if unknown:
        raise ValueError(f"job {spec.key} has no parameter {', '.join(unknown)}")
    return {p.name: overrides.get(p.name, p.default) for p in spec.parameters}


def substitute(text: str, parameters: Mapping[str, str], run_id: str, start_date: str) -> str:
    """``{{job.*}}`` references as Databricks fills them in for this run."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("parameters."):
            return substitute(parameters[name.removeprefix("parameters.")], {}, run_id, start_date)
        if name == "start_time.iso_date":
            return start_date
        if name == "run_id":
            return run_id
        raise ValueError(f"no local value for {{{{job.{name}}}}}")

    return _JOB_VALUE.sub(value, text)


def run_job(
    spec: JobSpec,
    ctx: TaskContext,
    overrides: Mapping[str, str],
    *,
    start_job: Callable[[RunJobTaskSpec, dict[str, str]], JobRun] | None = None,
    localize: Callable[[str, str], str] = lambda flag, value: value,
    on_task: Callable[[TaskRun], None] | None = None,
    run_id: str = "local",
) -> JobRun:
    """Run ``spec`` for the job parameters ``overrides``; ``localize(flag, value)`` maps a
    task parameter to its local value (e.g. table names), ``on_task`` sees each task end."""
    parameters = job_parameters(spec, overrides)
    start_date = parameters.get("run_date", "")
    run = JobRun(spec.key, parameters)
    published: dict[str, dict[str, Any]] = {}
    outcome: dict[str, str] = {}  # condition task key -> "true" / "false"
    states: dict[str, str] = {}

    def ready(depends_on: tuple[str | Dependency, ...]) -> bool:
        for after in depends_on:
            key = after if isinstance(after, str) else after.task_key
            if states.get(key) != "succeeded":
                return False
            wanted = after.outcome if isinstance(after, Dependency) else None
            if wanted is not None and outcome.get(key) != wanted:
                return False
        return True

    for task in spec.tasks:
        began = time.perf_counter()
        if not ready(task.depends_on):
            done = TaskRun(task.key, "skipped")
        elif isinstance(task, ConditionTaskSpec):
            left = resolve(substitute(task.left, parameters, run_id, start_date), published)
            right = resolve(substitute(task.right, parameters, run_id, start_date), published)
            holds = condition_holds(left, task.op, right)
            outcome[task.key] = "true" if holds else "false"
            done = TaskRun(task.key, "succeeded", {"outcome": outcome[task.key]})
        elif isinstance(task, RunJobTaskSpec):
            if start_job is None:
                raise ValueError(f"task {task.key} starts a job, and no start_job was given")
            values = {
                k: substitute(v, parameters, run_id, start_date)
                for k, v in task.job_parameters.items()
            }
            started = start_job(task, values)
            done = TaskRun(
                task.key, "succeeded" if started.succeeded else "failed", {"run": started}
            )
        else:
            done = _run_task(task, ctx, parameters, run_id, start_date, published, localize)
            if done.state == "succeeded":
                published[task.key] = dict(ctx.task_values)
        done.seconds = time.perf_counter() - began
        states[task.key] = done.state
        run.tasks.append(done)
        if on_task is not None:
            on_task(done)
    return run


def _run_task(
    task: TaskSpec,
    ctx: TaskContext,
    parameters: Mapping[str, str],
    run_id: str,
    start_date: str,
    published: dict[str, dict[str, Any]],
    localize: Callable[[str, str], str],
) -> TaskRun:
    argv: list[str] = []
    for flag, value in task.parameters.items():
        text = resolve(substitute(value, parameters, run_id, start_date), published)
        argv += [f"--{flag}", localize(flag, text)]
    ctx.task_values.clear()
    try:
        result = run_task(task.task.name, argv, ctx)
    except PipelineError as failure:
        return TaskRun(task.key, "failed", error=str(failure))
    return TaskRun(task.key, "succeeded", result)
