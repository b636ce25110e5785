"""The stack settings: one typed object, read and validated from a stack's config.

Every key lives under the project namespace (``mlops-stack:<key>`` in ``Pulumi.<stack>.yaml``).
All problems are collected and reported together, each naming the stack file, the key, the
value and what was expected, before any resource is registered.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = "mlops-stack"
# Where Pulumi.yaml and the stack files are.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENTS = ("dev", "staging", "prod")
PLACEHOLDER_MARK = "REPLACE-ME"
PLACEHOLDER_PRINCIPAL = "00000000-0000-0000-0000-"
JOBS = ("feature_engineering", "training", "batch_inference", "monitoring")
RUN_MODES = ("disabled", "dry_run", "enabled")
# What the quality monitor and the violation check support (pipelines.monitoring.violation).
GRANULARITIES = ("1 hour", "1 day", "1 week")
ERROR_METRICS = (
    "root_mean_squared_error",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
)
METRICS = (*ERROR_METRICS, "r2_score")
DIRECTIONS = ("above", "below")
# Where the stack's managed tables, volumes and model files live when it has its own
# storage: under its schema's managed location, or the catalog's (the stack then creates
# the catalog).
MANAGED_LOCATIONS = ("schema", "catalog")

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,127}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HOST = re.compile(
    r"https://[A-Za-z0-9.-]+\.(cloud\.databricks\.com|azuredatabricks\.net|gcp\.databricks\.com)"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_ML_RUNTIME = re.compile(r"\d+\.\d+\.x-(cpu-|gpu-)?ml-scala2\.1[23]")
_TAG_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
_TABLE = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")
_TABLE_EXPECTED = "a fully qualified lower-case table name, catalog.schema.table"
# The IAM role Unity Catalog assumes storage credentials' roles from (AWS commercial
# regions), as documented by Databricks for storage credentials.
UC_MASTER_ROLE_ARN = "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
# S3 allows dots in bucket names; Unity Catalog does not (docs/platform.md, "Storage").
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_BUCKET_EXPECTED = (
    "an S3 bucket name Unity Catalog accepts: 3-63 lower-case letters, digits and hyphens"
    " (no dots: Unity Catalog refuses dotted bucket names), starting and ending with a"
    " letter or digit, no reserved prefix"
    " (xn--, sthree-, amzn-s3-demo-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3,"
    " --table-s3)"
)
_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_AWS_ACCOUNT = re.compile(r"\d{12}")
_IAM_ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
# Keys of other namespaces that are credentials: they must be Pulumi secrets (or come from
# the environment), never plain text in a stack file.
_CREDENTIAL_KEY = re.compile(r"(token|password|secret|secretkey|accesskey|clientsecret)$", re.I)


class InvalidStackConfig(Exception):
    """A stack's settings are wrong; the message lists every problem found."""


@dataclass(frozen=True)
class Schedule:
    """When a job runs: a Quartz cron expression in a time zone."""

    cron: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class Compute:
    """The compute every job task runs on: one job cluster per job, or serverless."""

    kind: str = "job_cluster"  # job_cluster | serverless
    spark_version: str = "17.3.x-cpu-ml-scala2.13"
    node_type: str = "i3.xlarge"
    num_workers: int = 1
    policy_id: str | None = None
    serverless_environment_version: str = "3"


@dataclass(frozen=True)
class Principals:
    """Service principals by application id: who runs ``pulumi up``, and who runs the jobs."""

    deployer: str | None = None
    runner: str | None = None


@dataclass(frozen=True)
class Groups:
    """Account groups: readers see predictions and runs; the ML team also runs the jobs and
    loads the input tables the stack creates; the model owners own the registered model."""

    readers: str = "mlops-readers"
    ml_team: str = "ml-engineers"
    # Owns the registered model in staging and prod: an account group holding both the
    # deployer and the runner (docs/platform.md, "Registered model ownership").
    model_owners: str | None = None


@dataclass(frozen=True)
class Tables:
    """Fully qualified table names. Inputs exist already; outputs are created by the stack."""

    trips: str
    inference_requests: str
    pickup_features: str
    dropoff_features: str
    predictions: str

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.trips, self.inference_requests)

    @property
    def outputs(self) -> tuple[str, ...]:
        return (self.pickup_features, self.dropoff_features, self.predictions)


@dataclass(frozen=True)
class Training:
    """The training job's windows, counted in days back from the run date."""

    lookback_days: int = 90
    holdout_days: int = 7
    max_iter: int = 200
    learning_rate: float = 0.1


@dataclass(frozen=True)
class Validation:
    """How the candidate model is judged (see pipelines/validation/thresholds.py)."""

    run_mode: str = "enabled"
    max_rmse: float = 8.0
    max_mae: float = 5.0
    min_r2: float = 0.5
    max_rmse_increase: float = 0.05


@dataclass(frozen=True)
class JobPolicy:
    """Retries and time limits shared by every task."""

    max_retries: int = 1
    min_retry_interval_minutes: int = 5
    timeout_minutes: int = 120


