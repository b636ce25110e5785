"""Rule: the Pulumi CLI runs the program, and starts the providers, in the folder Pulumi.yaml's
``main`` names, so every local path a resource hands to a provider must resolve from there.

Sources: pulumi/pulumi ``pkg/engine/project.go`` (``getPwdMain``: when main is a folder, it
becomes pwd), the plugin host starting providers with that pwd as working directory, the
Python language host's exec shim (``os.chdir(pwd)``, ``runpy.run_path(".")``, config in
``PULUMI_CONFIG``); databricks/terraform-provider-databricks ``storage/resource_file.go``
(``source`` opened with ``os.Open``, relative to the provider's working directory).
docs/platform.md, "Where Pulumi runs the program".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.settings import parse_settings
from infra.wheel import PROJECT_ROOT, build_wheel, program_dir, wheel_source
from mlops.render import render_settings
from pipelines.common.code_version import code_version
from tests.infra.conftest import stack_config
from tests.platform.language_host import HostRun, run_program

FILLED_IN = {
    "workspaceHost": "https://dbc-1234abcd-5678.cloud.databricks.com",
    "principals": {
        "deployer": "6f1c2a34-8b9d-4e0f-a1b2-c3d4e5f60718",
        "runner": "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
    },
    "sqlWarehouseId": "0123456789abcdef",
}
SECRET = "dapi-should-stay-secret"
# Inputs that name a file on the machine running the CLI, per resource type.
LOCAL_PATH_INPUTS = {
    "databricks:index/file:File": "source",
    "databricks:index/notebook:Notebook": "source",
    "databricks:index/workspaceFile:WorkspaceFile": "source",
}


def filled_config() -> dict[str, Any]:
    config = stack_config("prod", **FILLED_IN)
    config["databricks:token"] = SECRET
    return config


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> HostRun:
    build_wheel(code_version())
    out = tmp_path_factory.mktemp("host") / "registered.json"
    return run_program("prod", filled_config(), ["databricks:token"], out)


def test_the_cli_runs_the_program_in_the_main_folder(cli_run: HostRun) -> None:
    """Rule: pwd is ``main`` (pulumi ``getPwdMain``), here ``infra/``, not the project root."""
    assert cli_run.returncode == 0, cli_run.stderr[-3000:]
    assert cli_run.cwd == PROJECT_ROOT / "infra" == program_dir()
    assert any(r["type"] == "databricks:index/job:Job" for r in cli_run.resources)


def test_every_local_path_input_resolves_from_the_providers_working_directory(
    cli_run: HostRun,
) -> None:
    """Rule: the provider opens ``source`` relative to its own working directory, the
    program's (``storage/resource_file.go``); the path is the same on every machine."""
    found = []
    for resource in cli_run.resources:
        key = LOCAL_PATH_INPUTS.get(resource["type"])
        if key and resource["inputs"].get(key):
            path = resource["inputs"][key]
            found.append(path)
            assert not Path(path).is_absolute(), f"{resource['name']}: {path} is machine-specific"
            assert (cli_run.cwd / path).is_file(), f"{resource['name']}: {path} not found"
    assert found == [wheel_source(code_version())]
    assert (cli_run.cwd / found[0]).samefile(build_wheel(code_version()))


def test_no_secret_of_the_config_reaches_an_input(cli_run: HostRun) -> None:
    """Rule: a secret config value passed in PULUMI_CONFIG stays out of every input."""
    assert SECRET not in json.dumps(cli_run.resources)


def test_mlops_plan_registers_what_the_cli_run_registers(cli_run: HostRun) -> None:
    """``mlops plan`` renders in-process; it must send every provider the same inputs as the
    program run the CLI's way, paths included."""
    settings = parse_settings(stack_config("prod", **FILLED_IN), "prod", "Pulumi.prod.yaml")
    from infra.program import CodePackage

    version = code_version()
    render = render_settings(settings, CodePackage(version, wheel_source(version)))
    planned = {(r.type, r.name): r.inputs for r in render.resources if r.inputs}
    ran = {(r["type"], r["name"]): r["inputs"] for r in cli_run.resources if r["inputs"]}
    assert set(planned) == set(ran)
    for key, inputs in ran.items():
        assert json.loads(json.dumps(planned[key], default=str)) == inputs, key


def test_run_from_the_project_root_the_program_refuses_before_registering(
    tmp_path: Path,
) -> None:
    """The same program started elsewhere than ``main`` would hand the provider a path it
    cannot open: it stops, naming the wheel and the folder, before any resource."""
    out = tmp_path / "out.json"
    run = run_program(
        "prod", filled_config(), ["databricks:token"], out, cwd=PROJECT_ROOT, program="infra"
    )
    assert run.returncode != 0
    assert "cannot be found from" in run.stderr and wheel_source(code_version()) in run.stderr
    assert run.resources == [] or all(
        r["type"].startswith("pulumi:providers:") for r in run.resources
    )
