"""Platform facts are checked on the same renders as tests/infra: every stack rendered
once under Pulumi's mock engine."""

from tests.infra.conftest import _quiet_deprecations, renders  # noqa: F401
