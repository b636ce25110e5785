"""What the benchmarks share: a throwaway runtime, the machine banner, and timing that
also records CPU seconds and how busy the rest of the machine was (the noise)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil

from pipelines.common.runtime import Runtime

REPEATS = 3


@contextmanager
def temp_runtime(prefix: str) -> Iterator[Runtime]:
    """A runtime whose lake and MLflow store live in a temporary folder, removed after."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Runtime.from_environment({"MLOPS_HOME": tmp})


def _java_version() -> str:
    try:
        done = subprocess.run(
            ["java", "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    first = (done.stderr or done.stdout).splitlines()
    return first[0] if first else "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_machine(packages: tuple[str, ...]) -> None:
    """Date, cores, memory, load, and the versions that matter to the figures."""
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(
        f"machine: {os.cpu_count()} cores ({_cpu_model()}),"
        f" {psutil.virtual_memory().total / 2**30:.0f} GiB, load average {load}"
    )
    print(f"python {platform.python_version()}, {_java_version()}")
    print(f"versions: {versions}")


def _tree_cpu_seconds(root: psutil.Process) -> float:
    """User + system CPU of this process and every live descendant (JVM, Python workers)."""
    # Children that already exited and were waited for count too (a subprocess side).
    reaped = os.times()
    total = reaped.children_user + reaped.children_system if root.pid == os.getpid() else 0.0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for proc in processes:
        try:
            cpu = proc.cpu_times()
        except psutil.Error:
            continue
        total += cpu.user + cpu.system
    return total


def _machine_busy_seconds() -> float:
    """CPU seconds not available to us: every busy state, plus time a hypervisor stole."""
    cpu = psutil.cpu_times()
    fields = ("user", "system", "nice", "irq", "softirq", "steal")
    return sum(getattr(cpu, name, 0.0) for name in fields)


@dataclass(frozen=True)
class Sample:
    """One timed run: wall seconds, CPU seconds of our processes, and the average number of
    cores the rest of the machine (other processes, hypervisor steal) kept busy meanwhile:
    0 on a quiet machine, up to the core count on a saturated one."""

    wall: float
    cpu: float
    others: float


def measure(fn: Callable[[], object]) -> Sample:
    me = psutil.Process()
    cpu0, busy0 = _tree_cpu_seconds(me), _machine_busy_seconds()
    started = time.perf_counter()
    fn()
    wall = time.perf_counter() - started
    cpu = _tree_cpu_seconds(me) - cpu0
    others = max(0.0, (_machine_busy_seconds() - busy0 - cpu) / wall)
    return Sample(wall, cpu, others)


@dataclass
class Series:
    """Timed repetitions of one side of a benchmark (the warm-up is not kept)."""

    label: str
    samples: list[Sample]

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def others(self) -> float:
        return max(s.others for s in self.samples)


def run_interleaved(
    sides: dict[str, Callable[[int], object]], repeats: int = REPEATS
) -> dict[str, Series]:
    """Warm every side up once, then run ``repeats`` rounds, one run of each side per round,
    so load from other processes falls on every side alike. Each call gets its run index
    (0 is the warm-up)."""
    series = {label: Series(label, []) for label in sides}
    for index in range(repeats + 1):
        for label, fn in sides.items():
            sample = measure(lambda fn=fn, index=index: fn(index))
            kind = "warm-up" if index == 0 else f"run {index}"
            print(
                f"  {kind:<8} {label:<34} {sample.wall:7.2f} s wall {sample.cpu:7.2f} s cpu"
                f"   others busy {sample.others:4.2f} cores",
                flush=True,
            )
            if index:
                series[label].samples.append(sample)
    return series


def print_series(series: dict[str, Series], unit_rows: int | None = None) -> None:
    """One line per side: medians, and rows/s when ``unit_rows`` is given."""
    for s in series.values():
        line = f"  {s.label:<34} median {s.wall:7.2f} s wall {s.cpu:7.2f} s cpu"
        if unit_rows:
            line += f" {unit_rows / s.wall:12,.0f} rows/s"
        print(f"{line}   (others busy up to {s.others:4.2f} cores)")
