"""Closed-form survival of the outcome mixture (the truth outcomes are drawn from).

Each strategy is a mixture of sub-classes ``k`` (complete response cured / relapsing,
partial response durable / short, stable, progressive disease). Within a sub-class

* progression-free time  = min(s_k + E_k, D),  E_k ~ Exp(a_k) (a_k = 0: never progresses)
* overall survival time  = min(s_k + E_k + R, D),  R ~ Exp(b) after progression
* D ~ Exp(c) is death from other causes.

so S_pfs,k(t) = e^{-ct} [t < s_k or e^{-a_k (t - s_k)}] and
S_os,k(t) = e^{-ct} [t < s_k or (b e^{-a_k u} - a_k e^{-b u}) / (b - a_k), u = t - s_k].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUBCLASSES = ("CR_cured", "CR_relapsing", "PR_durable", "PR_short", "SD", "PD")
BEST_RESPONSE_OF_SUBCLASS = np.array(["CR", "CR", "PR", "PR", "SD", "PD"], dtype=object)
RESPONSES = ("CR", "PR", "SD", "PD")
NEVER = 1e6  # months: a median beyond this is "never reached"


@dataclass(frozen=True)
class Mixture:
    """One strategy's outcome distribution for P covariate patterns.

    Attributes
    ----------
    probs : (P, 6) sub-class probabilities (rows sum to 1).
    shift : (6,) months before progression can occur in each sub-class.
    progression_rate : (P, 6) per month; 0 means never progresses.
    post_progression_rate : (P,) per month, death after progression.
    background_rate : float, per month, death from other causes.
    """

    probs: np.ndarray
    shift: np.ndarray
    progression_rate: np.ndarray
    post_progression_rate: np.ndarray
    background_rate: float

    def take(self, index: np.ndarray) -> Mixture:
        """The mixture of the selected patterns (rows)."""
        return Mixture(
            self.probs[index],
            self.shift,
            self.progression_rate[index],
            self.post_progression_rate[index],
            self.background_rate,
        )


def subclass_survival(mix: Mixture, t: np.ndarray, endpoint: str) -> np.ndarray:
    """Survival of every pattern and sub-class at times ``t``: shape (P, 6, T)."""
    t = np.asarray(t, dtype=float)[None, None, :]
    u = np.maximum(t - mix.shift[None, :, None], 0.0)
    a = mix.progression_rate[:, :, None]
    if endpoint == "pfs":
        disease = np.exp(-a * u)
    else:
        b = mix.post_progression_rate[:, None, None]
        b = np.where(np.abs(b - a) < 1e-9 * b, b * (1 + 1e-6), b)
        disease = (b * np.exp(-a * u) - a * np.exp(-b * u)) / (b - a)
    return np.exp(-mix.background_rate * t) * disease


def survival(
    mix: Mixture, t: np.ndarray, endpoint: str, weights: np.ndarray | None = None
) -> np.ndarray:
    """Per-pattern mixture survival (P, T); ``weights`` (P, 6) replaces ``probs`` when
    given (e.g. to condition on a best response) and is normalised per row."""
    w = mix.probs if weights is None else weights
    total = w.sum(axis=1, keepdims=True)
    w = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    return np.einsum("pk,pkt->pt", w, subclass_survival(mix, t, endpoint))


def pooled_survival(mix: Mixture, t: np.ndarray, endpoint: str, weights: np.ndarray) -> np.ndarray:
    """Population survival (T,) of patterns weighted by ``weights`` (P, 6): each entry is
    the expected number of patients of that pattern and sub-class in the population."""
    total = weights.sum()
    if total <= 0:
        return np.full(np.shape(t), np.nan)
    return np.einsum("pk,pkt->t", weights, subclass_survival(mix, t, endpoint)) / total


def pattern_medians(mix: Mixture, endpoint: str, iterations: int = 44) -> np.ndarray:
    """Median of each pattern's mixture survival by bisection on log time (inf when the
    survival never falls to 1/2 within ``NEVER`` months); 44 halvings of [1e-4, 1e6]
    months leave a relative error below 1e-11."""
    n = mix.probs.shape[0]
    lo, hi = np.full(n, np.log(1e-4)), np.full(n, np.log(NEVER))
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        s = _diagonal_survival(mix, np.exp(mid), endpoint)
        above = s > 0.5
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    median = np.exp(0.5 * (lo + hi))
    return np.where(median > 0.99 * NEVER, np.inf, median)


def _diagonal_survival(mix: Mixture, t: np.ndarray, endpoint: str) -> np.ndarray:
    """Survival of pattern i at its own time t[i]."""
    u = np.maximum(t[:, None] - mix.shift[None, :], 0.0)
    a = mix.progression_rate
    if endpoint == "pfs":
        disease = np.exp(-a * u)
    else:
        b = mix.post_progression_rate[:, None]
        b = np.where(np.abs(b - a) < 1e-9 * b, b * (1 + 1e-6), b)
        disease = (b * np.exp(-a * u) - a * np.exp(-b * u)) / (b - a)
    return np.exp(-mix.background_rate * t) * np.einsum("pk,pk->p", mix.probs, disease)


def pooled_median(mix: Mixture, endpoint: str, weights: np.ndarray, iterations: int = 50) -> float:
    """Median of the population survival (``pooled_survival``) by bisection on log time."""
    lo, hi = np.log(1e-3), np.log(NEVER)
    if pooled_survival(mix, np.array([NEVER]), endpoint, weights)[0] > 0.5:
        return np.inf
    keep = weights.sum(axis=1) > 0
    mix_kept, w = mix.take(keep), weights[keep]
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if pooled_survival(mix_kept, np.array([np.exp(mid)]), endpoint, w)[0] > 0.5:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))
