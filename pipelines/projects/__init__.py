"""The model projects, one folder each, found by convention: every package here whose
``__init__`` declares ``PROJECT`` (a ``pipelines.common.project.ModelProject``) is a
project. Adding a project is adding its folder (and a settings block per stack); nothing
here lists them."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache

from pipelines.common.errors import UsageError
from pipelines.common.interface import flag
from pipelines.common.project import ModelProject, TableMap


@cache
def projects() -> dict[str, ModelProject]:
    """Every project, by name."""
    found: dict[str, ModelProject] = {}
    for module in pkgutil.iter_modules(__path__):
        if not module.ispkg:
            continue
        declared = getattr(importlib.import_module(f"{__name__}.{module.name}"), "PROJECT", None)
        if not isinstance(declared, ModelProject):
            continue
        if declared.name != module.name:
            raise TypeError(f"pipelines/projects/{module.name} declares project {declared.name}")
        found[declared.name] = declared
    return dict(sorted(found.items()))


def project(name: str) -> ModelProject:
    """The project ``name``; a ``UsageError`` naming the projects there are otherwise."""
    known = projects()
    if name not in known:
        raise UsageError(
            f"no project '{name}': expected one of {', '.join(known)} (a folder under"
            " pipelines/projects/ declaring PROJECT)."
        )
    return known[name]


def _project_name(text: str) -> str:
    try:
        project(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


@dataclass(frozen=True, kw_only=True)
class ProjectNameParams:
    """The flag of every task that needs to know its project: ``--project``."""

    project: str = flag("the model project, e.g. fare or churn", parse=_project_name)

    @property
    def model_project(self) -> ModelProject:
        return project(self.project)

    def validate(self) -> None:
        """Nothing beyond the flag's own parse (which knows the projects)."""


@dataclass(frozen=True, kw_only=True)
class ProjectParams(ProjectNameParams):
    """The flags of every task that works on a project's tables: which project, and its
    tables by role (all of them, as the jobs of that project pass them)."""

    tables: TableMap = flag(
        "the project's tables by role: role=catalog.schema.table,...",
        parse=TableMap.parse,
        metavar="ROLE=TABLE,...",
    )

    def validate(self) -> None:
        super().validate()
        self.model_project.check_tables(self.tables)
