"""docs/setup.md names only commands, stacks, settings and CI names that exist.

Every command line of the guide's ```bash blocks is checked against the repository:
``make`` targets against the Makefile, ``mlops`` command lines against the command's own
parsers (``mlops run <task>`` flags against that task's ``task(name).parser()``), ``pulumi``,
``databricks``, ``git`` and ``uv`` against the subcommands the guide may use, and stack
names against the stack files. Settings keys and stack-output paths in the prose are
checked against ``infra/settings.py`` and ``infra/stack_outputs.schema.json``, and the
secrets and variables against the set the workflows' header comments document. A key of a
project's block is checked in that block: ``fare.monitoring.threshold``, or
``monitoring.threshold`` as the guide says it of every project's block.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from infra.settings import (
    PROJECT,
    TOP_LEVEL_KEYS,
    InvalidStackConfig,
    parse_settings,
    project_block_model,
    read_stack_file,
)
from mlops.cli import _parser
from pipelines.common.errors import UsageError
from pipelines.projects import projects
from pipelines.tasks import task, tasks

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "setup.md"
STACKS = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml")
)

# The executables the guide may use, and for each the subcommands it may use.
PULUMI = {
    "preview": None,
    "up": None,
    "refresh": None,
    "destroy": None,
    "login": None,
    "logout": None,
    "whoami": None,
    "policy": None,
    "stack": {"init", "select", "output", "ls", "rm", "history", "export", "import"},
    "config": {"set", "get", "rm"},
}
DATABRICKS = {"jobs": {"run-now", "list", "get", "get-run", "list-runs"}, "auth": {"login"}}
GIT = {"clone", "tag", "push", "pull", "checkout", "switch", "status"}
UV = {"sync", "build", "run"}
# Environment variables the guide may export besides the workflows' secrets and variables.
LOCAL_ENV = {"DATABRICKS_TOKEN", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLOPS_HOME"}


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)


def _commands(text: str) -> list[str]:
    """Every command line of the bash blocks, continuation lines joined, comments dropped."""
    lines: list[str] = []
    for block in _bash_blocks(text):
        pending = ""
        for raw in block.splitlines():
            line = raw.rstrip()
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = (pending + line).strip()
            pending = ""
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def _split(command: str) -> list[str]:
    # Inline comments end a command line.
    return shlex.split(command, comments=True)


def _makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, flags=re.M))


def _workflow_names() -> set[str]:
    """The secrets and variables the workflows' header comments document."""
    names: set[str] = set()
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        header = []
        for line in workflow.read_text().splitlines():
            if not line.startswith("#"):
                break
            header.append(line)
        names |= set(re.findall(r"^#\s{3}([A-Z][A-Z0-9_]+)\b", "\n".join(header), flags=re.M))
    return names


def _output_paths() -> set[str]:
    """Every dotted path of the stack-output schema, e.g. ``monitor.retrainWhen.metric``."""
    schema = json.loads((ROOT / "infra" / "stack_outputs.schema.json").read_text())
    defs = schema.get("$defs", {})
    paths: set[str] = set()

    def walk(node: dict, prefix: str) -> None:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        for option in node.get("oneOf", []):
            walk(option, prefix)
        for key, child in node.get("properties", {}).items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            walk(child, path)
        # An object of named entries (the projects): any name, written as `*`.
        entries = node.get("additionalProperties")
        if isinstance(entries, dict) and "$ref" in entries:
            paths.add(f"{prefix}.*")
            walk(entries, f"{prefix}.*")

    walk(schema, "")
    return paths


def _output_path(dotted: str) -> str:
    """A stack-output path with a project's name as `*`: ``projects.fare.jobs`` is
    ``projects.*.jobs``."""
    parts = dotted.split(".")
    if parts[0] == "projects" and len(parts) > 1 and parts[1] in projects():
        parts[1] = "*"
    return ".".join(parts)


# The keys of a project's block, in any project.
BLOCK_KEYS = {
    field.alias or name
    for project in projects()
    for name, field in project_block_model(project).model_fields.items()
}


def _is_setting(dotted: str) -> bool:
    """Whether ``area`` or ``area.key`` (a stack-level setting), ``<project>.area.key`` (a
    key of that project's block) or ``area.key`` of a project's block (in some project) is
    a setting: unknown nested keys are reported by the settings' own reader as 'no such
    key'."""
    area, _, nested = dotted.partition(".")
    if area in TOP_LEVEL_KEYS:
        return _known(area, nested.split(".") if nested else [], depth=1)
    if area in projects():
        return not nested or _known(area, nested.split("."), depth=3)
    if area in BLOCK_KEYS:
        return any(
            _known(project, dotted.split("."), depth=3)
            for project in projects()
            if area in {f.alias or n for n, f in project_block_model(project).model_fields.items()}
        )
    return False


