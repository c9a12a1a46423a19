"""What a JSON value must be for each field of the contract, before anything converts it:
a number for a number (not ``true``, not ``"58"``), ``true``/``false`` for a flag, text for
a choice or a name, ``null`` for unknown, and text valid Unicode (no lone surrogate). The
API's ``Patient`` and the patient lists of ``/predict`` and ``/triage`` check the same rules,
so a value one endpoint refuses no other turns into a clinical number."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import orjson

from model.contract.columns import COLUMNS
from model.contract.specs import ColumnSpec

SPECS = {spec.name: spec for spec in COLUMNS}
SHOWN_CHARS = 200


def json_type_problem(spec: ColumnSpec, value: Any) -> str | None:
    """Why ``value`` (as parsed from JSON) cannot be ``spec``'s field, or None."""
    if value is None:
        return None
    if spec.kind in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a JSON number, not {_kind(value)}"
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            return "is too large to be a number"
        return None if finite else "must be a finite number"
    if spec.kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, not {_kind(value)}"
    if not isinstance(value, str):
        if spec.kind == "choice":
            return f"must be one of {', '.join(spec.choices)}, not {_kind(value)}"
        return f"must be text, not {_kind(value)}"
    if not is_unicode(value):
        return "is not valid Unicode text (it holds a lone surrogate)"
    return None


# the JSON types a field's value plainly has (checked by ``type(value) is``): a finite
# float or an int of float range for a number, a bool for a flag, ASCII text for text.
# Anything else goes through ``json_type_problem``; this only saves a 10,000-row list the
# general checks' cost (measured: 0.35 s of /predict's 10,000 rows, 370,000 calls)
_PLAIN = {
    spec.name: float if spec.kind in ("float", "int") else bool if spec.kind == "bool" else str
    for spec in COLUMNS
}
_FLOAT_RANGE = 2.0**1023


def _plainly_fine(kind: type, value: Any) -> bool:
    if value is None:
        return True
    if kind is float:
        if type(value) is float:
            return math.isfinite(value)
        return type(value) is int and -_FLOAT_RANGE < value < _FLOAT_RANGE
    if kind is str:
        return type(value) is str and value.isascii()
    return type(value) is kind


def screen_rows(rows: list[Mapping]) -> tuple[list[dict], dict[int, list[tuple[str, Any, str]]]]:
    """Rows of a patient list with every ill-typed field set to unknown, and what was wrong,
    by row number (1 = the first patient): (field, the value as it may be shown, rule).
    A row with a problem is refused whole; the blanking only lets the rest be read."""
    clean, problems = [], {}
    for number, row in enumerate(rows, start=1):
        kept = dict(row)
        for name, value in row.items():
            spec = SPECS.get(name)
            if spec is None or _plainly_fine(_PLAIN[name], value):
                continue
            rule = json_type_problem(spec, value)
            if rule is not None:
                problems.setdefault(number, []).append((name, shown(value), rule))
                kept[name] = None
        for name in _unwritable(kept):  # the audit log keeps each input as canonical JSON
            problems.setdefault(number, []).append((shown(name), None, UNWRITABLE))
            kept.pop(name)
        clean.append(kept)
    return clean, problems


UNWRITABLE = "cannot be kept as JSON (a lone surrogate in a name or text, or nested too deep)"


def _unwritable(row: dict) -> list[str]:
    """The keys of ``row`` whose name or value cannot be written as canonical JSON."""
    try:
        orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str)
        return []
    except (TypeError, orjson.JSONEncodeError):
        pass
    bad = []
    for name, value in row.items():
        try:
            orjson.dumps({name: value}, option=orjson.OPT_SORT_KEYS, default=str)
        except (TypeError, orjson.JSONEncodeError):
            bad.append(name)
    return bad


def is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(value: Any) -> Any:
    """``value`` as an error may echo it: JSON-safe, valid Unicode, at most a few hundred
    characters."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else str(value)[:40] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict)):
        try:  # nested a thousand deep, it is no longer worth showing
            text = json.dumps(value, default=str)
        except (RecursionError, ValueError):
            text = "[…]" if isinstance(value, list) else "{…}"
    else:
        text = value if isinstance(value, str) else str(type(value).__name__)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
