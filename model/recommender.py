"""The recommender: both strategies' models, the imputer, the propensity model and the
policy, in one picklable object (the MLflow pyfunc carries it; the CLI and the service call
the same methods).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.answer import PatientAnswer
from model.answering import answer_records, survival_curves, what_would_change
from model.columns import COLUMNS, UNKNOWABLE_COLUMNS
from model.features import design_matrix
from model.imputation import DonorImputer
from model.logistic import FittedLogistic, fit_logistic
from model.policy import PolicyConfig
from model.predictions import BatchPrediction, has_unknown, predict_batch
from model.respond import assess, prediction_frame
from model.strategy import StrategyDraws, StrategyModel, draw_strategy, fit_strategy

N_DRAWS = 200
PREDICT_CHUNK_ROWS = 1000  # 17 quantities x 201 draws x 1,000 rows: about 27 MB a chunk
EXTRAPOLATION_PROPENSITY = 0.02
OUTCOME_COLUMNS = (
    "treatment",
    "best_response",
    "pfs_months",
    "pfs_event",
    "os_months",
    "os_event",
    "severe_cardiac_toxicity",
)


@dataclass
class Recommender:
    strategies: dict[str, StrategyModel]
    draws: dict[str, StrategyDraws]
    imputer: DonorImputer
    propensity: FittedLogistic
    policy: PolicyConfig
    input_ranges: dict[str, tuple[float, float]]
    metadata: dict = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        typed: pd.DataFrame,
        outcomes: pd.DataFrame,
        policy: PolicyConfig | None = None,
        n_draws: int = N_DRAWS,
        seed: int = 0,
    ) -> Recommender:
        """Fit each strategy on the patients who received it (an observed cohort).

        ``typed`` is a validated feature table (``validate_table(...).typed``);
        ``outcomes`` has OUTCOME_COLUMNS, row for row.
        """
        rng = np.random.default_rng(seed)
        imputer = DonorImputer.from_typed(typed, rng)
        complete = ~has_unknown(typed, len(typed))
        design = design_matrix(
            {k: typed[k].to_numpy()[complete] for k in typed.columns}, int(complete.sum())
        )
        treatment = outcomes["treatment"].to_numpy()[complete]
        models, draws = {}, {}
        for name in ("il2", "tki"):
            rows = treatment == name
            if rows.sum() < 50:
                raise ValueError(
                    f"only {int(rows.sum())} complete patients received {name}: "
                    "at least 50 are needed to fit its models"
                )
            got = outcomes.iloc[np.flatnonzero(complete)[rows]]
            toxicity = (
                got["severe_cardiac_toxicity"].to_numpy(dtype=float) if name == "il2" else None
            )
            models[name] = fit_strategy(
                name,
                design[rows],
                got["best_response"].to_numpy(dtype=object),
                (got["pfs_months"].to_numpy(dtype=float), got["pfs_event"].to_numpy(dtype=bool)),
                (got["os_months"].to_numpy(dtype=float), got["os_event"].to_numpy(dtype=bool)),
                toxicity=toxicity,
            )
            draws[name] = draw_strategy(models[name], n_draws, rng)
        propensity = fit_logistic(design, treatment == "il2")
        ranges = {name: _range(imputer.donors[name]) for name in UNKNOWABLE_COLUMNS}
        return cls(
            models,
            draws,
            imputer,
            propensity,
            policy or PolicyConfig(),
            ranges,
            {
                "n_training_rows": len(typed),
                "n_complete_rows": int(complete.sum()),
                "n_draws": n_draws,
                "seed": seed,
            },
        )

    def predict_values(self, values: Mapping, n: int, derived=None) -> BatchPrediction:
        """Predictions for column arrays (unknown = NaN), in row order."""
        return predict_batch(values, n, self.strategies, self.draws, self.imputer, derived)

    def extrapolated(self, prediction: BatchPrediction) -> np.ndarray:
        """True where either strategy was almost never given to such patients (propensity
        below 2 %), judged on the known inputs completed by the nearest donor."""
        p_il2 = self.propensity.predict(prediction.nearest_design)[0]
        return (p_il2 < EXTRAPOLATION_PROPENSITY) | (p_il2 > 1 - EXTRAPOLATION_PROPENSITY)

    # ---- what the CLI and the service call ------------------------------------------
    def predict_frame(self, typed: pd.DataFrame) -> pd.DataFrame:
        """The flat prediction table for a validated table, row for row (chunked)."""
        frames = [
            prediction_frame(assess(self, values, n), _ids(values)) for values, n in _chunks(typed)
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def answer_chunks(self, typed: pd.DataFrame) -> Iterator[list[dict]]:
        """Answers for a validated table (``validate_table(...).typed``), in order,
        PREDICT_CHUNK_ROWS rows at a time (bounded memory; a caller can pass one chunk on
        while the next is computed), as JSON-ready dicts in ``PatientAnswer``'s shape:
        validating thousands of nested models would cost more than the predictions."""
        for values, n in _chunks(typed):
            yield answer_records(assess(self, values, n), values)

    def recommend_one(self, patient: Mapping) -> PatientAnswer:
        """The answer for one patient, with what would change it."""
        return PatientAnswer.model_validate(self.recommend_record(patient))

    def recommend_record(self, patient: Mapping) -> dict:
        """``recommend_one`` as a JSON-ready dict in ``PatientAnswer``'s shape (what the
        service sends: it skips building and validating the nested models)."""
        return self.recommend_records([patient])[0]

    def recommend_records(self, patients: list[Mapping]) -> list[dict]:
        """``recommend_record`` for several patients at once, in order: each answer equals
        the patient's answer alone (to rounding), what would change it included. The
        service batches concurrent requests through here: the per-call cost of the
        vectorised rules and models is paid once per batch, not once per patient."""
        values = values_from_patients(patients)
        assessment = assess(self, values, len(patients))
        return answer_records(assessment, values, what_would_change(self, values, assessment))

    def survival_one(self, patient: Mapping):
        return survival_curves(self, values_from_patients([patient]), 1)[0]


def _chunks(typed: pd.DataFrame) -> Iterator[tuple[dict[str, np.ndarray], int]]:
    """A validated table as column arrays, PREDICT_CHUNK_ROWS rows at a time (bounded
    memory), with each chunk's row count."""
    for start in range(0, len(typed), PREDICT_CHUNK_ROWS):
        part = typed.iloc[start : start + PREDICT_CHUNK_ROWS]
        yield {k: part[k].to_numpy() for k in part.columns}, len(part)


def _range(values: np.ndarray) -> tuple[float, float]:
    """The low and high value an unknown input is set to in 'what would change':
    the 10th and 90th percentiles of the training cohort (False/True for flags)."""
    if set(np.unique(values)) <= {0.0, 1.0}:
        return 0.0, 1.0
    low, high = np.percentile(values, [10, 90])
    return float(low), float(high)


def values_from_patients(patients: list[Mapping]) -> dict[str, np.ndarray]:
    """Column arrays from patients as dicts (``Patient.model_dump()``): flags as 1/0,
    unknown as NaN — the same numbers ``validate_table`` gives for a CSV."""
    out = {}
    for spec in COLUMNS:
        raw = [p.get(spec.name) for p in patients]
        if spec.kind in ("choice", "text"):
            out[spec.name] = np.array(raw, dtype=object)
        else:
            out[spec.name] = np.array([np.nan if v is None else float(v) for v in raw])
    return out


def _ids(values: Mapping) -> np.ndarray | None:
    ids = values.get("patient_id")
    return None if ids is None else np.asarray(ids, dtype=object)
