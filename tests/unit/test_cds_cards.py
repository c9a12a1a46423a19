"""CDS Hooks pieces that need no server: the cards of an answer (shape, summary length,
indicator, the numbers exactly as answered), the prefetch rules (412 for a missing or
incomplete key) and the feedback checks."""

from __future__ import annotations

import copy
import re

import orjson
import pytest

from model.recommend.answer import SCOPE
from serving.cds_cards import (
    ANSWER_EXTENSION,
    incomplete_record_card,
    recommendation_card,
    source_of,
)
from serving.cds_feedback import feedback_items
from serving.cds_hooks import CdsCors, discovery_document
from serving.cds_prefetch import PREFETCH, HookProblem, hook_request, prefetched_resources
from tests.cds_hooks_schema import check_discovery, check_response

CARD_UUID = "0b6f1f6e-4c1e-4a8e-9a57-3d1c2b9f1e01"
SOURCE = {"label": "IL2Select il2select v3", "url": "http://127.0.0.1:3000/model/card"}


def estimate(value, lo=None, hi=None):
    return {"value": value, "lo": lo, "hi": hi}


def outlook(p, il2: bool):
    return {
        "p_response": estimate(p, round(p - 0.05, 4), round(p + 0.05, 4)),
        "p_complete_response": estimate(round(p / 4, 4), round(p / 5, 4), round(p / 3, 4)),
        "p_cure": estimate(0.0712, 0.0301, 0.1204) if il2 else None,
        "p_severe_cardiac_toxicity": estimate(0.0213, 0.0101, 0.0402) if il2 else None,
        "os_at_months": {"12": estimate(0.8)},
        "pfs_at_months": {"12": estimate(0.5)},
        "median_os_months": {"value": 31.25, "reached": True, "lo": 25.5, "hi": None},
        "median_pfs_months": {"value": None, "reached": False, "lo": None, "hi": None},
    }


def answer(**changes) -> dict:
    base = {
        "patient_id": "MAN-001",
        "recommendation": "il2_first",
        "reasons": ["favourable histology and risk: IL-2's durable responses"],
        "il2": outlook(0.2345, True),
        "tki": outlook(0.3117, False),
        "eligibility": {
            "il2_eligible": True,
            "contraindications": [],
            "contraindications_unknown": [],
            "cautions": [],
        },
        "provisional": False,
        "workup": [],
        "warnings": [],
        "deviation_reason": None,
        "scope": SCOPE,
        "provenance": {"model_name": "il2select", "model_version": "3"},
    }
    return {**copy.deepcopy(base), **changes}


def card_of(value: dict, unknown: dict | None = None) -> dict:
    return recommendation_card(value, unknown or {}, CARD_UUID, SOURCE, [])


def test_a_card_has_the_cds_hooks_shape():
    card = recommendation_card(
        answer(),
        {"karnofsky": "no Observation 89243-0"},
        CARD_UUID,
        SOURCE,
        [{"label": "Model card", "url": SOURCE["url"], "type": "absolute"}],
    )
    check_response({"cards": [card]})
    assert card["indicator"] == "info" and card["extension"][ANSWER_EXTENSION] == answer()
    assert "`karnofsky`: no Observation 89243-0" in card["detail"] and SCOPE in card["detail"]


@pytest.mark.parametrize(
    "changes",
    [
        {"provisional": True, "workup": ["stress echocardiography"]},
        {"eligibility": {**answer()["eligibility"], "contraindications": ["ecog_above_1"]}},
        {"eligibility": {**answer()["eligibility"], "il2_eligible": None}},
    ],
    ids=["provisional", "contraindication", "eligibility-unknown"],
)
def test_warning_for_a_contraindication_a_provisional_answer_or_unknown_eligibility(changes):
    card = card_of(answer(**changes))
    assert card["indicator"] == "warning"
    assert len(card["summary"]) < 140


def test_the_numbers_shown_are_the_answers():
    value = answer()
    detail = card_of(value)["detail"]
    row = next(line for line in detail.splitlines() if line.startswith("| P(response)"))
    numbers = [float(x) for x in re.findall(r"\d+\.\d+", row)]
    il2, tki = value["il2"]["p_response"], value["tki"]["p_response"]
    assert numbers == [il2["value"], il2["lo"], il2["hi"], tki["value"], tki["lo"], tki["hi"]]
    assert "| Median PFS, months | not reached | not reached |" in detail
    assert "31.25 (25.50–not reached)" in detail


def test_a_long_summary_is_cut_below_140_characters():
    card = card_of(answer(recommendation="il2_after_wait", provisional=True))
    assert len(card["summary"]) <= 139


