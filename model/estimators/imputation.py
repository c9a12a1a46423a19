"""Multiple imputation of unknown inputs from the training cohort (nearest donors).

A patient's unknown inputs (BRIEF "Unknown inputs") are never replaced by a fixed value:
each parameter draw gets the values of one of the patient's nearest training patients on
the inputs that are known, so predictions average over the distribution of the unknown
inputs given the known ones, and the intervals widen by as much as the unknown inputs
matter. Deterministic: the same patient always gets the same donors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from model.contract.columns import COLUMNS, UNKNOWABLE_COLUMNS

# single precision halves the memory traffic of the distances; ties are broken the same
# way for a row whatever else is in the batch
DISTANCE_DTYPE = np.float32
NEAREST_BLOCK_ROWS = 16  # distance rows per block: two 16 x 5000 buffers stay in cache
HISTOLOGY_MISMATCH = 4.0  # a different subtype is as far as two SDs on four inputs
IMPUTED_INPUTS = UNKNOWABLE_COLUMNS
NUMERIC = tuple(
    s.name for s in COLUMNS if s.kind in ("float", "int", "bool") and s.name != "months_since_tki"
)


@dataclass(frozen=True)
class DonorImputer:
    """Complete training patients whose inputs fill the gaps of incomplete ones."""

    donors: dict[str, np.ndarray]
    scale: dict[str, float]

    @classmethod
    def from_typed(
        cls, typed: pd.DataFrame, rng: np.random.Generator, max_donors: int
    ) -> DonorImputer:
        """Keep up to ``max_donors`` complete rows of a typed (validated) training table."""
        complete = typed[list(NUMERIC)].notna().all(axis=1).to_numpy()
        rows = np.flatnonzero(complete)
        if rows.size == 0:
            never = [n for n in NUMERIC if typed[n].isna().all()]
            raise ValueError(
                "no complete training row to impute unknown inputs from"
                + (f": no row records {', '.join(never)} (the models use it)" if never else "")
            )
        rows = np.sort(rng.choice(rows, size=min(max_donors, rows.size), replace=False))
        donors = {name: typed[name].to_numpy(dtype=float)[rows] for name in NUMERIC}
        donors["histology"] = typed["histology"].to_numpy(dtype=object)[rows]
        scale = {name: float(np.std(donors[name])) or 1.0 for name in NUMERIC}
        return cls(donors, scale)

    def impute(self, values: Mapping, rows: np.ndarray, n_imputations: int) -> dict:
        """Completed inputs for ``rows`` of ``values``: every column as an array of
        n_imputations * len(rows) values, imputation-major (reshape to (D, n))."""
        n = len(rows)
        out = {
            name: np.tile(_as_array(values, name)[rows], (n_imputations, 1))
            for name in values.keys()
        }
        missing = {
            name: np.isnan(_as_array(values, name)[rows].astype(float))
            for name in IMPUTED_INPUTS
            if name in values
        }
        patterns = np.stack([missing[c] for c in missing], axis=1) if missing else np.zeros((n, 0))
        for pattern in np.unique(patterns, axis=0):
            members = np.flatnonzero((patterns == pattern).all(axis=1))
            unknown = [c for c, flag in zip(missing, pattern, strict=True) if flag]
            if not unknown:
                continue
            nearest = self._nearest(values, rows[members], unknown, n_imputations)
            for name in unknown:
                out[name][:, members] = self.donors[name][nearest].T
        return {name: array.reshape(-1) for name, array in out.items()}

    def _nearest(self, values: Mapping, rows: np.ndarray, unknown: list[str], k: int) -> np.ndarray:
        """(len(rows), k) donor indices, nearest first, on the known inputs.

        The squared standardised distances are summed element by element (in blocks of
        rows, into reused buffers): a row's donors never depend on the other rows of the
        batch, as they could through a matrix product's rounding."""
        known = [name for name in NUMERIC if name not in unknown]
        x = (
            np.column_stack(
                [_as_array(values, name)[rows].astype(float) / self.scale[name] for name in known]
            ).astype(DISTANCE_DTYPE)
            if known
            else np.zeros((len(rows), 0), dtype=DISTANCE_DTYPE)
        )
        donors = self._standardised
        names, _ = self._histology_codes
        histology = _as_array(values, "histology")[rows].astype(str)
        codes = np.where(
            np.isin(histology, names), np.searchsorted(names, histology).clip(0, len(names) - 1), -1
        )
        n_donors = len(self.donors["histology"])
        k = min(k, n_donors)
        nearest = np.empty((len(rows), k), dtype=np.intp)
        block = max(1, min(len(rows), NEAREST_BLOCK_ROWS))
        distance = np.empty((block, n_donors), dtype=DISTANCE_DTYPE)
        step = np.empty((block, n_donors), dtype=DISTANCE_DTYPE)
        for start in range(0, len(rows), block):
            size = min(block, len(rows) - start)
            dist, diff = distance[:size], step[:size]
            dist.fill(0.0)
            for j, name in enumerate(known):
                np.subtract(x[start : start + size, j, None], donors[name][None, :], out=diff)
                np.multiply(diff, diff, out=diff)
                dist += diff
            mismatch = codes[start : start + size, None] != self._histology_codes[1][None, :]
            dist += np.where(mismatch, DISTANCE_DTYPE(HISTOLOGY_MISMATCH), DISTANCE_DTYPE(0.0))
            chosen = np.argpartition(dist, k - 1, axis=1)[:, :k]
            order = np.argsort(np.take_along_axis(dist, chosen, axis=1), axis=1, kind="stable")
            nearest[start : start + size] = np.take_along_axis(chosen, order, axis=1)
        return nearest

    @cached_property
    def _histology_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """The donors' subtypes as small integers (comparing strings costs more than the
        distances): the sorted names and each donor's index among them."""
        names, codes = np.unique(self.donors["histology"].astype(str), return_inverse=True)
        return names, codes

    @cached_property
    def _standardised(self) -> dict[str, np.ndarray]:
        return {
            name: (self.donors[name] / self.scale[name]).astype(DISTANCE_DTYPE) for name in NUMERIC
        }


def _as_array(values: Mapping, name: str) -> np.ndarray:
    column = values[name]
    if hasattr(column, "to_numpy"):
        return column.to_numpy()
    return np.asarray(column)


def has_unknown(values: Mapping, n: int) -> np.ndarray:
    """Rows with at least one unknown input the models read (NaN in an imputed column)."""
    unknown = np.zeros(n, dtype=bool)
    for name in IMPUTED_INPUTS:
        if name in values:
            unknown |= np.isnan(np.asarray(values[name], dtype=float))
    return unknown
