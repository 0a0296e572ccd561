"""The ``trigger-schedule`` node type: its configuration checked, its run a no-op start."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from treadle_sdk import NodeType
from treadle_sdk.nodes import NodeConfigError, NodeResult, NodeRuntime, PreparedNode
from treadle_sdk.schemas import NodeTypeSchema

__all__ = ["PreparedSchedule", "ScheduleTriggerNode"]

_FREQUENCIES = frozenset({"hourly", "daily", "weekly", "monthly"})
_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/\-L#]+$")


def _check_cron(expression: str) -> None:
    if expression in _MACROS:
        return
    fields = expression.split()
    if len(fields) != 5:
        raise NodeConfigError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), not {len(fields)}: "
            f"{expression!r}",
            "cron_expression",
        )
    for index, field in enumerate(fields):
        if not _CRON_FIELD.match(field):
            raise NodeConfigError(f"cron field {index + 1} {field!r} has characters cron does not use",
                                  "cron_expression")


class PreparedSchedule(PreparedNode):
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def selectors(self) -> list[tuple[str, ...]]:
        return []

    def run(self, rt: NodeRuntime) -> NodeResult:
        return NodeResult({})


class ScheduleTriggerNode(NodeType):
    """Start node of scheduled workflows."""

    blocking = False
    schema = NodeTypeSchema(
        name="trigger-schedule",
        label="Schedule trigger",
        description="Starts the workflow on a schedule (cron or a visual daily/weekly/monthly setting).",
    )

    def prepare(self, node_id: str, config: dict[str, Any]) -> PreparedNode:
        mode = config.get("mode", "visual")
        if mode == "cron":
            expression = config.get("cron_expression")
            if not isinstance(expression, str) or not expression.strip():
                raise NodeConfigError("a cron schedule needs a cron_expression", "cron_expression")
            _check_cron(expression.strip())
        elif mode == "visual":
            frequency = config.get("frequency", "daily")
            if frequency not in _FREQUENCIES:
                raise NodeConfigError(f"frequency must be one of {sorted(_FREQUENCIES)}, not {frequency!r}",
                                      "frequency")
        else:
            raise NodeConfigError(f"mode must be 'visual' or 'cron', not {mode!r}", "mode")
        timezone = config.get("timezone") or (config.get("config") or {}).get("timezone") or "UTC"
        try:
            zoneinfo.ZoneInfo(str(timezone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # tzdata: a region name is a directory
            raise NodeConfigError(f"unknown timezone {timezone!r}", "timezone") from None
        return PreparedSchedule(config)
