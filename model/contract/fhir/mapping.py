"""FHIR R4 resources of one patient → one row of the data contract.

``patient_from_resources`` validates each resource with ``fhir.resources`` (R4B models:
FHIR 4.3, the R4 technical correction), reads the ones it maps (Patient, Condition,
Observation, Procedure, MedicationStatement / Request / Administration, Medication), and
settles every contract column as of the reference date (the planned start of systemic
therapy): the latest observation on or before it, conditions and treatments known by
then. Anything absent, unmappable, contradictory or invalid is unknown — never normal —
and named with what would settle it. The code tables are in ``fhir_codes``; the README's
"FHIR input" section lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from model.contract.columns import COLUMNS
from model.contract.errors import ContractError
from model.contract.fhir.conditions import read_condition
from model.contract.fhir.evidence import Evidence, Outcome, ref_of
from model.contract.fhir.invalid import columns_of_raw, is_read
from model.contract.fhir.observations import read_observation
from model.contract.fhir.read import (
    completed_years,
    day_of,
    group_by_patient,
    raw_subject_key,
    reference_key,
    resource_label,
    validate,
)
from model.contract.fhir.settle import SETTLED_BY, reason_for, settle_columns, typed
from model.contract.fhir.treatments import read_medication, read_procedure
from model.contract.fhir.warm import WARM_UP_RESOURCES

MEDICATION_RECORDS = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")
# conditions first: a Procedure may treat the brain metastases a Condition names
READ_ORDER = {"Patient": 0, "Medication": 0, "Condition": 1}


@dataclass(frozen=True)
class MappedPatient:
    """One patient's FHIR resources as a row of the data contract.

    Attributes
    ----------
    values : dict
        Contract column → value in the JSON form ``POST /recommend`` takes (bools, ints,
        floats, text; None = unknown). A column that may not be unknown and could not be
        settled is left out, so that validation names it.
    unknown : dict
        Column → why it is unknown and which resource would settle it.
    used : list of dict
        Every resource the values rest on: ``{"resourceType", "id", "date"}`` (the
        clinically relevant date, ISO, or None), the Patient first.
    patient_id : str or None
        The Patient resource's id (None without a Patient resource).
    invalid : list of dict
        Resources that are not valid FHIR R4 (``{"resourceType", "id", "error"}``); the
        columns they bear on are unknown.
    """

    values: dict[str, Any]
    unknown: dict[str, str]
    used: list[dict]
    patient_id: str | None
    invalid: list[dict] = field(default_factory=list)


def patient_from_resources(
    resources: Iterable[dict],
    reference_date: date | None = None,
    set_aside: Iterable[tuple[dict, str]] = (),
) -> MappedPatient:
    """Map one patient's FHIR R4 resources (JSON dicts) to the data contract.

    Parameters
    ----------
    resources
        The patient's resources: at most one Patient; every other resource's subject must
        be that Patient (a resource about another patient is reported as invalid).
    reference_date
        The day the row describes (planned start of systemic therapy); default today (UTC).
    set_aside
        Resources whose patient cannot be told, with why (``patients_from_bundle``): not
        read, reported as invalid, and the columns they bear on are unknown.

    Raises
    ------
    ContractError
        when the resources hold several Patient resources (use ``patients_from_bundle``).
    """
    on = reference_date or datetime.now(UTC).date()
    models, invalid, tainted = _validated(list(resources))
    for raw, why in set_aside:
        kind, _, ident = resource_label(raw).partition("/")
        invalid.append({"resourceType": kind, "id": ident, "error": why})
        for column in columns_of_raw(raw):
            tainted.setdefault(column, f"{kind}/{ident} {why}")
    patients = [m for m in models if m.get_resource_type() == "Patient"]
    if len({p.id for p in patients}) > 1:
        ids = ", ".join(sorted({str(p.id) for p in patients}))
        raise ContractError(
            f"resources of several patients ({ids}): map them with patients_from_bundle",
            rule="one patient",
        )
    patient = patients[0] if patients else None
    models = _own(models, patient, invalid, tainted)
    evidence = _read(models, on)
    outcomes = settle_columns(evidence, on)
    outcomes.update(_demographics(patient, on))
    outcomes.update(_contradicted(patients))
    values, unknown = _row(outcomes, evidence, tainted)
    values["patient_id"] = _patient_label(patient)
    used = _used([ref_of(patient, None)] if patient else [], outcomes)
    return MappedPatient(values, unknown, used, patient.id if patient else None, invalid)


def warm_up() -> None:
    """Build the ``fhir.resources`` models this mapping reads (about 0.3 s, once per
    process) so that the first patient maps as fast as the next: call it at start-up."""
    patient_from_resources(WARM_UP_RESOURCES, date(2000, 1, 2))


def patients_from_bundle(bundle: dict, reference_date: date | None = None) -> list[MappedPatient]:
    """Map a Bundle holding the resources of one or more patients, grouped by their
    ``subject`` / ``patient`` reference (relative, absolute or a ``urn:uuid`` fullUrl),
    in the order of the Patient entries."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ContractError("not a FHIR Bundle", rule="resourceType Bundle")
    entries = [e for e in bundle.get("entry") or () if isinstance(e, dict)]
    resources = [e["resource"] for e in entries if isinstance(e.get("resource"), dict)]
    full_urls = {
        e["fullUrl"]: f"Patient/{e['resource'].get('id')}"
        for e in entries
        if isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == "Patient"
        and isinstance(e.get("fullUrl"), str)
    }
    groups, shared = group_by_patient(resources, full_urls)
    # a clinical resource that names no patient, or a urn: no entry of the Bundle is, cannot
    # be given to anyone: set aside and named in every patient (its inputs unknown)
    # (only resources the mapping reads: others are neither validated nor listed)
    read = [r for r in resources if is_read(r) and r.get("resourceType") != "Medication"]
    set_aside = [
        (raw, "names no patient (no subject): whose it is cannot be told")
        for raw in read
        if raw.get("resourceType") != "Patient" and raw_subject_key(raw) is None
    ]
    for key, group in [(k, g) for k, g in groups if k.startswith("urn:")]:
        set_aside += [
            (raw, f"names {key}, the fullUrl of no Patient in the Bundle")
            for raw in group
            if is_read(raw)
        ]
    groups = [(k, g) for k, g in groups if not k.startswith("urn:")]
    return [
        patient_from_resources(group + shared, reference_date, set_aside) for _, group in groups
    ]


