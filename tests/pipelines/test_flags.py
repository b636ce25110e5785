"""Every task's flags: help works, and bad flags are usage errors, never tracebacks.

The tasks are those the console scripts register (``pipelines.tasks``), run through the
parser their params declare (``pipelines.common.interface.Task``)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.common.errors import UsageError
from pipelines.common.interface import iso_date
from pipelines.common.task import execute
from pipelines.tasks import task, tasks
from tests.conftest import fare_tables

T = "spark_catalog.flags_test"
DATES = ["--start-date", "2016-01-01", "--end-date", "2016-01-08"]
PROJECT = ["--project", "fare", "--tables", fare_tables(T)]

# A valid command line per task; each test breaks one thing in it.
VALID = {
    "generate-data": [*PROJECT, *DATES],
    "write-features": [*PROJECT, *DATES],
    "train": [*PROJECT, *DATES, "--model-name", f"{T}.fare", "--experiment", "/Shared/flags-test"],
    "batch-inference": [
        *PROJECT, "--output-table", f"{T}.inference", "--model-name", f"{T}.fare", *DATES,
    ],
}  # fmt: skip
TASKS = pytest.mark.parametrize("name", list(VALID))
EVERY_TASK = pytest.mark.parametrize("name", list(tasks()))


@pytest.fixture(autouse=True)
def _no_project_folder(tmp_path, monkeypatch) -> None:
    # Should a bad flag ever get through, the task must not touch the repository's .mlops.
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))


def with_flag(argv: list[str], flag: str, value: str) -> list[str]:
    changed = list(argv)
    changed[changed.index(flag) + 1] = value
    return changed


def run(name: str, argv: list[str]) -> None:
    execute(task(name), argv)


@TASKS
def test_help_prints_usage_and_exits_cleanly(name: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        run(name, ["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {name}")
    assert "--start-date" in out


@EVERY_TASK
def test_every_task_prints_its_help_and_summary(name: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        task(name).main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {name}")
    assert " ".join(task(name).summary.split()[:4]) in " ".join(out.split())
    for item in task(name).flags():
        assert item.option in out


def test_every_console_script_prints_its_help() -> None:
    scripts = Path(sys.executable).parent
    for name in tasks():
        done = subprocess.run(
            [str(scripts / f"mlops-{name}"), "--help"], capture_output=True, text=True
        )
        assert done.returncode == 0, (name, done.stderr)
        assert done.stdout.startswith(f"usage: {name}")


@TASKS
def test_the_valid_command_line_parses(name: str) -> None:
    params = task(name).parse(VALID[name])
    assert params.start_date.isoformat() == "2016-01-01"


@TASKS
def test_an_unknown_flag_is_a_usage_error(name: str) -> None:
    with pytest.raises(UsageError, match=r"unrecognized arguments: --bogus 1"):
        run(name, [*VALID[name], "--bogus", "1"])


@TASKS
def test_a_bad_date_is_a_usage_error(name: str) -> None:
    argv = with_flag(VALID[name], "--start-date", "2016-13-01")
    with pytest.raises(UsageError) as raised:
        run(name, argv)
    message = str(raised.value)
    assert "--start-date" in message
    assert "'2016-13-01' is not a date: expected YYYY-MM-DD" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-01-31", "2016-01-31"),
        ("2016-01-31-7d", "2016-01-24"),
        ("2016-02-28+2d", "2016-03-01"),
    ],
)
def test_a_date_may_be_shifted_by_whole_days(text: str, expected: str) -> None:
    assert iso_date(text).isoformat() == expected


@pytest.mark.parametrize("text", ["2016-01-31-7", "2016-01-31-7w", "{{job.parameters.run_date}}"])
def test_a_malformed_shift_is_not_a_date(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="optionally shifted by whole days"):
        iso_date(text)


@TASKS
@pytest.mark.parametrize("end", ["2016-01-01", "2015-12-31"])
def test_an_end_not_after_the_start_is_a_usage_error(name: str, end: str) -> None:
    argv = with_flag(VALID[name], "--end-date", end)
    with pytest.raises(UsageError, match=rf"--end-date {end} must be after --start-date"):
        run(name, argv)


@TASKS
def test_a_two_level_table_name_is_a_usage_error(name: str) -> None:
    argv = VALID[name]
    tables = argv[argv.index("--tables") + 1].replace(f"trips={T}.trips", "trips=flags_test.trips")
    with pytest.raises(UsageError) as raised:
        run(name, with_flag(argv, "--tables", tables))
    message = str(raised.value)
    assert "argument --tables" in message
    assert "role trips: 'flags_test.trips' is not a fully qualified table name" in message
    assert "expected catalog.schema.table" in message


@TASKS
def test_a_table_role_missing_or_unknown_is_a_usage_error_naming_it(name: str) -> None:
    argv = VALID[name]
    tables = argv[argv.index("--tables") + 1]
    without = ",".join(p for p in tables.split(",") if not p.startswith("pickup_features="))
    with pytest.raises(UsageError, match=r"--tables for project fare: no table for pickup_feat"):
        run(name, with_flag(argv, "--tables", without))
    with pytest.raises(UsageError, match=r"unknown role\(s\) pickups"):
        run(name, with_flag(argv, "--tables", f"{tables},pickups={T}.p"))


@TASKS
def test_an_unknown_project_is_a_usage_error_naming_the_projects(name: str) -> None:
    with pytest.raises(UsageError, match=r"no project 'fares': expected one of churn, fare"):
        run(name, with_flag(VALID[name], "--project", "fares"))


@pytest.mark.parametrize("name", ["train", "batch-inference"])
def test_a_two_level_model_name_is_a_usage_error(name: str) -> None:
    argv = with_flag(VALID[name], "--model-name", "flags_test.fare")
    with pytest.raises(UsageError, match=r"expected catalog\.schema\.model"):
        run(name, argv)


@TASKS
def test_main_reports_a_usage_error_in_one_paragraph_and_exits_2(name: str, capsys) -> None:
    argv = with_flag(VALID[name], "--start-date", "2016-13-01")
    assert task(name).main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "'2016-13-01' is not a date" in captured.err
    assert captured.out == ""
