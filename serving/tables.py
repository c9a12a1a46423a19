"""Reading and writing patient tables (CSV or Parquet, by extension) in chunks; a folder
is read as a FHIR Bulk Data export (``serving.fhir_bulk``: one row per Patient).

CSV cells are read as text so that validation sees exactly what the file holds and the
output repeats every input cell unchanged; a FHIR export gives the same text cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.contract.errors import ContractError

CHUNK_ROWS = 250_000
FORMATS = (".csv", ".parquet")
FHIR_FOLDER = "fhir"  # a folder: a FHIR Bulk Data export


def table_format(path: Path) -> str:
    if path.is_dir():
        return FHIR_FOLDER
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ContractError(
            f"{path}: unsupported file type {suffix!r}; use .csv or .parquet "
            "(or, to read, a FHIR Bulk Data export folder)",
            column=None,
            value=str(path),
            rule="file type",
        )
    return suffix


def count_rows(path: Path) -> int | None:
    """Rows in a table, cheaply (Parquet metadata); None for CSV or a FHIR export (not
    worth a pass)."""
    if table_format(path) == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    return None


def read_chunks(
    path: Path, chunk_rows: int = CHUNK_ROWS, reference_date: date | None = None
) -> Iterator[pd.DataFrame]:
    """The table in order, ``chunk_rows`` at a time (a FHIR export in one chunk, its
    values as of ``reference_date``, default today)."""
    if not path.exists():
        raise ContractError(f"{path}: no such file", value=str(path), rule="file exists")
    kind = table_format(path)
    if kind == FHIR_FOLDER:
        from serving.fhir_bulk import read_bulk_export

        yield read_bulk_export(path, reference_date)
        return
    if kind == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()
        return
    reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_rows)
    yield from reader


def read_table(path: Path, reference_date: date | None = None) -> pd.DataFrame:
    """The whole table (CSV, Parquet, or a FHIR Bulk Data export folder)."""
    chunks = list(read_chunks(path, reference_date=reference_date))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


def prefetch(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Read the next chunk on a thread while the caller works on this one (Arrow decodes
    without the GIL, so reading and validating overlap on two cores)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk


class TableWriter:
    """Appends frames to one CSV or Parquet file, on a background thread so that encoding
    overlaps the next chunk's work; writes nothing until the first frame."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = table_format(path)
        if self.format not in FORMATS:
            raise ContractError(
                f"{path}: write a .csv or .parquet file, not a folder",
                value=str(path),
                rule="file type",
            )
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._started = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write")
        self._pending: Future | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        self._wait()
        self.rows += len(frame)
        self._pending = self._pool.submit(self._write, frame)

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()  # re-raises a failed write here
            self._pending = None

    def _write(self, frame: pd.DataFrame) -> None:
        if self.format == ".csv":
            frame.to_csv(
                self.path, mode="a" if self._started else "w", header=not self._started, index=False
            )
        else:
            table = self._to_arrow(frame)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table)
        self._started = True

    def _to_arrow(self, frame: pd.DataFrame) -> pa.Table:
        if self._schema is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            # plain text in the file (not dictionaries), and a column that is empty in the
            # first chunk must still take text later on
            fields = [
                pa.field(f.name, pa.string())
                if pa.types.is_null(f.type) or pa.types.is_dictionary(f.type)
                else f
                for f in table.schema
            ]
            self._schema = pa.schema(fields)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return table.cast(self._schema) if table.schema != self._schema else table

    def close(self, empty_columns: list[str] | None = None) -> None:
        """Finish the file; an empty result still gets its header."""
        self._wait()
        if not self._started:
            self._write(pd.DataFrame({c: pd.Series(dtype=object) for c in empty_columns or []}))
        if self._parquet is not None:
            self._parquet.close()
        self._pool.shutdown()
