"""Batch-inference throughput: the model through ``mlflow.pyfunc.spark_udf`` on local Spark
against the same model's ``predict`` called in-process on a pandas frame.

Trains the fare model (``build_model``) on generated trips, logs and registers it in a
temporary local MLflow store exactly as the train task does (signature, input example,
pinned pip requirements, skops trusted types), and builds ``--rows`` rows of requests with
their model inputs (``MODEL_INPUTS``, as double), written once to parquet. Side by side:

- in-process: ``mlflow.pyfunc.load_model(uri).predict(frame)`` on the whole frame (the
  reference), the raw sklearn pipeline's ``predict``, and pyfunc ``predict`` called per
  Arrow-batch-sized slice (what each UDF call does);
- spark: the parquet file read by the local session, scored with
  ``pipelines.inference.score.score_requests`` through
  ``spark_udf(spark, "models:/<name>/<version>", result_type="double",
  env_manager="local")`` as the batch-inference task does, written to the ``noop`` sink
  (every row and column is produced, nothing is stored).

Spark's predictions are checked equal to the in-process ones for every row.
Target: spark rows/s at least 0.6x in-process pyfunc rows/s (median of 3 runs after one
warm-up).

    .venv/bin/python -m bench.inference_throughput
    .venv/bin/python -m bench.inference_throughput --batch-size 50000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.models import infer_signature
from pyspark.sql import functions as F

from bench.common import print_machine, print_series, run_interleaved, temp_runtime
from pipelines.common.mlflow_setup import configure_mlflow, use_experiment
from pipelines.common.spark import get_spark
from pipelines.inference.score import score_requests
from pipelines.projects.fare.features import MODEL_INPUTS
from pipelines.projects.fare.generator import generate_trips
from pipelines.projects.fare.schemas import LABEL, PICKUP_TIME, REQUESTS, TRIP_ID
from pipelines.training.model import Hyperparameters, build_model, pip_requirements
from pipelines.training.task import trusted_types

TARGET_RATIO = 0.6
MODEL_NAME = "spark_catalog.bench.fare_model"
PACKAGES = ("pyspark", "mlflow", "scikit-learn", "skops", "pandas", "pyarrow", "numpy")
ARROW_BATCH = "spark.sql.execution.arrow.maxRecordsPerBatch"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inference_throughput", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to score")
    parser.add_argument("--train-rows", type=int, default=20_000, help="rows to train on")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"override {ARROW_BATCH} (default: the session's, Spark's default 10000)",
    )
    parser.add_argument(
        "--row-group-rows",
        type=int,
        default=131_072,
        help="parquet row-group size of the requests file (Spark splits scans by row group)",
    )
    parser.add_argument(
        "--max-partition-bytes",
        default=None,
        help="override spark.sql.files.maxPartitionBytes, e.g. 8m (more input partitions)",
    )
    parser.add_argument(
        "--worker-omp-threads",
        type=int,
        default=None,
        help="OpenMP threads of each Python worker (spark.executorEnv.OMP_NUM_THREADS;"
        " Spark's default is spark.task.cpus, 1)",
    )
    parser.add_argument(
        "--jvm-options",
        default=None,
        help="extra options for the Spark JVM (set as JDK_JAVA_OPTIONS before it starts);"
        " use the = form, e.g. --jvm-options=-XX:+UseSerialGC",
    )
    parser.add_argument(
        "--prototype",
        action="store_true",
        help="also time a prototype UDF: a plain pandas_udf calling the sklearn pipeline"
        " (loaded with mlflow.sklearn) without the pyfunc wrapper",
    )
    return parser.parse_args(argv)


# --- data and model ----------------------------------------------------------------------


def requests_with_inputs(rows: int, seed: int, start: dt.date) -> pd.DataFrame:
    """Generated trips with realistic model inputs: distance, hour and weekday from the
    trip; window features drawn around what the feature tables hold (per-zip mean fares,
    trip counts that follow zip popularity and hour, a few windows without trips)."""
    days = 50
    trips = generate_trips(start, start + dt.timedelta(days=days), max(1, rows // days), seed)
    trips = trips.iloc[:rows].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    n = len(trips)
    pickup = trips[PICKUP_TIME]
    zip_mean = trips.groupby("pickup_zip")[LABEL].transform("mean")
    pickup_share = trips.groupby("pickup_zip")[TRIP_ID].transform("size") / n
    dropoff_share = trips.groupby("dropoff_zip")[TRIP_ID].transform("size") / n
    trips_per_hour = n / (days * 24)
    pickup_count = rng.poisson(np.maximum(pickup_share * trips_per_hour, 0.05)).astype(float)
    dropoff_count = rng.poisson(np.maximum(dropoff_share * trips_per_hour / 2, 0.05))
    frame = trips.drop(columns=[LABEL]).assign(
        pickup_hour=pickup.dt.hour.astype(float),
        pickup_weekday=pickup.dt.weekday.astype(float),
        mean_fare_window_1h_pickup_zip=np.where(
            pickup_count > 0, zip_mean + rng.normal(0, 1.5, n), np.nan
        ),
        count_trips_window_1h_pickup_zip=np.where(pickup_count > 0, pickup_count, np.nan),
        count_trips_window_30m_dropoff_zip=np.where(
            dropoff_count > 0, dropoff_count.astype(float), np.nan
        ),
        dropoff_is_weekend=(pickup.dt.weekday >= 5).astype(float),
    )
    frame[MODEL_INPUTS] = frame[MODEL_INPUTS].astype("float64")
    return frame.assign(**{LABEL: trips[LABEL]})


def write_requests(frame: pd.DataFrame, path: Path, row_group_rows: int) -> None:
    """Requests (trip columns, times as UTC instants) plus model inputs, as parquet."""
    columns = [*REQUESTS.fieldNames(), *(c for c in MODEL_INPUTS if c not in REQUESTS.names)]
    table = frame[columns].copy()
    for column in ("tpep_pickup_datetime", "tpep_dropoff_datetime"):
        table[column] = table[column].dt.tz_localize("UTC")
    pq.write_table(
        pa.Table.from_pandas(table, preserve_index=False), path, row_group_size=row_group_rows
    )


def train_and_register(train: pd.DataFrame, runtime) -> tuple[object, str, str]:
    """Fit, log and register as the train task does; return (model, model uri, version)."""
    model = build_model(Hyperparameters()).fit(train[MODEL_INPUTS], train[LABEL])
    client = configure_mlflow(runtime)
    use_experiment(runtime, client, "/Shared/mlops-stack/bench-inference")
    example = train[MODEL_INPUTS].head(5)
    with mlflow.start_run(run_name="bench inference"):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=MODEL_NAME,
            skops_trusted_types=trusted_types(model),
        )
    version = str(info.registered_model_version)
    return model, f"models:/{MODEL_NAME}/{version}", version


# --- sides -------------------------------------------------------------------------------


def sklearn_pandas_udf(uri: str, work: Path):
    """The prototype: the model's sklearn flavor in a scalar-iterator pandas UDF; loaded
    once per task, fed a frame with the model-input names, no pyfunc schema enforcement."""
    local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(work / "model"))
    names = list(MODEL_INPUTS)

    def predict(batches: Iterator[tuple[pd.Series, ...]]) -> Iterator[pd.Series]:
        model = mlflow.sklearn.load_model(local)
        for columns in batches:
            frame = pd.DataFrame(dict(zip(names, columns, strict=True)), copy=False)
            yield pd.Series(model.predict(frame), dtype="float64")

    return F.pandas_udf(predict, "double")


def in_batches(predict: Callable[[pd.DataFrame], object], frame: pd.DataFrame, size: int):
    def run(_: int) -> None:
        for begin in range(0, len(frame), size):
            predict(frame.iloc[begin : begin + size])

    return run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_machine(PACKAGES)
    with temp_runtime("bench-inference-") as runtime, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        began = time.perf_counter()
        train = requests_with_inputs(args.train_rows, seed=11, start=dt.date(2015, 11, 1))
        requests = requests_with_inputs(args.rows, seed=7, start=dt.date(2016, 1, 1))
        path = work / "requests.parquet"
        write_requests(requests, path, args.row_group_rows)
        frame = requests[MODEL_INPUTS]
        print(
            f"data: {len(train):,} training rows, {len(requests):,} requests with"
            f" {len(MODEL_INPUTS)} model inputs, {path.stat().st_size / 1e6:.1f} MB parquet,"
            f" {pq.ParquetFile(path).metadata.num_row_groups} row groups"
            f" ({time.perf_counter() - began:.1f} s)"
        )

        began = time.perf_counter()
        model, uri, version = train_and_register(train, runtime)
        regressor = model.named_steps["regressor"]
        print(
            f"model: {uri}, {regressor.n_iter_} trees of <= {regressor.max_leaf_nodes} leaves"
            f" (trained, logged and registered in {time.perf_counter() - began:.1f} s)"
        )
        loaded = mlflow.pyfunc.load_model(uri)

        began = time.perf_counter()
        if args.jvm_options:
            os.environ["JDK_JAVA_OPTIONS"] = args.jvm_options
        if args.worker_omp_threads is not None:
            # Read by pyspark when it starts the JVM; Python workers inherit the variable.
            os.environ["PYSPARK_SUBMIT_ARGS"] = (
                f"--conf spark.executorEnv.OMP_NUM_THREADS={args.worker_omp_threads} pyspark-shell"
            )
        spark = get_spark(runtime, "bench-inference")
        if args.batch_size is not None:
            spark.conf.set(ARROW_BATCH, str(args.batch_size))
        if args.max_partition_bytes is not None:
            spark.conf.set("spark.sql.files.maxPartitionBytes", args.max_partition_bytes)
        batch = int(spark.conf.get(ARROW_BATCH))
        partitions = spark.read.parquet(path.as_uri()).rdd.getNumPartitions()
        omp = spark.sparkContext.getConf().get("spark.executorEnv.OMP_NUM_THREADS", None)
        print(
            f"spark: {spark.sparkContext.master}, session ready in"
            f" {time.perf_counter() - began:.1f} s; arrow batch {batch:,} rows;"
            f" {partitions} input partitions; worker OMP_NUM_THREADS"
            f" {omp or 'spark.task.cpus (1)'}; driver OMP_NUM_THREADS"
            f" {os.environ.get('OMP_NUM_THREADS', f'unset (all {os.cpu_count()} cores)')}"
            + (f"; JVM options {args.jvm_options}" if args.jvm_options else "")
        )
        predict_udf = mlflow.pyfunc.spark_udf(spark, uri, result_type="double", env_manager="local")
        scored_at = dt.datetime.now(dt.UTC)

        def scored():
            return score_requests(
                spark.read.parquet(path.as_uri()), predict_udf, version, scored_at
            )

        sides = {
            "in-process pyfunc predict": lambda _: loaded.predict(frame),
            "in-process sklearn predict": lambda _: model.predict(frame),
            f"in-process pyfunc per {batch:,} rows": in_batches(loaded.predict, frame, batch),
            "spark_udf -> noop": lambda _: scored().write.format("noop").mode("overwrite").save(),
        }
        if args.prototype:
            proto = sklearn_pandas_udf(uri, work)
            sides["prototype pandas_udf -> noop"] = lambda _: (
                score_requests(spark.read.parquet(path.as_uri()), proto, version, scored_at)
                .write.format("noop")
                .mode("overwrite")
                .save()
            )
        print(f"\ntimings (1 warm-up, then {args.repeats} interleaved runs of {len(frame):,} rows;")
        print("cpu = our processes' CPU seconds, JVM and Python workers included):")
        series = run_interleaved(sides, args.repeats)

        print("\nresults:")
        expected = loaded.predict(frame)
        out = work / "predictions"
        scored().select(TRIP_ID, "prediction").write.parquet(out.as_uri())
        got = pd.read_parquet(out).set_index(TRIP_ID)["prediction"]
        got = got.reindex(requests[TRIP_ID]).to_numpy()
        same = len(got) == len(expected) and np.allclose(got, expected, rtol=1e-9, atol=1e-9)
        verdict = "same predictions" if same else "DIFFERENT predictions"
        nulls = int(np.isnan(got).sum())
        print(f"  spark_udf vs in-process pyfunc: {len(got):,} rows, {nulls} missing, {verdict}")

    rows = len(frame)
    print("\nmedians:")
    print_series(series, unit_rows=rows)
    reference = series["in-process pyfunc predict"]
    spark_side = series["spark_udf -> noop"]
    ratio = reference.wall / spark_side.wall
    print("\nratios: rows/s of each side over rows/s of in-process pyfunc predict (wall)")
    for label, s in series.items():
        print(f"  {label:<34} {reference.wall / s.wall:6.2f}x")
    sklearn_side = series["in-process sklearn predict"]
    print(f"  (spark_udf over in-process sklearn: {sklearn_side.wall / spark_side.wall:.2f}x)")
    met = ratio >= TARGET_RATIO and same
    print(
        f"\nverdict: {'MET' if met else 'MISSED'} - spark_udf {rows / spark_side.wall:,.0f}"
        f" rows/s = {ratio:.2f}x in-process pyfunc {rows / reference.wall:,.0f} rows/s"
        f" (target >= {TARGET_RATIO}x){'' if same else '; PREDICTIONS DIFFER'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
