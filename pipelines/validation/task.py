"""The ``validate`` task (``pipelines.validation.params.VALIDATE``): evaluate a model
version (default: the challenger) on a project's validation window with MLflow's evaluator
for the project's problem type, check it against that problem type's rules in
``thresholds``, log one MLflow run and record the outcome on the version's tags.
Validation never touches an alias."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import EvaluationResult
from mlflow.models.evaluation.validation import ModelValidationFailedException
from mlflow.tracking import MlflowClient

from pipelines.common import quality
from pipelines.common.code_version import code_version
from pipelines.common.errors import ValidationFailed
from pipelines.common.mlflow_setup import use_experiment
from pipelines.common.project import ModelProject, ProblemType
from pipelines.common.registry import CHALLENGER, CHAMPION, resolve_version, version_for_alias
from pipelines.common.task import TaskContext
from pipelines.training.dataset import load_labelled_set
from pipelines.validation import thresholds
from pipelines.validation.params import DISABLED, ENABLED, ValidateParams
from pipelines.validation.thresholds import Rule

PASSED, FAILED, DRY_RUN_FAILED, SKIPPED = "PASSED", "FAILED", "DRY_RUN_FAILED", "SKIPPED"
STATUSES = (PASSED, FAILED, DRY_RUN_FAILED, SKIPPED)

# Version tags this task writes; deployment reads STATUS_TAG.
STATUS_TAG = "validation_status"
RUN_ID_TAG = "validation_run_id"
WINDOW_TAG = "validation_window"
METRIC_TAG_PREFIX = "validation_"

CHAMPION_PREFIX = "champion_"

# Every metric a version may carry a tag of, whatever its problem type: a re-validation
# removes the tags it did not measure.
TAGGED_METRICS = tuple(dict.fromkeys(m for ms in quality.QUALITY_METRICS.values() for m in ms))


@dataclass(frozen=True)
class RuleOutcome:
    """How the challenger fared on one rule."""

    rule: str
    metric: str
    passed: bool
    value: float
    comparison: str
    bound: float
    champion_value: float | None
    detail: str

    def summary(self) -> str:
        """E.g. ``max_rmse: root_mean_squared_error 10.5 (must be <= 6)``."""
        text = (
            f"{self.rule}: {self.metric} {self.value:.4g}"
            f" (must be {self.comparison} {self.bound:.4g}"
        )
        if self.champion_value is not None:
            text += f"; champion {self.champion_value:.4g}"
        return text + ")"


def apply_rules(
    rules: list[Rule],
    candidate_metrics: dict[str, float],
    champion_metrics: dict[str, float] | None,
) -> list[RuleOutcome]:
    """Judge each rule on its own with ``mlflow.validate_evaluation_results`` (which stops
    at the first failing set), so every rule gets its own outcome."""
    candidate = EvaluationResult(metrics=candidate_metrics, artifacts={})
    baseline = (
        EvaluationResult(metrics=champion_metrics, artifacts={})
        if champion_metrics is not None
        else None
    )
    outcomes = []
    for rule in rules:
        try:
            mlflow.validate_evaluation_results(
                validation_thresholds={rule.metric: rule.threshold},
                candidate_result=candidate,
                baseline_result=baseline if rule.relative else None,
            )
            passed, detail = True, ""
        except ModelValidationFailedException as exc:
            passed, detail = False, exc.message
        outcomes.append(
            RuleOutcome(
                rule=rule.name,
                metric=rule.metric,
                passed=passed,
                value=float(candidate_metrics[rule.metric]),
                comparison=rule.comparison,
                bound=rule.bound,
                champion_value=(
                    float(champion_metrics[rule.metric])
                    if rule.relative and champion_metrics is not None
                    else None
                ),
                detail=detail,
            )
        )
    return outcomes


def validation_status(outcomes: list[RuleOutcome], run_mode: str) -> str:
    """PASSED when every rule passed; otherwise FAILED when enforced, DRY_RUN_FAILED when not."""
    if run_mode == DISABLED:
        return SKIPPED
    if all(o.passed for o in outcomes):
        return PASSED
    return FAILED if run_mode == ENABLED else DRY_RUN_FAILED


def failure_message(
    model_name: str,
    version: str,
    project: str,
    window: str,
    run_id: str,
    outcomes: list[RuleOutcome],
) -> str:
    """One paragraph naming every broken rule with its values and what to do next."""
    failed = [o for o in outcomes if not o.passed]
    broken = "; ".join(o.summary() for o in failed)
    example = "--" + (failed[0].rule if failed else "max_rmse").replace("_", "-")
    return (
        f"Model {model_name} version {version} failed validation on the labelled rows of"
        f" project {project} in {window} (MLflow run {run_id}): {broken}. The version is"
        f" tagged {STATUS_TAG}={FAILED} and every alias was left as it was. Change a limit"
        f" with its flag (e.g. {example}), or run with --run-mode dry_run to record failures"
        " without failing the task."
    )


def evaluator_config(problem_type: ProblemType, prefix: str = "") -> dict[str, Any]:
    """The default evaluator's config: no SHAP; a classifier is binary with positive class
    1 (so its metrics are the positive class's, whatever the window's labels hold)."""
    config: dict[str, Any] = {"log_model_explainability": False}
    if problem_type is ProblemType.CLASSIFICATION:
        config.update(pos_label=quality.POSITIVE_CLASS, label_list=[0, quality.POSITIVE_CLASS])
    if prefix:
        config["metric_prefix"] = prefix
    return config


def evaluate_version(
    model_uri: str, data: pd.DataFrame, project: ModelProject, prefix: str = ""
) -> tuple[dict[str, float], float]:
    """MLflow's default metrics for the project's problem type (``regressor`` or
    ``classifier``) of ``model_uri`` on ``data`` (names without ``prefix``) and the seconds
    evaluation took. The active run records them with ``prefix``, so two models' metrics
    can share one run.

    Raises ``ValidationFailed`` when a metric the rules or the report need is missing: a
    classifier's ``roc_auc`` and ``log_loss`` come only from a model with
    ``predict_proba``."""
    kind = project.problem_type
    started = time.perf_counter()
    result = mlflow.models.evaluate(
        model=model_uri,
        data=data,
        targets=project.label,
        model_type=kind.mlflow_model_type,
        evaluators=["default"],
        evaluator_config={"default": evaluator_config(kind, prefix)},
    )
    seconds = time.perf_counter() - started
    metrics = {k.removeprefix(prefix): float(v) for k, v in result.metrics.items()}
    needed = dict.fromkeys([*quality.metric_names(kind), *thresholds.metrics_of(kind)])
    missing = [m for m in needed if m not in metrics]
    if missing:
        raise ValidationFailed(
            f"Evaluating {model_uri} with MLflow's {kind.mlflow_model_type} evaluator gave no"
            f" {', '.join(missing)}, which validating a {kind} model needs (a classifier's"
            " roc_auc and log_loss come only from a model with predict_proba, e.g. a"
            " scikit-learn classifier logged with mlflow.sklearn). Nothing was recorded on"
            " the version."
        )
    return metrics, seconds


def validation_frame(ctx: TaskContext, params: ValidateParams) -> pd.DataFrame:
    """The window's labelled rows with exactly the model inputs and the label."""
    frame = load_labelled_set(ctx, params, "validation")
    project = params.model_project
    return frame[[*project.implementation().model_inputs(), project.label]]


