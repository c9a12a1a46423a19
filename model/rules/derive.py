"""The clinical rules of the brief, vectorised: every derived column at once.

``derive`` works on plain arrays (a DataFrame or a dict of one-element arrays for one
patient: the same code path, cheap enough for a request); ``derive_columns`` formats the
result as the brief's derived columns. A derived value is unknown only when the unknown
inputs could change it; ``needed_inputs`` names the inputs that would settle the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.contract.columns import UNKNOWABLE_COLUMNS
from model.rules.eligibility import CAUTIONS, CONTRAINDICATIONS, evaluate
from model.rules.logic import Atom, any_of, column, count_true, negate
from model.rules.pathway import PATHWAY_LINES, PATHWAYS, choose_pathway
from model.rules.scores import (
    IMDC_RISK,
    MANCHESTER_HISTOLOGY,
    MSKCC_RISK,
    UPTON_GROUPS,
    count_metastatic_organs,
    is_clear_cell,
    score_caix,
    score_imdc,
    score_manchester,
    score_mskcc,
    score_upton,
)

RULES_VERSION = "brief-2026.2"  # .2: IMDC (Heng) beside MSKCC
LIST_SEPARATOR = ";"
DERIVED_COLUMNS = (
    "mskcc_risk_factors",
    "mskcc_risk",
    "imdc_risk_factors",
    "imdc_risk",
    "upton_group",
    "manchester_good_features",
    "manchester_histology",
    "caix_high",
    "n_metastatic_organs",
    "il2_contraindications",
    "il2_cautions",
    "il2_eligible",
    "manchester_pathway",
    "pathway_first_line",
    "pathway_second_line",
    "pathway_third_line",
    "needed_inputs",
)


@dataclass(frozen=True)
class Derived:
    """Derived values as arrays: three-valued floats (NaN unknown) or codes (-1 unknown)."""

    mskcc_risk_factors: np.ndarray
    mskcc_risk: np.ndarray
    mskcc_poor: np.ndarray
    imdc_risk_factors: np.ndarray
    imdc_risk: np.ndarray
    upton_group: np.ndarray
    manchester_good_features: np.ndarray
    manchester_favourable: np.ndarray
    caix_high: np.ndarray
    n_metastatic_organs: np.ndarray
    contraindications: dict[str, np.ndarray]
    cautions: dict[str, np.ndarray]
    il2_eligible: np.ndarray
    manchester_pathway: np.ndarray
    needed: dict[str, np.ndarray]

    def take(self, rows: np.ndarray) -> Derived:
        """The derived values of some rows."""

        def pick(value):
            return (
                {k: v[rows] for k, v in value.items()} if isinstance(value, dict) else value[rows]
            )

        return Derived(**{f: pick(getattr(self, f)) for f in self.__dataclass_fields__})


def derive(values: Mapping, n_rows: int | None = None) -> Derived:
    """All clinical rules of the brief on a table of inputs (unknown = NaN/None)."""
    n = len(values["ecog"]) if n_rows is None else n_rows
    factors, risk = score_mskcc(values, n)
    low, high = count_true(*(a.value for a in risk.atoms))
    poor = np.where(low >= 3, 1.0, np.where(high < 3, 0.0, np.nan))
    imdc_factors, imdc_risk = score_imdc(values, n)
    upton = score_upton(values, n)
    good_features, favourable = score_manchester(values, n)
    caix = score_caix(values, n)
    contra = evaluate(CONTRAINDICATIONS, values, n)
    cautions = evaluate(CAUTIONS, values, n)
    eligible = negate(any_of(*(value for value, _ in contra.values())))
    pathway = choose_pathway(poor, eligible, favourable.value)
    clear = is_clear_cell(values)
    unknown_parts = [
        (np.isnan(factors.value), factors.atoms),
        (np.isnan(imdc_factors.value), imdc_factors.atoms),
        (upton.value == -1, upton.atoms),
        (clear & np.isnan(good_features.value), good_features.atoms),
        (np.isnan(favourable.value), favourable.atoms),
        (np.isnan(caix.value), caix.atoms),
        *((np.isnan(value), atoms) for value, atoms in contra.values()),
        *((np.isnan(value), atoms) for value, atoms in cautions.values()),
    ]
    return Derived(
        mskcc_risk_factors=factors.value,
        mskcc_risk=risk.value,
        mskcc_poor=poor,
        imdc_risk_factors=imdc_factors.value,
        imdc_risk=imdc_risk.value,
        upton_group=upton.value,
        manchester_good_features=good_features.value,
        manchester_favourable=favourable.value,
        caix_high=caix.value,
        n_metastatic_organs=count_metastatic_organs(values, n),
        contraindications={k: v for k, (v, _) in contra.items()},
        cautions={k: v for k, (v, _) in cautions.items()},
        il2_eligible=eligible,
        manchester_pathway=pathway,
        needed=_needed_inputs(values, n, unknown_parts),
    )


def _needed_inputs(
    values: Mapping, n: int, parts: list[tuple[np.ndarray, tuple[Atom, ...]]]
) -> dict[str, np.ndarray]:
    """An input is needed where a derived value is unknown and one of its unknown atoms
    rests on that (unknown) input."""
    needed = {name: np.zeros(n, dtype=bool) for name in UNKNOWABLE_COLUMNS}
    missing = {name: np.isnan(column(values, name, n)) for name in UNKNOWABLE_COLUMNS}
    for unknown, atoms in parts:
        for atom in atoms:
            atom_unknown = unknown & np.isnan(atom.value)
            for name in atom.inputs:
                if name in needed:
                    needed[name] |= atom_unknown & missing[name]
    return needed


def derive_columns(frame: Mapping) -> pd.DataFrame:
    """The brief's derived columns, one row per input row, lists joined with ';'.

    Columns with no unknown value use plain bool/int types; otherwise nullable ones.
    """
    return derived_table(derive(frame), frame.index if isinstance(frame, pd.DataFrame) else None)


def derived_table(derived: Derived, index=None) -> pd.DataFrame:
    """``derive_columns`` of values already derived (``index`` for the frame's rows)."""
    pathway = derived.manchester_pathway
    lines = {
        key: _labels(pathway, tuple(PATHWAY_LINES[p][i] for p in PATHWAYS))
        for i, key in enumerate(("pathway_first_line", "pathway_second_line", "pathway_third_line"))
    }
    columns = {
        "mskcc_risk_factors": _count(derived.mskcc_risk_factors),
        "mskcc_risk": _labels(derived.mskcc_risk, MSKCC_RISK),
        "imdc_risk_factors": _count(derived.imdc_risk_factors),
        "imdc_risk": _labels(derived.imdc_risk, IMDC_RISK),
        "upton_group": _labels(derived.upton_group, UPTON_GROUPS),
        "manchester_good_features": _count(derived.manchester_good_features),
        "manchester_histology": _labels(_code(derived.manchester_favourable), MANCHESTER_HISTOLOGY),
        "caix_high": _flag(derived.caix_high),
        "n_metastatic_organs": derived.n_metastatic_organs.astype(int),
        "il2_contraindications": join_names(
            {k: v == 1.0 for k, v in derived.contraindications.items()}
        ),
        "il2_cautions": join_names({k: v == 1.0 for k, v in derived.cautions.items()}),
        "il2_eligible": _flag(derived.il2_eligible),
        "manchester_pathway": _labels(pathway, PATHWAYS),
        **lines,
        "needed_inputs": join_names(derived.needed),
    }
    return pd.DataFrame(columns, index=index, copy=False)


def _code(three_valued: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(three_valued), -1, three_valued).astype(int)


def _labels(codes: np.ndarray, labels: tuple[str, ...]) -> pd.Categorical:
    """Codes to labels (code -1 is unknown); categorical so that large tables stay cheap."""
    unique = list(dict.fromkeys(labels))
    remap = np.array([unique.index(label) for label in labels] + [-1], dtype=np.int8)
    return pd.Categorical.from_codes(remap[np.asarray(codes, dtype=int)], categories=unique)


def _count(values: np.ndarray) -> np.ndarray | pd.arrays.IntegerArray:
    return _nullable_int(values) if np.isnan(values).any() else values.astype(int)


def _nullable_int(values: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.nan_to_num(values).astype("int64"), np.isnan(values))


def _flag(values: np.ndarray) -> np.ndarray | pd.arrays.BooleanArray:
    unknown = np.isnan(values)
    if unknown.any():
        return pd.arrays.BooleanArray(values == 1.0, unknown)
    return values == 1.0


def join_names(flags: dict[str, np.ndarray]) -> pd.Categorical:
    """Per row, the names whose flag is set, in the dict's order, joined with ';'.

    Rows are grouped by their bit pattern so the joining runs once per distinct pattern.
    """
    names = list(flags)
    n = len(next(iter(flags.values()))) if flags else 0
    bits = np.zeros(n, dtype=np.int64)
    for i, name in enumerate(names):
        bits |= np.asarray(flags[name], dtype=np.int64) << i
    patterns, inverse = np.unique(bits, return_inverse=True)
    texts = [LIST_SEPARATOR.join(nm for i, nm in enumerate(names) if p >> i & 1) for p in patterns]
    return (
        pd.Categorical.from_codes(inverse.reshape(-1), categories=texts)
        if n
        else pd.Categorical([], categories=[""])
    )
