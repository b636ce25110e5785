"""Wall time and peak memory of `mlops demo` (all its processes, the JVM included).

Runs the demo twice in a fresh temporary MLOPS_HOME: first from nothing (--fresh), then
again on the same store, as a user re-running it would. Memory is the peak of the summed
resident set sizes of the demo process and every descendant (JVM, Python workers),
sampled every 100 ms.

    .venv/bin/python -m bench.demo_wall_and_memory
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

WALL_TARGET_S = 60.0
MEMORY_TARGET_GB = 4.0


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def run_demo(home: Path, extra: list[str]) -> tuple[float, int, str, int]:
    """Return (wall seconds, peak bytes, output, exit code) of one demo run."""
    mlops = Path(sys.executable).parent / "mlops"
    env = {**os.environ, "MLOPS_HOME": str(home)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(mlops), "demo", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(watched))
        time.sleep(0.1)
    wall = time.perf_counter() - started
    output = proc.stdout.read() if proc.stdout else ""
    return wall, peak, output, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips-per-day", type=int, default=1500)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        home = Path(tmp)
        rows = []
        for label, extra in (("first run (--fresh)", ["--fresh"]), ("second run", [])):
            wall, peak, output, code = run_demo(
                home, [*extra, "--trips-per-day", str(args.trips_per_day)]
            )
            if code != 0:
                print(output)
                print(f"{label}: the demo failed with exit code {code}")
                return 1
            rows.append((label, wall, peak))
            print(f"\n--- {label}: demo output ---")
            print(output.rstrip())
    print("\n--- figures ---")
    print(f"{'run':<22} {'wall s':>8} {'x target':>9} {'peak GB':>8} {'x target':>9}")
    ok = True
    for label, wall, peak in rows:
        gb = peak / 1e9
        ok = ok and wall <= WALL_TARGET_S and gb <= MEMORY_TARGET_GB
        print(
            f"{label:<22} {wall:8.1f} {wall / WALL_TARGET_S:9.2f}"
            f" {gb:8.2f} {gb / MEMORY_TARGET_GB:9.2f}"
        )
    verdict = "meets" if ok else "MISSES"
    print(f"verdict: {verdict} the targets (<= {WALL_TARGET_S:.0f} s wall,"
          f" <= {MEMORY_TARGET_GB:.0f} GB peak)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
