"""Observations (by LOINC, or this project's codes) to facts about contract columns.

Only final, amended or corrected Observations dated on or before the reference date are
read (others are named when the column stays unknown). Quantities are converted by UCUM
(``model.contract.fhir.units``); a flag against a limit of normal compares the value with
the Observation's own reference range, or reads its interpretation code, and the two
must agree.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from model.contract.fhir.codes import (
    ECOG_ANSWERS,
    FINDING_ABNORMAL,
    FINDING_NORMAL,
    INTERPRETATION,
    INTERPRETATION_ABNORMAL,
    INTERPRETATION_HIGH,
    INTERPRETATION_LOW,
    INTERPRETATION_NORMAL,
    KARNOFSKY_ANSWERS,
    KIND_COLUMN,
    LOINC,
    OBSERVATIONS,
)
from model.contract.fhir.evidence import Evidence, Fact, Outcome, label, latest, ref_of
from model.contract.fhir.read import codings, day_of
from model.contract.fhir.units import accepted_units, convert

FINAL_STATUSES = frozenset({"final", "amended", "corrected"})
CALCIUM_PARTS = ("calcium", "calcium_corrected", "albumin")
ALBUMIN_REFERENCE_G_DL = 4.0  # Payne: corrected Ca = Ca + 0.8 × (4.0 − albumin g/dL)
DECIMALS = 4


def observation_kind(obs: Any) -> str | None:
    return next((OBSERVATIONS[c][0] for c in codings(obs.code) if c in OBSERVATIONS), None)


def read_observation(obs: Any, reference_date: date, evidence: Evidence) -> None:
    """Add what one Observation says to ``evidence`` (nothing for codes not mapped)."""
    kind = observation_kind(obs)
    if kind is None:
        return
    key = kind if kind in CALCIUM_PARTS else KIND_COLUMN[kind]
    column = KIND_COLUMN[kind]
    day, at = day_of(obs.effectiveDateTime or obs.effectiveInstant)
    if day is None and obs.effectivePeriod is not None:
        day, at = day_of(obs.effectivePeriod.start)
    ref = ref_of(obs, day)
    if day is None:
        evidence.note(column, f"{label(ref)} has no full effective date: set aside")
        return
    if day > reference_date:
        evidence.note(column, f"{label(ref)} is dated after the reference date: set aside")
        return
    if obs.status not in FINAL_STATUSES:
        evidence.note(column, f"{label(ref)} has status {obs.status}: set aside")
        return
    if obs.dataAbsentReason is not None:
        why = next(iter(codings(obs.dataAbsentReason)), ("", "data absent"))[1]
        evidence.add(Fact(key, None, day, ref, f"dataAbsentReason {why}", at))
        return
    value, note = READERS[kind](obs)
    evidence.add(Fact(key, value, day, ref, note, at))


def corrected_calcium(evidence: Evidence) -> Outcome:
    """Corrected calcium (mg/dL): a direct albumin-corrected result (LOINC 29265-6) or the
    latest total calcium with the albumin measured the same day (Payne's correction)."""
    direct = evidence.facts.get("calcium_corrected", [])
    total = evidence.facts.get("calcium", [])
    dated = [f for f in direct + total if f.day is not None]
    if not dated:
        return Outcome()
    day = max(f.day for f in dated)
    if any(f.day == day for f in direct):
        return latest([f for f in direct if f.day == day])
    calcium = latest([f for f in total if f.day == day])
    if calcium.value is None:
        return calcium
    albumin = latest([f for f in evidence.facts.get("albumin", []) if f.day == day])
    if albumin.value is None:
        why = albumin.reason or f"no albumin measured on {day.isoformat()}, the calcium's day"
        return Outcome(None, calcium.used + albumin.used, f"{why} (albumin corrects calcium)")
    value = calcium.value + 0.8 * (ALBUMIN_REFERENCE_G_DL - albumin.value)
    return Outcome(round(value, DECIMALS), calcium.used + albumin.used)


def _score(answers: dict[str, int]):
    def read(obs: Any) -> tuple[Any, str]:
        answer = next(
            (
                answers.get(c)
                for s, c in codings(obs.valueCodeableConcept)
                if s == LOINC and c in answers
            ),
            None,
        )
        value = obs.valueInteger if obs.valueInteger is not None else answer
        if value is None and obs.valueQuantity is not None and obs.valueQuantity.value is not None:
            value = _whole(obs.valueQuantity.value)
        stated = next(
            (answers[c] for s, c in codings(obs.interpretation) if s == LOINC and c in answers),
            None,
        )
        if value is None and stated is None:
            return None, "no score (valueInteger, or a LOINC answer code)"
        if value is not None and stated is not None and value != stated:
            return None, f"value {value} but its interpretation means {stated}"
        return (value if value is not None else stated), ""

    return read


def _quantity(obs: Any, quantity: str) -> tuple[float | None, str]:
    found = obs.valueQuantity
    if found is None or found.value is None:
        return None, "no valueQuantity"
    if found.comparator:
        return None, f"a bound ({found.comparator}{found.value}), not a value"
    unit = found.code or found.unit
    value = convert(quantity, found.value, unit)
    if value is None:
        return None, f"unit {unit!r} is not one of {accepted_units(quantity)}"
    return value, ""


def _limit(obs: Any, side: str, quantity: str) -> tuple[float | None, str]:
    fallback = obs.valueQuantity.code or obs.valueQuantity.unit if obs.valueQuantity else None
    for reference_range in obs.referenceRange or ():
        bound = getattr(reference_range, side)
        if bound is not None and bound.value is not None:
            unit = bound.code or bound.unit or fallback
            value = convert(quantity, bound.value, unit)
            if value is None:
                units = accepted_units(quantity)
                return None, f"reference range unit {unit!r} is not one of {units}"
            return value, ""
    return None, f"no referenceRange.{side}"


def _amount(quantity: str):
    def read(obs: Any) -> tuple[float | None, str]:
        value, note = _quantity(obs, quantity)
        return (None if value is None else round(value, DECIMALS)), note

    return read


def _ldh(obs: Any) -> tuple[float | None, str]:
    value, note = _quantity(obs, "ldh")
    uln, uln_note = _limit(obs, "high", "ldh")
    if value is None or uln is None or uln <= 0:
        return None, note or uln_note or "upper limit of normal is not positive"
    return round(value / uln, DECIMALS), ""


def _beyond(side: str, quantity: str, flagged: frozenset, within: frozenset):
    """Below the lower (``side`` low) or above the upper limit (high) of normal."""

    def read(obs: Any) -> tuple[bool | None, str]:
        value, note = _quantity(obs, quantity)
        limit, limit_note = _limit(obs, side, quantity)
        by_range = None
        if value is not None and limit is not None:
            by_range = value < limit if side == "low" else value > limit
        codes = {c for s, c in codings(obs.interpretation) if s in (INTERPRETATION, "")}
        by_code = True if codes & flagged else (False if codes & within else None)
        if by_range is None and by_code is None:
            return None, note or limit_note or "neither a reference range nor an interpretation"
        if None not in (by_range, by_code) and by_range != by_code:
            return None, f"its reference range says {by_range} but its interpretation {by_code}"
        return (by_range if by_range is not None else by_code), ""

    return read


def _stress(obs: Any) -> tuple[bool | None, str]:
    found = set(codings(obs.valueCodeableConcept))
    by_value = obs.valueBoolean
    if by_value is None and found & FINDING_ABNORMAL:
        by_value = True
    elif by_value is None and found & FINDING_NORMAL:
        by_value = False
    codes = {c for s, c in codings(obs.interpretation) if s in (INTERPRETATION, "")}
    by_code = (
        True
        if codes & INTERPRETATION_ABNORMAL
        else (False if codes & INTERPRETATION_NORMAL else None)
    )
    if by_value is None and by_code is None:
        return None, "no result (valueBoolean, Normal/Abnormal, or an interpretation)"
    if None not in (by_value, by_code) and by_value != by_code:
        return None, "its value and its interpretation disagree"
    return (by_value if by_value is not None else by_code), ""


READERS = {
    "ecog": _score(ECOG_ANSWERS),
    "karnofsky": _score(KARNOFSKY_ANSWERS),
    "ldh": _ldh,
    "hemoglobin": _beyond(
        "low", "hemoglobin", INTERPRETATION_LOW, INTERPRETATION_NORMAL | INTERPRETATION_HIGH
    ),
    "neutrophils": _beyond(
        "high", "count", INTERPRETATION_HIGH, INTERPRETATION_NORMAL | INTERPRETATION_LOW
    ),
    "platelets": _beyond(
        "high", "count", INTERPRETATION_HIGH, INTERPRETATION_NORMAL | INTERPRETATION_LOW
    ),
    "calcium": _amount("calcium"),
    "calcium_corrected": _amount("calcium"),
    "albumin": _amount("albumin"),
    "creatinine": _amount("creatinine"),
    "fev1": _amount("volume"),
    "fev1_pct": _amount("percent"),
    "caix": _amount("percent"),
    "alveolar": _amount("percent"),
    "solid": _amount("percent"),
    "papillary": _amount("percent"),
    "granular": _amount("percent"),
    "stress_test": _stress,
}


def _whole(number) -> int | None:
    """A score given as a quantity: its value when whole and of a score's size (1e300 and
    the like are no score: unknown)."""
    try:
        return int(number) if abs(number) <= 1000 and number % 1 == 0 else None
    except (ArithmeticError, ValueError):
        return None
