"""The ``join-labels`` task (``pipelines.monitoring.params.JOIN_LABELS``): fill in the labels
that have arrived for requests scored in [start, end), in place in the inference table.
The project says where labels come from (its lifecycle's ``labels``, from the table of
its ``label_role``) and which columns key a request (``request_key``). Re-running it
changes nothing more."""

from __future__ import annotations

from typing import Any

from pyspark.sql import functions as F

from pipelines.common import flags
from pipelines.common.errors import ConflictingLabels, SchemaMismatch
from pipelines.common.tables import read_table, replace_where
from pipelines.common.task import TaskContext
from pipelines.monitoring.labels import known_labels, with_arrived_labels
from pipelines.monitoring.params import JoinLabelsParams
from pipelines.monitoring.refresh_task import predictions_schema


def run(params: JoinLabelsParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    project = params.model_project
    lifecycle = project.implementation()
    key = list(lifecycle.request_key())
    label = project.monitoring.label_col
    timestamp = project.monitoring.timestamp_col
    labels_table = params.tables[lifecycle.label_role()]
    # Both reads first: a wrong schema stops the task before anything is written.
    inference = read_table(spark, params.inference_table, predictions_schema(project))
    arrived = lifecycle.labels(spark, params.tables)
    missing = [c for c in (*key, label) if c not in arrived.columns]
    if missing:
        raise SchemaMismatch(
            f"The labels of project {project.name} (from {labels_table}) lack"
            f" {', '.join(missing)}: expected the request key ({', '.join(key)}) and {label}."
            " Nothing was written."
        )
    labels = known_labels(arrived.select(*key, label), key, label)
    start, end = flags.day_start(params.start_date), flags.day_start(params.end_date)
    batch = inference.where((F.col(timestamp) >= F.lit(start)) & (F.col(timestamp) < F.lit(end)))
    requested = batch.select(*key).distinct()
    relevant = labels.join(requested, key, "left_semi").cache()
    conflicts = relevant.where("n_labels > 1").limit(3).collect()
    if conflicts:
        relevant.unpersist()
        raise ConflictingLabels(
            f"{labels_table} gives more than one {label} for {_keys(key, conflicts)}:"
            " expected one label per request. The inference table was not changed."
        )
    labelled = with_arrived_labels(batch, relevant, key, label).cache()
    stats = labelled.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(F.col("_had_label")).alias("labelled_before"),
        F.count_if(F.col(label).isNotNull()).alias("labelled_now"),
    ).first()
    condition = (
        f"{timestamp} >= {flags.sql_timestamp(params.start_date)}"
        f" AND {timestamp} < {flags.sql_timestamp(params.end_date)}"
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


def _keys(key: list[str], rows: list) -> str:
    """``trip_id 10, 11`` or ``(customer_id, request_time) (c1, 2024-01-01 00:00:00)``."""
    if len(key) == 1:
        return f"{key[0]} {', '.join(str(row[key[0]]) for row in rows)}"
    values = ", ".join("(" + ", ".join(str(row[k]) for k in key) + ")" for row in rows)
    return f"({', '.join(key)}) {values}"
