"""Each contract column settled from the evidence of one patient's resources, and, when
it stays unknown, why and which resource would settle it."""

from __future__ import annotations

from datetime import date
from typing import Any

from model.contract.fhir.codes import CARDIAC_COMPONENTS, KIND_COLUMN, SITE_COLUMNS, TKI_DRUGS
from model.contract.fhir.evidence import Evidence, Fact, Outcome, agree, any_of, flag, latest
from model.contract.fhir.history import ever, months_since_last, within
from model.contract.fhir.observations import corrected_calcium
from model.contract.fhir.read import months_between

STEROID_DAYS = 28  # BRIEF: systemic corticosteroids in the last 4 weeks
CHEMO_RADIO_DAYS = 42  # BRIEF: chemotherapy or radiotherapy in the last 6 weeks
_SECONDARY = "an mCODE secondary cancer Condition (SNOMED 128462008) with bodySite"
SETTLED_BY = {
    "age_years": "Patient.birthDate (a full date)",
    "sex": "Patient.gender (male or female)",
    "ecog": "an mCODE ECOG Observation (LOINC 89247-1)",
    "karnofsky": "an mCODE Karnofsky Observation (LOINC 89243-0)",
    "months_from_diagnosis": "the RCC Condition (ICD-10 C64 or SNOMED 363518003) onsetDateTime",
    "ldh_uln_ratio": "an LDH Observation (LOINC 2532-0) with referenceRange.high",
    "hemoglobin_below_lln": "a haemoglobin Observation (LOINC 718-7) with referenceRange.low "
    "or an interpretation code",
    "corrected_calcium_mg_dl": "a calcium Observation (LOINC 17861-6 or 2000-8) with an "
    "albumin Observation (LOINC 1751-7) the same day, or LOINC 29265-6",
    "histology": "the RCC Condition's ICD-O-3 morphology (mCODE histology-morphology-behavior)",
    "alveolar_pct": "an Observation il2select#alveolar-pct (%)",
    "solid_pct": "an Observation il2select#solid-pct (%)",
    "papillary_pct": "an Observation il2select#papillary-pct (%)",
    "granular_pct": "an Observation il2select#granular-pct (%)",
    "caix_pct": "an Observation il2select#caix-pct (%)",
    "met_lung": f"{_SECONDARY} lung (SNOMED 39607008), confirmed or refuted",
    "met_bone": f"{_SECONDARY} bone (SNOMED 272673000), confirmed or refuted",
    "met_liver": f"{_SECONDARY} liver (SNOMED 10200004), confirmed or refuted",
    "met_lymph_node": f"{_SECONDARY} lymph node (SNOMED 59441001), confirmed or refuted",
    "met_brain": f"{_SECONDARY} brain (SNOMED 12738006), confirmed or refuted",
    "met_other": f"{_SECONDARY} il2select#other-organ (or a mapped organ), confirmed or refuted",
    "brain_mets_untreated": "a Procedure on the brain metastases (bodySite brain or "
    "reasonReference): completed (treated) or not-done (untreated)",
    "prior_nephrectomy": "a nephrectomy Procedure (SNOMED 175905003), completed or not-done",
    "prior_tki": "MedicationStatements of sunitinib / sorafenib / pazopanib (RxNorm or ATC), "
    "or one not-taken coded ATC L01EX",
    "months_since_tki": "the last TKI MedicationStatement's effectivePeriod.end",
    "prior_bevacizumab": "a bevacizumab MedicationStatement (RxNorm 253337 / ATC L01FG01), "
    "or one not-taken coded ATC L01FG",
    "creatinine_mg_dl": "a creatinine Observation (LOINC 2160-0 or 14682-9)",
    "neutrophils_above_uln": "a neutrophil count Observation (LOINC 751-8) with "
    "referenceRange.high or an interpretation code",
    "platelets_above_uln": "a platelet count Observation (LOINC 777-3) with "
    "referenceRange.high or an interpretation code",
    "fev1_litres": "an FEV1 Observation (LOINC 20150-9)",
    "fev1_pct_predicted": "an FEV1 % predicted Observation (LOINC 20152-5)",
    "cardiac_stress_abnormal": "a stress test Observation (CPT 93350 or "
    "il2select#cardiac-stress-test) reading Normal or Abnormal",
    "cardiac_disease": "Conditions heart failure / arrhythmia / ischaemic heart disease, "
    "confirmed, or a refuted Heart disease (SNOMED 56265001)",
    "active_infection": "an active infection Condition, or a refuted Infectious disease "
    "(SNOMED 40733004)",
    "organ_allograft": "a Condition SNOMED 161663000 (organ recipient), confirmed or refuted",
    "steroids_last_4_weeks": "systemic corticosteroid MedicationStatements, or one not-taken "
    "coded ATC H02AB",
    "chemo_radio_last_6_weeks": "chemotherapy and radiotherapy Procedures (SNOMED 367336001, "
    "108290001), done with dates or not-done",
}
LATEST_COLUMNS = tuple(sorted({c for c in KIND_COLUMN.values() if c != "corrected_calcium_mg_dl"}))


