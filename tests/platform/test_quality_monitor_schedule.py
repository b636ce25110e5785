"""What the Databricks platform allows a quality monitor's schedule, checked on every
stack's render (docs/platform.md, "Quality monitor schedules").

A monitor's schedule cannot be paused. The Databricks Terraform provider, which
pulumi-databricks wraps, makes ``schedule.pause_status`` read-only and blanks it on every
update: ``catalog/resource_quality_monitor.go`` (commit 0d943ead9, "Make the
schedule.pause_status field read-only (#3692)") and the Plugin Framework's
``internal/providers/pluginfw/products/qualitymonitor/resource_quality_monitor.go``. In
databricks/cli PR #1481 ("Pause quality monitors when mode: development is used") Databricks
said pausing monitor schedules is not supported and that the way to stop one is to remove
its schedule, which is what that PR ended up doing. So a monitor that must not refresh by
itself (dev, where every schedule is paused) is a monitor without a ``schedule`` block.
"""

from __future__ import annotations

import pytest

from mlops.render import Render
from tests.infra.conftest import STACKS

MONITOR = "databricks:index/qualityMonitor:QualityMonitor"


def monitors(render: Render) -> list[dict]:
    found = [resource.inputs for resource in render.of_type(MONITOR)]
    assert found, f"no quality monitor in {render.settings.stack}"
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_no_monitor_sends_a_pause_status(renders: dict[str, Render], stack: str) -> None:
    """Rule (a): no rendered quality monitor sends ``schedule.pauseStatus``, in any stack.

    The provider marks ``schedule.pause_status`` read-only and sets it to "" on update
    (terraform-provider-databricks ``catalog/resource_quality_monitor.go``, #3692; the same
    in ``internal/providers/pluginfw/products/qualitymonitor/resource_quality_monitor.go``):
    a value sent would not be the monitor's state.
    """
    for inputs in monitors(renders[stack]):
        schedule = inputs.get("schedule") or {}
        assert "pauseStatus" not in schedule, inputs["tableName"]


def test_dev_monitors_have_no_schedule_and_staging_and_prod_their_cron(
    renders: dict[str, Render],
) -> None:
    """Rule (b): the dev stack's monitors have no schedule; staging's and prod's have the
    ``monitoring.refreshSchedule`` of their project's block, if it sets one.

    Dev's schedules are paused, and a monitor's cannot be: removing the schedule is the
    only way (databricks/cli PR #1481, "Pause quality monitors when mode: development is
    used"; read-only ``schedule.pause_status`` in terraform-provider-databricks
    ``catalog/resource_quality_monitor.go`` and
    ``internal/providers/pluginfw/products/qualitymonitor/resource_quality_monitor.go``).
    """
    dev = renders["dev"]
    assert dev.settings.schedules_paused
    fare = dev.settings.project("fare")
    assert fare.monitoring.refresh_schedule is not None  # set, yet not sent
    for inputs in monitors(dev):
        assert "schedule" not in inputs, inputs["tableName"]
    for stack in ("staging", "prod"):
        render = renders[stack]
        assert not render.settings.schedules_paused
        by_table = {inputs["tableName"]: inputs for inputs in monitors(render)}
        assert set(by_table) == {p.predictions for p in render.settings.projects}
        for project in render.settings.projects:
            refresh = project.monitoring.refresh_schedule
            inputs = by_table[project.predictions]
            if refresh is None:
                # No refreshSchedule (churn): the retraining job alone refreshes it.
                assert "schedule" not in inputs, stack
                continue
            assert inputs["schedule"] == {
                "quartzCronExpression": refresh.cron,
                "timezoneId": refresh.timezone,
            }, stack
