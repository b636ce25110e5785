"""The Pulumi program of mlops-stack (`pulumi preview` / `pulumi up -s <stack>`)."""

from infra.program import CodePackage, deploy
from infra.settings import InvalidStackConfig, settings_from_pulumi
from infra.wheel import build_wheel, planned_wheel
from pipelines.common.code_version import code_version

settings = settings_from_pulumi()
if settings.placeholders():
    raise InvalidStackConfig(
        f"{settings.source} still has placeholder values for"
        f" {', '.join(settings.placeholders())}: expected your workspace URL and your service"
        " principals' application ids (see the README, 'Fill in your workspace')."
        " `mlops plan --stack <name>` renders a stack offline without them."
    )
version = code_version()
build_wheel(version)
# The path relative to the project root, where Pulumi runs: the same plan on every machine.
deploy(settings, CodePackage(version=version, wheel_file=str(planned_wheel(version))))
