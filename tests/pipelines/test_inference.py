"""The ``batch-inference`` task: scores with the champion into the inference table."""

from __future__ import annotations

import datetime as dt

import mlflow
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from pipelines.common.errors import MissingModelAlias, SchemaMismatch
from pipelines.common.tables import TableName, overwrite_table, replace_where
from pipelines.projects.fare import schemas
from pipelines.projects.fare.features import MODEL_INPUTS, model_frame, with_model_inputs
from tests.conftest import Lake, run_task

EXPERIMENT = "/Shared/tests/inference"
MODEL_SCHEMA = "spark_catalog.test_inference_models"
BATCH_1 = (dt.date(2016, 1, 15), dt.date(2016, 1, 16))
BATCH_2 = (dt.date(2016, 1, 16), dt.date(2016, 1, 17))


@pytest.fixture(scope="module")
def champion(ctx, lake: Lake) -> tuple[str, str]:
    """A small model trained on the lake's first two weeks, aliased champion."""
    name = f"{MODEL_SCHEMA}.fare"
    result = run_task(
        "train",
        [
            *lake.project_flags(),
            "--start-date", "2016-01-01", "--end-date", "2016-01-15",
            "--model-name", name, "--experiment", EXPERIMENT, "--max-iter", "20",
        ],
        ctx,
    )  # fmt: skip
    version = result["model_version"]
    ctx.mlflow.set_registered_model_alias(name, "champion", version)
    return name, version


@pytest.fixture(scope="module")
def scored(ctx, lake: Lake, champion: tuple[str, str]) -> tuple[str, dict]:
    """An inference table holding the first batch, scored by the champion (read-only)."""
    output = f"{MODEL_SCHEMA}.inference"
    return output, score(ctx, lake, champion[0], output, BATCH_1)


def score(
    ctx, lake: Lake, model: str, output: str, batch: tuple[dt.date, dt.date], trips=None
) -> dict:
    """Score ``batch`` of the lake's requests (or of the table ``trips``) into ``output``."""
    tables = lake.tables
    if trips:
        default = f"requests={lake.trips.sibling('inference_requests')}"
        tables = tables.replace(default, f"requests={trips}")
    dates = ["--start-date", batch[0].isoformat(), "--end-date", batch[1].isoformat()]
    argv = [*lake.project_flags(tables), "--output-table", output, "--model-name", model]
    return run_task("batch-inference", [*argv, *dates], ctx)


def batch_trips(spark, lake: Lake, batch: tuple[dt.date, dt.date]):
    pickup = F.col(schemas.PICKUP_TIME)
    return spark.table(str(lake.trips)).where(
        (pickup >= F.lit(batch[0])) & (pickup < F.lit(batch[1]))
    )


@pytest.mark.parametrize("registered", [False, True], ids=["unknown-model", "no-champion"])
def test_scoring_without_a_champion_names_the_model_and_writes_nothing(
    ctx, spark, lake, schema, champion, registered
) -> None:
    name = f"{schema}.fare"
    if registered:
        # A registered version, aliased challenger only.
        source = ctx.mlflow.get_model_version(*champion)
        ctx.mlflow.create_registered_model(name)
        version = ctx.mlflow.create_model_version(name, source.source, run_id=source.run_id)
        ctx.mlflow.set_registered_model_alias(name, "challenger", version.version)
    output = f"{schema}.inference"
    with pytest.raises(MissingModelAlias) as raised:
        score(ctx, lake, name, output, BATCH_1)
    assert f"Model {name} has no version with the alias 'champion'" in str(raised.value)
    assert not spark.catalog.tableExists(output)


def test_scoring_writes_the_contract_with_the_models_own_predictions(
    spark, lake, champion, scored
) -> None:
    name, version = champion
    output, result = scored

    table = spark.table(output)
    for field in schemas.INFERENCE:
        assert table.schema[field.name].dataType == field.dataType, field.name
    rows = table.toPandas().set_index(schemas.TRIP_ID)
    trips = batch_trips(spark, lake, BATCH_1)
    assert result["rows_scored"] == len(rows) == trips.count() > 0
    assert result["model_version"] == version
    assert set(rows["model_version"]) == {version}
    assert rows["prediction"].notna().all()
    assert (rows["timestamp"] == rows[schemas.PICKUP_TIME]).all()
    assert rows[schemas.LABEL].isna().all()

    inputs = (
        model_frame(
            with_model_inputs(
                trips,
                spark.table(str(lake.pickup_features)),
                spark.table(str(lake.dropoff_features)),
            ),
            schemas.TRIP_ID,
        )
        .orderBy(schemas.TRIP_ID)
        .limit(50)
        .toPandas()
    )
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    expected = model.predict(inputs[MODEL_INPUTS])
    np.testing.assert_allclose(
        rows.loc[inputs[schemas.TRIP_ID], "prediction"].to_numpy(), expected, rtol=1e-12
    )


def test_rescoring_replaces_its_batch_keeps_others_and_keeps_known_labels(
    ctx, spark, lake, schema, champion, scored
) -> None:
    name, _ = champion
    output = f"{schema}.inference"
    # Start from a copy of a table holding the first batch.
    overwrite_table(spark, ctx.runtime, spark.table(scored[0]), TableName.parse(output))
    first = scored[1]["rows_scored"]
    second = score(ctx, lake, name, output, BATCH_2)["rows_scored"]
    assert second > 0
    assert spark.table(output).count() == first + second

    # Labels arrive for the first batch: the trips' fares.
    fares = batch_trips(spark, lake, BATCH_1).select(
        schemas.TRIP_ID, F.col(schemas.LABEL).alias("known")
    )
    in_batch_1 = (
        f"timestamp >= TIMESTAMP '{BATCH_1[0]} 00:00:00'"
        f" AND timestamp < TIMESTAMP '{BATCH_1[1]} 00:00:00'"
    )
    labelled = (
        spark.table(output)
        .where(in_batch_1)
        .join(fares, schemas.TRIP_ID)
        .withColumn(schemas.LABEL, F.col("known"))
        .drop("known")
        .localCheckpoint()
    )
    replace_where(spark, ctx.runtime, labelled, TableName.parse(output), in_batch_1)

    again = score(ctx, lake, name, output, BATCH_1)["rows_scored"]
    assert again == first
    table = spark.table(output).toPandas()
    assert len(table) == first + second
    assert table[schemas.TRIP_ID].is_unique
    batch_1 = table[table["timestamp"] < pd.Timestamp(BATCH_1[1])].set_index(schemas.TRIP_ID)
    batch_2 = table[table["timestamp"] >= pd.Timestamp(BATCH_2[0])]
    assert len(batch_1) == first and len(batch_2) == second
    expected = fares.toPandas().set_index(schemas.TRIP_ID)["known"]
    assert batch_1[schemas.LABEL].to_dict() == expected.to_dict()
    assert batch_1["prediction"].notna().all()
    assert batch_2[schemas.LABEL].isna().all()


def test_an_input_table_missing_a_column_is_refused_before_writing(
    ctx, spark, lake, schema, champion
) -> None:
    name, _ = champion
    trips = TableName.parse(f"{schema}.trips")
    incomplete = batch_trips(spark, lake, BATCH_1).drop("trip_distance")
    overwrite_table(spark, ctx.runtime, incomplete, trips)
    output = f"{schema}.inference"
    with pytest.raises(SchemaMismatch) as raised:
        score(ctx, lake, name, output, BATCH_1, trips=trips)
    message = str(raised.value)
    assert f"Table {trips}" in message
    assert "missing columns: trip_distance (double)" in message
    assert not spark.catalog.tableExists(output)
