"""Entry point ``train``: build the point-in-time training set, fit, log, register and
alias the new version ``challenger``."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

import mlflow
from mlflow.models import infer_signature

from pipelines.common import flags, schemas
from pipelines.common.code_version import code_version
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.mlflow_setup import use_experiment
from pipelines.common.tables import TableName
from pipelines.common.task import TaskContext, entry_point, new_parser
from pipelines.common.task_values import MODEL_VERSION
from pipelines.features.join import MODEL_INPUTS
from pipelines.training.dataset import load_labelled_set
from pipelines.training.model import (
    Hyperparameters,
    build_model,
    pip_requirements,
    regression_metrics,
    split_by_time,
)

CHALLENGER = "challenger"


@dataclass(frozen=True)
class Params:
    input_table: TableName
    pickup_features_table: TableName
    dropoff_features_table: TableName
    start_date: dt.date
    end_date: dt.date
    model_name: str
    experiment: str
    test_fraction: float = 0.2
    max_iter: int = 200
    learning_rate: float = 0.1

    def validate(self) -> None:
        flags.check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise flags.UsageError(
                f"--test-fraction {self.test_fraction} is out of range: expected 0.05 to 0.5."
            )
        if not 0 < self.learning_rate <= 1:
            raise flags.UsageError(f"--learning-rate {self.learning_rate}: expected (0, 1].")


def build_parser() -> TaskArgumentParser:
    parser = new_parser(
        "train",
        "Train the fare model on trips picked up in [start, end) with point-in-time"
        " features, log it to MLflow, register a new version and alias it 'challenger'.",
    )
    flags.add_labelled_data_flags(parser, "training range")
    parser.add_argument(
        "--model-name",
        type=flags.model_name,
        required=True,
        help="three-level registered model name, catalog.schema.model",
    )
    parser.add_argument(
        "--experiment",
        required=True,
        help="MLflow experiment path, e.g. /Shared/mlops-stack/dev-experiment",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="latest share of the range held out for testing",
    )
    parser.add_argument("--max-iter", type=flags.positive_int, default=200)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    return parser


def run(params: Params, ctx: TaskContext) -> dict[str, Any]:
    frame = load_labelled_set(ctx, params, "training")
    train, test = split_by_time(frame, schemas.PICKUP_TIME, params.test_fraction)
    hp = Hyperparameters(max_iter=params.max_iter, learning_rate=params.learning_rate)
    model = build_model(hp).fit(train[MODEL_INPUTS], train[schemas.LABEL])
    predictions = model.predict(test[MODEL_INPUTS])
    metrics = regression_metrics(test[schemas.LABEL], predictions)

    client = ctx.mlflow
    experiment_id = use_experiment(ctx.runtime, client, params.experiment)
    version_code = code_version()
    with mlflow.start_run(run_name=f"train {params.start_date}..{params.end_date}") as run:
        mlflow.log_params(
            {
                **hp.__dict__,
                "test_fraction": params.test_fraction,
                "train_start": params.start_date.isoformat(),
                "train_end": params.end_date.isoformat(),
                "trips_table": str(params.input_table),
                "train_rows": len(train),
                "test_rows": len(test),
            }
        )
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
        mlflow.set_tags({"code_version": version_code, "task": "train"})
        example = train[MODEL_INPUTS].head(5)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=params.model_name,
            skops_trusted_types=trusted_types(model),
        )
    version = str(info.registered_model_version)
    for key, value in {
        "code_version": version_code,
        "train_start": params.start_date.isoformat(),
        "train_end": params.end_date.isoformat(),
        "run_id": run.info.run_id,
    }.items():
        client.set_model_version_tag(params.model_name, version, key, value)
    client.set_registered_model_alias(params.model_name, CHALLENGER, version)
    # As a number: a reference renders a number the same way whether Databricks writes a
    # value's JSON or its text, so the later tasks' --model-version reads 7, never "7".
    ctx.set_task_value(MODEL_VERSION, int(version))
    return {
        "model_name": params.model_name,
        "model_version": version,
        "alias": CHALLENGER,
        "run_id": run.info.run_id,
        "experiment_id": experiment_id,
        "train_rows": len(train),
        "test_rows": len(test),
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
    }


def trusted_types(model) -> list[str]:
    """The types skops must trust to load this model: our own pipeline's, nothing else."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def main(argv: list[str] | None = None) -> int:
    return entry_point(build_parser, Params, run, argv)


if __name__ == "__main__":
    sys.exit(main())
