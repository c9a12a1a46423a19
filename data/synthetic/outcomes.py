"""Potential outcomes under every strategy, and the truth they are drawn from.

Draws use inverse CDFs of uniforms drawn in a fixed order (common random numbers): a
patient's times move continuously with the parameters, and the same seed gives the
same outcomes whatever the parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data.synthetic.mixture_survival import (
    BEST_RESPONSE_OF_SUBCLASS,
    Mixture,
    pattern_medians,
    subclass_survival,
    survival,
)
from data.synthetic.outcome_model import (
    STRATEGIES,
    cardiac_toxicity_probability,
    covariate_frame,
    pattern_index,
    strategy_mixtures,
)
from data.synthetic.params import Parameters
from data.synthetic.targets import DEFAULT_ERA
from model.contract.columns import DURABLE_MONTHS, SURVIVAL_HORIZONS_MONTHS

# uniforms per patient: 3 per strategy (class, progression, post-progression), then
# background death, follow-up and cardiac toxicity.
N_UNIFORMS = 3 * len(STRATEGIES) + 3
TIME_DECIMALS = 3


def simulate_outcomes(
    cohort: pd.DataFrame,
    uniforms: np.ndarray,
    p: Parameters,
    era: str = DEFAULT_ERA,
    il2_cr_scale: float = 1.0,
) -> pd.DataFrame:
    """Potential outcomes and truth columns for a frame of features + derived columns.

    Parameters
    ----------
    cohort : DataFrame
        features and the derived columns of ``model.rules.derive_columns``.
    uniforms : (N_UNIFORMS, n) array
        uniforms in (0, 1) for this block, drawn before any parameter is used.
    p : Parameters
    era : str
        treatment era (``targeted`` or ``cytokine``): what follows progression.
    il2_cr_scale : float
        see ``strategy_mixtures`` (mutation tests only).
    """
    inverse, patterns = pattern_index(covariate_frame(cohort))
    mixtures = strategy_mixtures(patterns, p, era, il2_cr_scale)
    background = -np.log(uniforms[-3]) / mixtures["il2"].background_rate
    follow_up = p["follow_up_min_months"] + p["accrual_months"] * uniforms[-2]
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(STRATEGIES):
        draws = uniforms[3 * i : 3 * i + 3]
        columns.update(_draw_strategy(name, mixtures[name], inverse, draws, background, follow_up))
    p_tox = cardiac_toxicity_probability(cohort, p)
    columns["il2_severe_cardiac_toxicity"] = uniforms[-1] < p_tox
    for name in STRATEGIES:
        columns.update(_truth(name, mixtures[name], inverse))
    columns["il2_true_p_severe_cardiac_toxicity"] = p_tox
    return pd.DataFrame(
        {name: columns[name] for name in outcome_column_order()}, index=cohort.index
    )


def outcome_column_order() -> list[str]:
    """Potential-outcome then truth columns, in the brief's naming."""
    names = [
        f"{a}_{c}"
        for a in STRATEGIES
        for c in ("best_response", "pfs_months", "pfs_event", "os_months", "os_event")
    ]
    names.append("il2_severe_cardiac_toxicity")
    for a in STRATEGIES:
        names += [f"{a}_true_p_response", f"{a}_true_p_complete_response", f"{a}_true_p_durable_cr"]
        if a == "il2":
            names += ["il2_true_p_severe_cardiac_toxicity", "il2_true_p_cure"]
        names += [f"{a}_true_median_pfs_months", f"{a}_true_median_os_months"]
        names += [
            f"{a}_true_{e}_at_{m}_months" for e in ("pfs", "os") for m in SURVIVAL_HORIZONS_MONTHS
        ]
    return names


def _draw_strategy(
    name: str,
    mix: Mixture,
    inverse: np.ndarray,
    draws: np.ndarray,
    background: np.ndarray,
    follow_up: np.ndarray,
) -> dict[str, np.ndarray]:
    cumulative = np.cumsum(mix.probs, axis=1)[inverse]
    subclass = np.minimum((cumulative < draws[0][:, None]).sum(axis=1), 5)
    rate = mix.progression_rate[inverse, subclass]
    with np.errstate(divide="ignore"):
        progression = mix.shift[subclass] - np.log(draws[1]) / rate
    death = progression - np.log(draws[2]) / mix.post_progression_rate[inverse]
    pfs = np.minimum(progression, background)
    os_ = np.minimum(death, background)
    return {
        f"{name}_best_response": BEST_RESPONSE_OF_SUBCLASS[subclass],
        f"{name}_pfs_months": np.round(np.minimum(pfs, follow_up), TIME_DECIMALS),
        f"{name}_pfs_event": pfs <= follow_up,
        f"{name}_os_months": np.round(np.minimum(os_, follow_up), TIME_DECIMALS),
        f"{name}_os_event": os_ <= follow_up,
    }


def _truth(name: str, mix: Mixture, inverse: np.ndarray) -> dict[str, np.ndarray]:
    """The exact per-patient distribution: response probabilities, medians, survival."""
    cols = {
        f"{name}_true_p_response": mix.probs[:, :4].sum(axis=1)[inverse],
        f"{name}_true_p_complete_response": mix.probs[:, :2].sum(axis=1)[inverse],
        # a complete remission without progression (or death) at 60 months: what the
        # policy value counts as a durable complete remission
        f"{name}_true_p_durable_cr": (
            mix.probs[:, :2]
            * subclass_survival(mix, np.array([float(DURABLE_MONTHS)]), "pfs")[:, :2, 0]
        ).sum(axis=1)[inverse],
    }
    if name == "il2":
        cols["il2_true_p_cure"] = mix.probs[:, 0][inverse]
    for endpoint in ("pfs", "os"):
        cols[f"{name}_true_median_{endpoint}_months"] = pattern_medians(mix, endpoint)[inverse]
        at = survival(mix, np.array(SURVIVAL_HORIZONS_MONTHS, dtype=float), endpoint)
        for j, months in enumerate(SURVIVAL_HORIZONS_MONTHS):
            cols[f"{name}_true_{endpoint}_at_{months}_months"] = at[:, j][inverse]
    return cols
