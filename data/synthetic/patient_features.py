"""Feature columns of referred metastatic RCC patients (the brief's data contract).

Two latent scores drive the dependence: ``frailty`` (higher = worse prognosis: ECOG,
Karnofsky, LDH, haemoglobin, calcium, a short diagnosis-to-treatment interval, tumour
burden, no nephrectomy) and ``differentiation`` (higher = more alveolar, less papillary
and granular, more CAIX), mildly anti-correlated with frailty. Every prevalence comes from
the ``assumptions`` of the parameter file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from scipy.stats import norm

from data.synthetic.params import Parameters
from model.contract.columns import FEATURE_COLUMNS

HISTOLOGIES = ("clear_cell", "papillary", "chromophobe", "other")
# the contract's feature columns in the contract's order (patient_id is the caller's)
FEATURE_ORDER = tuple(name for name in FEATURE_COLUMNS if name != "patient_id")
ORGANS = ("lung", "lymph_node", "bone", "liver", "brain", "other")
# Karnofsky given ECOG (Oken/Karnofsky correspondence): values and probabilities.
_KARNOFSKY = {
    0: ((100, 90), (0.4, 0.6)),
    1: ((80, 70), None),  # P(70) is an assumption (ecog1_karnofsky_70_share)
    2: ((70, 60, 50), (0.3, 0.5, 0.2)),
    3: ((40, 30), (0.6, 0.4)),
    4: ((20, 10), (0.7, 0.3)),
}


def simulate_features(rng: np.random.Generator, n: int, p: Parameters) -> pd.DataFrame:
    """Draw ``n`` patients' feature columns (no unknowns; plain bool/int/float types).

    Parameters
    ----------
    rng : numpy.random.Generator
        the only source of randomness; draws happen in a fixed order.
    n : int
        number of patients.
    p : Parameters
        generator parameters (the ``assumptions`` prevalences are used here).
    """
    frailty = rng.standard_normal(n)
    rho = p["differentiation_frailty_correlation"]
    differentiation = rho * frailty + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    cols: dict[str, np.ndarray] = {}
    cols["age_years"] = np.round(
        np.clip(rng.normal(p["age_mean_years"], p["age_sd_years"], n), 22, 90), 1
    )
    cols["sex"] = np.where(rng.random(n) < p["male_share"], "male", "female").astype(object)
    cols.update(_performance(rng, n, frailty, p))
    cols.update(_mskcc_labs(rng, n, frailty, p))
    cols.update(_histology(rng, n, differentiation, p))
    cols.update(_metastases(rng, n, frailty, p))
    cols.update(_treatment_history(rng, n, frailty, p))
    cols.update(_eligibility_tests(rng, n, cols, frailty, p))
    # from a child stream: every column drawn before IMDC existed keeps its values
    cols.update(_imdc_counts(rng.spawn(1)[0], n, frailty, p))
    return pd.DataFrame({name: cols[name] for name in FEATURE_ORDER})


def _bernoulli(rng: np.random.Generator, prevalence: float, shift: np.ndarray) -> np.ndarray:
    """Bernoulli draws on the logit scale: ``prevalence`` at shift 0."""
    return rng.random(shift.shape[0]) < expit(logit(prevalence) + shift)


def _performance(rng, n, frailty, p) -> dict[str, np.ndarray]:
    """ECOG from frailty by ordinal thresholds; Karnofsky agreeing with ECOG."""
    shares = np.array([p[f"ecog_{k}_share"] for k in range(4)])
    cuts = norm.ppf(np.cumsum(shares / (shares.sum() + p["ecog_4_share"])))
    load = p["ecog_frailty_loading"]
    latent = load * frailty + np.sqrt(1 - load**2) * rng.standard_normal(n)
    ecog = np.searchsorted(cuts, latent).astype(np.int64)
    u = rng.random(n)
    karnofsky = np.zeros(n, dtype=np.int64)
    for level, (values, probs) in _KARNOFSKY.items():
        if probs is None:
            probs = (1 - p["ecog1_karnofsky_70_share"], p["ecog1_karnofsky_70_share"])
        edges = np.cumsum(probs)[:-1]
        pick = np.asarray(values)[np.searchsorted(edges, u)]
        karnofsky = np.where(ecog == level, pick, karnofsky)
    return {"ecog": ecog, "karnofsky": karnofsky.astype(np.int64)}


def _mskcc_labs(rng, n, frailty, p) -> dict[str, np.ndarray]:
    """LDH, haemoglobin, calcium and the diagnosis-to-treatment interval."""
    ldh = np.exp(
        np.log(p["ldh_median_uln"]) + 0.25 * frailty + p["ldh_log_sd"] * rng.standard_normal(n)
    )
    hemoglobin_low = _bernoulli(rng, p["hemoglobin_low_share"], 1.3 * frailty)
    calcium = p["calcium_mean_mg_dl"] + 0.25 * frailty + 0.4 * rng.standard_normal(n)
    synchronous = _bernoulli(rng, p["synchronous_metastases_share"], 0.8 * frailty)
    early = rng.uniform(0.3, 3.0, n)
    late = np.exp(
        np.log(p["metachronous_median_months"]) - 0.3 * frailty + 0.9 * rng.standard_normal(n)
    )
    months = np.where(synchronous, early, late)
    return {
        "months_from_diagnosis": np.round(np.clip(months, 0.1, 600), 1),
        "ldh_uln_ratio": np.round(np.clip(ldh, 0.2, 20), 2),
        "hemoglobin_below_lln": hemoglobin_low,
        "corrected_calcium_mg_dl": np.round(np.clip(calcium, 7.5, 15), 1),
    }


def _imdc_counts(rng, n, frailty, p) -> dict[str, np.ndarray]:
    """Neutrophils and platelets above the upper limit of normal (IMDC, Heng): both
    systemic-inflammation markers, more common in frail patients."""
    return {
        "neutrophils_above_uln": _bernoulli(
            rng, p["neutrophils_above_uln_share"], p["imdc_counts_frailty_shift"] * frailty
        ),
        "platelets_above_uln": _bernoulli(
            rng, p["platelets_above_uln_share"], p["imdc_counts_frailty_shift"] * frailty
        ),
    }


def _histology(rng, n, differentiation, p) -> dict[str, np.ndarray]:
    """Subtype, architecture shares (alveolar/solid/papillary/other sum to 100),
    granular cytology share and CAIX staining."""
    shares = np.array([p["clear_cell_share"], p["papillary_share"], p["chromophobe_share"]])
    shares = np.append(shares, 1 - shares.sum())
    kind = np.searchsorted(np.cumsum(shares)[:-1], rng.random(n))
    clear = kind == 0
    d = differentiation
    z = rng.standard_normal((5, n))
    papillary_present = _bernoulli(rng, p["clear_cell_papillary_component_share"], -0.6 * d)
    alveolar_absent = _bernoulli(rng, p["clear_cell_no_alveolar_share"], -0.8 * d)
    mixed = _bernoulli(rng, p["clear_cell_mixed_architecture_share"], -0.5 * d)
    weights = np.exp(
        np.stack(
            [
                p["alveolar_log_weight"] + 0.9 * d + 0.7 * z[0],
                p["solid_log_weight"] + 0.7 * z[1],
                np.log(0.3) + 0.8 * z[2],
                p["other_architecture_log_weight"] + 3.0 * mixed + 0.7 * z[3],
            ]
        )
    )
    weights[0] *= ~alveolar_absent
    weights[2] *= papillary_present
    non_clear = {1: (0.05, 0.1, 3.0, 0.2), 2: (0.02, 2.0, 0.01, 0.4), 3: (0.1, 0.8, 0.3, 0.8)}
    for code, base in non_clear.items():
        rows = kind == code
        weights[:, rows] = np.asarray(base)[:, None] * np.exp(0.5 * z[:4, rows])
    pct = np.floor(100 * weights / weights.sum(axis=0))
    pct[2] = np.where((weights[2] > 0) & (pct[2] == 0), 1, pct[2])
    granular_present = _bernoulli(rng, p["granular_component_share"], -0.5 * d + 1.5 * (kind == 2))
    granular = np.where(granular_present, np.ceil(100 * expit(-1.2 + 1.2 * z[4])), 0.0)
    caix_high = _bernoulli(rng, p["clear_cell_caix_high_share"], 0.5 * d)
    caix_high = np.where(clear, caix_high, rng.random(n) < p["non_clear_caix_high_share"])
    caix = np.where(caix_high, rng.integers(86, 101, n), np.floor(85 * rng.beta(2.0, 1.5, n)))
    return {
        "histology": np.asarray(HISTOLOGIES, dtype=object)[kind],
        "alveolar_pct": pct[0],
        "solid_pct": pct[1],
        "papillary_pct": pct[2],
        "granular_pct": granular,
        "caix_pct": caix.astype(float),
    }


def _metastases(rng, n, frailty, p) -> dict[str, np.ndarray]:
    """Organs with metastases, co-varying through a tumour-burden score; at least one."""
    burden = 0.5 * frailty + np.sqrt(0.75) * rng.standard_normal(n)
    organs = {
        organ: _bernoulli(rng, p[f"met_{organ}_share"], p["met_burden_loading"] * burden)
        for organ in ORGANS
    }
    none = ~np.any(np.stack(list(organs.values())), axis=0)
    organs["lung"] = organs["lung"] | none
    untreated = organs["brain"] & (rng.random(n) < p["brain_mets_untreated_share"])
    cols = {
        f"met_{organ}": organs[organ]
        for organ in ("lung", "bone", "liver", "lymph_node", "brain", "other")
    }
    cols["brain_mets_untreated"] = untreated
    return cols


def _treatment_history(rng, n, frailty, p) -> dict[str, np.ndarray]:
    """Nephrectomy; prior TKI (with wash-out) or bevacizumab only, mutually exclusive."""
    nephrectomy = _bernoulli(rng, p["prior_nephrectomy_share"], -0.5 * frailty)
    u = rng.random(n)
    prior_tki = u < p["prior_tki_share"]
    tki_share = p["prior_tki_share"]
    prior_bev = (u >= tki_share) & (u < tki_share + p["prior_bevacizumab_share"])
    washout = np.exp(np.log(p["tki_washout_median_months"]) + 0.6 * rng.standard_normal(n))
    months_since_tki = np.where(prior_tki, np.round(np.clip(washout, 0.1, 60), 2), np.nan)
    return {
        "prior_nephrectomy": nephrectomy,
        "prior_tki": prior_tki,
        "months_since_tki": months_since_tki,
        "prior_bevacizumab": prior_bev,
    }


def _eligibility_tests(rng, n, cols, frailty, p) -> dict[str, np.ndarray]:
    """Work-up for HD IL-2: creatinine, spirometry, cardiac tests and history items."""
    age10 = (cols["age_years"] - 60.0) / 10.0
    male = cols["sex"] == "male"
    creatinine = np.exp(
        np.log(p["creatinine_median_mg_dl"])
        + np.log(1.15) * male
        + 0.08 * frailty
        + p["creatinine_log_sd"] * rng.standard_normal(n)
    )
    fev1 = (np.where(male, 3.4, 2.6) - 0.25 * age10) * np.exp(0.15 * rng.standard_normal(n))
    fev1_pct = p["fev1_pct_predicted_mean"] - 4.0 * frailty + 13.0 * rng.standard_normal(n)
    steroid_shift = 2.0 * cols["met_brain"]
    radio_shift = 1.5 * cols["brain_mets_untreated"] + 0.5 * cols["met_bone"]
    return {
        "creatinine_mg_dl": np.round(np.clip(creatinine, 0.3, 12), 2),
        "fev1_litres": np.round(np.clip(fev1, 0.6, 6.5), 2),
        "fev1_pct_predicted": np.round(np.clip(fev1_pct, 30, 150), 1),
        "cardiac_stress_abnormal": _bernoulli(
            rng, p["cardiac_stress_abnormal_share"], 0.3 * age10 + 0.3 * frailty
        ),
        "cardiac_disease": _bernoulli(rng, p["cardiac_disease_share"], 0.4 * age10 + 0.3 * frailty),
        "active_infection": _bernoulli(rng, p["active_infection_share"], np.zeros(n)),
        "organ_allograft": _bernoulli(rng, p["organ_allograft_share"], np.zeros(n)),
        "steroids_last_4_weeks": _bernoulli(rng, p["steroids_share"], steroid_shift),
        "chemo_radio_last_6_weeks": _bernoulli(rng, p["chemo_radio_share"], radio_shift),
    }
