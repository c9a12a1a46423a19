"""The clinic's work-list: each patient with something to settle, its branch said in words
(an unknown branch is "unknown", never a missing value), the actions grouped."""

from __future__ import annotations

import pandas as pd

from model.contract.patient import patient_example
from model.rules.worklist import build_worklist
from serving.triage import triage_frame


def test_an_unknown_branch_is_named_and_blood_tests_are_one_draw():
    settled = patient_example()
    unsettled = {
        **patient_example(),
        "patient_id": "UNK",
        "ecog": 1,
        "karnofsky": None,  # ECOG 1: the KPS factor unknown
        "ldh_uln_ratio": None,
        "creatinine_mg_dl": None,  # eligibility, so the branch, unknown
        "neutrophils_above_uln": None,
    }
    triaged = triage_frame(pd.DataFrame([settled, unsettled])).triaged
    worklist = build_worklist(triaged)
    assert worklist["patient_id"].tolist() == ["UNK"]
    assert worklist["manchester_pathway"].tolist() == ["unknown"]
    assert (
        worklist["actions"].iloc[0]
        == "Karnofsky assessment; blood tests: LDH, creatinine, neutrophils"
    )
