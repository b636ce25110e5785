"""Entry point ``join-labels``: fill in the labels that have arrived for requests scored in
[start, end), in place in the inference table. Re-running it changes nothing more."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

from pyspark.sql import functions as F

from pipelines.common import flags, schemas
from pipelines.common.errors import ConflictingLabels
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.tables import TableName, read_table, replace_where
from pipelines.common.task import TaskContext, entry_point, new_parser
from pipelines.monitoring.labels import LABELS, known_labels, with_arrived_labels


@dataclass(frozen=True)
class Params:
    inference_table: TableName
    labels_table: TableName
    start_date: dt.date
    end_date: dt.date

    def validate(self) -> None:
        flags.check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


def build_parser() -> TaskArgumentParser:
    parser = new_parser(
        "join-labels",
        "Join ground truth that arrived after scoring (trip_id, fare_amount) into the rows of"
        " the inference table scored for requests in [start, end). Idempotent.",
    )
    parser.add_argument(
        "--inference-table", type=flags.table_name, required=True, help="the inference table"
    )
    parser.add_argument(
        "--labels-table",
        type=flags.table_name,
        required=True,
        help="where labels arrive: a table with trip_id and fare_amount (e.g. the trips table)",
    )
    parser.add_argument("--start-date", type=flags.iso_date, required=True)
    parser.add_argument("--end-date", type=flags.iso_date, required=True)
    return parser


def run(params: Params, ctx: TaskContext) -> dict[str, Any]:
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


def main(argv: list[str] | None = None) -> int:
    return entry_point(build_parser, Params, run, argv)


if __name__ == "__main__":
    sys.exit(main())
