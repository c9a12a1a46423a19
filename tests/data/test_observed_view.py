"""The observed view: one treatment per patient chosen along the Manchester pathway with
off-pathway choices in every stratum, only that treatment's outcomes, no potential
outcome or truth column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.synthetic.cohort import simulate_cohort
from data.synthetic.observed import OBSERVED_OUTCOMES
from model.contract.columns import FEATURE_COLUMNS

N = 20_000


@pytest.fixture(scope="module")
def pair(params):
    return simulate_cohort(N, 21, params), simulate_cohort(N, 21, params, observed=True)


def test_columns_are_features_treatment_and_outcomes(pair):
    _, observed = pair
    expected = [*FEATURE_COLUMNS, "treatment", *OBSERVED_OUTCOMES, "severe_cardiac_toxicity"]
    assert list(observed.columns) == expected
    forbidden = [
        c for c in observed.columns if "true" in c or c.startswith(("il2_", "tki_", "ifn_"))
    ]
    assert not forbidden


def test_exactly_one_treatment_per_patient(pair):
    full, observed = pair
    assert len(observed) == len(full) and observed["patient_id"].is_unique
    assert observed["treatment"].isin(["il2", "tki"]).all()


def test_outcomes_are_the_chosen_treatments(pair):
    full, observed = pair
    for arm in ("il2", "tki"):
        rows = observed["treatment"] == arm
        for outcome in OBSERVED_OUTCOMES:
            np.testing.assert_array_equal(
                observed.loc[rows, outcome].to_numpy(),
                full.loc[rows, f"{arm}_{outcome}"].to_numpy(),
            )
    tox = observed["severe_cardiac_toxicity"]
    assert tox[observed["treatment"] == "tki"].isna().all()
    assert tox[observed["treatment"] == "il2"].notna().all()


def test_off_pathway_share_in_every_stratum(pair, params):
    full, observed = pair
    on_pathway = np.where(full["manchester_pathway"] == "il2_first", "il2", "tki")
    off = pd.Series(observed["treatment"].to_numpy() != on_pathway)
    share = params["off_pathway_share"]
    for stratum, flags in off.groupby(full["manchester_pathway"].to_numpy()):
        tolerance = 4 * np.sqrt(share * (1 - share) / len(flags))
        assert abs(flags.mean() - share) < tolerance, (stratum, flags.mean())
