"""Bringing real trip files into the trips-table contract: pure DataFrame functions."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.common.tables import check_schema
from pipelines.projects.fare import schemas

# What a raw file must provide (types are cast; the trip id is derived when absent).
RAW_COLUMNS = [f.name for f in schemas.TRIPS.fields if f.name != schemas.TRIP_ID]


def normalize_trips(raw: DataFrame, source: str) -> DataFrame:
    """Cast a raw trips frame to the TRIPS contract and add a stable ``trip_id``.

    The id is a 64-bit hash of the trip's own values, so re-importing the same file gives
    the same ids (labels and predictions keep joining). Rows without a pickup time are
    dropped: they cannot be placed in any window.
    """
    names = {c.lower(): c for c in raw.columns}
    missing = [c for c in RAW_COLUMNS if c.lower() not in names]
    if missing:
        # Reuse the contract check for one consistent message listing what is absent.
        check_schema(raw, T.StructType([schemas.TRIPS[c] for c in missing]), source)
    casted = [F.col(names[f.name.lower()]).cast(f.dataType).alias(f.name)
              for f in schemas.TRIPS.fields if f.name != schemas.TRIP_ID]  # fmt: skip
    typed = raw.select(*casted).where(F.col(schemas.PICKUP_TIME).isNotNull())
    if schemas.TRIP_ID.lower() in names:
        trip_id = F.col(names[schemas.TRIP_ID.lower()]).cast("long")
    else:
        trip_id = F.xxhash64(*[F.col(c) for c in RAW_COLUMNS])
    return typed.select(trip_id.alias(schemas.TRIP_ID), *RAW_COLUMNS).dropDuplicates(
        [schemas.TRIP_ID]
    )
