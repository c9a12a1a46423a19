"""A recommender trained once per session on a small synthetic observed cohort."""

from __future__ import annotations

import pytest

from model.recommend.recommender import Recommender
from training.data import synthetic_training_data
from training.evaluate import holdout_cohort

TRAIN_N = 20_000
HOLDOUT_N = 20_000


@pytest.fixture(scope="session")
def training_data():
    return synthetic_training_data(TRAIN_N, seed=11)


@pytest.fixture(scope="session")
def recommender(training_data) -> Recommender:
    return Recommender.fit(training_data.typed, training_data.outcomes, seed=0)


@pytest.fixture(scope="session")
def holdout():
    return holdout_cohort(HOLDOUT_N, seed=12)
