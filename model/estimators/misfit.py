"""How far the survival (and cardiac toxicity) models' shape misses the data they were
fitted on, measured on that data alone (no truth): an allowance their intervals carry beside
the parameter uncertainty of the draws.

For each strategy, endpoint and horizon, the patients who received the strategy are
grouped by decile of their predicted survival; in each decile the mean prediction is
compared with the Kaplan–Meier estimate, and so in each cell of the prognostic factors
(``covariate_cells``: an error that cancels across deciles shows there). The spread of
those gaps beyond what sampling explains (their squares less the KM variance, averaged)
estimates the model error tau; IL-2's cardiac toxicity gets one the same way, against the
observed rate, and P(durable CR) against the observed share of complete responses times
their Kaplan–Meier at 60 months (TKI: mean coverage over six training seeds 0.888 ->
0.934). An interval's half-width then becomes sqrt(half-width^2 + (1.96 tau)^2). Parameter
draws shrink as the cohort grows; a model's shape error does not, and without this
allowance intervals from a large cohort missed the truth most of the time.
"""

from __future__ import annotations

import numpy as np

from model.contract.columns import DURABLE_MONTHS
from model.estimators.design import FEATURE_NAMES
from model.estimators.strategy import StrategyDraws, StrategyModel
from model.estimators.strategy_predictions import (
    SURVIVAL_MONTHS,
    PreparedStrategy,
    point_draws,
    prepare_strategy,
    strategy_quantities,
)

# where the misfit is measured (whole months: they name the allowances): the horizons
# shown, the early months where the progression-free medians lie (IL-2 about 3, a TKI
# about 9) and 8 years, past the longest OS medians: a median's interval reads the
# allowance of the months around it (the hold-out's IL-2 PFS median coverage 0.79 -> 0.93)
MISFIT_MONTHS = np.array([2.0, 3.0, 4.0, 6.0, 9.0, *SURVIVAL_MONTHS, 96.0])
N_GROUPS = 10
MIN_CELL = 200  # patients a covariate cell needs to weigh in
Z = 1.959964


def survival_misfit(
    model: StrategyModel,
    draws: StrategyDraws,
    design: np.ndarray,
    outcomes: dict[str, tuple[np.ndarray, np.ndarray]],
    toxicity: np.ndarray | None = None,
    best_response: np.ndarray | None = None,
) -> dict[str, float]:
    """tau per ``{endpoint}_at_{month}_months`` for one strategy's own patients;
    ``outcomes[endpoint]`` is their (time, event); with ``best_response``, P(durable CR)'s
    too (it reads the complete responders' PFS curve at 60 months: its shape's error)."""
    prepared = prepare_strategy(model, point_draws(draws), design)
    cells = covariate_cells(design)
    out = {}
    for endpoint, (time, event) in outcomes.items():
        predicted = prepared.survival(endpoint, MISFIT_MONTHS)[0]  # (n, T)
        for j, month in enumerate(MISFIT_MONTHS):

            def observed(rows, time=time, event=event, month=month):
                return kaplan_meier_at(time[rows], event[rows], month)

            out[f"{endpoint}_at_{int(month)}_months"] = _tau(predicted[:, j], cells, observed)
    if best_response is not None and "pfs" in outcomes:
        complete = np.asarray(best_response) == "CR"
        out["p_durable_cr"] = _durable_tau(prepared, cells, complete, *outcomes["pfs"])
    if model.toxicity is not None and toxicity is not None:
        recorded = ~np.isnan(toxicity)  # as the fit: a registry may not record every event
        seen, events = design[recorded], toxicity[recorded]
        p_tox = model.toxicity.predict(seen[:, list(model.toxicity_columns)])[0]
        cells_seen = cells[recorded]
        out["p_severe_cardiac_toxicity"] = _tau(p_tox, cells_seen, lambda rows: _rate(events[rows]))
    return out


