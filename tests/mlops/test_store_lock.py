"""One process per local store (MLOPS_HOME): a second gets one paragraph naming the holder,
before anything starts or is written; a lock left by a killed process is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from pipelines.common.store_lock import LOCK_NAME, claim_store
from pipelines.projects import project

MLOPS = str(Path(sys.executable).with_name("mlops"))
HOLD = (
    "import sys; from pathlib import Path;"
    " from pipelines.common.store_lock import claim_store;"
    " claim_store(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read()"
)


def tables(schema: str) -> str:
    return str(project("fare").tables_in(f"spark_catalog.{schema}"))


def generate(schema: str = "lock_test") -> list[str]:
    return [
        MLOPS, "run", "generate-data", "--project", "fare", "--tables", tables(schema),
        "--start-date", "2016-01-04", "--end-date", "2016-01-05", "--size", "200",
    ]  # fmt: skip


def env(home: Path) -> dict[str, str]:
    return {**os.environ, "MLOPS_HOME": str(home)}


def holder(home: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env(home),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_naming_the_holder_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    held = holder(home)
    try:
        refused = subprocess.run(
            generate(), capture_output=True, text=True, env=env(home), timeout=120
        )
    finally:
        held.kill()
        held.wait()
    assert refused.returncode == 1, refused.stderr
    message = refused.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert f"process {held.pid} (" in message and "MLOPS_HOME=" in message, message
    assert "Nothing was written" in message and "XSDB6" not in message
    # Refused before Spark or MLflow started: the store holds only the lock file.
    assert sorted(p.name for p in home.iterdir()) == [LOCK_NAME]


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    home = tmp_path / "home"
    held = holder(home)
    held.send_signal(signal.SIGKILL)
    held.wait()
    # The file still names the killed process; the kernel released its lock.
    assert json.loads((home / LOCK_NAME).read_text())["pid"] == held.pid
    taken = subprocess.run(
        [sys.executable, "-c", HOLD.replace("sys.stdin.read()", "pass"), str(home)],
        capture_output=True,
        text=True,
        env=env(home),
        timeout=60,
    )
    assert taken.returncode == 0 and taken.stdout.strip() == "held", taken.stderr
    assert json.loads((home / LOCK_NAME).read_text())["pid"] != held.pid


def test_a_process_claims_its_store_once_and_records_itself(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = claim_store(home)
    assert claim_store(home) == path  # again in the same process: it holds it already
    record = json.loads(path.read_text())
    assert record["pid"] == os.getpid() and record["since"]


def test_two_runs_on_one_store_give_exactly_one_clear_refusal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runs = [
        subprocess.Popen(
            generate(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(home)
        )
        for _ in range(2)
    ]
    outcomes = []
    for run in runs:
        _, err = run.communicate(timeout=300)
        outcomes.append((run.returncode, err))
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, 1], outcomes
    (refusal,) = [err for code, err in outcomes if code == 1]
    assert "is in use by process" in refusal and "XSDB6" not in refusal
    assert len(refusal.strip().splitlines()) == 1