def _validated(raws: list) -> tuple[list, list[dict], dict[str, str]]:
    models, invalid, tainted = [], [], {}
    for raw in filter(is_read, raws):
        model, error = validate(raw)
        if model is not None:
            models.append(model)
            continue
        name = resource_label(raw) if isinstance(raw, dict) else "(not a resource)"
        kind, _, ident = name.partition("/")
        invalid.append({"resourceType": kind, "id": ident, "error": error})
        for column in columns_of_raw(raw):
            tainted.setdefault(column, f"{name} is not valid FHIR R4 ({error})")
    return models, invalid, tainted


def _own(models: list, patient: Any, invalid: list[dict], tainted: dict) -> list:
    """The resources about this patient; one about another is reported as invalid."""
    if patient is None:
        return models
    mine = f"Patient/{patient.id}"
    kept = []
    for model in models:
        subject = getattr(model, "subject", None) or getattr(model, "patient", None)
        key = reference_key(subject)
        if key is None or key == mine or key.startswith("urn:"):
            kept.append(model)
            continue
        error = f"its subject is {key}, not {mine}"
        invalid.append({"resourceType": model.get_resource_type(), "id": model.id, "error": error})
    return kept


def _read(models: list, on: date) -> Evidence:
    evidence, brain_ids = Evidence(), set()
    medications = {f"Medication/{m.id}": m for m in models if m.get_resource_type() == "Medication"}
    for model in sorted(models, key=lambda m: READ_ORDER.get(m.get_resource_type(), 2)):
        kind = model.get_resource_type()
        if kind == "Observation":
            read_observation(model, on, evidence)
        elif kind == "Condition":
            read_condition(model, on, evidence, brain_ids)
        elif kind == "Procedure":
            read_procedure(model, on, evidence, brain_ids)
        elif kind in MEDICATION_RECORDS:
            read_medication(model, on, evidence, medications)
    return evidence


def _demographics(patient: Any, on: date) -> dict[str, Outcome]:
    if patient is None:
        return {name: Outcome(None, (), "no Patient resource") for name in ("age_years", "sex")}
    ref = (ref_of(patient, None),)
    born, _ = day_of(patient.birthDate)
    if born is None:
        shown = f"birthDate {patient.birthDate}" if patient.birthDate else "no birthDate"
        age = Outcome(None, ref, f"{shown} (a full date is needed)")
    elif born > on:
        age = Outcome(None, ref, f"birthDate {born} is after the reference date")
    else:
        age = Outcome(float(completed_years(born, on)), ref)
    if patient.gender in ("female", "male"):
        sex = Outcome(patient.gender, ref)
    else:
        sex = Outcome(None, ref, f"gender {patient.gender or 'absent'}")
    return {"age_years": age, "sex": sex}


def _contradicted(patients: list) -> dict[str, Outcome]:
    """Copies of the Patient that disagree on birthDate or gender: that column unknown,
    naming every copy (none wins by coming first)."""
    outcomes = {}
    for column, attribute in (("age_years", "birthDate"), ("sex", "gender")):
        said = [getattr(p, attribute) for p in patients]
        if len({str(v) for v in said}) > 1:
            copies = "; ".join(
                f"Patient/{p.id} (copy {i + 1}) {attribute} {v or 'absent'}"
                for i, (p, v) in enumerate(zip(patients, said, strict=True))
            )
            refs = tuple(ref_of(p, None) for p in patients)
            outcomes[column] = Outcome(None, refs, f"contradictory Patient resources: {copies}")
    return outcomes


def _row(outcomes: dict[str, Outcome], evidence: Evidence, tainted: dict) -> tuple[dict, dict]:
    values, unknown = {}, {}
    no_tki = outcomes["prior_tki"].value is False
    for spec in COLUMNS:
        if spec.name not in SETTLED_BY:
            continue
        outcome = outcomes[spec.name]
        if spec.name in tainted:
            outcome = Outcome(None, outcome.used, tainted[spec.name])
        if outcome.value is not None:
            values[spec.name] = typed(spec.kind, outcome.value)
            continue
        if spec.may_be_unknown:
            values[spec.name] = None
        if not (spec.name == "months_since_tki" and no_tki and spec.name not in tainted):
            unknown[spec.name] = reason_for(spec.name, outcome, evidence)
    return values, unknown


def _patient_label(patient: Any) -> str | None:
    """The caller's identifier: the medical record number, else the first identifier,
    else the resource id."""
    if patient is None:
        return None
    identifiers = [i for i in patient.identifier or () if i.value]
    record = [i for i in identifiers if i.type and any(c.code == "MR" for c in i.type.coding or ())]
    chosen = (record or identifiers or [None])[0]
    return chosen.value if chosen is not None else patient.id


def _used(first: list[dict], outcomes: dict[str, Outcome]) -> list[dict]:
    seen, used = set(), []
    for ref in [*first, *(r for o in outcomes.values() for r in o.used)]:
        key = (ref["resourceType"], ref["id"])
        if key not in seen:
            seen.add(key)
            used.append(ref)
    return used
