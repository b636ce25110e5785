"""The validation task's interface: its flags, declared once (``pipelines.common.interface``).

The limit flags are the limits of ``pipelines.validation.thresholds.LIMITS`` (their help,
default and problem type come from there); each applies to the projects of one problem
type, and giving one to a project of another is a usage error.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from pipelines.common.errors import UsageError
from pipelines.common.interface import Task, flag, positive_int
from pipelines.common.registry import CHALLENGER
from pipelines.training.params import LabelledDataParams, registered_model_flag
from pipelines.validation import thresholds
from pipelines.validation.thresholds import LIMITS, Limits

DISABLED, DRY_RUN, ENABLED = "disabled", "dry_run", "enabled"
RUN_MODES = (DISABLED, DRY_RUN, ENABLED)

LIMIT_NAMES = tuple(LIMITS)


def limit_flag(name: str) -> Any:
    """The flag of the limit ``name``: optional (None: the default of its problem type)."""
    limit = LIMITS[name]
    scope = f"{limit.problem_type} projects only"
    if limit.relative:
        scope += "; applies only when there is a champion"
    default = f"default {limit.default:g}"
    if limit.relative:
        default += f", i.e. {limit.default * 100:g} percent"
    return flag(f"{limit.help} ({default}; {scope})", default=None)


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
    # Regression.
    max_rmse: float | None = limit_flag("max_rmse")
    max_mae: float | None = limit_flag("max_mae")
    min_r2: float | None = limit_flag("min_r2")
    max_rmse_increase: float | None = limit_flag("max_rmse_increase")
    # Classification.
    min_roc_auc: float | None = limit_flag("min_roc_auc")
    min_f1: float | None = limit_flag("min_f1")
    max_log_loss: float | None = limit_flag("max_log_loss")
    max_roc_auc_decrease: float | None = limit_flag("max_roc_auc_decrease")

    def given_limits(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in LIMIT_NAMES}

    def limits(self) -> Limits:
        """The project's problem type's limits: its defaults with the flags given."""
        return thresholds.limits(self.model_project.problem_type, self.given_limits())

    def validate(self) -> None:
        super().validate()
        if self.run_mode not in RUN_MODES:
            raise UsageError(f"--run-mode {self.run_mode}: expected one of {', '.join(RUN_MODES)}.")
        project = self.model_project
        foreign = thresholds.foreign_limits(project.problem_type, self.given_limits())
        if foreign:
            options = ", ".join(
                f"{limit.option} (a {limit.problem_type} limit)" for limit in foreign
            )
            raise UsageError(
                f"{options}: project {project.name} is a {project.problem_type} project,"
                f" whose limits are {thresholds.options_of(project.problem_type)}."
            )
        problems = thresholds.limit_problems(self.limits())
        if problems:
            raise UsageError("Invalid validation limits: " + "; ".join(problems) + ".")


_undeclared = sorted(set(LIMIT_NAMES) - {f.name for f in fields(ValidateParams)})
if _undeclared:  # a limit added to thresholds.LIMITS needs its flag here
    raise TypeError(f"ValidateParams has no flag for the limit(s) {', '.join(_undeclared)}")


VALIDATE = Task(
    name="validate",
    params=ValidateParams,
    summary="Evaluate a model version (default: the 'challenger') on the project's labelled"
    " rows of [start, end) with MLflow's evaluator for its problem type (regressor or"
    " classifier), check the validation rules of that problem type (absolute, and relative"
    " to the 'champion' when there is one), log one MLflow run and tag the version with the"
    " outcome. Never moves an alias.",
    runs="pipelines.validation.task:run",
)
