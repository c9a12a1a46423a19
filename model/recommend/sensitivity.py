"""What would change the answer: each unknown input of a patient set to a low and a high
value (the 10th and 90th percentiles of the training cohort; false and true for a flag),
and the recommendation then — decided for every row's variations in one batch."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from model.contract.columns import BOOL_COLUMNS
from model.estimators.imputation import IMPUTED_INPUTS
from model.recommend.decision import Predictor, decide_only
from model.rules.derive import Derived


def what_would_change(
    recommender: Predictor, values: Mapping, unknown_inputs: list[list[str]]
) -> list[list[dict]]:
    """For every row, one ``Change`` (as a dict) per unknown input, in the row's order."""
    source, inputs, levels, varied_inputs = [], [], [], []
    for i, unknown in enumerate(unknown_inputs):
        for name in unknown:
            for value in recommender.input_ranges[name]:
                source.append(i)
                inputs.append(name)
                levels.append(value)
            varied_inputs.append((i, name))
    changes: list[list[dict]] = [[] for _ in unknown_inputs]
    if not source:
        return changes
    # every variation at once: the rows repeated, each varied input set where it is varied
    batch = {key: np.asarray(column)[source] for key, column in values.items()}
    inputs, levels = np.asarray(inputs, dtype=object), np.asarray(levels, dtype=float)
    for name in set(inputs.tolist()):
        where = inputs == name
        column = batch[name].astype(float)
        column[where] = levels[where]
        batch[name] = column
    varied = decide_only(recommender, batch, len(source)).tolist()
    for j, (i, name) in enumerate(varied_inputs):
        low, high = recommender.input_ranges[name]
        changes[i].append(
            {
                "input": name,
                "low_value": _shown(name, low),
                "low_recommendation": str(varied[2 * j]),
                "high_value": _shown(name, high),
                "high_recommendation": str(varied[2 * j + 1]),
            }
        )
    return changes


def unknown_inputs(values: Mapping, n: int) -> list[list[str]]:
    """Per row, the imputed inputs it leaves unknown, in ``IMPUTED_INPUTS``' order."""
    unknown: list[list[str]] = [[] for _ in range(n)]
    for name in IMPUTED_INPUTS:
        if name in values:
            for i in np.flatnonzero(np.isnan(np.asarray(values[name], dtype=float))).tolist():
                unknown[i].append(name)
    return unknown


def varied_inputs(unknown: list[list[str]], derived: Derived) -> list[list[str]]:
    """The unknown inputs worth varying: not those the rules have settled without them
    (KPS unknown with ECOG 2 counts the factor: a value contradicting the known ones
    would flip nothing real)."""
    return [[u for u in row if derived.needed[u][i]] for i, row in enumerate(unknown)]


def input_range(values: np.ndarray) -> tuple[float, float]:
    """The low and high value an unknown input is set to: the 10th and 90th percentiles
    of the training cohort (False/True for flags)."""
    if set(np.unique(values)) <= {0.0, 1.0}:
        return 0.0, 1.0
    low, high = np.percentile(values, [10, 90])
    return float(low), float(high)


def _shown(name: str, value: float) -> float | bool:
    return bool(value) if name in BOOL_COLUMNS else round(float(value), 2)
