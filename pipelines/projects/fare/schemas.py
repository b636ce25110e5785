"""Table contracts: the columns each table must have, with their types."""

from pyspark.sql import types as T

TRIP_ID = "trip_id"
PICKUP_TIME = "tpep_pickup_datetime"
DROPOFF_TIME = "tpep_dropoff_datetime"
LABEL = "fare_amount"
# The inference table's columns a quality monitor reads, besides the label.
PREDICTION = "prediction"
MODEL_VERSION_COL = "model_version"
TIMESTAMP = "timestamp"

# Raw trips, as in the NYC taxi sample (plus a trip id to join late labels by).
TRIPS = T.StructType(
    [
        T.StructField(TRIP_ID, T.LongType()),
        T.StructField(PICKUP_TIME, T.TimestampType()),
        T.StructField(DROPOFF_TIME, T.TimestampType()),
        T.StructField("trip_distance", T.DoubleType()),
        T.StructField(LABEL, T.DoubleType()),
        T.StructField("pickup_zip", T.IntegerType()),
        T.StructField("dropoff_zip", T.IntegerType()),
    ]
)

# What a scoring request carries: a trip without its fare.
REQUESTS = T.StructType([f for f in TRIPS.fields if f.name != LABEL])

# Feature tables: primary key (zip, window_end); window_end is the timestamp key.
PICKUP_FEATURES = T.StructType(
    [
        T.StructField("zip", T.IntegerType()),
        T.StructField("window_end", T.TimestampType()),
        T.StructField("mean_fare_window_1h_pickup_zip", T.DoubleType()),
        T.StructField("count_trips_window_1h_pickup_zip", T.LongType()),
    ]
)
DROPOFF_FEATURES = T.StructType(
    [
        T.StructField("zip", T.IntegerType()),
        T.StructField("window_end", T.TimestampType()),
        T.StructField("count_trips_window_30m_dropoff_zip", T.LongType()),
        T.StructField("dropoff_is_weekend", T.IntegerType()),
    ]
)

# The inference table: request columns, prediction, model version, request timestamp,
# and the label once it is known (null until then).
INFERENCE = T.StructType(
    [
        *REQUESTS.fields,
        T.StructField(PREDICTION, T.DoubleType()),
        T.StructField(MODEL_VERSION_COL, T.StringType()),
        T.StructField(TIMESTAMP, T.TimestampType()),
        T.StructField("scored_at", T.TimestampType()),
        T.StructField(LABEL, T.DoubleType()),
    ]
)
