"""Wall time and peak memory of `mlops demo` (all its processes, the JVM included), with
every project of the dev stack against the fare project alone.

Side by side, alternating, each from nothing in its own temporary MLOPS_HOME:
`mlops demo --fresh` (fare and churn: one Spark session, one metastore, one MLflow store)
and `mlops demo --fresh --project fare`. The ratio of their walls is the cost of the second
project (target: at most 1.6x). Memory is the peak of the summed resident set sizes of the
demo process and every descendant (JVM, Python workers), sampled every 100 ms.

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

RATIO_TARGET = 1.6
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
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    memory = psutil.virtual_memory().total / 2**30
    print(f"machine: {os.cpu_count()} cores, {memory:.0f} GiB")
    sides = {
        "every project (fare, churn)": [],
        "fare alone (--project fare)": ["--project", "fare"],
    }
    walls: dict[str, list[float]] = {label: [] for label in sides}
    peaks: dict[str, list[int]] = {label: [] for label in sides}
    for _ in range(args.repeats):
        for label, extra in sides.items():
            with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
                wall, peak, output, code = run_demo(
                    Path(tmp), ["--fresh", "--scale", str(args.scale), *extra]
                )
            if code != 0:
                print(output)
                print(f"{label}: the demo failed with exit code {code}")
                return 1
            walls[label].append(wall)
            peaks[label].append(peak)
            print(f"\n--- {label}: demo output (tail) ---")
            print("\n".join(output.rstrip().splitlines()[-12:]))
    print("\n--- figures ---")
    print(f"{'run':<30} {'wall s':>8} {'peak GB':>8}")
    best = {label: min(values) for label, values in walls.items()}
    for label in sides:
        print(f"{label:<30} {best[label]:8.1f} {max(peaks[label]) / 1e9:8.2f}")
    both, alone = best.values()
    ratio = both / alone
    memory_ok = all(max(p) / 1e9 <= MEMORY_TARGET_GB for p in peaks.values())
    verdict = "met" if ratio <= RATIO_TARGET else "MISSED"
    fits = "met" if memory_ok else "MISSED"
    print(f"both projects / fare alone: {ratio:.2f}x (target <= {RATIO_TARGET}x: {verdict});"
          f" peak memory <= {MEMORY_TARGET_GB:.0f} GB: {fits}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
