"""Batch scoring on Spark: the registered pyfunc as ``mlflow.pyfunc.spark_udf`` over
Parquet, giving what ``il2select predict`` gives on the same rows — the same columns and
numbers, the same bad rows with the same reasons under the same 1-based row numbers.

Spark keeps no row order, so every row gets its ``row`` key as it is read (files in name
order, rows in file order: the numbering of ``predict --errors``) and both outputs are
written sorted by it. The pyfunc validates each Arrow batch as ``predict`` validates its
table, so a bad row comes back with its reasons in ``errors``, never as a failed job.

``score_parquet`` takes any session: the command's own, spark-submit's, or a Databricks
cluster's (a notebook or Python task calls it with ``spark``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import mlflow
from mlflow.models import get_model_info
from mlflow.types import DataType, Schema
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from model.contract.columns import REQUIRED_COLUMNS
from model.contract.errors import ContractError, MissingColumnError

ROW = "row"
ERRORS = "errors"
SHOWN_BAD_ROWS = 50
# rows per Arrow batch, one pyfunc call each: in process the pyfunc's rows/s is flat from
# 10,000 rows a call (2,000: -30 %) and a batch's memory grows with its size
ARROW_BATCH_ROWS = 10_000
# rows a task scores at most: each task loads the model once (~1.5 s), a failed one is
# scored again whole
ROWS_PER_TASK = 500_000
_FILE, _INDEX, _OFFSET, _SCORED = "_il2_file", "_il2_index", "_il2_offset", "_il2_scored"
_WHOLE = (DataType.long, DataType.integer)
_NUMBER = (DataType.double, DataType.float, *_WHOLE)
# what the signature's input types accept from a Parquet column without changing what
# validation sees (a number stays the same number; text stays text)
_CASTS = {
    DataType.double: (T.DoubleType(), (T.NumericType, T.BooleanType, T.NullType)),
    DataType.boolean: (T.BooleanType(), (T.BooleanType, T.NullType)),
    DataType.string: (T.StringType(), (T.StringType, T.NumericType, T.BooleanType, T.NullType)),
}
# MLflow turns the struct's text fields to str: a missing value arrives as this text
_MISSING_TEXT = ("None", "nan")


@dataclass(frozen=True)
class Scored:
    """What a run did: rows read, rows predicted (written), bad rows, and the first bad
    rows as (row, reasons) when they were not written (no errors path: nothing written)."""

    rows: int
    predicted: int
    bad: int
    shown: list[tuple[int, str]]


def score_parquet(
    spark: SparkSession,
    source: str,
    target: str,
    model_uri: str,
    errors_target: str | None = None,
) -> Scored:
    """Score the Parquet at ``source`` with the pyfunc at ``model_uri`` and write the
    predictions of the valid rows to ``target`` (Parquet, sorted by ``row``); bad rows go
    to ``errors_target`` (``row``, the input columns, ``errors``). Without
    ``errors_target`` a table with bad rows writes nothing, as ``predict`` does.

    Raises
    ------
    MissingColumnError
        when a required column is absent.
    ContractError
        when a column's type cannot be given to the model unchanged.
    """
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_ROWS))
    spark.conf.set("spark.sql.debug.maxToStringFields", "500")  # plans of ~170 columns
    frame = spark.read.parquet(source)
    check_columns(frame)
    signature = get_model_info(model_uri).signature
    keyed, total = with_row_key(spark, frame)
    with _quiet("mlflow.pyfunc"):  # its advice to use conda: the model's code is not in
        # its logged requirements, so only this environment (env_manager local) can load it
        predict = mlflow.pyfunc.spark_udf(
            spark, model_uri, result_type=result_struct(signature.outputs), env_manager="local"
        )
    scored = keyed.withColumn(_SCORED, predict(udf_input(keyed, signature.inputs)))
    # the pyfunc runs once a row: its results are kept for the counts and both outputs, on
    # local disk (streamed: a cache in memory of 500,000 scored rows overflows the heap)
    scored = scored.persist(StorageLevel.DISK_ONLY)
    try:
        bad = scored.where(_field(ERRORS) != "")
        n_bad = bad.count()
        if n_bad and errors_target is None:
            first = bad.select(ROW, _field(ERRORS)).orderBy(ROW).limit(SHOWN_BAD_ROWS)
            return Scored(total, 0, n_bad, [(r[0], r[1]) for r in first.collect()])
        valid = scored.where(_field(ERRORS) == "")
        predicted = valid.select(output_columns(frame, signature.outputs))
        predicted.sortWithinPartitions(ROW).write.mode("overwrite").parquet(target)
        if errors_target is not None:
            rejected = bad.select(ROW, *map(_column, frame.columns), _field(ERRORS).alias(ERRORS))
            rejected.sortWithinPartitions(ROW).write.mode("overwrite").parquet(errors_target)
    finally:
        scored.unpersist(blocking=True)  # before the session stops
    return Scored(total, total - n_bad, n_bad, [])


def check_columns(frame: DataFrame) -> None:
    """The file-level checks ``predict`` makes first: every required column present; and
    no input column named ``row``, the key this command adds."""
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise MissingColumnError(missing)
    if ROW in frame.columns:
        raise ContractError(
            f"the input has a column named {ROW!r}, the row key score-spark adds: rename it",
            column=ROW,
            rule="reserved column",
        )


def with_row_key(spark: SparkSession, frame: DataFrame) -> tuple[DataFrame, int]:
    """``frame`` with ``row`` = 1 + its place in the files taken in name order (Parquet's
    own row index within a file, plus the rows of the files before it), in partitions of
    consecutive rows spread evenly over the cores; and the number of rows. Partition ``i``
    is written as part ``i``, so the outputs need sorting within partitions only."""
    located = frame.select(
        "*",
        F.col("_metadata.file_path").alias(_FILE),
        F.col("_metadata.row_index").alias(_INDEX),
    )
    offsets, total = [], 0
    for path, rows in sorted(located.groupBy(_FILE).count().collect()):
        offsets.append((path, total))
        total += rows
    starts = spark.createDataFrame(offsets, f"{_FILE} string, {_OFFSET} long")
    keyed = located.join(F.broadcast(starts), _FILE).select(
        (F.col(_OFFSET) + F.col(_INDEX) + 1).alias(ROW), *map(_column, frame.columns)
    )
    return keyed.repartitionByRange(_partitions(spark, total), ROW), total


def _partitions(spark: SparkSession, rows: int) -> int:
    """Every core an equal share of the rows, in tasks of at most ``ROWS_PER_TASK``. The
    input's own partitions say nothing of where its rows are: Spark splits a file by
    bytes, and a 1,000,000-row file of one row group is one full split and empty ones."""
    try:
        cores = spark.sparkContext.defaultParallelism
    except Exception:  # noqa: BLE001  (Spark Connect has no SparkContext)
        cores = int(spark.conf.get("spark.default.parallelism", "8"))
    return cores * max(1, -(-rows // (cores * ROWS_PER_TASK)))


def udf_input(frame: DataFrame, inputs: Schema) -> Column:
    """The model's input columns present in ``frame``, as one struct, each cast to its
    signature type (MLflow refuses, say, an int64 column where the signature says double).
    A column that cannot be cast unchanged (numbers written as text) is refused whole:
    ``predict`` reads such text cell by cell, the pyfunc's signature cannot."""
    fields = []
    for spec in inputs.inputs:
        if spec.name not in frame.columns:
            continue  # an optional input left out: unknown for every row, as in predict
        wanted, accepted = _CASTS[spec.type]
        found = frame.schema[spec.name].dataType
        if not isinstance(found, accepted):
            raise ContractError(
                f"column {spec.name} holds {found.simpleString()}; the model takes "
                f"{wanted.simpleString()} (write numbers as numbers and flags as booleans, "
                "or use `il2select predict`, which also reads them as text)",
                column=spec.name,
                value=found.simpleString(),
                rule="column type",
            )
        fields.append(_column(spec.name).cast(wanted).alias(spec.name))
    return F.struct(*fields)


