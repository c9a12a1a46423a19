"""Eligibility for HD IL-2: contraindications and cautions by their fixed names
(BRIEF "Eligibility for HD IL-2"). Order of the dicts = order in every output."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from model.rules.logic import Atom, all_of, any_of, column, compare
from model.rules.scores import count_metastatic_organs

TKI_WASHOUT_MONTHS = 1.84  # 8 weeks
Rule = Callable[[Mapping, int], tuple[Atom, ...]]


def _flag(name: str) -> Rule:
    return lambda v, n: (Atom(column(v, name, n), (name,)),)


def _above(name: str, threshold: float) -> Rule:
    return lambda v, n: (Atom(compare(column(v, name, n), ">", threshold), (name,)),)


def _fev1_low(v: Mapping, n: int) -> tuple[Atom, ...]:
    # FEV1 < 2.0 L, or FEV1 < 75 % of predicted (the stricter published wording)
    return (
        Atom(compare(column(v, "fev1_litres", n), "<", 2.0), ("fev1_litres",)),
        Atom(compare(column(v, "fev1_pct_predicted", n), "<", 75.0), ("fev1_pct_predicted",)),
    )


def _brain_untreated(v: Mapping, n: int) -> tuple[Atom, ...]:
    # untreated brain metastases count only with met_brain
    return (
        Atom(column(v, "met_brain", n), ("met_brain",)),
        Atom(column(v, "brain_mets_untreated", n), ("brain_mets_untreated",)),
    )


# name -> (atoms, how the atoms combine)
CONTRAINDICATIONS: dict[str, tuple[Rule, Callable[..., np.ndarray]]] = {
    "ecog_above_1": (_above("ecog", 1.0), any_of),
    "fev1_low": (_fev1_low, any_of),
    "cardiac_stress_abnormal": (_flag("cardiac_stress_abnormal"), any_of),
    "cardiac_disease": (_flag("cardiac_disease"), any_of),
    "creatinine_above_1_5": (_above("creatinine_mg_dl", 1.5), any_of),
    "active_infection": (_flag("active_infection"), any_of),
    "organ_allograft": (_flag("organ_allograft"), any_of),
    "brain_mets_untreated": (_brain_untreated, all_of),
    "steroids_last_4_weeks": (_flag("steroids_last_4_weeks"), any_of),
    "chemo_radio_last_6_weeks": (_flag("chemo_radio_last_6_weeks"), any_of),
}


def _washout_short(v: Mapping, n: int) -> tuple[Atom, ...]:
    short = compare(column(v, "months_since_tki", n), "<", TKI_WASHOUT_MONTHS)
    prior = column(v, "prior_tki", n)
    return (Atom(np.where(prior == 0.0, 0.0, short), ("months_since_tki",)),)


def _stress_echo(v: Mapping, n: int) -> tuple[Atom, ...]:
    # age > 55, or prior TKI, or cardiac disease history: stress echocardiogram first
    return (
        Atom(compare(column(v, "age_years", n), ">", 55.0), ("age_years",)),
        Atom(column(v, "prior_tki", n), ("prior_tki",)),
        Atom(column(v, "cardiac_disease", n), ("cardiac_disease",)),
    )


def _organs_3_plus(v: Mapping, n: int) -> tuple[Atom, ...]:
    return (Atom(compare(count_metastatic_organs(v, n), ">=", 3.0)),)


CAUTIONS: dict[str, tuple[Rule, Callable[..., np.ndarray]]] = {
    "prior_tki": (_flag("prior_tki"), any_of),
    "tki_washout_under_8_weeks": (_washout_short, any_of),
    "stress_echo_required": (_stress_echo, any_of),
    "age_over_60": (_above("age_years", 60.0), any_of),
    "metastatic_organs_3_plus": (_organs_3_plus, any_of),
}

# what a clinician reads for each rule's name (cards, tables): the brief's words
RULE_TEXT: dict[str, str] = {
    "ecog_above_1": "ECOG performance status above 1",
    "fev1_low": "FEV1 under 2 L or under 75 % predicted",
    "cardiac_stress_abnormal": "abnormal cardiac stress test",
    "cardiac_disease": "cardiac disease",
    "creatinine_above_1_5": "creatinine above 1.5 mg/dL",
    "active_infection": "active infection",
    "organ_allograft": "organ allograft",
    "brain_mets_untreated": "untreated brain metastases",
    "steroids_last_4_weeks": "systemic steroids in the last 4 weeks",
    "chemo_radio_last_6_weeks": "chemotherapy or radiotherapy in the last 6 weeks",
    "prior_tki": "prior VEGF-TKI (IL-2 less safe after a TKI)",
    "tki_washout_under_8_weeks": "under 8 weeks since the last TKI dose",
    "stress_echo_required": "stress echocardiogram required before IL-2",
    "age_over_60": "age over 60",
    "metastatic_organs_3_plus": "metastases in 3 or more organs",
}

Evaluated = dict[str, tuple[np.ndarray, tuple[Atom, ...]]]


def evaluate(rules: dict, values: Mapping, n: int) -> Evaluated:
    """Each named rule's three-valued result with the atoms it rests on."""
    out = {}
    for name, (atoms_of, combine) in rules.items():
        atoms = atoms_of(values, n)
        out[name] = (combine(*(a.value for a in atoms)), atoms)
    return out
