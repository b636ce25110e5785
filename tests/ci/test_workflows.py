"""The GitHub Actions workflows in .github/workflows, checked as data.

Each property is a checker returning a list of problems: the real workflows give [], and a
crafted bad copy of them gives at least one problem, so every check is shown to be able to
fail. YAML 1.1 reads the key `on` as the boolean True; `load` puts it back under "on".
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
SETUP_ACTION = ROOT / ".github" / "actions" / "setup" / "action.yml"

# The only secrets a workflow may read, each documented in the header of every workflow.
SECRETS = frozenset({"PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "DATABRICKS_CLIENT_SECRET"})
# The repository (or environment) variables the workflows read, documented the same way.
VARIABLES = frozenset(
    {
        "DATABRICKS_CLIENT_ID",
        "DATABRICKS_AUTH_TYPE",
        "DATABRICKS_HOST",
        "AWS_DEPLOY_ROLE_ARN",
        "AWS_REGION",
        "PULUMI_BACKEND_URL",
    }
)
STACKS = ("staging", "prod")
TEST_COMMAND = "make test"  # the README's test command
POLICY_PACK = "policy"
PR_EVENTS = frozenset({"pull_request", "pull_request_target"})
ALLOWED_WRITES = frozenset({"pull-requests", "id-token"})
# A third-party action is pinned to a full commit SHA, its release named in a trailing
# comment: `uses: actions/checkout@<40 hex> # v4.4.0`.
PIN = re.compile(r"^[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*?))?\s*$")
RELEASE = re.compile(r"^v\d+\.\d+\.\d+$")
# An action of this repository: GitHub's self-repository form ($/...) or workspace-relative.
LOCAL_PREFIXES = ("$/", "./")
SECRET_REF = re.compile(r"\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Shapes of credentials that must never appear as literals.
TOKEN_LITERALS = re.compile(
    r"(ghp_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|gh[osu]_[A-Za-z0-9]{20,}"
    r"|pul-[0-9a-f]{20,}|dapi[0-9a-f]{20,}|dose[0-9a-f]{20,}|AKIA[0-9A-Z]{16}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)
PREFLIGHT = re.compile(
    r"(?:^|\s)\.venv/bin/mlops preflight --stack (\w+) --export-to \"\$GITHUB_ENV\"\s*$"
)
# What `mlops preflight` reads besides what the later steps get (mlops/preflight.py).
PREFLIGHT_READS = frozenset(
    {"AWS_DEPLOY_ROLE_ARN", "AWS_REGION", "DATABRICKS_CLIENT_ID", "DATABRICKS_HOST"}
)
# What it exports from the stack file: nothing after it may set them otherwise.
PREFLIGHT_EXPORTS = frozenset({"DATABRICKS_CLIENT_ID", "DATABRICKS_HOST"})
SENSITIVE_KEY = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSPHRASE|PRIVATE|_KEY$)", re.IGNORECASE)

Workflow = dict[str, Any]


def load(path: Path) -> Workflow:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1: `on` is a boolean
        data["on"] = data.pop(True)
    return data


def workflow_files() -> dict[str, Path]:
    return {p.name: p for p in sorted(WORKFLOWS.glob("*.yml"))}


def workflows() -> dict[str, Workflow]:
    return {name: load(path) for name, path in workflow_files().items()}


# ---------------------------------------------------------------- helpers over one workflow


def events(wf: Workflow) -> dict[str, Any]:
    on = wf.get("on")
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on or {})


def is_local(ref: str) -> bool:
    return ref.startswith(LOCAL_PREFIXES)


def local_action(ref: str) -> dict:
    """A composite action of this repository (``uses: ./.github/actions/<name>``)."""
    assert is_local(ref), ref
    return yaml.safe_load((ROOT / ref[2:] / "action.yml").read_text(encoding="utf-8"))


def steps(job: dict) -> list[dict]:
    """A job's steps, with the steps of this repository's composite actions in place of the
    step that uses them: what runs, in order."""
    found = []
    for step in job.get("steps") or []:
        ref = str(step.get("uses", ""))
        if is_local(ref):
            found.extend(local_action(ref)["runs"]["steps"])
        else:
            found.append(step)
    return found


def pulumi_steps(job: dict) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith("pulumi/actions@")]


def pulumi_command(step: dict) -> str:
    command = str((step.get("with") or {}).get("command", ""))
    return "up" if command == "update" else command


def stacks_run(job: dict, command: str) -> list[str]:
    return [
        str(s["with"].get("stack-name", "")).split("/")[-1]
        for s in pulumi_steps(job)
        if pulumi_command(s) == command
    ]


def runs_cli(job: dict, pattern: str) -> bool:
    return any(re.search(pattern, str(s.get("run", ""))) for s in steps(job))


def is_up_job(job: dict) -> bool:
    return bool(stacks_run(job, "up")) or runs_cli(job, r"\bpulumi\s+(up|update)\b")


def environment_name(job: dict) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def uses_oidc(job: dict) -> bool:
    for step in steps(job):
        if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
            return True
        if "github-oidc" in str((step.get("env") or {}).get("DATABRICKS_AUTH_TYPE", "")):
            return True
    return "github-oidc" in str((job.get("env") or {}).get("DATABRICKS_AUTH_TYPE", ""))


def comments_on_pr(job: dict) -> bool:
    return any(truthy((s.get("with") or {}).get("comment-on-pr")) for s in pulumi_steps(job))


def concurrency(wf: Workflow, job: dict) -> tuple[str | None, Any]:
    """The concurrency group that applies to a job, and its cancel-in-progress."""
    conc = job.get("concurrency", wf.get("concurrency"))
    if conc is None:
        return None, None
    if isinstance(conc, str):
        return conc, False  # GitHub's default
    return conc.get("group"), conc.get("cancel-in-progress", False)


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings(key) + strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return [node] if isinstance(node, str) else []


def header(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


# ---------------------------------------------------------------- checkers (list of problems)


def check_trigger(wf: Workflow, event: str, **filters: list[str]) -> list[str]:
    """Exactly one event, with exactly these filters (e.g. branches=["main"])."""
    found = events(wf)
    if set(found) != {event}:
        return [f"triggers are {sorted(found)}, expected only {event}"]
    spec = found[event] or {}
    problems = [
        f"{event}.{key} is {spec.get(key)}, expected {value}"
        for key, value in filters.items()
        if spec.get(key) != value
    ]
    extra = set(spec) - set(filters)
    if extra:
        problems.append(f"{event} has unexpected filters {sorted(extra)}")
    return problems


def check_top_permissions(wf: Workflow) -> list[str]:
    perms = wf.get("permissions")
    if perms is None:
        return ["no top-level permissions (the default token may write)"]
    if not isinstance(perms, dict):
        return [f"top-level permissions is {perms!r}, expected a map"]
    return [
        f"top-level permission {scope}: {level} is more than contents: read"
        for scope, level in perms.items()
        if (scope, level) != ("contents", "read") and level != "none"
    ]


def check_job_permissions(wf: Workflow) -> list[str]:
    problems = []
    for name, job in wf.get("jobs", {}).items():
        perms = job.get("permissions", wf.get("permissions")) or {}
        if isinstance(perms, str):
            problems.append(f"job {name}: permissions {perms!r}")
            continue
        for scope, level in perms.items():
            if level == "write" and scope not in ALLOWED_WRITES:
                problems.append(f"job {name}: {scope}: write is not needed")
            elif level not in ("read", "write", "none"):
                problems.append(f"job {name}: {scope}: {level!r}")
            elif level == "read" and scope != "contents":
                problems.append(f"job {name}: {scope}: read is not needed")
        pr_write = perms.get("pull-requests") == "write"
        if pr_write != comments_on_pr(job):
            problems.append(f"job {name}: pull-requests: write iff it comments a preview")
        if pr_write and not stacks_run(job, "preview"):
            problems.append(f"job {name}: pull-requests: write outside a preview job")
        if (perms.get("id-token") == "write") != uses_oidc(job):
            problems.append(f"job {name}: id-token: write iff it uses OIDC credentials")
    return problems


def check_previews(wf: Workflow) -> list[str]:
    """`pulumi preview` of every stack, with comment-on-pr and the policy pack, after test."""
    problems, seen = [], []
    for name, job in wf.get("jobs", {}).items():
        for step in pulumi_steps(job):
            if pulumi_command(step) != "preview":
                continue
            args = step.get("with") or {}
            seen.append(str(args.get("stack-name", "")).split("/")[-1])
            if not truthy(args.get("comment-on-pr")):
                problems.append(f"job {name}: preview without comment-on-pr")
            if args.get("policyPacks") != POLICY_PACK:
                problems.append(f"job {name}: preview without policyPacks: {POLICY_PACK}")
            if args.get("work-dir") != ".":
                problems.append(f"job {name}: preview work-dir is not .")
            if "test" not in _needs(job):
                problems.append(f"job {name}: preview does not need test")
            if not runs_cli(job, r"\bmake setup\b"):
                problems.append(f"job {name}: preview without make setup (.venv)")
    if sorted(seen) != sorted(STACKS):
        problems.append(f"previews of {sorted(seen)}, expected {sorted(STACKS)}")
    return problems


def _needs(job: dict) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def check_up(wf: Workflow) -> list[str]:
    """`up` never on a pull request; with the policy pack, after test, in its environment;
    prod only from a v* tag push."""
    problems = []
    on = events(wf)
    for name, job in wf.get("jobs", {}).items():
        if not is_up_job(job):
            continue
        if PR_EVENTS & set(on):
            problems.append(f"job {name}: pulumi up on a pull request")
        if runs_cli(job, r"\bpulumi\s+(up|update)\b"):
            problems.append(f"job {name}: pulumi up outside pulumi/actions (no policy pack)")
        if "test" not in _needs(job):
            problems.append(f"job {name}: up does not need test")
        for step in pulumi_steps(job):
            if pulumi_command(step) == "up" and step["with"].get("policyPacks") != POLICY_PACK:
                problems.append(f"job {name}: up without policyPacks: {POLICY_PACK}")
        for stack in stacks_run(job, "up"):
            if environment_name(job) != stack:
                problems.append(
                    f"job {name}: up -s {stack} in environment {job.get('environment')}"
                )
            if stack == "prod":
                push = on.get("push") or {}
                if set(on) != {"push"} or push.get("tags") != ["v*"] or "branches" in push:
                    problems.append(f"job {name}: prod up not only on v* tag pushes")
    return problems


def check_deploy_concurrency(wfs: dict[str, Workflow]) -> list[str]:
    problems, groups = [], {}
    for wf_name, wf in wfs.items():
        for name, job in wf.get("jobs", {}).items():
            if not is_up_job(job):
                continue
            group, cancel = concurrency(wf, job)
            stacks = stacks_run(job, "up")
            where = f"{wf_name}: job {name}"
            if group is None:
                problems.append(f"{where}: no concurrency group")
                continue
            if cancel is not False:
                problems.append(f"{where}: cancel-in-progress is {cancel!r}, expected false")
            if not all(stack in group for stack in stacks):
                problems.append(f"{where}: group {group!r} does not name {stacks}")
            wf_group = (wf.get("concurrency") or {}).get("group")
            if "concurrency" in job and wf_group == group:
                problems.append(f"{where}: job and workflow share group {group!r} (deadlock)")
            for stack in stacks:
                groups[stack] = group
    if len(set(groups.values())) != len(groups):
        problems.append(f"stacks share a concurrency group: {groups}")
    if sorted(groups) != sorted(STACKS):
        problems.append(f"up runs for {sorted(groups)}, expected {sorted(STACKS)}")
    return problems


def check_pinned(wf: Workflow) -> list[str]:
    problems = []
    for name, job in wf.get("jobs", {}).items():
        refs = [job["uses"]] if "uses" in job else []
        refs += [s["uses"] for s in steps(job) if "uses" in s]
        for ref in refs:
            if is_local(ref):
                continue
            if ref.startswith("docker://"):
                if "@sha256:" not in ref:
                    problems.append(f"job {name}: {ref} is not pinned by digest")
                continue
            _, _, version = ref.partition("@")
            if not PIN.match(version):
                problems.append(f"job {name}: {ref} is not pinned to a full commit SHA")
    return problems


def check_pin_comments(texts: dict[str, str]) -> list[str]:
    """Every ``uses:`` line of a third-party action (the workflows and the composite actions,
    as text: YAML drops comments) pins a full commit SHA with its release in a trailing
    comment, one SHA and one release per action across all files; and the lines are all the
    ``uses:`` YAML reads, so no other form escapes the check."""
    problems, pins = [], {}
    for file, text in texts.items():
        read = []
        for number, line in enumerate(text.splitlines(), 1):
            match = USES_LINE.match(line)
            if match is None:
                if re.search(r"\buses\s*:", line.split("#", 1)[0]):
                    problems.append(f"{file}:{number}: a uses: line of another form: {line!r}")
                continue
            ref, comment = match["ref"].strip("'\""), match["comment"] or ""
            read.append(ref)
            if is_local(ref) or ref.startswith("docker://"):
                continue
            action, _, version = ref.partition("@")
            where = f"{file}:{number}: {ref}"
            if not PIN.match(version):
                problems.append(f"{where} is not pinned to a full commit SHA")
            elif not RELEASE.match(comment):
                problems.append(f"{where} has no release comment (# vX.Y.Z), but {comment!r}")
            pins.setdefault(action, set()).add((version, comment))
        data = yaml.safe_load(text)
        parsed = [v for k, v in _items(data) if k == "uses"]
        if sorted(read) != sorted(map(str, parsed)):
            problems.append(f"{file}: uses: lines {sorted(read)} but YAML reads {parsed}")
    problems += [
        f"{action} is pinned differently across files: {sorted(found)}"
        for action, found in pins.items()
        if len(found) > 1
    ]
    return problems


def _items(node: Any) -> list[tuple[Any, Any]]:
    """Every (key, value) of a YAML document, at any depth."""
    if isinstance(node, dict):
        return list(node.items()) + [i for v in node.values() for i in _items(v)]
    if isinstance(node, list):
        return [i for item in node for i in _items(item)]
    return []


def check_checkout_credentials(wf: Workflow) -> list[str]:
    """Every actions/checkout sets persist-credentials: false: no job pushes, so none needs
    the token left in the checkout (zizmor's artipacked)."""
    problems = []
    for name, job in wf.get("jobs", {}).items():
        for step in steps(job):
            if not str(step.get("uses", "")).startswith("actions/checkout@"):
                continue
            value = (step.get("with") or {}).get("persist-credentials")
            if not (value is False or str(value).lower() == "false"):
                problems.append(f"job {name}: checkout with persist-credentials {value!r}")
        problems += [
            f"job {name}: git push"
            for s in steps(job)
            if re.search(r"\bgit\s+push\b", str(s.get("run", "")))
        ]
    return problems


def check_secrets(wf: Workflow, text: str) -> list[str]:
    """Secrets only as ${{ secrets.NAME }} (the whole value), NAME documented at the top."""
    problems = []
    for value in strings(wf):
        if not re.search(r"\bsecrets\b", value):
            continue
        match = SECRET_REF.fullmatch(value.strip())
        if match is None:
            problems.append(f"secret referenced other than as ${{{{ secrets.NAME }}}}: {value!r}")
        elif match.group(1) not in SECRETS:
            problems.append(f"undocumented secret {match.group(1)}")
    top = header(text)
    problems += [f"secret {s} not documented in the header" for s in SECRETS if s not in top]
    used_vars = {v for value in strings(wf) for v in re.findall(r"\bvars\.(\w+)", value)}
    problems += [f"undocumented variable {v}" for v in used_vars - VARIABLES]
    problems += [f"variable {v} not documented in the header" for v in used_vars if v not in top]
    return problems


def check_no_literals(wf: Workflow, text: str) -> list[str]:
    problems = [f"token-like literal {m[:8]}..." for m in TOKEN_LITERALS.findall(text)]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("env", "with") and isinstance(value, dict):
                    problems.extend(
                        f"{name} is set to a literal, not a secret"
                        for name, setting in value.items()
                        if SENSITIVE_KEY.search(str(name))
                        and setting not in (None, "")
                        and not SECRET_REF.fullmatch(str(setting).strip())
                    )
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(wf)
    return problems


def _preflight_stack(step: dict) -> str | None:
    match = PREFLIGHT.search(str(step.get("run", "")))
    return match.group(1) if match else None


def check_preflight(wf: Workflow) -> list[str]:
    """Every job that runs Pulumi for a stack first runs ``mlops preflight --stack`` for it,
    before any cloud credentials are set up, seeing every name the later steps get."""
    problems = []
    for name, job in wf.get("jobs", {}).items():
        job_steps = steps(job)
        for index, step in enumerate(job_steps):
            if step not in pulumi_steps(job):
                continue
            stack = str(step["with"].get("stack-name", "")).split("/")[-1]
            found = [i for i, s in enumerate(job_steps[:index]) if _preflight_stack(s) == stack]
            if not found:
                problems.append(
                    f"job {name}: pulumi {pulumi_command(step)} -s {stack} without"
                    f" `mlops preflight --stack {stack}` before it"
                )
                continue
            first = found[0]
            preflight = job_steps[first]
            credentials = [
                i
                for i, s in enumerate(job_steps)
                if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
            ]
            if credentials and credentials[0] < first:
                problems.append(f"job {name}: preflight runs after the AWS credentials step")
            sees = set(job.get("env") or {}) | set(preflight.get("env") or {})
            later = {key for s in job_steps[first + 1 :] for key in s.get("env") or {}}
            missing = sorted((later | PREFLIGHT_READS) - sees)
            if missing:
                problems.append(f"job {name}: preflight for {stack} does not see {missing}")
            overridden = sorted((later | set(job.get("env") or {})) & PREFLIGHT_EXPORTS)
            if overridden:
                problems.append(
                    f"job {name}: {overridden} set besides the stack's, which preflight exports"
                )
    return problems


def check_test_job(wf: Workflow) -> list[str]:
    """A job `test` runs the README's test command on Python 3.11 and Java 17 (temurin), and
    every other job waits for it."""
    jobs = wf.get("jobs", {})
    job = jobs.get("test")
    if job is None:
        return ["no job test"]
    problems = []
    if not any(
        line.strip() == TEST_COMMAND
        for s in steps(job)
        for line in str(s.get("run", "")).splitlines()
    ):
        problems.append(f"job test does not run {TEST_COMMAND!r}")
    by_action = {str(s.get("uses", "")).split("@")[0]: s.get("with") or {} for s in steps(job)}
    if str(by_action.get("actions/setup-python", {}).get("python-version")) != "3.11":
        problems.append("job test does not set up Python 3.11")
    java = by_action.get("actions/setup-java", {})
    if (java.get("distribution"), str(java.get("java-version"))) != ("temurin", "17"):
        problems.append("job test does not set up Java 17 (temurin)")
    problems += [
        f"job {n} does not need test"
        for n, j in jobs.items()
        if n != "test" and "test" not in _needs(j)
    ]
    return problems


# ---------------------------------------------------------------- the real workflows


REAL = workflows()
TEXTS = {name: path.read_text(encoding="utf-8") for name, path in workflow_files().items()}
TRIGGERS = {
    "pr.yml": ("pull_request", {"branches": ["main"]}),
    "deploy-staging.yml": ("push", {"branches": ["main"]}),
    "release-prod.yml": ("push", {"tags": ["v*"]}),
}


def real(name: str) -> Workflow:
    return copy.deepcopy(REAL[name])


def test_the_three_workflows_exist_and_use_on() -> None:
    assert sorted(REAL) == sorted(TRIGGERS)
    assert all("on" in wf and True not in wf for wf in REAL.values())


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_triggers(name: str) -> None:
    event, filters = TRIGGERS[name]
    assert check_trigger(REAL[name], event, **filters) == []


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("pr.yml", lambda wf: wf["on"]["pull_request"].update(branches=["dev"])),
        ("pr.yml", lambda wf: wf["on"].update(push={"branches": ["main"]})),
        ("deploy-staging.yml", lambda wf: wf["on"]["push"].update(branches=["main", "dev"])),
        ("release-prod.yml", lambda wf: wf["on"]["push"].update(tags=["*"])),
        ("release-prod.yml", lambda wf: wf["on"]["push"].update(branches=["main"])),
        ("release-prod.yml", lambda wf: wf.update(on="push")),
    ],
)
def test_triggers_can_fail(name: str, mutate) -> None:
    wf = real(name)
    mutate(wf)
    event, filters = TRIGGERS[name]
    assert check_trigger(wf, event, **filters)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_permissions_are_least_privilege(name: str) -> None:
    assert check_top_permissions(REAL[name]) == []
    assert check_job_permissions(REAL[name]) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda wf: wf.pop("permissions"),
        lambda wf: wf.update(permissions="write-all"),
        lambda wf: wf.update(permissions="read-all"),
        lambda wf: wf["permissions"].update({"pull-requests": "write"}),
        lambda wf: wf["permissions"].update(contents="write"),
    ],
)
def test_top_permissions_can_fail(mutate) -> None:
    for name in TRIGGERS:
        wf = real(name)
        mutate(wf)
        assert check_top_permissions(wf), name


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("pr.yml", lambda wf: wf["jobs"]["test"].update(permissions="write-all")),
        ("pr.yml", lambda wf: wf["jobs"]["test"].update(permissions="read-all")),
        ("pr.yml", lambda wf: wf["jobs"]["test"].update(permissions={"contents": "write"})),
        ("pr.yml", lambda wf: wf["jobs"]["test"].update(permissions={"id-token": "write"})),
        ("pr.yml", lambda wf: wf["jobs"]["preview-prod"]["permissions"].pop("pull-requests")),
        ("pr.yml", lambda wf: wf["jobs"]["preview-prod"]["permissions"].pop("id-token")),
        ("pr.yml", lambda wf: wf["jobs"]["preview-prod"]["permissions"].update(actions="read")),
        (
            "deploy-staging.yml",
            lambda wf: wf["jobs"]["deploy-staging"]["permissions"].update(
                {"pull-requests": "write"}
            ),
        ),
        (
            "release-prod.yml",
            lambda wf: wf["jobs"]["deploy-prod"]["permissions"].update(deployments="write"),
        ),
        (
            "release-prod.yml",
            lambda wf: wf["jobs"]["test"].update(permissions={"pull-requests": "write"}),
        ),
    ],
)
def test_job_permissions_can_fail(name: str, mutate) -> None:
    wf = real(name)
    mutate(wf)
    assert check_job_permissions(wf)


