"""Feedback reduced to the fields the specification defines, each bounded; a full
date-time; an override reason only on an override; whether this process answered the card."""

from __future__ import annotations

import uuid

import orjson
import pytest

from serving.cds_feedback import feedback_items
from serving.cds_prefetch import HookProblem

STAMP = "2026-01-02T10:05:31Z"


def item(**changes) -> dict:
    return {"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": STAMP, **changes}


def checked(one: dict) -> dict:
    (stored,) = feedback_items(orjson.dumps({"feedback": [one]}))
    return stored


def refused(one: dict) -> str:
    with pytest.raises(HookProblem) as refusal:
        feedback_items(orjson.dumps({"feedback": [one]}))
    assert refusal.value.status == 400
    return refusal.value.outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize("stamp", [20240101, "2024-01-01", "2024-01-01T10:00:00", ["x"], None])
def test_outcome_timestamp_must_be_a_full_date_time(stamp):
    assert "feedback[0].outcomeTimestamp" in refused(item(outcomeTimestamp=stamp))


@pytest.mark.parametrize("stamp", [STAMP, "2026-01-02T10:05:31.123+01:00", "2026-01-02T10:05Z"])
def test_full_date_times_are_taken(stamp):
    assert checked(item(outcomeTimestamp=stamp))["outcomeTimestamp"] == stamp


def test_an_override_reason_only_on_an_override():
    reason = {"reason": {"code": "x"}, "userComment": "hi"}
    assert "only with outcome overridden" in refused(item(overrideReason=reason))
    assert checked(item(outcome="overridden", overrideReason=reason))["overrideReason"] == reason


@pytest.mark.parametrize(
    ("reason", "field"),
    [
        ({"userComment": "x" * 1001}, "userComment"),
        ({"userComment": ["x"] * 1000}, "userComment"),
        ({"reason": {"code": "x" * 500_000}}, "reason.code"),
        ({"reason": {"display": 5}}, "reason.display"),
        ({"reason": "because"}, "reason"),
    ],
)
def test_oversize_or_mistyped_override_reasons_are_refused(reason, field):
    diagnostics = refused(item(outcome="overridden", overrideReason=reason))
    assert f"feedback[0].overrideReason.{field}" in diagnostics and len(diagnostics) < 300


def test_only_known_fields_are_stored():
    one = item(extra="y" * 900_000, acceptedSuggestions=[{"id": "s1", "more": "z"}])
    one["overrideReason"] = None
    stored = checked(one)
    assert set(stored) == {
        "card",
        "outcome",
        "outcomeTimestamp",
        "acceptedSuggestions",
    }
    assert stored["acceptedSuggestions"] == [{"id": "s1"}]
    assert "acceptedSuggestions[0].id" in refused(item(acceptedSuggestions=[{"id": "x" * 201}]))
    assert "acceptedSuggestions" in refused(item(acceptedSuggestions="s1"))


@pytest.mark.parametrize("card", [123, [1], "not-a-uuid", None])
def test_a_card_must_be_a_uuid(card):
    assert "feedback[0].card" in refused(item(card=card))
