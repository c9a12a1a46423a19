"""How far an answer can be trusted as it stands: ``provisional`` where unknown inputs
could change the recommendation (with the work-up that would settle it), and
``deviates_from_pathway`` where the recommendation departs from the Manchester branch
(with the reason)."""

from __future__ import annotations

import numpy as np

from model.rules.derive import Derived
from model.rules.pathway import PATHWAYS
from model.rules.worklist import patient_actions

PERFORMANCE_REASSESSMENT = "performance status reassessment (ECOG and Karnofsky disagree)"


def provisional(
    derived: Derived,
    recommendation: np.ndarray,
    changes: list[list[dict]],
    discordant: np.ndarray | None = None,
) -> tuple[np.ndarray, list[list[str]]]:
    """Per row: whether unknown inputs could change the recommendation, and the work-up
    that would settle it (the work-list's actions, each once).

    A row is provisional when setting one unknown input to its low or high value changes
    the recommendation (``changes``), or when a derived value that gates IL-2 is unknown:
    eligibility or poor risk (IL-2 waits for them), or the histology review while IL-2 is
    recommended (the pathway offers IL-2 only after it); or when ECOG and Karnofsky
    disagree (``discordant``): eligibility and MSKCC risk rest on whichever is current.
    """
    n = len(recommendation)
    flags = np.zeros(n, dtype=bool)
    workup: list[list[str]] = [[] for _ in range(n)]
    gate_unknown = np.isnan(np.asarray(derived.il2_eligible, dtype=float)) | np.isnan(
        np.asarray(derived.mskcc_poor, dtype=float)
    )
    histology_unknown = np.isnan(np.asarray(derived.manchester_favourable, dtype=float))
    il2 = np.asarray(recommendation) == "il2_first"
    for i in range(n):
        said = str(recommendation[i])
        inputs = [
            c["input"]
            for c in changes[i]
            if c["low_recommendation"] != said or c["high_recommendation"] != said
        ]
        if gate_unknown[i] or (il2[i] and histology_unknown[i]):
            inputs += [name for name, needed in derived.needed.items() if needed[i]]
        if inputs:
            flags[i] = True
            # the work-list's wording: one blood draw for every pending analyte
            workup[i] = patient_actions(";".join(dict.fromkeys(inputs)), "", float("nan"))
        if discordant is not None and discordant[i]:
            flags[i] = True
            workup[i].append(PERFORMANCE_REASSESSMENT)
    return flags, workup


def pathway_deviation(
    derived: Derived, recommendation: np.ndarray, decided_by: list[str]
) -> tuple[list[bool | None], list[str | None]]:
    """Per row: whether the recommendation departs from the Manchester branch (None when
    the branch is unknown), and why (the policy's deciding reason)."""
    branch = np.asarray(derived.manchester_pathway).astype(int)
    deviates: list[bool | None] = []
    reasons: list[str | None] = []
    for i, code in enumerate(branch.tolist()):
        if code < 0:
            deviates.append(None)
            reasons.append(None)
            continue
        pathway = PATHWAYS[code]
        departs = pathway != str(recommendation[i])
        deviates.append(departs)
        reasons.append(
            f"the Manchester pathway gives {pathway}; {recommendation[i]} because {decided_by[i]}"
            if departs
            else None
        )
    return deviates, reasons