def settle_columns(evidence: Evidence, on: date) -> dict[str, Outcome]:
    """Every column but age, sex and patient_id (the Patient's) settled from evidence."""
    facts = evidence.facts
    out = {column: latest(facts.get(column, [])) for column in LATEST_COLUMNS}
    out["corrected_calcium_mg_dl"] = corrected_calcium(evidence)
    out["histology"] = _categorical(facts.get("histology", []))
    out["months_from_diagnosis"] = _since_diagnosis(facts.get("months_from_diagnosis", []), on)
    out.update({site: flag(facts.get(site, [])) for site in SITE_COLUMNS})
    out["brain_mets_untreated"] = _brain_untreated(out["met_brain"], facts.get("brain_treated", []))
    for column in ("prior_nephrectomy", "active_infection", "organ_allograft"):
        out[column] = flag(facts.get(column, []))
    out["cardiac_disease"] = any_of(
        {part: flag(facts.get(f"cardiac_disease:{part}", [])) for part in CARDIAC_COMPONENTS}
    )
    exposures = evidence.exposures
    out["prior_tki"] = ever(exposures, "tki", tuple(TKI_DRUGS))
    out["months_since_tki"] = _washout(out["prior_tki"], exposures, on)
    out["prior_bevacizumab"] = ever(exposures, "bevacizumab", ("bevacizumab",))
    out["steroids_last_4_weeks"] = within(exposures, ("steroid",), STEROID_DAYS, on)
    out["chemo_radio_last_6_weeks"] = any_of(
        {
            "chemotherapy": within(exposures, ("chemo",), CHEMO_RADIO_DAYS, on),
            "radiotherapy": within(exposures, ("radiotherapy",), CHEMO_RADIO_DAYS, on),
        }
    )
    return out


def reason_for(column: str, outcome: Outcome, evidence: Evidence) -> str:
    """Why ``column`` is unknown and what would settle it."""
    why = outcome.reason or "nothing recorded"
    notes = evidence.notes.get(column, [])
    if notes:
        why += "; set aside: " + "; ".join(notes)
    return f"{why}. Settled by {SETTLED_BY[column]}"


def _categorical(facts: list[Fact]) -> Outcome:
    """One value from every resource that names one (the others are named only when no
    resource names one)."""
    named = [f for f in facts if f.value is not None]
    return agree(named or facts) if facts else Outcome()


def _since_diagnosis(facts: list[Fact], on: date) -> Outcome:
    dated = [f for f in facts if f.value is not None]
    if not dated:
        return agree(facts) if facts else Outcome()
    first = min(dated, key=lambda f: f.day)  # the initial diagnosis
    return Outcome(months_between(first.value, on), (first.ref,))


def _brain_untreated(met_brain: Outcome, facts: list[Fact]) -> Outcome:
    """No brain metastases: none untreated. With them: untreated unless a Procedure
    treated them (a not-done one says untreated)."""
    if met_brain.value is False:
        return Outcome(False, met_brain.used)
    treated = flag(facts)
    if met_brain.value is None:
        why = met_brain.reason or "brain metastases not recorded either way"
        return Outcome(None, met_brain.used + treated.used, f"met_brain unknown: {why}")
    if treated.value is None:
        why = treated.reason or "no Procedure on the brain metastases"
        return Outcome(None, met_brain.used + treated.used, why)
    return Outcome(not treated.value, met_brain.used + treated.used)


def _washout(prior_tki: Outcome, exposures: list, on: date) -> Outcome:
    if prior_tki.value is True:
        return months_since_last(exposures, "tki", on)
    if prior_tki.value is False:
        return Outcome(None, (), None)  # no TKI: no wash-out, nothing unknown
    return Outcome(None, (), f"prior TKI unknown ({prior_tki.reason or 'nothing recorded'})")


def typed(kind: str, value: Any) -> Any:
    """A settled value in the JSON type the contract's column takes."""
    if value is None:
        return None
    return {"int": int, "float": float, "bool": bool}.get(kind, str)(value)
