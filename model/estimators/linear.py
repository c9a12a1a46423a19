"""Linear predictors for parameter draws, with or without per-draw imputed inputs."""

from __future__ import annotations

import numpy as np


def linear_predictor(theta: np.ndarray, design: np.ndarray) -> np.ndarray:
    """x . theta for every draw: ``theta`` (D, p); ``design`` (n, p) shared by all draws or
    (D, n, p) when each draw sees its own imputation of the unknown inputs; one parameter
    set (1, p) with (D, n, p) gives its predictions over the D imputations. Returns (D, n)."""
    if design.ndim == 2:
        return theta @ design.T
    if theta.shape[0] == 1:  # one parameter set over every imputation
        return np.einsum("p,dnp->dn", theta[0], design)
    return np.einsum("dp,dnp->dn", theta, design)
