"""What `pulumi up` runs (infra/__main__.py) and the wheel it uploads. The program run the
way the CLI runs it, from infra/, is in tests/platform/test_where_pulumi_runs_the_program.py."""

from __future__ import annotations

import json
import runpy
import zipfile
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import config as runtime_config

from infra.settings import InvalidStackConfig
from infra.wheel import PROJECT_ROOT, build_wheel, wheel_name
from mlops.render import RecordingMocks
from pipelines.common.code_version import code_version
from tests.infra.conftest import stack_config
from tests.infra.test_task_contract import console_scripts

MAIN = PROJECT_ROOT / "infra" / "__main__.py"
FILLED_IN = {
    "workspaceHost": "https://dbc-1234abcd-5678.cloud.databricks.com",
    "principals": {
        "deployer": "6f1c2a34-8b9d-4e0f-a1b2-c3d4e5f60718",
        "runner": "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
    },
}


@pytest.fixture(scope="module")
def wheel() -> Path:
    return build_wheel(code_version())


def run_main(stack: str, config: dict[str, Any], secret_keys: list[str]) -> dict[str, Any]:
    """Run infra/__main__.py as the Pulumi CLI would, under the mock engine."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="mlops-stack", stack=stack, preview=True)
    wire = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    runtime_config.set_all_config(wire, secret_keys)

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(MAIN), run_name="__main__")

    try:
        program()
    finally:
        runtime_config.set_all_config({}, [])
    return {name: inputs for (_, name), inputs in mocks.inputs.items()}


def test_the_wheel_holds_every_task_entry_point_and_no_spark_or_pulumi(wheel: Path) -> None:
    assert wheel.name == wheel_name()
    assert wheel.parent.name == code_version()
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_points = archive.read(info).decode()
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
    for script in console_scripts():
        if script.startswith("mlops-"):
            assert f"{script} = " in entry_points
    assert "pipelines/training/task.py" in names
    # Only what the jobs run: neither the Pulumi program nor the orchestrators.
    packages = {n.split("/")[0] for n in names if n.endswith(".py")}
    assert packages == {"pipelines"}
    assert "\nmlops = " not in entry_points
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist")]
    assert any("mlflow" in line for line in requirements)
    assert not any(("pyspark" in line or "pulumi" in line) for line in requirements), (
        "a Databricks runtime brings its own Spark; the wheel must not replace it"
    )


def test_pulumi_up_refuses_the_committed_placeholders() -> None:
    with pytest.raises(InvalidStackConfig, match=r"Pulumi.prod.yaml still has placeholder"):
        run_main("prod", stack_config("prod"), [])


def test_pulumi_up_refuses_a_plain_text_token() -> None:
    config = stack_config("prod", **FILLED_IN)
    config["databricks:token"] = "dapi-in-plain-text"
    with pytest.raises(InvalidStackConfig, match=r"databricks:token holds a credential"):
        run_main("prod", config, [])
