"""The stack settings: one typed object, read and validated from a stack's config.

Every key lives under the project namespace (``mlops-stack:<key>`` in ``Pulumi.<stack>.yaml``).
A stack deploys several model projects (``pipelines/projects/<name>``): the stack-level keys
(``StackConfig``: environment, workspace, catalog, principals, groups, compute, jobs,
storage, notifications, tags, warehouse) say what they share, ``mlops-stack:projects``
lists the projects the stack deploys, in order, and each listed project has its own block,
the key ``mlops-stack:<project name>`` (its schema, model, experiment, tables, schedules,
training, validation and monitoring). A project's block is a pydantic model made for that
project (``project_block_model``): its tables are the roles the project declares, its
validation limits and monitoring metrics those of its problem type. ``StackSettings`` (with a
``ProjectSettings`` per project) is what the program reads once they are valid. All problems
are collected and reported together, each naming the stack file, the key (the project's
block for a project's key), the value and what was expected, before any resource is
registered. ``python -m infra.settings --write-schema`` writes the JSON Schema of a stack
file, generated from the same models, to ``infra/stack_config.schema.json``
(docs/settings.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, cast, get_args, get_origin

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError, PydanticUseDefault

from pipelines.common.names import TableName
from pipelines.common.project import MONITOR_METRICS, ModelProject, ProblemType, TableMap
from pipelines.projects import projects as known_projects

PROJECT = "mlops-stack"
# Where Pulumi.yaml and the stack files are.
PROJECT_ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER_MARK = "REPLACE-ME"
PLACEHOLDER_PRINCIPAL = "00000000-0000-0000-0000-"
# The IAM role Unity Catalog assumes storage credentials' roles from (AWS commercial
# regions), as documented by Databricks for storage credentials.
UC_MASTER_ROLE_ARN = "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
# The JSON Schema of a stack file, generated from the models below (``write_schema``).
SCHEMA_PATH = Path(__file__).resolve().with_name("stack_config.schema.json")
SCHEMA_ID = "https://github.com/mlops-stack/mlops-stack/infra/stack_config.schema.json"
# Raised when the shape of a stack file changes incompatibly (a key renamed or removed).
# 2: several projects per stack, each in its own block (mlops-stack:projects lists them).
SCHEMA_VERSION = 2

# --- the choices, each declared once ----------------------------------------------------

Environment = Literal["dev", "staging", "prod"]
RunMode = Literal["disabled", "dry_run", "enabled"]
# What the quality monitor and the violation check support (pipelines.monitoring.violation).
Granularity = Literal["1 hour", "1 day", "1 week"]
Direction = Literal["above", "below"]
# Where the stack's managed tables, volumes and model files live when it has its own
# storage: under its schema's managed location, or the catalog's (the stack then creates
# the catalog).
ManagedLocation = Literal["schema", "catalog"]
# The program's names for the compute kinds; the stack file spells them as the keys of
# _COMPUTE_KINDS.
ComputeKind = Literal["job_cluster", "serverless"]

ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
RUN_MODES: tuple[str, ...] = get_args(RunMode)
GRANULARITIES: tuple[str, ...] = get_args(Granularity)
# The table-level metrics of a quality monitor's profile metrics table, per problem type
# (pipelines.common.project.MONITOR_METRICS), and the side each is violated on.
METRICS: dict[ProblemType, tuple[str, ...]] = {
    problem_type: tuple(metrics) for problem_type, metrics in MONITOR_METRICS.items()
}
_DIRECTION_OF: dict[str, str] = {
    metric: direction
    for metrics in MONITOR_METRICS.values()
    for metric, direction in metrics.items()
}
DIRECTIONS: tuple[str, ...] = get_args(Direction)
MANAGED_LOCATIONS: tuple[str, ...] = get_args(ManagedLocation)
_COMPUTE_KINDS: dict[str, ComputeKind] = {"jobCluster": "job_cluster", "serverless": "serverless"}
# Staging and prod are deployed by CI: they need service principals, a model owners group
# and a SQL warehouse.
_CI_ENVIRONMENTS = ("staging", "prod")
# The metric the retraining rule watches unless a project's monitoring says otherwise:
# an error for a regression, and for a classification a score that weighs the classes
# alike (churn and most such labels are imbalanced, where accuracy says little).
DEFAULT_METRICS: dict[ProblemType, str] = {
    ProblemType.REGRESSION: "root_mean_squared_error",
    ProblemType.CLASSIFICATION: "f1_score.macro",
}
# The threshold's range per metric: r2_score is at most 1 and may be negative; the other
# scores (accuracy, F1, precision, recall) are from 0 to 1; the errors are at least 0.
_R2_RANGE = (-1.0, 1.0)
_SCORE_RANGE = (0.0, 1.0)
_ERROR_RANGE = (0.0, 1e6)
_RESERVED_TAGS = ("project", "environment", "model_project", "code_version")
# Keys of other namespaces that are credentials: they must be Pulumi secrets (or come from
# the environment), never plain text in a stack file.
_CREDENTIAL_WORDS = ("token", "password", "secret", "secretkey", "accesskey", "clientsecret")
_CREDENTIAL_KEY = re.compile(rf"({'|'.join(_CREDENTIAL_WORDS)})$", re.I)

# The patterns are anchored so that pydantic (which searches) and JSON Schema validators
# (which search too) accept exactly what a full match accepts.
_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,127}$"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_HOST = (
    r"^https://[A-Za-z0-9.-]+\.(cloud\.databricks\.com|azuredatabricks\.net|gcp\.databricks\.com)$"
)
_EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
_ML_RUNTIME = r"^[0-9]+\.[0-9]+\.x-(cpu-|gpu-)?ml-scala2\.1[23]$"
_SERVERLESS_VERSION = r"^[0-9]{1,2}$"
_TAG_KEY = r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$"
_TABLE = r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$"
# S3 allows dots in bucket names; Unity Catalog does not (docs/platform.md, "Storage").
_BUCKET = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"
_AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"
_AWS_ACCOUNT = r"^[0-9]{12}$"
_IAM_ROLE_ARN = r"^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$"
_WAREHOUSE = rf"^([0-9a-f]{{16}}|{PLACEHOLDER_MARK}[A-Za-z0-9-]*)$"
_WORKSPACE_ROOTS = r"^/(Shared|Users|Workspace)/"
# Six or seven fields; _check_cron says what is wrong inside them.
_CRON_SHAPE = r"^\s*\S+(\s+\S+){5,6}\s*$"

# What the error messages say a key takes, where its type alone does not say it.
_IDENT_EXPECTED = "a lower-case identifier (letters, digits, underscores)"
_UUID_EXPECTED = "a service principal's application id (a lower-case UUID)"
_TABLE_EXPECTED = "a fully qualified lower-case table name, catalog.schema.table"
_CRON_EXPECTED = "a Quartz cron expression such as '0 0 5 * * ?' (daily at 05:00)"
_WAREHOUSE_EXPECTED = "a SQL warehouse id (16 hex digits)"
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_BUCKET_EXPECTED = (
    "an S3 bucket name Unity Catalog accepts: 3-63 lower-case letters, digits and hyphens"
    " (no dots: Unity Catalog refuses dotted bucket names), starting and ending with a"
    f" letter or digit, no reserved prefix ({', '.join(_BUCKET_RESERVED_PREFIXES)})"
    f" or suffix ({', '.join(_BUCKET_RESERVED_SUFFIXES)})"
)


class InvalidStackConfig(Exception):
    """A stack's settings are wrong; the message lists every problem found."""


class Secret:
    """A ``secure:`` value from a stack file: encrypted, and never needed offline."""

    def __repr__(self) -> str:
        return "[secret]"


# --- how a problem is raised inside the models -------------------------------------------

# The error type of every problem the models raise themselves; parse_settings turns each
# into one sentence of the message (``_sentence``).
_PROBLEM = "stack_setting"


@dataclass(frozen=True)
class _Expected:
    """What a key takes, in the error messages' words: ``text`` for a wrong value,
    ``when_missing`` for a required key that is absent. Pydantic ignores this marker; the
    message reads it from the field, so each wording is declared once, with the field."""

    text: str | None = None
    when_missing: str | None = None


class _NotGiven:
    """Stands in for a key that is required only because of another one (``Storage``,
    ``Monitoring``): its field then reports it as missing, in field order."""

    def __repr__(self) -> str:
        return "not given"


_NOT_GIVEN: Any = _NotGiven()


def _problem(
    expected: str | None = None, *, missing: bool = False, suffix: str = ""
) -> PydanticCustomError:
    """A problem with one key. ``expected`` says what the key takes (None: what its field
    declares, plus ``suffix``); ``missing``: the key is absent rather than wrong."""
    context: dict[str, Any] = {}
    if expected is not None:
        context["expected"] = expected
    if missing:
        context["missing"] = True
    if suffix:
        context["suffix"] = suffix
    if expected:
        template = "missing: expected {expected}" if missing else "expected {expected}"
    else:
        template = "missing{suffix}" if missing else "not a value this key takes"
    return PydanticCustomError(_PROBLEM, template, context)


@dataclass(frozen=True)
class _At:
    """A problem at ``loc`` (stack file keys) below the value being validated."""

    loc: tuple[str | int, ...]
    value: Any
    error: PydanticCustomError


def _raise_all(found: list[_At], title: str) -> None:
    """Raise every problem found by one validator at once; pydantic adds them to the
    others, each at its own key."""
    if found:
        raise ValidationError.from_exception_data(
            title, [InitErrorDetails(type=at.error, loc=at.loc, input=at.value) for at in found]
        )


# --- the value types: constraints for pydantic and the schema, wording for the messages ---