def run(params: ValidateParams, ctx: TaskContext) -> dict[str, Any]:
    client = ctx.mlflow
    name = params.model_name
    version = resolve_version(
        client,
        name,
        params.model_version,
        CHALLENGER,
        "Validation defaults to that alias; run the train task first or pass --model-version.",
    )
    champion = version_for_alias(client, name, CHAMPION)
    if champion == version:
        # A version compared with itself proves nothing: only the absolute rules apply.
        champion = None
    window = f"{params.start_date}..{params.end_date}"
    project = params.model_project
    reported_metrics = quality.metric_names(project.problem_type)
    experiment_id = use_experiment(ctx.runtime, client, params.experiment)
    chosen = params.limits()
    run_tags = {
        "task": "validate",
        "code_version": code_version(),
        "model_name": name,
        "model_version": version,
        "run_mode": params.run_mode,
        "project": project.name,
        "problem_type": str(project.problem_type),
    }

    if params.run_mode == DISABLED:
        with mlflow.start_run(run_name=f"validate v{version} skipped") as run:
            mlflow.set_tags({**run_tags, STATUS_TAG: SKIPPED})
            mlflow.log_params({"window": window, "skipped_because": "--run-mode disabled"})
        _tag_version(client, name, version, SKIPPED, run.info.run_id, window, {})
        return {
            "model_name": name,
            "model_version": version,
            "champion_version": champion,
            "status": SKIPPED,
            "run_id": run.info.run_id,
            "experiment_id": experiment_id,
            "window": window,
            "rules": {},
            "metrics": {},
        }

    data = validation_frame(ctx, params)
    seconds: dict[str, float] = {}
    with mlflow.start_run(run_name=f"validate v{version} {window}") as run:
        mlflow.set_tags(run_tags)
        mlflow.log_params(
            {
                **chosen.values,
                "window": window,
                "rows": len(data),
                "champion_version": champion or "none",
            }
        )
        candidate_metrics, seconds["candidate"] = evaluate_version(
            f"models:/{name}/{version}", data, project
        )
        champion_metrics = None
        if champion is not None:
            champion_metrics, seconds["champion"] = evaluate_version(
                f"models:/{name}/{champion}", data, project, CHAMPION_PREFIX
            )
        rules = thresholds.validation_rules(chosen, champion_metrics)
        outcomes = apply_rules(rules, candidate_metrics, champion_metrics)
        status = validation_status(outcomes, params.run_mode)
        mlflow.log_params(
            {f"rule_{r.name}": f"{r.metric} {r.comparison} {r.bound:.6g}" for r in rules}
        )
        mlflow.log_metrics(
            {
                **{f"rule_{o.rule}_passed": float(o.passed) for o in outcomes},
                **{f"evaluate_seconds_{k}": v for k, v in seconds.items()},
            }
        )
        mlflow.set_tag(STATUS_TAG, status)
        mlflow.log_dict({o.rule: asdict(o) for o in outcomes}, "validation_rules.json")
    run_id = run.info.run_id
    reported = {m: candidate_metrics[m] for m in reported_metrics}
    _tag_version(client, name, version, status, run_id, window, reported)
    if status == FAILED:
        raise ValidationFailed(
            failure_message(name, version, project.name, window, run_id, outcomes)
        )
    return {
        "model_name": name,
        "model_version": version,
        "champion_version": champion,
        "status": status,
        "run_id": run_id,
        "experiment_id": experiment_id,
        "window": window,
        "rows": len(data),
        "rules": {
            o.rule: {
                "passed": o.passed,
                "value": round(o.value, 4),
                "comparison": o.comparison,
                "bound": round(o.bound, 4),
            }
            for o in outcomes
        },
        "metrics": {
            "candidate": {m: round(v, 4) for m, v in reported.items()},
            "champion": (
                {m: round(champion_metrics[m], 4) for m in reported_metrics}
                if champion_metrics
                else None
            ),
        },
        "evaluate_seconds": {k: round(v, 2) for k, v in seconds.items()},
    }


def _tag_version(
    client: MlflowClient,
    name: str,
    version: str,
    status: str,
    run_id: str,
    window: str,
    metrics: dict[str, float],
) -> None:
    """Record the outcome on the version; metric tags of an earlier run that this run did
    not measure are removed, so every tag describes the same run."""
    tags = {STATUS_TAG: status, RUN_ID_TAG: run_id, WINDOW_TAG: window}
    tags.update({f"{METRIC_TAG_PREFIX}{m}": f"{v:.6g}" for m, v in metrics.items()})
    existing = client.get_model_version(name, version).tags
    for metric in TAGGED_METRICS:
        key = f"{METRIC_TAG_PREFIX}{metric}"
        if key in existing and key not in tags:
            client.delete_model_version_tag(name, version, key)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
