"""What ``score-spark`` checks before it starts Spark (no JVM here): the input exists and is
Parquet, the output replaces nothing but an earlier Spark output, Java is there."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from il2select import spark_session
from model.contract.errors import ContractError


@pytest.fixture
def parquet(tmp_path) -> Path:
    path = tmp_path / "patients.parquet"
    pd.DataFrame({"age_years": [50.0]}).to_parquet(path)
    return path


def test_a_parquet_file_or_a_folder_of_parts_is_taken(parquet, tmp_path):
    spark_session.check_input(str(parquet))
    folder = tmp_path / "parts"
    (folder / "year=2015").mkdir(parents=True)
    (folder / "year=2015" / "part-0.parquet").write_bytes(parquet.read_bytes())
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-0.parquet.crc").write_text("not parquet, and not read by Spark")
    spark_session.check_input(str(folder))
    spark_session.check_input(folder.as_uri())  # file:///…
    spark_session.check_input("s3a://bucket/patients/")  # only Spark can check it


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.parquet", "no such file or folder"),
        (lambda d: d / "empty", "no Parquet files"),
        (lambda d: d / "clinic.csv", "not a Parquet file"),
    ],
)
def test_a_missing_or_wrong_input_is_named(make, message, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "clinic.csv").write_text("age_years\n50\n")
    path = make(tmp_path)
    with pytest.raises(ContractError, match=message) as raised:
        spark_session.check_input(str(path))
    assert str(path) in str(raised.value)


def test_only_an_earlier_spark_output_is_replaced(parquet, tmp_path):
    spark_session.check_output(str(tmp_path / "new"), str(parquet))
    (tmp_path / "empty").mkdir()
    spark_session.check_output(str(tmp_path / "empty"), str(parquet))
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "_SUCCESS").write_text("")
    spark_session.check_output(str(earlier), str(parquet))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    for kept in (tmp_path / "notes", parquet):
        with pytest.raises(ContractError, match="not an earlier Spark output|input too"):
            spark_session.check_output(str(kept), str(tmp_path / "other.parquet"))
    with pytest.raises(ContractError, match="input too"):
        spark_session.check_output(str(parquet), str(parquet))


def test_no_java_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(spark_session.NoJava, match="JAVA_HOME=.*no-jdk has no bin/java"):
        spark_session.check_java()
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(spark_session.NoJava, match="no `java` on PATH"):
        spark_session.check_java()
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40000")  # spark-submit started the JVM
    spark_session.check_java()


def test_a_path_without_a_scheme_is_local_only_where_spark_runs_here(monkeypatch, tmp_path):
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert spark_session.local_files(None) and spark_session.local_files("local[2]")
    assert not spark_session.local_files("spark://master:7077")  # its default file system
    missing = str(tmp_path / "on-hdfs")
    spark_session.check_input(missing, local=False)  # left to Spark
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "40000")
    assert not spark_session.local_files(None)
