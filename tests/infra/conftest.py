"""Infra fixtures: every stack rendered once under Pulumi's mock engine."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import pytest

from infra.program import CodePackage
from infra.settings import StackSettings, parse_settings, read_stack_file, stack_file
from mlops.render import RecordingMocks, Render, render_settings, render_stack
from pipelines.projects import projects

STACKS = ("dev", "staging", "prod")
# The projects every committed stack deploys, in order.
PROJECTS = ("fare", "churn")
CODE = CodePackage(
    version="0123456789ab", wheel_file="../dist/0123456789ab/mlops_stack-0.1.0-py3-none-any.whl"
)
# A token in the environment, as CI has one: it must never reach an input or an export.
TOKEN_SENTINEL = "dapi-sentinel-0000000000000000000000000000"


@pytest.fixture(scope="session", autouse=True)
def _quiet_deprecations() -> None:
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_aws\..*")


@pytest.fixture(scope="session")
def renders() -> dict[str, Render]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABRICKS_TOKEN", TOKEN_SENTINEL)
        return {stack: render_stack(stack_file(stack), CODE) for stack in STACKS}


def stack_config(stack: str, **overrides: Any) -> dict[str, Any]:
    """A committed stack file's config with some ``mlops-stack:`` keys replaced (None:
    removed). A project's block (``fare=``, ``churn=``) given as a dict changes the keys it
    names in the committed block (None: removed)."""
    config = read_stack_file(stack_file(stack))
    for key, value in overrides.items():
        full = f"mlops-stack:{key}"
        if value is None:
            config.pop(full, None)
        elif key in projects() and isinstance(value, dict):
            block = copy.deepcopy(config.get(full) or {})
            for name, changed in value.items():
                if changed is None:
                    block.pop(name, None)
                else:
                    block[name] = changed
            config[full] = block
        else:
            config[full] = value
    return config


def settings_for(stack: str, **overrides: Any) -> StackSettings:
    return parse_settings(stack_config(stack, **overrides), stack, f"Pulumi.{stack}.yaml")


def render_with(stack: str, code: CodePackage = CODE, **overrides: Any) -> Render:
    return render_settings(settings_for(stack, **overrides), code)


def stack_path(stack: str) -> Path:
    return stack_file(stack)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the resources the mock engine registers during the test."""
    names: list[str] = []
    original = RecordingMocks.new_resource

    def spy(self: RecordingMocks, args: Any) -> Any:
        names.append(args.name)
        return original(self, args)

    monkeypatch.setattr(RecordingMocks, "new_resource", spy)
    return names
