"""Bringing real trip files into the trips-table contract: pure DataFrame functions."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.common.tables import conform
from pipelines.projects.fare import schemas

# What a raw file must provide (in the contract's types or losslessly converted to them;
# the trip id is derived when absent).
RAW_COLUMNS = [f.name for f in schemas.TRIPS.fields if f.name != schemas.TRIP_ID]


def normalize_trips(raw: DataFrame, source: str) -> tuple[DataFrame, list[str]]:
    """A raw trips frame in the TRIPS contract, with a stable ``trip_id``, and the lossless
    type conversions made (``pipelines.common.tables.conform``; any other type is refused).

    The id, when the file has none, is a 64-bit hash of the trip's own values, so
    re-importing the same file gives the same ids (labels and predictions keep joining).
    Rows that repeat another row exactly are one trip recorded twice: they are merged (the
    import counts them). Whatever else is wrong with a row (no pickup time, a negative
    distance) is for the trips table's expectations to quarantine.
    """
    has_id = schemas.TRIP_ID.lower() in {c.lower() for c in raw.columns}
    contract = T.StructType(
        [f for f in schemas.TRIPS.fields if has_id or f.name != schemas.TRIP_ID]
    )
    typed, conversions = conform(raw, contract, source)
    trip_id = F.col(schemas.TRIP_ID) if has_id else F.xxhash64(*[F.col(c) for c in RAW_COLUMNS])
    trips = typed.select(trip_id.alias(schemas.TRIP_ID), *RAW_COLUMNS)
    return trips.dropDuplicates(), conversions
