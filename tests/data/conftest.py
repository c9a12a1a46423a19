"""Fixtures of the generator tests: one 50,000-patient cohort shared by the session."""

from __future__ import annotations

import pandas as pd
import pytest

from data.synthetic.cohort import simulate_cohort
from data.synthetic.params import load_parameters
from data.synthetic.statistics import evaluate_targets
from data.synthetic.targets import TargetSet, load_targets

TARGET_N = 50_000
TARGET_SEED = 7
MIN_MARGIN_SE = 2.0


@pytest.fixture(scope="session")
def params():
    return load_parameters()


@pytest.fixture(scope="session")
def targets() -> TargetSet:
    return load_targets()


@pytest.fixture(scope="session")
def cohort_50k(params) -> pd.DataFrame:
    return simulate_cohort(TARGET_N, TARGET_SEED, params)


@pytest.fixture(scope="session")
def cohort_50k_cytokine(params) -> pd.DataFrame:
    """The same patients (seed) as ``cohort_50k``, with cytokine-era outcomes."""
    return simulate_cohort(TARGET_N, TARGET_SEED, params, era="cytokine")


@pytest.fixture(scope="session")
def outcome_table(cohort_50k, targets) -> pd.DataFrame:
    """Every outcome target of the default (targeted) era on the 50k cohort."""
    return evaluate_targets(cohort_50k, targets.in_era("targeted").outcomes())


@pytest.fixture(scope="session")
def cytokine_outcome_table(cohort_50k_cytokine, targets) -> pd.DataFrame:
    """Every outcome target of the cytokine era on its 50k cohort."""
    return evaluate_targets(cohort_50k_cytokine, targets.in_era("cytokine").outcomes())


def missed_targets(table: pd.DataFrame, min_margin_se: float = MIN_MARGIN_SE) -> list[str]:
    """Targets outside their band or inside by less than ``min_margin_se`` SEs."""
    bad = ~table["met"] | ~(table["margin_se"] >= min_margin_se) | table["value"].isna()
    return [
        f"{r.id}={r.value:.4g} [{r.low:g}, {r.high:g}] margin {r.margin_se:.1f} SE"
        for r in table[bad].itertuples()
    ]


@pytest.fixture(scope="session")
def check_targets():
    return missed_targets
