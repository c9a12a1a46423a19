"""Medications (MedicationStatement, MedicationAdministration, MedicationRequest) and
Procedures to treatment exposures and facts.

A medication is known by RxNorm ingredient or ATC code (on the resource, or on the
Medication it references). Taken: a statement active / completed / stopped / on-hold, an
administration done, a request active / completed / stopped / on-hold (a prescription is
read as taken). Not taken: a statement ``not-taken``, an administration ``not-done``, a
request with ``doNotPerform``; one coded with an ATC class (L01EX, H02AB, …) denies every
drug of the class. A Procedure done (completed or in progress) or ``not-done`` likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from model.contract.fhir.codes import (
    ALLOGRAFT_PROCEDURES,
    BEVACIZUMAB,
    BEVACIZUMAB_CLASSES,
    BRAIN_SURGERY,
    CHEMO_ATC_PREFIXES,
    CHEMO_CLASSES,
    CHEMOTHERAPY,
    NEPHRECTOMY,
    RADIOTHERAPY,
    RXNORM,
    SNOMED,
    STEROID_ATC_PREFIX,
    STEROID_CLASSES,
    STEROID_RXNORM,
    SYSTEMIC_ROUTES,
    TKI_CLASSES,
    TKI_DRUGS,
)
from model.contract.fhir.evidence import Evidence, Fact, label, ref_of
from model.contract.fhir.read import (
    codings,
    day_of,
    is_atc,
    moment_of,
    period_days,
    reference_key,
)

EVERY = "*"  # a class-level denial: every drug of the group
TAKEN = {
    "MedicationStatement": {
        "active": True,
        "completed": True,
        "stopped": True,
        "on-hold": True,
        "not-taken": False,
        "unknown": None,
    },
    "MedicationAdministration": {
        "completed": True,
        "in-progress": True,
        "on-hold": True,
        "stopped": True,
        "not-done": False,
        "unknown": None,
    },
    "MedicationRequest": {
        "active": True,
        "completed": True,
        "stopped": True,
        "on-hold": True,
        "unknown": None,
    },
    "Procedure": {
        "completed": True,
        "in-progress": True,
        "not-done": False,
        "preparation": None,
        "on-hold": None,
        "stopped": None,
        "unknown": None,
    },
}
ONGOING = {"active", "in-progress"}
GROUP_COLUMN = {
    "tki": "prior_tki",
    "bevacizumab": "prior_bevacizumab",
    "steroid": "steroids_last_4_weeks",
    "chemo": "chemo_radio_last_6_weeks",
    "radiotherapy": "chemo_radio_last_6_weeks",
}
BRAIN = (SNOMED, "12738006")


@dataclass(frozen=True)
class Exposure:
    """One record of a treatment ``group`` (tki, bevacizumab, steroid, chemo,
    radiotherapy): taken (True), not taken (False, of ``drugs``: names or EVERY) or open
    (None), with its dates."""

    group: str
    drugs: tuple[str, ...]
    taken: bool | None
    start: date | None
    end: date | None
    ongoing: bool
    ref: dict
    note: str = ""
    last: date | datetime | None = None  # the end as given (with its time, if any)


def medication_groups(found: set[tuple[str, str]], denial: bool) -> dict[str, set[str]]:
    """Treatment groups and drugs a medication's codes name (a denial may name a class)."""
    atc = {c for s, c in found if is_atc(s)}
    rxnorm = {c for s, c in found if s == RXNORM}
    groups: dict[str, set[str]] = {}
    for drug, (rx, atc_codes) in TKI_DRUGS.items():
        if rxnorm & rx or atc & atc_codes:
            groups.setdefault("tki", set()).add(drug)
    if rxnorm & BEVACIZUMAB[0] or atc & BEVACIZUMAB[1]:
        groups["bevacizumab"] = {"bevacizumab"}
    steroids = {STEROID_RXNORM[c] for c in rxnorm & set(STEROID_RXNORM)}
    steroids |= {c for c in atc if c.startswith(STEROID_ATC_PREFIX)}
    if steroids:
        groups["steroid"] = steroids
    chemo = {c for c in atc if c.startswith(CHEMO_ATC_PREFIXES)}
    if chemo:
        groups["chemo"] = chemo
    if denial:
        for group, classes in (
            ("tki", TKI_CLASSES),
            ("bevacizumab", BEVACIZUMAB_CLASSES),
            ("steroid", STEROID_CLASSES),
            ("chemo", CHEMO_CLASSES),
        ):
            if atc & set(classes):
                groups.setdefault(group, set()).add(EVERY)
    return groups


