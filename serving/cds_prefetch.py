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
# resources about no patient (a Medication is the drug itself): no subject to check
UNSCOPED = ("Medication",)


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
    where = f"prefetch.{key}"
    kind = _kind(value, where)
    if kind == "OperationOutcome":
        raise HookProblem(412, "incomplete", f"{where}: the client could not fetch it", [where])
    if kind != "Bundle":
        return [value]
    if any(link.get("relation") == "next" for link in _objects(value, "link", where)):
        raise HookProblem(
            412,
            "incomplete",
            f"{where} is paginated: IL2Select fetches no further page; send the whole result",
            [where],
        )
    resources = []
    for i, entry in enumerate(_objects(value, "entry", where)):
        if entry.get("resource") is not None:
            resources.append((entry["resource"], f"{where}.entry[{i}].resource"))
    # a search may carry OperationOutcomes of its own (search.mode "outcome"): not data
    return [r for r, at in resources if _kind(r, at) != "OperationOutcome"]


def _kind(value: Any, where: str) -> str:
    """A resource's type; 400 naming ``where`` when it is no FHIR resource."""
    kind = value.get("resourceType") if isinstance(value, dict) else None
    if not isinstance(kind, str) or not kind:
        raise HookProblem(
            400, "structure", f"{where} is not a FHIR resource (no resourceType)", [where]
        )
    return kind


def _objects(bundle: dict, field: str, where: str) -> list[dict]:
    """A Bundle's ``link`` or ``entry``: a list of objects, else 400 naming it."""
    items = bundle.get(field)
    if items is None:
        return []
    if not isinstance(items, list):
        raise HookProblem(
            400, "structure", f"{where}.{field} must be an array", [where + "." + field]
        )
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            at = f"{where}.{field}[{i}]"
            raise HookProblem(400, "structure", f"{at} must be an object, not {item!r:.40}", [at])
    return items


def _check_subject(resource: dict, patient_id: str) -> None:
    """A resource about another patient, or about no patient it names, would put someone
    else's data in this patient's answer: every patient-scoped resource's ``subject`` (or
    ``patient``) must reference ``Patient/<context.patientId>`` (relative or absolute)."""
    kind, name = resource["resourceType"], f"{resource['resourceType']}/{resource.get('id')}"
    if kind == "Patient":
        if resource.get("id") != patient_id:
            raise HookProblem(400, "invalid", "prefetch.patient is not context.patientId")
        return
    if kind in UNSCOPED:
        return
    field = "subject" if "subject" in resource else "patient"
    subject = resource.get(field)
    if not isinstance(subject, dict) and subject is not None:
        raise HookProblem(
            400, "structure", f"{name}: {field} must be a Reference object, not {subject!r:.40}"
        )
    reference = (subject or {}).get("reference")
    if not isinstance(reference, str) or not _is_patient(reference, patient_id):
        shown = (
            f"about {reference!r:.80}" if reference is not None else f"without {field}.reference"
        )
        raise HookProblem(
            400,
            "invalid",
            f"{name} is {shown}, not Patient/{patient_id}: every resource but Patient and "
            "Medication must reference this patient",
        )


def _is_patient(reference: str, patient_id: str) -> bool:
    """``Patient/<id>``, an absolute URL ending in it, or either with ``/_history/<v>``."""
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return parts[-2:] == ["Patient", patient_id]
