"""The churn project's table contracts: the columns each table must have, with their types."""

from __future__ import annotations

from pyspark.sql import types as T

from pipelines.projects.churn import CATEGORICAL_INPUTS, NUMERIC_INPUTS
from pipelines.projects.churn import generator as g

REQUEST_TIME = "request_time"
PREDICTION = "prediction"
PROBABILITY = "probability"
MODEL_VERSION_COL = "model_version"
TIMESTAMP = "timestamp"

_SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "datetime64[us]": T.TimestampType(),
    "bool": T.BooleanType(),
    "int32": T.IntegerType(),
    "int64": T.LongType(),
    "float64": T.DoubleType(),
}


def _struct(dtypes: dict[str, str]) -> T.StructType:
    return T.StructType([T.StructField(name, _SPARK_TYPES[kind]) for name, kind in dtypes.items()])


# The generator's tables, with the generator's column types (one declaration).
CUSTOMERS = _struct(g.CUSTOMER_DTYPES)
SNAPSHOTS = _struct(g.SNAPSHOT_DTYPES)
LABELS = _struct(g.LABEL_DTYPES)
REQUESTS = T.StructType(
    [T.StructField(g.CUSTOMER_ID, T.StringType()), T.StructField(REQUEST_TIME, T.TimestampType())]
)

MODEL_INPUTS = (*CATEGORICAL_INPUTS, *NUMERIC_INPUTS)

# Feature snapshots: primary key (customer_id, snapshot_time); snapshot_time is the
# timestamp key of the point-in-time lookup.
CUSTOMER_FEATURES = T.StructType(
    [
        T.StructField(g.CUSTOMER_ID, T.StringType()),
        T.StructField(g.SNAPSHOT_TIME, T.TimestampType()),
        *(T.StructField(name, T.StringType()) for name in CATEGORICAL_INPUTS),
        *(T.StructField(name, T.DoubleType()) for name in NUMERIC_INPUTS),
    ]
)

# The inference table: the request, the inputs it was scored on (profiled for drift), the
# class and its probability, the model version, the request time, and the label once known.
# The class and the label are strings ("0", "1"), as in Databricks' classification monitor
# example (docs/platform.md, "Classification monitors").
PREDICTIONS = T.StructType(
    [
        *REQUESTS.fields,
        *(f for f in CUSTOMER_FEATURES.fields if f.name in MODEL_INPUTS),
        T.StructField(PREDICTION, T.StringType()),
        T.StructField(PROBABILITY, T.DoubleType()),
        T.StructField(MODEL_VERSION_COL, T.StringType()),
        T.StructField(TIMESTAMP, T.TimestampType()),
        T.StructField("scored_at", T.TimestampType()),
        T.StructField(g.LABEL, T.StringType()),
    ]
)
