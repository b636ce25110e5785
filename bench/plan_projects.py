"""The program's evaluation against the number of projects a stack deploys: 1, 2, 5, 20.

The extra projects are synthetic copies of the fare project (same tables and jobs, own
names, schemas and models), registered beside the real ones for this process only, so the
stack renders N complete projects. Each count is rendered under Pulumi's mock engine after
a warm-up (imports paid once), the counts interleaved, median of the repeats; the cost per
added project is the slope from 1 to 20 projects (target: at most 0.1 s on 2 cores).
Beside it, the floor: as many bare ``databricks.Directory`` resources as the 20-project
stack has, registered under the same mock engine, per resource.

    .venv/bin/python -m bench.plan_projects [--stack prod] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import sys
import time
from typing import Any

from bench.common import print_machine

COUNTS = (1, 2, 5, 20)
TARGET_PER_PROJECT_S = 0.1


def copies_config(config: dict[str, Any], count: int) -> dict[str, Any]:
    """A stack config deploying ``count`` projects: fare and ``count - 1`` copies of it."""
    from pipelines.projects import projects

    registry = projects()
    fare = registry["fare"]
    names = ["fare"] + [f"fare{i:02d}" for i in range(1, count)]
    changed = {k: v for k, v in config.items() if k != "mlops-stack:churn"}
    block = config["mlops-stack:fare"]
    for name in names[1:]:
        # Registered for this process: the copy is the fare project under another name.
        registry.setdefault(name, dataclasses.replace(fare, name=name))
        copied = copy.deepcopy(block)
        copied.update(schema=f"taxi_{name}", modelName=f"{name}_model")
        copied.pop("experimentPath", None)
        copied.pop("tables", None)
        changed[f"mlops-stack:{name}"] = copied
    changed["mlops-stack:projects"] = names
    return changed


def bare_directories(count: int) -> float:
    """Seconds to register ``count`` bare directories under the render's mock engine, with
    the cyclic collector paused as the program's evaluation has it."""
    import pulumi
    import pulumi_databricks as databricks

    from infra.program import cyclic_gc_paused
    from mlops.render import RecordingMocks, RecordingMonitor

    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(
        mocks, project="bench", stack="bench", preview=False, monitor=RecordingMonitor(mocks)
    )

    @pulumi.runtime.test
    def program() -> pulumi.Output[int]:
        for i in range(count):
            databricks.Directory(f"d{i}", path=f"/Shared/bench/{i}")
        return pulumi.Output.from_input(count)

    started = time.perf_counter()
    with cyclic_gc_paused():
        program()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print_machine(("pulumi", "pulumi-databricks"))
    from infra.program import CodePackage
    from infra.settings import parse_settings, read_stack_file, stack_file
    from mlops.render import render_settings

    base = read_stack_file(stack_file(args.stack))
    code = CodePackage("0123456789ab", "../dist/0123456789ab/mlops_stack-0.1.0-py3-none-any.whl")
    settings = {
        n: parse_settings(copies_config(base, n), args.stack, f"Pulumi.{args.stack}.yaml")
        for n in COUNTS
    }
    render_settings(settings[COUNTS[0]], code)  # warm-up: imports, first mock engine
    seconds: dict[int, list[float]] = {n: [] for n in COUNTS}
    resources: dict[int, int] = {}
    floor: list[float] = []
    for _ in range(args.repeats):
        for n in COUNTS:  # interleaved, so drift in the machine's load hits every count
            started = time.perf_counter()
            render = render_settings(settings[n], code)
            seconds[n].append(time.perf_counter() - started)
            resources[n] = sum(render.counts().values())
        floor.append(bare_directories(resources[COUNTS[-1]]))
    median = {n: statistics.median(values) for n, values in seconds.items()}
    print(f"\nrender of the {args.stack} stack with N projects, median of {args.repeats}")
    print(f"{'projects':>9} {'resources':>10} {'seconds':>9} {'x 1 project':>12}")
    for n in COUNTS:
        print(f"{n:9d} {resources[n]:10d} {median[n]:9.3f} {median[n] / median[1]:12.2f}")
    per_project = (median[COUNTS[-1]] - median[1]) / (COUNTS[-1] - 1)
    met = per_project <= TARGET_PER_PROJECT_S
    print(f"cost per added project: {per_project:.3f} s"
          f" (target <= {TARGET_PER_PROJECT_S} s: {'met' if met else 'MISSED'})")  # fmt: skip
    most = resources[COUNTS[-1]]
    stack_ms = median[COUNTS[-1]] / most * 1000
    bare_ms = statistics.median(floor) / most * 1000
    print(f"per resource: {stack_ms:.2f} ms in the {COUNTS[-1]}-project stack, {bare_ms:.2f} ms"
          f" for {most} bare directories ({stack_ms / bare_ms:.1f}x)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
