"""The ``deploy`` task (``pipelines.deployment.params.DEPLOY``): make a validated version
(default: the challenger) the ``champion`` when there is none, or when it scores no worse
than the champion on the project's primary metric (RMSE for regression, ROC AUC for
classification) on the same reference window; otherwise keep the champion. Every alias
move leaves a trace in tags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import mlflow
import pandas as pd

from pipelines.common import quality
from pipelines.common.errors import DeploymentRefused
from pipelines.common.project import ModelProject, ProblemType
from pipelines.common.registry import CHALLENGER, CHAMPION, resolve_version, version_for_alias
from pipelines.common.task import TaskContext
from pipelines.deployment import history
from pipelines.deployment.aliases import move_champion
from pipelines.deployment.decision import PROMOTED, PrimaryMetric, decide, refusal
from pipelines.deployment.params import DeployParams
from pipelines.training.dataset import load_labelled_set


def reference_frame(ctx: TaskContext, params: DeployParams) -> pd.DataFrame:
    """The reference window's labelled rows: model inputs and label."""
    frame = load_labelled_set(ctx, params, "comparing challenger and champion")
    project = params.model_project
    return frame[[*project.implementation().model_inputs(), project.label]]


def reference_score(model_uri: str, frame: pd.DataFrame, project: ModelProject) -> float:
    """The project's primary metric (``quality.primary_metric``) of the model on
    ``frame``: its pyfunc predictions and, for a classifier, its scikit-learn model's
    ``predict_proba``. The one scoring both models get, so their numbers compare."""
    kind = project.problem_type
    model = mlflow.pyfunc.load_model(model_uri)
    inputs = frame[list(project.implementation().model_inputs())]
    predictions = model.predict(inputs)
    probabilities = None
    if kind is ProblemType.CLASSIFICATION:
        try:
            predict_proba = model.get_raw_model().predict_proba
        except (AttributeError, NotImplementedError):
            raise DeploymentRefused(
                f"Not deploying: {model_uri} has no predict_proba, so its"
                f" {quality.primary_metric(kind)[0]} cannot be computed (project"
                f" {project.name} is a classification project; log a scikit-learn classifier"
                " with mlflow.sklearn). Nothing was changed."
            ) from None
        probabilities = predict_proba(inputs)
    metric, _ = quality.primary_metric(kind)
    return quality.model_quality(kind, frame[project.label], predictions, probabilities)[metric]


def run(params: DeployParams, ctx: TaskContext) -> dict[str, Any]:
    client = ctx.mlflow
    name = params.model_name
    version = resolve_version(
        client,
        name,
        params.model_version,
        CHALLENGER,
        "Deploy defaults to that alias; run the train and validate tasks first, or pass"
        " --model-version.",
    )
    problem = refusal(version, client.get_model_version(name, version).tags)
    if problem:
        raise DeploymentRefused(f"Not deploying model {name}: {problem} Nothing was changed.")
    champion = version_for_alias(client, name, CHAMPION)
    window = f"{params.start_date}..{params.end_date}"
    project = params.model_project
    metric = PrimaryMetric.of(project.problem_type)
    metrics: dict[str, float] = {}
    if champion is not None and champion != version:
        frame = reference_frame(ctx, params)
        metrics = {
            f"challenger_{metric.key}": reference_score(
                f"models:/{name}/{version}", frame, project
            ),
            f"champion_{metric.key}": reference_score(f"models:/{name}/{champion}", frame, project),
            "reference_rows": len(frame),
        }
    decision = decide(
        version,
        champion,
        metrics.get(f"challenger_{metric.key}"),
        metrics.get(f"champion_{metric.key}"),
        f"the labelled rows of project {project.name} in {window}",
        metric=metric,
    )
    reason = decision.reason + (f"; {params.reason}" if params.reason else "")
    if decision.decision == PROMOTED:
        move = history.promotion(
            version, champion, dt.datetime.now(dt.UTC), ctx.runtime.user, f"deploy: {reason}"
        )
        move_champion(client, name, move)
    return {
        "model_name": name,
        "decision": decision.decision,
        "challenger_version": version,
        "champion_before": champion,
        "champion_after": version if decision.decision == PROMOTED else champion,
        "metric": metric.name,
        "higher_is_better": metric.higher_is_better,
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
        "reason": reason,
    }
