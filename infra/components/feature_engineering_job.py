"""FeatureEngineeringJob: recompute a model's feature tables for recent days."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.components.scheduled_job import (
    DAYS,
    JobCode,
    JobSettings,
    JobSpec,
    ScheduledJob,
    ScheduledJobArgs,
    TaskSpec,
    recent_days,
    run_date,
)
from pipelines.features.params import WRITE_FEATURES

TYPE = "mlops-stack:jobs:FeatureEngineeringJob"


@dataclass(frozen=True)
class FeatureEngineeringJobArgs:
    """What FeatureEngineeringJob needs.

    job, code, workspace_host: as for every job (``JobSettings``, ``JobCode``).
    data: write-features' table params (source and feature tables), by field name.
    days: how many days up to the run date a scheduled run recomputes (1).
    depends_on: what must exist first (tables, grants).
    """

    job: JobSettings
    code: JobCode
    workspace_host: str
    data: Mapping[str, Any]
    days: int = 1
    depends_on: Sequence[pulumi.Resource] = ()


def feature_engineering_job(args: FeatureEngineeringJobArgs) -> JobSpec:
    """One task, ``WriteFeatures``: the feature windows ending in the ``days`` days up to
    the run date. Re-running a day replaces its windows; a manual run with a larger
    ``days`` backfills."""
    return JobSpec(
        key="feature_engineering",
        settings=args.job,
        description="Writes the feature tables from the source table.",
        tasks=(
            TaskSpec(
                key="WriteFeatures",
                task=WRITE_FEATURES,
                description="Feature windows ending in (run_date - days, run_date].",
                values={**args.data, "start_date": run_date(DAYS), "end_date": run_date()},
            ),
        ),
        parameters=recent_days(args.days),
    )


class FeatureEngineeringJob(ScheduledJob):
    """The feature engineering job of a model (``feature_engineering_job``)."""

    def __init__(
        self,
        name: str,
        args: FeatureEngineeringJobArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            name,
            ScheduledJobArgs(
                feature_engineering_job(args), args.code, args.workspace_host, args.depends_on
            ),
            opts,
            type_=TYPE,
        )
