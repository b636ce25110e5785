"""The wheel the jobs install: its name, where it is built, and the path the provider reads.

Pulumi runs the program, and starts every provider plugin, in the folder Pulumi.yaml's
``main`` names (``infra/``), not in the project root (docs/platform.md, "Where Pulumi runs
the program"). The Databricks provider opens a ``databricks.File``'s ``source`` relative to
its own working directory, so the path handed to it is relative to that folder:
``../dist/<code version>/<wheel>``, the same on every machine.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DISTRIBUTION = "mlops-stack"
PACKAGE = "mlops_stack"  # the name python_wheel_task looks the entry points up by
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def wheel_name() -> str:
    version = importlib.metadata.version(DISTRIBUTION)
    return f"{PACKAGE}-{version}-py3-none-any.whl"


def planned_wheel(code_version: str) -> Path:
    """Where the wheel of this code version is built, relative to the project root."""
    return Path("dist") / code_version / wheel_name()


def program_dir(root: Path = PROJECT_ROOT) -> Path:
    """The folder the Pulumi CLI runs the program and the providers in: ``main`` of
    Pulumi.yaml (a folder), or the project root when ``main`` is not set."""
    import yaml

    project = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
    main = project.get("main")
    return (root / main).resolve() if main else root


def wheel_source(code_version: str, root: Path = PROJECT_ROOT) -> str:
    """The wheel's path as the Databricks provider opens it: relative to the program's
    folder, in POSIX form, so that the plan is the same on a laptop and in CI."""
    built = root / planned_wheel(code_version)
    return Path(os.path.relpath(built, program_dir(root))).as_posix()


JOB_PACKAGE = "pipelines"  # the only package the jobs run (the wheel carries nothing else)


def job_project(root: Path = PROJECT_ROOT) -> str:
    """The ``pyproject.toml`` of the jobs' wheel, derived from the project's own: the same
    name, version and runtime dependencies, the task console scripts (every ``mlops-*``
    script, not the ``mlops`` command) and the ``pipelines`` package alone, so a cluster
    installs what the jobs run and nothing of the Pulumi program or the orchestrators."""
    import tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    scripts = {k: v for k, v in project["scripts"].items() if k.startswith("mlops-")}
    lines = [
        "[project]",
        f"name = {json.dumps(project['name'])}",
        f"version = {json.dumps(project['version'])}",
        f"description = {json.dumps(project['description'])}",
        f"requires-python = {json.dumps(project['requires-python'])}",
        f"dependencies = {json.dumps(project['dependencies'])}",
        "",
        "[project.scripts]",
        *(f"{json.dumps(name)} = {json.dumps(target)}" for name, target in scripts.items()),
        "",
        "[build-system]",
        'requires = ["setuptools>=70"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[tool.setuptools.packages.find]",
        f'include = ["{JOB_PACKAGE}*"]',
        "",
    ]
    return "\n".join(lines)


def build_wheel(code_version: str, root: Path = PROJECT_ROOT) -> Path:
    """Build the jobs' wheel of the working tree (once per code version) under ``root`` and
    return its path: ``pipelines/`` and the derived ``job_project`` in a scratch folder, so
    the wheel holds exactly the code ``code_version`` hashes."""
    target = root / planned_wheel(code_version)
    if target.exists():
        return target
    uv = shutil.which("uv") or str(PROJECT_ROOT / ".tools" / "bin" / "uv")
    with tempfile.TemporaryDirectory(prefix="mlops-wheel-") as scratch:
        source = Path(scratch)
        shutil.copytree(
            PROJECT_ROOT / JOB_PACKAGE,
            source / JOB_PACKAGE,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        (source / "pyproject.toml").write_text(job_project(PROJECT_ROOT))
        subprocess.run(
            [uv, "build", "--wheel", "--out-dir", str(target.parent), str(source)],
            check=True,
        )
    if not target.exists():
        raise FileNotFoundError(f"uv build did not produce {target}")
    return target
