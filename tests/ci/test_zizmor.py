"""zizmor, the GitHub Actions security linter, on this repository's .github, offline.

`make lint` and the pull request workflow run it with the flags below; here it must find
nothing in the real .github, and it must find what a crafted bad copy of it brings back:
an action pinned to a tag, a checkout that keeps its token, a write to GITHUB_PATH. The
findings are read from its JSON output, by audit id.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The locked environment's zizmor (the dev group), beside the interpreter running the tests.
ZIZMOR = Path(sys.executable).with_name("zizmor")
FLAGS = ("--offline",)  # no network: the online audits (impostor commits, ...) are skipped
CHECKOUT_PIN = "actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0"
# What the bad copy's pr.yml runs first: the checkout the real one pins and frees of its token.
CHECKOUT_STEP = f"- uses: {CHECKOUT_PIN}\n        with:\n          persist-credentials: false\n"


def zizmor(root: Path) -> tuple[int, list[dict]]:
    """zizmor's exit code and findings on root/.github."""
    assert ZIZMOR.is_file(), f"{ZIZMOR} is missing: run make setup (zizmor is a dev dependency)"
    done = subprocess.run(
        [str(ZIZMOR), *FLAGS, "--format", "json", ".github"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode not in (1, 2, 3), done.stderr  # a failure, not findings
    return done.returncode, json.loads(done.stdout)


def primary(finding: dict) -> tuple[str, str]:
    """The file and the text a finding points at."""
    location = next(loc for loc in finding["locations"] if loc["symbolic"]["kind"] == "Primary")
    path = location["symbolic"]["key"]["Local"]["verbatim_path"]
    return path, location["concrete"]["feature"]


def test_zizmor_finds_nothing_in_github() -> None:
    code, findings = zizmor(ROOT)
    assert findings == []
    assert code == 0


def test_make_lint_and_the_pull_request_workflow_run_zizmor_with_these_flags() -> None:
    command = " ".join(["zizmor", *FLAGS, ".github"])
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert f"\t$(VENV)/bin/{command}\n" in recipe + "\n"
    pr = (ROOT / ".github" / "workflows" / "pr.yml").read_text(encoding="utf-8")
    assert f"run: .venv/bin/{command}\n" in pr


def _bad_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    path = tmp_path / ".github" / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("file", "old", "new", "ident", "feature"),
    [
        (
            "workflows/pr.yml",
            CHECKOUT_PIN,
            "actions/checkout@v4",
            "unpinned-uses",
            "actions/checkout@v4",
        ),
        (
            "workflows/pr.yml",
            CHECKOUT_STEP,
            f"- uses: {CHECKOUT_PIN}\n",
            "artipacked",
            f"uses: {CHECKOUT_PIN}",
        ),
        (
            "actions/setup/action.yml",
            "        make setup\n",
            '        make setup\n        echo "$PWD/.tools/bin" >> "$GITHUB_PATH"\n',
            "github-env",
            None,
        ),
    ],
)
def test_zizmor_finds_what_a_bad_copy_brings_back(
    tmp_path: Path, file: str, old: str, new: str, ident: str, feature: str | None
) -> None:
    code, findings = zizmor(_bad_copy(tmp_path, file, old, new))
    assert code in (11, 12, 13, 14), code  # zizmor's exit codes for findings
    assert {f["ident"] for f in findings} == {ident}, findings
    assert {primary(f)[0] for f in findings} == {f".github/{file}"}
    if feature is not None:
        assert [primary(f)[1] for f in findings] == [feature]
