"""The orchestrators' tests share the infra fixtures: every stack rendered once under
Pulumi's mock engine."""

from tests.infra.conftest import _quiet_deprecations, registered, renders  # noqa: F401