def test_previews_cover_both_stacks_with_comments_and_the_policy_pack() -> None:
    assert check_previews(REAL["pr.yml"]) == []


def _preview_step(wf: Workflow, job: str) -> dict:
    return pulumi_steps(wf["jobs"][job])[0]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda wf: _preview_step(wf, "preview-prod")["with"].pop("comment-on-pr"),
        lambda wf: _preview_step(wf, "preview-prod")["with"].update({"comment-on-pr": False}),
        lambda wf: _preview_step(wf, "preview-staging")["with"].pop("policyPacks"),
        lambda wf: _preview_step(wf, "preview-staging")["with"].update(policyPacks="other"),
        lambda wf: _preview_step(wf, "preview-staging")["with"].update({"stack-name": "dev"}),
        lambda wf: wf["jobs"].pop("preview-prod"),
        lambda wf: wf["jobs"]["preview-prod"].pop("needs"),
        lambda wf: wf["jobs"]["preview-prod"]["steps"].pop(1),  # the set-up (make setup)
    ],
)
def test_previews_can_fail(mutate) -> None:
    wf = real("pr.yml")
    mutate(wf)
    assert check_previews(wf)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_up_only_on_merge_and_release(name: str) -> None:
    assert check_up(REAL[name]) == []


def _up_step(wf: Workflow, job: str) -> dict:
    return next(s for s in pulumi_steps(wf["jobs"][job]) if pulumi_command(s) == "up")


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        ("pr.yml", lambda wf: _preview_step(wf, "preview-staging")["with"].update(command="up")),
        ("pr.yml", lambda wf: _preview_step(wf, "preview-prod")["with"].update(command="update")),
        (
            "pr.yml",
            lambda wf: wf["jobs"]["test"]["steps"].append({"run": "pulumi up -s staging --yes"}),
        ),
        ("deploy-staging.yml", lambda wf: wf.update(on={"pull_request": {"branches": ["main"]}})),
        ("deploy-staging.yml", lambda wf: wf["jobs"]["deploy-staging"].pop("environment")),
        (
            "deploy-staging.yml",
            lambda wf: _up_step(wf, "deploy-staging")["with"].pop("policyPacks"),
        ),
        ("deploy-staging.yml", lambda wf: wf["jobs"]["deploy-staging"].pop("needs")),
        ("release-prod.yml", lambda wf: wf.update(on={"push": {"branches": ["main"]}})),
        ("release-prod.yml", lambda wf: wf["on"].update(workflow_dispatch=None)),
        ("release-prod.yml", lambda wf: wf["jobs"]["deploy-prod"].update(environment="staging")),
        (
            "release-prod.yml",
            lambda wf: wf["jobs"]["deploy-prod"].update(environment={"name": "production"}),
        ),
    ],
)
def test_up_can_fail(name: str, mutate) -> None:
    wf = real(name)
    mutate(wf)
    assert check_up(wf)


