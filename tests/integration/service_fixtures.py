"""Service test set-up: a champion in a temporary MLflow registry, and a real server.

The champion is a real model: ``training.train_and_register`` on a small synthetic cohort,
registered as ``il2select@champion`` in a SQLite tracking store under a temporary folder.
Everything that needs a champion goes through the fixture ``champion_tracking_uri``.
Nothing under ``serving/`` imports this module.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
CHAMPION_TRAIN_N = 6000
CHAMPION_HOLDOUT_N = 10_000


@pytest.fixture(scope="session")
def champion_tracking_uri(tmp_path_factory) -> str:
    """An MLflow tracking URI whose registry holds a real ``il2select@champion``, trained
    here on a small synthetic cohort (or a store given by IL2SELECT_TEST_TRACKING_URI)."""
    if os.environ.get("IL2SELECT_TEST_TRACKING_URI"):  # a store that already has a champion
        return os.environ["IL2SELECT_TEST_TRACKING_URI"]
    return train_champion(tmp_path_factory.mktemp("mlflow"))


def train_champion(folder: Path) -> str:
    """Train, register and promote a real champion in a store under ``folder``; its URI."""
    from model.settings import Settings
    from training.train import train_and_register

    settings = Settings(project_dir=folder, mlflow_tracking_uri=None)  # the embedded store
    result = train_and_register(
        settings, n=CHAMPION_TRAIN_N, seed=1, holdout_n=CHAMPION_HOLDOUT_N, log=lambda _: None
    )
    assert result.passed, result.reasons
    return settings.tracking_uri


_SERVERS: dict[str, Server] = {}


@pytest.fixture(scope="session")
def service(champion_tracking_uri, tmp_path_factory) -> Server:
    """One real server for the whole session, however many modules ask for it."""
    if "main" not in _SERVERS:
        _SERVERS["main"] = start_server(champion_tracking_uri, tmp_path_factory.mktemp("service"))
    yield _SERVERS["main"]
    if "main" in _SERVERS:
        _SERVERS.pop("main").kill(signal.SIGTERM)


def clinic_patients() -> list[dict]:
    """The sample clinic list as API request bodies."""
    from serving.patients import patients_from_table

    raw = pd.read_csv(
        REPO / "data/synthetic/samples/clinic_list.csv", dtype=str, keep_default_na=False
    )
    return patients_from_table(raw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A real ``il2select serve`` subprocess on loopback."""

    url: str
    token: str
    process: subprocess.Popen
    audit_db: Path
    log_path: Path
    env: dict = field(default_factory=dict)

    def client(self, token: str | None = "", **kwargs) -> httpx.Client:
        token = self.token if token == "" else token
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, **{"timeout": 60, **kwargs})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the server and every process it started (circus puts each worker in a
        session of its own, so a process-group kill would miss them)."""
        import psutil

        try:
            family = [psutil.Process(self.process.pid)]
            family += family[0].children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        for member in family:
            try:
                member.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=30)
        self.process.wait(timeout=30)


def printed_token(log: str) -> str:
    """The token ``serve`` printed once (the line after its announcement)."""
    import re

    return re.search(r"created a bearer token.*?\n([A-Za-z0-9_-]{40,})\n", log, re.S).group(1)


def start_server(
    tracking_uri: str,
    folder: Path,
    *,
    token: str | None = "test-token-0123456789",
    extra_env: dict | None = None,
    timeout_s: float = 60.0,
) -> Server:
    """Start ``il2select serve`` on a free loopback port and wait for ``/readyz``."""
    from serving.auth import hash_token

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    tokens_file = folder / "tokens"
    if token is not None:  # None: let `serve` create one and print it
        tokens_file.write_text(f"tester:{hash_token(token)}\n")
    audit_db = folder / "audit.db"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "IL2SELECT_AUDIT_DB": str(audit_db),
        "IL2SELECT_TOKENS": "",
        "BENTOML_HOME": str(folder / "bentoml"),
        **(extra_env or {}),
    }
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "il2select",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--tokens-file",
                str(tokens_file),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", token, process, audit_db, log_path, env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited {process.returncode}:\n{server.log()[-4000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                if token is None:
                    server.token = printed_token(server.log())
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"server not ready in {timeout_s} s:\n{server.log()[-4000:]}")
