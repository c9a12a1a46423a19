"""``il2select score-spark``: ``predict``'s answers for Parquet tables too large for one
process, scored by the registered pyfunc as a Spark UDF (``il2select.spark_scoring``)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from il2select.commands_models import EXIT_BAD_INPUT
from model.contract.errors import ContractError
from model.settings import get_settings

err = Console(stderr=True)
EXIT_BAD_ROWS = 1
EXIT_SPARK_FAILED = 3  # no Java, or a Spark job that failed


def score_spark(
    input_path: Annotated[
        str,
        typer.Option(
            "--in",
            help="Patients: a Parquet file or a folder of Parquet parts (a local path or "
            "any URI the Spark cluster reads: s3a://, abfss://, dbfs:/, hdfs://).",
        ),
    ],
    output_path: Annotated[
        str,
        typer.Option(
            "--out",
            help="Predictions: a Parquet folder (Spark's parts), sorted by `row`; replaced "
            "if it is an earlier Spark output.",
        ),
    ],
    model_uri: Annotated[str | None, typer.Option(help="Default: the @champion.")] = None,
    master: Annotated[
        str | None,
        typer.Option(help="Spark master. Default local[*]; under spark-submit, its own."),
    ] = None,
    errors_path: Annotated[
        str | None,
        typer.Option(
            "--errors",
            help="Write bad rows here (Parquet: row, the input columns, errors) and predict "
            "the rest. Without it, any bad row: the first 50 are printed, nothing is "
            "written, exit 1 (as `predict`).",
        ),
    ] = None,
    conf: Annotated[
        list[str] | None,
        typer.Option(
            help="KEY=VALUE: a Spark setting (repeat); locally spark.driver.memory=4g unless set."
        ),
    ] = None,
) -> None:
    """Predictions for a Parquet table on Spark, the registered model as a Spark UDF.

    Per row what `il2select predict` gives (the same columns, numbers within 1e-9, the same
    bad rows under the same row numbers), plus the 1-based input `row`. Exit 1 when any row
    is bad, 2 for bad input or no model, 3 when Spark cannot run (no Java) or fails."""
    from il2select import spark_session

    settings = get_settings()
    try:
        _check_paths(input_path, output_path, errors_path, master)
        spark_conf = dict(_pair(item) for item in conf or [])
    except ContractError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    try:
        spark_session.check_java()
    except spark_session.NoJava as exc:
        _fail(str(exc), EXIT_SPARK_FAILED)
    uri = _resolved(model_uri or settings.champion_uri, settings.tracking_uri)
    _run(input_path, output_path, uri, errors_path, master, spark_conf)


def _check_paths(source: str, target: str, errors_target: str | None, master) -> None:
    """What can be told before Spark starts: a local input that is missing or not Parquet,
    an output that would replace the input or something that is not a Spark output."""
    from il2select import spark_session

    if errors_target is not None and errors_target == target:
        raise ContractError(f"--errors {errors_target}: the same path as --out")
    local = spark_session.local_files(master)
    spark_session.check_input(source, local)
    for written in (target, errors_target):
        if written is not None:
            spark_session.check_output(written, source, local)


def _run(source, target, uri, errors_target, master, conf) -> None:
    """Start (or join) the session, score, report; stop a session this command started."""
    from py4j.protocol import Py4JError
    from pyspark.errors import AnalysisException, PySparkException

    from il2select.spark_scoring import score_parquet
    from il2select.spark_session import start_session

    began = time.perf_counter()
    err.print(f"scoring {source} with {uri} on Spark …", highlight=False)
    try:
        spark, owned = start_session(master, conf)
    except PySparkException as exc:
        _fail(f"Spark did not start: {_last_line(exc)}", EXIT_SPARK_FAILED)
    try:
        shown = f"Spark {spark.version}, master {spark.conf.get('spark.master')}"
        err.print(shown, highlight=False)
        scored = score_parquet(spark, source, target, uri, errors_target)
    except (ContractError, AnalysisException) as exc:  # a missing or unreadable input
        _fail(_last_line(exc), EXIT_BAD_INPUT)
    except (PySparkException, Py4JError) as exc:  # Py4JError: the JVM itself failed
        _fail(f"Spark failed: {_last_line(exc)} (its log above)", EXIT_SPARK_FAILED)
    finally:
        if owned:
            _stop(spark)
    _report(scored, target, time.perf_counter() - began)


def _stop(spark) -> None:
    try:
        spark.stop()
    except Exception:  # noqa: BLE001  (a JVM that died, of memory say, is stopped already)
        pass


def _report(scored, target: str, seconds: float) -> None:
    """``predict``'s lines: the first bad rows when nothing was written, else the summary."""
    if scored.shown:
        for row, text in scored.shown:
            err.print(f"row {row}: {text}", highlight=False, soft_wrap=True)
        err.print(f"[red]{scored.bad} bad row(s); nothing written.[/red] Use --errors PATH.")
        raise typer.Exit(EXIT_BAD_ROWS)
    err.print(
        f"{scored.rows} rows in: {scored.predicted} predicted to {target}, {scored.bad} bad "
        f"({seconds:.1f} s)",
        highlight=False,
    )
    if scored.bad:
        raise typer.Exit(EXIT_BAD_ROWS)


def _resolved(uri: str, tracking_uri: str) -> str:
    """A registry alias pinned to its version (``models:/il2select/7``), so that a
    promotion during the run cannot mix two models; checked as ``predict`` checks it."""
    from model.recommend.pyfunc import (
        IncompatibleModel,
        NoChampion,
        find_version,
        load_recommender,
    )

    try:
        if uri.startswith("models:/") and not uri.startswith("models:/m-"):
            name, _, version = uri.removeprefix("models:/").partition("/")
            name, _, alias = name.partition("@")
            return find_version(tracking_uri, name, alias or None, version or None).uri
        load_recommender(uri, tracking_uri)  # any other URI: loads here, or a clear error
        return uri
    except (NoChampion, IncompatibleModel) as exc:
        _fail(str(exc), EXIT_BAD_INPUT)


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ContractError(f"--conf {item!r}: expected KEY=VALUE", value=item)
    return key.strip(), value


def _last_line(exc: Exception) -> str:
    """A Spark error's last meaningful line (a Python worker's error is at the end of its
    traceback; the JVM's stack trace follows its message)."""
    text = str(exc).split("\n\tat ")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _fail(message: str, code: int):
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code) from None


def register(app: typer.Typer) -> None:
    app.command(
        name="score-spark",
        help="Predictions for a Parquet table on Spark (the registered model as a Spark UDF): "
        "per row what `il2select predict` gives, plus the input's 1-based `row`. Exit 1: bad "
        "rows; 2: bad input or no model; 3: no Java, or Spark failed.",
    )(score_spark)
