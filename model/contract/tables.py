"""Validation of whole tables against the data contract in ``model.contract.columns``.

``validate_table`` parses the cells (CSV text or typed Parquet columns), checks every
column rule with a pandera schema generated from the same column specs the API's
``Patient`` comes from, applies the cross-column rules, and reports every broken rule
by row number (1 = the first patient), column, value and rule. Nothing is dropped: a
caller splits valid from bad rows with ``report.valid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from model.contract.columns import COLUMNS, REQUIRED_COLUMNS
from model.contract.crossfield import CROSS_RULES, CROSS_WARNINGS, CrossRule
from model.contract.errors import MissingColumnError
from model.contract.specs import ColumnSpec

ISSUE_COLUMNS = ["row", "column", "value", "rule"]
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_EMPTY_MESSAGE = "must not be empty (only the inputs the brief lists may be unknown)"


@dataclass(frozen=True)
class TableReport:
    """What validation found. ``typed`` holds every contract column as numbers (bools as
    1.0/0.0, unknown as NaN) or text, in the input's row order."""

    typed: pd.DataFrame
    errors: pd.DataFrame
    warnings: pd.DataFrame

    @property
    def valid(self) -> np.ndarray:
        bad = np.zeros(len(self.typed), dtype=bool)
        bad[self.errors["row"].to_numpy(dtype=int) - 1] = True
        return ~bad

    def reasons_by_row(self, issues: pd.DataFrame | None = None) -> pd.Series:
        """One text per row that has issues: 'column=value: rule; …', indexed by row."""
        issues = self.errors if issues is None else issues
        if issues.empty:
            return pd.Series(dtype=object)
        text = issues["column"] + "=" + issues["value"].map(_show) + ": " + issues["rule"]
        rows = issues["row"]
        several = rows.duplicated(keep=False).to_numpy()
        # most bad rows break one rule: join only where a row has several
        joined = text[several].groupby(rows[several], sort=False).agg("; ".join)
        single = pd.Series(text[~several].to_numpy(), index=rows[~several].to_numpy())
        return pd.concat([single, joined]).sort_index()


def validate_table(raw: pd.DataFrame, outcomes: tuple[ColumnSpec, ...] = ()) -> TableReport:
    """Check a table of patients against the contract (and, for training data, the
    observed outcome columns ``outcomes``, all required but those that may be unknown).

    Raises
    ------
    MissingColumnError
        when a required column is absent (a file-level error naming the column).
    """
    specs = COLUMNS + outcomes
    required = REQUIRED_COLUMNS + tuple(s.name for s in outcomes if not s.may_be_unknown)
    missing = [name for name in required if name not in raw.columns]
    if missing:
        raise MissingColumnError(missing)
    if not (isinstance(raw.index, pd.RangeIndex) and raw.index.start == 0):
        raw = raw.reset_index(drop=True)
    typed = {}
    issues = []
    for spec in specs:
        if spec.name not in raw.columns:
            typed[spec.name] = _absent(spec, len(raw))
            continue
        typed[spec.name], parse_issues = _parse_column(spec, raw[spec.name])
        issues.append(parse_issues)
    typed_frame = pd.DataFrame(typed, copy=False)  # no block consolidation: a copy per chunk
    unreadable = _concat(issues)
    issues.append(_drop_seen(_schema_issues(typed_frame, raw, specs), unreadable))
    issues.extend(_cross_issues(typed_frame, raw, rule) for rule in CROSS_RULES)
    warnings = [_cross_issues(typed_frame, raw, rule) for rule in CROSS_WARNINGS]
    return TableReport(typed_frame, _concat(issues), _concat(warnings))


def _drop_seen(issues: pd.DataFrame, seen: pd.DataFrame) -> pd.DataFrame:
    """A cell that could not be read is reported once, not again as empty."""
    if seen.empty or issues.empty:
        return issues
    seen_keys = set(zip(seen["row"], seen["column"], strict=True))
    keep = [key not in seen_keys for key in zip(issues["row"], issues["column"], strict=True)]
    return issues[keep]


def _absent(spec: ColumnSpec, n_rows: int) -> np.ndarray:
    return np.full(
        n_rows,
        None if spec.kind in ("text", "choice") else np.nan,
        dtype=object if spec.kind in ("text", "choice") else float,
    )


