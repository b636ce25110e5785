"""Shared fixtures: one local lake (Hive metastore + parquet) and one MLflow store per
test session, in a temporary folder. Derby allows one Spark process per metastore, so
the SparkSession is session-scoped and every test isolates itself by schema name."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.common.runtime import Runtime
from pipelines.common.tables import TableName
from pipelines.common.task import TaskContext

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_SAMPLE = SHARED_DATA / "nyctaxi_sample.parquet"

_schema_ids = itertools.count()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    home = tmp_path_factory.mktemp("mlops-home")
    return Runtime.from_environment({"MLOPS_HOME": str(home)})


@pytest.fixture(scope="session")
def ctx(runtime: Runtime) -> TaskContext:
    return TaskContext(runtime)


@pytest.fixture(scope="session")
def spark(ctx: TaskContext):
    return ctx.spark


@pytest.fixture
def schema(request: pytest.FixtureRequest) -> str:
    """A fresh ``spark_catalog.<schema>`` prefix for one test."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:40]
    return f"spark_catalog.t{next(_schema_ids)}_{name}"


@dataclass(frozen=True)
class Lake:
    """Names of the tables of a small, already prepared fare lake (read-only for tests)."""

    trips: TableName
    pickup_features: TableName
    dropoff_features: TableName
    start: dt.date
    end: dt.date

    @property
    def tables(self) -> str:
        """The fare project's ``--tables``, all in the lake's schema (the generator writes
        the trips and their requests; nothing here writes the predictions table)."""
        return fare_tables(str(self.trips).rpartition(".")[0])

    def project_flags(self, tables: str | None = None) -> list[str]:
        return ["--project", "fare", "--tables", tables or self.tables]


def fare_tables(schema: str, requests: str | None = None, predictions: str | None = None) -> str:
    """``--tables`` for the fare project with every table in ``schema``."""
    return ",".join(
        [
            f"trips={schema}.trips",
            f"inference_requests={requests or f'{schema}.inference_requests'}",
            f"pickup_features={schema}.pickup_features",
            f"dropoff_features={schema}.dropoff_features",
            f"predictions={predictions or f'{schema}.predictions'}",
        ]
    )


def project_tables(project: str, schema: str) -> str:
    """``--tables`` for any project with every table in ``schema`` under its default name."""
    from pipelines.projects import project as find

    return str(find(project).tables_in(schema))


def run_task(name: str, argv: list[str], ctx: TaskContext) -> dict:
    """Run the task ``name`` (``mlops run <name>``) in-process through its own parser, as a
    job would."""
    from pipelines import tasks

    return tasks.run_task(name, argv, ctx)


@pytest.fixture(scope="session")
def lake(ctx: TaskContext) -> Lake:
    """Three weeks of synthetic trips (600 a day) with both feature tables computed."""
    prefix = "spark_catalog.shared_lake"
    start, end = dt.date(2016, 1, 1), dt.date(2016, 1, 22)
    built = Lake(
        TableName.parse(f"{prefix}.trips"),
        TableName.parse(f"{prefix}.pickup_features"),
        TableName.parse(f"{prefix}.dropoff_features"),
        start,
        end,
    )
    dates = ["--start-date", start.isoformat(), "--end-date", end.isoformat()]
    run_task("generate-data", [*built.project_flags(), "--size", "600", *dates], ctx)
    run_task("write-features", [*built.project_flags(), *dates], ctx)
    return built


CHURN_DATA = ("2016-01-01", "2016-10-01")  # labels arrive a month after their snapshot
CHURN_TRAIN = ("2016-01-01", "2016-07-01")
CHURN_HELD_OUT = ("2016-07-01", "2016-09-01")  # after training, labelled: for validate, deploy
CHURN_SCHEMA = "spark_catalog.shared_churn"


def churn_flags(start: str, end: str) -> list[str]:
    """A run's flags on the shared churn lake for [start, end)."""
    tables = project_tables("churn", CHURN_SCHEMA)
    return ["--project", "churn", "--tables", tables, "--start-date", start, "--end-date", end]


@dataclass(frozen=True)
class ChurnLake:
    """The shared churn lake (3000 customers, monthly snapshots of 2016-01..09 with the
    labels of 01..08, features written) and the URIs of a ``good`` and a deliberately
    ``poor`` classifier trained on ``CHURN_TRAIN``. Read-only for tests: they copy the
    models and run on ``CHURN_HELD_OUT`` (``churn_flags``)."""

    good: str
    poor: str


@pytest.fixture(scope="session")
def churn_lake(ctx: TaskContext) -> ChurnLake:
    run_task("generate-data", [*churn_flags(*CHURN_DATA), "--size", "3000"], ctx)
    run_task("write-features", churn_flags(*CHURN_DATA), ctx)
    source = "spark_catalog.shared_churn_models.churn"
    train = [*churn_flags(*CHURN_TRAIN), "--model-name", source]
    train += ["--experiment", "/Shared/tests/churn"]
    good = run_task("train", [*train, "--max-iter", "50"], ctx)
    poor = run_task("train", [*train, "--max-iter", "1", "--learning-rate", "0.01"], ctx)
    return ChurnLake(
        good=f"models:/{source}/{good['model_version']}",
        poor=f"models:/{source}/{poor['model_version']}",
    )
