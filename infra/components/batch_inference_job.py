"""BatchInferenceJob: score the day's requests with the champion into the predictions table."""

from __future__ import annotations

from infra.components.scheduled_job import RecentDaysJob, TaskSpec, run_date
from infra.settings import StackSettings

CHAMPION = "champion"


class BatchInferenceJob(RecentDaysJob):
    """One task, ``ScoreBatch``: requests picked up in [run_date - days, run_date), joined
    point in time with the features, scored by the version the ``champion`` alias names when
    the task starts. Re-scoring a day replaces it and keeps the labels that arrived."""

    TYPE = "mlops-stack:jobs:BatchInferenceJob"
    JOB = "batch_inference"
    DESCRIPTION = "Scores inference requests with the champion model into the predictions table."

    @classmethod
    def task_specs(cls, settings: StackSettings) -> list[TaskSpec]:
        tables = settings.tables
        return [
            TaskSpec(
                key="ScoreBatch",
                entry_point="mlops-batch-inference",
                description="Predictions for requests in [run_date - days, run_date).",
                parameters={
                    "input-table": tables.inference_requests,
                    "pickup-features-table": tables.pickup_features,
                    "dropoff-features-table": tables.dropoff_features,
                    "output-table": tables.predictions,
                    "model-name": settings.model_full_name,
                    "model-alias": CHAMPION,
                    "start-date": run_date(cls.DAYS),
                    "end-date": run_date(),
                },
            )
        ]
