"""A job task's interface, declared once: its typed params are its flags.

Each task declares a frozen ``Params`` dataclass whose fields are its flags (``model_name``
is ``--model-name``), with help, parser and choices in the field's metadata (``flag``), and
a ``Task`` naming it, its params, what it publishes and the function that runs it. From
that one declaration come:

- the task's command-line parser (``Task.parser``), for the console script a Databricks
  ``python_wheel_task`` starts and for ``mlops run``;
- the named parameters a job passes it (``Task.parameters``), which the Pulumi program
  builds from the same fields, so a misspelt or missing flag fails when the stack renders;
- the flags the local demo passes (``Task.argv``).

The console scripts (``mlops-<task>`` in pyproject.toml) point at ``Task.main`` and are the
one task registry (``pipelines.tasks``). This module imports neither Spark nor MLflow:
the Pulumi program reads task interfaces without loading what the tasks run.

argparse (standard library) does the parsing: deriving it from the fields takes a few
dozen lines, where a CLI library built on type hints would be one more dependency on every
cluster the wheel is installed on.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NoReturn, TypeVar

from pipelines.common.errors import UsageError
from pipelines.common.names import TableName

P = TypeVar("P")
_MISSING: Any = dataclasses.MISSING


class TaskArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises ``UsageError`` so callers decide how to exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.format_usage().strip()}\n{self.prog}: error: {message}")


class TaskInterfaceError(ValueError):
    """Parameters for a task that its params do not declare, or without a required one."""


def flag(
    help: str = "",
    *,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    parse: Callable[[str], Any] | None = None,
    choices: Sequence[str] | None = None,
    metavar: str | None = None,
) -> Any:
    """A params field that is a flag: its help, and optionally its parser and choices.

    Without ``parse`` the field's type decides how its text is read (``dates``, table
    names, numbers, comma lists); a field without a default is a required flag. ``{name}``
    in ``help`` is the params class's attribute ``name`` (a ``ClassVar``), so a base params
    class that several tasks share words a flag's help for each of them."""
    metadata = {"help": help, "parse": parse, "choices": choices, "metavar": metavar}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


# --- how a flag's text becomes a value ------------------------------------------------

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:([+-])(\d{1,5})d)?")


def iso_date(text: str) -> dt.date:
    """``YYYY-MM-DD``, optionally shifted by whole days: ``2016-01-31-7d`` is 2016-01-24.

    The shift lets a scheduled job derive its windows from one run date (Databricks
    substitutes ``{{job.parameters.run_date}}`` before the task starts), since job
    parameters cannot do date arithmetic themselves.
    """
    match = _DATE.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError(text)
        day = dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a date: expected YYYY-MM-DD, optionally shifted by whole days"
            " (e.g. 2016-01-31 or 2016-01-31-7d)"
        ) from None
    if match.group(2):
        days = int(match.group(3))
        day += dt.timedelta(days=days if match.group(2) == "+" else -days)
    return day


def table_name(text: str) -> TableName:
    try:
        return TableName.parse(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def model_name(text: str) -> str:
    """A registered model name: three-level, like a Unity Catalog table."""
    try:
        TableName.parse(text)
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a three-level model name: expected catalog.schema.model"
        ) from None
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return value


def boolean(text: str) -> bool:
    """``true`` or ``false`` (any case), as a task value reference renders a boolean."""
    lowered = text.strip().lower()
    if lowered not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"'{text}' is not a boolean: expected true or false")
    return lowered == "true"


_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:/")


def existing_path(text: str) -> str:
    """A local file or folder that exists, checked before anything starts; a URI
    (``dbfs:/``, ``s3://``, ...) is left to the reader, which names it if it is missing."""
    if _URI.match(text) or Path(text).expanduser().exists():
        return text
    raise argparse.ArgumentTypeError(f"'{text}' does not exist: expected a file or a folder")


def text_list(text: str) -> tuple[str, ...]:
    """A comma-separated list; blanks around items are dropped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


_BY_TYPE: dict[Any, Callable[[str], Any]] = {
    dt.date: iso_date,
    TableName: table_name,
    int: int,
    float: float,
    str: str,
    bool: boolean,
    tuple[str, ...]: text_list,
}


def _unwrap_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


@dataclass(frozen=True)
class Flag:
    """One flag of a task, from one field of its params."""

    field: str
    parse: Callable[[str], Any]
    required: bool
    default: Any
    help: str
    choices: Sequence[str] | None
    metavar: str | None

    @property
    def name(self) -> str:
        """The flag without dashes, as a job's named parameters key it: ``model-name``."""
        return self.field.replace("_", "-")

    @property
    def option(self) -> str:
        return f"--{self.name}"


def flags_of(params: type) -> list[Flag]:
    """The flags a params dataclass declares, in field order."""
    hints = typing.get_type_hints(params)
    found = []
    for item in dataclasses.fields(params):
        meta = item.metadata
        hint = _unwrap_optional(hints[item.name])
        parse = meta.get("parse") or _BY_TYPE.get(hint)
        if parse is None:
            raise TypeError(
                f"{params.__qualname__}.{item.name}: no parser for {hint!r}; give flag(parse=...)"
            )
        has_default = item.default is not _MISSING or item.default_factory is not _MISSING
        default = item.default if item.default is not _MISSING else None
        factory: Any = item.default_factory
        if factory is not _MISSING:
            default = factory()
        found.append(
            Flag(
                field=item.name,
                parse=parse,
                required=not has_default,
                default=default,
                help=_help(params, meta.get("help", "")),
                choices=meta.get("choices"),
                metavar=meta.get("metavar"),
            )
        )
    return found