def test_deploys_are_serialized_per_stack() -> None:
    assert check_deploy_concurrency(REAL) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda wfs: wfs["release-prod.yml"]["concurrency"].update({"cancel-in-progress": True}),
        lambda wfs: wfs["release-prod.yml"].pop("concurrency"),
        lambda wfs: wfs["release-prod.yml"]["concurrency"].update(group="deploy-staging"),
        lambda wfs: wfs["deploy-staging.yml"]["concurrency"].update(group="deploy"),
        lambda wfs: wfs["deploy-staging.yml"]["jobs"]["deploy-staging"].update(
            concurrency={"group": "deploy-staging", "cancel-in-progress": False}
        ),
        lambda wfs: wfs.pop("release-prod.yml"),
    ],
)
def test_deploy_concurrency_can_fail(mutate) -> None:
    wfs = copy.deepcopy(REAL)
    mutate(wfs)
    assert check_deploy_concurrency(wfs)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_every_pulumi_step_is_preceded_by_the_preflight_of_its_stack(name: str) -> None:
    assert check_preflight(REAL[name]) == []
    jobs = REAL[name]["jobs"].values()
    assert sum(1 for job in jobs for s in steps(job) if _preflight_stack(s)) >= 1


def _preflight_step(wf: Workflow, job: str) -> dict:
    return next(s for s in steps(wf["jobs"][job]) if _preflight_stack(s))


