"""Quality of predictions on a synthetic hold-out that carries its own truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines.utils import concordance_index
from sklearn.metrics import roc_auc_score

from model.contract.columns import DURABLE_MONTHS, SURVIVAL_HORIZONS_MONTHS
from model.estimators.logistic import fit_logistic

N_BINS = 10

# (prediction column, truth column, observed outcome)
CLASSIFIERS = {
    "il2_p_response": ("il2_true_p_response", lambda h: h["il2_best_response"].isin(["CR", "PR"])),
    "il2_p_complete_response": (
        "il2_true_p_complete_response",
        lambda h: h["il2_best_response"] == "CR",
    ),
    "tki_p_response": ("tki_true_p_response", lambda h: h["tki_best_response"].isin(["CR", "PR"])),
    "tki_p_complete_response": (
        "tki_true_p_complete_response",
        lambda h: h["tki_best_response"] == "CR",
    ),
    "il2_p_severe_cardiac_toxicity": (
        "il2_true_p_severe_cardiac_toxicity",
        lambda h: h["il2_severe_cardiac_toxicity"].astype(bool),
    ),
    "il2_p_durable_cr": (
        "il2_true_p_durable_cr",
        lambda h: (h["il2_best_response"] == "CR") & (h["il2_pfs_months"] > DURABLE_MONTHS),
    ),
    "tki_p_durable_cr": (
        "tki_true_p_durable_cr",
        lambda h: (h["tki_best_response"] == "CR") & (h["tki_pfs_months"] > DURABLE_MONTHS),
    ),
    "il2_p_cure": (
        "il2_true_p_cure",
        lambda h: (h["il2_best_response"] == "CR") & ~h["il2_pfs_event"].astype(bool),
    ),
}
SURVIVAL = {
    f"{a}_{e}": (f"{a}_{e}_months", f"{a}_{e}_event") for a in ("il2", "tki") for e in ("os", "pfs")
}


def binned_error(score: np.ndarray, predicted: np.ndarray, target: np.ndarray) -> float:
    """Mean |mean predicted - mean target| over deciles of ``score``, weighted by size
    (target: outcomes for calibration error, true probabilities for error vs the truth)."""
    edges = np.quantile(score, np.linspace(0, 1, N_BINS + 1)[1:-1])
    bins = np.searchsorted(edges, score, side="right")
    total = 0.0
    for b in np.unique(bins):
        rows = bins == b
        total += rows.sum() * abs(predicted[rows].mean() - target[rows].mean())
    return float(total / len(score))


def decile_gaps(score: np.ndarray, predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """|mean predicted - mean target| in each decile of ``score``."""
    edges = np.quantile(score, np.linspace(0, 1, N_BINS + 1)[1:-1])
    bins = np.searchsorted(edges, score, side="right")
    return np.array(
        [abs(predicted[bins == b].mean() - target[bins == b].mean()) for b in np.unique(bins)]
    )


def calibration_slope(predicted: np.ndarray, outcome: np.ndarray) -> float:
    """Slope of the logistic recalibration of outcome on logit(predicted) (1 is ideal)."""
    logit = np.log(np.clip(predicted, 1e-9, 1 - 1e-9) / np.clip(1 - predicted, 1e-9, 1))
    design = np.column_stack([np.ones_like(logit), logit])
    return float(fit_logistic(design, outcome, penalty=1e-6).coef[1])


def classifier_metrics(
    pred: pd.DataFrame, hold: pd.DataFrame, rows: np.ndarray, prefix: str = ""
) -> dict[str, float]:
    out = {}
    for name, (truth_col, outcome_of) in CLASSIFIERS.items():
        p = pred[name].to_numpy()[rows]
        truth = hold[truth_col].to_numpy()[rows]
        y = np.asarray(outcome_of(hold), dtype=float)[rows]
        key = f"{prefix}{name}"
        if 0 < y.mean() < 1:
            out[f"{key}_auc"] = roc_auc_score(y, p)
            out[f"{key}_auc_truth"] = roc_auc_score(y, truth)
        out[f"{key}_brier"] = float(np.mean((p - y) ** 2))
        out[f"{key}_brier_truth"] = float(np.mean((truth - y) ** 2))
        out[f"{key}_calibration_error"] = binned_error(p, p, y)
        out[f"{key}_calibration_error_vs_truth"] = binned_error(p, p, truth)
        out[f"{key}_mae_vs_truth"] = float(np.mean(np.abs(p - truth)))
        if f"{name}_lo" in pred:
            lo, hi = pred[f"{name}_lo"].to_numpy()[rows], pred[f"{name}_hi"].to_numpy()[rows]
            out[f"{key}_coverage"] = float(np.mean((lo <= truth) & (truth <= hi)))
            out[f"{key}_median_width"] = float(np.median(hi - lo))
    return out


def survival_metrics(pred: pd.DataFrame, hold: pd.DataFrame) -> dict[str, float]:
    """C-index of predicted 36-month survival (higher = longer) against the potential
    outcomes, beside the truth's; calibration of S(t) by decile of predicted risk."""
    out = {}
    for name, (time_col, event_col) in SURVIVAL.items():
        strategy, endpoint = name.split("_")
        score = pred[f"{strategy}_{endpoint}_at_36_months"].to_numpy()
        truth = hold[f"{strategy}_true_{endpoint}_at_36_months"].to_numpy()
        time, event = hold[time_col].to_numpy(), hold[event_col].to_numpy(dtype=bool)
        out[f"{name}_c_index"] = concordance_index(time, score, event)
        out[f"{name}_c_index_truth"] = concordance_index(time, truth, event)
        for month in (12, 36):
            p = pred[f"{strategy}_{endpoint}_at_{month}_months"].to_numpy()
            t = hold[f"{strategy}_true_{endpoint}_at_{month}_months"].to_numpy()
            out[f"{name}_{month}m_max_decile_gap"] = float(decile_gaps(-p, p, t).max())
        for month in SURVIVAL_HORIZONS_MONTHS:
            key = f"{strategy}_{endpoint}_at_{month}_months"
            covered, width = _covers(pred, key, hold[f"{strategy}_true_{key[4:]}"].to_numpy())
            out[f"{name}_{month}m_coverage"], out[f"{name}_{month}m_median_width"] = covered, width
        key = f"{strategy}_median_{endpoint}_months"
        truth = hold[f"{strategy}_true_median_{endpoint}_months"].to_numpy()
        out[f"{name}_median_coverage"], out[f"{name}_median_median_width"] = _covers(
            pred, key, truth
        )
    return out


