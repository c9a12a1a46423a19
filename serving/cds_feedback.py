"""CDS Hooks feedback (``POST /cds-services/{id}/feedback``): what the clinician did with a
card, checked before it goes into the audit log beside the answer the card showed."""

from __future__ import annotations

import uuid
from datetime import datetime

import orjson

from serving.cds_prefetch import HookProblem

OUTCOMES = ("accepted", "overridden")
MAX_ITEMS = 100
MAX_COMMENT_CHARS = 2000


def feedback_items(body: bytes) -> list[dict]:
    """``{"feedback": [...]}``'s items, each checked: ``card`` (the card's uuid),
    ``outcome`` (accepted / overridden), ``outcomeTimestamp`` (ISO 8601), and for an
    override its optional ``overrideReason`` (``reason`` Coding, ``userComment``)."""
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
    try:
        uuid.UUID(str(item.get("card")))
    except ValueError:
        raise HookProblem(400, "value", f"{where}.card must be a card's uuid", [where]) from None
    if item.get("outcome") not in OUTCOMES:
        raise HookProblem(400, "code-invalid", f"{where}.outcome must be accepted or overridden")
    try:
        datetime.fromisoformat(str(item.get("outcomeTimestamp")).replace("Z", "+00:00"))
    except ValueError:
        raise HookProblem(
            400, "value", f"{where}.outcomeTimestamp must be an ISO 8601 date-time", [where]
        ) from None
    reason = item.get("overrideReason")
    if reason is not None and (
        not isinstance(reason, dict)
        or not isinstance(reason.get("reason", {}), dict)
        or len(str(reason.get("userComment", ""))) > MAX_COMMENT_CHARS
    ):
        raise HookProblem(
            400,
            "structure",
            f"{where}.overrideReason must be {{reason: Coding, userComment: text up to "
            f"{MAX_COMMENT_CHARS} characters}}",
        )
    return item
