"""The value of a treatment policy, read from every patient's potential outcomes.

For each policy: durable complete remissions (CR with no progression by 60 months) per
1,000 patients, restricted mean survival to 60 months, severe cardiac events and IL-2
courses per 1,000. Poor-risk patients are scored on TKI outcomes under every policy.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from model.contract.columns import DURABLE_MONTHS, SURVIVAL_HORIZONS_MONTHS
from model.recommend.policy import PolicyConfig, PolicyInputs, choose

RMST_MONTHS = float(SURVIVAL_HORIZONS_MONTHS[-1])  # restricted mean survival to 60 months
POLICIES = ("recommender", "tki_for_all", "il2_for_all_eligible", "manchester", "oracle")


def outcomes_under(hold: pd.DataFrame, il2: np.ndarray) -> dict[str, np.ndarray]:
    """Per-patient outcomes when ``il2`` patients get IL-2 and the rest a TKI."""

    def pick(column_suffix):
        return np.where(
            il2, hold[f"il2_{column_suffix}"].to_numpy(), hold[f"tki_{column_suffix}"].to_numpy()
        )

    durable = (pick("best_response") == "CR") & (pick("pfs_months").astype(float) > DURABLE_MONTHS)
    return {
        "durable_cr": durable.astype(float),
        "rmst60": np.minimum(pick("os_months").astype(float), RMST_MONTHS),
        "cardiac_event": (il2 & hold["il2_severe_cardiac_toxicity"].to_numpy(dtype=bool)).astype(
            float
        ),
        "il2_course": il2.astype(float),
    }


def summarise(outcomes: dict[str, np.ndarray]) -> dict[str, float]:
    return {
        "durable_cr_per_1000": 1000 * outcomes["durable_cr"].mean(),
        "rmst60_months": outcomes["rmst60"].mean(),
        "cardiac_events_per_1000": 1000 * outcomes["cardiac_event"].mean(),
        "il2_courses_per_1000": 1000 * outcomes["il2_course"].mean(),
    }


def true_inputs(inputs: PolicyInputs, hold: pd.DataFrame) -> PolicyInputs:
    """The same rule on the true probabilities: the oracle."""
    return replace(
        inputs,
        p_cure=hold["il2_true_p_cure"].to_numpy(),
        p_toxicity=hold["il2_true_p_severe_cardiac_toxicity"].to_numpy(),
        durable_gain=true_durable_gain(hold),
    )


def true_durable_gain(hold: pd.DataFrame) -> np.ndarray:
    """True P(durable CR | IL-2) - P(durable CR | TKI) where the cohort carries it, else
    the true IL-2 cure probability (a TKI cures no one)."""
    if "il2_true_p_durable_cr" in hold and "tki_true_p_durable_cr" in hold:
        return (hold["il2_true_p_durable_cr"] - hold["tki_true_p_durable_cr"]).to_numpy()
    return hold["il2_true_p_cure"].to_numpy()


def assignments(
    hold: pd.DataFrame, inputs: PolicyInputs, config: PolicyConfig
) -> dict[str, np.ndarray]:
    """Who gets IL-2 under each policy (poor risk never: TKI outcomes)."""
    poor = inputs.poor == 1.0
    eligible = (inputs.eligible == 1.0) & ~poor
    return {
        "recommender": choose(inputs, config) == "il2_first",
        "tki_for_all": np.zeros(len(hold), dtype=bool),
        "il2_for_all_eligible": eligible,
        "manchester": hold["manchester_pathway"].to_numpy() == "il2_first",
        "oracle": choose(true_inputs(inputs, hold), config) == "il2_first",
    }


def paired_difference(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_boot: int = 2000
) -> tuple[float, float, float]:
    """Per-1,000 difference in a 0/1 outcome between two policies on the same patients,
    with a paired bootstrap 95 % interval. Each patient's difference is -1, 0 or +1, so a
    resample's counts are multinomial: drawn exactly, without materialising indices."""
    d = a - b
    n = len(d)
    shares = [np.mean(d == 1), np.mean(d == -1)]
    counts = rng.multinomial(n, [shares[0], shares[1], 1 - sum(shares)], size=n_boot)
    boot = 1000 * (counts[:, 0] - counts[:, 1]) / n
    return 1000 * d.mean(), *np.percentile(boot, [2.5, 97.5])


def sweep(
    hold: pd.DataFrame, inputs: PolicyInputs, config: PolicyConfig, grid: np.ndarray
) -> pd.DataFrame:
    """Policy value of the recommender across ``min_durable_gain`` thresholds."""
    rows = []
    for threshold in grid:
        il2 = choose(inputs, replace(config, min_durable_gain=float(threshold))) == "il2_first"
        rows.append({"min_durable_gain": threshold, **summarise(outcomes_under(hold, il2))})
    return pd.DataFrame(rows)
