"""The ``deploy`` task (``pipelines.deployment.params.DEPLOY``): make a validated version
(default: the challenger) the ``champion`` when there is none, or when it scores no worse
than the champion on the same reference window; otherwise keep the champion. Every alias
move leaves a trace in tags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import mlflow
import pandas as pd
from sklearn.metrics import root_mean_squared_error

from pipelines.common import schemas
from pipelines.common.errors import DeploymentRefused
from pipelines.common.registry import CHALLENGER, CHAMPION, resolve_version, version_for_alias
from pipelines.common.task import TaskContext
from pipelines.deployment import history
from pipelines.deployment.aliases import move_champion
from pipelines.deployment.decision import PROMOTED, decide, refusal
from pipelines.deployment.params import DeployParams
from pipelines.features.join import MODEL_INPUTS
from pipelines.training.dataset import load_labelled_set


def reference_frame(ctx: TaskContext, params: DeployParams) -> pd.DataFrame:
    """The reference window's labelled trips: model inputs and label."""
    frame = load_labelled_set(ctx, params, "comparing challenger and champion")
    return frame[[*MODEL_INPUTS, schemas.LABEL]]


def reference_rmse(model_uri: str, frame: pd.DataFrame) -> float:
    """RMSE of the model's pyfunc predictions on ``frame``; the one scoring both models
    get, so their numbers compare."""
    model = mlflow.pyfunc.load_model(model_uri)
    predictions = model.predict(frame[MODEL_INPUTS])
    return float(root_mean_squared_error(frame[schemas.LABEL], predictions))


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
    metrics: dict[str, float] = {}
    if champion is not None and champion != version:
        frame = reference_frame(ctx, params)
        metrics = {
            "challenger_rmse": reference_rmse(f"models:/{name}/{version}", frame),
            "champion_rmse": reference_rmse(f"models:/{name}/{champion}", frame),
            "reference_rows": len(frame),
        }
    decision = decide(
        version,
        champion,
        metrics.get("challenger_rmse"),
        metrics.get("champion_rmse"),
        f"trips picked up in {window}",
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
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
        "reason": reason,
    }
