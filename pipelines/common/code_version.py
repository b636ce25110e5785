"""The version of the pipeline code: a content hash, so any edit gives a new version."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@cache
def code_version(root: Path = PACKAGE_ROOT) -> str:
    """SHA-256 (first 12 hex digits) over the relative paths and bytes of every ``.py`` file.

    The same function is what the infra side uses to pin the uploaded code, so a model
    version's ``code_version`` tag names the exact code a job ran.
    """
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]
