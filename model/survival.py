"""Survival components fitted with lifelines and evaluated with numpy.

A component is the time-to-event distribution of one group of patients (say, IL-2
complete responders) given their covariates:

- ``weibull``: lifelines' Weibull AFT, S(t) = exp(-(t / lambda)^rho), log lambda = x b;
- ``cure_weibull``: a covariate mixture-cure model (``MixtureCureFitter``, a custom lifelines
  regression fitter), S(t) = c + (1 - c) exp(-(t / lambda)^rho), logit c = x g: the
  curve flattens at the cure fraction c (BRIEF: IL-2 complete responders).

Fitting uses lifelines; prediction reads the fitted parameters into numpy, so one patient
costs microseconds and parameter draws (for intervals) are matrix products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from autograd import numpy as anp
from autograd.scipy.special import expit as aexpit
from lifelines import CoxPHFitter, NelsonAalenFitter, WeibullAFTFitter
from lifelines.fitters import ParametricRegressionFitter
from scipy.special import expit

from model.linear import linear_predictor

PARAMETERS = {"weibull": ("lambda_", "rho_"), "cure_weibull": ("cure_", "lambda_", "rho_"),
              "cox": ("beta_",)}
# the Cox baseline cumulative hazard is kept on this grid (fine where curves are read)
BASELINE_MONTHS = np.concatenate([np.arange(0.0, 120.0, 0.1), np.arange(120.0, 1201.0, 1.0)])


class MixtureCureFitter(ParametricRegressionFitter):
    """Mixture-cure model with a Weibull latency:
    S(t | x) = c(x) + (1 - c(x)) exp(-(t / lambda(x))^rho), logit c = x g, log lambda = x b."""

    _fitted_parameter_names = ["cure_", "lambda_", "rho_"]

    def _cumulative_hazard(self, params, T, Xs):
        cure = aexpit(anp.dot(Xs["cure_"], params["cure_"]))
        lam = anp.exp(anp.dot(Xs["lambda_"], params["lambda_"]))
        rho = anp.exp(anp.dot(Xs["rho_"], params["rho_"]))
        uncured = anp.exp(-((T / lam) ** rho))
        return -anp.log(cure + (1 - cure) * uncured)


@dataclass(frozen=True)
class PreparedCurve:
    """One component's S(t) for fixed patients and draws, as a function of months: the
    Cox baseline and relative risk, or the Weibull shape, log scale and cure fraction,
    each (D, n, 1)."""

    baseline: np.ndarray | None
    risk: np.ndarray | None = None
    rho: np.ndarray | None = None
    log_scale: np.ndarray | None = None
    cure: np.ndarray | None = None

    def cure_fraction(self) -> np.ndarray:
        """The cure fraction (D, n); zero for a model without one."""
        if self.cure is not None:
            return self.cure[..., 0]
        return np.zeros((self.risk if self.risk is not None else self.rho).shape[:-1])

    def at(self, months: np.ndarray) -> np.ndarray:
        """S(t), (D, n, T), at ``months`` (T,) or per patient (n, T)."""
        months = np.asarray(months, dtype=float)
        if self.risk is not None:
            return np.exp(-np.interp(months, BASELINE_MONTHS, self.baseline) * self.risk)
        # (t / lambda)^rho as exp(rho (log t - log lambda)): no power, no division;
        # log 0 = -inf (S(0) = 1) without evaluating it
        log_t = np.log(months, out=np.full(months.shape, -np.inf), where=months > 0)
        uncured = np.exp(-np.exp(self.rho * (log_t - self.log_scale)))
        if self.cure is None:
            return uncured
        return self.cure + (1 - self.cure) * uncured


@dataclass(frozen=True)
class Component:
    """A fitted survival distribution: parameter vector ``mean`` with covariance ``cov``;
    ``columns[param]`` are the design-matrix columns each parameter's regression uses."""

    kind: str
    columns: dict[str, tuple[int, ...]]
    mean: np.ndarray
    cov: np.ndarray
    n_rows: int
    n_events: int
    centre: np.ndarray | None = None          # cox: covariate means lifelines centred on
    baseline: np.ndarray | None = None        # cox: cumulative hazard on BASELINE_MONTHS

    def _split(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        out, start = {}, 0
        for name in PARAMETERS[self.kind]:
            width = len(self.columns[name])
            out[name] = theta[..., start:start + width]
            start += width
        return out

    def _linear(self, design: np.ndarray, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Each parameter's linear predictor, (D, n), for draws ``theta`` (D, p)."""
        parts = self._split(np.atleast_2d(theta))
        out = {}
        for name, part in parts.items():
            # the draws spread over the design's full width (zeros elsewhere): no copy of a
            # (D, n, p) design's columns
            full = np.zeros((part.shape[0], design.shape[-1]))
            full[:, list(self.columns[name])] = part
            out[name] = linear_predictor(full, design)
        return out

    def cure_fraction(self, design: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        """Cure fraction (D, n); zero for a model without one."""
        theta = np.atleast_2d(self.mean if theta is None else theta)
        if self.kind != "cure_weibull":
            return np.zeros((theta.shape[0], design.shape[-2]))
        return expit(self._linear(design, theta)["cure_"])

    def survival(self, design: np.ndarray, months: np.ndarray,
                 theta: np.ndarray | None = None) -> np.ndarray:
        """S(t) at ``months``, (D, n, T), for draws ``theta`` (D, p)."""
        return self.prepare(design, theta).at(months)

    def prepare(self, design: np.ndarray, theta: np.ndarray | None = None) -> PreparedCurve:
        """The draws' linear predictors for ``design``, computed once: ``at(months)`` then
        evaluates S(t) at any months (a median search reads one curve several times)."""
        theta = np.atleast_2d(self.mean if theta is None else theta)
        lin = self._linear(design, theta)
        if self.kind == "cox":
            offset = self.centre @ theta.T  # (D,): the centring, per draw
            return PreparedCurve(self.baseline, risk=np.exp(lin["beta_"] - offset[:, None])[
                ..., None])
        cure = expit(lin["cure_"])[..., None] if self.kind == "cure_weibull" else None
        return PreparedCurve(None, rho=np.exp(lin["rho_"])[..., None],
                             log_scale=lin["lambda_"][..., None], cure=cure)

    def draw(self, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        return rng.multivariate_normal(self.mean, self.cov, size=n_draws, method="eigh")


def fit_component(design: np.ndarray, names: tuple[str, ...], duration: np.ndarray,
                  event: np.ndarray, covariates: tuple[str, ...], kind: str = "weibull",
                  penalizer: float = 0.01) -> Component:
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
        fitter.fit(frame, "duration", "event",
                   regressors={"cure_": formula, "lambda_": "1", "rho_": "1"})
        regress = {"cure_": covariates, "lambda_": (), "rho_": ()}
    order = [(param, term) for param in PARAMETERS[kind]
             for term in ("Intercept", *regress[param])]
    mean = fitter.params_.loc[order].to_numpy(dtype=float)
    cov = fitter.variance_matrix_.loc[order, order].to_numpy(dtype=float)
    intercept = names.index("intercept")
    columns = {param: (intercept, *(names.index(c) for c in regress[param]))
               for param in PARAMETERS[kind]}
    return Component(kind, columns, mean, (cov + cov.T) / 2, len(frame), int(event.sum()))


def _fit_cox(frame: pd.DataFrame, covariates: tuple[str, ...], names: tuple[str, ...],
             penalizer: float) -> Component:
    """Cox proportional hazards with a Breslow baseline: any baseline shape (an early
    assessment visit, a mixture of stable and progressing disease) without a parametric
    form; only the covariate effects are drawn for intervals."""
    if covariates:
        fitter = CoxPHFitter(penalizer=penalizer).fit(
            frame[[*covariates, "duration", "event"]], "duration", "event")
        base = fitter.baseline_cumulative_hazard_.iloc[:, 0]
        mean = fitter.params_.loc[list(covariates)].to_numpy(dtype=float)
        cov = fitter.variance_matrix_.loc[list(covariates), list(covariates)].to_numpy(float)
        centre = fitter._norm_mean.loc[list(covariates)].to_numpy(dtype=float)
    else:  # no covariate can be carried: the Nelson-Aalen estimate alone
        base = NelsonAalenFitter().fit(frame["duration"], frame["event"]).cumulative_hazard_
        base = base.iloc[:, 0]
        mean, cov, centre = np.zeros(1), np.zeros((1, 1)), np.zeros(1)
    times = np.concatenate([[0.0], base.index.to_numpy(dtype=float)])
    values = np.concatenate([[0.0], base.to_numpy(dtype=float)])
    step = np.searchsorted(times, BASELINE_MONTHS, side="right") - 1
    columns = {"beta_": tuple(names.index(c) for c in covariates) or (names.index("intercept"),)}
    return Component("cox", columns, mean, (cov + cov.T) / 2, len(frame),
                     int(frame["event"].sum()), centre, values[step])


def _usable(design: np.ndarray, names: tuple[str, ...], covariates: tuple[str, ...],
            event: np.ndarray) -> tuple[str, ...]:
    """Covariates that vary in this group, and none when events are too few to carry them
    (about ten events per parameter)."""
    if event.sum() < 10 * (len(covariates) + 2):
        return ()
    return tuple(c for c in covariates if design[:, names.index(c)].std() > 1e-9)
