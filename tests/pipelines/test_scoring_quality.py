"""A scoring batch meets its project's expectations (databricks-labs-dqx) before the model
sees it: rows that break a row rule are quarantined with the rule, never scored; a
duplicated request key stops the batch before anything is written."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from pipelines.common.errors import DataQualityError
from pipelines.common.expectations import quarantine_table
from pipelines.common.tables import TableName, overwrite_table
from pipelines.projects.fare import schemas
from tests.pipelines.test_inference import BATCH_2, batch_trips, champion, score  # noqa: F401

REQUESTS = schemas.REQUESTS.fieldNames()


def requests_table(ctx, spark, lake, schema: str, df) -> str:
    name = f"{schema}.requests"
    overwrite_table(spark, ctx.runtime, df.select(*REQUESTS), TableName.parse(name))
    return name


def test_a_duplicated_trip_id_stops_the_batch_naming_table_rule_count_and_keys(
    ctx,
    spark,
    lake,
    schema,
    champion,  # noqa: F811
) -> None:
    batch = batch_trips(spark, lake, BATCH_2)
    twice = batch.unionByName(batch.limit(3))
    trips = requests_table(ctx, spark, lake, schema, twice)
    output = f"{schema}.predictions"
    with pytest.raises(DataQualityError) as refused:
        score(ctx, lake, champion[0], output, BATCH_2, trips=trips)
    message = str(refused.value)
    assert trips in message and "trip_id_unique" in message
    assert "6 rows break" in message  # every row of a duplicated key
    ids = [str(r.trip_id) for r in batch.limit(3).collect()]
    assert any(i in message for i in ids)
    assert "nothing was scored or written" in message
    assert not spark.catalog.tableExists(output)
    assert not spark.catalog.tableExists(str(quarantine_table(TableName.parse(output))))


def test_bad_distances_are_quarantined_with_their_rule_and_never_scored(
    ctx,
    spark,
    lake,
    schema,
    champion,  # noqa: F811
) -> None:
    batch = batch_trips(spark, lake, BATCH_2).orderBy("trip_id").cache()
    total = batch.count()
    ranked = batch.withColumn("n", F.row_number().over(_by_id()) - 1)
    bad = {0: "NaN", 1: "Infinity", 2: "-3.0", 3: None}  # rows n % 10 = 0..3: 40%
    distance = F.col("trip_distance")
    for remainder, value in bad.items():
        distance = F.when(
            F.col("n") % 10 == remainder,
            F.lit(value).cast("double") if value is not None else F.lit(None).cast("double"),
        ).otherwise(distance)
    broken = ranked.withColumn("trip_distance", distance)
    trips = requests_table(ctx, spark, lake, schema, broken)
    output = f"{schema}.predictions"
    result = score(ctx, lake, champion[0], output, BATCH_2, trips=trips)

    per_remainder = {r: broken.where(F.col("n") % 10 == r).count() for r in bad}
    assert result["quarantined"] == {
        "trip_distance_not_null": per_remainder[3],
        "trip_distance_non_negative": per_remainder[2],
        "trip_distance_finite": per_remainder[0] + per_remainder[1],
        "pickup_zip_not_null": 0,
        "dropoff_zip_not_null": 0,
    }
    quarantined = sum(per_remainder.values())
    assert result["rows_scored"] == total - quarantined
    predictions = spark.table(output)
    assert predictions.count() == total - quarantined
    assert predictions.where(~F.isnan("prediction") & F.col("prediction").isNotNull()).count() == (
        total - quarantined
    )
    held = spark.table(result["quarantine_table"])
    assert held.count() == quarantined
    assert held.join(predictions, "trip_id").count() == 0  # a quarantined trip is not scored
    rules = {r.rule for r in held.select(F.explode("quarantine_rules").alias("rule")).collect()}
    assert rules == {"trip_distance_not_null", "trip_distance_non_negative", "trip_distance_finite"}
    # Scoring the batch again replaces both, nothing doubled.
    score(ctx, lake, champion[0], output, BATCH_2, trips=trips)
    assert spark.table(output).count() == total - quarantined
    assert spark.table(result["quarantine_table"]).count() == quarantined


def _by_id():
    from pyspark.sql import Window

    return Window.orderBy("trip_id")


def test_the_churn_rules_stop_unknown_contracts_and_impossible_charges(spark) -> None:
    from pipelines.common.expectations import check_rows
    from pipelines.projects.churn import PROJECT

    rows = [
        ("c1", "month-to-month", 12, 70.0),
        ("c2", "weekly", 3, 20.0),  # not a contract the project knows
        ("c3", "one-year", -1, 55.0),  # negative tenure
        ("c4", "two-year", 30, float("nan")),
        ("c5", "two-year", 30, None),
    ]
    df = spark.createDataFrame(
        rows, "customer_id string, contract string, tenure_months int, monthly_charges double"
    ).withColumn("request_time", F.current_timestamp())
    checked = check_rows(
        spark, df, PROJECT.scoring_expectations, ("customer_id", "request_time"), "churn rows"
    )
    assert [r.customer_id for r in checked.valid.collect()] == ["c1"]
    broke = {r.customer_id: sorted(r.quarantine_rules) for r in checked.quarantined.collect()}
    assert broke == {
        "c2": ["contract_known"],
        "c3": ["tenure_months_non_negative"],
        "c4": ["monthly_charges_finite"],
        "c5": ["monthly_charges_not_null"],
    }
    assert checked.stopped["contract_known"] == 1


def test_labelled_rows_that_break_the_rules_never_reach_training(ctx, spark, lake, schema) -> None:
    from pipelines.common.tables import TableName, overwrite_table
    from tests.conftest import run_task

    trips = spark.table(str(lake.trips)).where(
        (F.col(schemas.PICKUP_TIME) >= F.lit("2016-01-01"))
        & (F.col(schemas.PICKUP_TIME) < F.lit("2016-01-15"))
    )
    broken = trips.withColumn(
        "trip_distance",
        F.when(F.col("trip_id") % 10 == 0, F.lit(float("nan"))).otherwise(F.col("trip_distance")),
    )
    copy = f"{schema}.trips"
    overwrite_table(spark, ctx.runtime, broken, TableName.parse(copy))
    tables = lake.tables.replace(f"trips={lake.trips}", f"trips={copy}")
    argv = [
        *lake.project_flags(tables),
        "--start-date", "2016-01-01", "--end-date", "2016-01-15",
        "--model-name", f"{schema}.fare", "--experiment", "/Shared/tests/quality",
        "--max-iter", "10",
    ]  # fmt: skip
    trained = run_task("train", argv, ctx)
    nan_rows = broken.where(F.isnan("trip_distance")).count()
    assert nan_rows > 0
    assert trained["quarantined"]["trip_distance_finite"] == nan_rows
    assert trained["train_rows"] + trained["test_rows"] == trips.count() - nan_rows


@pytest.mark.parametrize("name", ["fare", "churn"])
def test_each_projects_expectations_are_valid_dqx_checks_on_its_scoring_columns(name) -> None:
    """Checked without Spark, so a misspelt check function, argument or column fails here,
    not in a scheduled batch (dqx would skip a check on a missing column and quarantine
    every row)."""
    from databricks.labs.dqx.engine import DQEngineCore

    from pipelines.common.expectations import applicable, dqx_checks
    from pipelines.projects import project

    declared = project(name)
    lifecycle = declared.implementation()
    assert declared.scoring_expectations and declared.requests_role in declared.roles()
    checks = dqx_checks(declared.scoring_expectations, lifecycle.request_key())
    assert not DQEngineCore.validate_checks(checks).has_errors
    columns = [*lifecycle.request_columns(), *lifecycle.model_inputs()]
    assert applicable(declared.scoring_expectations, columns) == list(declared.scoring_expectations)
