"""The prefetch refused with 400 naming the field when it is malformed (never a 500), and
every patient-scoped resource tied to ``context.patientId`` (another patient's data, or a
resource that names no patient, never enters this patient's answer)."""

from __future__ import annotations

import pytest

from serving.cds_prefetch import HookProblem, prefetched_resources
from tests.unit.test_cds_cards import call, searchset

CONDITION = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}


def with_bundle(**fields) -> dict:
    return call(conditions={**searchset(CONDITION), **fields})


def with_subject(subject) -> dict:
    condition = {key: value for key, value in CONDITION.items() if key != "subject"}
    if subject is not ...:
        condition["subject"] = subject
    return call(conditions=searchset(condition))


@pytest.mark.parametrize(
    ("prefetch_call", "field"),
    [
        (with_bundle(link=["x"]), "prefetch.conditions.link[0]"),
        (with_bundle(link=5), "prefetch.conditions.link"),
        (with_bundle(entry=["x"]), "prefetch.conditions.entry[0]"),
        (with_bundle(entry=5), "prefetch.conditions.entry"),
        (with_bundle(entry="abc"), "prefetch.conditions.entry"),
        (with_bundle(entry=[{"resource": "x"}]), "prefetch.conditions.entry[0].resource"),
        (with_bundle(entry=[{"resource": {"resourceType": 5}}]), "entry[0].resource"),
        (call(procedures=[1]), "prefetch.procedures"),
        (call(procedures="x"), "prefetch.procedures"),
        (with_subject("Patient/p1"), "Condition/c1: subject"),
        (with_subject([1]), "Condition/c1: subject"),
    ],
)
def test_malformed_prefetch_is_400_naming_the_field(prefetch_call, field):
    with pytest.raises(HookProblem) as refused:
        prefetched_resources(prefetch_call)
    assert refused.value.status == 400
    assert field in refused.value.outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": "urn:uuid:0b5d4a2e-0000-0000-0000-000000000000"},
        {"identifier": {"value": "OTHER"}},
        {"reference": 5},
        {"reference": "patient/other"},
        {"reference": "https://other.example/fhir/Patient/p2"},
        ...,
    ],
    ids=["urn", "identifier-only", "reference-int", "lowercase", "absolute-other", "none"],
)
def test_a_resource_not_tied_to_this_patient_is_refused(subject):
    with pytest.raises(HookProblem, match="Condition/c1 is .*not Patient/p1") as refused:
        prefetched_resources(with_subject(subject))
    assert refused.value.status == 400


@pytest.mark.parametrize(
    "reference",
    ["Patient/p1", "https://ehr.example.org/fhir/Patient/p1", "Patient/p1/_history/2"],
)
def test_this_patient_relative_absolute_or_versioned_is_kept(reference):
    kept = prefetched_resources(with_subject({"reference": reference}))
    assert [r["resourceType"] for r in kept] == ["Patient", "Condition", "Observation"]


def test_a_medication_needs_no_subject():
    medication = {"resourceType": "Medication", "id": "m1"}
    kept = prefetched_resources(call(medications=searchset(medication)))
    assert "Medication" in [r["resourceType"] for r in kept]
