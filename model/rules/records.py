"""The rules' derived values of every row as JSON-ready values: what an answer shows of
the scores, the eligibility (every contraindication and caution by name), the pathway
branch with its lines of therapy, and the inputs that would settle the row."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from model.contract.columns import UNKNOWABLE_COLUMNS
from model.rules.eligibility import CAUTIONS, CONTRAINDICATIONS
from model.rules.pathway import PATHWAY_LINES, PATHWAYS
from model.rules.scores import IMDC_RISK, MANCHESTER_HISTOLOGY, MSKCC_RISK, UPTON_GROUPS

if TYPE_CHECKING:  # a type only: the records load without pandas
    from model.rules.derive import Derived


def derived_records(derived: Derived) -> list[dict[str, object]]:
    """The rules' derived values of every row as JSON-ready values (None when unknown)."""

    def labels(codes, names):
        return [None if c < 0 else names[c] for c in np.asarray(codes).astype(int).tolist()]

    def numbers(x):
        return [None if v != v else int(v) for v in np.asarray(x, dtype=float).tolist()]

    def flags(x):
        return [None if v != v else v == 1.0 for v in np.asarray(x, dtype=float).tolist()]

    fav = np.asarray(derived.manchester_favourable, dtype=float)
    columns = {
        "mskcc_risk_factors": numbers(derived.mskcc_risk_factors),
        "mskcc_risk": labels(derived.mskcc_risk, MSKCC_RISK),
        "imdc_risk_factors": numbers(derived.imdc_risk_factors),
        "imdc_risk": labels(derived.imdc_risk, IMDC_RISK),
        "upton_group": labels(derived.upton_group, UPTON_GROUPS),
        "manchester_good_features": numbers(derived.manchester_good_features),
        "manchester_histology": [
            None if v != v else MANCHESTER_HISTOLOGY[int(v)] for v in fav.tolist()
        ],
        "caix_high": flags(derived.caix_high),
        "n_metastatic_organs": numbers(derived.n_metastatic_organs),
        "il2_eligible": flags(derived.il2_eligible),
        "manchester_pathway": labels(derived.manchester_pathway, PATHWAYS),
    }
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def eligibility_records(derived: Derived) -> list[dict[str, object]]:
    """Eligibility, every contraindication and caution by name, per row."""
    n = len(derived.il2_eligible)
    eligible = [
        None if v != v else v == 1.0 for v in np.asarray(derived.il2_eligible, dtype=float).tolist()
    ]
    present, unknown, cautions = ([[] for _ in range(n)] for _ in range(3))
    for name in CONTRAINDICATIONS:
        flags = np.asarray(derived.contraindications[name], dtype=float)
        for i in np.flatnonzero(flags == 1.0).tolist():
            present[i].append(name)
        for i in np.flatnonzero(np.isnan(flags)).tolist():
            unknown[i].append(name)
    for name in CAUTIONS:
        for i in np.flatnonzero(np.asarray(derived.cautions[name]) == 1.0).tolist():
            cautions[i].append(name)
    return [
        {
            "il2_eligible": eligible[i],
            "contraindications": present[i],
            "contraindications_unknown": unknown[i],
            "cautions": cautions[i],
        }
        for i in range(n)
    ]


# each pathway code's branch and lines of therapy (-1: the branch is not known)
_PATHWAY_BY_CODE = {
    -1: {"branch": None, "first_line": None, "second_line": None, "third_line": None}
} | {
    code: {
        "branch": branch,
        "first_line": PATHWAY_LINES[branch][0],
        "second_line": PATHWAY_LINES[branch][1] or None,
        "third_line": PATHWAY_LINES[branch][2] or None,
    }
    for code, branch in enumerate(PATHWAYS)
}


def pathway_records(derived: Derived) -> list[dict[str, object]]:
    """The Manchester branch and its lines of therapy, per row."""
    return [
        dict(_PATHWAY_BY_CODE[c if c >= 0 else -1])
        for c in np.asarray(derived.manchester_pathway).astype(int).tolist()
    ]


def needed_inputs(derived: Derived) -> list[list[str]]:
    """The unknown inputs each row's answer depends on."""
    n = len(derived.il2_eligible)
    out: list[list[str]] = [[] for _ in range(n)]
    for name in UNKNOWABLE_COLUMNS:
        for i in np.flatnonzero(derived.needed[name]).tolist():
            out[i].append(name)
    return out
