"""The generator reproduces every published outcome target (targets-v2.yaml) at 50,000
patients, each on a cohort of its era, inside each accept band by at least two standard
errors; a mutated generator (IL-2 complete responses x 1.3) must fail the same check."""

from __future__ import annotations

from data.synthetic.cohort import simulate_cohort
from data.synthetic.statistics import evaluate_targets


def test_every_outcome_target_met_with_margin(outcome_table, check_targets):
    assert len(outcome_table) >= 30
    missed = check_targets(outcome_table)
    assert not missed, "\n".join(missed)


def test_every_cytokine_era_target_met_with_margin(cytokine_outcome_table, check_targets):
    assert len(cytokine_outcome_table) >= 5
    missed = check_targets(cytokine_outcome_table)
    assert not missed, "\n".join(missed)


def test_mutated_complete_response_effect_fails(params, targets, check_targets):
    mutated = simulate_cohort(50_000, 7, params, il2_cr_scale=1.3)
    missed = check_targets(evaluate_targets(mutated, targets.in_era("targeted").outcomes()))
    assert any(m.startswith("il2_cr_reference") for m in missed), missed