def result_struct(outputs: Schema) -> T.StructType:
    """The pyfunc's output columns as the UDF's struct. Whole numbers and flags come back
    as double and are cast back in ``output_columns``: MLflow casts each struct field with
    numpy per batch, which fails on a bad row's empty prediction or an unknown count."""
    return T.StructType([T.StructField(s.name, _result_type(s.type)) for s in outputs.inputs])


def _result_type(kind) -> T.DataType:
    return T.DoubleType() if kind in _NUMBER or kind == DataType.boolean else T.StringType()


def output_columns(frame: DataFrame, outputs: Schema) -> list[Column]:
    """``row``, then ``predict``'s columns in its order: whole numbers as long, flags as
    boolean, missing text as null, ``patient_id`` as the input holds it (``predict``
    passes it through)."""
    columns = [F.col(ROW)]
    for spec in outputs.inputs:
        if spec.name == ERRORS:
            continue
        value = _field(spec.name)
        if spec.name == "patient_id":
            present = spec.name in frame.columns
            value = _column(spec.name) if present else F.lit(None).cast(T.StringType())
        elif spec.type in _WHOLE:
            value = value.cast(T.LongType())
        elif spec.type == DataType.boolean:
            value = value.cast(T.BooleanType())
        elif _result_type(spec.type) == T.StringType():
            value = F.when(value.isin(*_MISSING_TEXT), F.lit(None)).otherwise(value)
        columns.append(value.alias(spec.name))
    return columns


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _column(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _field(name: str) -> Column:
    return F.col(_SCORED).getField(name)
