"""The SparkSession: the cluster's on Databricks, an embedded one with Hive locally."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from pipelines.common.runtime import Runtime


def get_spark(runtime: Runtime, app_name: str = "mlops-stack") -> SparkSession:
    """Return the active session, creating the local one on first use.

    Locally: a Hive metastore on embedded Derby plus parquet tables, both under
    ``runtime.lake_dir``. Derby allows one process per metastore, so start one session
    per process and share it (the demo runs every task in it).
    """
    if runtime.on_databricks:
        return SparkSession.builder.getOrCreate()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Python workers must run this interpreter (the project's venv), not whatever
    # `python3` is first on PATH; Spark reads this variable when it starts workers.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    lake = runtime.lake_dir
    lake.mkdir(parents=True, exist_ok=True)
    metastore = lake / "metastore_db"
    builder = (
        SparkSession.builder.master("local[2]")
        .appName(app_name)
        .config("spark.sql.warehouse.dir", str(lake / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={metastore};create=true",
        )
        # The serial collector suits a small local heap: about 25% faster feature jobs
        # than G1 on 2 cores (bench/features_vs_duckdb.py).
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dderby.system.home={lake} -XX:+UseSerialGC",
        )
        # Small local data on 2 cores: as many shuffle partitions as cores.
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "1500m")
        .enableHiveSupport()
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
