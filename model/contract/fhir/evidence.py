"""What the resources say about each contract column, and how it is settled.

A resource gives ``Fact``s: a value for a column (or None when the resource is about the
column but cannot settle it, with the reason) on a day. ``latest`` takes the latest day
on or before the reference date; several facts that day must agree (with times, the
latest time wins), or the column is unknown and the contradiction is named. ``flag``
settles a yes/no finding from assertions and denials, ``any_of`` joins findings with
three-valued OR.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


def ref_of(resource: Any, day: date | None) -> dict:
    """How a resource is named in ``MappedPatient.used``."""
    return {
        "resourceType": resource.get_resource_type(),
        "id": resource.id,
        "date": day.isoformat() if day else None,
    }


def label(ref: dict) -> str:
    when = f" ({ref['date']})" if ref.get("date") else ""
    return f"{ref['resourceType']}/{ref['id']}{when}"


@dataclass(frozen=True)
class Fact:
    """``value`` for ``column`` from one resource; None with ``note`` when the resource
    bears on the column but cannot settle it."""

    column: str
    value: Any
    day: date | None
    ref: dict
    note: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """A settled column: its value (None: unknown), the resources behind it, and why it is
    unknown (None when known, or when nothing bore on it)."""

    value: Any = None
    used: tuple[dict, ...] = ()
    reason: str | None = None


@dataclass
class Evidence:
    """Facts by column, treatment exposures, and notes on resources that were read but
    set aside."""

    facts: dict[str, list[Fact]] = field(default_factory=lambda: defaultdict(list))
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    exposures: list = field(default_factory=list)  # fhir_treatments.Exposure

    def add(self, fact: Fact) -> None:
        self.facts[fact.column].append(fact)

    def note(self, column: str, text: str) -> None:
        self.notes[column].append(text)


def latest(facts: list[Fact]) -> Outcome:
    """The value of the latest day's facts (they are dated on or before the reference
    date already); disagreeing facts on that day make it unknown."""
    dated = [f for f in facts if f.day is not None]
    if not dated:
        return Outcome()
    day = max(f.day for f in dated)
    same_day = [f for f in dated if f.day == day]
    if len(same_day) > 1 and all(f.at is not None for f in same_day):
        moment = max(f.at for f in same_day)
        same_day = [f for f in same_day if f.at == moment]
    return agree(same_day)


def agree(facts: list[Fact]) -> Outcome:
    """One value if every fact gives it; unknown (named) if any cannot settle it or they
    disagree."""
    used = tuple(f.ref for f in facts)
    blind = [f for f in facts if f.value is None]
    if blind:
        return Outcome(None, used, "; ".join(f"{label(f.ref)}: {f.note}" for f in blind))
    values = {_comparable(f.value) for f in facts}
    if len(values) > 1:
        shown = ", ".join(f"{label(f.ref)} gives {_show(f.value)}" for f in facts)
        return Outcome(None, used, f"contradictory: {shown}")
    return Outcome(facts[0].value, used)


def flag(facts: list[Fact]) -> Outcome:
    """A yes/no finding from assertions (True), denials (False) and resources that bear on
    it without settling it (None): an assertion and a denial together are a
    contradiction; an assertion settles it otherwise; a denial only when nothing leaves it
    open."""
    if not facts:
        return Outcome()
    used = tuple(f.ref for f in facts)
    yes = [f for f in facts if f.value is True]
    no = [f for f in facts if f.value is False]
    open_ = [f for f in facts if f.value is None]
    if yes and no:
        said = [f"{label(f.ref)} {'asserts' if f.value else 'denies'} it" for f in yes + no]
        shown = ", ".join(said)
        return Outcome(None, used, f"contradictory: {shown}")
    if yes:
        return Outcome(True, used)
    if open_:
        return Outcome(None, used, "; ".join(f"{label(f.ref)}: {f.note}" for f in open_))
    return Outcome(False, used)


def any_of(parts: dict[str, Outcome]) -> Outcome:
    """Three-valued OR: true if any part is, false if every part is, else unknown (the
    unknown parts named)."""
    used = tuple(ref for part in parts.values() for ref in part.used)
    if any(part.value is True for part in parts.values()):
        return Outcome(True, used)
    if all(part.value is False for part in parts.values()):
        return Outcome(False, used)
    missing = [
        f"{name}: {part.reason or 'nothing recorded'}"
        for name, part in parts.items()
        if part.value is None
    ]
    return Outcome(None, used, "; ".join(missing))


def _comparable(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)
