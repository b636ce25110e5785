"""What every job task shares: a context (runtime, Spark, MLflow) and one way to run.

A task module defines a typed ``Params`` dataclass, ``build_parser()`` whose flags map
one-to-one onto ``Params`` fields, and ``run(params, ctx) -> dict``. ``main(argv)`` is the
entry point a Databricks job (or ``mlops run``) calls.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from mlflow.tracking import MlflowClient
from pyspark.sql import SparkSession

from pipelines.common.errors import PipelineError, UsageError
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.mlflow_setup import configure_mlflow
from pipelines.common.runtime import Runtime
from pipelines.common.spark import get_spark

P = TypeVar("P")


@dataclass
class TaskContext:
    """The edges a task may touch. Built once per process and shared by the demo's tasks."""

    runtime: Runtime
    _spark: SparkSession | None = None
    _client: MlflowClient | None = None
    task_values: dict[str, Any] = field(default_factory=dict)
    # Where task values go besides ``task_values``: ``dbutils.jobs.taskValues.set`` when
    # the task runs as a notebook on Databricks (``pipelines.common.notebook``), else none.
    publisher: Callable[..., None] | None = None

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            self._spark = get_spark(self.runtime)
        return self._spark

    @property
    def mlflow(self) -> MlflowClient:
        if self._client is None:
            self._client = configure_mlflow(self.runtime)
        return self._client

    def set_task_value(self, key: str, value: Any) -> None:
        """Publish a value to the tasks after this one (``pipelines.common.task_values``):
        kept in ``task_values``, and handed to the publisher when there is one."""
        self.task_values[key] = value
        if self.publisher is not None:
            self.publisher(key=key, value=value)


def params_from_args(params_type: type[P], namespace: Any) -> P:
    names = {f.name for f in fields(params_type)}  # type: ignore[arg-type]
    return params_type(**{k: v for k, v in vars(namespace).items() if k in names})


def new_parser(prog: str, description: str) -> TaskArgumentParser:
    return TaskArgumentParser(prog=prog, description=description)


def execute(
    argv: Sequence[str],
    build_parser: Callable[[], TaskArgumentParser],
    params_type: type[P],
    run: Callable[[P, TaskContext], dict[str, Any]],
    ctx: TaskContext | None = None,
) -> dict[str, Any]:
    """Parse ``argv`` into typed params and run the task; errors propagate to the caller."""
    namespace = build_parser().parse_args(list(argv))
    params = params_from_args(params_type, namespace)
    validate = getattr(params, "validate", None)
    if validate is not None:
        validate()
    ctx = ctx or TaskContext(Runtime.from_environment())
    return run(params, ctx)


def entry_point(
    build_parser: Callable[[], TaskArgumentParser],
    params_type: type[P],
    run: Callable[[P, TaskContext], dict[str, Any]],
    argv: Sequence[str] | None = None,
) -> int:
    """Run a task as a process: print its result as JSON, or a one-paragraph error."""
    argv = sys.argv[1:] if argv is None else argv
    started = time.perf_counter()
    try:
        result = execute(argv, build_parser, params_type, run)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result = {**result, "seconds": round(time.perf_counter() - started, 2)}
    print(json.dumps(result, default=str, indent=2))
    return 0
