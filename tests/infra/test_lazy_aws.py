"""The AWS provider's SDK is imported only for a stack whose storage is enabled.

Why it matters: pulumi_aws registers its submodules lazily in ``sys.modules``, and skops
(which saves the models) looks objects up in every loaded module when it is imported, which
loads every one of those submodules (infra/program.py, ``lakehouse_storage``). The demo
builds the dev stack's jobs and trains models in one process. (A stack with storage builds
its AWS resources: tests/infra/test_lakehouse_storage.py.)
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from infra.settings import stack_file
from mlops.render import render_stack
from infra.program import CodePackage
render_stack(stack_file("dev"), CodePackage("0123456789ab", "x.whl"))
print("pulumi_aws" in sys.modules)
"""


def test_rendering_a_stack_without_storage_does_not_import_the_aws_sdk() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