def _known(key: str, path: list[str], depth: int) -> bool:
    """Whether the stack file's reader knows ``mlops-stack:<key>`` with ``path`` below it
    (at most ``depth`` levels: deeper is no settings key)."""
    if not path:
        return True
    if len(path) > depth:
        return False
    config = read_stack_file(ROOT / "Pulumi.dev.yaml")
    full = f"{PROJECT}:{key}"
    current = config.get(full)
    top = dict(current) if isinstance(current, dict) else {}
    node = top
    for part in path[:-1]:
        child = node.get(part)
        node[part] = dict(child) if isinstance(child, dict) else {}
        node = node[part]
    node[path[-1]] = node.get(path[-1])
    config[full] = top
    if key in projects() and key not in (config.get(f"{PROJECT}:projects") or []):
        config[f"{PROJECT}:projects"] = [*config.get(f"{PROJECT}:projects", []), key]
    dotted = ".".join([key, *path])
    try:
        parse_settings(config, "dev", "Pulumi.dev.yaml")
    except InvalidStackConfig as exc:
        problem = re.search(
            rf"{re.escape(f'{PROJECT}:{dotted}')} is .*?(?= \(\d+\) |$)", str(exc), flags=re.S
        )
        return not (problem and "no such key" in problem.group(0))
    return True


TEXT = GUIDE.read_text()
COMMANDS = _commands(TEXT)


def test_the_guide_has_commands() -> None:
    assert len(COMMANDS) > 20, COMMANDS
    programs = {_split(c)[0] for c in COMMANDS}
    assert {"make", ".venv/bin/mlops", "pulumi", "databricks"} <= programs


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_exists(command: str) -> None:
    words = _split(command)
    program, args = words[0], words[1:]
    checks = {
        "make": _check_make,
        "mlops": _check_mlops,
        ".venv/bin/mlops": _check_mlops,
        "pulumi": _check_pulumi,
        "databricks": _check_databricks,
        "git": _check_git,
        "uv": _check_uv,
        "export": _check_export,
    }
    assert program in checks, f"{command!r}: {program} is not a command the guide may use"
    checks[program](args)


def _check_make(args: list[str]) -> None:
    targets = _makefile_targets()
    assert args, "make needs a target"
    for target in args:
        assert target in targets, f"make {target}: no such target; the Makefile has {targets}"


def _check_mlops(args: list[str]) -> None:
    try:
        parsed = _parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"mlops {' '.join(args)} does not parse (exit {exc.code})")
    if parsed.command == "plan":
        assert parsed.stack in STACKS, f"mlops plan --stack {parsed.stack}: no stack file"
    if parsed.command == "run":
        assert parsed.task in tasks()
        if parsed.flags == ["--help"]:
            return
        try:
            task(parsed.task).parser().parse_args(parsed.flags)
        except (SystemExit, UsageError) as exc:
            pytest.fail(
                f"mlops run {parsed.task} {' '.join(parsed.flags)}: the task's parser"
                f" refuses these flags: {exc}"
            )


