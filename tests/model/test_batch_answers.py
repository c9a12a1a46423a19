"""The batch path (``/predict``, thousands of patients) gives each patient the answer it
would get alone, and its shortcuts (distinct-row pooling, single-precision donor search,
the staged median search) are exact to the precision they claim."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from data.synthetic.cohort import simulate_case_mix
from model.contract.columns import FEATURE_COLUMNS, UNKNOWABLE_COLUMNS
from model.contract.tables import validate_table
from model.estimators.design import design_matrix
from model.estimators.imputation import NUMERIC
from model.estimators.pooling import PooledDesign
from model.estimators.predictions import patient_design
from model.estimators.strategy_predictions import (
    group_probabilities,
    point_draws,
    point_outlook,
    prepare_strategy,
)
from model.recommend.answer import PatientAnswer

N = 300
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def typed() -> pd.DataFrame:
    """300 synthetic patients; a third with one to three unknown inputs."""
    rng = np.random.default_rng(3)
    frame = simulate_case_mix(N, seed=31)[list(FEATURE_COLUMNS)].reset_index(drop=True)
    frame = frame.astype({c: object for c in UNKNOWABLE_COLUMNS})
    for i in np.flatnonzero(rng.random(N) < 1 / 3):
        for name in rng.choice(UNKNOWABLE_COLUMNS, size=rng.integers(1, 4), replace=False):
            frame.at[i, name] = None
    frame["patient_id"] = [f"B{i:03d}" for i in range(N)]
    typed = validate_table(frame).typed
    assert len(typed) == N and typed[list(UNKNOWABLE_COLUMNS)].isna().any(axis=1).sum() > 50
    return typed


def _numbers(value, path=""):
    """Every number in a nested answer, by its path."""
    if isinstance(value, list):
        value = dict(enumerate(value))
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _numbers(item, f"{path}/{key}").items()
        }
    return {path: value}


def test_a_batch_answers_each_patient_as_it_would_be_answered_alone(recommender, typed):
    batch = [r for chunk in recommender.answer_chunks(typed) for r in chunk]
    assert [r["patient_id"] for r in batch] == typed["patient_id"].tolist()
    rows = typed.to_dict("records")
    for i in range(0, N, 7):  # 43 patients, complete and not
        alone = recommender.recommend_one(rows[i]).model_dump(mode="json")
        record = PatientAnswer.model_validate(batch[i]).model_dump(mode="json")
        record["what_would_change"] = alone["what_would_change"]  # computed for one patient only
        _assert_same_answer(alone, record, i)


def _assert_same_answer(expected: dict, got: dict, where) -> None:
    expected, got = _numbers(expected), _numbers(got)
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        if isinstance(value, float) and not isinstance(got[key], bool):
            assert got[key] == pytest.approx(value, abs=TOLERANCE, rel=0), (where, key)
        else:
            assert got[key] == value, (where, key)


def test_patients_recommended_together_get_their_answers_alone(recommender, typed):
    """What the service does with concurrent /recommend requests: one batch, each answer
    (what would change it included) the patient's own."""
    rows = typed.to_dict("records")[:40]
    together = recommender.recommend_records(rows)
    assert [r["patient_id"] for r in together] == [r["patient_id"] for r in rows]
    assert sum(bool(r["what_would_change"]) for r in together) >= 5  # varied inputs covered
    for i, row in enumerate(rows):
        alone = recommender.recommend_one(row).model_dump(mode="json")
        _assert_same_answer(
            alone, PatientAnswer.model_validate(together[i]).model_dump(mode="json"), i
        )


def test_pooling_distinct_rows_gives_the_mean_over_imputations(recommender, typed):
    unknown = typed[list(UNKNOWABLE_COLUMNS)].isna().any(axis=1).to_numpy()
    rows = np.flatnonzero(unknown)
    values = {k: typed[k].to_numpy() for k in typed.columns}
    design = patient_design(recommender.estimators, values, rows, imputed=True)  # (K, n, p)
    pooled = PooledDesign.of(design)
    assert len(pooled.design) < design.shape[0] * design.shape[1] / 3  # the saving is real
    estimators = recommender.estimators
    model, draws = estimators.models["il2"], point_draws(estimators.draws["il2"])
    every = group_probabilities(model, draws, design)["CR"].mean(axis=0)
    distinct = pooled.pool(group_probabilities(model, draws, pooled.design)["CR"][0])
    np.testing.assert_allclose(distinct, every, rtol=0, atol=1e-12)