def read_medication(
    resource: Any, reference_date: date, evidence: Evidence, medications: dict[str, Any]
) -> bool:
    """Add one medication record's exposures to ``evidence``; True when it was mapped."""
    kind = resource.get_resource_type()
    taken = TAKEN[kind].get(resource.status, "skip")
    if kind == "MedicationRequest" and resource.doNotPerform:
        taken = False
    if taken == "skip":
        return False
    found = set(codings(resource.medicationCodeableConcept))
    key = reference_key(resource.medicationReference)
    if key in medications:
        found |= set(codings(medications[key].code))
    groups = medication_groups(found, denial=taken is False)
    if not groups:
        return False
    start, last = _medication_days(resource)
    end = last.date() if isinstance(last, datetime) else last
    ref = ref_of(resource, end or start)
    if start is not None and start > reference_date:
        for group in groups:
            evidence.note(GROUP_COLUMN[group], f"{label(ref)} starts after the reference date")
        return False
    ongoing = resource.status in ONGOING and (end is None or end >= reference_date)
    for group, drugs in groups.items():
        if group == "steroid" and taken and not _systemic(resource):
            evidence.note("steroids_last_4_weeks", f"{label(ref)}: not a systemic route")
            continue
        evidence.exposures.append(
            Exposure(
                group,
                tuple(sorted(drugs)),
                taken,
                start,
                end,
                ongoing,
                ref,
                "" if taken is not None else f"status {resource.status}",
                last,
            )
        )
    return True


def _medication_days(resource: Any) -> tuple[date | None, date | datetime | None]:
    """First day, and the end as given (a datetime when it has a time)."""
    if resource.get_resource_type() == "MedicationRequest":
        start = day_of(resource.authoredOn)[0]
        ends = [
            moment_of(dose.timing.repeat.boundsPeriod.end)
            for dose in resource.dosageInstruction or ()
            if dose.timing and dose.timing.repeat and dose.timing.repeat.boundsPeriod
        ]
        return start, max((e for e in ends if e), default=None, key=_day)
    point = moment_of(resource.effectiveDateTime)
    if point is not None:
        return _day(point), point
    period = resource.effectivePeriod
    if period is None:
        return None, None
    return day_of(period.start)[0], moment_of(period.end)


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _systemic(resource: Any) -> bool:
    """A route given and none of them systemic: not a systemic corticosteroid."""
    dosage = getattr(resource, "dosage", None) or getattr(resource, "dosageInstruction", None)
    doses = dosage if isinstance(dosage, list) else [dosage] if dosage else []
    routes = {c for dose in doses for s, c in codings(dose.route) if s == SNOMED}
    return not routes or bool(routes & set(SYSTEMIC_ROUTES))


def read_procedure(
    proc: Any, reference_date: date, evidence: Evidence, brain_ids: set[str]
) -> bool:
    """Add what one Procedure says (nephrectomy, radiotherapy, chemotherapy, treatment of
    brain metastases, organ transplant) to ``evidence``; True when it was mapped."""
    done = TAKEN["Procedure"].get(proc.status, "skip")
    if done == "skip":
        return False
    snomed = {c for s, c in codings(proc.code) if s == SNOMED}
    sites = set(codings(proc.bodySite))
    reasons = {reference_key(r) for r in proc.reasonReference or ()}
    brain = BRAIN in sites or bool(reasons & brain_ids) or bool(snomed & set(BRAIN_SURGERY))
    point = day_of(proc.performedDateTime)[0]
    start, end = (point, point) if point else period_days(proc.performedPeriod)
    ref = ref_of(proc, end or start)
    if start is not None and start > reference_date:
        for column in ("prior_nephrectomy", "chemo_radio_last_6_weeks", "brain_mets_untreated"):
            evidence.note(column, f"{label(ref)} is dated after the reference date")
        return False
    note = "" if done is not None else f"status {proc.status}"
    mapped = False
    for column, codes in (
        ("prior_nephrectomy", NEPHRECTOMY),
        ("organ_allograft", ALLOGRAFT_PROCEDURES),
    ):
        if snomed & set(codes) and not (column == "organ_allograft" and done is False):
            evidence.add(Fact(column, done, end or start, ref, note))
            mapped = True
    if brain:
        evidence.add(Fact("brain_treated", done, end or start, ref, note))
    for group, codes in (("radiotherapy", RADIOTHERAPY), ("chemo", CHEMOTHERAPY)):
        # a not-done treatment of one site does not deny treatment elsewhere
        if snomed & set(codes) and not (done is False and sites):
            drugs = (EVERY,) if done is False else (group,)
            evidence.exposures.append(
                Exposure(group, drugs, done, start, end, proc.status in ONGOING, ref, note)
            )
            mapped = True
    return mapped or brain