def _stack_flag(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg in ("-s", "--stack") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--stack="):
            return arg.partition("=")[2]
    return None


def _check_pulumi(args: list[str]) -> None:
    assert args and args[0] in PULUMI, f"pulumi {args[:1]}: not a subcommand in {set(PULUMI)}"
    subs = PULUMI[args[0]]
    positional = [a for a in args[1:] if not a.startswith("-")]
    if subs is not None:
        assert positional and positional[0] in subs, f"pulumi {' '.join(args)}: expected {subs}"
    stack = _stack_flag(args)
    if stack is not None and not stack.startswith("<"):
        assert stack in STACKS, f"pulumi {' '.join(args)}: no stack file Pulumi.{stack}.yaml"
    if args[0] == "stack" and positional[0] in ("init", "select") and len(positional) > 1:
        assert positional[1] in STACKS, f"pulumi {' '.join(args)}: no such stack file"
    if args[0] == "login" and positional:
        assert re.fullmatch(r"s3://\S+", positional[0]), positional[0]


def _check_databricks(args: list[str]) -> None:
    assert args and args[0] in DATABRICKS, f"databricks {args[:1]}: not in {set(DATABRICKS)}"
    assert len(args) > 1 and args[1] in DATABRICKS[args[0]], f"databricks {' '.join(args)}"
    if args[:2] == ["jobs", "run-now"]:
        # The job id is positional in the Databricks CLI: a number or a placeholder.
        assert len(args) == 3 and re.fullmatch(r"\d+|<[a-z-]+>", args[2]), args


def _check_git(args: list[str]) -> None:
    assert args and args[0] in GIT, f"git {args[:1]}: not in {GIT}"


def _check_uv(args: list[str]) -> None:
    assert args and args[0] in UV, f"uv {args[:1]}: not in {UV}"


def _check_export(args: list[str]) -> None:
    allowed = _workflow_names() | LOCAL_ENV | {"PULUMI_CONFIG_PASSPHRASE"}
    for assignment in args:
        name = assignment.partition("=")[0]
        assert name in allowed, f"export {name}: not a variable the stack or CI reads"


def test_every_stack_named_exists() -> None:
    named = set(re.findall(r"Pulumi\.([a-z]+)\.yaml", TEXT))
    named |= set(re.findall(r"(?:-s|--stack) ([a-z]+)\b", TEXT))
    named |= set(re.findall(r"pulumi stack (?:init|select) ([a-z]+)\b", TEXT))
    assert named, "the guide names no stack"
    assert named <= set(STACKS), f"no stack file for {named - set(STACKS)}"


def test_every_settings_key_exists() -> None:
    prefixed = set(re.findall(rf"{PROJECT}:([A-Za-z]+(?:\.[A-Za-z]+)*)", TEXT))
    assert prefixed, "the guide names no mlops-stack: key"
    unknown = {key for key in prefixed if not _is_setting(key)}
    assert not unknown, f"not settings keys: {unknown}"


def test_every_dotted_key_is_a_setting_or_an_output() -> None:
    """`area.key` in backticks, where area is a setting, a project's block or one of its
    keys, or a stack output, exists."""
    outputs = _output_paths()
    top_outputs = {path for path in outputs if "." not in path}
    dotted = set(re.findall(r"`([a-z][A-Za-z]*(?:\.[A-Za-z_]+)+)`", TEXT))
    areas = set(TOP_LEVEL_KEYS) | set(projects()) | BLOCK_KEYS | top_outputs
    checked = {d for d in dotted if d.split(".")[0] in areas}
    assert {"monitoring.threshold", "code.wheel", "projects.fare.jobs.training.id"} <= checked
    assert {"validation.minRocAuc", "validation.maxRmse"} <= checked
    unknown = {d for d in checked if not _is_setting(d) and _output_path(d) not in outputs}
    assert not unknown, f"neither a setting nor a stack output: {unknown}"


def test_the_checks_refuse_what_is_neither() -> None:
    assert not _is_setting("monitoring.treshold")
    assert not _is_setting("fare.validation.minRocAuc")  # a classification limit
    assert _is_setting("churn.validation.minRocAuc")
    assert not _is_setting("tables.inferenceRequests")
    assert _is_setting("tables.inference_requests")
    assert _output_path("projects.churn.monitor.table") in _output_paths()
    assert _output_path("projects.taxi.monitor.table") not in _output_paths()
    assert "jobs.training.id" not in _output_paths()  # the shape before schemaVersion 2


def test_the_output_keys_listed_are_the_schemas() -> None:
    schema = json.loads((ROOT / "infra" / "stack_outputs.schema.json").read_text())
    section = TEXT.split("## 7.", 1)[1].split("\n## ", 1)[0]
    project = schema["$defs"]["project"]
    monitor = next(o for o in project["properties"]["monitor"]["oneOf"] if o.get("properties"))
    for key in [
        *schema["properties"],
        *project["properties"],
        *monitor["properties"],
        *monitor["properties"]["retrainWhen"]["properties"],
    ]:
        assert f"`{key}`" in section, f"the outputs section does not list {key}"


def test_secrets_and_variables_match_the_workflows() -> None:
    documented = _workflow_names()
    assert {"PULUMI_ACCESS_TOKEN", "DATABRICKS_CLIENT_ID"} <= documented
    section = TEXT.split("## 5.", 1)[1].split("\n## 6.", 1)[0]
    rows = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.M))
    assert rows == documented, f"missing {documented - rows}, extra {rows - documented}"
    named = set(re.findall(r"\b((?:DATABRICKS|PULUMI|AWS|MLFLOW|MLOPS)_[A-Z0-9_]+)\b", TEXT))
    unknown = named - documented - LOCAL_ENV
    assert not unknown, f"not variables the workflows or the stack read: {unknown}"


def test_the_oidc_subjects_match_the_workflows() -> None:
    header = (ROOT / ".github" / "workflows" / "deploy-staging.yml").read_text()
    assert "repo:<owner>/<repo>:pull_request" in header
    for subject in (
        "repo:<owner>/<repo>:pull_request",
        "repo:<owner>/<repo>:environment:staging",
        "repo:<owner>/<repo>:environment:prod",
    ):
        assert subject in TEXT
    for environment in ("staging", "prod"):
        workflows = "".join(p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml"))
        assert f"environment: {environment}" in workflows


def test_rollback_console_script_exists() -> None:
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    named = set(re.findall(r"(?:console script|entry point) `(mlops-[a-z-]+)`", TEXT))
    assert "mlops-rollback" in named
    for script in named:
        assert script in scripts, f"{script} is not a console script of pyproject.toml"
