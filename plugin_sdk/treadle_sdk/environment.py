"""Reading an installation's settings from environment variables, for the plugins that take their
limits from the operator (``TREADLE_HTTP_MAX_*``, ``TREADLE_API_TOOL_*`` ...).

A malformed value raises :class:`ValueError` naming the variable, so a misconfigured installation
fails when the plugin loads rather than on the first run that needs the setting.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["positive_number"]


def positive_number(environ: Mapping[str, str], name: str, default: float) -> float:
    """The positive number in the variable ``name``; ``default`` when it is unset or blank."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{name}: {raw!r} is not positive")
    return value
