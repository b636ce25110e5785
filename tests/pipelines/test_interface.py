"""The task interfaces (``pipelines.common.interface``): one params dataclass per task is its
flags, its job parameters and its command line, and the console scripts are the registry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.common.errors import UsageError
from pipelines.common.interface import Task, TaskInterfaceError, flag
from pipelines.common.names import TableName
from pipelines.data.params import GENERATE_DATA
from pipelines.deployment.params import DEPLOY
from pipelines.inference.params import BATCH_INFERENCE
from pipelines.monitoring.params import (
    CHECK_VIOLATION,
    MONITORING_REPORT,
    REFRESH_METRICS,
    ViolationRuleParams,
)
from pipelines.tasks import DISTRIBUTION, task, tasks
from pipelines.training.params import TRAIN, LabelledDataParams
from pipelines.validation.params import VALIDATE
from tests.conftest import fare_tables

TASK_NAMES = {
    "generate-data", "import-trips", "write-features", "train", "validate", "deploy",
    "rollback", "batch-inference", "join-labels", "refresh-metrics", "check-violation",
    "monitoring-report",
}  # fmt: skip

T = "spark_catalog.interface_test"
# Field values for train, as a job passes them: text.
TABLES = fare_tables(T)
TRAIN_VALUES = {
    "project": "fare",
    "tables": TABLES,
    "start_date": "2016-01-01",
    "end_date": "2016-01-15",
    "model_name": f"{T}.fare",
    "experiment": "/Shared/interface-test",
}
HEAVY = ("pyspark", "mlflow", "sklearn", "pandas", "scipy")


# --- the registry ------------------------------------------------------------------


def test_the_registry_lists_exactly_the_twelve_tasks() -> None:
    assert set(tasks()) == TASK_NAMES
    for name, found in tasks().items():
        assert found.name == name
        assert task(name) is found


def test_each_console_script_is_mlops_and_the_task_name() -> None:
    scripts = {
        entry.name: entry.value
        for entry in importlib.metadata.distribution(DISTRIBUTION).entry_points
        if entry.group == "console_scripts" and entry.name.startswith("mlops-")
    }
    assert set(scripts) == {f"mlops-{name}" for name in TASK_NAMES}
    for name, found in tasks().items():
        assert found.console_script == f"mlops-{name}"
        module, _, attr = scripts[found.console_script].partition(":")
        assert module.endswith(".params") and attr.endswith(".main"), scripts[found.console_script]


def test_every_task_runs_a_function_that_exists() -> None:
    for found in tasks().values():
        assert callable(found.run_function()), found.runs


def test_the_interfaces_load_neither_spark_nor_mlflow() -> None:
    code = (
        "import sys\n"
        "from pipelines.tasks import tasks\n"
        "for t in tasks().values(): t.parser(); t.flags()\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# --- Task.parameters: what a job passes ----------------------------------------------


def test_parameters_are_keyed_by_flag() -> None:
    rendered = TRAIN.parameters(**TRAIN_VALUES, max_iter="20")
    assert rendered["model-name"] == f"{T}.fare"
    assert rendered["max-iter"] == "20"
    assert "learning-rate" not in rendered


def test_a_misspelt_field_names_the_flag() -> None:
    with pytest.raises(TaskInterfaceError, match=r"task train: no flag --modle-name"):
        TRAIN.parameters(**TRAIN_VALUES, modle_name=f"{T}.fare")


def test_a_missing_required_field_names_the_flag() -> None:
    values = {k: v for k, v in TRAIN_VALUES.items() if k != "model_name"}
    with pytest.raises(TaskInterfaceError, match=r"required --model-name not given"):
        TRAIN.parameters(**values)


def test_none_leaves_a_required_flag_missing_and_an_optional_one_out() -> None:
    with pytest.raises(TaskInterfaceError, match=r"required --experiment not given"):
        TRAIN.parameters(**{**TRAIN_VALUES, "experiment": None})
    assert "model-version" not in DEPLOY.parameters(
        **{k: v for k, v in TRAIN_VALUES.items() if k != "experiment"}, model_version=None
    )


@pytest.mark.parametrize(
    ("task_", "field", "text", "expected"),
    [
        (TRAIN, "start_date", "2016-13-01", r"--start-date 2016-13-01: .*is not a date"),
        (TRAIN, "tables", "trips=interface_test.trips", r"--tables .*fully qualified"),
        (TRAIN, "max_iter", "0", r"--max-iter 0: '0' is not a positive whole number"),
        (TRAIN, "model_name", "fare", r"--model-name fare: .*catalog\.schema\.model"),
        (VALIDATE, "run_mode", "sometimes", r"--run-mode sometimes: expected one of"),
        (REFRESH_METRICS, "granularities", "1 year", r"--granularities 1 year: .*granularities"),
    ],
    ids=lambda value: value.name if isinstance(value, Task) else None,
)
def test_a_literal_the_flag_rejects_is_an_interface_error(task_, field, text, expected) -> None:
    values = {name: TRAIN_VALUES[name] for name in TRAIN_VALUES if name in fields_of(task_)}
    values.update(required_extras(task_))
    with pytest.raises(TaskInterfaceError, match=expected):
        task_.parameters(**{**values, field: text})


def test_a_dynamic_reference_is_passed_as_it_is() -> None:
    reference = "{{job.parameters.run_date}}-7d"
    rendered = TRAIN.parameters(**{**TRAIN_VALUES, "start_date": reference})
    assert rendered["start-date"] == reference
    version = "{{tasks.Train.values.model_version}}"
    values = {k: v for k, v in TRAIN_VALUES.items() if k != "experiment"}
    assert DEPLOY.parameters(**values, model_version=version)["model-version"] == version


def test_typed_values_are_rendered_as_the_flags_read_them() -> None:
    rendered = TRAIN.parameters(
        **{**TRAIN_VALUES, "start_date": dt.date(2016, 1, 1)}, learning_rate=0.05
    )
    assert rendered["start-date"] == "2016-01-01"
    assert rendered["learning-rate"] == "0.05"
    assert (
        REFRESH_METRICS.parameters(
            project="fare",
            inference_table=f"{T}.inference",
            start_date="2016-01-01",
            end_date="2016-01-02",
            granularities=("1 hour", "1 day"),
        )["granularities"]
        == "1 hour,1 day"
    )


# --- Task.parse and Task.argv: the command line ----------------------------------------


def test_parse_turns_text_into_typed_values() -> None:
    params = TRAIN.parse(TRAIN.argv(**TRAIN_VALUES, max_iter="20", learning_rate="0.5"))
    assert params.tables["trips"] == TableName("spark_catalog", "interface_test", "trips")
    assert params.start_date == dt.date(2016, 1, 1)
    assert (params.max_iter, params.learning_rate, params.test_fraction) == (20, 0.5, 0.2)
    assert params.model_name == f"{T}.fare"

    shifted = GENERATE_DATA.parse([
        "--project", "fare", "--tables", TABLES, "--start-date", "2016-01-31-7d",
        "--end-date", "2016-02-01", "--drift-start", "2016-01-28",
    ])  # fmt: skip
    assert shifted.start_date == dt.date(2016, 1, 24)
    assert shifted.drift_start == dt.date(2016, 1, 28)
    assert shifted.size is None  # the project's own default

    refresh = REFRESH_METRICS.parse([
        "--project", "fare", "--inference-table", f"{T}.inference", "--start-date", "2016-01-01",
        "--end-date", "2016-01-02", "--granularities", "1 hour, 1 day",
    ])  # fmt: skip
    assert refresh.granularities == ("1 hour", "1 day")
    assert refresh.baseline_table is None

    report = MONITORING_REPORT.parse([
        "--project", "fare", "--inference-table", f"{T}.inference", "--output", "out/report.html",
        "--metric", "r2_score", "--threshold", "0.5", "--violated-when", "below",
        "--evaluation-windows", "3", "--violation-windows", "2",
    ])  # fmt: skip
    assert report.output == Path("out/report.html")
    assert report.rule().violated_when == "below"
    assert report.end_date is None


def test_argv_parses_back_to_the_same_params() -> None:
    values = {**TRAIN_VALUES, "test_fraction": "0.25"}
    assert TRAIN.parse(TRAIN.argv(**values)) == TRAIN.parse(
        [part for key, text in TRAIN.parameters(**values).items() for part in (f"--{key}", text)]
    )


def test_parse_checks_the_params() -> None:
    with pytest.raises(UsageError, match=r"--test-fraction 0.9 is out of range"):
        TRAIN.parse(TRAIN.argv(**TRAIN_VALUES, test_fraction="0.9"))
    with pytest.raises(UsageError, match=r"--end-date 2016-01-01 must be after"):
        TRAIN.parse(TRAIN.argv(**{**TRAIN_VALUES, "end_date": "2016-01-01"}))
    with pytest.raises(UsageError, match=r"violation windows 4 is not between 1 and"):
        CHECK_VIOLATION.parse([
            "--project", "fare", "--profile-metrics-table", f"{T}.p", "--metric", "r2_score",
            "--threshold", "0.5", "--evaluation-windows", "3", "--violation-windows", "4",
        ])  # fmt: skip


# --- shared groups of flags, declared once ---------------------------------------------


def test_the_labelled_data_flags_are_declared_once_and_worded_per_task() -> None:
    shared = [f.name for f in dataclasses.fields(LabelledDataParams)]
    for found, window in (
        (TRAIN, "training range"),
        (VALIDATE, "validation window"),
        (DEPLOY, "reference window"),
    ):
        assert issubclass(found.params, LabelledDataParams)
        assert [f.field for f in found.flags()][: len(shared)] == shared
        helps = {f.option: f.help for f in found.flags()}
        assert helps["--start-date"] == f"first day of the {window} (included), YYYY-MM-DD"
        assert helps["--end-date"] == f"end of the {window} (excluded), YYYY-MM-DD"


def test_the_violation_rule_flags_are_declared_once() -> None:
    shared = {f.name for f in dataclasses.fields(ViolationRuleParams)}
    for found in (CHECK_VIOLATION, MONITORING_REPORT):
        assert issubclass(found.params, ViolationRuleParams)
        assert shared <= {f.field for f in found.flags()}


def test_only_the_publishing_tasks_publish() -> None:
    publishing = {name: t.publishes for name, t in tasks().items() if t.publishes}
    assert publishing == {"train": ("model_version",), "check-violation": ("is_metric_violated",)}


def test_a_help_naming_an_attribute_the_params_lack_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Broken:
        day: dt.date = flag("the {windwo}")

    with pytest.raises(TypeError, match=r"Broken: help 'the \{windwo\}'"):
        Task("broken", Broken, "", "nowhere:run").flags()


def test_batch_inference_defaults_to_the_champion() -> None:
    flags = {f.option: f for f in BATCH_INFERENCE.flags()}
    assert flags["--model-alias"].default == "champion"
    assert not flags["--model-alias"].required


def fields_of(found: Task) -> set[str]:
    return {f.field for f in found.flags()}


def required_extras(found: Task) -> dict[str, str]:
    """Values for the required fields of ``found`` that ``TRAIN_VALUES`` does not give."""
    extras = {
        "project": "fare",
        "inference_table": f"{T}.inference",
        "experiment": "/Shared/interface-test",
    }
    required = {f.field for f in found.flags() if f.required}
    return {k: v for k, v in extras.items() if k in required}
