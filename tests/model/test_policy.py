"""The recommendation policy: contraindications and a short TKI wash-out always win."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.synthetic.cohort import simulate_case_mix
from model.contract.columns import FEATURE_COLUMNS
from model.contract.tables import validate_table
from model.recommend.assessment import assess
from model.recommend.policy import PolicyConfig, PolicyInputs, choose, decide, explain

N = 10_000
FLAGS = (
    "active_infection",
    "organ_allograft",
    "steroids_last_4_weeks",
    "chemo_radio_last_6_weeks",
    "cardiac_disease",
    "cardiac_stress_abnormal",
)


@pytest.fixture(scope="module")
def stressed_patients() -> dict[str, np.ndarray]:
    """10,000 synthetic patients; a third given a random contraindication, a third a
    recent TKI (wash-out 0-3 months)."""
    rng = np.random.default_rng(5)
    frame = simulate_case_mix(N, seed=21)[list(FEATURE_COLUMNS)].reset_index(drop=True)
    frame = frame.astype({c: object for c in FLAGS + ("prior_tki",)})
    group = rng.integers(0, 3, N)
    for i in np.flatnonzero(group == 0):
        frame.at[i, FLAGS[rng.integers(len(FLAGS))]] = True
    recent = group == 1
    frame.loc[recent, "prior_tki"] = True
    frame.loc[recent, "months_since_tki"] = rng.uniform(0, 3, recent.sum())
    typed = validate_table(frame).typed
    assert len(typed) == N
    return {k: typed[k].to_numpy() for k in typed.columns}


def test_never_il2_with_a_contraindication_or_short_washout(recommender, stressed_patients):
    assessment = assess(recommender, stressed_patients, N)
    il2 = assessment.recommendation == "il2_first"
    contraindicated = np.zeros(N, dtype=bool)
    for values in assessment.derived.contraindications.values():
        contraindicated |= values == 1.0
    short = assessment.derived.cautions["tki_washout_under_8_weeks"] == 1.0
    assert contraindicated.sum() > 3000 and short.sum() > 1000
    assert not (il2 & contraindicated).any()
    assert not (il2 & short).any()
    assert il2.sum() > 100  # the policy does recommend IL-2 where nothing forbids it
    deferred = short & ~contraindicated & (assessment.derived.mskcc_poor == 0)
    policy = "defer IL-2 until 8 weeks after the last TKI dose"
    assert all(
        any(policy in r for r in reasons)
        for reasons, keep in zip(assessment.reasons, deferred, strict=True)
        if keep
    )


def test_only_what_passes_makes_a_patient_wait_for_il2(recommender, stressed_patients):
    """``il2_after_wait``: no permanent contraindication, a temporary one or a short
    wash-out, and the policy gives IL-2 first to the same patient with them resolved;
    every such patient is found (none left at a TKI first that would close the window)."""
    from model.recommend.decision import decide_only
    from model.recommend.review import TEMPORARY

    assessment = assess(recommender, stressed_patients, N)
    derived = assessment.derived
    waiting = assessment.recommendation == "il2_after_wait"
    permanent = np.zeros(N, dtype=bool)
    temporary = np.zeros(N, dtype=bool)
    for name, values in derived.contraindications.items():
        (temporary if name in TEMPORARY else permanent)[:] |= values == 1.0
    short = derived.cautions["tki_washout_under_8_weeks"] == 1.0
    assert waiting.sum() > 50
    assert not (waiting & permanent).any() and (temporary | short)[waiting].all()
    assert all(
        "IL-2 waits only for what passes" in assessment.reasons[i][0]
        for i in np.flatnonzero(waiting)
    )
    candidates = np.flatnonzero(
        (assessment.policy_recommendation == "tki_first")
        & ~permanent
        & np.array(
            [
                all(v[i] == 0.0 for k, v in derived.contraindications.items() if k not in TEMPORARY)
                for i in range(N)
            ]
        )
        & (derived.mskcc_poor == 0.0)
        & (temporary | short)
        & ~assessment.provisional
    )
    resolved = {k: np.asarray(v)[candidates].copy() for k, v in stressed_patients.items()}
    for name in TEMPORARY:
        resolved[name] = np.zeros(candidates.size)
    months = resolved["months_since_tki"]
    resolved["months_since_tki"] = np.where(np.isnan(months), months, np.maximum(months, 1.84))
    after = decide_only(recommender, resolved, candidates.size)
    expected = set(candidates[after == "il2_first"].tolist())
    deferred = assessment.recommendation == "complete_workup_first"  # if unknowns could undo it
    assert set(np.flatnonzero(waiting)) <= expected <= set(np.flatnonzero(waiting | deferred))


CONFIG = PolicyConfig(min_durable_gain=0.05, max_p_toxicity=0.2)
# one patient per branch of the policy, in its order, with the words its reason must say
BRANCHES = [
    # (poor, eligible, washout_short, p_toxicity, durable_gain, its lower bound)
    #   -> recommendation, words
    ((1.0, 1.0, 0.0, 0.10, 0.30, 0.1), "temsirolimus_or_trial", "MSKCC risk is poor"),
    ((1.0, 0.0, 1.0, 0.90, 0.30, 0.1), "temsirolimus_or_trial", "MSKCC risk is poor"),
    ((0.0, 0.0, 0.0, 0.10, 0.30, 0.1), "tki_first", "IL-2 is contraindicated (fev1_low)"),
    ((0.0, np.nan, 0.0, 0.10, 0.30, 0.1), "tki_first", "IL-2 eligibility is unknown"),
    ((np.nan, 1.0, 0.0, 0.10, 0.30, 0.1), "tki_first", "whether MSKCC risk is poor is unknown"),
    ((0.0, 1.0, 1.0, 0.10, 0.30, 0.1), "tki_first", "defer IL-2 until 8 weeks"),
    ((0.0, 1.0, 0.0, 0.21, 0.30, 0.1), "tki_first", "0.210 is above 0.200"),
    ((0.0, 1.0, 0.0, 0.20, 0.05, 0.01), "il2_first", "+0.0500 to the predicted probability"),
    ((0.0, 1.0, 0.0, 0.10, 0.30, 0.1), "il2_first", "at least 0.0500 with a 95 % lower bound"),
    ((0.0, 1.0, 0.0, 0.10, 0.0499, 0.01), "tki_first", "less than 0.0500"),
    ((0.0, 1.0, 0.0, 0.10, 0.30, 0.0), "tki_first", "lower bound +0.0000 is not above zero"),
    ((0.0, 1.0, 0.0, 0.10, 0.30, -0.02), "tki_first", "cannot be told from none"),
]


def _inputs(rows) -> PolicyInputs:
    poor, eligible, washout, tox, gain, gain_lo = (
        np.array(c, dtype=float) for c in zip(*rows, strict=True)
    )
    n = len(rows)
    return PolicyInputs(
        poor=poor,
        eligible=eligible,
        contraindications=[["fev1_low"] if e == 0.0 else [] for e in eligible],
        washout_short=washout,
        months_since_tki=np.full(n, 1.0),
        p_cure=np.full(n, 0.1),
        p_toxicity=tox,
        durable_gain=gain,
        durable_gain_lo=gain_lo,
    )


def test_every_branch_gives_its_recommendation_and_the_reason_that_decided_it():
    """Each rule of the policy, the thresholds' edges included: the vectorised choice, the
    rule-by-rule explanation and the reason's words agree, branch by branch."""
    inputs = _inputs([row for row, _, _ in BRANCHES])
    choice, reasons = decide(inputs, CONFIG)
    explained = explain(inputs, CONFIG)
    for i, (_, expected, words) in enumerate(BRANCHES):
        assert choice[i] == expected, (i, choice[i], reasons[i])
        assert explained[i][0] == expected, (i, explained[i])
        assert words in reasons[i], (i, reasons[i])


