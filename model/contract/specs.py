"""How one column of the data contract is specified: kind, unit, ranges, plausibility,
and the vectorised rules generated from them (each with a message naming the rule)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["float", "int", "bool", "choice", "text"]


@dataclass(frozen=True)
class Rule:
    """A vectorised check on one column: ``holds(values)`` is True where the value is
    acceptable (NaN never fails a rule: emptiness is judged separately)."""

    name: str
    message: str
    holds: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data contract (BRIEF.md, "Data contract")."""

    name: str
    kind: Kind
    meaning: str
    unit: str = ""
    may_be_unknown: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    plausible: tuple[float, float] | None = None
    below_plausible_hint: str = ""
    above_plausible_hint: str = ""
    example: object = None
    extra_rules: tuple[Rule, ...] = field(default=())

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Range, step and plausibility rules, each with a message naming the rule."""
        rules: list[Rule] = []
        unit = f" {self.unit}" if self.unit else ""
        if self.ge is not None and self.le is not None:
            lo, hi = self.ge, self.le
            rules.append(
                Rule(
                    "range",
                    f"must be between {fmt(lo)} and {fmt(hi)}{unit}",
                    lambda v, lo=lo, hi=hi: (v >= lo) & (v <= hi),
                )
            )
        elif self.ge is not None:
            lo = self.ge
            rules.append(
                Rule("range", f"must be at least {fmt(lo)}{unit}", lambda v, lo=lo: v >= lo)
            )
        if self.gt is not None:
            lo = self.gt
            rules.append(
                Rule("range", f"must be greater than {fmt(lo)}{unit}", lambda v, lo=lo: v > lo)
            )
        if self.le is not None and self.ge is None:
            hi = self.le
            rules.append(
                Rule("range", f"must be at most {fmt(hi)}{unit}", lambda v, hi=hi: v <= hi)
            )
        if self.kind == "int":
            rules.append(Rule("whole", "must be a whole number", lambda v: v == np.round(v)))
        if self.step is not None:
            step = self.step
            rules.append(
                Rule(
                    "step",
                    f"must be a multiple of {fmt(step)}",
                    lambda v, step=step: np.isclose(np.mod(v, step), 0.0),
                )
            )
        if self.plausible is not None:
            lo, hi = self.plausible
            below = f"; {self.below_plausible_hint}" if self.below_plausible_hint else ""
            above = f"; {self.above_plausible_hint}" if self.above_plausible_hint else ""
            span = f"{fmt(lo)}–{fmt(hi)}{unit}"
            rules.append(
                Rule("plausible", f"is below the plausible {span}{below}", lambda v, lo=lo: v >= lo)
            )
            rules.append(
                Rule("plausible", f"is above the plausible {span}{above}", lambda v, hi=hi: v <= hi)
            )
        return tuple(rules) + self.extra_rules


def fmt(x: float) -> str:
    return f"{x:g}"


def bool_column(
    name: str, meaning: str, *, unknown: bool = False, example: bool = False
) -> ColumnSpec:
    return ColumnSpec(name, "bool", meaning, may_be_unknown=unknown, example=example)


def pct_column(name: str, meaning: str, example: float) -> ColumnSpec:
    return ColumnSpec(
        name, "float", meaning, unit="%", may_be_unknown=True, ge=0, le=100, example=example
    )