def _parse_column(spec: ColumnSpec, column: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """Cells to numbers (bools as 1/0); cells that cannot be read become issues."""
    if spec.kind == "text":
        return column, _empty_issues()  # passed through, never interpreted
    if spec.kind == "choice":
        # strip each distinct value once: a clinic list has few distinct labels
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        labels = np.array([_clean_label(u) for u in uniques] + [None], dtype=object)
        return pd.Series(labels[codes]), _empty_issues()
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        if spec.kind == "bool":
            unreadable = ~np.isnan(values) & ~np.isin(values, (0.0, 1.0))
            values = np.where(unreadable, np.nan, values)
            return pd.Series(values), _issues_at(
                unreadable, spec.name, column, "must be true or false"
            )
        return pd.Series(values), _empty_issues()
    text = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    empty = (text == "").to_numpy()
    if spec.kind == "bool":
        lowered = text.str.lower()
        values = np.where(lowered.isin(_TRUE), 1.0, np.where(lowered.isin(_FALSE), 0.0, np.nan))
        rule = "must be true or false (true/false/True/False/1/0)"
    else:
        values = pd.to_numeric(text.where(~empty, None), errors="coerce").to_numpy(dtype=float)
        rule = "must be a number (leave the cell empty when unknown)"
    unreadable = np.isnan(values) & ~empty
    return pd.Series(values), _issues_at(unreadable, spec.name, column, rule)


def _clean_label(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _issues_at(mask: np.ndarray, name: str, column: pd.Series, rule: str) -> pd.DataFrame:
    rows = np.flatnonzero(mask)
    return pd.DataFrame(
        {
            "row": rows + 1,
            "column": name,
            "value": column.to_numpy(dtype=object)[rows],
            "rule": rule,
        }
    )


def _empty_issues() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=int if c == "row" else object) for c in ISSUE_COLUMNS})


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty_issues()
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["row"], kind="stable").reset_index(drop=True)


@lru_cache(maxsize=4)
def table_schema(specs: tuple[ColumnSpec, ...] = COLUMNS) -> pa.DataFrameSchema:
    """The pandera schema of a parsed table, generated from the column specs."""
    return pa.DataFrameSchema(
        {
            spec.name: pa.Column(
                checks=_checks(spec),
                nullable=spec.may_be_unknown,
                required=False,
                description=spec.meaning,
            )
            for spec in specs
        },
        strict=False,
    )


def _checks(spec: ColumnSpec) -> list[pa.Check]:
    if spec.kind == "choice":
        allowed = ", ".join(spec.choices)
        return [pa.Check.isin(spec.choices, error=f"must be one of {allowed}")]
    return [
        pa.Check(
            lambda s, rule=rule: pd.Series(
                rule.holds(s.to_numpy()) | s.isna().to_numpy(), index=s.index
            ),
            ignore_na=False,
            error=rule.message,
            name=rule.name,
        )
        for rule in spec.rules
    ]


def _schema_issues(
    typed: pd.DataFrame, raw: pd.DataFrame, specs: tuple[ColumnSpec, ...]
) -> pd.DataFrame:
    try:
        table_schema(specs).validate(typed, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        names = {spec.name: spec for spec in specs}
        cases = cases[cases["index"].notna() & cases["column"].isin(names)]
        rows = cases["index"].to_numpy(dtype=int)
        rules = [
            _EMPTY_MESSAGE if check == "not_nullable" else _check_message(names[column], check)
            for column, check in zip(cases["column"], cases["check"], strict=True)
        ]
        values = [raw[c].iat[r] for c, r in zip(cases["column"], rows, strict=True)]
        return pd.DataFrame(
            {"row": rows + 1, "column": cases["column"].to_numpy(), "value": values, "rule": rules}
        )
    return _empty_issues()


def _check_message(spec: ColumnSpec, check: str) -> str:
    # pandera reports a failed check by its error text (or its name when it has none)
    return {c.error: c.error for c in _checks(spec)}.get(check, check)


def _cross_issues(typed: pd.DataFrame, raw: pd.DataFrame, rule: CrossRule) -> pd.DataFrame:
    rows = np.flatnonzero(rule.breaks(typed))
    if rows.size == 0:
        return _empty_issues()
    first, others = rule.columns[0], [c for c in rule.columns[1:] if c in raw.columns]
    values = raw[first].to_numpy(dtype=object)[rows] if first in raw.columns else [None] * rows.size
    context = raw.loc[rows, others].astype(object)
    rules = [f"{rule.message} ({_pairs(others, vals)})" for vals in context.itertuples(index=False)]
    return pd.DataFrame({"row": rows + 1, "column": first, "value": values, "rule": rules})


def _pairs(columns: list[str], values: tuple) -> str:
    return ", ".join(f"{c}={_show(v)}" for c, v in zip(columns, values, strict=True))


def _show(value: object) -> str:
    """A cell as an error message names it: a missing one (None, NaN, pandas' NA of a
    nullable column, NaT) as "(empty)", never as "<NA>"."""
    if value is None or (not isinstance(value, list | tuple | np.ndarray) and pd.isna(value)):
        return "(empty)"
    return str(value)
