"""The sample clinic list as a tumour board reads it: no IL-2 recommendation on a gain
the model cannot tell from none, no shorter median survival on IL-2 left unexplained, the
favourable-risk patient's TKI survival where the IMDC series put it, and the patient with
no histology review provisional until it is done."""

from __future__ import annotations

import pandas as pd
import pytest

from model.contract.tables import validate_table
from tests.conftest import SAMPLES

IMDC_FAVOURABLE_TKI_OS = (31.0, 52.0)  # targets-v2: Heng et al. 2013, 43.2 months
PATTERNS = ("alveolar_pct", "solid_pct", "papillary_pct", "granular_pct")
BLOODS = ("ldh_uln_ratio", "hemoglobin_below_lln", "corrected_calcium_mg_dl")


@pytest.fixture(scope="module")
def answers(recommender) -> dict[str, dict]:
    raw = pd.read_csv(SAMPLES / "clinic_list.csv", dtype=str, keep_default_na=False)
    typed = validate_table(raw).typed
    patients = typed.drop(columns=[c for c in typed.columns if c == "note"]).to_dict("records")
    patients = [{k: (None if v != v else v) for k, v in p.items()} for p in patients]
    return {a["patient_id"]: a for a in recommender.recommend_records(patients)}


def test_no_il2_recommendation_on_a_gain_that_cannot_be_told_from_none(answers):
    il2 = [a for a in answers.values() if a["recommendation"] == "il2_first"]
    assert il2, "the list has patients for whom IL-2 first is expected"
    for a in il2:
        gain = a["difference_il2_minus_tki"]
        assert any("lower bound" in r for r in a["reasons"]), a["patient_id"]
        assert a["il2"]["p_cure"]["value"] > 0
        assert gain["p_cure"]["lo"] is not None


def test_shorter_median_survival_on_il2_is_always_explained(answers):
    for a in answers.values():
        if a["recommendation"] != "il2_first":
            continue
        il2, tki = a["il2"]["median_os_months"], a["tki"]["median_os_months"]
        if il2["reached"] and tki["reached"] and il2["value"] < tki["value"]:
            assert any("shorter on IL-2 first" in r for r in a["reasons"]), a["patient_id"]


def test_favourable_risk_tki_survival_inside_the_imdc_band(answers):
    median = answers["MAN-001"]["tki"]["median_os_months"]
    assert median["reached"]
    low, high = IMDC_FAVOURABLE_TKI_OS
    assert low <= median["value"] <= high, median
    assert median["lo"] <= median["value"] <= median["hi"]


def test_no_histology_review_makes_the_answer_provisional(answers):
    answer = answers["MAN-028"]
    assert answer["provisional"] is True
    assert any("histology review" in w for w in answer["workup"]), answer["workup"]


def test_a_provisional_answer_starts_no_treatment(answers):
    """A TKI started before the work-up closes the IL-2 window the work-up may open: a
    provisional answer is 'complete the work-up first', naming it and the answer on what
    is known now."""
    provisional = {k for k, a in answers.items() if a["provisional"]}
    deferred = {k for k, a in answers.items() if a["recommendation"] == "complete_workup_first"}
    assert provisional == deferred and "MAN-028" in deferred
    for key in deferred:
        first = answers[key]["reasons"][0]
        assert first.startswith("complete the work-up first (") and "on what is known now" in first
        assert all(w in first for w in answers[key]["workup"]), key


def test_departures_from_the_pathway_say_why(answers):
    departing = [a for a in answers.values() if a["deviates_from_pathway"]]
    for a in departing:
        assert a["deviation_reason"].startswith("the Manchester pathway gives")
    on_pathway = [a for a in answers.values() if a["deviates_from_pathway"] is False]
    assert on_pathway and all(a["deviation_reason"] is None for a in on_pathway)


def test_prediction_table_carries_what_the_answer_says(recommender, answers):
    """``il2select predict``'s table: every interval column, the derived columns,
    contraindications, cautions, provisional, the pathway departure and the scope."""
    raw = pd.read_csv(SAMPLES / "clinic_list.csv", dtype=str, keep_default_na=False)
    table = recommender.predict_frame(validate_table(raw).typed)
    for name in ("il2", "tki"):
        for key in (
            "os_at_12_months",
            "pfs_at_36_months",
            "median_os_months",
            "median_pfs_months",
            "p_response",
        ):
            assert {f"{name}_{key}_lo", f"{name}_{key}_hi"} <= set(table.columns), key
    for column in (
        "mskcc_risk",
        "imdc_risk",
        "il2_contraindications",
        "il2_cautions",
        "manchester_pathway",
        "provisional",
        "workup",
        "deviates_from_pathway",
        "deviation_reason",
        "scope",
    ):
        assert column in table.columns, column
    assert table["scope"].str.contains("synthetic").all()
    for row in table.itertuples():
        answer = answers[row.patient_id]
        assert bool(row.provisional) == answer["provisional"]
        assert row.recommendation == answer["recommendation"]
        median = answer["il2"]["median_os_months"]
        if median["lo"] is not None:
            assert row.il2_median_os_months_lo == pytest.approx(median["lo"])


def test_discordant_performance_status_makes_the_answer_provisional(answers):
    """MAN-033: ECOG 2 (a contraindication) with Karnofsky 80 (ECOG 1's band): eligibility
    and MSKCC risk rest on whichever is current, so the answer waits for a reassessment."""
    answer = answers["MAN-033"]
    assert answer["provisional"] is True
    assert any("performance status reassessment" in w for w in answer["workup"])
    assert any("disagree" in w for w in answer["warnings"])


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    raw = pd.read_csv(SAMPLES / "clinic_list.csv", dtype=str, keep_default_na=False)
    typed = validate_table(raw).typed
    patients = typed.drop(columns=[c for c in typed.columns if c == "note"]).to_dict("records")
    return {p["patient_id"]: {k: (None if v != v else v) for k, v in p.items()} for p in patients}


def test_waiting_for_il2_is_provisional_when_the_work_up_could_undo_it(recommender, records):
    """MAN-014 waits for IL-2 (active infection); with its histology unreviewed the same
    patient must complete the work-up first: the pathway offers IL-2 only after it."""
    alone = recommender.recommend_records([records["MAN-014"]])[0]
    assert alone["recommendation"] == "il2_after_wait"
    unreviewed = {**records["MAN-014"], **dict.fromkeys(PATTERNS)}
    answer = recommender.recommend_records([unreviewed])[0]
    assert answer["recommendation"] == "complete_workup_first" and answer["provisional"]
    assert any("histology review" in w for w in answer["workup"]), answer["workup"]


def test_work_up_that_cannot_open_il2_starts_no_wait(recommender, records):
    """Cardiac disease rules IL-2 out; unknown blood tests leave only the MSKCC risk open:
    the answer stays the policy's, provisional, and says IL-2 is ruled out."""
    patient = {**records["MAN-001"], "cardiac_disease": True, **dict.fromkeys(BLOODS)}
    answer = recommender.recommend_records([patient])[0]
    assert answer["provisional"] and answer["recommendation"] in (
        "tki_first",
        "temsirolimus_or_trial",
    )
    assert "IL-2 is ruled out whatever it shows" in answer["reasons"][0]
