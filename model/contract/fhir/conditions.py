"""Conditions to facts: the RCC primary (histology from its ICD-O-3 morphology, the
diagnosis date), mCODE secondary cancer conditions (organs with metastases), cardiac
disease, active infection and organ allograft.

``verificationStatus`` decides what a Condition says: confirmed (or absent) asserts it,
refuted denies it, unconfirmed / provisional / differential leave it open (named),
entered-in-error is ignored. A Condition whose onset is after the reference date is set
aside. A refuted Condition denies only what its code covers: a refuted "heart failure"
leaves an arrhythmia open; the umbrella codes (heart disease, infectious disease, organ
recipient) deny their whole group.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from model.contract.fhir.codes import (
    ALLOGRAFT_ICD10_PREFIXES,
    ALLOGRAFT_SNOMED,
    ASSERTED_DATE_EXTENSION,
    BODY_SITES,
    CARDIAC_COMPONENTS,
    CARDIAC_UMBRELLA,
    HISTOLOGY_EXTENSION,
    HISTOLOGY_ICDO3,
    HISTOLOGY_UNSPECIFIC,
    INFECTION_ICD10_PREFIXES,
    INFECTION_SNOMED,
    INFECTION_UMBRELLA,
    RCC_ICD10_PREFIX,
    RCC_SNOMED,
    SECONDARY_ICD10_PREFIXES,
    SECONDARY_ICD10_SITES,
    SECONDARY_ICD10_UNSPECIFIED,
    SECONDARY_PROFILE,
    SECONDARY_SNOMED,
    SITE_COLUMNS,
    SNOMED,
)
from model.contract.fhir.evidence import Evidence, Fact, label, ref_of
from model.contract.fhir.read import code_of, codings, is_icd10, is_icdo3, moment_of

ACTIVE = frozenset({"active", "recurrence", "relapse"})
NOT_ACTIVE = frozenset({"inactive", "remission", "resolved"})


def read_condition(
    cond: Any, reference_date: date, evidence: Evidence, brain_ids: set[str]
) -> bool:
    """Add what one Condition says to ``evidence``; True when it was mapped (used).
    ``brain_ids`` collects the asserted brain metastases (a treating Procedure may name
    them as its reason)."""
    verification = code_of(cond.verificationStatus) or "confirmed"
    if verification == "entered-in-error":
        return False
    onset = _onset(cond)
    day = onset.date() if isinstance(onset, datetime) else onset
    ref = ref_of(cond, day)
    asserted = {"confirmed": True, "refuted": False}.get(verification)
    note = f"verificationStatus {verification}"
    found = {(s, c) for s, c in codings(cond.code)}
    icd10 = [_plain(c) for s, c in found if is_icd10(s)]
    snomed = {c for s, c in found if s == SNOMED}
    readers = (
        (_is_rcc(snomed, icd10), _read_rcc),
        (_is_secondary(cond, snomed, icd10), _read_secondary),
        (True, _read_findings),
    )
    if day is not None and day > reference_date:
        columns = _finding_columns(snomed, icd10)
        columns += ["histology", "months_from_diagnosis"] if readers[0][0] else []
        columns += list(SITE_COLUMNS) if readers[1][0] else []
        for column in columns:
            evidence.note(column, f"{label(ref)} has its onset after the reference date")
        return False
    mapped = False
    for applies, reader in readers:
        if applies:
            mapped |= reader(cond, evidence, ref, day, asserted, note, snomed, icd10, brain_ids)
    return mapped


def _onset(cond: Any) -> date | datetime | None:
    """Onset (dateTime, or the start of its period), else the asserted, else the recorded
    date: a datetime when a time is given."""
    found = moment_of(cond.onsetDateTime)
    if found is None and cond.onsetPeriod is not None:
        found = moment_of(cond.onsetPeriod.start)
    for extension in cond.extension or ():
        if found is None and extension.url == ASSERTED_DATE_EXTENSION:
            found = moment_of(extension.valueDateTime)
    return found if found is not None else moment_of(cond.recordedDate)


def _plain(code: str) -> str:
    return code.replace(".", "").upper()


def _has_prefix(icd10: list[str], prefixes) -> bool:
    return any(code.startswith(_plain(p)) for code in icd10 for p in prefixes)


def _is_rcc(snomed: set[str], icd10: list[str]) -> bool:
    return bool(snomed & set(RCC_SNOMED)) or _has_prefix(icd10, (RCC_ICD10_PREFIX,))


def _is_secondary(cond: Any, snomed: set[str], icd10: list[str]) -> bool:
    profiles = cond.meta.profile if cond.meta is not None and cond.meta.profile else ()
    return (
        SECONDARY_PROFILE in profiles
        or SECONDARY_SNOMED in snomed
        or _has_prefix(icd10, SECONDARY_ICD10_PREFIXES)
    )


def _read_rcc(cond, evidence, ref, day, asserted, note, snomed, icd10, brain_ids) -> bool:
    if asserted is not True:
        for column in ("histology", "months_from_diagnosis"):
            evidence.note(column, f"{label(ref)}: RCC {note}: set aside")
        return False
    morphology = [c for s, c in codings(cond.code) if is_icdo3(s)]
    for extension in cond.extension or ():
        if extension.url == HISTOLOGY_EXTENSION:
            morphology += [c for s, c in codings(extension.valueCodeableConcept) if is_icdo3(s)]
    for code in morphology:
        if code in HISTOLOGY_ICDO3:
            evidence.add(Fact("histology", HISTOLOGY_ICDO3[code][0], day, ref))
        else:
            why = HISTOLOGY_UNSPECIFIC.get(code, "not in the mapping table")
            evidence.add(Fact("histology", None, day, ref, f"ICD-O-3 {code}: {why}"))
    if not morphology:
        evidence.add(Fact("histology", None, day, ref, "no ICD-O-3 morphology code"))
    note_day = "" if day is not None else "no full onset date"
    evidence.add(Fact("months_from_diagnosis", _onset(cond), day, ref, note_day))
    return True


def _read_secondary(cond, evidence, ref, day, asserted, note, snomed, icd10, brain_ids) -> bool:
    sites = {BODY_SITES[c][0] for c in codings(cond.bodySite) if c in BODY_SITES}
    sites |= {site for code in icd10 if (site := _icd10_site(code))}
    if not sites:
        if asserted is not False:
            shown = ", ".join(c for _, c in codings(cond.bodySite)) or "none"
            evidence.add(
                Fact(
                    "met_other",
                    None,
                    day,
                    ref,
                    f"metastasis at a body site not in the mapping table ({shown})",
                )
            )
        return True
    for site in sorted(sites):
        evidence.add(Fact(site, asserted, day, ref, note))
    if "met_brain" in sites and asserted:
        brain_ids.add(f"Condition/{cond.id}")
    return True


def _icd10_site(code: str) -> str | None:
    if not any(code.startswith(_plain(p)) for p in ("C77", "C78", "C79")):
        return None
    if any(code.startswith(_plain(p)) for p in SECONDARY_ICD10_UNSPECIFIED):
        return None
    return next(
        (col for p, col in SECONDARY_ICD10_SITES.items() if code.startswith(_plain(p))),
        "met_other",
    )


def _finding_columns(snomed: set[str], icd10: list[str]) -> list[str]:
    columns = []
    if snomed & set(CARDIAC_UMBRELLA) or any(
        snomed & set(codes) or _has_prefix(icd10, prefixes)
        for codes, prefixes in CARDIAC_COMPONENTS.values()
    ):
        columns.append("cardiac_disease")
    if snomed & set(INFECTION_SNOMED) or _has_prefix(icd10, INFECTION_ICD10_PREFIXES):
        columns.append("active_infection")
    if snomed & set(ALLOGRAFT_SNOMED) or _has_prefix(icd10, ALLOGRAFT_ICD10_PREFIXES):
        columns.append("organ_allograft")
    return columns


def _read_findings(cond, evidence, ref, day, asserted, note, snomed, icd10, brain_ids) -> bool:
    columns = _finding_columns(snomed, icd10)
    if "cardiac_disease" in columns:
        _read_cardiac(evidence, ref, day, asserted, note, snomed, icd10)
    if "active_infection" in columns:
        _read_infection(cond, evidence, ref, day, asserted, note, snomed)
    if "organ_allograft" in columns:
        umbrella = bool(snomed & set(ALLOGRAFT_SNOMED))
        _add_denial_aware(evidence, "organ_allograft", ref, day, asserted, note, umbrella)
    return bool(columns)


def _read_cardiac(evidence, ref, day, asserted, note, snomed, icd10) -> None:
    umbrella = bool(snomed & set(CARDIAC_UMBRELLA))
    for part, (codes, prefixes) in CARDIAC_COMPONENTS.items():
        key = f"cardiac_disease:{part}"
        if snomed & set(codes) or _has_prefix(icd10, prefixes):
            evidence.add(Fact(key, asserted, day, ref, note))
        elif umbrella and asserted is False:
            evidence.add(Fact(key, False, day, ref))
        elif umbrella:
            evidence.add(
                Fact(
                    key,
                    None,
                    day,
                    ref,
                    f"heart disease not named ({note})"
                    if asserted is None
                    else "heart disease, not saying which",
                )
            )


def _read_infection(cond, evidence, ref, day, asserted, note, snomed) -> None:
    if asserted is None:
        evidence.add(Fact("active_infection", None, day, ref, note))
        return
    if asserted is False:
        umbrella = bool(snomed & set(INFECTION_UMBRELLA))
        _add_denial_aware(evidence, "active_infection", ref, day, False, note, umbrella)
        return
    clinical = code_of(cond.clinicalStatus)
    if clinical in ACTIVE:
        evidence.add(Fact("active_infection", True, day, ref))
    elif clinical in NOT_ACTIVE:
        evidence.note("active_infection", f"{label(ref)} is {clinical}: not an active infection")
    else:
        evidence.add(Fact("active_infection", None, day, ref, "no clinicalStatus"))


def _add_denial_aware(evidence, column, ref, day, asserted, note, umbrella: bool) -> None:
    """An assertion counts; a denial only with the umbrella code (it denies the group)."""
    if asserted is False and not umbrella:
        evidence.note(column, f"{label(ref)} refutes one kind only, not every kind")
        return
    evidence.add(Fact(column, asserted, day, ref, note))
