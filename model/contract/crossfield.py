"""Rules that tie several columns together, written once for a table and one patient.

Each rule takes a mapping of column name to values (a DataFrame, or a dict of scalars
for one patient) and returns True where the row breaks it. Unknown inputs are NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

PATTERN_SUM_TOLERANCE = 1e-6  # so that 33.4 + 33.3 + 33.3 (== 100.00000000000001) passes


@dataclass(frozen=True)
class CrossRule:
    name: str
    columns: tuple[str, ...]  # the first is the column an error is reported against
    message: str
    breaks: Callable[[Mapping], np.ndarray]


def _f(values: Mapping, name: str) -> np.ndarray:
    return np.asarray(values[name], dtype=float)


def _pattern_sum(values: Mapping) -> np.ndarray:
    shares = ("alveolar_pct", "solid_pct", "papillary_pct")
    total = sum(np.nan_to_num(_f(values, c)) for c in shares)
    return total > 100.0 + PATTERN_SUM_TOLERANCE


def _tki_without_washout(values: Mapping) -> np.ndarray:
    return (_f(values, "prior_tki") == 1.0) & np.isnan(_f(values, "months_since_tki"))


def _washout_without_tki(values: Mapping) -> np.ndarray:
    return (_f(values, "prior_tki") == 0.0) & ~np.isnan(_f(values, "months_since_tki"))


CROSS_RULES: tuple[CrossRule, ...] = (
    CrossRule(
        "pattern_sum",
        ("alveolar_pct", "solid_pct", "papillary_pct"),
        "alveolar_pct + solid_pct + papillary_pct must not exceed 100",
        _pattern_sum,
    ),
    CrossRule(
        "washout_required",
        ("months_since_tki", "prior_tki"),
        "months_since_tki is required when prior_tki is true",
        _tki_without_washout,
    ),
    CrossRule(
        "washout_without_tki",
        ("months_since_tki", "prior_tki"),
        "months_since_tki must be empty when prior_tki is false",
        _washout_without_tki,
    ),
)

# ECOG grade -> the Karnofsky band that usually goes with it (Oken 1982 conversion).
_KPS_BAND_FOR_ECOG = {0: (90, 100), 1: (70, 80), 2: (50, 60), 3: (30, 40), 4: (0, 20)}
_KPS_SLACK = 10  # one Karnofsky step either side is ordinary disagreement between raters


def _discordant_performance(values: Mapping) -> np.ndarray:
    ecog, kps = _f(values, "ecog"), _f(values, "karnofsky")
    lo = np.full_like(ecog, np.nan)
    hi = np.full_like(ecog, np.nan)
    for grade, (band_lo, band_hi) in _KPS_BAND_FOR_ECOG.items():
        lo = np.where(ecog == grade, band_lo - _KPS_SLACK, lo)
        hi = np.where(ecog == grade, band_hi + _KPS_SLACK, hi)
    return ~np.isnan(kps) & ((kps < lo) | (kps > hi))


def _untreated_brain_without_brain(values: Mapping) -> np.ndarray:
    return (_f(values, "brain_mets_untreated") == 1.0) & (_f(values, "met_brain") == 0.0)


# Warnings never reject a row; they are reported beside it.
CROSS_WARNINGS: tuple[CrossRule, ...] = (
    CrossRule(
        "performance_discordant",
        ("karnofsky", "ecog"),
        "Karnofsky and ECOG disagree (check which one is current)",
        _discordant_performance,
    ),
    CrossRule(
        "brain_flag_without_brain_mets",
        ("brain_mets_untreated", "met_brain"),
        "brain_mets_untreated is true but met_brain is false: the contraindication needs met_brain",
        _untreated_brain_without_brain,
    ),
)
