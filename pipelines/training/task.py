"""The ``train`` task (``pipelines.training.params.TRAIN``): build the point-in-time
training set, fit, log, register and alias the new version ``challenger``."""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.models import infer_signature

from pipelines.common.code_version import code_version
from pipelines.common.mlflow_setup import use_experiment
from pipelines.common.project import ProblemType
from pipelines.common.quality import model_quality
from pipelines.common.registry import CHALLENGER
from pipelines.common.task import TaskContext
from pipelines.common.task_values import MODEL_VERSION
from pipelines.training.dataset import labelled_rows
from pipelines.training.model import pip_requirements, split_by_time
from pipelines.training.params import TrainParams


def run(params: TrainParams, ctx: TaskContext) -> dict[str, Any]:
    project = params.model_project
    lifecycle = project.implementation()
    inputs, label = list(lifecycle.model_inputs()), project.label
    frame, kept_out = labelled_rows(ctx, params, "training")
    train, test = split_by_time(frame, lifecycle.time_column(), params.test_fraction)
    hp = {"max_iter": params.max_iter, "learning_rate": params.learning_rate}
    model = lifecycle.build_model(hp).fit(train[inputs], train[label])
    classifier = project.problem_type is ProblemType.CLASSIFICATION
    metrics = model_quality(
        project.problem_type,
        test[label],
        model.predict(test[inputs]),
        model.predict_proba(test[inputs])[:, 1] if classifier else None,
    )

    client = ctx.mlflow
    experiment_id = use_experiment(ctx.runtime, client, params.experiment)
    version_code = code_version()
    with mlflow.start_run(run_name=f"train {params.start_date}..{params.end_date}") as run:
        mlflow.log_params(
            {
                **hp,
                "project": project.name,
                "test_fraction": params.test_fraction,
                "train_start": params.start_date.isoformat(),
                "train_end": params.end_date.isoformat(),
                "label_table": str(params.tables[lifecycle.label_role()]),
                "train_rows": len(train),
                # Labelled rows each of the project's expectations kept out of training.
                "quarantined": kept_out,
                "test_rows": len(test),
            }
        )
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
        mlflow.set_tags({"code_version": version_code, "task": "train"})
        example = train[inputs].head(5)
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
        "project": project.name,
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
        # Labelled rows each of the project's expectations kept out of training.
        "quarantined": kept_out,
        "test_rows": len(test),
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
    }


def trusted_types(model) -> list[str]:
    """The types skops must trust to load this model: our own pipeline's, nothing else."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))
