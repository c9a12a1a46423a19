"""Triage along the Manchester pathway: the clinical rules only, no model.

The CLI (``il2select triage``) and the REST endpoint (``POST /triage``) both call
``triage_frame``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.contract.tables import TableReport, validate_table
from model.rules.derive import derive_columns


@dataclass(frozen=True)
class TriageResult:
    """Valid rows with their derived columns, and the bad rows with their reasons.

    ``triaged`` keeps every input column unchanged and in order, then the derived ones;
    ``rejected`` keeps the input columns plus ``row`` (1 = first patient) and ``errors``.
    Every input row is in exactly one of the two.
    """

    triaged: pd.DataFrame
    rejected: pd.DataFrame
    report: TableReport


def triage_frame(raw: pd.DataFrame, first_row: int = 1) -> TriageResult:
    """Validate a table of patients and derive the brief's columns for the valid rows.

    ``first_row`` numbers the rows when a large file is processed in chunks.
    """
    raw = _renumbered(raw)
    report = validate_table(raw)
    valid = report.valid
    kept = np.flatnonzero(valid)
    triaged = _renumbered(raw.take(kept))
    derived = derive_columns(_renumbered(report.typed.take(kept)))
    for name in derived.columns:
        triaged[name] = derived[name].array
    triaged["warnings"] = _warnings_text(report, len(raw))[kept]
    reasons = report.reasons_by_row()
    rejected = _renumbered(raw.take(np.flatnonzero(~valid)))
    rejected.insert(0, "row", reasons.index.to_numpy() + first_row - 1)
    rejected["errors"] = reasons.to_numpy()
    return TriageResult(triaged, rejected, report)


def _renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """Index 0..n-1 without copying the data (reset_index copies every column)."""
    if not (
        isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1
    ):
        frame = frame.set_axis(pd.RangeIndex(len(frame)), axis=0, copy=False)
    return frame


def _warnings_text(report: TableReport, n_rows: int) -> np.ndarray:
    text = np.full(n_rows, "", dtype=object)
    reasons = report.reasons_by_row(report.warnings)
    text[reasons.index.to_numpy(dtype=int) - 1] = reasons.to_numpy()
    return text
