"""Training data: a synthetic observed cohort, or a user's real-format table validated by
the data contract with the same errors as triage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from data.synthetic.cohort import simulate_cohort
from model.contract.columns import FEATURE_COLUMNS, OBSERVED_OUTCOME_COLUMNS
from model.contract.errors import ContractError
from model.contract.tables import validate_table

OUTCOME_NAMES = tuple(spec.name for spec in OBSERVED_OUTCOME_COLUMNS)


@dataclass(frozen=True)
class TrainingData:
    """Validated features (typed), outcomes, where they came from and their hash."""

    typed: pd.DataFrame
    outcomes: pd.DataFrame
    source: str
    data_hash: str


class TrainingDataError(ContractError):
    """Bad rows in a training table: every bad row named, nothing trained."""

    def __init__(self, reasons: pd.Series, n_rows: int) -> None:
        shown = "\n".join(f"row {row}: {text}" for row, text in reasons.head(50).items())
        more = f"\n… and {len(reasons) - 50} more" if len(reasons) > 50 else ""
        super().__init__(
            f"{len(reasons)} of {n_rows} training rows break the data contract:\n{shown}{more}",
            rule="data contract",
        )
        self.reasons = reasons


def frame_hash(frame: pd.DataFrame) -> str:
    """sha256 of a table's content (row hashes of every column, in order)."""
    rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    digest = hashlib.sha256(rows.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()


def prepare(raw: pd.DataFrame, source: str) -> TrainingData:
    """Validate features and observed outcomes; refuse the table if any row is bad."""
    report = validate_table(raw, OBSERVED_OUTCOME_COLUMNS)
    if not report.errors.empty:
        raise TrainingDataError(report.reasons_by_row(), len(raw))
    typed = report.typed
    outcomes = pd.DataFrame(
        {
            "treatment": typed["treatment"].to_numpy(dtype=object),
            "best_response": typed["best_response"].to_numpy(dtype=object),
            "pfs_months": typed["pfs_months"].to_numpy(),
            "pfs_event": typed["pfs_event"].to_numpy() == 1.0,
            "os_months": typed["os_months"].to_numpy(),
            "os_event": typed["os_event"].to_numpy() == 1.0,
            "severe_cardiac_toxicity": typed["severe_cardiac_toxicity"].to_numpy(),
        }
    )
    features = typed[list(FEATURE_COLUMNS)]
    return TrainingData(features, outcomes, source, frame_hash(raw))


def synthetic_training_data(n: int, seed: int) -> TrainingData:
    """An observed view of a synthetic cohort (one treatment per patient, as clinics
    choose): the format real registry data come in."""
    cohort = simulate_cohort(n, seed, observed=True)
    return prepare(cohort.reset_index(drop=True), f"synthetic observed n={n} seed={seed}")