@dataclass(frozen=True)
class Monitoring:
    """The quality monitor on the predictions table and the retraining rule.

    enabled: register the monitor and the retraining job at all.
    granularities: window sizes the monitor computes metrics for; the violation check uses
        the first.
    metric: the table-level regression metric the rule watches.
    violated_when: ``above`` for the error metrics, ``below`` for r2_score.
    threshold: the metric's limit.
    evaluation_windows: N, the last windows with the metric that the rule looks at.
    violation_windows: M (1..N), how many of them must be beyond the threshold, the latest
        included, for the job to retrain.
    lookback_days: days of labels and metrics each run of the retraining job refreshes.
    baseline_table: reference rows for baseline drift (optional).
    slicing_exprs: column expressions the Databricks monitor also slices by.
    refresh_schedule: the monitor's own refresh schedule, besides the retraining job's.
    """

    enabled: bool = True
    granularities: tuple[str, ...] = ("1 day",)
    metric: str = "root_mean_squared_error"
    violated_when: str = "above"
    threshold: float = 0.0
    evaluation_windows: int = 7
    violation_windows: int = 3
    lookback_days: int = 30
    baseline_table: str | None = None
    slicing_exprs: tuple[str, ...] = ()
    refresh_schedule: Schedule | None = None

    @property
    def granularity(self) -> str:
        """The window size the violation check evaluates."""
        return self.granularities[0]


@dataclass(frozen=True)
class Storage:
    """The stack's own lakehouse storage on AWS (``LakehouseStorage``), optional per stack.

    enabled: create the bucket, the IAM role, the storage credential and the external
        location at all (default false: the stack uses the metastore's storage).
    bucket_name: the S3 bucket the stack creates.
    aws_region: the bucket's region, that of the workspace's metastore.
    unity_catalog_role_arn: the Databricks role that assumes the stack's role.
    aws_account_id: the AWS account of the role, for its self-assume statement.
    force_destroy: let ``pulumi destroy`` delete a bucket that still holds objects.
    managed_location: which storage root the stack sets on the external location:
        ``schema`` (the stack's schema, in a catalog someone else owns) or ``catalog``
        (the stack creates the catalog itself with its storage root there).
    """

    enabled: bool = False
    bucket_name: str = ""
    aws_region: str = ""
    unity_catalog_role_arn: str = UC_MASTER_ROLE_ARN
    aws_account_id: str = ""
    force_destroy: bool = False
    managed_location: str = "schema"

    @property
    def owns_catalog(self) -> bool:
        """The stack creates its catalog (with the catalog's storage root on its bucket)."""
        return self.enabled and self.managed_location == "catalog"


@dataclass(frozen=True)
class StackSettings:
    """Everything the program needs to know about one stack."""

    stack: str
    source: str
    environment: str
    workspace_host: str
    catalog: str
    schema: str
    model_name: str
    experiment_path: str
    principals: Principals
    groups: Groups
    compute: Compute
    schedules: Mapping[str, Schedule]
    tables: Tables
    training: Training
    validation: Validation
    jobs: JobPolicy
    notification_emails: tuple[str, ...]
    tags: Mapping[str, str]
    sql_warehouse_id: str | None = None
    code_volume: str = "code"
    monitoring: Monitoring = Monitoring(enabled=False)
    storage: Storage = Storage()

    @property
    def model_full_name(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.model_name}"

    @property
    def schedules_paused(self) -> bool:
        """Dev jobs are run by hand; only staging and prod run on their schedules."""
        return self.environment == "dev"

    @property
    def protect(self) -> bool:
        """Prod's model and tables must survive a mistaken ``pulumi destroy``."""
        return self.environment == "prod"

    def placeholders(self) -> list[str]:
        """The keys that still hold the stack files' placeholders."""
        found = [f"{PROJECT}:workspaceHost"] if PLACEHOLDER_MARK in self.workspace_host else []
        for role in ("deployer", "runner"):
            value = getattr(self.principals, role)
            if value and value.startswith(PLACEHOLDER_PRINCIPAL):
                found.append(f"{PROJECT}:principals.{role}")
        if self.sql_warehouse_id and PLACEHOLDER_MARK in self.sql_warehouse_id:
            found.append(f"{PROJECT}:sqlWarehouseId")
        return found

    def plan_warnings(self) -> list[str]:
        """What the stack may deploy but should not, said by ``mlops plan``."""
        warnings = []
        if not self.sql_warehouse_id:
            warnings.append(
                f"{PROJECT}:sqlWarehouseId is not set, so the Databricks provider creates"
                " and starts a cluster (terraform-sql-table) to run the tables' DDL on every"
                " apply that creates or changes a table: the deployer needs the right to"
                " create clusters, and such an apply takes minutes. Name a SQL warehouse to"
                " avoid it."
            )
        return warnings


# --- reading -------------------------------------------------------------------------


