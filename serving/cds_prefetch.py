"""What a CDS Hooks call brings: the hook request checked, and the prefetched FHIR resources
taken out of it (single resources and ``searchset`` Bundles).

Every prefetch key is required. The service fetches nothing itself (it never calls the
client's FHIR server), and an absent key must not be read as "the patient has none": a
missing Procedure search would make a nephrectomy look absent. So a key left out answers
412 naming it, while a key sent as ``null`` (the client has no data for it, as the
specification says) or an empty Bundle is taken at its word. A key the client could not
fetch (an OperationOutcome in its place) or a result cut into pages (a ``next`` link) is
incomplete: 412 too.
"""

from __future__ import annotations

from typing import Any

import orjson

from serving.problems import operation_outcome

HOOK = "patient-view"
PATIENT_TOKEN = "{{context.patientId}}"
PREFETCH = {
    "patient": f"Patient/{PATIENT_TOKEN}",
    "conditions": f"Condition?patient={PATIENT_TOKEN}",
    "observations": f"Observation?patient={PATIENT_TOKEN}",
    "procedures": f"Procedure?patient={PATIENT_TOKEN}",
    "medications": f"MedicationStatement?patient={PATIENT_TOKEN}"
    "&_include=MedicationStatement:medication",
}


class HookProblem(Exception):
    """A call refused: its status and the OperationOutcome that says why."""

    def __init__(self, status: int, code: str, diagnostics: str, expression=()) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.outcome = operation_outcome(code, diagnostics, list(expression))


def hook_request(body: bytes) -> dict:
    """The call's JSON, checked: a ``patient-view`` hook with its instance and patient."""
    try:
        call = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HookProblem(400, "structure", "the body is not JSON") from None
    if not isinstance(call, dict):
        raise HookProblem(400, "structure", "the body must be a CDS Hooks request object")
    if call.get("hook") != HOOK:
        raise HookProblem(400, "not-supported", f"this service answers the {HOOK} hook only")
    if not isinstance(call.get("hookInstance"), str) or not call["hookInstance"]:
        raise HookProblem(400, "required", "hookInstance is required", ["hookInstance"])
    context = call.get("context")
    if not isinstance(context, dict) or not isinstance(context.get("patientId"), str):
        raise HookProblem(400, "required", "context.patientId is required", ["context.patientId"])
    if not isinstance(call.get("prefetch", {}), dict):
        raise HookProblem(400, "structure", "prefetch must be an object", ["prefetch"])
    return call


def prefetched_resources(call: dict) -> list[dict]:
    """Every resource the prefetch holds, Bundles unpacked; raises ``HookProblem`` (412)
    when a key is missing or incomplete, (400) when a resource is about another patient."""
    prefetch = call.get("prefetch") or {}
    missing = [key for key in PREFETCH if key not in prefetch]
    if missing:
        raise HookProblem(
            412,
            "required",
            f"prefetch key(s) {', '.join(missing)} missing: IL2Select reads nothing from the "
            "FHIR server itself; send every key of its discovery document (null when there "
            "is no data)",
            [f"prefetch.{key}" for key in missing],
        )
    patient_id = call["context"]["patientId"]
    resources: list[dict] = []
    for key in PREFETCH:
        resources += _unpacked(key, prefetch[key])
    if not any(r.get("resourceType") == "Patient" for r in resources):
        raise HookProblem(
            412, "required", "prefetch.patient holds no Patient", ["prefetch.patient"]
        )
    for resource in resources:
        _check_subject(resource, patient_id)
    return resources


def _unpacked(key: str, value: Any) -> list[dict]:
    if value is None:
        return []
    kind = value.get("resourceType") if isinstance(value, dict) else None
    if kind == "OperationOutcome":
        raise HookProblem(
            412, "incomplete", f"prefetch.{key}: the client could not fetch it", [f"prefetch.{key}"]
        )
    if kind != "Bundle":
        if kind is None:
            raise HookProblem(400, "structure", f"prefetch.{key} is not a FHIR resource")
        return [value]
    if any(link.get("relation") == "next" for link in value.get("link") or ()):
        raise HookProblem(
            412,
            "incomplete",
            f"prefetch.{key} is paginated: IL2Select fetches no further page; send the "
            "whole result",
            [f"prefetch.{key}"],
        )
    entries = [entry.get("resource") for entry in value.get("entry") or ()]
    # a search may carry OperationOutcomes of its own (search.mode "outcome"): not data
    return [
        r for r in entries if isinstance(r, dict) and r.get("resourceType") != "OperationOutcome"
    ]


def _check_subject(resource: dict, patient_id: str) -> None:
    """A resource about another patient would put their data in this patient's answer."""
    if resource.get("resourceType") == "Patient":
        if resource.get("id") != patient_id:
            raise HookProblem(400, "invalid", "prefetch.patient is not context.patientId")
        return
    for field in ("subject", "patient"):
        reference = str((resource.get(field) or {}).get("reference", ""))
        if "Patient/" in reference and reference.split("/")[-2:] != ["Patient", patient_id]:
            raise HookProblem(
                400,
                "invalid",
                f"{resource.get('resourceType')}/{resource.get('id')} is about {reference}, "
                f"not Patient/{patient_id}",
            )
