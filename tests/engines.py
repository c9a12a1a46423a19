"""Real engines on loopback, started and stopped by the tests and the benchmarks: a
throwaway PostgreSQL cluster (Debian's ``postgresql``: ``initdb`` in a temporary folder), a
``moto`` S3 server, and an ``mlflow server`` on both. Nothing here is mocked: each is the
program a deployment runs, on a free port, with its log in the folder it was given.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PG_USER = "il2select"
S3_KEYS = {  # moto accepts any key; these are what the tests hand every process
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(program: str) -> str:
    """A PostgreSQL server program (Debian keeps them off PATH, under its version)."""
    found = shutil.which(program) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"), reverse=True)), None
    )
    if found is None:
        raise RuntimeError(
            f"{program} not found: install Debian's postgresql (./scripts/test.sh does)"
        )
    return found


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def wait_http(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


@dataclass
class PostgreSQL:
    """A cluster of its own in a new temporary folder on a free loopback port (trust
    authentication for the ``il2select`` role, as on a developer's laptop; fsync on, as in
    production). The folder is directly under the system's temporary folder: as root, the
    server runs as ``postgres``, which must reach it (pytest's folders are root's alone)."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="il2select-pg-")))
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        return f"{driver}://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        done = subprocess.run(_as_server_user(list(command)), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr}")

    def initialise(self) -> PostgreSQL:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        try:
            self._run(pg_bin("initdb"), "-D", str(self.data), "-U", PG_USER, "-A", "trust",
                      "-E", "UTF8", "--no-sync")  # fmt: skip
            return self.start()
        except BaseException:  # nothing left behind: no server, no folder
            self.remove()
            raise

    def start(self) -> PostgreSQL:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.folder / "server.log"), "-w", "start")  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new empty database; its ``postgresql://`` URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@dataclass
class Launched:
    """A server process started here, with its log file (``stop`` kills what is left)."""

    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _launch(command: list[str], folder: Path, name: str, env: dict[str, str]) -> tuple:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    return process, log


def start_moto(folder: Path, bucket: str = "il2select") -> Launched:
    """An S3-compatible server (moto) on loopback, with ``bucket`` created in it."""
    import boto3

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process, log = _launch(command, folder, "moto", {**os.environ, **S3_KEYS})
    launched = Launched(url, process, log)
    try:
        wait_http(f"{url}/moto-api/", 30, process)
        boto3.client("s3", endpoint_url=url, **_boto_keys()).create_bucket(Bucket=bucket)
    except BaseException:
        launched.stop()
        raise
    return launched


def _boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_KEYS["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_KEYS["AWS_DEFAULT_REGION"],
    }


def start_mlflow_server(folder: Path, backend_uri: str, artifacts: str, s3_url: str) -> Launched:
    """``mlflow server`` with its backend store at ``backend_uri`` and artifacts proxied to
    ``artifacts`` (``s3://…`` on the S3 server at ``s3_url``); clients need only its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    command = [mlflow, "server", "--backend-store-uri", backend_uri,
               "--artifacts-destination", artifacts, "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]  # fmt: skip
    env = {
        **os.environ,
        **S3_KEYS,
        "MLFLOW_S3_ENDPOINT_URL": s3_url,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    process, log = _launch(command, folder, "mlflow-server", env)
    launched = Launched(url, process, log)
    try:
        wait_http(f"{url}/health", 90, process)
    except BaseException:
        launched.stop()
        raise
    return launched
