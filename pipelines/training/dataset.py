"""The labelled set that training, validation and deployment all read."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from pipelines.common import flags, schemas
from pipelines.common.errors import SchemaMismatch
from pipelines.common.tables import read_table
from pipelines.common.task import TaskContext
from pipelines.features.join import model_frame, with_model_inputs
from pipelines.training.params import LabelledDataParams

MIN_LABELLED_ROWS = 100


def load_labelled_set(ctx: TaskContext, data: LabelledDataParams, purpose: str) -> pd.DataFrame:
    """Trips picked up in [start, end) with their label, pickup time and point-in-time
    model inputs, as pandas sorted by pickup time.

    Raises ``SchemaMismatch`` (before anything is written) when the window holds fewer
    than ``MIN_LABELLED_ROWS`` labelled trips; ``purpose`` says what needed them.
    """
    spark = ctx.spark
    trips = read_table(spark, data.input_table, schemas.TRIPS).where(
        (F.col(schemas.PICKUP_TIME) >= F.lit(flags.day_start(data.start_date)))
        & (F.col(schemas.PICKUP_TIME) < F.lit(flags.day_start(data.end_date)))
        & F.col(schemas.LABEL).isNotNull()
    )
    joined = with_model_inputs(
        trips,
        read_table(spark, data.pickup_features_table, schemas.PICKUP_FEATURES),
        read_table(spark, data.dropoff_features_table, schemas.DROPOFF_FEATURES),
    )
    frame = model_frame(joined, schemas.PICKUP_TIME, schemas.LABEL).toPandas()
    if len(frame) < MIN_LABELLED_ROWS:
        raise SchemaMismatch(
            f"Table {data.input_table} has {len(frame)} labelled trips picked up in"
            f" [{data.start_date}, {data.end_date}); {purpose} needs at least"
            f" {MIN_LABELLED_ROWS}. Check --start-date/--end-date or load more data."
            " Nothing was written."
        )
    return frame.sort_values(schemas.PICKUP_TIME, kind="stable").reset_index(drop=True)
