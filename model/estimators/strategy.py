"""One first-line strategy's models: response, complete response, (IL-2) cardiac toxicity,
and progression-free and overall survival as a mixture over the best response.

S(t | x) = P(CR | x) S_CR(t | x) + P(PR | x) S_PR(t | x) + P(SD | x) S_SD(t | x)
           + P(PD | x) S_PD(t | x)

Responders live longer (BRIEF), and stable disease longer than progression at the first
restaging: each best-response group gets its own lifelines fit (one curve for every
non-responder could not follow how prognosis acts on both stages of survival); the
IL-2 complete responders' progression-free survival is a covariate mixture-cure model, so
P(cure) = P(CR | x) * c(x), the probability of a complete remission that never progresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.estimators.design import FEATURE_NAMES
from model.estimators.logistic import FittedLogistic, bic, fit_logistic, intercept_only
from model.estimators.survival import Component

RESPONSE_GROUPS = ("CR", "PR", "SD", "PD")
# a group with too few events borrows this neighbour's curve
BORROWS_FROM = {"PD": "SD", "PR": "SD", "CR": "PR"}
TOXICITY_FEATURES = (
    "intercept",
    "prior_tki",
    "washout_recent",
    "age_decades",
    "prior_bevacizumab",
    "cardiac_history",
)
SURVIVAL_COVARIATES = (
    "mskcc_factors",
    "neutrophils_above_uln",
    "platelets_above_uln",
    "caix_high",
    "non_clear_cell",
    "three_plus_organs",
    "ecog_1",
    "ecog_2_plus",
    "prior_nephrectomy",
    "manchester_favourable",
    "prior_tki",
)


@dataclass(frozen=True)
class StrategyModel:
    name: str
    response: FittedLogistic
    complete_given_response: FittedLogistic
    toxicity: FittedLogistic | None
    pfs: dict[str, Component]
    os: dict[str, Component]
    toxicity_columns: tuple[int, ...] = ()
    # P(CR | response) on the response's own linear predictor: (intercept, slope)
    complete_on_response_index: bool = False
    # P(SD | no response): stable disease rather than progression at the first restaging
    stable_given_nonresponse: FittedLogistic | None = None


@dataclass(frozen=True)
class StrategyDraws:
    """Parameter draws (index 0 = the point estimate) of every part of a strategy."""

    response: np.ndarray
    complete: np.ndarray
    toxicity: np.ndarray | None
    pfs: dict[str, np.ndarray]
    os: dict[str, np.ndarray]
    stable: np.ndarray | None = None


def fit_strategy(
    name: str,
    design: np.ndarray,
    best_response: np.ndarray,
    pfs: tuple[np.ndarray, np.ndarray],
    os: tuple[np.ndarray, np.ndarray],
    toxicity: np.ndarray | None = None,
    min_group_events: int = 20,
    background: float = 0.0,
) -> StrategyModel:
    """Fit every part on the patients who received the strategy. A response group with
    fewer than ``min_group_events`` events borrows its neighbour's survival curve.

    Both cure models carry the other-cause hazard ``background`` (per month): P(cure) is
    read off the PFS model's cure fraction, which otherwise takes the cured's deaths over
    a decade for relapses (hold-out of 50,000: P(cure) bias -0.010 -> +0.002, coverage
    0.41 -> 0.90). The OS cure model carries it since its latency follows the covariates
    (``survival_fitting._latency_covariates``): before, a single latency could not follow
    OS's shape and its plateau stood in for part of it (with the background, 36-month
    coverage fell 0.82 -> 0.66); now the background raises it (0.83 -> 0.86, and 60
    months 0.87 -> 0.88)."""
    responded = np.isin(best_response, ("CR", "PR"))
    complete = best_response == "CR"
    stable = best_response == "SD"
    group = response_group(best_response)
    response = fit_logistic(design, responded)
    complete_given, on_index = _fit_complete_given_response(
        design[responded], complete[responded], response
    )
    not_responded = stable[~responded]
    stable_given = (
        fit_logistic(design[~responded], not_responded)
        if 0 < not_responded.sum() < len(not_responded)
        else intercept_only(np.r_[not_responded, True, False], design.shape[1])
    )
    tox_model, tox_columns = None, ()
    if toxicity is not None:
        recorded = ~np.isnan(toxicity)  # a registry may not record every event
        tox_columns = tuple(FEATURE_NAMES.index(c) for c in TOXICITY_FEATURES)
        tox_model = fit_logistic(design[recorded][:, tox_columns], toxicity[recorded] == 1.0)
    cured_kind = "cure_weibull" if name == "il2" else "cox"
    return StrategyModel(
        name,
        response,
        complete_given,
        tox_model,
        pfs=_group_components(design, group, *pfs, cured_kind, min_group_events, background),
        os=_group_components(design, group, *os, cured_kind, min_group_events, background),
        toxicity_columns=tox_columns,
        complete_on_response_index=on_index,
        stable_given_nonresponse=stable_given,
    )


def response_group(best_response: np.ndarray) -> np.ndarray:
    """Each patient's response group (``RESPONSE_GROUPS``): any other best response than a
    complete or partial response or stable disease counts as progression."""
    return np.select(
        [best_response == "CR", best_response == "PR", best_response == "SD"],
        ["CR", "PR", "SD"],
        "PD",
    )


def _fit_complete_given_response(
    design: np.ndarray, complete: np.ndarray, response: FittedLogistic
) -> tuple[FittedLogistic, bool]:
    """P(CR | response) by BIC between a function of the response's linear predictor (the
    most sensitive patients respond most completely: two parameters) and every predictor.
    The index model is always a candidate, never a constant: a constant share is the
    index model's special case, and choosing it on a small cohort (where a weak slope goes
    unseen) left intervals that missed the truth. Few complete responses cannot carry
    every slope."""
    index_design = np.column_stack([np.ones(len(design)), design @ response.coef])
    if not 0 < complete.sum() < len(complete):
        return intercept_only(complete, 2), True
    candidates = [
        (fit_logistic(index_design, complete, penalty=1e-3), index_design, 2, True),
        (fit_logistic(design, complete), design, design.shape[1], False),
    ]
    best = min(candidates, key=lambda c: bic(c[0], c[1], complete, c[2]))
    return best[0], best[3]


def _group_components(
    design,
    group,
    duration,
    event,
    cure_group_kind: str,
    min_group_events: int,
    background: float = 0.0,
) -> dict[str, Component]:
    """One component per best-response group; a group too small to fit borrows its
    neighbour's (``BORROWS_FROM``: stable disease is always fitted). A cure model is judged
    by its patients, since most of them never have an event."""
    # lifelines loads only where models are fitted: a process that only predicts (the
    # service) unpickles this module without it (about 55 MiB a worker)
    from model.estimators.survival_fitting import fit_component

    event = np.asarray(event, dtype=bool)
    components: dict[str, Component] = {}
    for name in ("SD", "PD", "PR", "CR"):
        rows = group == name
        kind = cure_group_kind if name == "CR" else "cox"
        enough = event[rows].sum() >= min_group_events or (
            kind == "cure_weibull" and rows.sum() >= 2 * min_group_events
        )
        if name != "SD" and not enough:
            components[name] = components[BORROWS_FROM[name]]
            continue
        components[name] = fit_component(
            design[rows],
            FEATURE_NAMES,
            duration[rows],
            event[rows],
            SURVIVAL_COVARIATES,
            kind=kind,
            background=background,
        )
    return components


def draw_strategy(model: StrategyModel, n_draws: int, rng: np.random.Generator) -> StrategyDraws:
    """``n_draws`` parameter sets; row 0 is the point estimate itself."""

    def with_point(mean, draws):
        return np.vstack([mean[None, :], draws])

    def component_draws(components):
        out, seen = {}, {}
        for name, comp in components.items():
            key = id(comp)  # a borrowed component shares its draws
            if key not in seen:
                seen[key] = with_point(comp.mean, comp.draw(n_draws, rng))
            out[name] = seen[key]
        return out

    return StrategyDraws(
        response=with_point(model.response.coef, model.response.draw(n_draws, rng)),
        complete=with_point(
            model.complete_given_response.coef, model.complete_given_response.draw(n_draws, rng)
        ),
        toxicity=None
        if model.toxicity is None
        else with_point(model.toxicity.coef, model.toxicity.draw(n_draws, rng)),
        pfs=component_draws(model.pfs),
        os=component_draws(model.os),
        stable=with_point(
            model.stable_given_nonresponse.coef, model.stable_given_nonresponse.draw(n_draws, rng)
        ),
    )
