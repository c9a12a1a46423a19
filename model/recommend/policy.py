"""The recommendation policy: IL-2 first, a TKI first, or temsirolimus / a trial.

Rules decide before probabilities, in this order, and every answer says which decided:
1. MSKCC poor risk -> ``temsirolimus_or_trial`` (Manchester pathway);
2. a contraindication -> ``tki_first`` (contraindications always win); eligibility or
   poor risk still unknown -> ``tki_first`` until the named inputs settle it;
3. a TKI less than 8 weeks ago -> ``tki_first``: defer IL-2 until 8 weeks after the last
   TKI dose;
4. otherwise ``il2_first`` when IL-2 is predicted to add at least ``min_durable_gain`` to
   the probability of a durable complete remission (CR with no progression at 60 months;
   IL-2's cured patients are among them) over a TKI, the gain's 95 % lower bound is above
   zero (a gain the model cannot tell from none never sends a patient to IL-2), and the
   predicted P(severe cardiac toxicity) stays at or below ``max_p_toxicity``.

The thresholds belong to the registered model version (its training configuration):
changing them means training a new version through the gate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from model.rules.worklist import washout_weeks_remaining


@dataclass(frozen=True)
class PolicyConfig:
    """Thresholds of rule 4. The defaults were read off the trade-off table ``evaluate``
    writes (default training, targeted-era hold-out of 50,000): 0.03 is the smallest
    minimum gain at which the recommender gives no more IL-2 courses and no more severe
    cardiac events than the Manchester pathway while keeping at least its durable
    complete remissions (26.8 against 26.5 per 1,000; 185 against 192 courses; 20.6
    against 20.9 events); the toxicity ceiling changes little between 0.20 and 0.25."""

    min_durable_gain: float = 0.03
    max_p_toxicity: float = 0.25

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class PolicyInputs:
    """Per patient (arrays of n): three-valued flags (1, 0, NaN) and point predictions."""

    poor: np.ndarray
    eligible: np.ndarray
    contraindications: list[list[str]]
    washout_short: np.ndarray
    months_since_tki: np.ndarray
    p_cure: np.ndarray
    p_toxicity: np.ndarray
    durable_gain: np.ndarray  # P(durable CR | IL-2) - P(durable CR | TKI)
    durable_gain_lo: np.ndarray  # its 95 % lower bound


def reads_predictions(poor: np.ndarray, eligible: np.ndarray, washout_short: np.ndarray):
    """Where rules 1-3 leave the decision to rule 4, the only rule that reads predictions
    (elsewhere the recommendation is the same whatever the models say)."""
    return (eligible == 1.0) & (poor == 0.0) & (washout_short != 1.0)


def choose(x: PolicyInputs, c: PolicyConfig) -> np.ndarray:
    """The recommendation per patient, vectorised (the same rules as ``decide``)."""
    il2 = (
        reads_predictions(x.poor, x.eligible, x.washout_short)
        & (x.p_toxicity <= c.max_p_toxicity)
        & (x.durable_gain >= c.min_durable_gain)
        & (x.durable_gain_lo > 0.0)
    )
    return np.where(
        x.poor == 1.0, "temsirolimus_or_trial", np.where(il2, "il2_first", "tki_first")
    ).astype(object)


def decide(inputs: PolicyInputs, config: PolicyConfig) -> tuple[np.ndarray, list[str]]:
    """Recommendation per patient and the reason that decided it. The reasons come from
    ``explain`` (rule by rule, patient by patient); a reason that does not lead to the
    vectorised recommendation is a bug, refused rather than shown to a clinician."""
    choice = choose(inputs, config)
    explained = explain(inputs, config)
    disagree = [i for i, (said, _) in enumerate(explained) if said != choice[i]]
    if disagree:
        raise RuntimeError(f"the policy's reasons contradict its recommendation at {disagree[:10]}")
    return choice, [reason for _, reason in explained]


def explain(inputs: PolicyInputs, config: PolicyConfig) -> list[tuple[str, str]]:
    """Per patient, the recommendation and the reason that decided it, the rules taken in
    order one patient at a time (what ``choose`` computes at once)."""
    return [_decide_one(inputs, i, config) for i in range(len(inputs.poor))]


def _decide_one(x: PolicyInputs, i: int, c: PolicyConfig) -> tuple[str, str]:
    if x.poor[i] == 1.0:
        return "temsirolimus_or_trial", (
            "MSKCC risk is poor: temsirolimus, a clinical trial "
            "or symptomatic care (Manchester pathway)"
        )
    if x.eligible[i] == 0.0:
        return "tki_first", (
            "IL-2 is contraindicated ("
            + ", ".join(x.contraindications[i])
            + "): contraindications always win"
        )
    if np.isnan(x.eligible[i]) or np.isnan(x.poor[i]):
        what = "IL-2 eligibility" if np.isnan(x.eligible[i]) else "whether MSKCC risk is poor"
        return "tki_first", (
            f"{what} is unknown: IL-2 is not recommended until the needed inputs settle it"
        )
    if x.washout_short[i] == 1.0:
        weeks = washout_weeks_remaining(float(x.months_since_tki[i]))
        return "tki_first", (
            f"defer IL-2 until 8 weeks after the last TKI dose ({weeks:.1f} weeks to go)"
        )
    if x.p_toxicity[i] > c.max_p_toxicity:
        return "tki_first", (
            f"predicted P(severe cardiac toxicity) on IL-2 "
            f"{x.p_toxicity[i]:.3f} is above {c.max_p_toxicity:.3f}"
        )
    gain = (
        f"IL-2 adds {x.durable_gain[i]:+.4f} to the predicted probability of a durable "
        f"complete remission (P(cure) on IL-2 {x.p_cure[i]:.3f})"
    )
    if x.durable_gain[i] < c.min_durable_gain:
        return "tki_first", f"{gain}, less than {c.min_durable_gain:.4f}"
    if not x.durable_gain_lo[i] > 0.0:
        return "tki_first", (
            f"{gain}, but its 95 % lower bound {x.durable_gain_lo[i]:+.4f} is not above zero: "
            "the gain cannot be told from none"
        )
    return "il2_first", (
        f"{gain}, at least {c.min_durable_gain:.4f} with a 95 % lower bound of "
        f"{x.durable_gain_lo[i]:+.4f}, and P(severe cardiac toxicity) "
        f"{x.p_toxicity[i]:.3f} at most {c.max_p_toxicity:.3f}"
    )