@dataclass
class _Reader:
    """Walks the raw config and collects every problem instead of stopping at the first."""

    source: str
    problems: list[str] = field(default_factory=list)

    def problem(self, key: str, value: Any, expected: str) -> None:
        shown = "missing" if value is _MISSING else f"{_show(value)}"
        self.problems.append(f"{PROJECT}:{key} is {shown}: expected {expected}.")

    def object(self, key: str, value: Any, known: Mapping[str, str]) -> dict[str, Any]:
        """A nested object whose keys must all be known (``known`` maps key -> meaning)."""
        if value is _MISSING:
            return {}
        value = _decoded(value)
        if not isinstance(value, Mapping):
            self.problem(key, value, f"an object with the keys {', '.join(known)}")
            return {}
        for name in value:
            if name not in known:
                self.problem(
                    f"{key}.{name}", value[name], f"no such key; {key} takes {_list(known)}"
                )
        return {name: value[name] for name in value if name in known}

    def text(
        self,
        key: str,
        value: Any,
        default: str | None,
        pattern: re.Pattern[str] | None = None,
        expected: str = "a non-empty string",
        check: Callable[[str], bool] | None = None,
    ) -> str | None:
        if value is _MISSING or value is None:
            if default is None:
                self.problem(key, _MISSING, expected)
            return default
        ok = isinstance(value, str) and value.strip() != ""
        if ok and pattern is not None:
            ok = pattern.fullmatch(value) is not None
        if ok and check is not None:
            ok = check(value)
        if not ok:
            self.problem(key, value, expected)
            return default
        return value

    def number(
        self, key: str, value: Any, default: float, low: float, high: float, integer: bool
    ) -> Any:
        if value is _MISSING:
            return default
        value = _decoded(value)
        kind = "a whole number" if integer else "a number"
        valid = isinstance(value, int | float) and not isinstance(value, bool)
        if valid and integer:
            valid = float(value).is_integer()
        if not valid or not low <= value <= high:
            self.problem(key, value, f"{kind} from {_num(low)} to {_num(high)}")
            return default
        return int(value) if integer else float(value)

    def choice(self, key: str, value: Any, default: str | None, choices: tuple[str, ...]) -> str:
        expected = f"one of {_list(choices)}"
        if value is _MISSING and default is None:
            self.problem(key, _MISSING, expected)
            return choices[0]
        if value is _MISSING:
            return default  # type: ignore[return-value]
        if value not in choices:
            self.problem(key, value, expected)
            return default or choices[0]
        return value


class _Missing:
    def __repr__(self) -> str:
        return "missing"


_MISSING: Any = _Missing()