def _move_preflight_last(wf: Workflow, job: str) -> None:
    job_steps = wf["jobs"][job]["steps"]
    job_steps.append(job_steps.pop(job_steps.index(_preflight_step(wf, job))))


def _move_preflight_first(wf: Workflow, job: str) -> None:
    job_steps = wf["jobs"][job]["steps"]
    job_steps.insert(0, job_steps.pop(job_steps.index(_preflight_step(wf, job))))
    credentials = next(
        s for s in job_steps if str(s.get("uses", "")).startswith("aws-actions/configure")
    )
    job_steps.insert(0, job_steps.pop(job_steps.index(credentials)))


@pytest.mark.parametrize(
    ("name", "mutate"),
    [
        (
            "pr.yml",
            lambda wf: wf["jobs"]["preview-prod"]["steps"].remove(
                _preflight_step(wf, "preview-prod")
            ),
        ),
        (
            "pr.yml",
            lambda wf: _preflight_step(wf, "preview-prod").update(
                run=".venv/bin/mlops preflight --stack staging"
            ),
        ),
        ("deploy-staging.yml", lambda wf: _move_preflight_last(wf, "deploy-staging")),
        ("release-prod.yml", lambda wf: _move_preflight_first(wf, "deploy-prod")),
        (
            "release-prod.yml",
            lambda wf: _preflight_step(wf, "deploy-prod")["env"].pop("PULUMI_ACCESS_TOKEN"),
        ),
        (
            "deploy-staging.yml",
            lambda wf: _preflight_step(wf, "deploy-staging")["env"].pop("DATABRICKS_HOST"),
        ),
        ("deploy-staging.yml", lambda wf: wf["jobs"]["deploy-staging"]["env"].pop("AWS_REGION")),
        (
            "release-prod.yml",
            lambda wf: wf["jobs"]["deploy-prod"]["env"].update(
                DATABRICKS_CLIENT_ID="${{ vars.DATABRICKS_CLIENT_ID }}"
            ),
        ),
        (
            "deploy-staging.yml",
            lambda wf: _up_step(wf, "deploy-staging")["env"].update(
                DATABRICKS_HOST="${{ vars.DATABRICKS_HOST }}"
            ),
        ),
        (
            "pr.yml",
            lambda wf: _preflight_step(wf, "preview-prod").update(
                run=".venv/bin/mlops preflight --stack prod"
            ),
        ),
        (
            "pr.yml",
            lambda wf: _preflight_step(wf, "preview-staging").update(
                run=".venv/bin/mlops preflight --stack staging || true"
            ),
        ),
    ],
)
def test_preflight_can_fail(name: str, mutate) -> None:
    wf = real(name)
    mutate(wf)
    assert check_preflight(wf)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_actions_are_pinned(name: str) -> None:
    assert check_pinned(REAL[name]) == []


