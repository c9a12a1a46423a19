"""Penalised logistic regression with a Laplace (normal) approximation of its parameter
uncertainty, so a prediction carries an interval that shrinks with the training data.

Prediction is a matrix product: cheap for one patient and for a million.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from model.estimators.linear import linear_predictor


@dataclass(frozen=True)
class FittedLogistic:
    """``P(y=1 | x) = expit(x @ coef)``; ``cov`` is the inverse penalised Hessian."""

    coef: np.ndarray
    cov: np.ndarray
    n_events: int
    n_rows: int

    def predict(self, design: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
        """Probabilities (D, n) for coefficient draws (D, p) (default: the estimate)."""
        coef = np.atleast_2d(self.coef if coef is None else coef)
        return expit(linear_predictor(coef, design))

    def draw(self, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        """Coefficient draws (n_draws, p) from the normal approximation."""
        return rng.multivariate_normal(self.coef, self.cov, size=n_draws, method="eigh")


def fit_logistic(design: np.ndarray, outcome: np.ndarray, penalty: float = 1.0) -> FittedLogistic:
    """Fit by L-BFGS with an L2 penalty ``penalty`` on every coefficient but the first
    (the intercept column); outcome 0/1.

    The penalty keeps rare outcomes (IL-2 complete responses in a small cohort) finite;
    the same penalty enters the Hessian so the interval matches the estimate.
    """
    # scikit-learn loads only where models are fitted (the service only predicts)
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(outcome, dtype=float)
    if y.min() == y.max():
        raise ValueError("the outcome never varies: nothing to learn")
    scale = np.ones(design.shape[1])
    scale[1:] = np.maximum(design[:, 1:].std(axis=0), 1e-8)
    standard = design / scale
    fitted = LogisticRegression(C=1.0 / penalty, fit_intercept=True, max_iter=2000, tol=1e-8).fit(
        standard[:, 1:], y
    )
    coef_std = np.concatenate([fitted.intercept_, fitted.coef_[0]])
    p = expit(standard @ coef_std)
    ridge = penalty * np.eye(len(scale))
    ridge[0, 0] = 0.0  # the intercept is not penalised
    hessian = (standard * (p * (1 - p))[:, None]).T @ standard + ridge
    cov_std = np.linalg.inv(hessian)
    cov = cov_std / np.outer(scale, scale)
    return FittedLogistic(coef_std / scale, (cov + cov.T) / 2, int(y.sum()), len(y))


def log_likelihood(model: FittedLogistic, design: np.ndarray, outcome: np.ndarray) -> float:
    y = np.asarray(outcome, dtype=float)
    p = np.clip(model.predict(design)[0], 1e-12, 1 - 1e-12)
    return float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))


def intercept_only(outcome: np.ndarray, width: int) -> FittedLogistic:
    """The constant model, padded to ``width`` coefficients (the slopes fixed at 0)."""
    y = np.asarray(outcome, dtype=float)
    rate = y.mean()
    coef = np.zeros(width)
    coef[0] = np.log(rate / (1 - rate))
    cov = np.zeros((width, width))
    cov[0, 0] = 1.0 / (len(y) * rate * (1 - rate))
    return FittedLogistic(coef, cov, int(y.sum()), len(y))


def bic(model: FittedLogistic, design: np.ndarray, outcome: np.ndarray, n_parameters: int) -> float:
    """Bayesian information criterion: a parameter must earn log(n) of likelihood."""
    return np.log(len(design)) * n_parameters - 2 * log_likelihood(model, design, outcome)
