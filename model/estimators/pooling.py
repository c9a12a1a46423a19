"""The imputations a point estimate averages, folded to each patient's distinct predictor
rows.

Unknown inputs reach the predictors only through thresholds and counts (CAIX above 85 %,
the MSKCC factor count, …), so a patient's imputations give a handful of distinct predictor
rows: point estimates, medians and curves are computed once per distinct row and averaged
with the share of imputations that gave it — the same average, a fraction of the work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

DENSE_SHARES = 4096  # shares (n, U) kept dense up to this many entries


@dataclass(frozen=True)
class PooledDesign:
    """Distinct predictor rows ``design`` (U, p), the patient each belongs to (``owner``),
    and ``shares`` (n, U): the fraction of the patient's imputations that gave the row
    (None when every patient is one row: complete inputs)."""

    design: np.ndarray
    owner: np.ndarray
    shares: sparse.csr_matrix | np.ndarray | None

    @classmethod
    def of(cls, design: np.ndarray) -> PooledDesign:
        """From a design (n, p) of complete patients or (K, n, p): K imputations each."""
        if design.ndim == 2:
            return cls(design, np.arange(design.shape[0]), None)
        k, n, p = design.shape
        patient_major = design.transpose(1, 0, 2).reshape(n * k, p)
        keys = np.column_stack([np.repeat(np.arange(n, dtype=float), k), patient_major])
        # rows compared as raw bytes: several times faster than np.unique(axis=0)
        as_bytes = keys.view(np.dtype((np.void, keys.dtype.itemsize * keys.shape[1])))[:, 0]
        _, first, counts = np.unique(as_bytes, return_index=True, return_counts=True)
        distinct = keys[first]
        owner = distinct[:, 0].astype(np.intp)
        shares = sparse.csr_matrix(
            (counts / k, (owner, np.arange(len(distinct)))), shape=(n, len(distinct))
        )
        if n * len(distinct) <= DENSE_SHARES:  # a few patients: a dense product is quicker
            shares = shares.toarray()
        return cls(np.ascontiguousarray(distinct[:, 1:]), owner, shares)

    @classmethod
    def joined(cls, parts: list[tuple[np.ndarray, PooledDesign]], n: int) -> PooledDesign:
        """Several groups of patients' pooled rows as one batch of ``n``: each part is the
        batch rows its patients hold and their ``PooledDesign``."""
        owners, rows, columns, shares, offset = [], [], [], [], 0
        for at, part in parts:
            size = len(part.design)
            owners.append(at[part.owner])
            if part.shares is None:  # one row a patient, its whole share
                found = sparse.coo_matrix((np.ones(size), (np.arange(size), np.arange(size))))
            else:
                found = sparse.coo_matrix(part.shares)
            rows.append(at[found.row])
            columns.append(offset + found.col)
            shares.append(found.data)
            offset += size
        joined = sparse.csr_matrix(
            (np.concatenate(shares), (np.concatenate(rows), np.concatenate(columns))),
            shape=(n, offset),
        )
        design = np.concatenate([part.design for _, part in parts])
        # kept sparse: a dense product would carry one row's overflow (0 * inf = NaN) into
        # every patient of the batch, the complete ones included
        return cls(design, np.concatenate(owners), joined)

    def pool(self, values: np.ndarray) -> np.ndarray:
        """Per-patient averages (n, ...) of per-row values (U, ...)."""
        return values if self.shares is None else self.shares @ values

    def rows_of(self, months: np.ndarray) -> np.ndarray:
        """Months given per patient (n, T) repeated for each of its rows (U, T)."""
        months = np.asarray(months, dtype=float)
        return months[self.owner] if months.ndim == 2 and self.shares is not None else months
