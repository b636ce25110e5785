"""One process at a time on a local store (``MLOPS_HOME``).

The local store holds a Derby metastore, which admits one JVM at a time, and a sqlite
MLflow store: a second process on the same store used to print thousands of lines of
Derby errors and then go on against a half-shared state. Before Spark or MLflow starts, a
process takes an exclusive ``flock`` on ``<MLOPS_HOME>/.mlops.lock``. The kernel releases
an flock when its holder exits, however it exits, so a lock left by a killed process is
free again, and the next process takes it over; what the file says of its holder (pid,
command, since when) is only read to name the holder in the refusal.

Why not a library: ``fcntl.flock`` is the whole mechanism, and the lock libraries on PyPI
(filelock, portalocker) wrap the same call without naming the holder.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from pipelines.common.errors import StoreInUse

LOCK_NAME = ".mlops.lock"


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    since: str

    @classmethod
    def read(cls, text: str) -> Holder | None:
        try:
            fields = json.loads(text)
            return cls(int(fields["pid"]), str(fields["command"]), str(fields["since"]))
        except (ValueError, KeyError, TypeError):
            return None


# The locks this process holds, by store: a process takes each once and keeps it until it
# exits (a second flock on a new descriptor of the same file would refuse this process).
_held: dict[Path, IO[str]] = {}


def claim_store(home: Path) -> Path:
    """Take the store at ``home`` for this process, or raise ``StoreInUse`` naming the
    process that has it. Idempotent within a process. Returns the lock file's path."""
    home = home.resolve()
    path = home / LOCK_NAME
    if home in _held:
        return path
    home.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = Holder.read(handle.read())
        handle.close()
        raise StoreInUse(_refusal(home, holder)) from None
    handle.seek(0)
    handle.truncate()
    since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
    handle.write(json.dumps({"pid": os.getpid(), "command": command, "since": since}))
    handle.flush()
    _held[home] = handle
    return path


def _refusal(home: Path, holder: Holder | None) -> str:
    who = (
        f"process {holder.pid} ({holder.command}), running since {holder.since},"
        if holder
        else "another process"
    )
    return (
        f"The local store {home} is in use by {who} and holds one process at a time (its"
        " Spark metastore admits a single JVM). Wait for that run to end, or give this one"
        f" a store of its own: MLOPS_HOME=/path/to/another/home. Nothing was written."
    )
