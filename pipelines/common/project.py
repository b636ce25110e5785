"""A model project: what is specific to one model, declared once, apart from the lifecycle.

The lifecycle stages (features, training, validation, deployment, inference, monitoring)
are generic. A project (``pipelines/projects/<name>/``) says what differs: its tables (by
role), its label and problem type, its point-in-time keys, its model, its synthetic data,
and its monitoring columns. Its ``__init__.py`` holds a light ``ModelProject``
declaration, which the Pulumi program and the task interfaces read without Spark; the
heavy part (``ProjectLifecycle``: Spark transformations, the scikit-learn model) is
imported only when a task runs.

Tasks name the project (``--project fare``) and its tables by role
(``--tables trips=cat.sch.trips,pickup_features=...``); ``TableMap`` parses that.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pipelines.common.errors import UsageError
from pipelines.common.names import TableName

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import types as T


class ProblemType(StrEnum):
    REGRESSION = "regression"
    CLASSIFICATION = "classification"

    @property
    def monitor_problem_type(self) -> str:
        """Lakehouse Monitoring's name for it (``InferenceLog.problem_type``)."""
        return f"PROBLEM_TYPE_{self.name}"

    @property
    def mlflow_model_type(self) -> str:
        """``mlflow.models.evaluate``'s ``model_type``."""
        return "regressor" if self is ProblemType.REGRESSION else "classifier"


# The table-level model-quality metrics of a monitor's profile metrics table, per problem
# type (Lakehouse Monitoring's column names; a struct's field after a dot), and the side a
# rule on each is usually violated on: an error above its threshold, a score below it.
MONITOR_METRICS: Mapping[ProblemType, Mapping[str, str]] = {
    ProblemType.REGRESSION: {
        "root_mean_squared_error": "above",
        "mean_squared_error": "above",
        "mean_absolute_error": "above",
        "mean_absolute_percentage_error": "above",
        "r2_score": "below",
    },
    ProblemType.CLASSIFICATION: {
        "accuracy_score": "below",
        "log_loss": "above",
        "f1_score.macro": "below",
        "f1_score.weighted": "below",
        "precision.macro": "below",
        "precision.weighted": "below",
        "recall.macro": "below",
        "recall.weighted": "below",
    },
}

TableKind = Literal["input", "features", "predictions"]


@dataclass(frozen=True)
class Expectation:
    """A rule every row of a table (or of a scoring set, before it is scored) must meet: a row
    check of databricks-labs-dqx (``function`` one of its check functions, e.g.
    ``is_not_null``, ``is_not_less_than``, ``is_in_list``, ``sql_expression``, with its
    ``arguments``). A row breaking one is quarantined, with the rule's ``name``, and never
    reaches the model or a metric (``pipelines.common.expectations``). Note that dqx's
    comparisons let NaN, infinity and NULL through: say ``is_not_null`` and a finite rule
    where they matter."""

    name: str
    function: str
    arguments: Mapping[str, Any]


def measured(column: str) -> tuple[Expectation, ...]:
    """A quantity that cannot be negative: ``column`` is set, at least 0 and finite."""
    return (
        present(column),
        Expectation(f"{column}_non_negative", "is_not_less_than", {"column": column, "limit": 0}),
        finite(column),
    )


def present(column: str) -> Expectation:
    """``column`` is set (not NULL)."""
    return Expectation(f"{column}_not_null", "is_not_null", {"column": column})


def not_before(later: str, earlier: str) -> Expectation:
    """Timestamp ``later`` is not before ``earlier`` (a NULL is left to a not-null rule)."""
    return Expectation(
        f"{later}_not_before_{earlier}",
        "sql_expression",
        {
            "expression": f"{later} IS NULL OR {earlier} IS NULL OR {later} >= {earlier}",
            "msg": f"{later} is before {earlier}",
            "columns": [later, earlier],
        },
    )


def at_least(column: str, limit: float) -> Expectation:
    """``column`` is at least ``limit`` (NULL and NaN are left to other rules)."""
    return Expectation(
        f"{column}_at_least_{limit:g}".replace("-", "minus_").replace(".", "_"),
        "is_not_less_than",
        {"column": column, "limit": limit},
    )


