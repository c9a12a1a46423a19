"""CDS Hooks feedback (``POST /cds-services/{id}/feedback``): what the clinician did with a
card, checked before it goes into the audit log beside the answer the card showed.

Only the fields the specification defines are stored (``card``, ``outcome``,
``outcomeTimestamp``, ``overrideReason``, ``acceptedSuggestions``), each bounded; anything
else a client adds is left out. Feedback on a card no worker or replica answered (its uuid
is the answer's request id in the audit log) is refused (``serving.cds_hooks``).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import orjson

from serving.cds_prefetch import HookProblem

OUTCOMES = ("accepted", "overridden")
MAX_ITEMS = 100
MAX_COMMENT_CHARS = 1000
MAX_CODING_CHARS = {"system": 500, "code": 200, "display": 500}
MAX_ID_CHARS = 200
# a full date-time with its offset (the specification: an instant in UTC)
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)")


def feedback_items(body: bytes) -> list[dict]:
    """``{"feedback": [...]}``'s items, each checked and reduced to its known fields:
    ``card`` (the card's uuid), ``outcome`` (accepted / overridden), ``outcomeTimestamp``
    (ISO 8601 date-time), for an override its optional ``overrideReason`` (``reason``
    Coding, ``userComment``), for an acceptance its ``acceptedSuggestions`` ids."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HookProblem(400, "structure", "the body is not JSON") from None
    items = document.get("feedback") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise HookProblem(400, "required", "feedback must be a non-empty array", ["feedback"])
    if len(items) > MAX_ITEMS:
        raise HookProblem(400, "too-long", f"at most {MAX_ITEMS} feedback items a call")
    return [_checked(item, f"feedback[{i}]") for i, item in enumerate(items)]


def _checked(item: object, where: str) -> dict:
    if not isinstance(item, dict):
        raise HookProblem(400, "structure", f"{where} must be an object", [where])
    card = item.get("card")
    try:
        card = str(uuid.UUID(card if isinstance(card, str) else ""))
    except ValueError:
        _refuse("value", f"{where}.card", card, "must be a card's uuid")
    outcome = item.get("outcome")
    if outcome not in OUTCOMES:
        _refuse("code-invalid", f"{where}.outcome", outcome, "must be accepted or overridden")
    checked = {"card": card, "outcome": outcome, "outcomeTimestamp": _timestamp(item, where)}
    if item.get("overrideReason") is not None:
        if outcome != "overridden":
            _refuse("invariant", f"{where}.overrideReason", "…", "only with outcome overridden")
        checked["overrideReason"] = _override_reason(item["overrideReason"], where)
    if item.get("acceptedSuggestions") is not None:
        checked["acceptedSuggestions"] = _suggestions(item["acceptedSuggestions"], where)
    return checked


def _timestamp(item: dict, where: str) -> str:
    stamp = item.get("outcomeTimestamp")
    if isinstance(stamp, str) and DATE_TIME.fullmatch(stamp):
        try:
            datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            return stamp
        except ValueError:
            pass
    return _refuse(
        "value",
        f"{where}.outcomeTimestamp",
        stamp,
        "must be an ISO 8601 date-time with its offset (2026-01-02T10:05:31Z)",
    )


def _override_reason(reason: object, where: str) -> dict:
    at = f"{where}.overrideReason"
    if not isinstance(reason, dict):
        _refuse("structure", at, reason, "must be {reason: Coding, userComment: text}")
    checked = {}
    if reason.get("reason") is not None:
        coding = reason["reason"]
        if not isinstance(coding, dict):
            _refuse("structure", f"{at}.reason", coding, "must be a Coding")
        checked["reason"] = {
            key: _text(coding[key], f"{at}.reason.{key}", limit)
            for key, limit in MAX_CODING_CHARS.items()
            if coding.get(key) is not None
        }
    if reason.get("userComment") is not None:
        comment = reason["userComment"]
        checked["userComment"] = _text(comment, f"{at}.userComment", MAX_COMMENT_CHARS)
    return checked


def _suggestions(suggestions: object, where: str) -> list[dict]:
    at = f"{where}.acceptedSuggestions"
    if not isinstance(suggestions, list) or len(suggestions) > MAX_ITEMS:
        _refuse("structure", at, "…", f"must be an array of at most {MAX_ITEMS} {{id}}")
    ids = []
    for i, suggestion in enumerate(suggestions):
        if not isinstance(suggestion, dict):
            _refuse("structure", f"{at}[{i}]", suggestion, "must be {id: text}")
        ids.append({"id": _text(suggestion.get("id"), f"{at}[{i}].id", MAX_ID_CHARS)})
    return ids


def _text(value: object, at: str, limit: int) -> str:
    if not isinstance(value, str) or len(value) > limit:
        _refuse("value", at, value, f"must be text of at most {limit} characters")
    return value


def _refuse(code: str, at: str, value: object, rule: str):
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise HookProblem(400, code, f"{at} {shown}: {rule}", [at])
