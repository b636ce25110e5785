"""Task values: what a job task hands to the tasks after it, declared once for both sides.

On Databricks only a Python notebook task may set a task value; any task may read one
through a dynamic value reference ``{{tasks.<task key>.values.<name>}}``, which the run
replaces by the value as a string (a boolean as ``true``/``false``), and a condition task
compares such strings (docs/platform.md, "Task values"). So the tasks that publish values
run as thin notebooks around their entry points (``pipelines.notebook``), the infra
builds its references and conditions from the names here, and the local demo resolves the
same references and evaluates the same conditions with the functions below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MODEL_VERSION = "model_version"
IS_METRIC_VIOLATED = "is_metric_violated"

_REFERENCE = re.compile(r"\{\{tasks\.([A-Za-z0-9_-]+)\.values\.([A-Za-z0-9_]+)\}\}")


class UnresolvedTaskValue(LookupError):
    """A reference to a task value that no earlier task published."""


@dataclass(frozen=True)
class TaskValueRef:
    """One published value of one task of a job: ``task_key`` is the task's key in its job,
    ``name`` the value's name."""

    task_key: str
    name: str

    @property
    def reference(self) -> str:
        """The dynamic value reference a later task's parameter or a condition uses."""
        return f"{{{{tasks.{self.task_key}.values.{self.name}}}}}"


# The two hand-offs of the stack's jobs, declared once: the training job's Train task hands
# the version it registered to ModelValidation and ModelDeployment; the retraining job's
# CheckViolation task hands its verdict to the IsViolated condition. The job components take
# these task keys from here, and the local demo resolves the same references.
TRAINED_VERSION = TaskValueRef("Train", MODEL_VERSION)
METRIC_VIOLATED = TaskValueRef("CheckViolation", IS_METRIC_VIOLATED)


def as_reference_text(value: Any) -> str:
    """A published value as a reference to it reads: strings as they are, anything else
    as its JSON text (``True`` -> ``true``, ``3`` -> ``3``)."""
    return value if isinstance(value, str) else json.dumps(value)


def resolve(text: str, published: Mapping[str, Mapping[str, Any]]) -> str:
    """Replace every task-value reference in ``text`` by the value the task published
    (``published``: task key -> name -> value). Locally a reference nothing published is an
    error, not a literal, so that a broken hand-off fails the demo and the tests."""

    def value(match: re.Match[str]) -> str:
        task_key, name = match.group(1), match.group(2)
        if name not in published.get(task_key, {}):
            raise UnresolvedTaskValue(
                f"{match.group(0)}: task {task_key} published no value {name!r}; it published"
                f" {sorted(published.get(task_key, {})) or 'nothing'}"
            )
        return as_reference_text(published[task_key][name])

    return _REFERENCE.sub(value, text)


def references(text: str) -> list[TaskValueRef]:
    """The task-value references in ``text``."""
    return [TaskValueRef(task, name) for task, name in _REFERENCE.findall(text)]


# Condition tasks: EQUAL_TO and NOT_EQUAL compare strings, the others numbers.
_STRING_OPS = {"EQUAL_TO": lambda a, b: a == b, "NOT_EQUAL": lambda a, b: a != b}
_NUMBER_OPS = {
    "GREATER_THAN": lambda a, b: a > b,
    "GREATER_THAN_OR_EQUAL": lambda a, b: a >= b,
    "LESS_THAN": lambda a, b: a < b,
    "LESS_THAN_OR_EQUAL": lambda a, b: a <= b,
}
CONDITION_OPS = (*_STRING_OPS, *_NUMBER_OPS)


def condition_holds(left: str, op: str, right: str) -> bool:
    """What a Databricks condition task decides for two resolved operands."""
    if op in _STRING_OPS:
        return _STRING_OPS[op](left, right)
    if op in _NUMBER_OPS:
        return _NUMBER_OPS[op](float(left), float(right))
    raise ValueError(f"unknown condition operator {op!r}: expected one of {CONDITION_OPS}")
