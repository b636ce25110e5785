"""MonitoredTable: the quality monitor on the predictions table, who may read its metric
tables, and the retraining job that acts on them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi
import pulumi_databricks as databricks

from infra import naming
from infra.components.retraining_job import RetrainingJob
from infra.components.scheduled_job import ScheduledJob, ScheduledJobArgs
from infra.settings import StackSettings

TYPE = "mlops-stack:monitoring:MonitoredTable"
# The inference table's columns the monitor reads (pipelines.common.schemas.INFERENCE).
PREDICTION_COL = "prediction"
LABEL_COL = "fare_amount"
MODEL_ID_COL = "model_version"
TIMESTAMP_COL = "timestamp"
PROBLEM_TYPE = "PROBLEM_TYPE_REGRESSION"


@dataclass(frozen=True)
class MonitoredTableArgs:
    """What MonitoredTable needs.

    settings: the stack settings; ``settings.monitoring`` must be enabled.
    table: the predictions (inference) table resource (``CatalogAccess.tables``); the
        monitor waits for it.
    training: the training job the retraining job starts when the metric is violated.
    assets_folder: what creates the folder the monitor's assets go in (``StackFolder``);
        the monitor waits for it.
    job: what the retraining job shares with every job (wheel, code version, what it
        waits for); it also waits for the monitor and the grants on its tables.
    """

    settings: StackSettings
    table: databricks.SqlTable
    training: ScheduledJob
    job: ScheduledJobArgs
    assets_folder: pulumi.Resource | None = None


class MonitoredTable(pulumi.ComponentResource):
    """A Databricks quality monitor (inference log, regression) on the predictions table,
    grants on the two metric tables it writes, and the retraining job.

    The monitor computes Lakehouse Monitoring's profile and drift metrics per window
    (``granularities``) and model version, writes them to ``<table>_profile_metrics`` and
    ``<table>_drift_metrics`` beside the table, and builds a dashboard in the stack's
    monitoring folder. It refreshes when the retraining job asks it to (daily, after the
    labels are joined) and, in staging and prod, if ``refreshSchedule`` is set, on its own
    schedule too.

    Its schedule is never paused, because a quality monitor's schedule cannot be: the
    Databricks provider makes ``schedule.pause_status`` read-only and blanks it on every
    update (``catalog/resource_quality_monitor.go``, "Make the schedule.pause_status field
    read-only (#3692)"; likewise the Plugin Framework's
    ``internal/providers/pluginfw/products/qualitymonitor/resource_quality_monitor.go``),
    and Databricks' own answer in databricks/cli PR #1481 was that pausing a monitor means
    removing its schedule. So no ``pause_status`` is ever sent, and where the stack's
    schedules are paused (dev) the monitor has no schedule at all, whatever
    ``refreshSchedule`` says: it refreshes only when asked (the retraining job, run by
    hand there, or the UI). See docs/platform.md, "Quality monitor schedules".

    Privileges, each the least that works:
    - The metric tables belong to the monitor, hence to the stack, so their grants are
      authoritative: readers SELECT both (the dashboard and their own queries); the runner
      SELECTs the profile table, the one the violation check reads, and nothing else.
    - Refreshing a monitor is not a data privilege: the Data Quality API lets a caller
      with USE_CATALOG, USE_SCHEMA and MANAGE on the table create and read refreshes
      (docs.databricks.com/api/data-quality/v1/create-refresh), whereas the legacy
      quality-monitors API asks for table ownership. MANAGE on the predictions table alone
      is narrower than owning it (an owner also holds every data privilege and may drop the
      table) and than MANAGE on the schema, so ``CatalogAccess`` grants the runner MANAGE on
      that one table (``OutputTable.monitor_refreshed_by_runner``); USE_CATALOG and
      USE_SCHEMA it has already.
    - The retraining job's run-job task starts the training job as the runner, which
      therefore has CAN_MANAGE_RUN on the training job (``TrainingJob.access_controls``).
    - The dashboard: CAN_READ for readers, CAN_RUN for the ML team.

    In dev there is no runner: the jobs run as the person who deployed them, who created
    the monitor and so owns it and its tables.
    """

    monitor: databricks.QualityMonitor
    grants: list[databricks.Grants]
    retraining: RetrainingJob

    def __init__(
        self, name: str, args: MonitoredTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        settings = args.settings
        monitoring = settings.monitoring
        if not monitoring.enabled:
            raise ValueError("MonitoredTable needs settings.monitoring.enabled")
        table = settings.tables.predictions
        output_schema = table.rpartition(".")[0]
        runner, readers = settings.principals.runner, settings.groups.readers
        emails = list(settings.notification_emails)
        # No schedule where schedules are paused: a monitor's cannot be (see the class).
        schedule = None if settings.schedules_paused else monitoring.refresh_schedule
        self.assets_dir = naming.monitoring_assets_dir(settings.environment)

        self.monitor = databricks.QualityMonitor(
            f"{name}-monitor",
            table_name=table,
            output_schema_name=output_schema,
            assets_dir=self.assets_dir,
            inference_log=databricks.QualityMonitorInferenceLogArgs(
                problem_type=PROBLEM_TYPE,
                prediction_col=PREDICTION_COL,
                label_col=LABEL_COL,
                model_id_col=MODEL_ID_COL,
                timestamp_col=TIMESTAMP_COL,
                granularities=list(monitoring.granularities),
            ),
            baseline_table_name=monitoring.baseline_table,
            slicing_exprs=list(monitoring.slicing_exprs) or None,
            schedule=databricks.QualityMonitorScheduleArgs(
                quartz_cron_expression=schedule.cron,
                timezone_id=schedule.timezone,
            )
            if schedule
            else None,
            notifications=databricks.QualityMonitorNotificationsArgs(
                on_failure=databricks.QualityMonitorNotificationsOnFailureArgs(
                    email_addresses=emails
                )
            )
            if emails
            else None,
            warehouse_id=settings.sql_warehouse_id,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[args.table, *([args.assets_folder] if args.assets_folder else [])],
            ),
        )

        # The provider waits for the monitor to be active, with its tables, before these.
        profile_readers = ([runner] if runner else []) + [readers]
        self.grants = [
            databricks.Grants(
                f"{name}-profile-metrics-grants",
                table=self.monitor.profile_metrics_table_name,
                grants=[
                    databricks.GrantsGrantArgs(principal=principal, privileges=["SELECT"])
                    for principal in profile_readers
                ],
                opts=pulumi.ResourceOptions(parent=self),
            ),
            databricks.Grants(
                f"{name}-drift-metrics-grants",
                table=self.monitor.drift_metrics_table_name,
                grants=[databricks.GrantsGrantArgs(principal=readers, privileges=["SELECT"])],
                opts=pulumi.ResourceOptions(parent=self),
            ),
        ]

        # The dashboard is a workspace object with its own ACL: readers may view it (its
        # queries run as the viewer, on the metric tables granted above), the ML team may
        # also re-run its queries.
        self.dashboard_permissions = databricks.Permissions(
            f"{name}-dashboard-permissions",
            dashboard_id=self.monitor.dashboard_id,
            access_controls=[
                databricks.PermissionsAccessControlArgs(
                    group_name=readers, permission_level="CAN_READ"
                ),
                databricks.PermissionsAccessControlArgs(
                    group_name=settings.groups.ml_team, permission_level="CAN_RUN"
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

        job_args = replace(args.job, depends_on=(*args.job.depends_on, self.monitor, *self.grants))
        self.retraining = RetrainingJob(
            f"{name}-retraining",
            job_args,
            args.training,
            pulumi.ResourceOptions(parent=self),
        )

        self.dashboard_id = self.monitor.dashboard_id
        self.profile_metrics_table = self.monitor.profile_metrics_table_name
        self.drift_metrics_table = self.monitor.drift_metrics_table_name
        self.register_outputs(
            {
                "dashboard_id": self.dashboard_id,
                "profile_metrics_table": self.profile_metrics_table,
                "drift_metrics_table": self.drift_metrics_table,
                "assets_dir": self.assets_dir,
                "retraining_job_id": self.retraining.job_id,
            }
        )
