"""Numbers, durations, errors and metric files as the short strings the report's cells show."""

from __future__ import annotations

import math
from typing import Any

from msfdiff.errors import MsfdiffError


def is_number(value: Any) -> bool:
    """An int or float, not a bool (JSON ``true`` is no measurement)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def short_numbers(value: Any) -> bool:
    """A list of 1..8 numbers: short enough for one table cell (longer curves are plotted)."""
    return isinstance(value, list) and 0 < len(value) <= 8 and all(map(is_number, value))


def number(value: Any) -> str:
    """Four significant digits; lists element-wise; None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return "[" + ", ".join(number(v) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def duration(seconds: Any) -> str:
    """``12.3 s``, ``1 min 15 s``, ``1 h 02 min``; empty when not a number."""
    if not is_number(seconds):
        return ""
    minutes, secs = divmod(float(seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02.0f} s" if minutes else f"{secs:.1f} s"


def one_line(exc: BaseException) -> str:
    """The first line of an error; its type too unless it is one of msfdiff's own messages."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, MsfdiffError) else text


def flatten_metrics(obj: Any, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows (name, value, better, definition) for every number in a nested metrics mapping.

    A dict holding ``value`` is one metric; its ``direction``/``better``, ``unit`` and
    ``definition`` fill the other columns and its other numeric fields (scalars or lists of
    up to 8 numbers) follow the value, ``0.01 (std 0.002)``. Other dicts are walked with
    dotted names; numbers and short lists of numbers become rows; longer arrays and text are
    left out.

    Examples
    --------
    >>> flatten_metrics({"fid": {"value": 12.5, "better": "lower", "definition": "fid"}, "n": 3})
    [('fid', '12.5', 'lower', 'fid'), ('n', '3', '', '')]
    """
    if isinstance(obj, dict) and "value" in obj:
        extras = {
            key: item
            for key, item in obj.items()
            if key not in ("value", "direction", "better", "definition", "unit")
            and (is_number(item) or short_numbers(item))
        }
        value = number(obj["value"]) + (f" {obj['unit']}" if obj.get("unit") else "")
        if extras:
            value += " (" + "; ".join(f"{k} {number(v)}" for k, v in extras.items()) + ")"
        better = str(obj.get("direction") or obj.get("better") or "")
        return [(prefix, value, better, str(obj.get("definition") or ""))]
    if isinstance(obj, dict):
        return [
            row
            for key, item in obj.items()
            for row in flatten_metrics(item, f"{prefix}.{key}" if prefix else str(key))
        ]
    if is_number(obj) or short_numbers(obj):
        return [(prefix, number(obj), "", "")]
    return []
