"""Three-valued (Kleene) logic on float arrays: 1.0 true, 0.0 false, NaN unknown.

BRIEF "Unknown inputs": a derived value is unknown only when the missing inputs could
change it, which is exactly Kleene's strong logic: ``false AND unknown`` is false,
``true OR unknown`` is true.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

UNKNOWN = np.nan


@dataclass(frozen=True)
class Atom:
    """A three-valued predicate and the inputs that would settle it when unknown."""

    value: np.ndarray
    inputs: tuple[str, ...] = ()


def column(values: Mapping, name: str, n_rows: int) -> np.ndarray:
    """A column as floats (bools as 1/0, unknown as NaN); an absent column is unknown."""
    if name not in values:
        return np.full(n_rows, np.nan)
    col = values[name]
    if hasattr(col, "to_numpy"):
        return col.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(col, dtype=float)


_COMPARISONS = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
}


def compare(x: np.ndarray, op: str, threshold: float) -> np.ndarray:
    """``x op threshold`` with NaN propagating as unknown (a comparison with NaN is
    false without a warning; the NaN is put back)."""
    x = np.asarray(x, dtype=float)
    return np.where(np.isnan(x), UNKNOWN, _COMPARISONS[op](x, threshold).astype(float))


def _any(masks: list[np.ndarray]) -> np.ndarray:
    result = masks[0]
    for mask in masks[1:]:
        result = result | mask
    return result


def all_of(*terms: np.ndarray) -> np.ndarray:
    """Kleene AND: false if any term is false, else unknown if any is unknown."""
    any_false = _any([np.asarray(t) == 0.0 for t in terms])
    any_unknown = _any([np.isnan(t) for t in terms])
    return np.where(any_false, 0.0, np.where(any_unknown, UNKNOWN, 1.0))


def any_of(*terms: np.ndarray) -> np.ndarray:
    """Kleene OR: true if any term is true, else unknown if any is unknown."""
    any_true = _any([np.asarray(t) == 1.0 for t in terms])
    any_unknown = _any([np.isnan(t) for t in terms])
    return np.where(any_true, 1.0, np.where(any_unknown, UNKNOWN, 0.0))


def negate(x: np.ndarray) -> np.ndarray:
    return 1.0 - x


def count_true(*terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of how many terms are true: (known trues, known trues + unknowns)."""
    low = sum((np.asarray(t) == 1.0).astype(np.int64) for t in terms)
    unknown = sum(np.isnan(t).astype(np.int64) for t in terms)
    return low, low + unknown
