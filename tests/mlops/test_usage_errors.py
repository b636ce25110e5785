"""Usage errors come before any heavy work: a bad flag, date, number or path exits 2 with
the flag named, and leaves nothing on disk (no store, no lake, no MLflow folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MLOPS = str(Path(sys.executable).with_name("mlops"))
TABLES = (
    "trips=spark_catalog.t.trips,inference_requests=spark_catalog.t.requests,"
    "pickup_features=spark_catalog.t.pickup,dropoff_features=spark_catalog.t.dropoff,"
    "predictions=spark_catalog.t.predictions"
)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["run", "import-trips", "--source-path", "/no/such/trips.parquet",
          "--output-table", "spark_catalog.t.trips"], "--source-path"),
        (["run", "generate-data", "--project", "fare", "--tables", TABLES,
          "--start-date", "2016-02-30", "--end-date", "2016-03-01"], "--start-date"),
        (["run", "generate-data", "--project", "fare", "--tables", TABLES,
          "--start-date", "2016-01-01", "--end-date", "2016-01-02", "--size", "0"], "--size"),
        (["run", "generate-data", "--project", "taxi", "--tables", TABLES,
          "--start-date", "2016-01-01", "--end-date", "2016-01-02"], "--project"),
        (["run", "train", "--no-such-flag"], "--no-such-flag"),
        (["demo", "--scale", "0"], "--scale"),
    ],
)  # fmt: skip
def test_a_usage_error_exits_2_naming_the_flag_and_writes_nothing(
    tmp_path: Path, argv: list[str], named: str
) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [MLOPS, *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "MLOPS_HOME": str(home)},
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not home.exists()
    assert [p.name for p in tmp_path.iterdir()] == []
