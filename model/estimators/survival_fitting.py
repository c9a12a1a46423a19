"""Fitting survival components with lifelines (``model.estimators.survival`` evaluates them):
Weibull AFT, a covariate mixture-cure model (``MixtureCureFitter``), and Cox with a
Breslow baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
from autograd import numpy as anp
from autograd.scipy.special import expit as aexpit
from lifelines import CoxPHFitter, NelsonAalenFitter, WeibullAFTFitter
from lifelines.fitters import ParametricRegressionFitter

from model.estimators.survival import BASELINE_MONTHS, PARAMETERS, Component


class MixtureCureFitter(ParametricRegressionFitter):
    """Mixture-cure model with a Weibull latency and a known other-cause hazard b (a
    relative-survival cure model: the cured still die at the population's rate):
    S(t | x) = exp(-b t) (c(x) + (1 - c(x)) exp(-(t / lambda(x))^rho)),
    logit c = x g, log lambda = x b. Without b, the deaths of the cured over a decade's
    follow-up read as relapses and the cure fraction comes out too low."""

    _fitted_parameter_names = ["cure_", "lambda_", "rho_"]
    background: float = 0.0  # other-cause deaths per month

    def _cumulative_hazard(self, params, T, Xs):
        cure = aexpit(anp.dot(Xs["cure_"], params["cure_"]))
        lam = anp.exp(anp.dot(Xs["lambda_"], params["lambda_"]))
        rho = anp.exp(anp.dot(Xs["rho_"], params["rho_"]))
        uncured = anp.exp(-((T / lam) ** rho))
        return self.background * T - anp.log(cure + (1 - cure) * uncured)


def fit_component(
    design: np.ndarray,
    names: tuple[str, ...],
    duration: np.ndarray,
    event: np.ndarray,
    covariates: tuple[str, ...],
    kind: str = "weibull",
    penalizer: float = 0.01,
    background: float = 0.0,
) -> Component:
    """Fit one component on the rows given; ``covariates`` (names in ``names``) enter the
    scale (and the cure fraction); rho is one number. Too few events: intercept only."""
    event = np.asarray(event, dtype=bool)
    covariates = _usable(design, names, covariates, event)
    frame = pd.DataFrame(design[:, [names.index(c) for c in covariates]], columns=covariates)
    frame["duration"] = np.maximum(np.asarray(duration, dtype=float), 1e-3)
    frame["event"] = event
    formula = " + ".join(covariates) if covariates else "1"
    if kind == "cox":
        return _fit_cox(frame, covariates, names, penalizer)
    if kind == "weibull":
        fitter = WeibullAFTFitter(penalizer=penalizer)
        fitter.fit(frame, "duration", "event", formula=formula)
        regress = {"lambda_": covariates, "rho_": ()}
    else:
        fitter = MixtureCureFitter(penalizer=penalizer)
        fitter.background = background
        latency = _latency_covariates(covariates, event)
        fitter.fit(
            frame,
            "duration",
            "event",
            regressors={"cure_": formula, "lambda_": " + ".join(latency) or "1", "rho_": "1"},
        )
        regress = {"cure_": covariates, "lambda_": latency, "rho_": ()}
    order = [(param, term) for param in PARAMETERS[kind] for term in ("Intercept", *regress[param])]
    mean = fitter.params_.loc[order].to_numpy(dtype=float)
    cov = fitter.variance_matrix_.loc[order, order].to_numpy(dtype=float)
    intercept = names.index("intercept")
    columns = {
        param: (intercept, *(names.index(c) for c in regress[param])) for param in PARAMETERS[kind]
    }
    extra = {"background": background} if kind == "cure_weibull" else {}
    return Component(kind, columns, mean, (cov + cov.T) / 2, len(frame), int(event.sum()), **extra)


def _fit_cox(
    frame: pd.DataFrame, covariates: tuple[str, ...], names: tuple[str, ...], penalizer: float
) -> Component:
    """Cox proportional hazards with a Breslow baseline: any baseline shape (an early
    assessment visit, a mixture of stable and progressing disease) without a parametric
    form. Draws move the covariate effects and, by one standard normal per draw, the
    baseline by its standard error: without it, a group's baseline was taken as known,
    and on a group of 300 patients the draws spread two thirds as much as refits on new
    samples do (``test_cox_draws_spread_as_refits_on_new_samples_do``); on 100,000 the
    baseline's share is small."""
    if covariates:
        fitter = CoxPHFitter(penalizer=penalizer).fit(
            frame[[*covariates, "duration", "event"]], "duration", "event"
        )
        base = fitter.baseline_cumulative_hazard_.iloc[:, 0]
        beta = fitter.params_.loc[list(covariates)].to_numpy(dtype=float)
        cov = fitter.variance_matrix_.loc[list(covariates), list(covariates)].to_numpy(float)
        centre = fitter._norm_mean.loc[list(covariates)].to_numpy(dtype=float)
        risk = np.exp((frame[list(covariates)].to_numpy(dtype=float) - centre) @ beta)
    else:  # no covariate can be carried: the Nelson-Aalen estimate alone
        base = NelsonAalenFitter().fit(frame["duration"], frame["event"]).cumulative_hazard_
        base = base.iloc[:, 0]
        beta, cov, centre = np.zeros(1), np.zeros((1, 1)), np.zeros(1)
        risk = np.ones(len(frame))
    times = np.concatenate([[0.0], base.index.to_numpy(dtype=float)])
    values = np.concatenate([[0.0], base.to_numpy(dtype=float)])
    step = np.searchsorted(times, BASELINE_MONTHS, side="right") - 1
    intercept = names.index("intercept")
    columns = {
        "beta_": tuple(names.index(c) for c in covariates) or (intercept,),
        "baseline_z_": (intercept,),
    }
    width = len(beta)
    full_cov = np.zeros((width + 1, width + 1))
    full_cov[:width, :width] = (cov + cov.T) / 2
    full_cov[width, width] = 1.0  # the baseline's standard normal, independent of beta
    return Component(
        "cox",
        columns,
        np.append(beta, 0.0),
        full_cov,
        len(frame),
        int(frame["event"].sum()),
        centre,
        values[step],
        baseline_sd=_log_baseline_sd(
            frame["duration"].to_numpy(float), frame["event"].to_numpy(bool), risk
        ),
    )


def _log_baseline_sd(duration: np.ndarray, event: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """The standard error of log H0 on ``BASELINE_MONTHS``: Breslow's H0(t) = sum over
    event times t_k <= t of d_k / R_k, with variance sum d_k / R_k^2 (R_k the risk set's
    summed relative risk), by the delta method; 0 before the first event."""
    order = np.argsort(duration, kind="stable")
    time, died, risk = duration[order], event[order].astype(float), risk[order]
    at_risk = np.cumsum(risk[::-1])[::-1]  # relative risk of every row still followed
    unique, first = np.unique(time, return_index=True)
    deaths = np.add.reduceat(died, first)
    hazard = np.cumsum(deaths / at_risk[first])
    variance = np.cumsum(deaths / at_risk[first] ** 2)
    step = np.searchsorted(unique, BASELINE_MONTHS, side="right") - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.where(hazard > 0, np.sqrt(variance) / hazard, 0.0)
    return np.where(step >= 0, sd[np.maximum(step, 0)], 0.0)


def _latency_covariates(covariates: tuple[str, ...], event: np.ndarray) -> tuple[str, ...]:
    """The cure model's latency (when the uncured relapse) depends on the same covariates
    as its cure fraction, when the events can carry both sets (about ten per parameter).
    With one latency for every patient, the slower relapses of good-prognosis patients
    were read as cures: P(cure) came out high for them, and its coverage of the truth on a
    50,000-patient hold-out was 0.875 (0.966 with the latency on covariates)."""
    if event.sum() < 10 * (2 * len(covariates) + 3):
        return ()
    return covariates


def _usable(
    design: np.ndarray, names: tuple[str, ...], covariates: tuple[str, ...], event: np.ndarray
) -> tuple[str, ...]:
    """Covariates that vary in this group, and none when events are too few to carry them
    (about ten events per parameter)."""
    if event.sum() < 10 * (len(covariates) + 2):
        return ()
    return tuple(c for c in covariates if design[:, names.index(c)].std() > 1e-9)
