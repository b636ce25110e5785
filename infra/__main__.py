"""The Pulumi program of mlops-stack (`pulumi preview` / `pulumi up -s <stack>`).

The CLI runs it with ``infra/`` (Pulumi.yaml's ``main``) as working directory, and starts
the providers there too; see ``infra.wheel``.
"""

import gc
from pathlib import Path

from infra.program import CodePackage, deploy
from infra.settings import InvalidStackConfig, settings_from_pulumi
from infra.wheel import build_wheel, program_dir, wheel_source
from pipelines.common.code_version import code_version

# No cyclic garbage collection while the program runs: it doubles the evaluation of a
# stack of many projects (see infra.program.cyclic_gc_paused). For the whole
# process, as the SDK goes on registering resources after this module has returned.
gc.disable()

settings = settings_from_pulumi()
if settings.placeholders():
    raise InvalidStackConfig(
        f"{settings.source} still has placeholder values for"
        f" {', '.join(settings.placeholders())}: expected your workspace URL, your service"
        " principals' application ids and, in staging and prod, your SQL warehouse id (see"
        " the README, 'Fill in your workspace'). `mlops plan --stack <name>` renders a stack"
        " offline without them."
    )
version = code_version()
build_wheel(version)
source = wheel_source(version)
if not (Path.cwd() / source).is_file():
    raise InvalidStackConfig(
        f"the wheel {source} cannot be found from {Path.cwd()}, where the Databricks provider"
        f" would open it: expected Pulumi to run the program in {program_dir()} (Pulumi.yaml's"
        " main), as the Pulumi CLI does."
    )
deploy(settings, CodePackage(version=version, wheel_file=source))