def test_vectorised_and_explained_decisions_agree_on_random_patients():
    """``choose`` (vectorised) and ``explain`` (one rule at a time) are two codings of the
    same policy: on random patients, thresholds' edges included, they agree."""
    rng = np.random.default_rng(0)
    n = 5000
    edge = rng.random(n) < 0.2  # a fifth sit exactly on a threshold
    inputs = PolicyInputs(
        poor=rng.choice([0.0, 1.0, np.nan], n),
        eligible=rng.choice([0.0, 1.0, np.nan], n),
        contraindications=[["fev1_low"]] * n,
        washout_short=rng.choice([0.0, 1.0], n),
        months_since_tki=rng.uniform(0, 3, n),
        p_cure=rng.uniform(0, 0.3, n),
        p_toxicity=np.where(edge, CONFIG.max_p_toxicity, rng.uniform(0, 0.5, n)),
        durable_gain=np.where(edge, CONFIG.min_durable_gain, rng.uniform(-0.1, 0.3, n)),
        durable_gain_lo=np.where(rng.random(n) < 0.1, 0.0, rng.uniform(-0.1, 0.2, n)),
    )
    explained = [said for said, _ in explain(inputs, CONFIG)]
    assert list(choose(inputs, CONFIG)) == explained
    assert set(explained) == {"il2_first", "tki_first", "temsirolimus_or_trial"}


def test_a_reason_that_contradicts_the_recommendation_is_refused(monkeypatch):
    from model.recommend import policy

    monkeypatch.setattr(policy, "_decide_one", lambda x, i, c: ("il2_first", "contrived"))
    with pytest.raises(RuntimeError, match="contradict"):
        decide(_inputs([BRANCHES[0][0]]), CONFIG)


def test_decisions_alone_equal_full_assessments(recommender):
    """'What would change the answer' decides without reasons: it must decide the same."""
    from model.recommend.decision import decide_only
    from tests.conftest import SAMPLES

    raw = pd.read_csv(SAMPLES / "clinic_list.csv", dtype=str, keep_default_na=False)
    typed = validate_table(raw).typed
    values = {k: typed[k].to_numpy() for k in typed.columns}
    full = assess(recommender, values, len(typed)).policy_recommendation
    assert (decide_only(recommender, values, len(typed)) == full).all()
    assert set(full) == {"il2_first", "tki_first", "temsirolimus_or_trial"}