def _decoded(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text; stack files as YAML."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 80 else text[:77] + "..."


def _list(names: Any) -> str:
    return ", ".join(str(name) for name in names)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- the keys ------------------------------------------------------------------------

TOP_LEVEL_KEYS: dict[str, str] = {
    "environment": "dev, staging or prod",
    "workspaceHost": "the workspace URL",
    "catalog": "the Unity Catalog catalog (exists already)",
    "schema": "the schema the stack creates in the catalog",
    "modelName": "the registered model's name inside the schema",
    "experimentPath": "the MLflow experiment's workspace path",
    "principals": "service principals' application ids: deployer, runner",
    "groups": "account groups: readers, mlTeam",
    "compute": "job cluster or serverless",
    "schedules": "cron and time zone per job",
    "tables": "input and output table names",
    "training": "training windows and hyperparameters",
    "validation": "run mode and thresholds",
    "jobs": "retries and timeouts",
    "notifications": "addresses told of failures",
    "tags": "tags on every job",
    "sqlWarehouseId": "the SQL warehouse that creates the tables",
    "monitoring": "the quality monitor and the retraining rule",
    "storage": "the stack's own S3 storage for Unity Catalog (optional)",
}


def _check_cron(expression: str) -> str | None:
    """Why a Quartz cron expression is invalid, or None when it is valid."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        return (
            f"{len(fields)} fields where Quartz needs 6 or 7"
            " (seconds minutes hours day-of-month month day-of-week [year])"
        )
    limits = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199)]
    names = ["seconds", "minutes", "hours", "day-of-month", "month", "day-of-week", "year"]
    for text, (low, high), name in zip(fields, limits, names, strict=False):
        if name in ("day-of-month", "day-of-week") and text == "?":
            continue
        if name in ("month", "day-of-week"):
            text = re.sub(
                r"(?i)\b(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT)\b",
                "1",
                text,
            )
        if name == "day-of-month":
            text = re.sub(r"^L(-\d+)?$|^\d+W$|^LW$", "1", text)
        if name == "day-of-week":
            text = re.sub(r"^(\d)(L|#\d)$", r"\1", text)
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"the {name} field '{part}' has a step that is not a positive number"
            if base == "*":
                continue
            bounds = base.split("-")
            if len(bounds) > 2 or not all(bound.isdigit() for bound in bounds):
                return f"the {name} field '{part}' is not a number, range, list or step"
            if not all(low <= int(bound) <= high for bound in bounds):
                return f"the {name} field '{part}' is outside {low}-{high}"
    if (fields[3] == "?") == (fields[5] == "?"):
        return "exactly one of day-of-month and day-of-week must be '?'"
    return None


def _valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'Europe', a folder
        return False
    return True


def stack_folder(environment: str) -> str:
    """The workspace folder a stack creates and owns: its experiment, its task notebooks
    and its monitor's assets live there (docs/platform.md, "Workspace folders")."""
    return f"/Shared/{PROJECT}/{environment}"


def _experiment_folder_exists(path: str, environment: str) -> bool:
    """Whether the experiment's folder exists before the experiment is created: the stack's
    own folder (created first), /Shared, or a user's home folder."""
    folder = path.removeprefix("/Workspace").rpartition("/")[0]
    return folder in (stack_folder(environment), "/Shared") or bool(
        re.fullmatch(r"/Users/[^/]+", folder)
    )


def _experiment_path(path: str) -> bool:
    parts = path.split("/")
    return (
        path.startswith(("/Shared/", "/Users/", "/Workspace/"))
        and not path.endswith("/")
        and all(part not in ("", ".", "..") for part in parts[1:])
        and all(part.strip() == part for part in parts)
    )


DEFAULT_SCHEDULES = {
    "feature_engineering": Schedule("0 0 5 * * ?"),
    "training": Schedule("0 0 6 ? * MON"),
    "batch_inference": Schedule("0 0 7 * * ?"),
    "monitoring": Schedule("0 0 8 * * ?"),
}


def parse_settings(config: Mapping[str, Any], stack: str, source: str) -> StackSettings:
    """Validate a stack's config (``<namespace>:<key>`` -> value, objects as dicts or JSON)
    and return the settings, or raise ``InvalidStackConfig`` naming every problem."""
    reader = _Reader(source)
    raw: dict[str, Any] = {}
    for full_key, value in config.items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            if _CREDENTIAL_KEY.search(key) and not _is_secret(value):
                reader.problems.append(
                    f"{full_key} holds a credential in plain text: expected it as a Pulumi"
                    f" secret (pulumi config set --secret {full_key}) or, better, in the"
                    " environment (DATABRICKS_TOKEN, or OIDC in CI)."
                )
            continue
        if key not in TOP_LEVEL_KEYS:
            reader.problem(key, value, f"no such key; the settings are {_list(TOP_LEVEL_KEYS)}")
            continue
        if _is_secret(value):
            reader.problem(key, "[secret]", "a plain setting: no mlops-stack setting is secret")
            continue
        raw[key] = value

    def get(key: str) -> Any:
        return raw.get(key, _MISSING)

    before = len(reader.problems)
    environment = reader.choice("environment", get("environment"), None, ENVIRONMENTS)
    environment_known = len(reader.problems) == before
    host = reader.text(
        "workspaceHost",
        get("workspaceHost"),
        None,
        _HOST,
        "the workspace URL, https://<name>.cloud.databricks.com (or azuredatabricks.net,"
        " gcp.databricks.com) with no path",
    )
    ident = "a lower-case identifier (letters, digits, underscores)"
    catalog = reader.text("catalog", get("catalog"), environment, _IDENTIFIER, ident)
    schema = reader.text("schema", get("schema"), "mlops", _IDENTIFIER, ident)
    model_name = reader.text("modelName", get("modelName"), "nyc_taxi_fare", _IDENTIFIER, ident)
    experiment = reader.text(
        "experimentPath",
        get("experimentPath"),
        f"{stack_folder(environment)}/experiment" if environment else None,
        None,
        "an absolute workspace path under /Shared/, /Users/ or /Workspace/, without '..'"
        " or a trailing slash",
        _experiment_path,
    )
    if experiment and environment_known and not _experiment_folder_exists(experiment, environment):
        reader.problem(
            "experimentPath",
            experiment,
            f"an experiment directly in the stack's own folder {stack_folder(environment)}"
            " (which the stack creates), in /Shared or in a /Users/<name> home folder: MLflow"
            " creates no missing folders, so an experiment anywhere else cannot be created on"
            " the first pulumi up",
        )

    principal_keys = {"deployer": "who runs pulumi up", "runner": "who the jobs run as"}
    given = reader.object("principals", get("principals"), principal_keys)
    uuid = "a service principal's application id (a lower-case UUID)"
    principals = Principals(
        deployer=reader.text("principals.deployer", given.get("deployer"), "", _UUID, uuid) or None,
        runner=reader.text("principals.runner", given.get("runner"), "", _UUID, uuid) or None,
    )
    if environment in ("staging", "prod"):
        for role in ("deployer", "runner"):
            if given.get(role) is None:  # absent, or left empty (null) in YAML
                reader.problem(
                    f"principals.{role}",
                    _MISSING,
                    f"{uuid}: {environment} deploys from CI and runs its jobs as a service"
                    " principal, never as a person",
                )
        if principals.runner and principals.runner == principals.deployer:
            reader.problem(
                "principals.runner",
                principals.runner,
                "a different principal from principals.deployer, so that the jobs cannot"
                " change the infrastructure they run on",
            )

    group_keys = {
        "readers": "see predictions and runs",
        "mlTeam": "also run and repair jobs",
        "modelOwners": "own the registered model: the deployer and the runner",
    }
    given = reader.object("groups", get("groups"), group_keys)
    groups = Groups(
        readers=reader.text("groups.readers", given.get("readers"), Groups.readers),
        ml_team=reader.text("groups.mlTeam", given.get("mlTeam"), Groups.ml_team),
        model_owners=reader.text("groups.modelOwners", given.get("modelOwners"), "") or None,
    )
    if environment in ("staging", "prod") and not groups.model_owners:
        reader.problem(
            "groups.modelOwners",
            given.get("modelOwners", _MISSING),
            "the account group that owns the registered model, with the deployer and the"
            " runner service principals as its members: in Unity Catalog only a model's"
            " owner may move its aliases, which the jobs do as the runner, and update or"
            " delete it, which pulumi does as the deployer",
        )

    compute = _compute(reader, get("compute"))
    schedules = _schedules(reader, get("schedules"))
    tables = _tables(reader, get("tables"), catalog, schema)
    training = _training(reader, get("training"))
    validation = _validation(reader, get("validation"))
    jobs = _job_policy(reader, get("jobs"))
    monitoring = _monitoring(reader, get("monitoring"), tables)
    storage = _storage(reader, get("storage"))
    if storage.owns_catalog:
        _inputs_outside_a_new_catalog(reader, tables, catalog, schema)

    given = reader.object("notifications", get("notifications"), {"onFailure": "email list"})
    emails = given.get("onFailure", [])
    if not isinstance(emails, list) or not all(
        isinstance(email, str) and _EMAIL.fullmatch(email) for email in emails
    ):
        reader.problem("notifications.onFailure", emails, "a list of email addresses")
        emails = []

    tags = get("tags")
    tags = {} if tags is _MISSING else _decoded(tags)
    if not isinstance(tags, Mapping) or not all(
        isinstance(key, str) and _TAG_KEY.fullmatch(key) and isinstance(value, str)
        for key, value in tags.items()
    ):
        reader.problem("tags", tags, "an object of string tags, keys starting with a letter")
        tags = {}
    reserved = {"project", "environment", "code_version"} & set(tags)
    if reserved:
        reader.problem(
            f"tags.{sorted(reserved)[0]}",
            tags[sorted(reserved)[0]],
            "no such tag: project, environment and code_version are set by the stack",
        )

    warehouse = _sql_warehouse(reader, get("sqlWarehouseId"), environment)

    if reader.problems:
        count = len(reader.problems)
        listed = " ".join(f"({n}) {p}" for n, p in enumerate(reader.problems, start=1))
        raise InvalidStackConfig(
            f"{source} (stack '{stack}') has {count} invalid setting{'s' * (count > 1)},"
            f" so nothing was registered: {listed}"
        )
    return StackSettings(
        stack=stack,
        source=source,
        environment=environment,
        workspace_host=host or "",
        catalog=catalog or "",
        schema=schema or "",
        model_name=model_name or "",
        experiment_path=experiment or "",
        principals=principals,
        groups=groups,
        compute=compute,
        schedules=schedules,
        tables=tables,
        training=training,
        validation=validation,
        jobs=jobs,
        notification_emails=tuple(emails),
        tags=dict(tags),
        sql_warehouse_id=warehouse or None,
        monitoring=monitoring,
        storage=storage,
    )


_WAREHOUSE = re.compile(rf"[0-9a-f]{{16}}|{PLACEHOLDER_MARK}[A-Za-z0-9-]*")
_WAREHOUSE_EXPECTED = "a SQL warehouse id (16 hex digits)"


def _sql_warehouse(reader: _Reader, value: Any, environment: str | None) -> str:
    """The warehouse that runs the tables' DDL and the monitor's queries.

    Without one, the Databricks provider creates and starts a cluster of its own for every
    apply that touches a table (docs/platform.md, "Tables without a SQL warehouse"): it
    needs cluster-create rights and minutes per apply. Staging and prod, deployed by CI,
    must name one; dev may go without (``mlops plan`` warns)."""
    if value is _MISSING and environment in ("staging", "prod"):
        reader.problem(
            "sqlWarehouseId",
            value,
            f"{_WAREHOUSE_EXPECTED}: {environment} must name the warehouse that creates its"
            " tables, or the Databricks provider starts a cluster for the DDL on every apply"
            " (which CI's service principal may not create, and which takes minutes)",
        )
        return ""
    return reader.text("sqlWarehouseId", value, "", _WAREHOUSE, _WAREHOUSE_EXPECTED) or ""


def _compute(reader: _Reader, value: Any) -> Compute:
    keys = {
        "kind": "jobCluster or serverless",
        "sparkVersion": "an ML runtime",
        "nodeType": "the node type",
        "numWorkers": "workers (0: single node)",
        "policyId": "a cluster policy",
        "serverlessEnvironmentVersion": "serverless environment version",
    }
    given = reader.object("compute", value, keys)
    kinds = {"jobCluster": "job_cluster", "serverless": "serverless"}
    kind = reader.choice("compute.kind", given.get("kind", _MISSING), "jobCluster", tuple(kinds))
    defaults = Compute()
    return Compute(
        kind=kinds[kind],
        spark_version=reader.text(
            "compute.sparkVersion",
            given.get("sparkVersion"),
            defaults.spark_version,
            _ML_RUNTIME,
            "a Databricks ML runtime version, e.g. 17.3.x-cpu-ml-scala2.13 (the jobs need"
            " MLflow and scikit-learn from the ML runtime)",
        ),
        node_type=reader.text("compute.nodeType", given.get("nodeType"), defaults.node_type),
        num_workers=reader.number(
            "compute.numWorkers", given.get("numWorkers", _MISSING), 1, 0, 100, True
        ),
        policy_id=reader.text("compute.policyId", given.get("policyId"), "") or None,
        serverless_environment_version=reader.text(
            "compute.serverlessEnvironmentVersion",
            given.get("serverlessEnvironmentVersion"),
            defaults.serverless_environment_version,
            re.compile(r"\d{1,2}"),
            "a serverless environment version number, e.g. 3",
        ),
    )


def _schedules(reader: _Reader, value: Any) -> dict[str, Schedule]:
    wire = {"featureEngineering": "feature_engineering", "training": "training"}
    wire["batchInference"] = "batch_inference"
    wire["monitoring"] = "monitoring"
    given = reader.object("schedules", value, {key: "cron and timezone" for key in wire})
    schedules = dict(DEFAULT_SCHEDULES)
    for key, job in wire.items():
        if key in given:
            schedules[job] = _schedule(
                reader, f"schedules.{key}", given[key], DEFAULT_SCHEDULES[job]
            )
    return schedules


def _schedule(reader: _Reader, key: str, value: Any, default: Schedule) -> Schedule:
    """One ``{cron, timezone}`` object; ``default`` stands in for what is wrong."""
    entry = reader.object(key, value, {"cron": "Quartz cron", "timezone": "time zone"})
    if not isinstance(_decoded(value), Mapping):
        return default  # reported once, as not an object
    cron = entry.get("cron", _MISSING)
    why = _check_cron(cron) if isinstance(cron, str) else "not a string"
    if cron is _MISSING or why:
        reader.problem(
            f"{key}.cron",
            cron,
            "a Quartz cron expression such as '0 0 5 * * ?' (daily at 05:00)"
            + (f"; here {why}" if why and cron is not _MISSING else ""),
        )
        cron = default.cron
    timezone = reader.text(
        f"{key}.timezone",
        entry.get("timezone"),
        "UTC",
        None,
        "an IANA time zone such as UTC or Europe/Amsterdam",
        _valid_timezone,
    )
    return Schedule(cron=cron, timezone=timezone or "UTC")


def _tables(reader: _Reader, value: Any, catalog: str | None, schema: str | None) -> Tables:
    wire = {
        "trips": "trips",
        "inferenceRequests": "inference_requests",
        "pickupFeatures": "pickup_features",
        "dropoffFeatures": "dropoff_features",
        "predictions": "predictions",
    }
    given = reader.object("tables", value, {key: "catalog.schema.table" for key in wire})
    names: dict[str, str] = {}
    home = f"{catalog}.{schema}"
    for key, attribute in wire.items():
        default = f"{home}.{attribute}"
        name = reader.text(
            f"tables.{key}",
            given.get(key),
            default,
            _TABLE,
            _TABLE_EXPECTED,
        )
        names[attribute] = name or default
    for key in ("pickupFeatures", "dropoffFeatures", "predictions"):
        name = names[wire[key]]
        if key in given and name.rpartition(".")[0] != home:
            reader.problem(
                f"tables.{key}",
                name,
                f"a table in the stack's own schema {home}, where the stack creates it",
            )
    seen: dict[str, str] = {}
    for key, attribute in wire.items():
        name = names[attribute]
        if name in seen:
            reader.problem(
                f"tables.{key}", name, f"a table of its own; tables.{seen[name]} is {name} too"
            )
        seen.setdefault(name, key)
    return Tables(**names)


def _inputs_outside_a_new_catalog(
    reader: _Reader, tables: Tables, catalog: str | None, schema: str | None
) -> None:
    """A catalog the stack creates holds no other schema on the first ``pulumi up``, so an
    input table there (outside the stack's schema) could not be read or granted."""
    for key, name in (("trips", tables.trips), ("inferenceRequests", tables.inference_requests)):
        table_catalog, table_schema, _ = name.split(".")
        if table_catalog == catalog and table_schema != schema:
            reader.problem(
                f"tables.{key}",
                name,
                f"a table outside the catalog {catalog} or in the stack's schema"
                f" {catalog}.{schema}: storage.managedLocation is catalog, so the stack creates"
                f" {catalog} and no other schema of it exists before the stack does",
            )


def _training(reader: _Reader, value: Any) -> Training:
    keys = {
        "lookbackDays": "days of trips to train on",
        "holdoutDays": "days after them to validate on",
        "maxIter": "boosting iterations",
        "learningRate": "learning rate",
    }
    given = reader.object("training", value, keys)
    return Training(
        lookback_days=reader.number(
            "training.lookbackDays", given.get("lookbackDays", _MISSING), 90, 7, 3650, True
        ),
        holdout_days=reader.number(
            "training.holdoutDays", given.get("holdoutDays", _MISSING), 7, 1, 365, True
        ),
        max_iter=reader.number(
            "training.maxIter", given.get("maxIter", _MISSING), 200, 1, 10000, True
        ),
        learning_rate=reader.number(
            "training.learningRate", given.get("learningRate", _MISSING), 0.1, 0.001, 1, False
        ),
    )


def _validation(reader: _Reader, value: Any) -> Validation:
    keys = {
        "runMode": "disabled, dry_run or enabled",
        "maxRmse": "largest RMSE",
        "maxMae": "largest MAE",
        "minR2": "smallest R2",
        "maxRmseIncrease": "largest relative RMSE increase over the champion",
    }
    given = reader.object("validation", value, keys)
    defaults = Validation()
    return Validation(
        run_mode=reader.choice(
            "validation.runMode", given.get("runMode", _MISSING), "enabled", RUN_MODES
        ),
        max_rmse=reader.number(
            "validation.maxRmse",
            given.get("maxRmse", _MISSING),
            defaults.max_rmse,
            0.01,
            1e6,
            False,
        ),
        max_mae=reader.number(
            "validation.maxMae", given.get("maxMae", _MISSING), defaults.max_mae, 0.01, 1e6, False
        ),
        min_r2=reader.number(
            "validation.minR2", given.get("minR2", _MISSING), defaults.min_r2, -1, 1, False
        ),
        max_rmse_increase=reader.number(
            "validation.maxRmseIncrease",
            given.get("maxRmseIncrease", _MISSING),
            defaults.max_rmse_increase,
            0,
            1,
            False,
        ),
    )


def _job_policy(reader: _Reader, value: Any) -> JobPolicy:
    keys = {
        "maxRetries": "retries per task",
        "minRetryIntervalMinutes": "minutes between retries",
        "timeoutMinutes": "time limit per task",
    }
    given = reader.object("jobs", value, keys)
    return JobPolicy(
        max_retries=reader.number(
            "jobs.maxRetries", given.get("maxRetries", _MISSING), 1, 0, 5, True
        ),
        min_retry_interval_minutes=reader.number(
            "jobs.minRetryIntervalMinutes",
            given.get("minRetryIntervalMinutes", _MISSING),
            5,
            0,
            120,
            True,
        ),
        timeout_minutes=reader.number(
            "jobs.timeoutMinutes", given.get("timeoutMinutes", _MISSING), 120, 5, 24 * 60, True
        ),
    )


def _monitoring(reader: _Reader, value: Any, tables: Tables) -> Monitoring:
    keys = {
        "enabled": "true or false",
        "granularities": "window sizes",
        "metric": "the watched metric",
        "violatedWhen": "above or below",
        "threshold": "the metric's limit",
        "evaluationWindows": "N",
        "violationWindows": "M",
        "lookbackDays": "days refreshed per run",
        "baselineTable": "reference rows",
        "slicingExprs": "slices of the Databricks monitor",
        "refreshSchedule": "the monitor's own cron and timezone",
    }
    if value is _MISSING:
        reader.problem(
            "monitoring",
            _MISSING,
            "an object with at least a threshold for the retraining rule, or"
            " {enabled: false} to deploy the stack without a monitor",
        )
        return Monitoring(enabled=False)
    given = reader.object("monitoring", value, keys)
    defaults = Monitoring()

    enabled = given.get("enabled", True)
    if not isinstance(enabled, bool):
        reader.problem("monitoring.enabled", enabled, "true or false")
        enabled = True

    granularities = _decoded(given.get("granularities", list(defaults.granularities)))
    if (
        not isinstance(granularities, list)
        or not granularities
        or not all(isinstance(g, str) and g in GRANULARITIES for g in granularities)
        or len(set(granularities)) != len(granularities)
    ):
        reader.problem(
            "monitoring.granularities",
            granularities,
            f"a non-empty list of distinct window sizes from {_list(GRANULARITIES)};"
            " the first is the one the violation check evaluates",
        )
        granularities = list(defaults.granularities)

    metric = reader.choice(
        "monitoring.metric", given.get("metric", _MISSING), defaults.metric, METRICS
    )
    # An error metric is violated when it grows, r2_score when it falls: the other
    # direction would retrain on every good day and never on a bad one.
    natural = "below" if metric == "r2_score" else "above"
    violated_when = reader.choice(
        "monitoring.violatedWhen", given.get("violatedWhen", _MISSING), natural, DIRECTIONS
    )
    if violated_when != natural:
        better = "higher" if metric == "r2_score" else "lower"
        reader.problem(
            "monitoring.violatedWhen",
            violated_when,
            f"'{natural}' for {metric}, where {better} is better (or leave it out)",
        )
        violated_when = natural

    low, high = (-1.0, 1.0) if metric == "r2_score" else (0.0, 1e6)
    threshold = given.get("threshold", _MISSING)
    if threshold is _MISSING and enabled:
        reader.problem(
            "monitoring.threshold",
            _MISSING,
            f"a number from {_num(low)} to {_num(high)}: the {metric} beyond which a"
            " window counts as violating",
        )
    threshold = reader.number("monitoring.threshold", threshold, 0.0, low, high, False)

    evaluation = reader.number(
        "monitoring.evaluationWindows",
        given.get("evaluationWindows", _MISSING),
        defaults.evaluation_windows,
        1,
        365,
        True,
    )
    violation = reader.number(
        "monitoring.violationWindows",
        given.get("violationWindows", _MISSING),
        min(defaults.violation_windows, evaluation),
        1,
        365,
        True,
    )
    if violation > evaluation:
        reader.problem(
            "monitoring.violationWindows",
            violation,
            f"a whole number from 1 to monitoring.evaluationWindows ({evaluation}): no more"
            " windows can violate than are evaluated",
        )
        violation = evaluation

    lookback = reader.number(
        "monitoring.lookbackDays",
        given.get("lookbackDays", _MISSING),
        defaults.lookback_days,
        1,
        3650,
        True,
    )
    baseline = reader.text(
        "monitoring.baselineTable", given.get("baselineTable"), "", _TABLE, _TABLE_EXPECTED
    )
    if baseline and baseline == tables.predictions:
        reader.problem(
            "monitoring.baselineTable",
            baseline,
            "a table of reference rows (e.g. scored validation data), not tables.predictions,"
            " the monitored table itself",
        )
        baseline = ""

    slicing = _decoded(given.get("slicingExprs", []))
    if not isinstance(slicing, list) or not all(
        isinstance(expr, str) and expr.strip() for expr in slicing
    ):
        reader.problem(
            "monitoring.slicingExprs",
            slicing,
            "a list of column expressions such as 'pickup_zip' or 'trip_distance > 10'",
        )
        slicing = []

    refresh = None
    if given.get("refreshSchedule") is not None:
        refresh = _schedule(
            reader,
            "monitoring.refreshSchedule",
            given["refreshSchedule"],
            DEFAULT_SCHEDULES["monitoring"],
        )

    return Monitoring(
        enabled=enabled,
        granularities=tuple(granularities),
        metric=metric,
        violated_when=violated_when,
        threshold=threshold,
        evaluation_windows=evaluation,
        violation_windows=violation,
        lookback_days=lookback,
        baseline_table=baseline or None,
        slicing_exprs=tuple(slicing),
        refresh_schedule=refresh,
    )


def _bucket_name(name: str) -> bool:
    """S3's naming rules beyond the characters and length of ``_BUCKET``."""
    return not name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) and not name.endswith(
        ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
    )