def test_donors_are_the_nearest_whatever_else_is_in_the_batch(recommender, typed):
    imputer = recommender.estimators.imputer
    values = {k: typed[k].to_numpy() for k in typed.columns}
    complete = ~typed[list(UNKNOWABLE_COLUMNS)].isna().any(axis=1).to_numpy()
    rows = np.flatnonzero(complete)[:60]
    unknown = ["caix_pct", "ldh_uln_ratio"]  # as if unknown: the search ignores them
    together = imputer._nearest(values, rows, unknown, 25)
    alone = np.vstack(
        [imputer._nearest(values, rows[j : j + 1], unknown, 25) for j in range(rows.size)]
    )
    np.testing.assert_array_equal(together, alone)
    # exact (double precision) distances: the chosen 25 are the nearest up to single-precision
    # rounding of the distance
    known = [c for c in NUMERIC if c not in unknown]
    for j, i in enumerate(rows):
        exact = sum(
            ((float(values[c][i]) - imputer.donors[c]) / imputer.scale[c]) ** 2 for c in known
        )
        exact = exact + 4.0 * (imputer.donors["histology"] != values["histology"][i])
        chosen = np.zeros(exact.size, dtype=bool)
        chosen[together[j]] = True
        assert exact[chosen].max() <= exact[~chosen].min() * (1 + 1e-5) + 1e-6
        ordered = exact[together[j]]  # nearest first
        assert np.all(np.diff(ordered) >= -1e-5 * ordered[1:] - 1e-6)


def test_medians_match_a_brute_force_search_to_a_hundredth_of_a_month(recommender, typed):
    values = {k: typed[k].to_numpy() for k in typed.columns}
    complete = np.flatnonzero(~typed[list(UNKNOWABLE_COLUMNS)].isna().any(axis=1).to_numpy())
    design = design_matrix({k: v[complete] for k, v in values.items()}, complete.size)
    months = np.arange(0.0, 240.0, 0.002)
    for name in ("il2", "tki"):
        model, draws = recommender.estimators.models[name], recommender.estimators.draws[name]
        _, medians = point_outlook(model, draws, PooledDesign.of(design))
        prepared = prepare_strategy(model, point_draws(draws), design)
        for endpoint in ("pfs", "os"):
            curves = prepared.survival(endpoint, months)[0]
            below = curves <= 0.5
            reached = below.any(axis=1)
            brute = np.where(reached, months[np.argmax(below, axis=1)], np.inf)
            got = medians[endpoint]
            assert np.array_equal(np.isinf(got[brute < 200]), ~reached[brute < 200])
            finite = reached & (brute < 200)
            assert finite.sum() > 100
            np.testing.assert_allclose(got[finite], brute[finite], atol=0.01)


def test_a_parameter_on_the_intercept_alone_is_shared_exactly(recommender, typed):
    """``Component.prepare`` computes a parameter on the intercept alone once per draw:
    the same bits as the full product, because the intercept column is all ones."""
    from model.estimators.design import FEATURE_NAMES
    from model.estimators.survival import INTERCEPT_COLUMN

    assert FEATURE_NAMES[INTERCEPT_COLUMN] == "intercept"
    values = {k: typed[k].to_numpy() for k in typed.columns}
    unknown = typed[list(UNKNOWABLE_COLUMNS)].isna().any(axis=1).to_numpy()
    design = design_matrix({k: v[~unknown] for k, v in values.items()}, int((~unknown).sum()))
    assert np.all(design[:, INTERCEPT_COLUMN] == 1.0)
    component = recommender.estimators.models["il2"].pfs["CR"]
    theta = recommender.estimators.draws["il2"].pfs["CR"]
    shared = component._linear(design, theta, shared=True)
    full = component._linear(design, theta)
    assert any(v.shape[1] == 1 for v in shared.values())  # the shortcut is taken
    months = np.array([6.0, 12.0, 60.0])
    for name in full:
        np.testing.assert_array_equal(np.broadcast_to(shared[name], full[name].shape), full[name])
    cure = expit(full["cure_"])[..., None]
    uncured = np.exp(
        -np.exp(np.exp(full["rho_"])[..., None] * (np.log(months) - full["lambda_"][..., None]))
    )
    background = component.background  # the cured die of other causes only
    assert background > 0
    # S(t) from the full products, (D, n, T)
    expected = np.exp(-background * months) * (cure + (1 - cure) * uncured)
    got = component.prepare(design, theta).at(months)
    assert got.shape == expected.shape
    # draws are evaluated in single precision: six roundings of half a unit in the last
    # place, the two exps' each multiplied by their argument (H and rho log t, a few at
    # most), stay within 32 units of float32's epsilon
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=32 * np.finfo(np.float32).eps)
    # the point estimate (one draw) in double, where only the order of operations differs
    point = component.prepare(design, theta[:1]).at(months)
    assert point.dtype == np.float64
    np.testing.assert_allclose(point, expected[:1], rtol=0, atol=1e-13)