def all_finite(name: str, columns: Sequence[str]) -> Expectation:
    """Every one of ``columns`` is neither NaN nor infinite: one rule for a wide row of
    numbers (one dqx check, not one per column, keeps the check's plan small)."""
    clauses = " AND ".join(
        f"({c} IS NULL OR (NOT isnan({c}) AND abs({c}) != double('inf')))" for c in columns
    )
    return Expectation(
        name,
        "sql_expression",
        {
            "expression": clauses,
            "msg": f"one of {', '.join(columns)} is NaN or infinite",
            "columns": list(columns),
        },
    )


def one_of(column: str, allowed: Sequence[str]) -> Expectation:
    """``column`` is one of ``allowed`` (NULL is left to a not-null rule). A SQL expression,
    not dqx's ``is_in_list``: that reads a string item as a column expression, so
    ``month-to-month`` would be the column ``month`` minus ``to`` minus ``month``."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in allowed)
    return Expectation(
        f"{column}_known",
        "sql_expression",
        {
            "expression": f"{column} IS NULL OR {column} IN ({quoted})",
            "msg": f"{column} is not one of {', '.join(allowed)}",
            "columns": [column],
        },
    )


def finite(column: str) -> Expectation:
    """``column`` is neither NaN nor infinite (NULL is left to a not-null rule): dqx's range
    comparisons let NaN and +infinity through, as Spark orders NaN above every number."""
    return Expectation(
        f"{column}_finite",
        "sql_expression",
        {
            "expression": f"{column} IS NULL OR (NOT isnan({column})"
            f" AND abs({column}) != double('inf'))",
            "msg": f"{column} is NaN or infinite",
            "columns": [column],
        },
    )


@dataclass(frozen=True)
class TableRole:
    """One table of a project.

    role: its key in ``--tables`` and in the settings' ``tables`` block.
    default_name: its name in the project's schema unless the settings say otherwise.
    kind: ``input`` (loaded by the ML team, or generated locally: the jobs only read it),
        ``features`` (written by write-features) or ``predictions`` (batch inference).
    description: what a row is and its keys, for the table's comment.
    keys: its primary key; ``timeseries_key``: the key column a point-in-time lookup
        compares with the lookup time.
    expectations: the rules each of its rows meets (``Expectation``), checked where a task
        writes it (write-features, import-trips): a row breaking one goes to the table's
        quarantine instead; a key on two rows stops the write (blocking).
    """

    role: str
    default_name: str
    kind: TableKind
    description: str
    keys: tuple[str, ...] = ()
    timeseries_key: str | None = None
    expectations: tuple[Expectation, ...] = ()


@dataclass(frozen=True)
class Monitoring:
    """How the quality monitor reads a project's predictions table."""

    prediction_col: str
    label_col: str
    model_id_col: str = "model_version"
    timestamp_col: str = "timestamp"
    numeric_columns: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoRound:
    """One round of the local demo (``mlops demo``): data arrives up to ``data_until``,
    then the project's jobs run for ``run_date``: feature engineering over the new days,
    training when ``train``, batch inference over ``score_days`` (default: the new days),
    and the retraining job when ``monitor``. ``drift`` (the project's drift knobs) applies
    to the new data from ``drift_start`` on."""

    title: str
    data_until: dt.date
    run_date: dt.date
    train: bool = True
    monitor: bool = False
    score_days: int | None = None
    drift_start: dt.date | None = None
    drift: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoScenario:
    """A project's local story: synthetic data from ``start``, ``size`` in the project's
    unit, in rounds."""

    start: dt.date
    size: int
    rounds: tuple[DemoRound, ...]


@dataclass(frozen=True)
class ModelProject:
    """A project's declaration (light: no Spark, no scikit-learn).

    lifecycle: ``"module:attribute"`` of its ``ProjectLifecycle``, imported when a task runs.
    drift_knobs: the names ``generate-data --drift`` accepts, with their neutral value.
    scoring_expectations: the rules a scoring row must meet (``Expectation``).
    """

    name: str
    title: str
    problem_type: ProblemType
    label: str
    tables: tuple[TableRole, ...]
    monitoring: Monitoring
    lifecycle: str
    drift_knobs: Mapping[str, float] = field(default_factory=dict)
    demo: DemoScenario | None = None
    default_size: int = 1000
    size_unit: str = "rows per day"
    # The scoring set's rules; a duplicated request key always stops a batch (blocking).
    scoring_expectations: tuple[Expectation, ...] = ()
    # The role of the table the scoring requests come from, named when a batch is refused.
    requests_role: str | None = None

    def role(self, role: str) -> TableRole:
        for table in self.tables:
            if table.role == role:
                return table
        raise KeyError(role)

    def roles(self, kind: TableKind | None = None) -> tuple[str, ...]:
        return tuple(t.role for t in self.tables if kind is None or t.kind == kind)

    def tables_in(self, schema: str) -> TableMap:
        """Every table of the project in ``schema`` (``catalog.schema``) under its default
        name: a local lake's, a test's or a benchmark's ``--tables``."""
        return TableMap.of({t.role: f"{schema}.{t.default_name}" for t in self.tables})

    def implementation(self) -> ProjectLifecycle:
        module, _, attribute = self.lifecycle.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def check_tables(self, tables: TableMap, flag: str = "--tables") -> None:
        """Every role of the project named, and nothing else: a ``UsageError`` otherwise."""
        missing = [r for r in self.roles() if r not in tables.names]
        unknown = [r for r in tables.names if r not in self.roles()]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"no table for {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown role(s) {', '.join(unknown)}")
            raise UsageError(
                f"{flag} for project {self.name}: {'; '.join(parts)}. Expected role=table for"
                f" each of its roles: {', '.join(self.roles())}."
            )


