"""Raw JSON read before validation: whether the mapping reads a resource at all (what it
does not read is not validated: a CDS prefetch carries many vital signs), and the
contract columns an invalid resource bears on, by its codes, so that those columns are
unknown (named) instead of settled without it: a broken latest LDH must not let an older
one stand in for it."""

from __future__ import annotations

from typing import Any

from model.contract.fhir.codes import (
    ALLOGRAFT_ICD10_PREFIXES,
    ALLOGRAFT_SNOMED,
    CARDIAC_COMPONENTS,
    CARDIAC_UMBRELLA,
    CHEMOTHERAPY,
    INFECTION_ICD10_PREFIXES,
    INFECTION_SNOMED,
    KIND_COLUMN,
    NEPHRECTOMY,
    OBSERVATIONS,
    RADIOTHERAPY,
    RCC_ICD10_PREFIX,
    RCC_SNOMED,
    SECONDARY_ICD10_PREFIXES,
    SECONDARY_SNOMED,
    SITE_COLUMNS,
    SNOMED,
)
from model.contract.fhir.read import is_icd10
from model.contract.fhir.treatments import medication_groups

READ_TYPES = frozenset(
    {"Patient", "Observation", "Condition", "Procedure", "Medication", "MedicationStatement",
     "MedicationRequest", "MedicationAdministration"}
)  # fmt: skip
MEDICATION_COLUMNS = {
    "tki": ("prior_tki", "months_since_tki"),
    "bevacizumab": ("prior_bevacizumab",),
    "steroid": ("steroids_last_4_weeks",),
    "chemo": ("chemo_radio_last_6_weeks",),
}


def is_read(raw: Any) -> bool:
    """False for a resource the mapping would not read (a FHIR type it does not map, or an
    Observation none of whose codes is in the table): it is neither validated nor listed.
    Anything else, an unknown ``resourceType`` or a malformed one included, is validated."""
    if not isinstance(raw, dict):
        return True
    kind = raw.get("resourceType")
    if not isinstance(kind, str):
        return True  # validated, and so named as invalid
    if kind not in READ_TYPES:
        return not _is_fhir_type(kind)
    if kind == "Observation" and isinstance(raw.get("code"), dict):
        return bool(_codes(raw["code"]) & set(OBSERVATIONS))
    return True


def _is_fhir_type(kind: Any) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return isinstance(kind, str) and get_fhir_model_class(kind) is not None
    except ValueError:
        return False


def columns_of_raw(raw: Any) -> list[str]:
    """Contract columns a (possibly malformed) resource would feed; [] when unreadable."""
    try:
        return _columns(raw)
    except (AttributeError, KeyError, TypeError, ValueError):
        return []


def _codes(concept: Any) -> set[tuple[str, str]]:
    if not isinstance(concept, dict):
        return set()
    return {
        (str(c.get("system", "")), str(c.get("code")))
        for c in concept.get("coding") or ()
        if isinstance(c, dict) and c.get("code")
    }


def _columns(raw: dict) -> list[str]:
    kind = raw.get("resourceType")
    if kind == "Patient":
        return ["age_years", "sex"]
    codes = _codes(raw.get("code")) | _codes(raw.get("medicationCodeableConcept"))
    if kind == "Observation":
        return sorted({KIND_COLUMN[OBSERVATIONS[c][0]] for c in codes if c in OBSERVATIONS})
    if kind == "Condition":
        return _condition_columns(codes)
    if kind == "Procedure":
        snomed = {c for s, c in codes if s == SNOMED}
        columns = ["prior_nephrectomy"] if snomed & set(NEPHRECTOMY) else []
        if snomed & (set(RADIOTHERAPY) | set(CHEMOTHERAPY)):
            columns += ["chemo_radio_last_6_weeks", "brain_mets_untreated"]
        return columns
    if kind in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
        groups = medication_groups(codes, denial=True)
        return [column for group in groups for column in MEDICATION_COLUMNS[group]]
    return []


def _condition_columns(codes: set[tuple[str, str]]) -> list[str]:
    snomed = {c for s, c in codes if s == SNOMED}
    icd10 = [c.replace(".", "").upper() for s, c in codes if is_icd10(s)]

    def prefixed(prefixes) -> bool:
        return any(c.startswith(p.replace(".", "")) for c in icd10 for p in prefixes)

    columns = []
    if snomed & set(RCC_SNOMED) or prefixed((RCC_ICD10_PREFIX,)):
        columns += ["histology", "months_from_diagnosis"]
    if SECONDARY_SNOMED in snomed or prefixed(SECONDARY_ICD10_PREFIXES):
        columns += [*SITE_COLUMNS, "brain_mets_untreated"]
    cardiac_codes = set(CARDIAC_UMBRELLA).union(*(c for c, _ in CARDIAC_COMPONENTS.values()))
    cardiac_prefixes = [p for _, prefixes in CARDIAC_COMPONENTS.values() for p in prefixes]
    if snomed & cardiac_codes or prefixed(cardiac_prefixes):
        columns.append("cardiac_disease")
    if snomed & set(INFECTION_SNOMED) or prefixed(INFECTION_ICD10_PREFIXES):
        columns.append("active_infection")
    if snomed & set(ALLOGRAFT_SNOMED) or prefixed(ALLOGRAFT_ICD10_PREFIXES):
        columns.append("organ_allograft")
    return columns