def _storage(reader: _Reader, value: Any) -> Storage:
    keys = {
        "enabled": "true or false",
        "bucketName": "the S3 bucket",
        "awsRegion": "the bucket's region",
        "unityCatalogRoleArn": "the Databricks role that assumes it",
        "awsAccountId": "the role's AWS account",
        "forceDestroy": "delete a non-empty bucket on destroy",
        "managedLocation": "whose storage root is on the bucket: schema or catalog",
    }
    given = reader.object("storage", value, keys)
    flags: dict[str, bool] = {}
    for key in ("enabled", "forceDestroy"):
        flag = given.get(key, False)
        if not isinstance(flag, bool):
            reader.problem(f"storage.{key}", flag, "true or false")
            flag = False
        flags[key] = flag
    enabled = flags["enabled"]

    def required(key: str, pattern: re.Pattern[str], expected: str, check: Any = None) -> str:
        # Required only when enabled; a value given is checked either way.
        if given.get(key) is None and not enabled:
            return ""
        if given.get(key) is None:
            expected += " (storage.enabled is true)"
        return reader.text(f"storage.{key}", given.get(key), None, pattern, expected, check) or ""

    bucket = required("bucketName", _BUCKET, _BUCKET_EXPECTED, _bucket_name)
    region = required("awsRegion", _AWS_REGION, "an AWS region such as us-east-1 or eu-west-1")
    aws_account = required(
        "awsAccountId",
        _AWS_ACCOUNT,
        "an AWS account id: 12 digits, quoted so that YAML keeps it text",
    )
    role = reader.text(
        "storage.unityCatalogRoleArn",
        given.get("unityCatalogRoleArn"),
        UC_MASTER_ROLE_ARN,
        _IAM_ROLE_ARN,
        "an IAM role ARN, arn:aws:iam::<12 digits>:role/<name>",
    )
    managed_location = reader.choice(
        "storage.managedLocation",
        given.get("managedLocation", _MISSING),
        "schema",
        MANAGED_LOCATIONS,
    )
    return Storage(
        enabled=enabled,
        bucket_name=bucket,
        aws_region=region,
        unity_catalog_role_arn=role or UC_MASTER_ROLE_ARN,
        aws_account_id=aws_account,
        force_destroy=flags["forceDestroy"],
        managed_location=managed_location,
    )


