"""The value of a treatment policy, read from every patient's potential outcomes.

For each policy: durable complete remissions (CR with no progression by 60 months) per
1,000 patients, restricted mean survival to 60 months, severe cardiac events and IL-2
courses per 1,000, each with a bootstrap 95 % interval; and each policy against the
recommender with paired bootstrap intervals (the same resampled patients for every
policy). Poor-risk patients are scored on TKI outcomes under every policy, and the
Manchester comparator gives no IL-2 after a TKI (the pathway's IL-2 branch for a
TKI-pretreated patient is a caution, not a plan a fair comparator would follow).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from model.contract.columns import DURABLE_MONTHS, SURVIVAL_HORIZONS_MONTHS
from model.recommend.policy import PolicyConfig, PolicyInputs, choose

RMST_MONTHS = float(SURVIVAL_HORIZONS_MONTHS[-1])  # restricted mean survival to 60 months
POLICIES = ("recommender", "tki_for_all", "il2_for_all_eligible", "manchester", "oracle")
MEASURES = {  # summary column -> (per-patient outcome, scale)
    "durable_cr_per_1000": ("durable_cr", 1000.0),
    "rmst60_months": ("rmst60", 1.0),
    "cardiac_events_per_1000": ("cardiac_event", 1000.0),
    "il2_courses_per_1000": ("il2_course", 1000.0),
}
N_BOOT = 400


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
    return {column: scale * outcomes[key].mean() for column, (key, scale) in MEASURES.items()}


def policy_value_table(
    outcomes: dict[str, dict[str, np.ndarray]], rng: np.random.Generator, n_boot: int = N_BOOT
) -> pd.DataFrame:
    """One row per policy: each measure with its bootstrap 95 % interval (``_lo``,
    ``_hi``), and its difference from the recommender with a paired interval (``diff_``):
    every policy is scored on the same resampled patients."""
    n = len(next(iter(outcomes.values()))["il2_course"])
    labels = [(name, column) for name in outcomes for column in MEASURES]
    matrix = np.stack([outcomes[name][MEASURES[c][0]] * MEASURES[c][1] for name, c in labels])
    draws = np.empty((len(labels), n_boot))
    for start in range(0, n_boot, 50):  # resample counts, 50 resamples at a time
        size = min(50, n_boot - start)
        counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(size)])
        draws[:, start : start + size] = matrix @ counts.T.astype(float) / n
    boot = {name: {} for name in outcomes}
    for (name, column), values in zip(labels, draws, strict=True):
        boot[name][column] = values
    table = []
    for name, got in outcomes.items():
        row: dict[str, float | str] = {"policy": name}
        for column, value in summarise(got).items():
            row[column] = value
            row[f"{column}_lo"], row[f"{column}_hi"] = np.percentile(
                boot[name][column], [2.5, 97.5]
            )
        for column, value in summarise(got).items():
            diff = value - summarise(outcomes["recommender"])[column]
            spread = boot[name][column] - boot["recommender"][column]
            row[f"diff_{column}"] = diff
            row[f"diff_{column}_lo"], row[f"diff_{column}_hi"] = np.percentile(spread, [2.5, 97.5])
        table.append(row)
    return pd.DataFrame(table).set_index("policy")


def true_inputs(inputs: PolicyInputs, hold: pd.DataFrame) -> PolicyInputs:
    """The same rule on the true probabilities: the oracle."""
    gain = true_durable_gain(hold)
    return replace(
        inputs,
        p_cure=hold["il2_true_p_cure"].to_numpy(),
        p_toxicity=hold["il2_true_p_severe_cardiac_toxicity"].to_numpy(),
        durable_gain=gain,
        durable_gain_lo=gain,  # the truth has no uncertainty
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
        "manchester": (hold["manchester_pathway"].to_numpy() == "il2_first")
        & ~hold["prior_tki"].to_numpy(dtype=bool),
        "oracle": choose(true_inputs(inputs, hold), config) == "il2_first",
    }


def sweep(
    hold: pd.DataFrame,
    inputs: PolicyInputs,
    config: PolicyConfig,
    grid: np.ndarray,
    toxicity_grid: tuple[float, ...] | None = None,
) -> pd.DataFrame:
    """The trade-off table: the recommender's policy value over a grid of both thresholds
    (minimum gain in P(durable CR), maximum P(severe cardiac toxicity)), with the durable
    CRs it gains over a TKI for all and the IL-2 courses given per durable CR gained."""
    baseline = summarise(outcomes_under(hold, np.zeros(len(hold), dtype=bool)))
    rows = []
    for max_tox in toxicity_grid or (config.max_p_toxicity,):
        for threshold in grid:
            trial = replace(config, min_durable_gain=float(threshold), max_p_toxicity=max_tox)
            value = summarise(outcomes_under(hold, choose(inputs, trial) == "il2_first"))
            gained = value["durable_cr_per_1000"] - baseline["durable_cr_per_1000"]
            rows.append(
                {
                    "min_durable_gain": float(threshold),
                    "max_p_toxicity": float(max_tox),
                    **value,
                    "durable_cr_gained_per_1000": gained,
                    "il2_courses_per_durable_cr_gained": value["il2_courses_per_1000"] / gained
                    if gained > 0
                    else np.inf,
                }
            )
    return pd.DataFrame(rows)
