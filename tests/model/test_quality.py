"""Quality against the truth the synthetic hold-out carries (issue 4's thresholds, here at
20,000 training patients rather than 100,000 — the benchmark checks the full size)."""

from __future__ import annotations

import numpy as np
import pytest

from model.contract.columns import FEATURE_COLUMNS
from model.contract.tables import validate_table
from model.recommend.recommender import Recommender
from tests.model.conftest import TRAIN_N
from training.data import synthetic_training_data
from training.evaluate import evaluate
from training.metrics import CLASSIFIERS, SURVIVAL, classifier_metrics

PROBABILITIES = (
    "il2_p_response",
    "il2_p_complete_response",
    "tki_p_response",
    "tki_p_complete_response",
    "il2_p_severe_cardiac_toxicity",
    "il2_p_cure",
)


@pytest.fixture(scope="module")
def evaluation(recommender, holdout):
    return evaluate(recommender, holdout)


@pytest.mark.parametrize("name", [n for n in CLASSIFIERS if n != "il2_p_cure"])
def test_classifier_close_to_the_truth(evaluation, name):
    m = evaluation.metrics
    assert m[f"{name}_auc"] >= m[f"{name}_auc_truth"] - 0.02
    assert m[f"{name}_calibration_error_vs_truth"] <= 0.02


@pytest.mark.parametrize("name", list(SURVIVAL))
def test_survival_close_to_the_truth(evaluation, name):
    m = evaluation.metrics
    assert m[f"{name}_c_index"] >= m[f"{name}_c_index_truth"] - 0.02
    assert m[f"{name}_12m_max_decile_gap"] <= 0.03
    assert m[f"{name}_36m_max_decile_gap"] <= 0.03


SMALL_N = 2000
SCORED = 5000


@pytest.fixture(scope="module")
def small_fit_metrics(holdout) -> list[dict[str, float]]:
    """Three models on independent 2,000-patient cohorts, scored on the same 5,000
    hold-out patients."""
    typed = validate_table(holdout[list(FEATURE_COLUMNS)].iloc[:SCORED]).typed
    out = []
    for seed in (13, 14, 15):
        small = synthetic_training_data(SMALL_N, seed=seed)
        model = Recommender.fit(small.typed, small.outcomes, seed=1)
        out.append(
            classifier_metrics(
                model.predict_frame(typed), holdout.iloc[:SCORED], np.ones(SCORED, dtype=bool)
            )
        )
    return out


def test_intervals_cover_the_truth_when_trained_on_2000(small_fit_metrics):
    """Coverage is a property over repeated training: errors are shared by every patient a
    model scores, so one fit covers almost all or few. Average three independent
    2,000-patient cohorts, pooling the six probabilities."""
    coverage = [m[f"{name}_coverage"] for m in small_fit_metrics for name in PROBABILITIES]
    widths = [m[f"{name}_median_width"] for m in small_fit_metrics for name in PROBABILITIES]
    assert 0.88 <= np.mean(coverage) <= 0.99, coverage
    assert max(widths) <= 0.30, widths


@pytest.mark.parametrize("name", PROBABILITIES)
def test_intervals_narrow_with_more_data(recommender, holdout, small_fit_metrics, name):
    """Parameter uncertainty shrinks as 1/sqrt(n): ten times the training patients
    (20,000 against 2,000) should narrow each interval about sqrt(10) = 3.2 times. At
    least half of that, on average over the three small fits (smaller cohorts choose
    simpler models, which narrows them a little)."""
    typed = validate_table(holdout[list(FEATURE_COLUMNS)].iloc[:SCORED]).typed
    large = classifier_metrics(
        recommender.predict_frame(typed), holdout.iloc[:SCORED], np.ones(SCORED, dtype=bool)
    )[f"{name}_median_width"]
    small = np.mean([m[f"{name}_median_width"] for m in small_fit_metrics])
    assert large > 0
    assert small / large >= np.sqrt(TRAIN_N / SMALL_N) / 2, (small, large)
