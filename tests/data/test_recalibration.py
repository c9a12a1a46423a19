"""Editing one target in a copy of targets.yaml and recalibrating at small n moves that
statistic toward the new value."""

from __future__ import annotations

import yaml

from data.synthetic.calibration import calibrate
from data.synthetic.calibration_expected import expected_statistics, prepare_cohort
from data.synthetic.cohort import simulate_case_mix, simulate_cohort
from data.synthetic.statistics import target_statistic
from data.synthetic.targets import TARGETS_PATH, load_targets

TARGET_ID = "tki_median_pfs"
NEW_BAND = [13.5, 16.5]


def test_edited_target_pulls_its_statistic(tmp_path, params):
    document = yaml.safe_load(TARGETS_PATH.read_text(encoding="utf-8"))
    entry = next(t for t in document["targets"] if t["id"] == TARGET_ID)
    entry["accept"] = NEW_BAND
    edited_path = tmp_path / "targets.yaml"
    edited_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    edited = load_targets(edited_path)
    new_centre = sum(NEW_BAND) / 2

    cohort = prepare_cohort(simulate_case_mix(20_000, 99, params), edited)
    before = expected_statistics(cohort, edited, params)[TARGET_ID]
    result = calibrate(params, edited, cohort=cohort, max_evaluations=150)
    after = result.final[TARGET_ID]
    assert abs(after - new_centre) < 0.5 * abs(before - new_centre), (before, after)

    realised = [
        target_statistic(simulate_cohort(20_000, 99, p), edited.by_id(TARGET_ID))[0]
        for p in (params, result.parameters)
    ]
    assert realised[1] > realised[0] + 1.0, realised
    assert load_targets().by_id(TARGET_ID).high == 12.5  # the committed file is untouched
