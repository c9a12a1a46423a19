"""Survival components evaluated with numpy (``survival_fitting`` fits them with lifelines).

A component is the time-to-event distribution of one group of patients (say, IL-2
complete responders) given their covariates:

- ``weibull``: lifelines' Weibull AFT, S(t) = exp(-(t / lambda)^rho), log lambda = x b;
- ``cure_weibull``: a covariate mixture-cure model (``MixtureCureFitter``, a custom lifelines
  regression fitter), S(t) = c + (1 - c) exp(-(t / lambda)^rho), logit c = x g: the
  curve flattens at the cure fraction c (BRIEF: IL-2 complete responders).

Prediction reads the fitted parameters into numpy, so one patient costs microseconds,
parameter draws (for intervals) are matrix products, and a process that only predicts (the
service) never loads lifelines (about 55 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from model.estimators.linear import linear_predictor

PARAMETERS = {
    "weibull": ("lambda_", "rho_"),
    "cure_weibull": ("cure_", "lambda_", "rho_"),
    # baseline_z_: a standard normal per draw that moves the Breslow baseline by its own
    # uncertainty (``Component.baseline_sd``); versions fitted before it have no such column
    "cox": ("beta_", "baseline_z_"),
}
INTERCEPT_COLUMN = 0  # design.FEATURE_NAMES[0]: the design's column of ones
# parameter draws only feed 95 % intervals: single precision (7 digits) is plenty and halves
# the memory traffic of the (D, n, T) curves; the point estimate (one draw) keeps double
DRAW_DTYPE = np.float32
# the Cox baseline cumulative hazard is kept on this grid (fine where curves are read)
BASELINE_MONTHS = np.concatenate([np.arange(0.0, 120.0, 0.1), np.arange(120.0, 1201.0, 1.0)])


@dataclass(frozen=True)
class PreparedCurve:
    """One component's S(t) = exp(-b t) c + (1 - c) exp(-H(t) - b t) for fixed patients and
    draws, as a function of months: the Cox model's H(t) = H0(t) r (``neg_scale`` = -r),
    the Weibull's H(t) = exp(rho log t + log a) with a = lambda^-rho (``log_a``; in the
    log domain, so that no power overflows single precision), ``cure`` the cure fraction
    c and ``background`` the other-cause hazard b (cure models only). Each parameter is
    (D, n, 1), or (D, 1, 1) for a parameter on the intercept alone (the same for every
    patient; it broadcasts)."""

    baseline: np.ndarray | None  # cox: H0 on BASELINE_MONTHS
    neg_scale: np.ndarray | None = None
    # cox draws: H0(t) exp(baseline_sd(t) z), z (D, 1, 1) a standard normal per draw
    baseline_sd: np.ndarray | None = None
    baseline_z: np.ndarray | None = None
    rho: np.ndarray | None = None
    log_a: np.ndarray | None = None
    cure: np.ndarray | None = None
    background: float = 0.0  # per month

    def first(self) -> PreparedCurve:
        """The first draw alone (the point estimate; its baseline unmoved)."""

        def head(a):
            return None if a is None else a[:1]

        return PreparedCurve(
            self.baseline,
            head(self.neg_scale),
            rho=head(self.rho),
            log_a=head(self.log_a),
            cure=head(self.cure),
            background=self.background,
        )

    def cure_fraction(self) -> np.ndarray:
        """The cure fraction (D, n); zero for a model without one (then (D, 1) when the
        scale is on the intercept alone: it broadcasts)."""
        if self.cure is not None:
            return self.cure[..., 0]
        return np.zeros((self.neg_scale if self.rho is None else self.log_a).shape[:-1])

    @property
    def dtype(self) -> np.dtype:
        return (self.neg_scale if self.rho is None else self.rho).dtype

    def uncured_at(self, months: np.ndarray) -> np.ndarray:
        """exp(-H(t) - b t) at ``months`` (T,) or per patient (n, T), a new array:
        (D, n, T), or (D, 1, T) when nothing in it depends on the patient."""
        months = np.asarray(months, dtype=self.dtype)
        if self.rho is None:
            hazard, neg_scale = self._cox_terms(months)
            shape = np.broadcast_shapes(hazard.shape, neg_scale.shape)
            out = np.multiply(hazard, neg_scale, out=hazard if hazard.shape == shape else None)
        else:  # log 0 = -inf: H(0) = 0 without evaluating it
            log_t = np.log(months, out=np.full(months.shape, -np.inf, self.dtype), where=months > 0)
            out = np.multiply(log_t, self.rho)
            shape = np.broadcast_shapes(out.shape, self.log_a.shape)
            out = np.add(out, self.log_a, out=out if out.shape == shape else None)
            with np.errstate(over="ignore"):  # H = inf is S = 0, exactly what follows
                np.exp(out, out=out)
            np.negative(out, out=out)
        if self.background:
            out = np.subtract(out, self.background * months, out=out)
        return np.exp(out, out=out)

    def _cox_terms(self, months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """H0(t) at ``months`` (each draw's moved by exp(sd(t) z)) and -r."""
        hazard = np.interp(months, BASELINE_MONTHS, self.baseline).astype(self.dtype)
        if self.baseline_z is None:
            return hazard, self.neg_scale
        spread = np.interp(months, BASELINE_MONTHS, self.baseline_sd).astype(self.dtype)
        return hazard * np.exp(spread * self.baseline_z), self.neg_scale

    def cured_at(self, months: np.ndarray) -> np.ndarray:
        """exp(-b t), what the cured keep at ``months`` (T,) or (n, T): their share of
        S(t) is c exp(-b t)."""
        months = np.asarray(months, dtype=self.dtype)
        return np.exp(-self.background * months)

    def at(self, months: np.ndarray) -> np.ndarray:
        """S(t), (D, n, T), at ``months`` (T,) or per patient (n, T), in the precision of
        the parameters (``DRAW_DTYPE`` for draws)."""
        out = self.uncured_at(months)
        if self.cure is None:
            return out
        # the uncured curve may be shared by every patient (D, 1, T): the cure fraction is not
        in_place = out.shape == np.broadcast_shapes(out.shape, self.cure.shape)
        out = np.multiply(out, 1 - self.cure, out=out if in_place else None)
        return np.add(out, self.cure * self.cured_at(months), out=out)


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
    centre: np.ndarray | None = None  # cox: covariate means lifelines centred on
    baseline: np.ndarray | None = None  # cox: cumulative hazard on BASELINE_MONTHS
    background: float = 0.0  # cure_weibull: the known other-cause hazard, per month
    # cox: the standard error of log H0 on BASELINE_MONTHS (Breslow's variance; None for a
    # version fitted before it, whose draws then leave the baseline fixed)
    baseline_sd: np.ndarray | None = None

    def _split(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        out, start = {}, 0
        for name in PARAMETERS[self.kind]:
            if name not in self.columns:  # a parameter added after this version was fitted
                continue
            width = len(self.columns[name])
            out[name] = theta[..., start : start + width]
            start += width
        return out

    def _linear(
        self, design: np.ndarray, theta: np.ndarray, shared: bool = False
    ) -> dict[str, np.ndarray]:
        """Each parameter's linear predictor, (D, n), for draws ``theta`` (D, p). With
        ``shared``, a parameter on the intercept alone is (D, 1): the same for every patient
        (x . theta is theta exactly when x is the intercept's 1), so what is computed from
        it is computed once per draw, not once per patient, and broadcasts."""
        parts = self._split(np.atleast_2d(theta))
        out = {}
        for name, part in parts.items():
            if shared and self.columns[name] == (INTERCEPT_COLUMN,):
                out[name] = part.copy()  # a new array, as a product's: callers may write
                continue
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

    def survival(
        self, design: np.ndarray, months: np.ndarray, theta: np.ndarray | None = None
    ) -> np.ndarray:
        """S(t) at ``months``, (D, n, T), for draws ``theta`` (D, p)."""
        return self.prepare(design, theta).at(months)

    def prepare(self, design: np.ndarray, theta: np.ndarray | None = None) -> PreparedCurve:
        """The draws' linear predictors for ``design``, computed once: ``at(months)`` then
        evaluates S(t) at any months (a median search reads one curve several times).
        Several draws are prepared in ``DRAW_DTYPE``, one (the point estimate) in double."""
        theta = np.atleast_2d(self.mean if theta is None else theta)
        dtype = np.float64 if theta.shape[0] == 1 else DRAW_DTYPE
        lin = self._linear(design, theta, shared=True)
        if self.kind == "cox":
            width = len(self.columns["beta_"])  # beta_ leads theta (PARAMETERS' order)
            offset = theta[:, :width] @ self.centre  # (D,): the centring, per draw
            risk = np.subtract(lin["beta_"], offset[:, None], out=lin["beta_"])  # in place
            np.exp(risk, out=risk)
            z = lin.get("baseline_z_")
            # the point estimate alone (one draw, z = 0) leaves the baseline where it is
            moved = self.baseline_sd is not None and z is not None and theta.shape[0] > 1
            return PreparedCurve(
                self.baseline,
                (-risk).astype(dtype, copy=False)[..., None],
                baseline_sd=self.baseline_sd if moved else None,
                baseline_z=z.astype(dtype, copy=False)[..., None] if moved else None,
            )
        rho = np.exp(lin["rho_"])
        cure = expit(lin["cure_"])[..., None] if self.kind == "cure_weibull" else None
        return PreparedCurve(
            None,
            rho=rho.astype(dtype, copy=False)[..., None],
            log_a=(-rho * lin["lambda_"]).astype(dtype, copy=False)[..., None],
            cure=None if cure is None else cure.astype(dtype, copy=False),
            background=self.background,
        )

    def draw(self, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        return rng.multivariate_normal(self.mean, self.cov, size=n_draws, method="eigh")
