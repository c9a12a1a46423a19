"""Small readers over FHIR R4 resources: validation with ``fhir.resources`` (its R4B
models: FHIR 4.3, the R4 technical correction), codings, dates, references and the
grouping of resources by patient."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from typing import Any

from pydantic import ValidationError

from model.contract.fhir.codes import ATC, ICD10, ICDO3

SUBJECT_FIELDS = ("subject", "patient")
_ERRORS_SHOWN = 2
MAX_DEPTH = 32  # FHIR resources nest a dozen levels (extensions on extensions at most)


def validate(raw: Any) -> tuple[Any, str | None]:
    """The resource as a validated ``fhir.resources`` model, or None and why not."""
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(raw, dict):
        return None, f"not a JSON object ({type(raw).__name__})"
    kind = raw.get("resourceType")
    try:
        model = get_fhir_model_class(str(kind))
    except ValueError:
        return None, f"unknown resourceType {kind!r}"
    if _depth(raw) > MAX_DEPTH:  # a parser's recursion, not a clinical record: refused
        return None, f"nested deeper than {MAX_DEPTH} levels"
    try:
        return model.model_validate(raw), None
    except (RecursionError, ArithmeticError) as exc:
        return None, f"cannot be validated ({type(exc).__name__})"
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(resource)'}: {e['msg']}"
            for e in exc.errors()[:_ERRORS_SHOWN]
        ]
        more = exc.error_count() - len(problems)
        return None, "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def _depth(value: Any, level: int = 0) -> int:
    """How deep ``value`` nests (stops counting past ``MAX_DEPTH``)."""
    if level > MAX_DEPTH or not isinstance(value, dict | list):
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(item, level + 1) for item in items), default=level)


def resource_label(raw: dict) -> str:
    return f"{raw.get('resourceType', '?')}/{raw.get('id', '?')}"


def codings(concept: Any) -> Iterator[tuple[str, str]]:
    """``(system, code)`` of every coding of a CodeableConcept (or of a list of them)."""
    if concept is None:
        return
    for one in concept if isinstance(concept, list) else (concept,):
        for coding in one.coding or ():
            if coding.code:
                yield (coding.system or ""), coding.code


def is_icd10(system: str) -> bool:
    return system in ICD10


def is_icdo3(system: str) -> bool:
    return system in ICDO3


def is_atc(system: str) -> bool:
    return system in ATC


def code_of(concept: Any) -> str | None:
    """The first code of a CodeableConcept (status-like concepts carry one)."""
    return next((code for _, code in codings(concept)), None)


def day_of(value: Any) -> tuple[date | None, datetime | None]:
    """The calendar day and (when given) the moment of a FHIR date or dateTime; a partial
    date (year or year-month, kept as text by the models) has no day."""
    if isinstance(value, datetime):
        return value.date(), value
    if isinstance(value, date):
        return value, None
    return None, None


def period_days(period: Any) -> tuple[date | None, date | None]:
    if period is None:
        return None, None
    return day_of(period.start)[0], day_of(period.end)[0]


def months_between(earlier: date | datetime, on: date) -> float:
    """Months from ``earlier`` (a day, or a moment: then to the start of the day ``on``)
    to ``on``: days / 30.4375 (the mean Gregorian month) to two decimals, so 56 days
    (8 weeks) give 1.84."""
    if isinstance(earlier, datetime):
        start = datetime.combine(on, time(0), tzinfo=earlier.tzinfo)
        days = (start - earlier).total_seconds() / 86400
    else:
        days = (on - earlier).days
    return round(days / 30.4375, 2)


def moment_of(value: Any) -> date | datetime | None:
    """A full FHIR date or dateTime as it came (a datetime when a time was given)."""
    return value if isinstance(value, date) else None


def completed_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def reference_key(reference: Any) -> str | None:
    """``Type/id`` of a Reference (relative, absolute URL or ``urn:uuid:``)."""
    text = getattr(reference, "reference", None) if reference is not None else None
    if not text:
        return None
    if text.startswith(("urn:uuid:", "urn:oid:")):
        return text
    parts = text.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else text


def raw_subject_key(raw: dict) -> str | None:
    """The patient a raw resource belongs to: its own ``Patient/id``, or its subject."""
    if raw.get("resourceType") == "Patient":
        return f"Patient/{raw.get('id')}"
    for name in SUBJECT_FIELDS:
        ref = raw.get(name)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            text = ref["reference"]
            if text.startswith("urn:"):
                return text
            parts = text.split("/_history/")[0].rstrip("/").split("/")
            return "/".join(parts[-2:])
    return None


def group_by_patient(
    resources: Iterable[dict], full_urls: dict[str, str] | None = None
) -> tuple[list[tuple[str, list[dict]]], list[dict]]:
    """Resources grouped by the patient they belong to (Patients in the order their
    Patient resources come, then groups without one), and the Medication resources
    (shared: any patient's statements may reference them). Resources that name no patient
    are dropped. ``full_urls`` maps a Bundle entry's ``fullUrl`` to its ``Patient/id``."""
    full_urls = full_urls or {}
    groups: dict[str, list[dict]] = {}
    order: dict[str, int] = {}
    shared: list[dict] = []
    for raw in resources:
        if not isinstance(raw, dict):
            continue
        if raw.get("resourceType") == "Medication":
            shared.append(raw)
            continue
        key = raw_subject_key(raw)
        if key is None:
            continue
        key = full_urls.get(key, key)
        if raw.get("resourceType") == "Patient":
            order.setdefault(key, len(order))
        groups.setdefault(key, []).append(raw)
    ranked = sorted(groups.items(), key=lambda item: order.get(item[0], len(order)))
    return ranked, shared