# --- where the config comes from ------------------------------------------------------


class Secret:
    """A ``secure:`` value from a stack file: encrypted, and never needed offline."""

    def __repr__(self) -> str:
        return "[secret]"


def _is_secret(value: Any) -> bool:
    return isinstance(value, Secret)


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``config:`` block of a ``Pulumi.<stack>.yaml``, secure values as ``Secret``."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise InvalidStackConfig(
            f"{path} does not exist: expected a stack file Pulumi.<stack>.yaml beside Pulumi.yaml"
        ) from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())  # one paragraph, as every other message
        raise InvalidStackConfig(f"{path} is not valid YAML: {detail}") from None
    config = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise InvalidStackConfig(f"{path}: expected a 'config:' mapping of settings")
    return {
        key: Secret() if isinstance(value, dict) and set(value) == {"secure"} else value
        for key, value in config.items()
    }


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> Path:
    """The stack file of ``stack``, or ``InvalidStackConfig`` naming the stacks there are."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise InvalidStackConfig(
            f"there is no stack '{stack}': {path.name} does not exist beside Pulumi.yaml;"
            f" expected one of {', '.join(known) or '(none)'}."
        )
    return path


def settings_from_stack_file(path: Path) -> StackSettings:
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return parse_settings(read_stack_file(path), stack, path.name)


def settings_from_pulumi() -> StackSettings:
    """The settings of the stack Pulumi is running (the CLI or the mock engine)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    config: dict[str, Any] = {}
    # The language host either sets the config in-process or passes it in PULUMI_CONFIG.
    given = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    for key, value in given.items():
        config[key] = Secret() if runtime_config.is_config_secret(key) else value
    stack = pulumi.get_stack()
    return parse_settings(config, stack, f"Pulumi.{stack}.yaml")
