"""A generated cohort passes the data contract: no unknowns, plain bool/int types,
months_since_tki filled exactly with a prior TKI, derived columns from model.rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.contract.columns import BOOL_COLUMNS, FEATURE_COLUMNS
from model.contract.tables import validate_table
from model.rules.derive import derive_columns


def test_contract_validation_has_no_errors(cohort_50k):
    report = validate_table(cohort_50k[list(FEATURE_COLUMNS)].iloc[:10_000])
    assert report.errors.empty, report.errors.head(20).to_string()


def test_no_unknowns_and_plain_types(cohort_50k):
    # manchester_good_features is empty (not unknown) for non-clear-cell tumours (BRIEF)
    frame = cohort_50k.drop(columns=["months_since_tki", "manchester_good_features"])
    assert not frame.isna().any().any()
    filled = cohort_50k["months_since_tki"].notna()
    assert (filled == cohort_50k["prior_tki"]).all()
    for name in (*BOOL_COLUMNS, "caix_high", "il2_eligible", "il2_severe_cardiac_toxicity"):
        assert cohort_50k[name].dtype == np.bool_, name
    for name in ("ecog", "karnofsky", "mskcc_risk_factors", "n_metastatic_organs"):
        assert (
            pd.api.types.is_integer_dtype(cohort_50k[name]) and cohort_50k[name].dtype != "Int64"
        ), name


def test_derived_columns_come_from_model_rules(cohort_50k):
    sample = cohort_50k.iloc[:5_000]
    derived = derive_columns(sample[list(FEATURE_COLUMNS)])
    for name in derived.columns:
        if isinstance(derived[name].dtype, pd.CategoricalDtype):
            derived[name] = derived[name].astype(object)
    pd.testing.assert_frame_equal(sample[list(derived.columns)], derived, check_dtype=False)
