"""How long the offline render of a stack takes, against the bare cost of importing the SDK.

Sides, interleaved, each in a fresh Python process (so every run pays the imports, as a
person typing the command does):
- `mlops plan --stack <stack>`: the whole command, imports included (target: at most 4 s);
- `import pulumi_databricks`: the reference, the floor no render can go under.
Then, in this process after the imports: the program's own evaluation (settings, components,
mock engine, exports; target at most 0.3 s), and the infra test suite's wall time (target
at most 30 s).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import measure, print_machine, print_series, run_interleaved

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
MLOPS = str(Path(PYTHON).with_name("mlops"))


def _run(argv: list[str]) -> None:
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-tests", action="store_true", help="do not time tests/infra")
    args = parser.parse_args(argv)
    print_machine(("pulumi", "pulumi-databricks", "pulumi-aws"))

    print(f"\nwhole command against the SDK import, {args.repeats} runs each, fresh processes")
    series = run_interleaved(
        {
            f"mlops plan --stack {args.stack}": lambda _: _run(
                [MLOPS, "plan", "--stack", args.stack]
            ),
            "python -c 'import pulumi_databricks'": lambda _: _run(
                [PYTHON, "-c", "import pulumi_databricks"]
            ),
        },
        repeats=args.repeats,
    )
    print_series(series)
    plan, floor = series.values()

    print("\nthe program's own evaluation, after the imports (this process)")
    from infra.settings import stack_file
    from mlops.render import render_stack

    render_stack(stack_file(args.stack))  # warm-up: imports, first mock engine
    evaluations = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        render_stack(stack_file(args.stack))
        evaluations.append(time.perf_counter() - started)
    evaluation = statistics.median(evaluations)
    print(f"  render_stack({args.stack}) median {evaluation:.3f} s over {args.repeats} runs")

    tests = None
    if not args.skip_tests:
        print("\nthe infra tests (pytest tests/infra, one process)")
        sample = measure(lambda: _run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                       "tests/infra"]))  # fmt: skip
        tests = sample.wall
        print(f"  {tests:.1f} s wall, {sample.cpu:.1f} s cpu")

    print("\nfigures")
    print(
        f"  mlops plan --stack {args.stack}: {plan.wall:.2f} s wall;"
        f" the SDK import alone {floor.wall:.2f} s; ratio {plan.wall / floor.wall:.2f}x"
    )
    print(f"  program evaluation after imports: {evaluation:.3f} s")
    met = [plan.wall <= 4.0, evaluation <= 0.3]
    verdict = (
        f"plan {plan.wall:.2f} s (target <= 4 s: {'met' if met[0] else 'MISSED'}),"
        f" evaluation {evaluation:.3f} s (target <= 0.3 s: {'met' if met[1] else 'MISSED'})"
    )
    if tests is not None:
        met.append(tests <= 30.0)
        verdict += f", infra tests {tests:.1f} s (target <= 30 s: {'met' if met[2] else 'MISSED'})"
    print(f"verdict: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
