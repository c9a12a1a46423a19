"""FHIR → contract: what is absent, unmappable, contradictory, stale or invalid becomes
unknown — never normal — and is named with what would settle it; the latest value on or
before the reference date counts; the resources used are listed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from model.contract.errors import ContractError
from model.contract.fhir import patient_from_resources, patients_from_bundle
from model.contract.patient import Patient
from tests.unit.fhir_builders import (
    ATC,
    LOINC,
    PATIENT,
    REF,
    RXNORM,
    SNOMED,
    cc,
    days_ago,
    lab,
    mapped,
    med,
    metastasis,
    obs,
    proc,
    rcc,
)

LUNG = (SNOMED, "39607008")
BRAIN = (SNOMED, "12738006")


def test_nothing_recorded_is_unknown_and_says_what_would_settle_it():
    row = mapped()
    assert row.values["ldh_uln_ratio"] is None  # may be unknown: null
    assert "ecog" not in row.values  # may not be unknown: left out, validation names it
    assert "LOINC 2532-0" in row.unknown["ldh_uln_ratio"]
    assert "LOINC 89247-1" in row.unknown["ecog"]
    assert "nothing recorded" in row.unknown["met_lung"]
    with pytest.raises(ValidationError, match="ecog"):
        Patient(**row.values)


def test_a_missing_reference_range_is_unknown_never_normal():
    row = mapped(lab("2532-0", 900, "U/L"))
    assert row.values["ldh_uln_ratio"] is None
    assert "no referenceRange.high" in row.unknown["ldh_uln_ratio"]
    hb = mapped(lab("718-7", 9.0, "g/dL"))
    assert hb.values["hemoglobin_below_lln"] is None
    assert "no referenceRange.low" in hb.unknown["hemoglobin_below_lln"]


def test_latest_observation_on_or_before_the_reference_date_counts():
    row = mapped(
        obs("89247-1", day=days_ago(60), valueInteger=2),
        obs("89247-1", day=days_ago(0), valueInteger=1),  # the reference day itself counts
        obs("89247-1", day=days_ago(-1), valueInteger=3),  # after: set aside
    )
    assert row.values["ecog"] == 1
    assert [r["date"] for r in row.used if r["resourceType"] == "Observation"] == [REF.isoformat()]


def test_two_observations_the_same_day_disagreeing_are_a_named_contradiction():
    row = mapped(obs("89247-1", valueInteger=1), obs("89247-1", valueInteger=2))
    assert "ecog" not in row.values
    assert "contradictory" in row.unknown["ecog"] and "gives 1" in row.unknown["ecog"]


def test_same_day_with_times_the_later_one_counts():
    row = mapped(
        obs("89247-1", day=f"{days_ago(1)}T08:00:00Z", valueInteger=2),
        obs("89247-1", day=f"{days_ago(1)}T15:00:00Z", valueInteger=1),
    )
    assert row.values["ecog"] == 1


def test_range_and_interpretation_disagreeing_is_unknown():
    row = mapped(lab("718-7", 11.0, "g/dL", low=13.0, flag="N"))
    assert row.values["hemoglobin_below_lln"] is None
    assert "interpretation" in row.unknown["hemoglobin_below_lln"]


def test_score_and_its_answer_code_disagreeing_is_unknown():
    row = mapped(obs("89247-1", valueInteger=0, interpretation=[cc(LOINC, "LA9624-3")]))
    assert "ecog" not in row.values and "interpretation means 2" in row.unknown["ecog"]


def test_preliminary_and_partially_dated_observations_are_set_aside_and_named():
    row = mapped(
        lab("2160-0", 1.1, "mg/dL", status="preliminary"),
        lab("2160-0", 1.2, "mg/dL") | {"effectiveDateTime": "2024-11"},
    )
    assert row.values["creatinine_mg_dl"] is None
    reason = row.unknown["creatinine_mg_dl"]
    assert "status preliminary" in reason and "no full effective date" in reason


def test_data_absent_reason_is_unknown():
    absent = {"dataAbsentReason": cc("http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                     "not-performed")}  # fmt: skip
    row = mapped(obs("20150-9", **absent))
    assert row.values["fev1_litres"] is None and "not-performed" in row.unknown["fev1_litres"]


def test_calcium_needs_albumin_the_same_day():
    row = mapped(lab("17861-6", 10.4, "mg/dL"), lab("1751-7", 3.0, "g/dL") | {
        "effectiveDateTime": days_ago(30)})  # fmt: skip
    assert row.values["corrected_calcium_mg_dl"] is None
    assert "albumin" in row.unknown["corrected_calcium_mg_dl"]


def test_unspecific_or_contradictory_histology_is_unknown():
    nos = mapped(rcc("8312/3"))
    assert "histology" not in nos.values and "8312/3" in nos.unknown["histology"]
    two = mapped(rcc("8310/3"), rcc("8260/3"))
    assert "histology" not in two.values and "contradictory" in two.unknown["histology"]
    absent = mapped(rcc(None))
    assert "no ICD-O-3 morphology" in absent.unknown["histology"]


def test_metastasis_confirmed_and_refuted_is_a_contradiction():
    row = mapped(metastasis(LUNG), metastasis(LUNG, "refuted"))
    assert "met_lung" not in row.values and "contradictory" in row.unknown["met_lung"]


def test_unconfirmed_metastasis_leaves_the_organ_open():
    row = mapped(metastasis(LUNG, "provisional"))
    assert "met_lung" not in row.values and "provisional" in row.unknown["met_lung"]


def test_brain_metastases_untreated_needs_the_treating_procedure():
    unknown = mapped(metastasis(BRAIN))
    assert "brain_mets_untreated" not in unknown.values
    not_done = proc("108290001", "not-done", bodySite=[cc(*BRAIN)])
    assert mapped(metastasis(BRAIN), not_done).values["brain_mets_untreated"] is True
    none = mapped(metastasis(BRAIN, "refuted"))
    assert none.values["brain_mets_untreated"] is False


def test_tki_taken_and_denied_is_a_contradiction():
    row = mapped(med(RXNORM, "357977", end=days_ago(90)), med(ATC[0], "L01EX", "not-taken"))
    assert "prior_tki" not in row.values and "contradictory" in row.unknown["prior_tki"]
    assert "prior TKI unknown" in row.unknown["months_since_tki"]


def test_tki_without_end_date_leaves_the_washout_unknown():
    row = mapped(med(RXNORM, "714438", start=days_ago(300)))
    assert row.values["prior_tki"] is True and row.values["months_since_tki"] is None
    assert "no end date" in row.unknown["months_since_tki"]
    ongoing = mapped(med(RXNORM, "714438", "active", start=days_ago(300)))
    assert ongoing.values["months_since_tki"] == 0.0


def test_tki_denied_in_part_is_unknown():
    row = mapped(med(RXNORM, "357977", "not-taken"), med(RXNORM, "495881", "not-taken"))
    assert "prior_tki" not in row.values and "pazopanib" in row.unknown["prior_tki"]


def test_steroid_course_without_end_date_is_unknown():
    row = mapped(med(RXNORM, "8640", start=days_ago(60)))
    assert "steroids_last_4_weeks" not in row.values
    assert "no end date" in row.unknown["steroids_last_4_weeks"]


def test_an_invalid_resource_is_named_and_its_column_unknown_without_crashing():
    broken = lab("2532-0", 300, "U/L", high=250) | {"effectiveDateTime": "2025-13-45"}
    valid_older = lab("2532-0", 200, "U/L", high=250) | {"effectiveDateTime": days_ago(90)}
    row = mapped(broken, valid_older, "not a resource", {"resourceType": "Nonsense"})
    assert row.values["ldh_uln_ratio"] is None  # the older one does not stand in
    assert "not valid FHIR R4" in row.unknown["ldh_uln_ratio"]
    errors = {(r["resourceType"], r["id"]): r["error"] for r in row.invalid}
    assert "effectiveDateTime" in errors[("Observation", broken["id"])]
    assert len(row.invalid) == 3


def test_a_resource_about_another_patient_is_refused():
    other = obs("89247-1", valueInteger=1, subject={"reference": "Patient/p2"})
    row = mapped(other)
    assert "ecog" not in row.values
    assert row.invalid[0]["error"] == "its subject is Patient/p2, not Patient/p1"


def test_several_patients_need_the_bundle_function():
    with pytest.raises(ContractError, match="patients_from_bundle"):
        patient_from_resources([PATIENT, PATIENT | {"id": "p2"}], REF)


def test_patient_demographics_unknown_when_partial_or_other():
    row = patient_from_resources([PATIENT | {"birthDate": "1970", "gender": "other"}], REF)
    assert "age_years" not in row.values and "full date" in row.unknown["age_years"]
    assert "sex" not in row.values and "gender other" in row.unknown["sex"]
    assert mapped().values["age_years"] == 54.0  # born 1970-05-01, completed years


def test_patient_id_is_the_record_number_else_the_resource_id():
    mr = {"type": cc("http://terminology.hl7.org/CodeSystem/v2-0203", "MR"), "value": "MAN-9"}
    other = {"system": "urn:x", "value": "X-1"}
    row = patient_from_resources([PATIENT | {"identifier": [other, mr]}], REF)
    assert row.values["patient_id"] == "MAN-9" and row.patient_id == "p1"
    assert mapped().values["patient_id"] == "p1"


def test_bundle_groups_patients_by_reference_in_patient_order():
    second = PATIENT | {"id": "p2", "gender": "female"}
    medication = {"resourceType": "Medication", "id": "suni", "code": cc(RXNORM, "357977")}
    statement = med(RXNORM, "0", end=days_ago(30)) | {
        "subject": {"reference": "urn:uuid:2"},
        "medicationReference": {"reference": "Medication/suni"},
    }
    statement.pop("medicationCodeableConcept")
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": PATIENT},
            {"resource": obs("89247-1", valueInteger=1)},
            {"fullUrl": "urn:uuid:2", "resource": second},
            {"resource": statement},
            {"resource": medication},
        ],
    }
    rows = patients_from_bundle(bundle, REF)
    assert [r.patient_id for r in rows] == ["p1", "p2"]
    assert rows[0].values["ecog"] == 1 and "ecog" not in rows[1].values
    assert rows[1].values["prior_tki"] is True and rows[1].values["months_since_tki"] == 0.99
    assert "prior_tki" not in rows[0].values


def test_a_bundle_resource_whose_patient_cannot_be_told_is_set_aside_and_named():
    """No subject, or a urn: no Patient entry is: never read as the patient's, never a
    patient of its own; the inputs it bears on are unknown, saying why."""
    nobody = obs("89247-1", valueInteger=3)
    nobody.pop("subject")
    stray = obs("89247-1", valueInteger=4) | {"id": "stray", "subject": {"reference": "urn:uuid:9"}}
    own = obs("89247-1", valueInteger=0) | {"id": "own"}
    entries = [{"fullUrl": "urn:uuid:1", "resource": PATIENT}, {"resource": own}]
    alone = patients_from_bundle({"resourceType": "Bundle", "entry": entries}, REF)
    assert [r.values.get("ecog") for r in alone] == [0]
    for extra in ([nobody], [stray], [nobody, stray]):
        bundle = {"resourceType": "Bundle", "entry": entries + [{"resource": r} for r in extra]}
        (row,) = patients_from_bundle(bundle, REF)
        assert "ecog" not in row.values
        assert ("no subject" if extra[0] is nobody else "urn:uuid:9") in row.unknown["ecog"]
        assert [i["id"] for i in row.invalid] == [r["id"] for r in extra]
    # what the mapping does not read is neither set aside nor listed, subject or not
    unread = [
        {"resourceType": "Organization", "id": "org"},
        obs("8302-2", valueQuantity={"value": 170, "unit": "cm"}) | {"id": "height"},
    ]
    unread[1].pop("subject")
    bundle = {"resourceType": "Bundle", "entry": entries + [{"resource": r} for r in unread]}
    (row,) = patients_from_bundle(bundle, REF)
    assert row.invalid == [] and row.values["ecog"] == 0


def test_used_names_every_resource_behind_the_values_with_dates():
    old = obs("89247-1", day=days_ago(100), valueInteger=2)
    new = obs("89247-1", valueInteger=0)
    row = mapped(old, new, rcc())
    ids = [(r["resourceType"], r["id"]) for r in row.used]
    assert ids[0] == ("Patient", "p1")
    assert ("Observation", new["id"]) in ids and ("Observation", old["id"]) not in ids
    dated = {r["id"]: r["date"] for r in row.used}
    assert dated[new["id"]] == days_ago(7)


def test_months_count_days_and_a_given_time_of_day():
    eight_weeks = mapped(med(RXNORM, "357977", end=days_ago(56)))
    assert eight_weeks.values["months_since_tki"] == 1.84  # BRIEF: 8 weeks = 1.84 months
    a_day_less = mapped(med(RXNORM, "357977", end=days_ago(55)))
    assert a_day_less.values["months_since_tki"] == 1.81
    with_time = mapped(med(RXNORM, "357977", end=f"{days_ago(37)}T11:24:00Z"))
    assert with_time.values["months_since_tki"] == 1.2  # 36.525 days
    assert mapped(rcc(onset=f"{days_ago(731)}T12:00:00Z")).values["months_from_diagnosis"] == 24.0


def test_resources_the_mapping_does_not_read_are_neither_validated_nor_listed():
    heart_rate = obs("8867-4", valueQuantity="not a quantity")  # invalid, but not read
    encounter = {"resourceType": "Encounter", "id": "e", "status": 42}
    row = mapped(heart_rate, encounter, obs("89247-1", valueInteger=0))
    assert row.invalid == [] and row.values["ecog"] == 0


def _request(status: str, **fields) -> dict:
    found = med(RXNORM, "495881", status) | {"resourceType": "MedicationRequest", "intent": "order"}
    found.pop("effectivePeriod", None)
    return found | fields


def _bounds(end: str) -> dict:
    return {"dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {"end": end}}}}]}


@pytest.mark.parametrize(
    ("resource", "prior", "washout"),
    [
        (_request("active", authoredOn=days_ago(90)), True, 0.0),
        (_request("completed", authoredOn=days_ago(200), **_bounds(days_ago(56))), True, 1.84),
        (_request("stopped", authoredOn=days_ago(200)), True, None),
        (_request("active", doNotPerform=True), None, None),  # one TKI denied, two open
        (med(RXNORM, "495881", effectiveDateTime=days_ago(56)) | {
            "resourceType": "MedicationAdministration"}, True, 1.84),
        (med(RXNORM, "495881", "not-done") | {"resourceType": "MedicationAdministration",
                                              "effectiveDateTime": days_ago(5)}, None, None),
        (_request("cancelled", authoredOn=days_ago(90)), None, None),
    ],
    ids=["request-active", "request-bounds", "request-no-end", "request-do-not-perform",
         "administration", "administration-not-done", "request-cancelled"],
)  # fmt: skip
def test_requests_and_administrations(resource, prior, washout):
    row = mapped(resource)
    assert row.values.get("prior_tki") is prior
    assert row.values.get("months_since_tki") == washout


def test_dates_from_periods_and_fallbacks():
    by_period = proc(
        "108290001", day=None, performedPeriod={"start": days_ago(50), "end": days_ago(30)}
    )
    row = mapped(by_period, proc("367336001", "not-done"))
    assert row.values["chemo_radio_last_6_weeks"] is True
    asserted = {
        "url": "http://hl7.org/fhir/StructureDefinition/condition-assertedDate",
        "valueDateTime": days_ago(365),
    }
    onset = rcc(onset=None) | {"extension": [asserted]}
    onset.pop("onsetDateTime")
    assert mapped(onset).values["months_from_diagnosis"] == 11.99
    recorded = rcc() | {"recordedDate": days_ago(30)}
    recorded.pop("onsetDateTime")
    assert mapped(recorded).values["months_from_diagnosis"] == 0.99
    period = rcc() | {"onsetPeriod": {"start": days_ago(61)}}
    period.pop("onsetDateTime")
    assert mapped(period).values["months_from_diagnosis"] == 2.0
