"""The MLflow pyfunc around the recommender: one model that returns everything the
service and ``il2select predict`` need. Only classes under ``model/`` are pickled."""

from __future__ import annotations

import pandas as pd
from mlflow.pyfunc import PythonModel

from model.contract import validate_table
from model.recommender import Recommender


class RecommenderModel(PythonModel):
    """``predict(frame)`` -> the prediction table, row for row; a row that breaks the data
    contract gets its reasons in ``errors`` and empty predictions (no row is lost)."""

    def __init__(self, recommender: Recommender) -> None:
        self.recommender = recommender

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return predict_table(self.recommender, pd.DataFrame(model_input))


def predict_table(recommender: Recommender, raw: pd.DataFrame) -> pd.DataFrame:
    """Validate, predict the valid rows, and give bad rows their reasons."""
    raw = raw.reset_index(drop=True)
    report = validate_table(raw)
    valid = report.valid
    predicted = recommender.predict_frame(report.typed[valid].reset_index(drop=True))
    predicted.index = raw.index[valid]
    out = predicted.reindex(raw.index)
    out["errors"] = report.reasons_by_row().reindex(raw.index + 1).fillna("").to_numpy()
    if "patient_id" in raw.columns:
        out["patient_id"] = raw["patient_id"].to_numpy()
    return out