@dataclass(frozen=True)
class TableMap:
    """A project's tables by role, as ``--tables role=catalog.schema.table,...``."""

    names: Mapping[str, TableName]

    def __getitem__(self, role: str) -> TableName:
        return self.names[role]

    def __str__(self) -> str:
        return ",".join(f"{role}={name}" for role, name in self.names.items())

    @classmethod
    def parse(cls, text: str) -> TableMap:
        names: dict[str, TableName] = {}
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            role, sep, table = item.partition("=")
            if not sep or not role.strip():
                raise argparse.ArgumentTypeError(
                    f"'{item}' is not role=table: expected e.g. trips=main.taxi.trips"
                )
            try:
                names[role.strip()] = TableName.parse(table.strip())
            except UsageError as exc:
                raise argparse.ArgumentTypeError(f"role {role.strip()}: {exc}") from None
        if not names:
            raise argparse.ArgumentTypeError("no tables: expected role=table,role=table,...")
        return cls(names)

    @classmethod
    def of(cls, names: Mapping[str, str]) -> TableMap:
        return cls({role: TableName.parse(name) for role, name in names.items()})


@dataclass(frozen=True)
class FeatureRows:
    """One feature table's new rows and the SQL predicate of the rows they replace."""

    role: str
    frame: DataFrame
    replaces: str


@dataclass(frozen=True)
class GeneratedData:
    """What a project's generator writes: per input role, rows as pandas, and the SQL
    predicate of the rows they replace (re-generating a range replaces it)."""

    frames: Mapping[str, pd.DataFrame]
    replaces: Mapping[str, str]


class ProjectLifecycle(Protocol):
    """The heavy half of a project: what the generic stages call."""

    def schemas(self) -> Mapping[str, T.StructType]:
        """Each role's table contract (the columns a task checks before reading)."""
        ...

    def model_inputs(self) -> Sequence[str]:
        """The model's input columns, in order."""
        ...

    def label_role(self) -> str:
        """The role of the table the labels come from."""
        ...

    def time_column(self) -> str:
        """The column of the labelled and scoring sets that orders them in time."""
        ...

    def request_columns(self) -> Sequence[str]:
        """The columns of a scoring request kept in the predictions table (its key first)."""
        ...

    def request_key(self) -> Sequence[str]:
        """The columns identifying a request (and its label)."""
        ...

    def generate(
        self,
        start: dt.date,
        end: dt.date,
        size: int,
        seed: int,
        drift_start: dt.date | None,
        drift: Mapping[str, float],
    ) -> GeneratedData:
        """Synthetic source rows for [start, end), deterministic in (seed, size, drift)."""
        ...

    def features(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> Sequence[FeatureRows]:
        """The feature rows for the range, per feature table."""
        ...

    def labelled_set(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> DataFrame:
        """Labelled rows of [start, end) with their point-in-time model inputs, the label
        and the time column."""
        ...

    def scoring_set(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> DataFrame:
        """Requests of [start, end) with the request columns and the point-in-time model
        inputs, and ``timestamp`` (the request's time)."""
        ...

    def labels(self, spark: SparkSession, tables: TableMap) -> DataFrame:
        """Known labels: the request key columns and the label."""
        ...

    def build_model(self, hyperparameters: Mapping[str, Any]) -> Any:
        """An unfitted scikit-learn estimator over ``model_inputs``."""
        ...
