"""Both strategies' fitted models, their parameter draws and the donor imputer: what every
prediction of ``model.estimators.predictions`` reads, fitted in one call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.estimators.design import design_matrix
from model.estimators.group_misfit import GroupMisfit, fit_group_misfit
from model.estimators.imputation import DonorImputer, has_unknown
from model.estimators.misfit import survival_misfit
from model.estimators.strategy import (
    StrategyDraws,
    StrategyModel,
    draw_strategy,
    fit_strategy,
    response_group,
)

STRATEGIES = ("il2", "tki")
MIN_PATIENTS_PER_STRATEGY = 50


@dataclass(frozen=True)
class FittedEstimators:
    """Per strategy the model and its draws (row 0 the point estimate); the imputer, and
    how many of a patient's nearest donors complete its unknown inputs."""

    models: dict[str, StrategyModel]
    draws: dict[str, StrategyDraws]
    imputer: DonorImputer
    n_imputations: int
    # per strategy, the survival models' shape error (``misfit``) at each horizon
    misfit: dict[str, dict[str, float]] = field(default_factory=dict)
    # per strategy, endpoint and response group, where the group's curve misses its
    # patients (``group_misfit``); versions fitted before it have none
    group_misfit: dict[str, dict[str, dict[str, GroupMisfit]]] = field(default_factory=dict)

    @property
    def n_draws(self) -> int:
        return self.draws[STRATEGIES[0]].response.shape[0]


@dataclass(frozen=True)
class FitOptions:
    """The estimators' hyper-parameters (``TrainingConfig`` carries and logs them)."""

    n_draws: int
    n_imputations: int
    max_donors: int
    min_group_events: int
    background_mortality_per_year: float = 0.0


def fit_estimators(
    typed: pd.DataFrame, outcomes: pd.DataFrame, options: FitOptions, rng: np.random.Generator
) -> tuple[FittedEstimators, np.ndarray, np.ndarray]:
    """Fit each strategy on the complete patients who received it (an observed cohort);
    every patient, complete or not, may donate to the imputer.

    Returns the estimators, the complete patients' design (n_complete, p) and their
    treatment, for what is fitted beside (the propensity model).
    """
    imputer = DonorImputer.from_typed(typed, rng, options.max_donors)
    complete = ~has_unknown(typed, len(typed))
    design = design_matrix(
        {k: typed[k].to_numpy()[complete] for k in typed.columns}, int(complete.sum())
    )
    treatment = outcomes["treatment"].to_numpy()[complete]
    models, draws, misfit, group_misfit = {}, {}, {}, {}
    for name in STRATEGIES:
        rows = treatment == name
        if rows.sum() < MIN_PATIENTS_PER_STRATEGY:
            raise ValueError(
                f"only {int(rows.sum())} complete patients received {name}: at least "
                f"{MIN_PATIENTS_PER_STRATEGY} are needed to fit its models"
            )
        got = outcomes.iloc[np.flatnonzero(complete)[rows]]
        models[name] = fit_strategy(
            name,
            design[rows],
            got["best_response"].to_numpy(dtype=object),
            _time_and_event(got, "pfs"),
            _time_and_event(got, "os"),
            toxicity=got["severe_cardiac_toxicity"].to_numpy(dtype=float)
            if name == "il2"
            else None,
            min_group_events=options.min_group_events,
            background=_monthly_hazard(options.background_mortality_per_year),
        )
        draws[name] = draw_strategy(models[name], options.n_draws, rng)
        misfit[name] = survival_misfit(
            models[name],
            draws[name],
            design[rows],
            {e: _time_and_event(got, e) for e in ("pfs", "os")},
            got["severe_cardiac_toxicity"].to_numpy(dtype=float) if name == "il2" else None,
            got["best_response"].to_numpy(dtype=object),
        )
        group_misfit[name] = fit_group_misfit(
            models[name],
            draws[name],
            design[rows],
            response_group(got["best_response"].to_numpy(dtype=object)),
            {e: _time_and_event(got, e) for e in ("pfs", "os")},
        )
    fitted = FittedEstimators(models, draws, imputer, options.n_imputations, misfit, group_misfit)
    return fitted, design, treatment


def _monthly_hazard(per_year: float) -> float:
    """The constant hazard per month of dying within a year with probability ``per_year``."""
    return -np.log1p(-per_year) / 12.0


def _time_and_event(outcomes: Mapping, endpoint: str) -> tuple[np.ndarray, np.ndarray]:
    return (
        outcomes[f"{endpoint}_months"].to_numpy(dtype=float),
        outcomes[f"{endpoint}_event"].to_numpy(dtype=bool),
    )
