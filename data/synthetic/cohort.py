"""Synthetic cohorts in fixed-size blocks, each seeded from (seed, block index).

Block ``b`` of seed ``s`` holds patients ``b * BLOCK_SIZE`` … and depends on nothing
else, so the first rows of a long stream equal a shorter cohort of the same seed, and a
block can be generated anywhere (another process, another machine) identically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from data.synthetic.observed import observed_view
from data.synthetic.outcomes import N_UNIFORMS, simulate_outcomes
from data.synthetic.params import Parameters, load_parameters
from data.synthetic.patient_features import simulate_features
from data.synthetic.targets import DEFAULT_ERA
from model.rules.derive import derive_columns

BLOCK_SIZE = 50_000


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The generator of one block: a SeedSequence of (seed, block index)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(block)]))


def simulate_block(
    seed: int,
    block: int,
    n: int,
    params: Parameters,
    observed: bool = False,
    era: str = DEFAULT_ERA,
    il2_cr_scale: float = 1.0,
) -> pd.DataFrame:
    """The first ``n`` (≤ BLOCK_SIZE) patients of block ``block`` of ``seed``.

    Every draw of the block happens whatever ``n`` is, so a truncated block is a prefix
    of the full one.
    """
    rng = block_rng(seed, block)
    cohort = _case_mix_block(rng, seed, block, n, params)
    uniforms = rng.random((N_UNIFORMS, BLOCK_SIZE))[:, :n]
    u_choice = rng.random((2, BLOCK_SIZE))[:, :n]
    outcomes = simulate_outcomes(cohort, np.clip(uniforms, 1e-300, None), params, era, il2_cr_scale)
    full = pd.concat([cohort, outcomes], axis=1, copy=False)
    return observed_view(full, u_choice, params) if observed else full


def _case_mix_block(
    rng: np.random.Generator, seed: int, block: int, n: int, params: Parameters
) -> pd.DataFrame:
    """Features (a full block drawn, the first ``n`` kept) and their derived columns."""
    features = simulate_features(rng, BLOCK_SIZE, params)
    if n < BLOCK_SIZE:
        features = features.iloc[:n].copy()
    start = block * BLOCK_SIZE
    features.insert(0, "patient_id", _patient_ids(seed, start, n))
    features.index = pd.RangeIndex(start, start + n)
    return pd.concat([features, derived_columns(features)], axis=1, copy=False)


def simulate_case_mix(n: int, seed: int, params: Parameters | None = None) -> pd.DataFrame:
    """Features and derived columns only (the rows ``simulate_cohort`` would give)."""
    params = load_parameters() if params is None else params
    return pd.concat(
        [
            _case_mix_block(
                block_rng(seed, b), seed, b, min(BLOCK_SIZE, n - b * BLOCK_SIZE), params
            )
            for b in range(-(-n // BLOCK_SIZE))
        ]
    )


def iter_cohort_blocks(
    n: int,
    seed: int,
    params: Parameters | None = None,
    observed: bool = False,
    era: str = DEFAULT_ERA,
    il2_cr_scale: float = 1.0,
) -> Iterator[pd.DataFrame]:
    """Yield the cohort of ``n`` patients block by block (bounded memory)."""
    params = load_parameters() if params is None else params
    for block in range(-(-n // BLOCK_SIZE)):
        size = min(BLOCK_SIZE, n - block * BLOCK_SIZE)
        yield simulate_block(seed, block, size, params, observed, era, il2_cr_scale)


def simulate_cohort(
    n: int,
    seed: int,
    params: Parameters | None = None,
    observed: bool = False,
    era: str = DEFAULT_ERA,
    il2_cr_scale: float = 1.0,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """A synthetic cohort of ``n`` referred mRCC patients.

    Parameters
    ----------
    n : int
        number of patients.
    seed : int
        the same seed gives the same rows, byte for byte.
    params : Parameters, optional
        default: the committed ``params.yaml``.
    observed : bool
        one treatment per patient with only its outcomes (``observed_view``).
    era : str
        treatment era, ``targeted`` (default: TKIs after progression) or ``cytokine``
        (the historical series); the case mix does not depend on it.
    il2_cr_scale : float
        multiplies IL-2 complete-response probabilities (mutation tests only).
    progress : callable, optional
        called with the number of rows after each block.
    """
    blocks = []
    for block in iter_cohort_blocks(n, seed, params, observed, era, il2_cr_scale):
        blocks.append(block)
        if progress is not None:
            progress(len(block))
    return pd.concat(blocks) if len(blocks) != 1 else blocks[0]


def derived_columns(features: pd.DataFrame) -> pd.DataFrame:
    """``model.rules.derive_columns`` with text columns as plain strings, so that blocks
    concatenate and a cohort's dtypes never depend on how many blocks it spans."""
    derived = derive_columns(features)
    for name in derived.columns:
        if isinstance(derived[name].dtype, pd.CategoricalDtype):
            derived[name] = derived[name].astype(object)
    return derived


def _patient_ids(seed: int, start: int, n: int) -> np.ndarray:
    numbers = np.arange(start, start + n).astype(str)
    return np.char.add(f"S{seed}-", np.char.zfill(numbers, 9)).astype(object)
