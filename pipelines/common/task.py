"""What every job task shares: a context (runtime, Spark, MLflow) and one way to run.

A task is declared once (``pipelines.common.interface.Task``: its params are its flags);
its ``run(params, ctx) -> dict`` gets the parsed params and this context.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mlflow.tracking import MlflowClient
from pyspark.sql import SparkSession

from pipelines.common.errors import PipelineError, UsageError
from pipelines.common.interface import Task
from pipelines.common.mlflow_setup import configure_mlflow
from pipelines.common.runtime import Runtime
from pipelines.common.spark import get_spark
from pipelines.common.store_lock import claim_store

P = TypeVar("P")


@dataclass
class TaskContext:
    """The edges a task may touch. Built once per process and shared by the demo's tasks."""

    runtime: Runtime
    _spark: SparkSession | None = None
    _client: MlflowClient | None = None
    task_values: dict[str, Any] = field(default_factory=dict)
    # Where task values go besides ``task_values``: ``dbutils.jobs.taskValues.set`` when
    # the task runs as a notebook on Databricks (``pipelines.notebook``), else none.
    publisher: Callable[..., None] | None = None

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            self.claim_store()
            self._spark = get_spark(self.runtime)
        return self._spark

    @property
    def mlflow(self) -> MlflowClient:
        if self._client is None:
            self.claim_store()
            self._client = configure_mlflow(self.runtime)
        return self._client

    def claim_store(self) -> None:
        """Take the local store for this process before Spark or MLflow starts on it
        (``pipelines.common.store_lock``); on Databricks there is none."""
        if not self.runtime.on_databricks:
            claim_store(self.runtime.home)

    def set_task_value(self, key: str, value: Any) -> None:
        """Publish a value to the tasks after this one (``pipelines.common.task_values``):
        kept in ``task_values``, and handed to the publisher when there is one."""
        self.task_values[key] = value
        if self.publisher is not None:
            self.publisher(key=key, value=value)


def execute(task: Task[P], argv: Sequence[str], ctx: TaskContext | None = None) -> dict[str, Any]:
    """Parse ``argv`` into the task's typed params and run it; errors propagate."""
    params = task.parse(argv)
    ctx = ctx or TaskContext(Runtime.from_environment())
    return task.run_function()(params, ctx)


def entry_point(task: Task[P], params: P) -> int:
    """Run a task's parsed params as a process: print its result as JSON, or a
    one-paragraph error."""
    started = time.perf_counter()
    try:
        result = task.run_function()(params, TaskContext(Runtime.from_environment()))
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    result = {**result, "seconds": round(time.perf_counter() - started, 2)}
    print(json.dumps(result, default=str, indent=2))
    return 0
