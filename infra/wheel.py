"""The wheel the jobs install: its name, and building it before a real deployment."""

from __future__ import annotations

import importlib.metadata
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
    """Where the wheel of this code version is built, relative to the project root (where
    Pulumi runs), so that the plan does not differ between a laptop and CI."""
    return Path("dist") / code_version / wheel_name()


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
