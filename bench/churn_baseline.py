"""The churn model against a logistic-regression baseline, on the same split.

Synthetic customers go through the churn project's own tasks (generate-data,
write-features) on a throwaway local lake; the labelled set is the one the train task
reads (``load_labelled_set``), split by time as it splits it. The project's model
(``pipelines/projects/churn/model.py``) and a logistic regression (one-hot categories,
scaled numbers) are fitted on the same earlier rows and scored on the same later rows.
The project's model must beat the baseline's ROC AUC.

    .venv/bin/python -m bench.churn_baseline [--customers 4000]
"""

from __future__ import annotations

import argparse
import sys
import time

from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bench.common import print_machine, temp_runtime
from pipelines.common.task import TaskContext
from pipelines.projects import project
from pipelines.projects.churn.schemas import CATEGORICAL_INPUTS, NUMERIC_INPUTS
from pipelines.tasks import run_task
from pipelines.training.dataset import load_labelled_set
from pipelines.training.model import split_by_time
from pipelines.training.params import TRAIN

SCHEMA = "spark_catalog.bench_churn"


def baseline() -> Pipeline:
    return Pipeline(
        [
            (
                "inputs",
                ColumnTransformer(
                    [
                        ("categories", OneHotEncoder(handle_unknown="ignore"),
                         list(CATEGORICAL_INPUTS)),
                        ("numbers", StandardScaler(), list(NUMERIC_INPUTS)),
                    ]
                ),
            ),
            ("classifier", LogisticRegression(max_iter=2000)),
        ]
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=4000)
    args = parser.parse_args()
    print_machine(("pyspark", "scikit-learn"))
    churn = project("churn")
    tables = str(churn.tables_in(SCHEMA))
    common = ["--project", "churn", "--tables", tables]
    window = ["--start-date", "2016-01-01", "--end-date", "2016-10-02"]
    with temp_runtime("bench-churn-") as runtime:
        ctx = TaskContext(runtime)
        started = time.perf_counter()
        run_task("generate-data", [*common, *window, "--size", str(args.customers)], ctx)
        run_task("write-features", [*common, *window], ctx)
        train_window = ["--start-date", "2016-01-01", "--end-date", "2016-10-01"]
        model = ["--model-name", f"{SCHEMA}.m", "--experiment", "/Shared/bench"]
        params = TRAIN.parse([*common, *train_window, *model])
        frame = load_labelled_set(ctx, params, "the benchmark")
        prepared = time.perf_counter() - started
    lifecycle = churn.implementation()
    inputs = list(lifecycle.model_inputs())
    train, test = split_by_time(frame, lifecycle.time_column(), params.test_fraction)
    scores = {}
    for name, model in (
        ("churn model (gradient-boosted trees)", lifecycle.build_model({})),
        ("logistic regression baseline", baseline()),
    ):
        t0 = time.perf_counter()
        model.fit(train[inputs], train[churn.label])
        proba = model.predict_proba(test[inputs])[:, 1]
        scores[name] = (roc_auc_score(test[churn.label], proba), time.perf_counter() - t0)
    rate = test[churn.label].mean()
    print(f"\n{len(train):,} training rows, {len(test):,} test rows (later snapshots),"
          f" churn rate {rate:.3f}; data prepared in {prepared:.1f} s")  # fmt: skip
    print(f"{'model':<40} {'ROC AUC':>8} {'fit+score s':>12}")
    for name, (auc, seconds) in scores.items():
        print(f"{name:<40} {auc:8.3f} {seconds:12.1f}")
    (model_auc, _), (base_auc, _) = scores.values()
    print(f"ROC AUC gain over the baseline: {model_auc - base_auc:+.3f}"
          f" (ratio {model_auc / base_auc:.3f}x)")  # fmt: skip
    beats = model_auc > base_auc
    print(f"verdict: the churn model {'beats' if beats else 'DOES NOT beat'} the baseline")
    return 0 if beats else 1


if __name__ == "__main__":
    sys.exit(main())
