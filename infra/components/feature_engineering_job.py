"""FeatureEngineeringJob: recompute the pickup and dropoff feature tables for recent days."""

from __future__ import annotations

from infra.components.scheduled_job import RecentDaysJob, TaskSpec, run_date
from infra.settings import StackSettings


class FeatureEngineeringJob(RecentDaysJob):
    """One task, ``WriteFeatures``: the feature windows ending in the ``days`` days up to
    the run date. Each table is keyed by (zip, window_end), window_end being the timestamp
    key the point-in-time join uses. Re-running a day replaces its windows; a manual run
    with a larger ``days`` backfills."""

    TYPE = "mlops-stack:jobs:FeatureEngineeringJob"
    JOB = "feature_engineering"
    DESCRIPTION = "Writes the pickup and dropoff zip feature tables from the trips table."

    @classmethod
    def task_specs(cls, settings: StackSettings) -> list[TaskSpec]:
        tables = settings.tables
        return [
            TaskSpec(
                key="WriteFeatures",
                entry_point="mlops-write-features",
                description="Feature windows ending in (run_date - days, run_date].",
                parameters={
                    "input-table": tables.trips,
                    "pickup-features-table": tables.pickup_features,
                    "dropoff-features-table": tables.dropoff_features,
                    "start-date": run_date(cls.DAYS),
                    "end-date": run_date(),
                },
            )
        ]
