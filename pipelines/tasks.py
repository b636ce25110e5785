"""The job tasks, by the name a Databricks job (or ``mlops run``) calls them.

The console scripts are the one registry: each ``mlops-<task>`` script of the
``mlops-stack`` distribution points at a ``Task``'s ``main``
(``pipelines.<stage>.params:<TASK>.main``), so the tasks here are read from the installed
entry points, the same on a laptop and on a cluster that installed the wheel.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from functools import cache
from typing import TYPE_CHECKING, Any

from pipelines.common.interface import Task

if TYPE_CHECKING:
    from pipelines.common.task import TaskContext

DISTRIBUTION = "mlops-stack"
SCRIPT_PREFIX = "mlops-"


@cache
def tasks() -> dict[str, Task[Any]]:
    """Every task, by name, from the distribution's ``mlops-*`` console scripts."""
    found: dict[str, Task[Any]] = {}
    for entry in importlib.metadata.distribution(DISTRIBUTION).entry_points:
        if entry.group != "console_scripts" or not entry.name.startswith(SCRIPT_PREFIX):
            continue
        obj: Any = importlib.import_module(entry.module)
        for part in entry.attr.split(".")[:-1]:  # "TRAIN.main" -> the Task TRAIN
            obj = getattr(obj, part)
        if not isinstance(obj, Task) or obj.console_script != entry.name:
            raise TypeError(f"console script {entry.name} = {entry.value} is not a Task's main")
        found[obj.name] = obj
    return dict(sorted(found.items()))


def task(name: str) -> Task[Any]:
    return tasks()[name]


def run_task(name: str, argv: list[str], ctx: TaskContext) -> dict[str, Any]:
    """Run one task in this process, through its own flag parser."""
    # Imported here so that listing the tasks (the `mlops` command line) stays light.
    from pipelines.common.task import execute

    return execute(task(name), argv, ctx)
