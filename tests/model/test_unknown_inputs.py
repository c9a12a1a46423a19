"""Unknown inputs are averaged over, never filled with a fixed value."""

from __future__ import annotations

from model.contract.patient import Patient, patient_example


def _cr(recommender, **changes):
    patient = Patient(**{**patient_example(), **changes}).model_dump()
    return recommender.recommend_one(patient).il2.p_complete_response


def test_unknown_caix_lies_between_high_and_low_with_a_wider_interval(recommender):
    unknown, high, low = (_cr(recommender, caix_pct=v) for v in (None, 95.0, 50.0))
    assert low.value < unknown.value < high.value
    width = unknown.hi - unknown.lo
    assert width > high.hi - high.lo and width > low.hi - low.lo


def test_unknown_inputs_are_named_with_what_would_change_the_answer(recommender):
    patient = Patient(
        **{**patient_example(), "caix_pct": None, "cardiac_stress_abnormal": None}
    ).model_dump()
    answer = recommender.recommend_one(patient)
    assert any("caix_pct" in r for r in answer.reasons)
    assert {c.input for c in answer.what_would_change} == {"caix_pct", "cardiac_stress_abnormal"}
    stress = next(c for c in answer.what_would_change if c.input == "cardiac_stress_abnormal")
    assert stress.high_recommendation == "tki_first"  # an abnormal stress test contraindicates


def test_the_same_patient_gets_the_same_numbers(recommender):
    patient = Patient(**{**patient_example(), "caix_pct": None}).model_dump()
    first, second = recommender.recommend_one(patient), recommender.recommend_one(patient)
    assert first.model_dump() == second.model_dump()
