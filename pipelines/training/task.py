"""The ``train`` task (``pipelines.training.params.TRAIN``): build the point-in-time
training set, fit, log, register and alias the new version ``challenger``."""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.models import infer_signature

from pipelines.common import schemas
from pipelines.common.code_version import code_version
from pipelines.common.mlflow_setup import use_experiment
from pipelines.common.registry import CHALLENGER
from pipelines.common.task import TaskContext
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
from pipelines.training.params import TrainParams


def run(params: TrainParams, ctx: TaskContext) -> dict[str, Any]:
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
