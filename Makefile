# The two commands of the README: `make demo` and `make test`. Both set up from nothing:
# a pinned uv in .tools, the locked environment in .venv, and Java for Spark (and, for the
# tests, Chromium).
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
SYNCED := $(VENV)/.synced

export UV_PYTHON_DOWNLOADS := never

.PHONY: setup demo test lint format bench clean

setup: $(SYNCED)
	@scripts/ensure-java.sh

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(SYNCED): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

demo: setup
	$(VENV)/bin/mlops demo

# The monitoring report's test opens it in headless Chromium (Debian's package).
test: lint
	@scripts/ensure-chromium.sh
	$(VENV)/bin/pytest

# Style, the architecture's import contracts (pyproject.toml [tool.importlinter]) and types.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/zizmor --offline .github

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	$(VENV)/bin/python -m bench.demo_wall_and_memory
	$(VENV)/bin/python -m bench.features_vs_duckdb
	$(VENV)/bin/python -m bench.inference_throughput
	$(VENV)/bin/python -m bench.plan_wall
	$(VENV)/bin/python -m bench.plan_projects
	$(VENV)/bin/python -m bench.churn_baseline
	$(VENV)/bin/python -m bench.monitoring_metrics
	$(VENV)/bin/python -m bench.expectations_cost

clean:
	rm -rf .mlops .venv .tools .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
