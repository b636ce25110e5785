"""Every task's flags: help works, and bad flags are usage errors, never tracebacks."""

from __future__ import annotations

import argparse

import pytest

from pipelines.common import flags
from pipelines.common.errors import UsageError
from pipelines.common.task import execute
from pipelines.data import task as data_task
from pipelines.features import task as features_task
from pipelines.inference import task as inference_task
from pipelines.training import task as training_task

T = "spark_catalog.flags_test"
DATES = ["--start-date", "2016-01-01", "--end-date", "2016-01-08"]
FEATURE_TABLES = [
    "--pickup-features-table", f"{T}.pickup",
    "--dropoff-features-table", f"{T}.dropoff",
]  # fmt: skip

# A valid command line per task; each test breaks one thing in it.
VALID = {
    "generate-data": (data_task, ["--output-table", f"{T}.trips", *DATES]),
    "write-features": (features_task, ["--input-table", f"{T}.trips", *FEATURE_TABLES, *DATES]),
    "train": (
        training_task,
        ["--input-table", f"{T}.trips", *FEATURE_TABLES, *DATES,
         "--model-name", f"{T}.fare", "--experiment", "/Shared/flags-test"],
    ),
    "batch-inference": (
        inference_task,
        ["--input-table", f"{T}.trips", *FEATURE_TABLES, "--output-table", f"{T}.inference",
         "--model-name", f"{T}.fare", *DATES],
    ),
}  # fmt: skip
TASKS = pytest.mark.parametrize("task", list(VALID))


@pytest.fixture(autouse=True)
def _no_project_folder(tmp_path, monkeypatch) -> None:
    # Should a bad flag ever get through, the task must not touch the repository's .mlops.
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))


def with_flag(argv: list[str], flag: str, value: str) -> list[str]:
    changed = list(argv)
    changed[changed.index(flag) + 1] = value
    return changed


def run(task: str, argv: list[str]) -> None:
    module = VALID[task][0]
    execute(argv, module.build_parser, module.Params, module.run)


@TASKS
def test_help_prints_usage_and_exits_cleanly(task: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        run(task, ["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {task}")
    assert "--start-date" in out


@TASKS
def test_the_valid_command_line_parses(task: str) -> None:
    module, argv = VALID[task]
    params = module.Params(**vars(module.build_parser().parse_args(argv)))
    params.validate()
    assert params.start_date.isoformat() == "2016-01-01"


@TASKS
def test_an_unknown_flag_is_a_usage_error(task: str) -> None:
    with pytest.raises(UsageError, match=r"unrecognized arguments: --bogus 1"):
        run(task, [*VALID[task][1], "--bogus", "1"])


@TASKS
def test_a_bad_date_is_a_usage_error(task: str) -> None:
    argv = with_flag(VALID[task][1], "--start-date", "2016-13-01")
    with pytest.raises(UsageError) as raised:
        run(task, argv)
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
    assert flags.iso_date(text).isoformat() == expected


@pytest.mark.parametrize("text", ["2016-01-31-7", "2016-01-31-7w", "{{job.parameters.run_date}}"])
def test_a_malformed_shift_is_not_a_date(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="optionally shifted by whole days"):
        flags.iso_date(text)


@TASKS
@pytest.mark.parametrize("end", ["2016-01-01", "2015-12-31"])
def test_an_end_not_after_the_start_is_a_usage_error(task: str, end: str) -> None:
    argv = with_flag(VALID[task][1], "--end-date", end)
    with pytest.raises(UsageError, match=rf"--end-date {end} must be after --start-date"):
        run(task, argv)


@TASKS
def test_a_two_level_table_name_is_a_usage_error(task: str) -> None:
    argv = VALID[task][1]
    flag = "--output-table" if "--output-table" in argv else "--input-table"
    with pytest.raises(UsageError) as raised:
        run(task, with_flag(argv, flag, "flags_test.trips"))
    message = str(raised.value)
    assert f"argument {flag}" in message
    assert "'flags_test.trips' is not a fully qualified table name" in message
    assert "expected catalog.schema.table" in message


@pytest.mark.parametrize("task", ["train", "batch-inference"])
def test_a_two_level_model_name_is_a_usage_error(task: str) -> None:
    argv = with_flag(VALID[task][1], "--model-name", "flags_test.fare")
    with pytest.raises(UsageError, match=r"expected catalog\.schema\.model"):
        run(task, argv)


@TASKS
def test_main_reports_a_usage_error_in_one_paragraph_and_exits_2(task: str, capsys) -> None:
    argv = with_flag(VALID[task][1], "--start-date", "2016-13-01")
    assert VALID[task][0].main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "'2016-13-01' is not a date" in captured.err
    assert captured.out == ""
