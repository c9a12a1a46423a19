"""One patient's worth of resources touching every ``fhir.resources`` model the mapping
reads (``model.contract.fhir.warm_up`` maps them once so that the models are built before
the first real patient)."""

from __future__ import annotations

_CC = {"coding": [{"system": "http://snomed.info/sct", "code": "0"}]}
_Q = {"value": 1, "unit": "U/L", "system": "http://unitsofmeasure.org", "code": "U/L"}
_SUBJECT = {"reference": "Patient/warm-up"}
_COMMON = {
    "id": "warm-up",
    "subject": _SUBJECT,
    "extension": [{"url": "x", "valueCodeableConcept": _CC}],
}
_DOSE = {"route": _CC, "timing": {"repeat": {"boundsPeriod": {"end": "2000-01-01"}}}}
WARM_UP_RESOURCES: tuple[dict, ...] = (
    {
        "resourceType": "Patient",
        "id": "warm-up",
        "birthDate": "1950-01-01",
        "identifier": [{"type": _CC, "value": "w"}],
    },
    {
        "resourceType": "Observation",
        "status": "final",
        "code": _CC,
        "valueQuantity": _Q,
        "effectiveDateTime": "2000-01-01T00:00:00Z",
        "interpretation": [_CC],
        "referenceRange": [{"low": _Q, "high": _Q}],
        "valueCodeableConcept": None,
        **_COMMON,
    },
    {
        "resourceType": "Condition",
        "code": _CC,
        "bodySite": [_CC],
        "verificationStatus": _CC,
        "onsetPeriod": {"start": "2000-01-01"},
        "meta": {"profile": ["x"]},
        **_COMMON,
    },
    {
        "resourceType": "Procedure",
        "status": "completed",
        "code": _CC,
        "bodySite": [_CC],
        "performedPeriod": {"start": "2000-01-01"},
        "reasonReference": [_SUBJECT],
        **_COMMON,
    },
    {
        "resourceType": "MedicationStatement",
        "status": "active",
        "medicationCodeableConcept": _CC,
        "effectivePeriod": {"start": "2000-01-01"},
        "dosage": [_DOSE],
        **_COMMON,
    },
    {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "Medication/warm-up"},
        "dosageInstruction": [_DOSE],
        **_COMMON,
    },
    {
        "resourceType": "MedicationAdministration",
        "status": "completed",
        "medicationCodeableConcept": _CC,
        "effectiveDateTime": "2000-01-01",
        "dosage": _DOSE,
        **_COMMON,
    },
    {"resourceType": "Medication", "id": "warm-up", "code": _CC},
)
