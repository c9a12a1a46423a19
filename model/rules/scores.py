"""Prognostic and histological scores (BRIEF "Predictors of response to HD IL-2").

Every function takes a mapping of column name to array (a DataFrame or a dict of
arrays) and returns three-valued float arrays (1 true, 0 false, NaN unknown) or, for
groups, codes with -1 for unknown, plus the atoms whose unknown inputs would settle it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from model.rules.logic import Atom, all_of, any_of, column, compare, count_true

MSKCC_RISK = ("favourable", "intermediate", "poor")
IMDC_RISK = MSKCC_RISK  # the same three groups, by the same counts
UPTON_GROUPS = ("good", "intermediate", "poor")
MANCHESTER_HISTOLOGY = ("unfavourable", "favourable")
CAIX_HIGH_ABOVE_PCT = 85.0
MET_COLUMNS = ("met_lung", "met_bone", "met_liver", "met_lymph_node", "met_brain", "met_other")


@dataclass(frozen=True)
class Score:
    """A derived value: its code per row (-1 or NaN when unknown) and its atoms."""

    value: np.ndarray
    atoms: tuple[Atom, ...]


def _risk_group(n_factors: np.ndarray) -> np.ndarray:
    # MSKCC (Motzer) and IMDC (Heng) alike: 0 favourable, 1-2 intermediate, >= 3 poor
    return np.where(n_factors >= 3, 2, np.where(n_factors >= 1, 1, 0))


def _karnofsky_below_80(values: Mapping, n: int) -> Atom:
    """KPS < 80; with Karnofsky unknown, ECOG >= 2 counts, ECOG 0 does not, ECOG 1 is
    unknown (BRIEF "Unknown inputs")."""
    kps = column(values, "karnofsky", n)
    ecog = column(values, "ecog", n)
    from_ecog = np.where(ecog >= 2, 1.0, np.where(ecog == 0, 0.0, np.nan))
    return Atom(np.where(np.isnan(kps), from_ecog, compare(kps, "<", 80.0)), ("karnofsky",))


def _shared_factors(values: Mapping, n: int) -> tuple[Atom, ...]:
    """The factors MSKCC and IMDC share: Hb < LLN, corrected calcium > 10 mg/dL (IMDC's
    "above the ULN" read with MSKCC's threshold, as the brief does), diagnosis to
    systemic therapy < 1 year."""
    return (
        Atom(column(values, "hemoglobin_below_lln", n), ("hemoglobin_below_lln",)),
        Atom(
            compare(column(values, "corrected_calcium_mg_dl", n), ">", 10.0),
            ("corrected_calcium_mg_dl",),
        ),
        Atom(
            compare(column(values, "months_from_diagnosis", n), "<", 12.0),
            ("months_from_diagnosis",),
        ),
    )


def mskcc_atoms(values: Mapping, n: int) -> tuple[Atom, ...]:
    """MSKCC (Motzer): one point each for KPS < 80, LDH > 1.5 x ULN, Hb < LLN,
    corrected calcium > 10 mg/dL, diagnosis to systemic therapy < 1 year."""
    ldh = Atom(compare(column(values, "ldh_uln_ratio", n), ">", 1.5), ("ldh_uln_ratio",))
    return (_karnofsky_below_80(values, n), ldh, *_shared_factors(values, n))


def imdc_atoms(values: Mapping, n: int) -> tuple[Atom, ...]:
    """IMDC (Heng): one point each for KPS < 80, diagnosis to systemic therapy < 1 year,
    Hb < LLN, corrected calcium > 10 mg/dL, neutrophils > ULN, platelets > ULN."""
    return (
        _karnofsky_below_80(values, n),
        *_shared_factors(values, n),
        Atom(column(values, "neutrophils_above_uln", n), ("neutrophils_above_uln",)),
        Atom(column(values, "platelets_above_uln", n), ("platelets_above_uln",)),
    )


def _risk_score(atoms: tuple[Atom, ...]) -> tuple[Score, Score]:
    """Risk-factor count (NaN when unknown) and risk group code (0 favourable,
    1 intermediate, 2 poor, -1 when the unknown factors could change the group)."""
    low, high = count_true(*(a.value for a in atoms))
    count = np.where(low == high, low.astype(float), np.nan)
    group_low, group_high = _risk_group(low), _risk_group(high)
    group = np.where(group_low == group_high, group_low, -1)
    return Score(count, atoms), Score(group, atoms)


def score_mskcc(values: Mapping, n: int) -> tuple[Score, Score]:
    """MSKCC (Motzer) risk-factor count 0-5 and risk group (see ``_risk_score``)."""
    return _risk_score(mskcc_atoms(values, n))


def score_imdc(values: Mapping, n: int) -> tuple[Score, Score]:
    """IMDC (Heng) risk-factor count 0-6 and risk group (see ``_risk_score``)."""
    return _risk_score(imdc_atoms(values, n))


def is_clear_cell(values: Mapping) -> np.ndarray:
    return np.asarray(values["histology"], dtype=object) == "clear_cell"


def score_upton(values: Mapping, n: int) -> Score:
    """Upton: good = clear cell, alveolar > 50 %, no granular, no papillary component;
    poor = non-clear-cell, any papillary, granular > 50 % or no alveolar component;
    intermediate = every other clear-cell tumour. Codes 0 good, 1 intermediate, 2 poor."""
    clear = is_clear_cell(values).astype(float)
    alveolar = column(values, "alveolar_pct", n)
    papillary = column(values, "papillary_pct", n)
    granular = column(values, "granular_pct", n)
    pap_any = Atom(compare(papillary, ">", 0.0), ("papillary_pct",))
    gran_over_50 = Atom(compare(granular, ">", 50.0), ("granular_pct",))
    alv_none = Atom(compare(alveolar, "==", 0.0), ("alveolar_pct",))
    alv_over_50 = Atom(compare(alveolar, ">", 50.0), ("alveolar_pct",))
    gran_none = Atom(compare(granular, "==", 0.0), ("granular_pct",))
    poor = any_of(1.0 - clear, pap_any.value, gran_over_50.value, alv_none.value)
    good = all_of(clear, alv_over_50.value, gran_none.value, 1.0 - pap_any.value)
    group = np.where(
        poor == 1.0,
        2,
        np.where(poor == 0.0, np.where(good == 1.0, 0, np.where(good == 0.0, 1, -1)), -1),
    )
    return Score(group, (pap_any, gran_over_50, alv_none, alv_over_50, gran_none))


def score_manchester(values: Mapping, n: int) -> tuple[Score, Score]:
    """Manchester modified histology: one point each for (a) alveolar + solid > 50 % and
    (b) granular < 50 %, counted for clear cell only (NaN otherwise). Favourable = clear
    cell with score 2 and papillary <= 10 %. Returns (score, favourable 1/0/NaN)."""
    clear = is_clear_cell(values)
    alveolar = column(values, "alveolar_pct", n)
    solid = column(values, "solid_pct", n)
    known_share = np.nan_to_num(alveolar) + np.nan_to_num(solid)
    share_unknown = np.isnan(alveolar) | np.isnan(solid)
    # known parts alone above 50 % settle (a) whatever the unknown part is
    point_a = np.where(known_share > 50.0, 1.0, np.where(share_unknown, np.nan, 0.0))
    atom_a = Atom(point_a, ("alveolar_pct", "solid_pct"))
    atom_b = Atom(compare(column(values, "granular_pct", n), "<", 50.0), ("granular_pct",))
    low, high = count_true(atom_a.value, atom_b.value)
    score = np.where(clear & (low == high), low.astype(float), np.nan)
    pap_low = Atom(compare(column(values, "papillary_pct", n), "<=", 10.0), ("papillary_pct",))
    favourable = all_of(clear.astype(float), atom_a.value, atom_b.value, pap_low.value)
    return Score(score, (atom_a, atom_b)), Score(favourable, (atom_a, atom_b, pap_low))


def score_caix(values: Mapping, n: int) -> Score:
    """CAIX high: more than 85 % of tumour cells positive (Bui et al.)."""
    atom = Atom(compare(column(values, "caix_pct", n), ">", CAIX_HIGH_ABOVE_PCT), ("caix_pct",))
    return Score(atom.value, (atom,))


def count_metastatic_organs(values: Mapping, n: int) -> np.ndarray:
    return sum(column(values, name, n) for name in MET_COLUMNS)
