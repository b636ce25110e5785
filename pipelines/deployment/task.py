"""Entry point ``deploy``: make a validated version (default: the challenger) the
``champion`` when there is none, or when it scores no worse than the champion on the same
reference window; otherwise keep the champion. Every alias move leaves a trace in tags."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

import mlflow
import pandas as pd
from sklearn.metrics import root_mean_squared_error

from pipelines.common import flags, schemas
from pipelines.common.errors import DeploymentRefused
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.tables import TableName
from pipelines.common.task import TaskContext, entry_point, new_parser
from pipelines.deployment import history
from pipelines.deployment.aliases import (
    CHALLENGER,
    CHAMPION,
    move_champion,
    resolve_version,
    version_for_alias,
)
from pipelines.deployment.decision import PROMOTED, decide, refusal
from pipelines.features.join import MODEL_INPUTS
from pipelines.training.dataset import load_labelled_set


@dataclass(frozen=True)
class Params:
    input_table: TableName
    pickup_features_table: TableName
    dropoff_features_table: TableName
    start_date: dt.date
    end_date: dt.date
    model_name: str
    model_version: int | None = None
    reason: str | None = None

    def validate(self) -> None:
        flags.check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


def build_parser() -> TaskArgumentParser:
    parser = new_parser(
        "deploy",
        "Move the 'champion' alias to a validated version (default: the 'challenger') when"
        " there is no champion or when its RMSE on the reference window [start, end) is no"
        " worse than the champion's; otherwise keep the champion. Tags both versions with"
        " who moved the alias, when and why.",
    )
    flags.add_labelled_data_flags(parser, "reference window")
    parser.add_argument(
        "--model-name",
        type=flags.model_name,
        required=True,
        help="three-level registered model name, catalog.schema.model",
    )
    parser.add_argument(
        "--model-version",
        type=flags.positive_int,
        default=None,
        help=f"version to deploy (default: the version behind the '{CHALLENGER}' alias)",
    )
    parser.add_argument(
        "--reason",
        default=None,
        help="free text recorded in the new champion's champion_reason tag",
    )
    return parser


def reference_frame(ctx: TaskContext, params: Params) -> pd.DataFrame:
    """The reference window's labelled trips: model inputs and label."""
    frame = load_labelled_set(ctx, params, "comparing challenger and champion")
    return frame[[*MODEL_INPUTS, schemas.LABEL]]


def reference_rmse(model_uri: str, frame: pd.DataFrame) -> float:
    """RMSE of the model's pyfunc predictions on ``frame``; the one scoring both models
    get, so their numbers compare."""
    model = mlflow.pyfunc.load_model(model_uri)
    predictions = model.predict(frame[MODEL_INPUTS])
    return float(root_mean_squared_error(frame[schemas.LABEL], predictions))


def run(params: Params, ctx: TaskContext) -> dict[str, Any]:
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


def main(argv: list[str] | None = None) -> int:
    return entry_point(build_parser, Params, run, argv)


if __name__ == "__main__":
    sys.exit(main())
