"""Access lists of workspace objects (folders, experiments): one shape, used by each."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi_databricks as databricks


def readers_and_runner(
    runner: str | None, runner_level: str, *groups: str
) -> list[databricks.PermissionsAccessControlArgs]:
    """CAN_READ for each group and ``runner_level`` for the runner (none in dev, where the
    deploying user owns the object already)."""
    return readers_and_runners([runner] if runner else [], runner_level, *groups)


def readers_and_runners(
    runners: Sequence[str], runner_level: str, *groups: str
) -> list[databricks.PermissionsAccessControlArgs]:
    """CAN_READ for each group and ``runner_level`` for each runner (the projects' runners
    of something they share, such as the stack's folder)."""
    access = [
        databricks.PermissionsAccessControlArgs(
            service_principal_name=runner, permission_level=runner_level
        )
        for runner in runners
    ]
    access += [
        databricks.PermissionsAccessControlArgs(group_name=group, permission_level="CAN_READ")
        for group in groups
    ]
    return access