def test_chunks_computed_on_two_threads_answer_as_one_thread_does(recommender, monkeypatch):
    """A long list is computed two chunks at a time: the answers, in order, are those of
    one chunk after another (the models are read-only and deterministic), and a chunk
    handed to the wrong place would show as another patient's answer."""
    import model.recommend.recommender as module

    frame = simulate_case_mix(2_500, seed=37)[list(FEATURE_COLUMNS)].reset_index(drop=True)
    frame["patient_id"] = [f"T{i:04d}" for i in range(len(frame))]
    table = validate_table(frame).typed
    monkeypatch.setattr(module, "PREDICT_CHUNK_ROWS", 500)  # five chunks
    monkeypatch.setattr(module, "PREDICT_THREADS", 1)
    alone = [a for chunk in recommender.answer_chunks(table) for a in chunk]
    monkeypatch.setattr(module, "PREDICT_THREADS", 2)
    paired = [a for chunk in recommender.answer_chunks(table) for a in chunk]
    assert [a["patient_id"] for a in paired] == list(frame["patient_id"])
    assert paired == alone
    both = recommender.predict_frame(table)
    monkeypatch.setattr(module, "PREDICT_THREADS", 1)
    pd.testing.assert_frame_equal(both, recommender.predict_frame(table))


def test_a_small_mixed_batch_computed_in_one_pass_equals_one_pass_per_kind(
    recommender, typed, monkeypatch
):
    """The service's batches mix complete patients and patients with unknown inputs; one
    pass over both (half the numpy calls) must give what a pass per kind gives."""
    import model.estimators.predictions as predictions

    chunk = typed.iloc[:40]
    values = {k: chunk[k].to_numpy() for k in chunk.columns}
    passes = []
    summarise = predictions._summarise

    def counted(*args, **kwargs):
        passes.append(1)
        return summarise(*args, **kwargs)

    monkeypatch.setattr(predictions, "_summarise", counted)
    together = recommender.predict_values(values, len(chunk))
    assert len(passes) == 1 and 0 < together.imputed.sum() < len(chunk)
    monkeypatch.setattr(predictions, "MIXED_BATCH_MAX_ROWS", 0)
    apart = recommender.predict_values(values, len(chunk))
    assert len(passes) == 3
    np.testing.assert_array_equal(together.imputed, apart.imputed)
    np.testing.assert_array_equal(together.nearest_design, apart.nearest_design)
    for field in ("point", "lo", "hi", "medians"):
        got, expected = getattr(together, field), getattr(apart, field)
        assert got.keys() == expected.keys()
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=0, atol=TOLERANCE)


def test_joined_pooling_keeps_each_patient_to_its_own_rows():
    """Complete patients (one row each) and imputed ones (several) pooled as one batch:
    each patient's value is its own rows' average, and one row's overflow stays its own."""
    complete = PooledDesign.of(np.array([[1.0, 0.0], [1.0, 1.0]]))
    imputed = PooledDesign.of(np.array([[[1.0, 2.0]], [[1.0, 3.0]], [[1.0, 2.0]], [[1.0, 2.0]]]))
    joined = PooledDesign.joined([(np.array([2, 0]), complete), (np.array([1]), imputed)], 3)
    assert joined.owner.tolist() == [2, 0, 1, 1]
    values = np.array([10.0, 20.0, 30.0, np.inf])  # per distinct row: 2, 0, then 1's two
    np.testing.assert_array_equal(joined.pool(values)[[0, 2]], [20.0, 10.0])
    assert np.isinf(joined.pool(values)[1])
    finite = values.copy()
    finite[3] = 40.0  # patient 1: imputed 3 of 4 times as [1, 2], once as [1, 3]
    rows = {tuple(r): v for r, v in zip(joined.design.tolist(), finite, strict=True)}
    expected = 0.75 * rows[(1.0, 2.0)] + 0.25 * rows[(1.0, 3.0)]
    assert joined.pool(finite)[1] == pytest.approx(expected)