def test_the_shared_set_up_reads_no_secret_and_pins_its_actions() -> None:
    action = local_action("./.github/actions/setup")
    assert action["runs"]["using"] == "composite"
    text = SETUP_ACTION.read_text(encoding="utf-8")
    assert not [v for v in strings(action) if re.search(r"\$\{\{[^}]*\b(secrets|vars)\b", v)]
    assert check_no_literals(action, text) == []
    assert check_pinned({"jobs": {"setup": {"steps": action["runs"]["steps"]}}}) == []
    used = {str(s.get("uses", "")).split("@")[0] for s in action["runs"]["steps"]}
    assert {"actions/setup-python", "actions/setup-java", "actions/cache"} <= used
    # Every job of every workflow uses it, right after the checkout.
    for name, wf in REAL.items():
        for job_name, job in wf["jobs"].items():
            uses = [str(s.get("uses", "")) for s in job["steps"][:2]]
            assert uses[0].startswith("actions/checkout@"), (name, job_name)
            assert uses[1] == "./.github/actions/setup", (name, job_name)
    # Nothing is added to PATH or the environment through the runner's files (zizmor's
    # github-env): the later steps call .venv/bin/... and .tools/bin/uv by their paths.
    assert not re.search(r"GITHUB_(PATH|ENV)", "\n".join(strings(action)))


