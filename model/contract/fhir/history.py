"""Treatment history settled from exposures: ever taken (prior TKI, prior bevacizumab),
taken within a window before the reference date (steroids 4 weeks, chemotherapy or
radiotherapy 6 weeks), and the last TKI dose (wash-out).

A drug's records are read as its whole history once any exist: a course that ended
before the window says "not in the window". A record with no dates cannot place the drug
in or out of a window, and a TKI course with no end date leaves the wash-out unknown.
"""

from __future__ import annotations

from datetime import date, timedelta

from model.contract.fhir.evidence import Outcome, label
from model.contract.fhir.read import months_between
from model.contract.fhir.treatments import EVERY, Exposure


def ever(exposures: list[Exposure], group: str, drugs: tuple[str, ...]) -> Outcome:
    """Ever taken any of ``drugs`` of ``group`` before the reference date."""
    mine = [e for e in exposures if e.group == group]
    if not mine:
        return Outcome()
    used = tuple(e.ref for e in mine)
    taken = [e for e in mine if e.taken is True]
    denied = {d for e in mine if e.taken is False for d in e.drugs}
    clash = [e for e in taken if EVERY in denied or set(e.drugs) & denied]
    if clash:
        return Outcome(None, used, _contradiction(clash, mine))
    if taken:
        return Outcome(True, used)
    open_ = [e for e in mine if e.taken is None]
    if open_:
        return Outcome(None, used, "; ".join(f"{label(e.ref)}: {e.note}" for e in open_))
    if EVERY in denied or set(drugs) <= denied:
        return Outcome(False, used)
    missing = ", ".join(sorted(set(drugs) - denied))
    return Outcome(None, used, f"recorded as not taken only in part; nothing on {missing}")


def within(exposures: list[Exposure], groups: tuple[str, ...], days: int, on: date) -> Outcome:
    """Taken (or done) in the ``days`` before ``on``, for each of ``groups`` together."""
    first = on - timedelta(days=days)
    mine = [e for e in exposures if e.group in groups]
    if not mine:
        return Outcome()
    used = tuple(e.ref for e in mine)
    inside, before, open_ = [], [], []
    for e in (e for e in mine if e.taken is True):
        last = on if e.ongoing else (e.end or e.start)
        if last is not None and last >= first:
            inside.append(e)
        elif e.end is not None:  # ended before the window
            before.append(e)
        else:
            open_.append(e)
    denials = [e for e in mine if e.taken is False and not (e.end and e.end < first)]
    if inside and denials:
        return Outcome(None, used, _contradiction(inside, denials))
    if inside:
        return Outcome(True, used)
    open_ += [e for e in mine if e.taken is None]
    if open_:
        shown = "; ".join(f"{label(e.ref)}: {e.note or 'no end date'}" for e in open_)
        return Outcome(None, used, shown)
    return Outcome(False, used) if before or denials else Outcome()


def months_since_last(exposures: list[Exposure], group: str, on: date) -> Outcome:
    """Months from the last dose of ``group`` to ``on`` (0 while it is still taken)."""
    taken = [e for e in exposures if e.group == group and e.taken is True]
    used = tuple(e.ref for e in taken)
    if any(e.ongoing or (e.end is not None and e.end >= on) for e in taken):
        return Outcome(0.0, used)
    undated = [e for e in taken if e.end is None]
    if undated:
        shown = ", ".join(label(e.ref) for e in undated)
        return Outcome(None, used, f"no end date (last dose) on {shown}")
    if not taken:
        return Outcome()
    last = max(taken, key=lambda e: e.end)
    return Outcome(months_between(last.last or last.end, on), used)


def _contradiction(said: list[Exposure], against: list[Exposure]) -> str:
    yes = ", ".join(label(e.ref) for e in said)
    no = ", ".join(label(e.ref) for e in against if e.taken is False)
    return f"contradictory: taken per {yes}, not taken per {no}"
