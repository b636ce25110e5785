"""Run ``infra/__main__.py`` as Pulumi's Python language host does, under the mock engine.

The language host starts the project's virtualenv Python (``runtime.options.virtualenv``,
relative to the folder of Pulumi.yaml) in the folder ``main`` names, passes the stack's
config as JSON in ``PULUMI_CONFIG`` (``"<project>:<key>"`` -> string) with the secret keys in
``PULUMI_CONFIG_SECRET_KEYS``, and its exec shim runs the program with
``runpy.run_path(".")`` (docs/platform.md, "Where Pulumi runs the program"). This module does
the same in a child process, with Pulumi's mock monitor in place of the engine, and writes
what the program registered as JSON.

As a script (the child): ``python language_host.py <project> <stack> <out.json> [program]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class HostRun:
    """What a run of the program registered, and where it ran."""

    cwd: Path
    returncode: int
    stderr: str
    resources: list[dict[str, Any]]


def project_python(root: Path = PROJECT_ROOT) -> Path:
    """The interpreter the language host starts: the project's virtualenv's."""
    import yaml

    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    options = (project.get("runtime") or {}).get("options") or {}
    return root / options.get("virtualenv", "venv") / "bin" / "python"


def run_program(
    stack: str,
    config: dict[str, Any],
    secret_keys: list[str],
    out: Path,
    cwd: Path | None = None,
    program: str = ".",
) -> HostRun:
    """Run the program for ``stack`` with ``config`` as the CLI would pass it, in ``cwd``
    (by default where the CLI runs it: Pulumi.yaml's ``main``)."""
    from infra.wheel import program_dir

    cwd = cwd or program_dir()
    wire = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_", "PYTHONPATH"))
    }
    env |= {
        "PULUMI_CONFIG": json.dumps(wire),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(secret_keys),
    }
    done = subprocess.run(
        [
            str(project_python()),
            str(Path(__file__).resolve()),
            "mlops-stack",
            stack,
            str(out),
            program,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    resources = json.loads(out.read_text()) if out.exists() else []
    return HostRun(cwd=cwd, returncode=done.returncode, stderr=done.stderr, resources=resources)


def _child(project: str, stack: str, out: str, program: str = ".") -> int:
    import runpy
    import warnings

    # The shim's own folder is not the program's: take it off the path, as the language
    # host's exec script is not in the project either.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    import pulumi
    from pulumi.runtime import mocks

    from mlops.render import RecordingMocks  # ids and outputs shaped like the provider's

    recording = RecordingMocks()
    mocks.set_mocks(recording, project=project, stack=stack, preview=True)
    # As the exec shim does before it runs the program.
    runtime = pulumi.runtime
    runtime.set_all_config(runtime.get_config_env(), runtime.get_config_secret_keys_env())
    warnings.simplefilter("ignore", DeprecationWarning)

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(program, run_name="__main__")

    try:
        run()
    finally:
        registered = [
            {"type": typ, "name": name, "inputs": inputs}
            for (typ, name), inputs in recording.inputs.items()
        ]
        Path(out).write_text(json.dumps(registered, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:5]))