PIN_TEXTS = {
    **{f"workflows/{name}": text for name, text in TEXTS.items()},
    "actions/setup/action.yml": SETUP_ACTION.read_text(encoding="utf-8"),
}


def test_every_action_is_pinned_to_a_commit_sha_with_its_release() -> None:
    assert check_pin_comments(PIN_TEXTS) == []
    pinned = {
        m["ref"].partition("@")[0]
        for text in PIN_TEXTS.values()
        for m in map(USES_LINE.match, text.splitlines())
        if m and not is_local(m["ref"])
    }
    assert pinned == {
        "actions/checkout",
        "actions/setup-python",
        "actions/setup-java",
        "actions/cache",
        "aws-actions/configure-aws-credentials",
        "pulumi/actions",
    }


CHECKOUT_PIN = "actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (CHECKOUT_PIN, "actions/checkout@v4"),
        (CHECKOUT_PIN, "actions/checkout@v4.4.0 # v4.4.0"),
        (CHECKOUT_PIN, CHECKOUT_PIN.partition(" #")[0]),
        (CHECKOUT_PIN, CHECKOUT_PIN.replace("v4.4.0", "v4")),
        (CHECKOUT_PIN, CHECKOUT_PIN.replace("v4.4.0", "v4.3.1")),
        (CHECKOUT_PIN, CHECKOUT_PIN.replace("11d5960a", "08eba0b2")),
        (CHECKOUT_PIN, "'actions/checkout@main'"),
        (
            f"- uses: {CHECKOUT_PIN}\n        with:\n          persist-credentials: false\n",
            "- {uses: actions/checkout@v4, with: {persist-credentials: false}}\n",
        ),
    ],
)
def test_sha_pinning_can_fail(old: str, new: str) -> None:
    text = PIN_TEXTS["workflows/pr.yml"]
    assert old in text
    assert check_pin_comments({**PIN_TEXTS, "workflows/pr.yml": text.replace(old, new, 1)})


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_every_checkout_drops_its_credentials(name: str) -> None:
    assert check_checkout_credentials(REAL[name]) == []
    assert any(
        str(s.get("uses", "")).startswith("actions/checkout@")
        for job in REAL[name]["jobs"].values()
        for s in steps(job)
    )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda step: step.pop("with"),
        lambda step: step["with"].pop("persist-credentials"),
        lambda step: step["with"].update({"persist-credentials": True}),
        lambda step: step["with"].update({"persist-credentials": "true"}),
    ],
)
def test_checkout_credentials_can_fail(mutate) -> None:
    for name in TRIGGERS:
        wf = real(name)
        mutate(wf["jobs"]["test"]["steps"][0])
        assert check_checkout_credentials(wf), name
    wf = real("deploy-staging.yml")
    wf["jobs"]["deploy-staging"]["steps"].append({"run": "git push origin HEAD:main"})
    assert check_checkout_credentials(wf)