def test_the_incomplete_record_card_says_what_would_settle_it():
    card = incomplete_record_card(
        [("ecog", "is required")],
        {"ecog": "no ECOG Observation (LOINC 89247-1)"},
        CARD_UUID,
        SOURCE,
    )
    check_response({"cards": [card]})
    assert card["indicator"] == "warning" and "LOINC 89247-1" in card["detail"]


def test_the_source_names_the_version():
    assert source_of({"model_name": "il2select", "model_version": "7"}, SOURCE["url"]) == {
        "label": "IL2Select il2select v7",
        "url": SOURCE["url"],
    }


def test_discovery_has_the_shape_and_every_prefetch_key():
    document = discovery_document()
    check_discovery(document)
    (service,) = document["services"]
    assert service["hook"] == "patient-view" and service["prefetch"] == PREFETCH


# --- prefetch -----------------------------------------------------------------------------


def searchset(*resources, next_page=False) -> dict:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    bundle["entry"] = [{"resource": r} for r in resources]
    if next_page:
        bundle["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir/p2"}]
    return bundle


def call(**prefetch) -> dict:
    full = {
        "patient": {"resourceType": "Patient", "id": "p1"},
        "conditions": searchset(),
        "observations": searchset(
            {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}}
        ),
        "procedures": None,
        "medications": searchset(),
    }
    full.update(prefetch)
    return {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"patientId": "p1", "userId": "Practitioner/x"},
        "prefetch": {k: v for k, v in full.items() if v != "absent"},
    }


def test_prefetch_resources_are_unpacked_and_null_means_none():
    resources = prefetched_resources(call())
    assert [r["resourceType"] for r in resources] == ["Patient", "Observation"]


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({"observations": "absent"}, 412, "observations missing"),
        ({"patient": None}, 412, "no Patient"),
        ({"conditions": {"resourceType": "OperationOutcome"}}, 412, "could not fetch"),
        ({"conditions": searchset(next_page=True)}, 412, "paginated"),
        (
            {
                "conditions": searchset(
                    {"resourceType": "Condition", "subject": {"reference": "Patient/p2"}}
                )
            },
            400,
            "not Patient/p1",
        ),
    ],
    ids=["missing-key", "no-patient", "operation-outcome", "paginated", "another-patient"],
)
def test_prefetch_refusals(changes, status, words):
    with pytest.raises(HookProblem, match=words) as refused:
        prefetched_resources(call(**changes))
    assert refused.value.status == status
    assert refused.value.outcome["resourceType"] == "OperationOutcome"


def test_no_prefetch_at_all_is_412():
    with pytest.raises(HookProblem) as refused:
        prefetched_resources({**call(), "prefetch": {}})
    assert refused.value.status == 412
    assert refused.value.outcome["issue"][0]["expression"] == [f"prefetch.{k}" for k in PREFETCH]


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"hook": "order-sign"}', b'{"hook": "patient-view", "hookInstance": "x"}'],
)
def test_a_hook_request_must_be_patient_view_with_its_patient(body):
    with pytest.raises(HookProblem) as refused:
        hook_request(body)
    assert refused.value.status == 400


# --- feedback -----------------------------------------------------------------------------


def test_feedback_is_checked():
    item = {"card": CARD_UUID, "outcome": "overridden", "outcomeTimestamp": "2026-01-02T10:05:31Z"}
    reason = {"reason": {"code": "patient-preference"}, "userComment": "prefers oral"}
    assert feedback_items(orjson.dumps({"feedback": [{**item, "overrideReason": reason}]}))
    for bad in (
        {**item, "card": "not-a-uuid"},
        {**item, "outcome": "ignored"},
        {**item, "outcomeTimestamp": "yesterday"},
        {**item, "overrideReason": "because"},
    ):
        with pytest.raises(HookProblem):
            feedback_items(orjson.dumps({"feedback": [bad]}))
    with pytest.raises(HookProblem):
        feedback_items(b'{"feedback": []}')


def test_cors_only_on_the_cds_routes():
    cors = CdsCors(app=None, origins=["https://sandbox.cds-hooks.org"])
    assert cors.cors.allow_origins == ["https://sandbox.cds-hooks.org"]
    assert "authorization" in cors.cors.allow_headers


def test_every_rule_a_card_can_name_has_words_for_a_clinician():
    from model.rules.eligibility import CAUTIONS, CONTRAINDICATIONS, RULE_TEXT

    assert set(RULE_TEXT) == set(CONTRAINDICATIONS) | set(CAUTIONS)
