"""The recommender: both strategies' estimators, the propensity model and the training
configuration (the policy's thresholds among it), in one picklable object. The MLflow
pyfunc carries it; the CLI and the service call the same methods.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.contract.patient import values_from_patients
from model.estimators.fitted import FitOptions, FittedEstimators, fit_estimators
from model.estimators.imputation import IMPUTED_INPUTS
from model.estimators.logistic import FittedLogistic, fit_logistic
from model.estimators.predictions import (
    BatchPrediction,
    predict_batch,
    predict_curves,
)
from model.estimators.strategy_predictions import GRID_MONTHS
from model.recommend.answer import PatientAnswer, SurvivalCurves, answer_records
from model.recommend.assessment import assess
from model.recommend.policy import PolicyConfig
from model.recommend.prediction_table import prediction_frame
from model.recommend.sensitivity import input_range
from model.recommend.training_config import TrainingConfig
from model.rules.derive import Derived

PREDICT_CHUNK_ROWS = 1000  # 17 quantities x 201 draws x 1,000 rows: about 27 MB a chunk
# chunks computed at once, one a thread: numpy releases the GIL in the survival curves and
# the draws' sorts, most of a chunk's cost, so a long list uses every core
PREDICT_THREADS = max(1, min(2, os.cpu_count() or 1))


@dataclass
class Recommender:
    estimators: FittedEstimators
    propensity: FittedLogistic
    config: TrainingConfig
    input_ranges: dict[str, tuple[float, float]]
    metadata: dict = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        typed: pd.DataFrame,
        outcomes: pd.DataFrame,
        config: TrainingConfig | None = None,
        seed: int = 0,
    ) -> Recommender:
        """Fit each strategy on the patients who received it (an observed cohort).

        ``typed`` is a validated feature table (``validate_table(...).typed``);
        ``outcomes`` has the observed outcome columns of the contract, row for row.
        """
        config = config or TrainingConfig()
        options = FitOptions(
            config.n_draws,
            config.n_imputations,
            config.max_donors,
            config.min_group_events,
            config.background_mortality_per_year,
        )
        estimators, design, treatment = fit_estimators(
            typed, outcomes, options, np.random.default_rng(seed)
        )
        donors = estimators.imputer.donors
        return cls(
            estimators,
            fit_logistic(design, treatment == "il2"),
            config,
            {name: input_range(donors[name]) for name in IMPUTED_INPUTS},
            {"n_training_rows": len(typed), "n_complete_rows": len(design), "seed": seed},
        )

    @property
    def policy(self) -> PolicyConfig:
        return self.config.policy

    def predict_values(
        self, values: Mapping, n: int, derived: Derived | None = None, survival: bool = True
    ) -> BatchPrediction:
        """Predictions for column arrays (unknown = NaN), in row order (without
        ``survival``: the probabilities alone)."""
        return predict_batch(self.estimators, values, n, derived, survival)

    def extrapolated(self, prediction: BatchPrediction) -> np.ndarray:
        """True where either strategy was almost never given to such patients (propensity
        below ``config.extrapolation_propensity``), judged on the known inputs completed by
        the nearest donor."""
        p_il2 = self.propensity.predict(prediction.nearest_design)[0]
        limit = self.config.extrapolation_propensity
        return (p_il2 < limit) | (p_il2 > 1 - limit)

    # ---- what the CLI and the service call ------------------------------------------
    def predict_frame(self, typed: pd.DataFrame) -> pd.DataFrame:
        """The flat prediction table for a validated table, row for row (chunked)."""
        frames = list(
            _in_order(
                lambda values, n: prediction_frame(assess(self, values, n), _ids(values)),
                _chunks(typed),
                len(typed),
            )
        )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def answer_chunks(self, typed: pd.DataFrame) -> Iterator[list[dict]]:
        """Answers for a validated table (``validate_table(...).typed``), in order,
        PREDICT_CHUNK_ROWS rows at a time (bounded memory; a caller can pass one chunk on
        while the next is computed), as JSON-ready dicts in ``PatientAnswer``'s shape."""
        yield from _in_order(
            lambda values, n: answer_records(assess(self, values, n), values),
            _chunks(typed),
            len(typed),
        )

    def recommend_one(self, patient: Mapping) -> PatientAnswer:
        """The answer for one patient, with what would change it."""
        return PatientAnswer.model_validate(self.recommend_records([patient])[0])

    def recommend_records(self, patients: list[Mapping]) -> list[dict]:
        """The answers of several patients at once, in order, as JSON-ready dicts in
        ``PatientAnswer``'s shape: each equals the patient's answer alone (to rounding),
        what would change it included. The service batches concurrent requests through
        here: the per-call cost of the vectorised rules and models is paid once per batch."""
        values = values_from_patients(patients)
        assessment = assess(self, values, len(patients))
        return answer_records(assessment, values)

    def survival_one(self, patient: Mapping) -> SurvivalCurves:
        """Both strategies' PFS and OS curves on the monthly grid (averaged over the
        imputations of unknown inputs), with their 95 % bands."""
        curves = predict_curves(self.estimators, values_from_patients([patient]), 1)
        return SurvivalCurves(
            patient_id=None if patient.get("patient_id") is None else str(patient["patient_id"]),
            months=GRID_MONTHS.astype(int).tolist(),
            **{key: curve[0].tolist() for key, curve in curves.items()},
        )


def _in_order(work: Callable, chunks: Iterator[tuple], n_rows: int) -> Iterator:
    """``work(*chunk)`` of every chunk of a table of ``n_rows``, in order,
    ``PREDICT_THREADS`` chunks computed at once (no more held: memory stays bounded on a
    long table); a table of one chunk (every small list) starts no thread."""
    if PREDICT_THREADS == 1 or n_rows <= PREDICT_CHUNK_ROWS:
        yield from (work(*chunk) for chunk in chunks)
        return
    with ThreadPoolExecutor(PREDICT_THREADS, thread_name_prefix="il2select-chunk") as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(work, *chunk))
            if len(pending) >= PREDICT_THREADS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _chunks(typed: pd.DataFrame) -> Iterator[tuple[dict[str, np.ndarray], int]]:
    """A validated table as column arrays, PREDICT_CHUNK_ROWS rows at a time (bounded
    memory), with each chunk's row count."""
    for start in range(0, len(typed), PREDICT_CHUNK_ROWS):
        part = typed.iloc[start : start + PREDICT_CHUNK_ROWS]
        yield {k: part[k].to_numpy() for k in part.columns}, len(part)


def _ids(values: Mapping) -> np.ndarray | None:
    ids = values.get("patient_id")
    return None if ids is None else np.asarray(ids, dtype=object)
