"""Hostile resources (from the attacker's review of the FHIR input): each becomes an
invalid resource or an unknown value, named, never an exception (which the service would
answer with a 500)."""

from __future__ import annotations

import pytest

from tests.unit.fhir_builders import mapped, obs, qty

ECOG = "89247-1"


def nested(levels: int) -> dict:
    extension: dict = {"url": "http://example.org/x", "valueString": "end"}
    for _ in range(levels):
        extension = {"url": "http://example.org/x", "extension": [extension]}
    return extension


@pytest.mark.parametrize("kind", [["Observation"], {"a": 1}, 5, None])
def test_a_resource_type_that_is_not_text_is_named_invalid(kind):
    hostile = {"resourceType": kind, "id": "h1", "subject": {"reference": "Patient/p1"}}
    row = mapped(hostile)
    assert row.invalid and "h1" in str(row.invalid)


@pytest.mark.parametrize("value", [1e300, -1e300, 2.5, 7e5])
def test_a_score_no_score_can_be_is_unknown(value):
    row = mapped(obs(ECOG, valueQuantity=qty(value, "{score}")))
    assert row.values.get("ecog") is None
    assert "ecog" in row.unknown


def test_a_resource_nested_past_any_record_is_invalid_not_a_recursion_error():
    row = mapped(obs(ECOG, valueInteger=1, extension=[nested(200)]))
    assert any("nested deeper" in item["error"] for item in row.invalid), row.invalid
    assert "ecog" in row.unknown  # what the invalid resource bore on is unknown


def test_an_ordinary_extension_still_validates():
    row = mapped(obs(ECOG, valueInteger=1, extension=[nested(3)]))
    assert row.values["ecog"] == 1 and not row.invalid
