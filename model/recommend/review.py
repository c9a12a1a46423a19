"""How far an answer can be trusted as it stands: ``provisional`` where unknown inputs
could change the recommendation (with the work-up that would settle it), and
``deviates_from_pathway`` where the recommendation departs from the Manchester branch
(with the reason)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from model.recommend.decision import Predictor, decide_only
from model.recommend.sensitivity import unknown_inputs, varied_inputs, what_would_change
from model.rules.derive import Derived, derive
from model.rules.eligibility import TKI_WASHOUT_MONTHS
from model.rules.pathway import PATHWAYS
from model.rules.worklist import patient_actions, washout_weeks_remaining

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


SAID = {
    "il2_first": "HD IL-2 first",
    "il2_after_wait": "HD IL-2 first once the temporary contraindications have passed",
    "tki_first": "a TKI first",
    "temsirolimus_or_trial": "temsirolimus, a trial or symptomatic care",
}
# contraindications that pass (BRIEF "Eligibility"): treat or wait, then IL-2 may be given
TEMPORARY = {
    "active_infection": "treat the active infection",
    "brain_mets_untreated": "treat the brain metastases (radiotherapy then starts a 6-week wait)",
    "steroids_last_4_weeks": "4 weeks off systemic corticosteroids, if they can be stopped",
    "chemo_radio_last_6_weeks": "6 weeks after chemotherapy or radiotherapy",
}


def next_step(
    recommender: Predictor,
    values: Mapping,
    derived: Derived,
    choice: np.ndarray,
    provisional_rows: np.ndarray,
    workup: list[list[str]],
) -> tuple[np.ndarray, list[str | None], np.ndarray, list[list[str]]]:
    """What the board should do first, per row, the reason that leads the answer, and the
    provisional flags and work-up with those of the IL-2-after-the-wait answers added:
    ``il2_after_wait`` where only temporary conditions (``TEMPORARY``, a TKI wash-out under
    8 weeks) keep a patient from IL-2 and the policy recommends IL-2 once they have
    passed (decided on the same patient with them resolved); ``complete_workup_first``
    where the answer is provisional and IL-2 is still possible (a TKI started now would
    close the IL-2 window the work-up may open), the IL-2-after-the-wait answers included;
    otherwise the policy's ``choice`` (provisional with IL-2 ruled out: the lead says so)."""
    final = np.asarray(choice, dtype=object).copy()
    lead: list[str | None] = [None] * len(final)
    workup = [list(w) for w in workup]
    provisional_rows = np.asarray(provisional_rows, dtype=bool).copy()
    waiting = set()
    for row, wait_workup in _after_wait(recommender, values, derived, choice, provisional_rows):
        final[row] = "il2_after_wait"
        lead[row] = _wait_reason(derived, values, row)
        waiting.add(row)
        if wait_workup is not None:  # unknown inputs could undo IL-2 after the wait
            provisional_rows[row], workup[row] = True, wait_workup
    for row in np.flatnonzero(provisional_rows).tolist():
        known_now = SAID[final[row]]
        if row not in waiting and _il2_ruled_out(derived, row, workup[row]):
            lead[row] = (
                f"provisional: the work-up ({'; '.join(workup[row])}) could change the "
                f"answer ({known_now} on what is known now); IL-2 is ruled out whatever it shows"
            )
            continue
        final[row] = "complete_workup_first"
        lead[row] = (
            f"complete the work-up first ({'; '.join(workup[row])}): it could change the "
            f"answer, which on what is known now is {known_now}; a TKI started meanwhile "
            "would make IL-2 less safe later"
        )
    return final, lead, provisional_rows, workup


def _il2_ruled_out(derived: Derived, row: int, workup: list[str]) -> bool:
    """IL-2 is contraindicated whatever the work-up shows: eligibility known false, and
    not only by an ECOG the work-up reassesses (ECOG and Karnofsky disagree)."""
    if derived.il2_eligible[row] != 0.0:
        return False
    if PERFORMANCE_REASSESSMENT not in workup:
        return True
    flags = derived.contraindications
    return any(v[row] == 1.0 for k, v in flags.items() if k != "ecog_above_1")


def _after_wait(recommender, values, derived, choice, provisional_rows):
    """(row, work-up or None) for every row the policy gives IL-2 first once its temporary
    conditions have passed; the work-up where unknown inputs could undo that answer."""
    rows = np.flatnonzero(_waiting_rows(derived, choice) & ~provisional_rows)
    if rows.size == 0:
        return []
    resolved = {key: np.asarray(column)[rows].copy() for key, column in values.items()}
    for name in TEMPORARY:  # treated, or stopped long enough ago
        resolved[name] = np.zeros(rows.size)
    months = np.asarray(resolved["months_since_tki"], dtype=float)
    resolved["months_since_tki"] = np.where(
        np.isnan(months), months, np.maximum(months, TKI_WASHOUT_MONTHS)
    )
    after = decide_only(recommender, resolved, rows.size)
    keep = np.flatnonzero(after == "il2_first")
    if keep.size == 0:
        return []
    waited = {key: column[keep] for key, column in resolved.items()}
    waited_derived = derive(waited, keep.size)
    varied = varied_inputs(unknown_inputs(waited, keep.size), waited_derived)
    changes = what_would_change(recommender, waited, varied)
    flags, waited_workup = provisional(waited_derived, after[keep], changes)
    return [
        (int(rows[k]), waited_workup[j] if flags[j] else None) for j, k in enumerate(keep.tolist())
    ]


def _waiting_rows(derived: Derived, choice: np.ndarray) -> np.ndarray:
    """A TKI first only because of temporary conditions: every permanent contraindication
    known absent, poor risk known absent, and a temporary one or a short wash-out."""
    flags = derived.contraindications
    permanent = [v for k, v in flags.items() if k not in TEMPORARY]
    clear = np.logical_and.reduce([np.asarray(v) == 0.0 for v in permanent])
    temporary = np.logical_or.reduce([np.asarray(flags[k]) == 1.0 for k in TEMPORARY])
    washout = np.asarray(derived.cautions["tki_washout_under_8_weeks"]) == 1.0
    not_poor = np.asarray(derived.mskcc_poor) == 0.0
    return (np.asarray(choice) == "tki_first") & clear & not_poor & (temporary | washout)


def _wait_reason(derived: Derived, values: Mapping, row: int) -> str:
    steps = [
        text for name, text in TEMPORARY.items() if derived.contraindications[name][row] == 1.0
    ]
    if derived.cautions["tki_washout_under_8_weeks"][row] == 1.0:
        weeks = washout_weeks_remaining(float(np.asarray(values["months_since_tki"])[row]))
        steps.append(f"8 weeks after the last TKI dose ({weeks:.1f} weeks to go)")
    return (
        f"IL-2 waits only for what passes ({'; '.join(steps)}): once it has, HD IL-2 first "
        "is recommended (decided on this patient with those conditions resolved); a TKI "
        "started meanwhile would make IL-2 less safe and reset the wash-out"
    )
