"""The wheel the jobs install: its name, where it is built, and the path the provider reads.

Pulumi runs the program, and starts every provider plugin, in the folder Pulumi.yaml's
``main`` names (``infra/``), not in the project root (docs/platform.md, "Where Pulumi runs
the program"). The Databricks provider opens a ``databricks.File``'s ``source`` relative to
its own working directory, so the path handed to it is relative to that folder:
``../dist/<code version>/<wheel>``, the same on every machine.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
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


def build_wheel(code_version: str, root: Path = PROJECT_ROOT) -> Path:
    """Build the wheel of the working tree (once per code version) under ``root`` and return
    its path."""
    target = root / planned_wheel(code_version)
    if target.exists():
        return target
    uv = shutil.which("uv") or str(PROJECT_ROOT / ".tools" / "bin" / "uv")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(target.parent), str(PROJECT_ROOT)],
        check=True,
    )
    if not target.exists():
        raise FileNotFoundError(f"uv build did not produce {target}")
    return target
