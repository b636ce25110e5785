"""MonitoredTable: the quality monitor on a project's predictions table, who may read its
metric tables, and the retraining job that acts on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pulumi
import pulumi_databricks as databricks

from infra.components.retraining_job import RetrainingJob, RetrainingJobArgs
from infra.components.scheduled_job import Schedule

TYPE = "mlops-stack:monitoring:MonitoredTable"


@dataclass(frozen=True)
class InferenceLog:
    """How the monitor reads the inference table: the problem type
    (``PROBLEM_TYPE_REGRESSION`` or ``PROBLEM_TYPE_CLASSIFICATION``) and the columns with
    the prediction, the label, the model version and the scoring time; optionally the
    column of class probabilities (classification)."""

    problem_type: str
    prediction_col: str
    label_col: str
    model_id_col: str
    timestamp_col: str
    prediction_proba_col: str | None = None


@dataclass(frozen=True)
class MonitoredTableArgs:
    """What MonitoredTable needs.

    table_name: the inference table, catalog.schema.table; the metric tables go beside it.
    table: the resource that creates it (``CatalogAccess.tables``); the monitor waits for it.
    inference_log: its problem type and columns.
    granularities: the windows the metrics are computed over, e.g. ``("1 day",)``.
    assets_dir: the workspace folder of the dashboard (``naming.monitoring_assets_dir``).
    assets_folder: what creates that folder's parent (``StackFolder``); waited for.
    warehouse_id: the SQL warehouse the dashboard runs on (``None``: the workspace's).
    readers: the group that reads the metric tables and views the dashboard.
    ml_team: the group that may also re-run the dashboard's queries.
    runner: the service principal the retraining job runs as (``None`` in dev): it reads
        the profile metrics table.
    retraining: the retraining job; it also waits for the monitor and its grants.
    baseline_table: the reference predictions for baseline drift, if any.
    slicing_exprs: expressions to slice the metrics by.
    schedule: the monitor's own refresh schedule, or ``None``. Never paused: a monitor's
        schedule cannot be (see the class); leave it out where schedules are paused.
    notification_emails: who hears of a failed refresh.
    """

    table_name: str
    table: pulumi.Resource
    inference_log: InferenceLog
    granularities: Sequence[str]
    assets_dir: str
    readers: str
    ml_team: str
    retraining: RetrainingJobArgs
    runner: str | None = None
    warehouse_id: str | None = None
    assets_folder: pulumi.Resource | None = None
    baseline_table: str | None = None
    slicing_exprs: Sequence[str] = ()
    schedule: Schedule | None = None
    notification_emails: Sequence[str] = ()


class MonitoredTable(pulumi.ComponentResource):
    """A Databricks quality monitor (inference log, of the model's problem type) on a
    predictions table, grants on the two metric tables it writes, and the retraining job.

    The monitor computes Lakehouse Monitoring's profile and drift metrics per window
    (``granularities``) and model version, writes them to ``<table>_profile_metrics`` and
    ``<table>_drift_metrics`` beside the table, and builds a dashboard in ``assets_dir``
    (the project's monitoring folder). It refreshes when the retraining job asks it to
    (daily, after the labels are joined) and, in staging and prod, if ``refreshSchedule``
    is set, on its own schedule too.

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
      therefore has CAN_MANAGE_RUN on the training job (``TrainingJobArgs.job``).
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
        table = args.table_name
        output_schema = table.rpartition(".")[0]
        runner, readers = args.runner, args.readers
        emails = list(args.notification_emails)
        schedule = args.schedule
        log = args.inference_log
        self.assets_dir = args.assets_dir

        self.monitor = databricks.QualityMonitor(
            f"{name}-monitor",
            table_name=table,
            output_schema_name=output_schema,
            assets_dir=self.assets_dir,
            inference_log=databricks.QualityMonitorInferenceLogArgs(
                problem_type=log.problem_type,
                prediction_col=log.prediction_col,
                label_col=log.label_col,
                model_id_col=log.model_id_col,
                timestamp_col=log.timestamp_col,
                prediction_proba_col=log.prediction_proba_col,
                granularities=list(args.granularities),
            ),
            baseline_table_name=args.baseline_table,
            slicing_exprs=list(args.slicing_exprs) or None,
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
            warehouse_id=args.warehouse_id,
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
                    group_name=args.ml_team, permission_level="CAN_RUN"
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )

        retraining = args.retraining
        self.retraining = RetrainingJob(
            f"{name}-retraining",
            replace(retraining, depends_on=(*retraining.depends_on, self.monitor, *self.grants)),
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