@pytest.mark.parametrize(
    "ref",
    [
        "pulumi/actions@main",
        "actions/checkout@master",
        "actions/checkout",
        "actions/checkout@v4",
        "actions/checkout@11d5960",
        "docker://alpine:3",
    ],
)
def test_pinning_can_fail(ref: str) -> None:
    wf = real("pr.yml")
    wf["jobs"]["test"]["steps"][0]["uses"] = ref
    assert check_pinned(wf)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_secrets_are_documented_references(name: str) -> None:
    assert check_secrets(REAL[name], TEXTS[name]) == []
    assert check_no_literals(REAL[name], TEXTS[name]) == []


@pytest.mark.parametrize(
    "value",
    [
        "${{ secrets.OTHER_TOKEN }}",
        "${{ toJSON(secrets) }}",
        "${{ secrets['PULUMI_ACCESS_TOKEN'] }}",
        "Bearer ${{ secrets.PULUMI_ACCESS_TOKEN }}",
    ],
)
def test_secret_references_can_fail(value: str) -> None:
    wf = real("deploy-staging.yml")
    _up_step(wf, "deploy-staging")["env"]["EXTRA"] = value
    assert check_secrets(wf, TEXTS["deploy-staging.yml"])


def test_undocumented_names_fail() -> None:
    wf, text = real("pr.yml"), TEXTS["pr.yml"]
    top, body = header(text), text[len(header(text)) :]
    assert check_secrets(wf, top.replace("PULUMI_CONFIG_PASSPHRASE", "") + body)
    assert check_secrets(wf, top.replace("AWS_REGION", "") + body)
    _preview_step(wf, "preview-prod")["env"]["UNKNOWN"] = "${{ vars.UNDOCUMENTED }}"
    assert check_secrets(wf, text)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("PULUMI_ACCESS_TOKEN", "pul-" + "0123456789abcdef" * 3),
        ("DATABRICKS_TOKEN", "dapi" + "0123456789abcdef" * 2),
        ("DATABRICKS_CLIENT_SECRET", "not-a-reference"),
        ("AWS_SECRET_ACCESS_KEY", "${{ vars.AWS_SECRET_ACCESS_KEY }}"),
    ],
)
def test_literal_credentials_fail(key: str, value: str) -> None:
    wf = real("release-prod.yml")
    _up_step(wf, "deploy-prod")["env"][key] = value
    text = TEXTS["release-prod.yml"] + f"\n# {value}\n"
    assert check_no_literals(wf, text)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_the_test_job_runs_the_readme_command(name: str) -> None:
    assert TEST_COMMAND in (ROOT / "README.md").read_text(encoding="utf-8")
    assert check_test_job(REAL[name]) == []


