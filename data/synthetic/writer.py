"""Stream a synthetic cohort to Parquet or CSV block by block, in bounded memory.

Blocks are generated ahead by a small thread pool (numpy releases the GIL in its
kernels) but written strictly in order, so the file is the same whatever the number of
workers; each Parquet row group is one block.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data.synthetic.cohort import BLOCK_SIZE, simulate_block
from data.synthetic.params import Parameters, load_parameters
from data.synthetic.targets import DEFAULT_ERA


def generate_blocks(
    n: int,
    seed: int,
    params: Parameters | None = None,
    observed: bool = False,
    workers: int = 2,
    convert: Callable[[pd.DataFrame], object] | None = None,
    era: str = DEFAULT_ERA,
) -> Iterator:
    """The cohort's blocks in order, at most ``workers + 1`` generated ahead; ``convert``
    (e.g. to an Arrow table) runs in the worker thread too."""
    params = load_parameters() if params is None else params
    n_blocks = -(-n // BLOCK_SIZE)

    def make(block: int):
        size = min(BLOCK_SIZE, n - block * BLOCK_SIZE)
        frame = simulate_block(seed, block, size, params, observed, era)
        return frame if convert is None else convert(frame)

    if workers <= 1:
        yield from (make(b) for b in range(n_blocks))
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        next_block = 0
        while next_block < n_blocks or pending:
            while next_block < n_blocks and len(pending) <= workers:
                pending.append(pool.submit(make, next_block))
                next_block += 1
            yield pending.popleft().result()


def _arrow_table(block: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(block, preserve_index=False)


def _arrow_schema(table: pa.Table) -> pa.Schema:
    """Schema of the first block, with all-empty text columns typed as strings."""
    schema = table.schema
    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def write_cohort(
    path: str | Path,
    n: int,
    seed: int,
    params: Parameters | None = None,
    observed: bool = False,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
    era: str = DEFAULT_ERA,
) -> Path:
    """Write ``n`` patients of ``seed`` to ``path`` (.parquet or .csv).

    Parameters
    ----------
    path : str or Path
        output file; the suffix picks the format.
    n, seed : int
        cohort size and seed (same seed, same bytes).
    params : Parameters, optional
        default: the committed ``params.yaml``.
    observed : bool
        write the observed view instead of the full cohort.
    workers : int
        blocks generated concurrently.
    progress : callable, optional
        called with the number of rows written after each block.
    era : str
        treatment era of the outcomes: ``targeted`` (default) or ``cytokine``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"unsupported output format {suffix!r}: use .parquet or .csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer, schema = None, None
    convert = _arrow_table if suffix == ".parquet" else None
    try:
        for i, block in enumerate(
            generate_blocks(n, seed, params, observed, workers, convert, era)
        ):
            if suffix == ".csv":
                block.to_csv(path, mode="w" if i == 0 else "a", header=i == 0, index=False)
            else:
                if writer is None:
                    schema = _arrow_schema(block)
                    writer = pq.ParquetWriter(path, schema, compression="snappy")
                if not block.schema.equals(schema):
                    block = block.cast(schema)
                writer.write_table(block, row_group_size=BLOCK_SIZE)
            if progress is not None:
                progress(block.num_rows if suffix == ".parquet" else len(block))
    finally:
        if writer is not None:
            writer.close()
    return path


def read_cohort(path: str | Path) -> pd.DataFrame:
    """Read a cohort written by ``write_cohort`` (Parquet or CSV)."""
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, keep_default_na=True)
