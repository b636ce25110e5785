"""The validation task's interface: its flags, declared once (``pipelines.common.interface``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from pipelines.common.errors import UsageError
from pipelines.common.interface import Task, flag, positive_int
from pipelines.common.registry import CHALLENGER
from pipelines.training.params import LabelledDataParams, registered_model_flag
from pipelines.validation import thresholds
from pipelines.validation.thresholds import DEFAULT_LIMITS, Limits

DISABLED, DRY_RUN, ENABLED = "disabled", "dry_run", "enabled"
RUN_MODES = (DISABLED, DRY_RUN, ENABLED)

LIMIT_NAMES = tuple(f.name for f in fields(Limits))


@dataclass(frozen=True, kw_only=True)
class ValidateParams(LabelledDataParams):
    window: ClassVar[str] = "validation window"

    model_name: str = registered_model_flag()
    model_version: int | None = flag(
        f"version to validate (default: the version behind the '{CHALLENGER}' alias)",
        default=None,
        parse=positive_int,
    )
    experiment: str = flag("MLflow experiment path for the validation run")
    run_mode: str = flag(
        "enabled: a broken rule fails the task; dry_run: record the outcome only;"
        " disabled: skip evaluation and tag the version SKIPPED (default: enabled)",
        default=ENABLED,
        choices=RUN_MODES,
    )
    max_rmse: float | None = flag(
        f"largest allowed root_mean_squared_error, in dollars (default {DEFAULT_LIMITS.max_rmse})",
        default=None,
    )
    max_mae: float | None = flag(
        f"largest allowed mean_absolute_error, in dollars (default {DEFAULT_LIMITS.max_mae})",
        default=None,
    )
    min_r2: float | None = flag(
        f"smallest allowed r2_score (default {DEFAULT_LIMITS.min_r2})", default=None
    )
    max_rmse_increase: float | None = flag(
        "largest allowed RMSE above the champion's on the same data, as a fraction of"
        f" the champion's RMSE (default {DEFAULT_LIMITS.max_rmse_increase}, i.e."
        f" {DEFAULT_LIMITS.max_rmse_increase * 100:g} percent); applies only when there is"
        " a champion",
        default=None,
    )

    def limits(self) -> Limits:
        return thresholds.limits({name: getattr(self, name) for name in LIMIT_NAMES})

    def validate(self) -> None:
        super().validate()
        if self.run_mode not in RUN_MODES:
            raise UsageError(f"--run-mode {self.run_mode}: expected one of {', '.join(RUN_MODES)}.")
        problems = thresholds.limit_problems(self.limits())
        if problems:
            raise UsageError("Invalid validation limits: " + "; ".join(problems) + ".")


VALIDATE = Task(
    name="validate",
    params=ValidateParams,
    summary="Evaluate a model version (default: the 'challenger') on trips picked up in"
    " [start, end) with MLflow's regressor evaluator, check the validation rules"
    " (absolute, and relative to the 'champion' when there is one), log one MLflow run"
    " and tag the version with the outcome. Never moves an alias.",
    runs="pipelines.validation.task:run",
)