def _covers(pred: pd.DataFrame, key: str, truth: np.ndarray) -> tuple[float, float]:
    """Share of rows whose interval ``key_lo``-``key_hi`` holds the truth (an infinite
    bound holds an infinite truth), and the median width of the finite intervals."""
    lo, hi = pred[f"{key}_lo"].to_numpy(), pred[f"{key}_hi"].to_numpy()
    covered = (lo <= truth) & (truth <= hi)
    finite = np.isfinite(hi) & np.isfinite(lo)
    width = float(np.median(hi[finite] - lo[finite])) if finite.any() else float("nan")
    return float(np.mean(covered)), width


def coverage_table(metrics: dict[str, float]) -> pd.DataFrame:
    """Every interval's coverage of the truth (and median width), one row per quantity."""
    rows = [
        {
            "quantity": key[: -len("_coverage")],
            "coverage": value,
            "median_width": metrics.get(key.replace("_coverage", "_median_width"), np.nan),
        }
        for key, value in metrics.items()
        if key.endswith("_coverage") and not key.startswith("eligible_")
    ]
    return pd.DataFrame(rows)


def pattern_bias(
    pred: pd.DataFrame, hold: pd.DataFrame, min_patients: int = 1000
) -> dict[str, float]:
    """Mean predicted minus mean true P(cure) in every covariate pattern of the generator
    (the discrete covariates its truth depends on) holding at least ``min_patients``: the
    largest absolute bias, and how many patterns were judged."""
    from data.synthetic.outcome_model import covariate_frame, pattern_index

    inverse, _ = pattern_index(covariate_frame(hold))
    frame = pd.DataFrame(
        {
            "pattern": inverse,
            "bias": pred["il2_p_cure"].to_numpy() - hold["il2_true_p_cure"].to_numpy(),
        }
    )
    groups = frame.groupby("pattern")["bias"].agg(["mean", "size"])
    judged = groups[groups["size"] >= min_patients]
    return {
        "il2_p_cure_max_pattern_bias": float(judged["mean"].abs().max())
        if len(judged)
        else float("nan"),
        "il2_p_cure_patterns_judged": float(len(judged)),
    }
