"""write-features holds each feature table to its role's expectations: a feature row
computed from bad input (a NaN fare, a snapshot of an unknown customer) goes to the table's
quarantine with the rules it broke, never to the feature table a model trains or scores on;
rewriting the range replaces both."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from pipelines.common.expectations import quarantine_table
from pipelines.common.names import TableName
from pipelines.projects import project
from pipelines.projects.fare import schemas as fare_schemas
from tests.conftest import fare_tables, project_tables, run_task

MONDAY = dt.date(2016, 1, 4)


@pytest.mark.parametrize("name", ["fare", "churn"])
def test_each_feature_tables_expectations_are_valid_dqx_checks_on_its_columns(name) -> None:
    """Without Spark: a misspelt check or column fails here, not in a scheduled job (dqx
    skips a check on a missing column, and every row would be quarantined)."""
    from databricks.labs.dqx.engine import DQEngineCore

    from pipelines.common.expectations import applicable, dqx_checks

    declared = project(name)
    schemas = declared.implementation().schemas()
    for role in declared.roles():
        table = declared.role(role)
        if not table.expectations:
            continue
        checks = dqx_checks(table.expectations, table.keys)
        assert not DQEngineCore.validate_checks(checks).has_errors, role
        columns = schemas[role].fieldNames()
        assert applicable(table.expectations, columns) == list(table.expectations), role
    # Every feature table a model reads is held to some rule.
    assert all(declared.role(r).expectations for r in declared.roles("features"))


def _dates(start: dt.date, end: dt.date) -> list[str]:
    return ["--start-date", start.isoformat(), "--end-date", end.isoformat()]


def test_a_nan_fare_keeps_its_pickup_windows_out_of_the_feature_table(ctx, spark, schema):
    at = lambda h, m: dt.datetime(2016, 1, 4, h, m, tzinfo=dt.UTC)  # noqa: E731
    nan = float("nan")
    trips = [  # (trip_id, pickup, dropoff, distance, fare, pickup_zip, dropoff_zip)
        (1, at(10, 5), at(10, 20), 1.0, nan, 10001, 10003),
        (2, at(10, 10), at(10, 25), 1.0, 8.0, 10002, 10003),
        (3, at(14, 0), at(14, 10), 1.0, 6.0, 10001, 10003),
    ]
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    spark.createDataFrame(trips, fare_schemas.TRIPS).write.saveAsTable(f"{schema}.trips")
    tables = ["--project", "fare", "--tables", fare_tables(schema)]
    done = run_task("write-features", [*tables, *_dates(MONDAY, MONDAY + dt.timedelta(1))], ctx)

    pickup = TableName.parse(f"{schema}.pickup_features")
    # The four 1-hour windows (sliding every 15 minutes) holding trip 1 have a NaN mean.
    assert done["quarantined"]["mean_fare_window_1h_pickup_zip_finite"] == 4
    assert sum(done["quarantined"].values()) == 4
    kept = spark.table(str(pickup))
    assert kept.where(F.isnan("mean_fare_window_1h_pickup_zip")).count() == 0
    # Zip 10001's later trip and zip 10002's windows are untouched by trip 1.
    assert kept.where("zip = 10001").count() == 4 and kept.where("zip = 10002").count() == 4
    assert done["rows_written"][str(pickup)] == kept.count() == 8
    held = spark.table(str(quarantine_table(pickup))).collect()
    assert len(held) == 4 and {r.zip for r in held} == {10001}
    assert {tuple(r.quarantine_rules) for r in held} == {("mean_fare_window_1h_pickup_zip_finite",)}
    # The dropoff table's rules do not read the fare: its windows are all there.
    dropoff = TableName.parse(f"{schema}.dropoff_features")
    assert spark.table(str(dropoff)).count() == 2
    assert spark.table(str(quarantine_table(dropoff))).count() == 0
    assert set(done["quarantine_tables"]) == {
        str(quarantine_table(pickup)),
        str(quarantine_table(dropoff)),
    }

    # Rewriting the range replaces the quarantined rows too: still four, not eight.
    run_task("write-features", [*tables, *_dates(MONDAY, MONDAY + dt.timedelta(1))], ctx)
    assert spark.table(str(quarantine_table(pickup))).count() == 4
    assert spark.table(str(pickup)).count() == 8

    # Once the fare is mended, the rewrite clears the range's quarantine and the four
    # windows reach the feature table.
    mended = [(*t[:4], 7.0 if t[0] == 1 else t[4], *t[5:]) for t in trips]
    spark.createDataFrame(mended, fare_schemas.TRIPS).write.mode("overwrite").saveAsTable(
        f"{schema}.trips"
    )
    done = run_task("write-features", [*tables, *_dates(MONDAY, MONDAY + dt.timedelta(1))], ctx)
    assert sum(done["quarantined"].values()) == 0
    assert spark.table(str(quarantine_table(pickup))).count() == 0
    assert spark.table(str(pickup)).count() == done["rows_written"][str(pickup)] == 12


def test_churn_snapshots_of_unknown_customers_or_nan_charges_are_quarantined(ctx, spark, schema):
    start, end = dt.date(2016, 1, 1), dt.date(2016, 3, 1)
    tables = ["--project", "churn", "--tables", project_tables("churn", schema)]
    run_task("generate-data", [*tables, "--size", "40", *_dates(start, end)], ctx)
    snapshots = f"{schema}.customer_snapshots"
    table = spark.table(snapshots)
    first = table.orderBy("customer_id", "snapshot_time").first()
    # Spark, not pandas, makes the NaN: pandas would hand Spark a NULL (a missing bill).
    its = (F.col("customer_id") == first.customer_id) & (
        F.col("snapshot_time") == F.lit(first.snapshot_time)
    )
    charges = F.when(its, F.lit(float("nan"))).otherwise(F.col("monthly_charges"))
    ghost = table.where(its).withColumn("customer_id", F.lit("not-a-customer"))
    bad = table.withColumn("monthly_charges", charges).unionByName(ghost)
    n_snapshots = table.count() + 1
    bad.write.saveAsTable(f"{schema}.bad_snapshots")
    argv = [
        "--project",
        "churn",
        "--tables",
        project_tables("churn", schema).replace(snapshots, f"{schema}.bad_snapshots"),
    ]
    done = run_task("write-features", [*argv, *_dates(start, end)], ctx)

    features = TableName.parse(f"{schema}.customer_features")
    assert done["quarantined"]["numeric_inputs_finite"] >= 1
    assert done["quarantined"]["contract_not_null"] == 1
    held = spark.table(str(quarantine_table(features))).collect()
    # The NaN bill, and the change in the bill it makes at that customer's next snapshot.
    nan_rows = [r for r in held if r.customer_id == first.customer_id]
    assert nan_rows and all(r.quarantine_rules == ["numeric_inputs_finite"] for r in nan_rows)
    ghosts = [r for r in held if r.customer_id == "not-a-customer"]
    assert [r.quarantine_rules for r in ghosts] == [["contract_not_null"]]
    assert len(held) == len(nan_rows) + 1
    kept = spark.table(str(features))
    assert kept.where("customer_id = 'not-a-customer' OR contract IS NULL").count() == 0
    assert kept.where(F.isnan("monthly_charges") | F.isnan("charge_change")).count() == 0
    assert done["rows_written"][str(features)] == kept.count() == n_snapshots - len(held)