def _set_up_inline(wf: Workflow, action: str, change: dict) -> None:
    """The test job with the composite set-up written out, one action's inputs changed."""
    job_steps = wf["jobs"]["test"]["steps"]
    index = next(i for i, s in enumerate(job_steps) if is_local(str(s.get("uses", ""))))
    inline = copy.deepcopy(local_action(job_steps[index]["uses"])["runs"]["steps"])
    for step in inline:
        if str(step.get("uses", "")).startswith(f"actions/{action}@"):
            step["with"].update(change)
    job_steps[index : index + 1] = inline


@pytest.mark.parametrize(
    "mutate",
    [
        lambda wf: wf["jobs"].pop("test"),
        lambda wf: wf["jobs"]["test"]["steps"][-1].update(run=".venv/bin/pytest"),
        lambda wf: _set_up_inline(wf, "setup-python", {"python-version": "3.10"}),
        lambda wf: _set_up_inline(wf, "setup-java", {"distribution": "zulu"}),
        lambda wf: wf["jobs"]["deploy-prod"].pop("needs"),
    ],
)
def test_test_job_can_fail(mutate) -> None:
    wf = real("release-prod.yml")
    mutate(wf)
    assert check_test_job(wf)


def _integration_command(script: str) -> list[str]:
    """The ``mlops integration-run`` command of a run script, continuation lines joined."""
    joined = script.replace("\\\n", " ")
    lines = [line for line in joined.splitlines() if "mlops integration-run" in line]
    return shlex.split(lines[0]) if lines else []


OUTPUTS_FILE = "$RUNNER_TEMP/stack-outputs.json"


def check_integration_run(wf: Workflow) -> list[str]:
    """After ``pulumi up -s staging``, the last step writes the staging outputs and runs
    ``mlops integration-run`` on them for the training job of every project (no
    ``--project``) or of one staging deploys, with flags its own parser accepts and a
    timeout that ends before the step's (so the runs are cancelled)."""
    job = wf["jobs"].get("deploy-staging") or {}
    job_steps = steps(job)
    ups = [i for i, s in enumerate(job_steps) if s.get("name") == "pulumi up -s staging"]
    if not ups or ups[0] == len(job_steps) - 1:
        return ["no step after pulumi up -s staging"]
    step = job_steps[-1]
    script = str(step.get("run", ""))
    problems = []
    if f'pulumi stack output --json --stack staging > "{OUTPUTS_FILE}"' not in script:
        problems.append("the staging outputs are not written to the outputs file")
    command = _integration_command(script)
    if command[:1] != [".venv/bin/mlops"]:
        return [*problems, "the last step does not run .venv/bin/mlops integration-run"]
    try:
        args = _parser().parse_args(command[1:])
    except SystemExit:
        return [*problems, f"mlops refuses {' '.join(command[1:])}"]
    if args.job != "training" or str(args.outputs) != OUTPUTS_FILE:
        problems.append(f"integration-run of {args.job} on {args.outputs}")
    if args.project is not None and args.project not in _staging_projects():
        problems.append(f"integration-run of project {args.project}, which staging does not deploy")
    if not step.get("timeout-minutes") or args.timeout_minutes >= step["timeout-minutes"]:
        problems.append("the run's own timeout does not end before the step's")
    return problems


def _staging_projects() -> tuple[str, ...]:
    from infra.settings import settings_from_stack_file

    return settings_from_stack_file(ROOT / "Pulumi.staging.yaml").project_names


def test_the_integration_run_runs_the_training_job_after_up_and_its_flags_parse() -> None:
    assert check_integration_run(REAL["deploy-staging.yml"]) == []
    schema = json.loads((ROOT / "infra" / "stack_outputs.schema.json").read_text())
    # Every project of the outputs has a training job, under projects.<name>.jobs.
    assert schema["properties"]["projects"]["additionalProperties"] == {"$ref": "#/$defs/project"}
    assert "training" in schema["$defs"]["project"]["properties"]["jobs"]["required"]
    assert _staging_projects() == ("fare", "churn")


def _integration_step(wf: Workflow) -> dict:
    return wf["jobs"]["deploy-staging"]["steps"][-1]


def _replace_in_run(old: str, new: str):
    def mutate(wf: Workflow) -> None:
        step = _integration_step(wf)
        assert old in step["run"]
        step["run"] = step["run"].replace(old, new)

    return mutate


@pytest.mark.parametrize(
    "mutate",
    [
        _replace_in_run("--job training", "--job trainig"),
        _replace_in_run("--job training", "--job training --project taxi"),
        _replace_in_run("--timeout-minutes 110", "--timeout-minutes 0"),
        _replace_in_run("--timeout-minutes 110", "--timeout-minutes 130"),
        _replace_in_run('--outputs "$RUNNER_TEMP/stack-outputs.json"', ""),
        _replace_in_run("--stack staging", "--stack prod"),
        _replace_in_run(".venv/bin/mlops integration-run", "echo skipped"),
        lambda wf: _integration_step(wf).pop("timeout-minutes"),
        lambda wf: wf["jobs"]["deploy-staging"]["steps"].pop(),
    ],
)
def test_a_bad_integration_run_is_caught(mutate) -> None:
    wf = real("deploy-staging.yml")
    mutate(wf)
    assert check_integration_run(wf)


def test_an_integration_run_of_one_staging_project_is_accepted() -> None:
    wf = real("deploy-staging.yml")
    _replace_in_run("--job training", "--job training --project churn")(wf)
    assert check_integration_run(wf) == []
