"""The ``join-labels`` task (``pipelines.monitoring.params.JOIN_LABELS``): fill in the labels
that have arrived for requests scored in [start, end), in place in the inference table.
Re-running it changes nothing more."""

from __future__ import annotations

from typing import Any

from pyspark.sql import functions as F

from pipelines.common import flags, schemas
from pipelines.common.errors import ConflictingLabels
from pipelines.common.tables import read_table, replace_where
from pipelines.common.task import TaskContext
from pipelines.monitoring.labels import LABELS, known_labels, with_arrived_labels
from pipelines.monitoring.params import JoinLabelsParams


def run(params: JoinLabelsParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    # Both reads first: a wrong schema stops the task before anything is written.
    inference = read_table(spark, params.inference_table, schemas.INFERENCE)
    labels = known_labels(read_table(spark, params.labels_table, LABELS).select(*LABELS.names))
    in_range = (F.col("timestamp") >= F.lit(flags.day_start(params.start_date))) & (
        F.col("timestamp") < F.lit(flags.day_start(params.end_date))
    )
    batch = inference.where(in_range)
    requested = batch.select(schemas.TRIP_ID).distinct()
    relevant = labels.join(requested, schemas.TRIP_ID, "left_semi").cache()
    conflicts = relevant.where("n_labels > 1").limit(3).collect()
    if conflicts:
        ids = ", ".join(str(row[schemas.TRIP_ID]) for row in conflicts)
        relevant.unpersist()
        raise ConflictingLabels(
            f"{params.labels_table} gives more than one {schemas.LABEL} for trip_id {ids}:"
            " expected one label per request. The inference table was not changed."
        )
    labelled = with_arrived_labels(batch, relevant).cache()
    stats = labelled.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("_had_label")).alias("labelled_before"),
        F.count_if(F.col(schemas.LABEL).isNotNull()).alias("labelled_now"),
    ).first()
    condition = (
        f"timestamp >= {flags.sql_timestamp(params.start_date)}"
        f" AND timestamp < {flags.sql_timestamp(params.end_date)}"
    )
    replace_where(
        spark, ctx.runtime, labelled.drop("_had_label"), params.inference_table, condition
    )
    labelled.unpersist()
    relevant.unpersist()
    return {
        "table": str(params.inference_table),
        "rows": stats["rows"],
        "newly_labelled": stats["labelled_now"] - stats["labelled_before"],
        "labelled": stats["labelled_now"],
        "still_unlabelled": stats["rows"] - stats["labelled_now"],
    }