def _decoded(value: Any) -> Any:
    """Pulumi hands structured config to the program as JSON text; stack files as YAML."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


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


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _range_words(kind: type, low: float, high: float) -> str:
    return f"{'a whole number' if kind is int else 'a number'} from {_num(low)} to {_num(high)}"


def _null_is_absent(value: Any) -> Any:
    # A key left empty in YAML (``runner:``) reads as null: the key is not given.
    if value is None:
        raise PydanticUseDefault()
    return value


def _plain_number(value: Any) -> Any:
    value = _decoded(value)  # a number given as text ("30") is that number
    if isinstance(value, bool):  # YAML's true is no number, though Python's bool is an int
        raise _problem()
    return value


def _as_one_problem(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A list or a free-form object is one setting: whatever is wrong inside it, the message
    # names the key and shows the whole value.
    try:
        return handler(value)
    except ValidationError:
        raise _problem() from None


def _distinct(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(values)) != len(values):
        raise _problem()
    return values


def _quartz(value: Any) -> Any:
    if not isinstance(value, str):
        raise _problem(f"{_CRON_EXPECTED}; here not a string")
    why = _check_cron(value)
    if why:
        raise _problem(f"{_CRON_EXPECTED}; here {why}")
    return value


def _time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'Europe', a folder
        raise _problem() from None
    return name


def _experiment_path_shape(path: str) -> str:
    parts = path.split("/")
    if (
        path.endswith("/")
        or any(part in ("", ".", "..") for part in parts[1:])
        or any(part.strip() != part for part in parts)
    ):
        raise _problem()
    return path


def _bucket_name(name: str) -> str:
    """S3's naming rules beyond the characters and length of ``_BUCKET``."""
    if name.startswith(_BUCKET_RESERVED_PREFIXES) or name.endswith(_BUCKET_RESERVED_SUFFIXES):
        raise _problem()
    return name


def _compute_kind(value: Any) -> Any:
    if isinstance(value, str) and value in _COMPUTE_KINDS:
        return _COMPUTE_KINDS[value]
    raise _problem()


_Absent = BeforeValidator(_null_is_absent)
_Json = BeforeValidator(_decoded)
_OneProblem = WrapValidator(_as_one_problem)

_NonEmpty = Annotated[str, Field(pattern=r"\S"), _Expected("a non-empty string"), _Absent]
_Identifier = Annotated[str, Field(pattern=_IDENTIFIER), _Expected(_IDENT_EXPECTED), _Absent]
_TableName = Annotated[str, Field(pattern=_TABLE), _Expected(_TABLE_EXPECTED), _Absent]
_ServicePrincipal = Annotated[str, Field(pattern=_UUID), _Expected(_UUID_EXPECTED), _Absent]
_WorkspaceHost = Annotated[
    str,
    Field(pattern=_HOST),
    _Expected(
        "the workspace URL, https://<name>.cloud.databricks.com (or azuredatabricks.net,"
        " gcp.databricks.com) with no path"
    ),
    _Absent,
]
_ExperimentPath = Annotated[
    str,
    Field(pattern=_WORKSPACE_ROOTS),
    AfterValidator(_experiment_path_shape),
    _Expected(
        "an absolute workspace path under /Shared/, /Users/ or /Workspace/, without '..'"
        " or a trailing slash"
    ),
    _Absent,
]
_WarehouseId = Annotated[str, Field(pattern=_WAREHOUSE), _Expected(_WAREHOUSE_EXPECTED), _Absent]
_Cron = Annotated[
    str, Field(pattern=_CRON_SHAPE), BeforeValidator(_quartz), _Expected(_CRON_EXPECTED)
]
_TimeZone = Annotated[
    str,
    AfterValidator(_time_zone),
    _Expected("an IANA time zone such as UTC or Europe/Amsterdam"),
    _Absent,
]
# Whole numbers and numbers: their range is declared on each field, and the messages say
# "a whole number from <ge> to <le>" from it.
_Whole = Annotated[int, BeforeValidator(_plain_number)]
_Real = Annotated[float, BeforeValidator(_plain_number)]
_Kind = Annotated[
    ComputeKind,
    BeforeValidator(_compute_kind),
    WithJsonSchema({"type": "string", "enum": list(_COMPUTE_KINDS)}),
    _Expected(f"one of {', '.join(_COMPUTE_KINDS)}"),
]
_Granularities = Annotated[
    tuple[Granularity, ...],
    Field(min_length=1),
    AfterValidator(_distinct),
    _OneProblem,
    _Json,
    _Expected(
        f"a non-empty list of distinct window sizes from {', '.join(GRANULARITIES)};"
        " the first is the one the violation check evaluates"
    ),
]
_SlicingExprs = Annotated[
    tuple[Annotated[str, Field(pattern=r"\S")], ...],
    _OneProblem,
    _Json,
    _Expected("a list of column expressions such as 'pickup_zip' or 'trip_distance > 10'"),
]
_Emails = Annotated[
    tuple[Annotated[str, Field(pattern=_EMAIL)], ...],
    _OneProblem,
    _Json,
    _Expected("a list of email addresses"),
]
_Tags = Annotated[
    dict[Annotated[str, Field(pattern=_TAG_KEY)], str],
    _OneProblem,
    _Json,
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": _TAG_KEY, "not": {"enum": list(_RESERVED_TAGS)}},
            "additionalProperties": {"type": "string"},
        }
    ),
    _Expected("an object of string tags, keys starting with a letter"),
]
_BucketName = Annotated[
    str, Field(pattern=_BUCKET), AfterValidator(_bucket_name), _Expected(_BUCKET_EXPECTED), _Absent
]
_AwsRegion = Annotated[
    str,
    Field(pattern=_AWS_REGION),
    _Expected("an AWS region such as us-east-1 or eu-west-1"),
    _Absent,
]
_AwsAccountId = Annotated[
    str,
    Field(pattern=_AWS_ACCOUNT),
    _Expected("an AWS account id: 12 digits, quoted so that YAML keeps it text"),
    _Absent,
]
_IamRoleArn = Annotated[
    str,
    Field(pattern=_IAM_ROLE_ARN),
    _Expected("an IAM role ARN, arn:aws:iam::<12 digits>:role/<name>"),
    _Absent,
]


def _no_default(schema: dict[str, Any]) -> None:
    # The default is worked out from other settings, so the schema shows none.
    schema.pop("default", None)


def _metric_type(problem_type: ProblemType) -> Any:
    """A monitoring metric of ``problem_type``: one of the table-level metrics of its
    quality monitor's profile metrics table (``MONITOR_METRICS``)."""
    metrics = METRICS[problem_type]

    def check(metric: Any) -> Any:
        if metric not in metrics:
            raise _problem()
        return metric

    return Annotated[
        str,
        BeforeValidator(check),
        WithJsonSchema({"type": "string", "enum": list(metrics)}),
        _Expected(
            f"one of {', '.join(metrics)}: the {problem_type.value} metrics of a quality"
            " monitor's profile metrics table"
        ),
    ]


def _project_name_list(value: Any) -> Any:
    """``mlops-stack:projects``: each a project of pipelines/projects/, once, none named
    like a stack-level setting (its block would be that setting)."""
    value = _decoded(value)
    if not isinstance(value, list | tuple) or not value:
        raise _problem()
    known = known_projects()
    found: list[_At] = []
    for index, name in enumerate(value):
        if not isinstance(name, str) or name not in known:
            found.append(_At((index,), name, _problem(_project_name_expected())))
        elif name in TOP_LEVEL_KEYS:
            found.append(
                _At(
                    (index,),
                    name,
                    _problem(
                        f"a project that is not named like a stack-level setting: the block"
                        f" {PROJECT}:{name} would be that setting (rename the folder"
                        f" pipelines/projects/{name})"
                    ),
                )
            )
        elif name in value[:index]:
            first = list(value).index(name)
            found.append(
                _At((index,), name, _problem(f"each project once; projects[{first}] is {name} too"))
            )
    _raise_all(found, "Projects")
    return tuple(value)


def _project_name_expected() -> str:
    return (
        "a project name: a lower-case identifier naming a folder under pipelines/projects/"
        f" that declares PROJECT, one of {', '.join(known_projects())}"
    )


def _projects_expected() -> str:
    return (
        "a non-empty list of the projects the stack deploys, in order, e.g."
        f" [{', '.join(known_projects())}]: folders under pipelines/projects/"
    )


_ProjectNames = Annotated[
    tuple[str, ...],
    BeforeValidator(_project_name_list),
    WithJsonSchema(
        {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": _IDENTIFIER},
        }
    ),
    _Expected(_projects_expected()),
]


# --- the sections --------------------------------------------------------------------------


