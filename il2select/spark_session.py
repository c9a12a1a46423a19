"""Where ``score-spark`` runs: the Spark session, and the checks made before Spark starts.

Spark takes ~15 s to start and answers a missing file or a missing Java with a JVM stack
trace, so what can be checked here is checked first, and reported in one line: Java,
a local input that does not exist or is not Parquet, an output that would overwrite
something that is not an earlier Spark output.

Three ways in, one session each: the command on its own starts a session (``--master``,
default ``local[*]``) whose Python workers run this interpreter with its venv's ``bin/``
first on PATH, and stops it at the end; under ``spark-submit`` the session spark-submit
configured is used and stopped; on Databricks the cluster's session is used and left
running (a Databricks job must not stop it).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

from model.contract.errors import ContractError

LOCAL_MASTER = "local[*]"
# the JVM of a local session is driver and executor at once: Spark's 1g default is too
# small for 500,000-row tasks of ~120 output columns (sorting, Arrow buffers)
LOCAL_DRIVER_MEMORY = "4g"
PARQUET_MAGIC = b"PAR1"
APP_NAME = "il2select score-spark"


class NoJava(RuntimeError):
    """No Java runtime to start Spark with."""

    def __init__(self) -> None:
        home = os.environ.get("JAVA_HOME")
        where = f"JAVA_HOME={home} has no bin/java" if home else "no `java` on PATH"
        super().__init__(
            f"Spark needs a Java 17 or 21 runtime and found none ({where}): install one "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )


def under_spark_submit() -> bool:
    """spark-submit started the JVM and hands its port to this Python process."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def on_databricks() -> bool:
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def check_java() -> None:
    """Raise ``NoJava`` when this process would have to start a JVM and cannot."""
    if under_spark_submit() or on_databricks():
        return
    home = os.environ.get("JAVA_HOME")
    found = (Path(home) / "bin" / "java").exists() if home else shutil.which("java")
    if not found:
        raise NoJava()


def local_files(master: str | None) -> bool:
    """Whether a path without a scheme names a local file: when this command starts Spark
    in local mode; under spark-submit, on Databricks or on a cluster master it names a
    file of the cluster's default file system (HDFS, DBFS), which only Spark can check."""
    started_here = not (under_spark_submit() or on_databricks())
    return started_here and (master is None or master.startswith("local"))


def local_path(location: str, local: bool = True) -> Path | None:
    """The local file a location names, or None for another file system's URI
    (``s3a://``, ``abfss://``, ``dbfs:/``, ``hdfs://``) and, unless ``local``, for a path
    without a scheme."""
    scheme = urlparse(location).scheme
    if scheme == "file":
        return Path(urlparse(location).path)
    return Path(location) if local and len(scheme) <= 1 else None  # "C:": a drive


def check_input(location: str, local: bool = True) -> None:
    """A local input exists and is Parquet: one file, or a folder of Parquet parts (the
    files Spark reads: not those whose names start with ``_`` or ``.``)."""
    path = local_path(location, local)
    if path is None:
        return
    if not path.exists():
        raise ContractError(f"{location}: no such file or folder", value=location)
    if path.is_dir():
        parts = [
            p
            for p in sorted(path.rglob("*"))
            if p.is_file() and not any(s.startswith(("_", ".")) for s in p.relative_to(path).parts)
        ]
        if not parts:
            raise ContractError(f"{location}: a folder with no Parquet files", value=location)
    else:
        parts = [path]
    for part in parts:
        with open(part, "rb") as file:
            if file.read(4) != PARQUET_MAGIC:
                raise ContractError(
                    f"{part}: not a Parquet file (score-spark reads Parquet; "
                    "`il2select predict` reads CSV too)",
                    value=str(part),
                    rule="file type",
                )


def check_output(location: str, source: str, local: bool = True) -> None:
    """Writing replaces ``location`` (Spark's overwrite mode): allowed for nothing, an
    empty folder or an earlier Spark output (``_SUCCESS``), never for the input or any
    other file or folder."""
    path, input_path = local_path(location, local), local_path(source, local)
    if location == source or (path and input_path and path.resolve() == input_path.resolve()):
        raise ContractError(f"{location}: is the input too; choose another path", value=location)
    if path is None or not path.exists():
        return
    if path.is_dir() and (not any(path.iterdir()) or (path / "_SUCCESS").exists()):
        return
    raise ContractError(
        f"{location}: exists and is not an earlier Spark output (no _SUCCESS); remove it or "
        "choose another path",
        value=location,
    )


def start_session(master: str | None, conf: dict[str, str]):
    """The session to score with, and whether to stop it at the end (not on Databricks)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(APP_NAME)
    if not (under_spark_submit() or on_databricks()):
        # the Python workers Spark forks inherit this environment: the venv's interpreter,
        # and its bin/ first on PATH for anything the model's code starts by name
        venv_bin = str(Path(sys.executable).parent)
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PATH"] = os.pathsep.join([venv_bin, os.environ.get("PATH", "")])
        builder = builder.master(master or LOCAL_MASTER)
        builder = builder.config("spark.pyspark.python", sys.executable)
        builder = builder.config("spark.driver.memory", LOCAL_DRIVER_MEMORY)
    elif master:
        builder = builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate(), not on_databricks()
