"""Triage along the Manchester pathway: the clinical rules only, no model.

The CLI (``il2select triage``) and the REST endpoint (``POST /triage``) both call
``triage_frame``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from model.contract import TableReport, validate_table
from model.rules import derive_columns


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
    raw = raw.reset_index(drop=True)
    report = validate_table(raw)
    valid = report.valid
    derived = derive_columns(report.typed[valid].reset_index(drop=True))
    warnings = report.reasons_by_row(report.warnings).reindex(
        pd.RangeIndex(1, len(raw) + 1), fill_value="")
    derived["warnings"] = warnings.to_numpy()[valid]
    triaged = pd.concat([raw[valid].reset_index(drop=True), derived], axis=1)
    reasons = report.reasons_by_row()
    rejected = raw[~valid].copy()
    rejected.insert(0, "row", reasons.index.to_numpy() + first_row - 1)
    rejected["errors"] = reasons.to_numpy()
    return TriageResult(triaged, rejected.reset_index(drop=True), report)