class _Section(BaseModel):
    """A section of the settings: its keys are the stack file's, and no other is allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _json_text(cls, data: Any) -> Any:
        return _decoded(data)


class Schedule(_Section):
    """When a job runs: a Quartz cron expression in a time zone."""

    cron: _Cron = Field(
        description="A Quartz cron expression: seconds, minutes, hours, day-of-month, month,"
        " day-of-week and an optional year, with '?' in exactly one of the two day fields;"
        " e.g. '0 0 5 * * ?' (daily at 05:00)."
    )
    timezone: _TimeZone = Field(
        "UTC", description="The IANA time zone the cron expression is read in, e.g. UTC."
    )

    # Positional as the dataclass it replaces: Schedule("0 0 5 * * ?", "UTC").
    def __init__(
        self, cron: str | None = None, timezone: str | None = None, /, **data: Any
    ) -> None:
        if cron is not None:
            data["cron"] = cron
        if timezone is not None:
            data["timezone"] = timezone
        super().__init__(**data)


class Schedules(_Section):
    """A project's job schedules; dev's are paused, so its jobs are run by hand."""

    feature_engineering: Schedule = Field(
        Schedule("0 0 5 * * ?"),
        alias="featureEngineering",
        description="The feature engineering job: the project's feature tables from its inputs.",
    )
    training: Schedule = Field(
        Schedule("0 0 6 ? * MON"),
        description="The training job: train a challenger, validate it, and promote it to"
        " champion when it passes.",
    )
    batch_inference: Schedule = Field(
        Schedule("0 0 7 * * ?"),
        alias="batchInference",
        description="The batch inference job: score the project's requests with the champion.",
    )
    monitoring: Schedule = Field(
        Schedule("0 0 8 * * ?"),
        description="The retraining job: join late labels, refresh the monitor, and retrain"
        " when the retraining rule is violated.",
    )


JOBS: tuple[str, ...] = tuple(Schedules.model_fields)
DEFAULT_SCHEDULES: dict[str, Schedule] = {
    job: field.default for job, field in Schedules.model_fields.items()
}


class Compute(_Section):
    """The compute every job task runs on: one job cluster per job, or serverless."""

    kind: _Kind = Field(
        "job_cluster",
        description="jobCluster: a job cluster per job, on an ML runtime; serverless:"
        " serverless jobs compute.",
        json_schema_extra={"default": "jobCluster"},
    )
    spark_version: Annotated[
        str,
        Field(pattern=_ML_RUNTIME),
        _Expected(
            "a Databricks ML runtime version, e.g. 17.3.x-cpu-ml-scala2.13 (the jobs need"
            " MLflow and scikit-learn from the ML runtime)"
        ),
        _Absent,
    ] = Field(
        "17.3.x-cpu-ml-scala2.13",
        alias="sparkVersion",
        description="The job clusters' Databricks runtime: an ML runtime.",
    )
    node_type: _NonEmpty = Field(
        "i3.xlarge", alias="nodeType", description="The job clusters' node type."
    )
    num_workers: _Whole = Field(
        1,
        ge=0,
        le=100,
        alias="numWorkers",
        description="Workers per job cluster; 0 is a single-node cluster.",
    )
    policy_id: _NonEmpty | None = Field(
        None, alias="policyId", description="A cluster policy the job clusters use (optional)."
    )
    serverless_environment_version: Annotated[
        str,
        Field(pattern=_SERVERLESS_VERSION),
        _Expected("a serverless environment version number, e.g. 3"),
        _Absent,
    ] = Field(
        "3",
        alias="serverlessEnvironmentVersion",
        description="The serverless environment version (kind: serverless), as text.",
    )

    def overridden_by(self, override: Compute | None) -> Compute:
        """These settings with the keys ``override`` gives (a project's) in their place."""
        if override is None:
            return self
        return self.model_copy(
            update={name: getattr(override, name) for name in override.model_fields_set}
        )


class Principals(_Section):
    """Service principals by application id: who runs ``pulumi up``, and who runs the jobs.
    Required in staging and prod, and different from each other."""

    deployer: _ServicePrincipal | None = Field(
        None, description="The service principal CI deploys as (pulumi up)."
    )
    runner: _ServicePrincipal | None = Field(
        None,
        description="The service principal every project's jobs run as; in dev, left out,"
        " the jobs run as whoever deploys them.",
    )


class Groups(_Section):
    """Account groups: readers see predictions and runs; the ML team also runs the jobs and
    loads the input tables the stack creates; the model owners own the registered models."""

    readers: _NonEmpty = Field(
        "mlops-readers", description="The account group that sees predictions and runs."
    )
    ml_team: _NonEmpty = Field(
        "ml-engineers",
        alias="mlTeam",
        description="The account group that also runs and repairs the jobs.",
    )
    # Owns the registered models in staging and prod: an account group holding both the
    # deployer and the runner (docs/platform.md, "Registered model ownership").
    model_owners: _NonEmpty | None = Field(
        None,
        alias="modelOwners",
        description="The account group that owns every project's registered model, with the"
        " deployer and the runner as members; required in staging and prod.",
    )


class Tables(_Section):
    """A project's tables by role, as the project declares them (``TableRole``): inputs
    exist already, or the stack creates them empty when they live in the project's schema;
    outputs are created by the stack, in the project's schema. A table left out is
    ``<catalog>.<schema>.<its default name>``. ``project_block_model`` makes one such model
    per project, a field per role."""

    def given(self) -> dict[str, str]:
        """The roles given a name in the stack file, by role."""
        return {role: name for role, name in self if name}


def _tables_model(project: ModelProject) -> type[Tables]:
    fields: dict[str, Any] = {}
    for table in project.tables:
        if not table.role.isidentifier() or hasattr(BaseModel, table.role):
            raise TypeError(f"project {project.name}: role {table.role!r} cannot be a settings key")
        kind = {
            "input": "Input (read by the jobs, loaded by the ML team)",
            "features": "Output (written by the feature engineering job)",
            "predictions": "Output (written by batch inference; the monitored table)",
        }[table.kind]
        fields[table.role] = (
            _TableName,
            Field(
                "",
                description=f"{kind}: {table.description}. Default:"
                f" <catalog>.<schema>.{table.default_name}.",
                json_schema_extra=_no_default,
            ),
        )
    model = create_model(
        f"{project.name.title().replace('_', '')}Tables",
        __base__=Tables,
        __doc__=f"The tables of project {project.name} ({project.title}), by role."
        " Inputs exist already, or are created empty by the stack when they live in the"
        " project's schema; outputs are created by the stack, in the project's schema.",
        **fields,
    )
    return cast(type[Tables], model)


class Training(_Section):
    """The training job's windows, counted in days back from the run date."""

    lookback_days: _Whole = Field(
        90, ge=7, le=3650, alias="lookbackDays", description="Days of labelled rows to train on."
    )
    holdout_days: _Whole = Field(
        7, ge=1, le=365, alias="holdoutDays", description="Days after them to validate on."
    )
    max_iter: _Whole = Field(
        200, ge=1, le=10000, alias="maxIter", description="Boosting iterations."
    )
    learning_rate: _Real = Field(
        0.1, ge=0.001, le=1, alias="learningRate", description="The boosting learning rate."
    )


class Validation(_Section):
    """How the candidate model is judged: the run mode, and the limits of its problem type
    (``RegressionValidation``, ``ClassificationValidation``; see
    pipelines/validation/thresholds.py). Each limit is a flag of the validate task, named
    as its field (``max_rmse`` is ``--max-rmse``)."""

    problem_type: ClassVar[ProblemType]

    run_mode: RunMode = Field(
        "enabled",
        alias="runMode",
        description="enabled: a broken rule fails the validation; dry_run: the outcome is"
        " only recorded; disabled: the candidate is not evaluated.",
    )

    def limits(self) -> dict[str, float]:
        """The limits, by the validate task's field names."""
        return {name: getattr(self, name) for name in type(self).model_fields if name != "run_mode"}


class RegressionValidation(Validation):
    """How a regression candidate is judged: run mode, error and R2 limits, and how much
    worse than the champion it may be."""

    problem_type: ClassVar[ProblemType] = ProblemType.REGRESSION

    max_rmse: _Real = Field(
        8.0, ge=0.01, le=1e6, alias="maxRmse", description="The largest RMSE accepted."
    )
    max_mae: _Real = Field(
        5.0, ge=0.01, le=1e6, alias="maxMae", description="The largest MAE accepted."
    )
    min_r2: _Real = Field(0.5, ge=-1, le=1, alias="minR2", description="The smallest R2 accepted.")
    max_rmse_increase: _Real = Field(
        0.05,
        ge=0,
        le=1,
        alias="maxRmseIncrease",
        description="The largest relative RMSE increase over the champion.",
    )


class ClassificationValidation(Validation):
    """How a (binary) classification candidate is judged: run mode, ROC AUC, F1 and log
    loss limits, and how much lower than the champion's its ROC AUC may be."""

    problem_type: ClassVar[ProblemType] = ProblemType.CLASSIFICATION

    min_roc_auc: _Real = Field(
        0.6, ge=0.5, le=1, alias="minRocAuc", description="The smallest ROC AUC accepted."
    )
    min_f1: _Real = Field(
        0.0,
        ge=0,
        le=1,
        alias="minF1",
        description="The smallest F1 score of the positive class accepted (at predict's 0.5"
        " cut: with a rare positive class, a good ranker may still predict few positives).",
    )
    max_log_loss: _Real = Field(
        0.69,
        ge=0.001,
        le=100,
        alias="maxLogLoss",
        description="The largest log loss accepted (0.69 is answering 0.5 for everyone).",
    )
    max_roc_auc_decrease: _Real = Field(
        0.02,
        ge=0,
        le=1,
        alias="maxRocAucDecrease",
        description="The largest relative ROC AUC decrease below the champion's.",
    )


VALIDATION_MODELS: dict[ProblemType, type[Validation]] = {
    ProblemType.REGRESSION: RegressionValidation,
    ProblemType.CLASSIFICATION: ClassificationValidation,
}


class JobPolicy(_Section):
    """Retries and time limits shared by every task."""

    max_retries: _Whole = Field(1, ge=0, le=5, alias="maxRetries", description="Retries per task.")
    min_retry_interval_minutes: _Whole = Field(
        5,
        ge=0,
        le=120,
        alias="minRetryIntervalMinutes",
        description="Minutes between retries.",
    )
    timeout_minutes: _Whole = Field(
        120, ge=5, le=24 * 60, alias="timeoutMinutes", description="Time limit per task."
    )


def _natural_direction(metric: str) -> Direction:
    # An error is violated when it grows, a score when it falls: the other direction would
    # retrain on every good day and never on a bad one.
    return "below" if _DIRECTION_OF.get(metric) == "below" else "above"


def _threshold_range(metric: str) -> tuple[float, float]:
    if metric == "r2_score":
        return _R2_RANGE
    return _SCORE_RANGE if _natural_direction(metric) == "below" else _ERROR_RANGE


def _monitoring_rules(problem_type: ProblemType) -> dict[str, Any]:
    """For editors, the rules JSON Schema can say of a monitoring block of
    ``problem_type``; the validators of ``Monitoring`` hold them all."""
    default = DEFAULT_METRICS[problem_type]
    groups: dict[tuple[str, tuple[float, float]], list[str]] = {}
    for metric in METRICS[problem_type]:
        key = (_natural_direction(metric), _threshold_range(metric))
        groups.setdefault(key, []).append(metric)
    rules: list[dict[str, Any]] = [
        {
            "if": {"properties": {"enabled": {"const": False}}, "required": ["enabled"]},
            "else": {"required": ["threshold"]},
        }
    ]
    for (direction, (low, high)), metrics in groups.items():
        given: dict[str, Any] = {
            "properties": {"metric": {"enum": metrics}},
            "required": ["metric"],
        }
        condition = (
            {"anyOf": [given, {"not": {"required": ["metric"]}}]} if default in metrics else given
        )
        rules.append(
            {
                "if": condition,
                "then": {
                    "properties": {
                        "threshold": {"minimum": low, "maximum": high},
                        "violatedWhen": {"const": direction},
                    }
                },
            }
        )
    return {"allOf": rules}


class Monitoring(_Section):
    """The quality monitor on a project's predictions table and its retraining rule: the
    metric beyond the threshold in at least violationWindows (M) of the last
    evaluationWindows (N) windows with labels, the latest included. The metrics are those
    of the project's problem type (``RegressionMonitoring``, ``ClassificationMonitoring``)."""

    problem_type: ClassVar[ProblemType]

    enabled: StrictBool = Field(
        True,
        description="Register the monitor and the retraining job at all; false deploys the"
        " project without them.",
    )
    granularities: _Granularities = Field(
        ("1 day",),
        description="Window sizes the monitor computes metrics for; the violation check uses"
        " the first.",
        json_schema_extra={"uniqueItems": True},
    )
    metric: str = Field(description="The table-level metric the rule watches.")
    violated_when: Direction = Field(
        default_factory=lambda data: _natural_direction(data["metric"]),
        alias="violatedWhen",
        description="above for the errors, below for the scores (the default follows the metric).",
    )
    threshold: _Real = Field(
        0.0,
        ge=min(_R2_RANGE[0], _ERROR_RANGE[0]),
        le=max(_R2_RANGE[1], _ERROR_RANGE[1]),
        description="The metric's limit: -1 to 1 for r2_score, 0 to 1 for the other scores,"
        " 0 to 1000000 for the errors. Required unless enabled is false.",
        json_schema_extra=_no_default,
    )
    evaluation_windows: _Whole = Field(
        7,
        ge=1,
        le=365,
        alias="evaluationWindows",
        description="N: the last windows with the metric that the rule looks at.",
    )
    violation_windows: _Whole = Field(
        default_factory=lambda data: min(3, data["evaluation_windows"]),
        ge=1,
        le=365,
        alias="violationWindows",
        description="M (1..N): how many of them must be beyond the threshold, the latest"
        " included, for the job to retrain. Default: 3, or N when N is smaller.",
    )
    lookback_days: _Whole = Field(
        30,
        ge=1,
        le=3650,
        alias="lookbackDays",
        description="Days of labels and metrics each run of the retraining job refreshes.",
    )
    baseline_table: _TableName | None = Field(
        None,
        alias="baselineTable",
        description="Reference rows for baseline drift (e.g. scored validation data);"
        " optional, never the project's predictions table itself.",
    )
    slicing_exprs: _SlicingExprs = Field(
        (),
        alias="slicingExprs",
        description="Column expressions the Databricks monitor also slices by.",
    )
    refresh_schedule: Schedule | None = Field(
        None,
        alias="refreshSchedule",
        description="The monitor's own refresh schedule, besides the retraining job's"
        " (ignored in dev, where a monitor's schedule could not be paused).",
    )

    @classmethod
    def default_metric(cls) -> str:
        return DEFAULT_METRICS[cls.problem_type]

    @model_validator(mode="before")
    @classmethod
    def _threshold_unless_disabled(cls, data: Any) -> Any:
        data = _decoded(data)
        if (
            isinstance(data, Mapping)
            and "threshold" not in data
            and data.get("enabled", True) is not False
        ):
            return {**data, "threshold": _NOT_GIVEN}
        return data

    @field_validator("violated_when")
    @classmethod
    def _direction_of_the_metric(cls, direction: str, info: ValidationInfo) -> str:
        metric = info.data.get("metric", cls.default_metric())
        natural = _natural_direction(metric)
        if direction != natural:
            better = "higher" if natural == "below" else "lower"
            raise _problem(f"'{natural}' for {metric}, where {better} is better (or leave it out)")
        return direction

    @field_validator("threshold", mode="wrap")
    @classmethod
    def _threshold_of_the_metric(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        metric = info.data.get("metric", cls.default_metric())
        low, high = _threshold_range(metric)
        expected = _range_words(float, low, high)
        if value is _NOT_GIVEN:
            raise _problem(
                f"{expected}: the {metric} beyond which a window counts as violating",
                missing=True,
            )
        try:
            threshold = handler(value)
        except ValidationError:
            threshold = None
        if threshold is None or not low <= threshold <= high:
            # Shown as the reader reads it: "3" given as text is the number 3.
            _raise_all([_At((), _decoded(value), _problem(expected))], "Monitoring")
        return threshold

    @field_validator("violation_windows")
    @classmethod
    def _no_more_than_evaluated(cls, windows: int, info: ValidationInfo) -> int:
        evaluation = info.data.get("evaluation_windows", 7)
        if windows > evaluation:
            raise _problem(
                f"a whole number from 1 to monitoring.evaluationWindows ({evaluation}): no more"
                " windows can violate than are evaluated"
            )
        return windows

    @property
    def granularity(self) -> str:
        """The window size the violation check evaluates."""
        return self.granularities[0]


class RegressionMonitoring(Monitoring):
    """The quality monitor and retraining rule of a regression project: an error above its
    threshold, or R2 below it."""

    model_config = ConfigDict(json_schema_extra=_monitoring_rules(ProblemType.REGRESSION))
    problem_type: ClassVar[ProblemType] = ProblemType.REGRESSION

    metric: _metric_type(ProblemType.REGRESSION) = Field(  # type: ignore[valid-type]
        DEFAULT_METRICS[ProblemType.REGRESSION],
        description="The table-level regression metric the rule watches.",
    )


class ClassificationMonitoring(Monitoring):
    """The quality monitor and retraining rule of a classification project: a score below
    its threshold, or the log loss above it."""

    model_config = ConfigDict(json_schema_extra=_monitoring_rules(ProblemType.CLASSIFICATION))
    problem_type: ClassVar[ProblemType] = ProblemType.CLASSIFICATION

    metric: _metric_type(ProblemType.CLASSIFICATION) = Field(  # type: ignore[valid-type]
        DEFAULT_METRICS[ProblemType.CLASSIFICATION],
        description="The table-level classification metric the rule watches (a struct's"
        " field after a dot, as f1_score.macro).",
    )


MONITORING_MODELS: dict[ProblemType, type[Monitoring]] = {
    ProblemType.REGRESSION: RegressionMonitoring,
    ProblemType.CLASSIFICATION: ClassificationMonitoring,
}
# Needed when storage is enabled (and then said to be missing, in field order).
_STORAGE_WHEN_ENABLED = ("bucket_name", "aws_region", "aws_account_id")


def _required_when_enabled(schema: dict[str, Any], model: type[BaseModel]) -> None:
    keys = [model.model_fields[name].alias or name for name in _STORAGE_WHEN_ENABLED]
    schema["if"] = {"properties": {"enabled": {"const": True}}, "required": ["enabled"]}
    schema["then"] = {"required": keys}


class Storage(_Section):
    """The stack's own lakehouse storage on AWS (``LakehouseStorage``): an S3 bucket, an IAM
    role, a storage credential and an external location. Off by default: the stack then uses
    the metastore's storage."""

    # For editors, the rule JSON Schema can say; the validators below hold it.
    model_config = ConfigDict(json_schema_extra=_required_when_enabled)

    enabled: StrictBool = Field(
        False,
        description="Create the bucket, the IAM role, the storage credential and the"
        " external location at all.",
    )
    bucket_name: _BucketName = Field(
        "",
        alias="bucketName",
        description="The S3 bucket the stack creates (no dots). Required when enabled.",
        json_schema_extra=_no_default,
    )
    aws_region: _AwsRegion = Field(
        "",
        alias="awsRegion",
        description="The bucket's region, that of the workspace's metastore. Required when"
        " enabled.",
        json_schema_extra=_no_default,
    )
    unity_catalog_role_arn: _IamRoleArn = Field(
        UC_MASTER_ROLE_ARN,
        alias="unityCatalogRoleArn",
        description="The Databricks role that assumes the stack's role.",
    )
    aws_account_id: _AwsAccountId = Field(
        "",
        alias="awsAccountId",
        description="The AWS account of the role (12 digits, quoted), for its self-assume"
        " statement. Required when enabled.",
        json_schema_extra=_no_default,
    )
    force_destroy: StrictBool = Field(
        False,
        alias="forceDestroy",
        description="Let pulumi destroy delete a bucket that still holds objects.",
    )
    managed_location: ManagedLocation = Field(
        "schema",
        alias="managedLocation",
        description="Which storage root the stack sets on the external location: schema"
        " (the stack's schema, in a catalog someone else owns) or catalog (the stack creates"
        " the catalog itself with its storage root there).",
    )

    @model_validator(mode="before")
    @classmethod
    def _given_when_enabled(cls, data: Any) -> Any:
        data = _decoded(data)
        if isinstance(data, Mapping) and data.get("enabled") is True:
            absent = [
                alias
                for name in _STORAGE_WHEN_ENABLED
                if data.get(alias := cls.model_fields[name].alias or name) is None
                and data.get(name) is None
            ]
            return {**data, **dict.fromkeys(absent, _NOT_GIVEN)}
        return data

    @field_validator(*_STORAGE_WHEN_ENABLED, mode="before")
    @classmethod
    def _missing_when_enabled(cls, value: Any) -> Any:
        if value is _NOT_GIVEN:
            raise _problem(missing=True, suffix=" (storage.enabled is true)")
        return value

    @property
    def owns_catalog(self) -> bool:
        """The stack creates its catalog (with the catalog's storage root on its bucket)."""
        return self.enabled and self.managed_location == "catalog"


class Notifications(_Section):
    """Who is told when a job fails."""

    on_failure: _Emails = Field(
        (), alias="onFailure", description="Email addresses told of every failed job run."
    )


def stack_folder(environment: str) -> str:
    """The workspace folder a stack creates and owns: its task notebooks, and a folder per
    project (``project_folder``) live there (docs/platform.md, "Workspace folders")."""
    return f"/Shared/{PROJECT}/{environment}"


def project_folder(environment: str, project: str) -> str:
    """A project's folder in the stack's own folder, which the stack creates too: its
    experiment (by default) and its monitor's assets live there."""
    return f"{stack_folder(environment)}/{project}"


def _experiment_folder_exists(path: str, environment: str, projects: Sequence[str]) -> bool:
    """Whether the experiment's folder exists before the experiment is created: the stack's
    own folder or one of its project folders (created first), /Shared, or a user's home
    folder."""
    folder = path.removeprefix("/Workspace").rpartition("/")[0]
    created = {stack_folder(environment), *(project_folder(environment, p) for p in projects)}
    return folder in created or folder == "/Shared" or bool(re.fullmatch(r"/Users/[^/]+", folder))


# --- a project's block ----------------------------------------------------------------------


class ProjectBlock(_Section):
    """The settings of one project the stack deploys: its stack file key is
    ``mlops-stack:<project>``. ``project_block_model`` makes the model of each project,
    with its own tables, validation limits and monitoring metrics; these are the keys every
    project's block has."""

    # What the models of the projects set: which project, and its problem type.
    project: ClassVar[str]

    schema_name: _Identifier = Field(
        alias="schema", description="The project's schema, which the stack creates in the catalog."
    )
    model_name: _Identifier = Field(
        alias="modelName", description="The registered model's name inside the project's schema."
    )
    experiment_path: _ExperimentPath | None = Field(
        None,
        alias="experimentPath",
        description="The MLflow experiment's workspace path: directly in the stack's folder"
        " /Shared/mlops-stack/<environment> or its project folder .../<project> (the"
        " default, .../<project>/experiment), in /Shared or in a /Users/<name> home folder.",
    )
    tables: Tables = Field(description="The project's tables by role.")
    schedules: Schedules = Field(
        default_factory=Schedules, description="Cron and time zone per job of the project."
    )
    training: Training = Field(
        default_factory=Training, description="Training windows and hyperparameters."
    )
    validation: Validation = Field(description="Run mode and limits of model validation.")
    monitoring: Monitoring = Field(
        description="The quality monitor and the retraining rule (required)."
    )
    compute: Compute | None = Field(
        None,
        description="Where this project's jobs run, if not as the stack's compute says: the"
        " keys given here replace the stack's, the others are the stack's.",
    )
    runner_reaches: tuple[_Identifier, ...] = Field(
        (),
        alias="runnerReaches",
        description="Other projects of the stack whose tables this project's jobs may read:"
        " the runner gets SELECT on them for this project (default: none).",
    )
    runner: _ServicePrincipal | None = Field(
        None,
        description="The service principal this project's jobs run as, if not"
        " principals.runner: with a runner of its own, a project's jobs reach only its own"
        " tables and model (and the tables runnerReaches names). Needs a modelOwners of its"
        " own in staging and prod.",
    )
    model_owners: _NonEmpty | None = Field(
        None,
        alias="modelOwners",
        description="The account group that owns this project's registered model, if not"
        " groups.modelOwners: one holding the deployer and this project's runner.",
    )

    @field_validator("experiment_path")
    @classmethod
    def _experiment_folder(cls, path: str | None, info: ValidationInfo) -> str | None:
        context = info.context or {}
        environment = context.get("environment")
        if (
            path
            and environment
            and not _experiment_folder_exists(path, environment, context.get("projects", ()))
        ):
            raise _problem(
                f"an experiment directly in the stack's own folder {stack_folder(environment)}"
                f" or in its project folder {project_folder(environment, cls.project)} (both"
                " created by the stack), in /Shared or in a /Users/<name> home folder: MLflow"
                " creates no missing folders, so an experiment anywhere else cannot be created"
                " on the first pulumi up"
            )
        return path


@cache
def project_block_model(name: str) -> type[ProjectBlock]:
    """The model of the block ``mlops-stack:<name>`` of the project ``name``
    (``pipelines.projects.project``): its roles are its tables' keys, and its validation
    and monitoring those of its problem type."""
    from pipelines.projects import project

    declared = project(name)
    problem_type = declared.problem_type
    title = name.title().replace("_", "")
    tables = _tables_model(declared)
    model = create_model(
        f"{title}Project",
        __base__=ProjectBlock,
        __doc__=f"The settings of project {name} ({declared.title}, a {problem_type.value}"
        f" project): the stack file key {PROJECT}:{name}.",
        schema_name=(
            _Identifier,
            Field(
                name,
                alias="schema",
                description="The project's schema, which the stack creates in the catalog;"
                f" no other project's. Default: {name}.",
            ),
        ),
        model_name=(
            _Identifier,
            Field(
                f"{name}_model",
                alias="modelName",
                description="The registered model's name inside the project's schema."
                f" Default: {name}_model.",
            ),
        ),
        tables=(
            tables,
            Field(
                default_factory=tables,
                description=f"The tables of {name} by role: {', '.join(declared.roles())}.",
            ),
        ),
        validation=(
            VALIDATION_MODELS[problem_type],
            Field(
                default_factory=VALIDATION_MODELS[problem_type],
                description=f"Run mode and {problem_type.value} limits of model validation.",
            ),
        ),
        monitoring=(
            cast(
                Any,
                Annotated[
                    MONITORING_MODELS[problem_type],
                    _Expected(
                        when_missing="an object with at least a threshold for the retraining"
                        " rule, or {enabled: false} to deploy the project without a monitor"
                    ),
                ],
            ),
            Field(description="The quality monitor and the retraining rule (required)."),
        ),
    )
    model.project = name
    return cast(type[ProjectBlock], model)


class StackConfig(_Section):
    """The stack-level settings of one stack: its stack file's ``mlops-stack:`` keys but
    the projects' blocks, without the namespace. Rules relating two settings are checked
    once both are valid."""

    environment: Environment = Field(
        description="Which environment the stack is: dev is deployed from a laptop and its"
        " schedules are paused; staging and prod are deployed by CI."
    )
    workspace_host: _WorkspaceHost = Field(
        alias="workspaceHost", description="The workspace URL, https://<name>.<cloud domain>."
    )
    catalog: _Identifier = Field(
        default_factory=lambda data: data["environment"],
        description="The Unity Catalog catalog every project's schema is created in (exists"
        " already, unless storage.managedLocation is catalog). Default: the environment's name.",
    )
    projects: _ProjectNames = Field(
        description="The projects the stack deploys, in order: folders under"
        " pipelines/projects/. Each has its own block, the key mlops-stack:<project>."
    )
    principals: Principals = Field(
        default_factory=Principals,
        validate_default=True,  # to require them in staging and prod
        description="Service principals' application ids.",
    )
    groups: Groups = Field(
        default_factory=Groups,
        validate_default=True,  # to require the model owners in staging and prod
        description="Account groups.",
    )
    compute: Compute = Field(
        default_factory=Compute,
        description="Job cluster or serverless, for every project unless its block says otherwise.",
    )
    jobs: JobPolicy = Field(default_factory=JobPolicy, description="Retries and timeouts.")
    storage: Storage = Field(
        default_factory=Storage,
        description="The stack's own S3 storage for Unity Catalog (optional).",
    )
    notifications: Notifications = Field(
        default_factory=Notifications, description="Who is told of failures."
    )
    tags: _Tags = Field(
        default_factory=dict,
        description="Tags on every job; project, environment, model_project and code_version"
        " are set by the stack.",
    )
    sql_warehouse_id: _WarehouseId | None = Field(
        None,
        alias="sqlWarehouseId",
        validate_default=True,  # to require one in staging and prod
        description="The SQL warehouse that runs the tables' DDL and the monitors' queries"
        " (16 hex digits); required in staging and prod.",
    )

    @field_validator("principals")
    @classmethod
    def _service_principals_in_ci(cls, principals: Principals, info: ValidationInfo) -> Principals:
        environment = info.data.get("environment")
        if environment not in _CI_ENVIRONMENTS:
            return principals
        found = [
            _At(
                (role,),
                None,
                _problem(
                    f"{_UUID_EXPECTED}: {environment} deploys from CI and runs its jobs as a"
                    " service principal, never as a person",
                    missing=True,
                ),
            )
            for role in ("deployer", "runner")
            if getattr(principals, role) is None
        ]
        if principals.runner and principals.runner == principals.deployer:
            found.append(
                _At(
                    ("runner",),
                    principals.runner,
                    _problem(
                        "a different principal from principals.deployer, so that the jobs"
                        " cannot change the infrastructure they run on"
                    ),
                )
            )
        _raise_all(found, "Principals")
        return principals

    @field_validator("groups")
    @classmethod
    def _model_owners_in_ci(cls, groups: Groups, info: ValidationInfo) -> Groups:
        if info.data.get("environment") in _CI_ENVIRONMENTS and not groups.model_owners:
            _raise_all(
                [
                    _At(
                        ("modelOwners",),
                        None,
                        _problem(
                            "the account group that owns the registered models, with the"
                            " deployer and the runner service principals as its members: in"
                            " Unity Catalog only a model's owner may move its aliases, which"
                            " the jobs do as the runner, and update or delete it, which pulumi"
                            " does as the deployer",
                            missing=True,
                        ),
                    )
                ],
                "Groups",
            )
        return groups

    @field_validator("tags")
    @classmethod
    def _no_reserved_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        reserved = sorted(set(_RESERVED_TAGS) & set(tags))
        if reserved:
            _raise_all(
                [
                    _At(
                        (reserved[0],),
                        tags[reserved[0]],
                        _problem(
                            f"no such tag: {', '.join(_RESERVED_TAGS[:-1])} and"
                            f" {_RESERVED_TAGS[-1]} are set by the stack"
                        ),
                    )
                ],
                "Tags",
            )
        return tags

    @field_validator("sql_warehouse_id")
    @classmethod
    def _warehouse_in_ci(cls, warehouse: str | None, info: ValidationInfo) -> str | None:
        """The warehouse that runs the tables' DDL and the monitors' queries.

        Without one, the Databricks provider creates and starts a cluster of its own for
        every apply that touches a table (docs/platform.md, "Tables without a SQL
        warehouse"): it needs cluster-create rights and minutes per apply. Staging and
        prod, deployed by CI, must name one; dev may go without (``mlops plan`` warns)."""
        environment = info.data.get("environment")
        if warehouse is None and environment in _CI_ENVIRONMENTS:
            raise _problem(
                f"{_WAREHOUSE_EXPECTED}: {environment} must name the warehouse that creates its"
                " tables, or the Databricks provider starts a cluster for the DDL on every apply"
                " (which CI's service principal may not create, and which takes minutes)",
                missing=True,
            )
        return warehouse


# The stack-level settings as the stack file spells them, and what each is; a project's
# block is the key named after it.
TOP_LEVEL_KEYS: dict[str, str] = {
    field.alias or name: field.description or "" for name, field in StackConfig.model_fields.items()
}
# The keys that were stack-level before schemaVersion 2 and are now in each project's
# block, for the message that says where they went.
_MOVED_TO_PROJECTS = (
    "schema",
    "modelName",
    "experimentPath",
    "tables",
    "schedules",
    "training",
    "validation",
    "monitoring",
)


# --- what the program reads -----------------------------------------------------------------


@dataclass(frozen=True)
class ProjectSettings:
    """Everything the program needs to know about one project of a stack.

    tables: every role of the project with its table, defaults filled in, in the order the
        project declares them.
    compute: the stack's compute with the project's overrides.
    runner: the service principal this project's jobs run as (its own ``runner``, else the
        stack's; None in dev); every privilege a runner gets is granted for one project's
        securables.
    runner_reaches: the other projects whose tables this project's jobs may read.
    model_owners: the account group owning the project's registered model (its own
        ``modelOwners``, else the stack's; None in dev).
    """

    name: str
    catalog: str
    schema: str
    model_name: str
    experiment_path: str
    tables: Mapping[str, str]
    schedules: Mapping[str, Schedule]
    training: Training
    validation: Validation
    monitoring: Monitoring
    compute: Compute
    runner: str | None = None
    runner_reaches: tuple[str, ...] = ()
    model_owners: str | None = None

    @property
    def declaration(self) -> ModelProject:
        """The project's declaration (``pipelines/projects/<name>/__init__.py``)."""
        from pipelines.projects import project

        return project(self.name)

    @property
    def problem_type(self) -> ProblemType:
        return self.declaration.problem_type

    @property
    def home(self) -> str:
        """catalog.schema of the project's own schema."""
        return f"{self.catalog}.{self.schema}"

    @property
    def model_full_name(self) -> str:
        return f"{self.home}.{self.model_name}"

    def table_map(self) -> TableMap:
        """The tables as the tasks take them (``--tables role=table,...``)."""
        return TableMap({role: TableName.parse(name) for role, name in self.tables.items()})

    def roles(self, kind: str | None = None) -> tuple[str, ...]:
        return tuple(r.role for r in self.declaration.tables if kind is None or r.kind == kind)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The tables the jobs only read."""
        return tuple(self.tables[role] for role in self.roles("input"))

    @property
    def outputs(self) -> tuple[str, ...]:
        """The tables the jobs write (features and predictions), in the project's schema."""
        return tuple(self.tables[r] for r in self.roles() if r not in self.roles("input"))

    @property
    def predictions(self) -> str:
        """The inference table: batch inference writes it and the monitor watches it."""
        (role,) = self.roles("predictions")
        return self.tables[role]


# Frozen, so one instance serves as every default.
_NO_STORAGE = Storage()


@dataclass(frozen=True)
class StackSettings:
    """Everything the program needs to know about one stack: what its projects share, and
    each project (``projects``, in the order the stack file lists them)."""

    stack: str
    source: str
    environment: str
    workspace_host: str
    catalog: str
    principals: Principals
    groups: Groups
    compute: Compute
    jobs: JobPolicy
    notification_emails: tuple[str, ...]
    tags: Mapping[str, str]
    projects: tuple[ProjectSettings, ...] = ()
    sql_warehouse_id: str | None = None
    code_volume: str = "code"
    storage: Storage = _NO_STORAGE

    def project(self, name: str) -> ProjectSettings:
        for found in self.projects:
            if found.name == name:
                return found
        raise KeyError(f"stack {self.stack} deploys no project {name!r}")

    @property
    def project_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.projects)

    @property
    def code_schema(self) -> str:
        """The schema of the code volume: the first project's (one wheel per stack)."""
        return self.projects[0].schema

    @property
    def runners(self) -> tuple[str, ...]:
        """The service principals the projects' jobs run as, each once."""
        return tuple(dict.fromkeys(p.runner for p in self.projects if p.runner))

    @property
    def schedules_paused(self) -> bool:
        """Dev jobs are run by hand; only staging and prod run on their schedules."""
        return self.environment == "dev"

    @property
    def protect(self) -> bool:
        """Prod's models and tables must survive a mistaken ``pulumi destroy``."""
        return self.environment == "prod"

    def placeholders(self) -> list[str]:
        """The keys that still hold the stack files' placeholders."""
        found = [f"{PROJECT}:workspaceHost"] if PLACEHOLDER_MARK in self.workspace_host else []
        for role in ("deployer", "runner"):
            value = getattr(self.principals, role)
            if value and value.startswith(PLACEHOLDER_PRINCIPAL):
                found.append(f"{PROJECT}:principals.{role}")
        for p in self.projects:
            own = p.runner if p.runner != self.principals.runner else None
            if own and own.startswith(PLACEHOLDER_PRINCIPAL):
                found.append(f"{PROJECT}:{p.name}.runner")
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


def _project_settings(
    name: str, block: ProjectBlock, stack: StackConfig, projects: Sequence[str]
) -> ProjectSettings:
    """A valid block as the program reads it, the defaults that depend on the stack filled in."""
    from pipelines.projects import project

    declared = project(name)
    home = f"{stack.catalog}.{block.schema_name}"
    given = block.tables.given()
    return ProjectSettings(
        name=name,
        catalog=stack.catalog,
        schema=block.schema_name,
        model_name=block.model_name,
        experiment_path=block.experiment_path
        or f"{project_folder(stack.environment, name)}/experiment",
        tables={t.role: given.get(t.role) or f"{home}.{t.default_name}" for t in declared.tables},
        schedules=dict(block.schedules),
        training=block.training,
        validation=block.validation,
        monitoring=block.monitoring,
        compute=stack.compute.overridden_by(block.compute),
        runner=block.runner or stack.principals.runner,
        runner_reaches=tuple(block.runner_reaches),
        model_owners=block.model_owners or stack.groups.model_owners,
    )


def _said(key: str, value: Any, expected: str) -> str:
    """One problem as every message says it."""
    return f"{PROJECT}:{key} is {_show(value)}: expected {expected}."


def _own_runners(
    found: Sequence[ProjectSettings], blocks: Mapping[str, ProjectBlock], stack: StackConfig
) -> list[str]:
    """The rules of a project's own runner: never the deployer and, where the stack has
    model owners (staging and prod), with a model owners group of its own. Only a model's
    owner may move its aliases (docs/platform.md, "Registered model ownership"), so the
    runners of a shared owners group could move every project's aliases."""
    problems: list[str] = []
    deployer, runner = stack.principals.deployer, stack.principals.runner
    shared = stack.groups.model_owners
    for p in found:
        if p.runner is None or p.runner == runner:
            continue
        if p.runner == deployer:
            problems.append(
                _said(
                    f"{p.name}.runner",
                    p.runner,
                    "a different principal from principals.deployer, so that the jobs cannot"
                    " change the infrastructure they run on",
                )
            )
        if shared and p.model_owners == shared:
            problems.append(
                _said(
                    f"{p.name}.modelOwners",
                    blocks[p.name].model_owners,
                    f"an account group of project {p.name}'s own, not groups.modelOwners"
                    f" ({shared}), with the deployer and {p.name}'s runner {p.runner} as its"
                    " members: only a model's owners may move its aliases, and a group shared"
                    " with the other projects' runners would let them move this one's",
                )
            )
    return problems


def _across_projects(
    found: Sequence[ProjectSettings], listed: Sequence[str], storage: Storage
) -> list[str]:
    """The rules relating a project's settings to the stack's or to another project's,
    once each is valid on its own."""
    problems: list[str] = []
    schemas: dict[str, str] = {}
    experiments: dict[str, str] = {}
    written: dict[str, str] = {}  # an output table -> "<project>.tables.<role>"
    for p in found:
        if p.schema in schemas:
            problems.append(
                _said(
                    f"{p.name}.schema",
                    p.schema,
                    f"a schema of its own: {schemas[p.schema]}.schema is {p.schema} too, and"
                    " each project's runner is granted on its own schema's tables only",
                )
            )
        schemas.setdefault(p.schema, p.name)
        if p.experiment_path in experiments:
            problems.append(
                _said(
                    f"{p.name}.experimentPath",
                    p.experiment_path,
                    f"an experiment of its own: {experiments[p.experiment_path]}.experimentPath"
                    f" is {p.experiment_path} too",
                )
            )
        experiments.setdefault(p.experiment_path, p.name)
        seen: dict[str, str] = {}
        for role, table in p.tables.items():
            key = f"{p.name}.tables.{role}"
            if table in seen:
                problems.append(
                    _said(key, table, f"a table of its own; {seen[table]} is {table} too")
                )
            seen.setdefault(table, key)
            if role in p.roles("input"):
                continue
            if table.rpartition(".")[0] != p.home:
                problems.append(
                    _said(
                        key,
                        table,
                        f"a table in project {p.name}'s own schema {p.home}, where the stack"
                        " creates it",
                    )
                )
            elif table in written:
                problems.append(
                    _said(
                        key,
                        table,
                        f"a table no other project writes: {written[table]} is {table} too",
                    )
                )
            written.setdefault(table, key)
        if p.monitoring.baseline_table and p.monitoring.baseline_table == p.predictions:
            problems.append(
                _said(
                    f"{p.name}.monitoring.baselineTable",
                    p.monitoring.baseline_table,
                    "a table of reference rows (e.g. scored validation data), not the"
                    f" project's predictions table {p.predictions}, the monitored table itself",
                )
            )
    homes: dict[str, str] = {}
    for p in found:
        homes.setdefault(p.home, p.name)
    for p in found:
        others = [name for name in listed if name != p.name]
        reaches = list(p.runner_reaches)
        wrong = [r for r in reaches if r not in others] or len(set(reaches)) < len(reaches)
        if wrong:
            problems.append(
                _said(
                    f"{p.name}.runnerReaches",
                    reaches,
                    "a list of other projects this stack deploys, each once"
                    f" ({', '.join(others) or 'there are none'}): the projects whose tables"
                    f" {p.name}'s jobs may read",
                )
            )
        for role in p.roles("input"):
            table = p.tables[role]
            schema = table.rpartition(".")[0]
            owner = homes.get(schema)
            theirs = [q for q in found if q.name == owner]
            if (
                schema != p.home
                and owner
                and (owner not in reaches or table not in theirs[0].tables.values())
            ):
                problems.append(
                    _said(
                        f"{p.name}.tables.{role}",
                        table,
                        f"a table outside the schemas of the stack's other projects, or one of"
                        f" project {owner}'s tables with {owner} in {p.name}.runnerReaches: the"
                        f" stack creates {owner}'s schema and what is in it, and {p.name}'s"
                        " runner may read there only what runnerReaches names",
                    )
                )
            if storage.owns_catalog:
                table_catalog = table.split(".")[0]
                if table_catalog == p.catalog and table.rpartition(".")[0] not in homes:
                    problems.append(
                        _said(
                            f"{p.name}.tables.{role}",
                            table,
                            f"a table outside the catalog {p.catalog} or in one of the stack's"
                            f" schemas ({', '.join(homes)}): storage.managedLocation is"
                            f" catalog, so the stack creates {p.catalog} and no other schema"
                            " of it exists before the stack does",
                        )
                    )
    return problems


# --- pydantic's errors, in the words of the stack file --------------------------------------


def _show(value: Any) -> str:
    if isinstance(value, Secret):
        return "'[secret]'"
    text = f"'{value}'" if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _unwrapped(annotation: Any) -> tuple[Any, list[Any]]:
    """The type under ``X | None`` and ``Annotated[X, ...]``, and the metadata on the way."""
    metadata: list[Any] = []
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata.extend(extra)
        elif get_origin(annotation) in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation, metadata
            annotation = options[0]
        else:
            return annotation, metadata


def _section_of(annotation: Any) -> type[BaseModel] | None:
    base, _ = _unwrapped(annotation)
    return base if isinstance(base, type) and issubclass(base, BaseModel) else None


def _fields_by_key(section: type[BaseModel]) -> dict[str, FieldInfo]:
    return {field.alias or name: field for name, field in section.model_fields.items()}


def _field_at(loc: tuple[str | int, ...], root: type[BaseModel]) -> FieldInfo | None:
    """The field of the key at ``loc`` (from ``root``, the stack-level settings or a
    project's block), if it is one."""
    section: type[BaseModel] | None = root
    field = None
    for key in loc:
        field = _field_of(section, key) if section else None
        if field is None:
            return None
        section = _section_of(field.annotation)
    return field


def _field_of(section: type[BaseModel], key: str | int) -> FieldInfo | None:
    # By the stack file's key, or by the field's name: pydantic names a default by it.
    return _fields_by_key(section).get(str(key)) or section.model_fields.get(str(key))


def _section_at(loc: tuple[str | int, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    if not loc:
        return root
    field = _field_at(loc, root)
    return _section_of(field.annotation) if field else None


def _stack_file_key(loc: tuple[str | int, ...], root: type[BaseModel], prefix: str = "") -> str:
    """The dotted stack file key of ``loc`` below ``prefix`` (a project's name, for its
    block), whose parts may be field names; an item of a list is ``key[n]``."""
    key = prefix
    section: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
            section = None
            continue
        field = _field_of(section, part) if section else None
        name = field.alias or str(part) if field else str(part)
        key = f"{key}.{name}" if key else name
        section = _section_of(field.annotation) if field else None
    return key


def _expected_of(field: FieldInfo | None, missing: bool) -> str:
    """What a field takes, in words: its ``_Expected`` marker, or what its type says."""
    if field is None:
        return "a valid value"
    base, inner = _unwrapped(field.annotation)
    metadata = [*field.metadata, *inner]
    for marker in metadata:
        if isinstance(marker, _Expected):
            if missing and marker.when_missing:
                return marker.when_missing
            if marker.text:
                return marker.text
    if base is bool:
        return "true or false"
    if base in (int, float):
        low = next(m.ge for m in metadata if isinstance(m, annotated_types.Ge))
        high = next(m.le for m in metadata if isinstance(m, annotated_types.Le))
        return _range_words(base, cast(float, low), cast(float, high))
    if get_origin(base) is Literal:
        return f"one of {', '.join(str(choice) for choice in get_args(base))}"
    section = _section_of(base)
    if section is not None:
        return f"an object with the keys {', '.join(_fields_by_key(section))}"
    return "a non-empty string"


def _no_such_key(loc: tuple[str | int, ...], root: type[BaseModel], prefix: str) -> str:
    """What a section takes, for a key it does not have: its keys; for a validation limit
    of another problem type, also which type the project is."""
    parent, key = loc[:-1], str(loc[-1])
    section = _section_at(parent, root)
    keys = ", ".join(_fields_by_key(section)) if section else ""
    if section is root and not prefix:
        return f"no such key; the settings are {keys}"
    where = _stack_file_key(parent, root, prefix)
    if section is not None and issubclass(section, Validation):
        for other, model in VALIDATION_MODELS.items():
            if other is not section.problem_type and key in _fields_by_key(model):
                return (
                    f"no such key: {key} is a limit of {other.value} models, and {prefix} is a"
                    f" {section.problem_type.value} project, whose validation takes {keys}"
                )
    return f"no such key; {where} takes {keys}"


def _sentence(error: ErrorDetails, root: type[BaseModel], prefix: str = "") -> str | None:
    """One problem of the message, ``mlops-stack:<key> is <value>: expected <what>.``; None
    for an error that is only the consequence of another. ``root`` is the model the error
    comes from: the stack-level settings, or the block of the project ``prefix``."""
    kind, loc, context = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    if kind == "default_factory_not_called":
        return None  # a default worked out from a setting that is itself wrong
    missing = kind == "missing" or bool(context.get("missing"))
    if kind == "extra_forbidden":
        # An unknown key is named as given, below the keys of its section.
        expected = _no_such_key(loc, root, prefix)
        key = _stack_file_key(loc[:-1], root, prefix)
        key = f"{key}.{loc[-1]}" if key else str(loc[-1])
    else:
        if kind == _PROBLEM and "expected" in context:
            expected = context["expected"]
        elif not loc:  # the block itself
            expected = f"an object with the keys {', '.join(_fields_by_key(root))}"
        else:
            expected = _expected_of(_field_at(loc, root), missing) + context.get("suffix", "")
        key = _stack_file_key(loc, root, prefix) or prefix
    shown = "missing" if missing else _show(error["input"])
    return f"{PROJECT}:{key} is {shown}: expected {expected}."


def _sentences(exc: ValidationError, root: type[BaseModel], prefix: str = "") -> list[str]:
    return [s for s in (_sentence(e, root, prefix) for e in exc.errors()) if s is not None]


# --- reading ---------------------------------------------------------------------------------


def _listed(value: Any) -> tuple[str, ...]:
    """The projects ``mlops-stack:projects`` lists that exist, however wrong the rest of
    the list is (its problems are reported by ``StackConfig``)."""
    value = _decoded(value)
    if not isinstance(value, list | tuple):
        return ()
    known = known_projects()
    return tuple(dict.fromkeys(n for n in value if isinstance(n, str) and n in known))


def _environment(value: Any) -> str | None:
    return value if value in ENVIRONMENTS else None


def parse_settings(config: Mapping[str, Any], stack: str, source: str) -> StackSettings:
    """Validate a stack's config (``<namespace>:<key>`` -> value, objects as dicts or JSON)
    and return the settings, or raise ``InvalidStackConfig`` naming every problem."""
    problems: list[str] = []
    raw: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    secret: set[str] = set()
    for full_key, value in config.items():
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            if _CREDENTIAL_KEY.search(key) and not isinstance(value, Secret):
                problems.append(
                    f"{full_key} holds a credential in plain text: expected it as a Pulumi"
                    f" secret (pulumi config set --secret {full_key}) or, better, in the"
                    " environment (DATABRICKS_TOKEN, or OIDC in CI)."
                )
            continue
        if isinstance(value, Secret):
            problems.append(
                f"{PROJECT}:{key} is '[secret]': expected a plain setting: no {PROJECT}"
                " setting is secret."
            )
            secret.add(key)
            continue
        if key in TOP_LEVEL_KEYS:
            raw[key] = value
        else:
            blocks[key] = value
    stack_config: StackConfig | None = None
    try:
        # A stack file spells every key as its alias: the field names (populate_by_name) are
        # for Python code building the models, not for stack files.
        stack_config = StackConfig.model_validate(raw, by_alias=True, by_name=False)
    except ValidationError as exc:
        problems += _sentences(exc, StackConfig)
    listed = stack_config.projects if stack_config else _listed(raw.get("projects"))
    # Whether the list itself is valid: if not (its problems are reported), a block of a
    # project it leaves out may be one it meant to list.
    try:
        _project_name_list(raw.get("projects"))
        list_valid = True
    except (ValidationError, PydanticCustomError):
        list_valid = False
    context = {
        "environment": stack_config.environment
        if stack_config
        else _environment(raw.get("environment")),
        "projects": listed,
    }
    valid: dict[str, ProjectBlock] = {}
    for name in listed:
        if name not in blocks and name not in secret:
            problems.append(
                f"{PROJECT}:{name} is missing: expected the block of project {name}, which"
                f" {PROJECT}:projects lists: an object with at least its monitoring (a"
                " threshold for the retraining rule, or {enabled: false})."
            )
    for key, value in blocks.items():
        if key in listed:
            model = project_block_model(key)
            try:
                valid[key] = model.model_validate(
                    value, by_alias=True, by_name=False, context=context
                )
            except ValidationError as exc:
                problems += _sentences(exc, model, key)
        elif key in known_projects():
            if not list_valid:
                continue
            problems.append(
                _said(
                    key,
                    _decoded(value),
                    f"no block for project {key}, which {PROJECT}:projects does not list"
                    f" ({', '.join(listed) or 'none'}): add {key} to {PROJECT}:projects to"
                    " deploy it, or remove the block",
                )
            )
        elif key in _MOVED_TO_PROJECTS:
            example = listed[0] if listed else next(iter(known_projects()))
            problems.append(
                _said(
                    key,
                    _decoded(value),
                    f"no such key: since schemaVersion 2 it belongs in the block of each"
                    f" project, e.g. {PROJECT}:{example}.{key}",
                )
            )
        else:
            problems.append(
                _said(
                    key,
                    _decoded(value),
                    f"no such key; the settings are {', '.join(TOP_LEVEL_KEYS)}, and the"
                    f" block of each project {PROJECT}:projects lists"
                    f" ({', '.join(listed) or 'none yet'})",
                )
            )
    settings = None
    if stack_config is not None and not problems:
        found = tuple(_project_settings(n, valid[n], stack_config, listed) for n in listed)
        problems += _across_projects(found, listed, stack_config.storage)
        problems += _own_runners(found, valid, stack_config)
        settings = StackSettings(
            stack=stack,
            source=source,
            environment=stack_config.environment,
            workspace_host=stack_config.workspace_host,
            catalog=stack_config.catalog,
            principals=stack_config.principals,
            groups=stack_config.groups,
            compute=stack_config.compute,
            jobs=stack_config.jobs,
            notification_emails=stack_config.notifications.on_failure,
            tags=dict(stack_config.tags),
            projects=found,
            sql_warehouse_id=stack_config.sql_warehouse_id,
            storage=stack_config.storage,
        )
    if problems or settings is None:
        count = len(problems)
        listed_problems = " ".join(f"({n}) {p}" for n, p in enumerate(problems, start=1))
        raise InvalidStackConfig(
            f"{source} (stack '{stack}') has {count} invalid setting{'s' * (count > 1)},"
            f" so nothing was registered: {listed_problems}"
        )
    return settings


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
    """The settings of the stack file at ``path`` (its stack: the name between the dots)."""
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


# --- the JSON Schema of a stack file ---------------------------------------------------------


class _SchemaGenerator(GenerateJsonSchema):
    """Pydantic's schema, without the titles it makes up from field names ("Numworkers"):
    editors show each key's description instead."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _any_case(word: str) -> str:
    # JSON Schema patterns have no flags, so the credential words match in any case thus.
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def _plain_descriptions(node: Any) -> Any:
    # The models' docstrings are wrapped reST; an editor shows each description as one
    # paragraph of plain text.
    if isinstance(node, dict):
        return {
            key: " ".join(value.replace("``", "").split())
            if key == "description" and isinstance(value, str)
            else _plain_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_plain_descriptions(item) for item in node]
    return node


def stack_file_schema() -> dict[str, Any]:
    """The JSON Schema of a ``Pulumi.<stack>.yaml``: the stack-level ``mlops-stack:`` keys
    from ``StackConfig``, the block of every project of pipelines/projects/ (each its own
    model, ``project_block_model``), any other provider's keys (credentials only as
    ``secure:`` values), and the other keys Pulumi allows in a stack file."""
    names = list(known_projects())
    models: list[type[BaseModel]] = [StackConfig, *(project_block_model(n) for n in names)]
    refs, generated = models_json_schema(
        [(model, "validation") for model in models],
        by_alias=True,
        schema_generator=_SchemaGenerator,
    )
    definitions = _plain_descriptions(generated["$defs"])
    config = definitions.pop(StackConfig.__name__)
    # Each listed project has a block, and a block is only for a listed project.
    config["properties"]["projects"]["items"]["enum"] = names
    blocks = {
        f"{PROJECT}:{name}": {
            **refs[(project_block_model(name), "validation")],
            "description": f"The settings of project {name}, when {PROJECT}:projects lists it.",
        }
        for name in names
    }
    definitions["secureValue"] = {
        "type": "object",
        "description": "A Pulumi secret: ciphertext written by pulumi config set --secret.",
        "properties": {"secure": {"type": "string"}},
        "required": ["secure"],
        "additionalProperties": False,
    }
    keys = {f"{PROJECT}:{key}": schema for key, schema in config["properties"].items()}
    keys |= blocks
    credentials = "|".join(_any_case(word) for word in _CREDENTIAL_WORDS)

    def key(name: str) -> str:
        return f"{PROJECT}:{name}"

    in_ci = {
        "if": {
            "properties": {key("environment"): {"enum": list(_CI_ENVIRONMENTS)}},
            "required": [key("environment")],
        },
        "then": {
            "required": [key("sqlWarehouseId"), key("principals"), key("groups")],
            "properties": {
                key("sqlWarehouseId"): {"type": "string"},
                key("principals"): {
                    "required": ["deployer", "runner"],
                    "properties": {"deployer": {"type": "string"}, "runner": {"type": "string"}},
                },
                key("groups"): {
                    "required": ["modelOwners"],
                    "properties": {"modelOwners": {"type": "string"}},
                },
            },
        },
    }
    listed_has_block = [
        rule
        for name in names
        for rule in (
            {
                "if": {
                    "properties": {key("projects"): {"contains": {"const": name}}},
                    "required": [key("projects")],
                },
                "then": {"required": [key(name)]},
            },
            {
                "if": {"required": [key(name)]},
                "then": {
                    "required": [key("projects")],
                    "properties": {key("projects"): {"contains": {"const": name}}},
                },
            },
        )
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "$comment": (
            f"schemaVersion {SCHEMA_VERSION}. Generated from infra/settings.py by"
            " `python -m infra.settings --write-schema`; do not edit by hand."
        ),
        "title": f"{PROJECT} stack file (Pulumi.<stack>.yaml)",
        "description": (
            f"The settings of one {PROJECT} stack (schemaVersion {SCHEMA_VERSION}): the"
            f" {PROJECT}: keys under config, the stack-level settings and a block per project"
            f" the stack deploys ({PROJECT}:<project>), checked again, with every rule, when"
            " the program reads them (docs/settings.md)."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["config"],
        "properties": {
            "secretsprovider": {
                "type": "string",
                "description": "The secrets provider that encrypts the secure values.",
            },
            "encryptedkey": {
                "type": "string",
                "description": "The KMS-encrypted data key (cloud secrets providers).",
            },
            "encryptionsalt": {
                "type": "string",
                "description": "The encryption salt (the passphrase secrets provider).",
            },
            "environment": {
                "description": "Pulumi ESC environments the stack imports.",
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}],
            },
            "config": {
                "type": "object",
                "description": f"The stack's config: its {PROJECT}: settings, and other"
                " providers' keys (databricks:, aws:, ...), credentials among them only as"
                " secure values.",
                "properties": keys,
                "required": [f"{PROJECT}:{name}" for name in config.get("required", [])],
                "propertyNames": {
                    "anyOf": [{"enum": list(keys)}, {"not": {"pattern": f"^{PROJECT}:"}}]
                },
                "patternProperties": {
                    f"^[^:]*:.*({credentials})$": {"$ref": "#/$defs/secureValue"}
                },
                "allOf": [in_ci, *listed_has_block],
            },
        },
        "$defs": definitions,
    }


def render_schema() -> str:
    """The schema file's text, as committed."""
    return json.dumps(stack_file_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """(Re)write the schema file from the models; returns its path."""
    path.write_text(render_schema())
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.settings --write-schema`` (or ``--check-schema``, for CI)."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.settings", description="The stack file's JSON Schema."
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-schema", action="store_true", help=f"write {SCHEMA_PATH.name}")
    action.add_argument(
        "--check-schema", action="store_true", help="fail when the committed schema is stale"
    )
    args = parser.parse_args(argv)
    if args.write_schema:
        print(f"wrote {write_schema()}")
        return 0
    if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != render_schema():
        print(
            f"{SCHEMA_PATH} is stale: run python -m infra.settings --write-schema",
            file=sys.stderr,
        )
        return 1
    print(f"{SCHEMA_PATH} is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
