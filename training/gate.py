"""The promotion gate: what a new version must show before it becomes ``@champion``."""

from __future__ import annotations

from dataclasses import dataclass

GATE_AUC_SLACK = 0.03
GATE_CALIBRATION = 0.03
GATE_C_INDEX_SLACK = 0.03
CHAMPION_SLACK = 0.005
GATED_CLASSIFIERS = (
    "il2_p_response",
    "il2_p_complete_response",
    "tki_p_response",
    "tki_p_complete_response",
    "il2_p_severe_cardiac_toxicity",
)
GATED_SURVIVAL = ("il2_os", "il2_pfs", "tki_os", "tki_pfs")
# policy value against the fair Manchester comparator, on the targeted-era hold-out
DURABLE_CR_MARGIN = -1.0  # per 1,000: the lower bound of recommender - Manchester above it
RMST_MARGIN_MONTHS = (
    -0.5
)  # two weeks of the first five years: the RMST60 gain's lower bound above it


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str]


def gate_synthetic(metrics: dict[str, float], champion: dict[str, float] | None) -> GateResult:
    """Synthetic hold-out: AUC >= truth - 0.03, calibration error <= 0.03, C-index >=
    truth - 0.03; not worse than the champion on the same hold-out (0.005)."""
    failures = []
    for name in GATED_CLASSIFIERS:
        auc, truth = metrics.get(f"{name}_auc"), metrics.get(f"{name}_auc_truth")
        if auc is not None and auc < truth - GATE_AUC_SLACK:
            failures.append(f"{name} AUC {auc:.3f} < truth {truth:.3f} - {GATE_AUC_SLACK}")
        # against the true probabilities: the hold-out knows them, and outcome noise would
        # otherwise dominate the binned error of a small hold-out
        error = metrics[f"{name}_calibration_error_vs_truth"]
        if error > GATE_CALIBRATION:
            failures.append(f"{name} calibration error {error:.3f} > {GATE_CALIBRATION}")
        if champion is not None and f"{name}_auc" in champion and auc is not None:
            if auc < champion[f"{name}_auc"] - CHAMPION_SLACK:
                failures.append(
                    f"{name} AUC {auc:.3f} worse than the champion's {champion[f'{name}_auc']:.3f}"
                )
            theirs = champion[f"{name}_calibration_error_vs_truth"]
            if error > theirs + CHAMPION_SLACK:
                failures.append(
                    f"{name} calibration error {error:.3f} worse than the champion's {theirs:.3f}"
                )
    for name in GATED_SURVIVAL:
        c, truth = metrics[f"{name}_c_index"], metrics[f"{name}_c_index_truth"]
        if c < truth - GATE_C_INDEX_SLACK:
            failures.append(f"{name} C-index {c:.3f} < truth {truth:.3f} - {GATE_C_INDEX_SLACK}")
    failures += policy_failures(metrics)
    return GateResult(not failures, failures or ["every synthetic hold-out check passed"])


def policy_failures(metrics: dict[str, float]) -> list[str]:
    """The policy must do no worse than the Manchester pathway: durable complete remissions
    (lower bound of the difference above -1 per 1,000), no more IL-2 courses and no more
    severe cardiac events (point estimates), and RMST to 60 months (lower bound of the
    difference above -0.5 month: two weeks of the first five years)."""
    key = "policy_gain_vs_manchester_"
    if f"{key}durable_cr_per_1000_lo" not in metrics:
        return []
    failures = []
    lo = metrics[f"{key}durable_cr_per_1000_lo"]
    if lo <= DURABLE_CR_MARGIN:
        failures.append(
            f"durable CRs vs Manchester: lower bound {lo:+.2f} per 1,000 not above "
            f"{DURABLE_CR_MARGIN:+.0f}"
        )
    for column, what in (
        ("il2_courses_per_1000", "IL-2 courses"),
        ("cardiac_events_per_1000", "severe cardiac events"),
    ):
        more = metrics[f"{key}{column}"]
        if more > 0:
            failures.append(f"{what} vs Manchester: {more:+.2f} per 1,000 (more than Manchester)")
    rmst = metrics[f"{key}rmst60_months_lo"]
    if rmst <= RMST_MARGIN_MONTHS:
        failures.append(
            f"RMST60 vs Manchester: lower bound {rmst:+.2f} months not above "
            f"{RMST_MARGIN_MONTHS:+.1f}"
        )
    return failures


def gate_real(metrics: dict[str, float]) -> GateResult:
    """Real data, 20 % split: calibration slope 0.8-1.2 and Brier below prevalence-only."""
    failures = []
    for name in ("il2_p_response", "tki_p_response"):
        slope = metrics.get(f"split_{name}_calibration_slope")
        if slope is None:
            continue
        if not 0.8 <= slope <= 1.2:
            failures.append(f"{name} calibration slope {slope:.2f} outside 0.8-1.2")
        brier, base = metrics[f"split_{name}_brier"], metrics[f"split_{name}_brier_prevalence"]
        if brier >= base:
            failures.append(f"{name} Brier {brier:.4f} not below prevalence-only {base:.4f}")
    return GateResult(not failures, failures or ["every 20 % split check passed"])