def tau_at(
    taus: dict[str, float], endpoint: str, months: np.ndarray, from_zero: bool = True
) -> np.ndarray:
    """The survival allowance of ``endpoint`` at ``months``, interpolated between the
    months it was measured at, flat beyond the last; before the first, 0 at month 0
    (``from_zero``: a curve's band, every curve is 1 there) or flat (a median's bounds, as
    they were read before the early months were measured: a version fitted then, whose
    allowance starts at 12 months, keeps its intervals)."""
    prefix = f"{endpoint}_at_"
    known = sorted(
        (float(key[len(prefix) : -len("_months")]), tau)
        for key, tau in taus.items()
        if key.startswith(prefix)
    )
    points = [(0.0, 0.0), *known] if from_zero else known
    return np.interp(months, [m for m, _ in points], [t for _, t in points])


def covariate_cells(design: np.ndarray) -> np.ndarray:
    """Each patient's cell of the prognostic factors a model's shape may miss differently
    (MSKCC factors 0 / 1-2 / 3+, histology clear cell or not, Manchester favourable or
    not): an error that cancels across the deciles of the prediction shows here."""
    names = {name: i for i, name in enumerate(FEATURE_NAMES)}
    factors = np.digitize(design[:, names["mskcc_factors"]], [0.5, 2.5])
    return (
        factors * 4
        + design[:, names["non_clear_cell"]] * 2
        + design[:, names["manchester_favourable"]]
    )


def _tau(predicted: np.ndarray, cells: np.ndarray, observed) -> float:
    """The model error: the root of the mean, over the groups of two groupings (deciles of
    the prediction, and the covariate cells of at least ``MIN_CELL`` patients), of the
    squared gap between mean prediction and observation beyond the observation's own
    variance. Pooled rather than the larger of the two: measured on 100,000 patients
    (``bench.train``), the larger over-covered cardiac toxicity (0.992) and pooling
    brought it to 0.970."""
    edges = np.quantile(predicted, np.linspace(0, 1, N_GROUPS + 1)[1:-1])
    deciles = np.searchsorted(edges, predicted, side="right")
    excess = []
    for groups in (deciles, cells):
        for g in np.unique(groups):
            rows = groups == g
            if groups is cells and rows.sum() < MIN_CELL:
                continue
            value, variance = observed(rows)
            excess.append((predicted[rows].mean() - value) ** 2 - variance)
    return float(np.sqrt(max(0.0, float(np.mean(excess)))))


def _durable_tau(
    prepared: PreparedStrategy,
    cells: np.ndarray,
    complete: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
) -> float:
    """P(durable CR) = P(CR) x S(60 months) of the complete responders' PFS, against the
    observed share of complete responses times their Kaplan-Meier at that month (the
    product's variance by the delta method)."""
    predicted = strategy_quantities(prepared, ())["p_durable_cr"][0]

    def observed(rows):
        share = float(complete[rows].mean())
        chosen = rows & complete
        if not chosen.any():
            return 0.0, share * (1 - share) / rows.sum()
        km, km_variance = kaplan_meier_at(time[chosen], event[chosen], float(DURABLE_MONTHS))
        return share * km, km**2 * share * (1 - share) / rows.sum() + share**2 * km_variance

    return _tau(predicted, cells, observed)


def _rate(outcome: np.ndarray) -> tuple[float, float]:
    """An observed proportion and its binomial variance."""
    p = float(np.mean(outcome))
    return p, p * (1 - p) / max(len(outcome), 1)


def kaplan_meier_at(time: np.ndarray, event: np.ndarray, month: float) -> tuple[float, float]:
    """Kaplan–Meier survival at ``month`` and its Greenwood variance."""
    event = np.asarray(event, dtype=bool)
    order = np.lexsort((~event, time))  # at a tied time, deaths before censorings
    t, e = time[order], event[order]
    at_risk = len(t) - np.arange(len(t))
    keep = e & (t <= month)
    factors = 1.0 - 1.0 / at_risk[keep]
    survival = float(np.prod(factors))
    terms = 1.0 / (at_risk[keep] * (at_risk[keep] - 1.0)).clip(min=1.0)
    return survival, survival**2 * float(np.sum(terms))


def widen(point: np.ndarray, lo: np.ndarray, hi: np.ndarray, tau: float):
    """An interval's bounds with the model-error allowance added in quadrature, in [0, 1]."""
    extra = (Z * tau) ** 2
    low = point - np.sqrt((point - lo) ** 2 + extra)
    high = point + np.sqrt((hi - point) ** 2 + extra)
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
