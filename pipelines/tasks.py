"""The job tasks, by the name a Databricks job (or ``mlops run``) calls them."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.common.task import TaskContext

# task name -> module with build_parser(), Params, run() and main()
TASK_MODULES: dict[str, str] = {
    "generate-data": "pipelines.data.task",
    "import-trips": "pipelines.data.import_task",
    "write-features": "pipelines.features.task",
    "train": "pipelines.training.task",
    "validate": "pipelines.validation.task",
    "deploy": "pipelines.deployment.task",
    "rollback": "pipelines.deployment.rollback",
    "batch-inference": "pipelines.inference.task",
    "join-labels": "pipelines.monitoring.labels_task",
    "refresh-metrics": "pipelines.monitoring.refresh_task",
    "check-violation": "pipelines.monitoring.violation_task",
    "monitoring-report": "pipelines.monitoring.report_task",
}


def task_module(name: str) -> ModuleType:
    return importlib.import_module(TASK_MODULES[name])


def run_task(name: str, argv: list[str], ctx: TaskContext) -> dict[str, Any]:
    """Run one task in this process, through its own flag parser."""
    # Imported here so that listing the tasks (the `mlops` command line) stays light.
    from pipelines.common.task import execute

    module = task_module(name)
    return execute(argv, module.build_parser, module.Params, module.run, ctx)
