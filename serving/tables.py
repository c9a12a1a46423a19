"""Reading and writing patient tables (CSV or Parquet, by extension) in chunks.

CSV cells are read as text so that validation sees exactly what the file holds and the
output repeats every input cell unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.exceptions import ContractError

CHUNK_ROWS = 250_000
FORMATS = (".csv", ".parquet")


def table_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ContractError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet",
                            column=None, value=str(path), rule="file type")
    return suffix


def count_rows(path: Path) -> int | None:
    """Rows in a table, cheaply (Parquet metadata); None for CSV (not worth a pass)."""
    if table_format(path) == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    return None


def read_chunks(path: Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The table in order, ``chunk_rows`` at a time."""
    if not path.exists():
        raise ContractError(f"{path}: no such file", value=str(path), rule="file exists")
    if table_format(path) == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_rows)
    yield from reader


def read_table(path: Path) -> pd.DataFrame:
    chunks = list(read_chunks(path))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


class TableWriter:
    """Appends frames to one CSV or Parquet file; writes nothing until the first frame."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = table_format(path)
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._started = False
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.format == ".csv":
            frame.to_csv(self.path, mode="a" if self._started else "w",
                         header=not self._started, index=False)
        else:
            table = self._to_arrow(frame)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table)
        self._started = True
        self.rows += len(frame)

    def _to_arrow(self, frame: pd.DataFrame) -> pa.Table:
        if self._schema is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            # a column that is empty in the first chunk must still take text later on
            fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                      for f in table.schema]
            self._schema = pa.schema(fields)
        return pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)

    def close(self, empty_columns: list[str] | None = None) -> None:
        """Finish the file; an empty result still gets its header."""
        if not self._started:
            self.write(pd.DataFrame({c: pd.Series(dtype=object) for c in empty_columns or []}))
        if self._parquet is not None:
            self._parquet.close()
