"""The Manchester pathway (a version of the NCCN guideline), BRIEF "The Manchester pathway".

Decided in this order: (1) ``temsirolimus_or_trial`` if MSKCC risk is poor; (2) else
``tki_first`` if not IL-2 eligible or histology unfavourable; (3) else ``il2_first``;
unknown (code -1) where the unknown inputs could change the branch.
"""

from __future__ import annotations

import numpy as np

from model.rules.logic import any_of, negate

PATHWAYS = ("il2_first", "tki_first", "temsirolimus_or_trial")

# branch -> (first line, second line, third line), from the brief's pathway table
PATHWAY_LINES: dict[str, tuple[str, str, str]] = {
    "il2_first": (
        "IL-2 (or sunitinib / pazopanib)",
        "sunitinib, pazopanib or sorafenib",
        "everolimus",
    ),
    "tki_first": ("sunitinib or pazopanib", "everolimus, or consider interferon or IL-2", ""),
    "temsirolimus_or_trial": ("temsirolimus or a clinical trial, or symptomatic care", "", ""),
}


def choose_pathway(poor: np.ndarray, eligible: np.ndarray, favourable: np.ndarray) -> np.ndarray:
    """Branch codes (index into PATHWAYS, -1 unknown) from three-valued MSKCC-poor,
    IL-2 eligibility and favourable histology (1 true, 0 false, NaN unknown)."""
    tki = any_of(negate(eligible), negate(favourable))
    return np.where(
        poor == 1.0,
        2,
        np.where(poor == 0.0, np.where(tki == 1.0, 1, np.where(tki == 0.0, 0, -1)), -1),
    )