def _help(params: type, text: str) -> str:
    """``text`` with each ``{name}`` replaced by the attribute ``name`` of ``params``."""
    if "{" not in text:
        return text
    try:
        return text.format_map(_Attributes(params))
    except (AttributeError, ValueError) as exc:
        raise TypeError(f"{params.__qualname__}: help {text!r}: {exc}") from None


class _Attributes(dict[str, Any]):
    def __init__(self, owner: type) -> None:
        super().__init__()
        self.owner = owner

    def __missing__(self, key: str) -> Any:
        return getattr(self.owner, key)


@dataclass(frozen=True)
class Task(Generic[P]):
    """A job task: its name (``mlops run <name>``, console script ``mlops-<name>``), its
    params, what it does, the task values it publishes and where its code is.

    ``runs`` is ``"module:function"``, a ``(params, ctx) -> dict`` imported only when the
    task runs, so reading the interface costs no Spark or MLflow import.
    ``publishes``: the task values it sets for later tasks (``pipelines.common.task_values``);
    only a notebook task may set them, so the stack runs such a task as a notebook.
    """

    name: str
    params: type[P]
    summary: str
    runs: str
    publishes: tuple[str, ...] = ()

    @property
    def console_script(self) -> str:
        return f"mlops-{self.name}"

    def flags(self) -> list[Flag]:
        return flags_of(self.params)

    def parser(self) -> TaskArgumentParser:
        parser = TaskArgumentParser(prog=self.name, description=self.summary)
        for item in self.flags():
            options: dict[str, Any] = {"type": item.parse, "help": item.help or None}
            if item.choices:
                options["choices"] = list(item.choices)
            if item.metavar:
                options["metavar"] = item.metavar
            if item.required:
                options["required"] = True
            else:
                options["default"] = item.default
            parser.add_argument(item.option, **options)
        return parser

    def parse(self, argv: Sequence[str]) -> P:
        """Typed params from a command line, checked (``Params.validate`` when defined).
        A flag the task does not have is named first, before the required ones missing."""
        parser = self.parser()
        # argparse checks the required flags before it reports unknown ones, and has no
        # public list of its options: hence its own _actions, read here.
        known = {option for action in parser._actions for option in action.option_strings}
        unknown: list[str] = []  # each unknown flag with the values after it, as argparse
        taking = False
        for arg in argv:
            if arg.startswith("-"):
                taking = arg.startswith("--") and arg.split("=", 1)[0] not in known
            if taking:
                unknown.append(arg)
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        namespace = parser.parse_args(list(argv))
        params = self.params(**vars(namespace))
        validate = getattr(params, "validate", None)
        if validate is not None:
            validate()
        return params

    def parameters(self, **values: Any) -> dict[str, str]:
        """The task's named parameters, keyed by flag (``model-name``), from field values
        given as text (dynamic value references allowed): what a job passes it.

        Raises ``TaskInterfaceError`` for a field the params do not have or a required one
        left out; ``None`` leaves an optional flag out. A value without a reference is
        parsed as the task would parse it, so a bad literal fails here too."""
        declared = {item.field: item for item in self.flags()}
        unknown = sorted(set(values) - set(declared))
        missing = sorted(
            name for name, item in declared.items() if item.required and values.get(name) is None
        )
        if unknown or missing:
            problems = []
            if unknown:
                problems.append(f"no flag {', '.join(_option(n) for n in unknown)}")
            if missing:
                problems.append(f"required {', '.join(_option(n) for n in missing)} not given")
            raise TaskInterfaceError(
                f"task {self.name}: {'; '.join(problems)} (its flags:"
                f" {', '.join(item.option for item in declared.values())})"
            )
        rendered: dict[str, str] = {}
        for name, value in values.items():
            if value is None:
                continue
            text = _text(value)
            item = declared[name]
            if "{{" not in text:
                try:
                    item.parse(text)
                except (argparse.ArgumentTypeError, ValueError) as exc:
                    raise TaskInterfaceError(
                        f"task {self.name}: {item.option} {text}: {exc}"
                    ) from None
                if item.choices and text not in item.choices:
                    raise TaskInterfaceError(
                        f"task {self.name}: {item.option} {text}: expected one of"
                        f" {', '.join(item.choices)}"
                    )
            rendered[item.name] = text
        return rendered

    def argv(self, **values: Any) -> list[str]:
        """The same parameters as a command line: ``["--model-name", "m", ...]``."""
        pairs = self.parameters(**values).items()
        return [part for key, text in pairs for part in (f"--{key}", text)]

    def run_function(self) -> Callable[[P, Any], dict[str, Any]]:
        module, _, function = self.runs.partition(":")
        return getattr(importlib.import_module(module), function)

    def main(self, argv: Sequence[str] | None = None) -> int:
        """The console script: parse the flags (a usage error exits 2 before Spark or
        MLflow is loaded), run the task as a process and return its exit status."""
        try:
            params = self.parse(sys.argv[1:] if argv is None else argv)
        except UsageError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        from pipelines.common.task import entry_point

        return entry_point(self, params)


def _option(field: str) -> str:
    return f"--{field.replace('_', '-')}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def check_date_range(start: dt.date, end: dt.date, start_flag: str, end_flag: str) -> None:
    if end <= start:
        raise UsageError(
            f"{end_flag} {end} must be after {start_flag} {start}: the range is"
            " [start, end), start included and end excluded."
        )


def values_of(params: Any) -> Mapping[str, Any]:
    """A params object's fields, by name."""
    return {item.name: getattr(params, item.name) for item in dataclasses.fields(params)}
