"""The pipelines on 10,000 real NYC taxi trips (../shared/data), when present."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import functions as F

from tests.conftest import REAL_SAMPLE, fare_tables, run_task

pytestmark = pytest.mark.skipif(
    not REAL_SAMPLE.exists(), reason=f"the real sample {REAL_SAMPLE} is absent"
)


def test_import_train_and_score_real_trips(ctx, spark, schema):
    trips, inference_table = f"{schema}.trips", f"{schema}.fare_inference"
    model = f"{schema}.fare"
    imported = run_task(
        "import-trips", ["--source-path", str(REAL_SAMPLE), "--output-table", trips], ctx
    )
    # Two of the real trips have a negative fare (a refund): kept out of the trips table,
    # in its quarantine, under the rule they break.
    assert imported["rows_written"] == 10_000 - 2
    assert {r: n for r, n in imported["quarantined"].items() if n} == {
        "fare_amount_non_negative": 2
    }
    assert (imported["start_date"], imported["end_date"]) == ("2016-01-01", "2016-03-01")
    assert spark.table(trips).count() == 10_000 - 2
    assert spark.table(imported["quarantine_table"]).count() == 2

    data = ["--project", "fare", "--tables", fare_tables(schema, requests=trips)]
    run_task(
        "write-features", [*data, "--start-date", "2016-01-01", "--end-date", "2016-03-01"], ctx
    )
    trained = run_task(
        "train",
        [*data, "--start-date", "2016-01-01", "--end-date", "2016-02-15",
         "--model-name", model, "--experiment", "/Shared/tests/real-sample",
         "--max-iter", "60"],
        ctx,
    )  # fmt: skip
    # Fares are mostly distance and time: a useful model explains most of the variance.
    assert trained["metrics"]["r2_score"] > 0.6

    ctx.mlflow.set_registered_model_alias(model, "champion", trained["model_version"])
    scored = run_task(
        "batch-inference",
        [*data, "--output-table", inference_table, "--model-name", model,
         "--start-date", "2016-02-15", "--end-date", "2016-03-01"],
        ctx,
    )  # fmt: skip
    window = F.col("tpep_pickup_datetime") >= F.lit("2016-02-15").cast("timestamp")
    expected_rows = spark.table(trips).where(window).count()
    assert scored["rows_scored"] == expected_rows
    checks = (
        spark.table(inference_table)
        .join(spark.table(trips).select("trip_id", F.col("fare_amount").alias("actual")), "trip_id")
        .agg(
            F.sqrt(F.avg((F.col("prediction") - F.col("actual")) ** 2)).alias("rmse"),
            F.stddev("actual").alias("spread"),
            F.sum(F.isnan("prediction").cast("int")).alias("nan_predictions"),
        )
        .first()
    )
    assert checks.nan_predictions == 0
    assert math.isfinite(checks.rmse) and checks.rmse < 0.6 * checks.spread
