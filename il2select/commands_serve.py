"""``il2select serve``: make sure a champion this code can load exists (train one on the
embedded defaults if there is none), make sure a token exists, then run ``bentoml serve``
with the settings resolved here passed in its environment, in a BentoML home of its own
(its ``/metrics`` directory), removed when it stops."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

import serving
from model.settings import Settings, get_settings
from serving.auth import create_token, is_loopback, load_tokens
from serving.listener import SERVE_COMMAND, PortInUse, check_port_free

EXIT_REFUSED = 2
EXIT_NO_CHAMPION = 3
EXIT_INCOMPATIBLE = 4
EXIT_AUDIT = 5
HOME_PREFIX = "il2select-serve-"  # + the serving process id: see run_instance
SOURCE_DIR = Path(serving.__file__).resolve().parents[1]  # where BentoML imports the service
err = Console(stderr=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            "--tokens-file",
            help="Hashed tokens, one 'token_id:sha256hex' a line "
            "(default .il2select/tokens in the project folder).",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (at most one per core).")] = 1,
    train_n: Annotated[
        int, typer.Option(help="Cohort size if a champion must be trained.")
    ] = 20_000,
    train_seed: Annotated[int, typer.Option(help="Seed if a champion must be trained.")] = 1,
    train: Annotated[
        bool,
        typer.Option("--train/--no-train", help="Train a champion when the registry has none."),
    ] = True,
) -> None:
    """Serve the REST API and the tumour-board page (http://HOST:PORT/). Trains and
    registers a champion first when the MLflow registry has none. Refuses a non-loopback
    address without configured tokens; on loopback with none, creates one and prints it
    once (only its hash is stored)."""
    settings = get_settings()
    if tokens_file is not None:
        settings = settings.model_copy(update={"tokens_file": tokens_file.resolve()})
    host = listen_address(host)  # what BentoML takes: an IP address
    _ensure_port_free(host, port)  # before training: a busy port is known at once
    _ensure_audit(settings)
    _ensure_token(settings, host)
    _ensure_champion(settings, train, train_n, train_seed)
    err.print(f"serving on {base_url(host, port)}", highlight=False)
    sys.stderr.flush()
    command = [
        *SERVE_COMMAND,
        "--host",
        host,
        "--port",
        str(port),
        "--working-dir",
        str(SOURCE_DIR),
    ]
    raise typer.Exit(run_instance(command, service_environment(settings, workers)))


def run_instance(command: list[str], env: dict[str, str]) -> int:
    """Run the server with a BentoML home of its own, removed when it stops: BentoML keeps
    its Prometheus multiprocess directory there and empties it at every start, so two
    servers sharing one home leave the first one's ``/metrics`` blind. SIGTERM and SIGINT
    are passed on; the server's exit code is returned."""
    _remove_orphaned_homes()
    home = tempfile.mkdtemp(prefix=f"{HOME_PREFIX}{os.getpid()}-")
    process = subprocess.Popen(command, env={**env, "BENTOML_HOME": home})

    def forward(signum, _frame):
        process.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(home, ignore_errors=True)


def _remove_orphaned_homes() -> None:
    """The homes of instances that were killed (``kill -9`` leaves no time to clean up):
    each is named after its server's process id; one whose process is gone is removed."""
    for path in Path(tempfile.gettempdir()).glob(f"{HOME_PREFIX}*-*"):
        pid = path.name.removeprefix(HOME_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _ensure_port_free(host: str, port: int) -> None:
    """Workers listen with ``SO_REUSEPORT`` (``serving/listener.py``), which would let a
    second server share a port silently: a port in use is a clear exit 2."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    try:
        check_port_free(host, port, family)
    except PortInUse as exc:
        err.print(f"[red]cannot serve:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_REFUSED) from None


def listen_address(host: str) -> str:
    """``host`` as the IP address BentoML listens on: a name is resolved (``localhost`` is
    127.0.0.1), an address kept; a name that does not resolve is a clear exit 2."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host == "localhost":
        return "127.0.0.1"
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0]
    except (socket.gaierror, UnicodeError) as exc:
        err.print(f"[red]cannot listen on {host}:[/red] the name does not resolve ({exc})")
        raise typer.Exit(EXIT_REFUSED) from None


def base_url(address: str, port: int) -> str:
    """The service's URL: an IPv6 address in brackets (``http://[::1]:3000/``)."""
    if ipaddress.ip_address(address).version == 6:
        return f"http://[{address}]:{port}/"
    return f"http://{address}:{port}/"


def service_environment(settings: Settings, workers: int = 1) -> dict[str, str]:
    """The worker's environment: this process's, with every setting ``serve`` resolved made
    explicit (BentoML changes directory to the source tree, so nothing may stay relative)."""
    env = {
        **os.environ,
        "IL2SELECT_PROJECT_DIR": str(settings.project_dir),
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "IL2SELECT_TOKENS_FILE": str(settings.tokens_path),
        "IL2SELECT_AUDIT_DB": str(settings.audit_path),
    }
    if settings.audit_url:
        env["IL2SELECT_AUDIT_URL"] = settings.audit_url
    if settings.cds_issuers:  # each JWK Set's path made absolute, like the others
        issuers = {issuer: str(path) for issuer, path in settings.cds_issuers.items()}
        env["IL2SELECT_CDS_ISSUERS"] = json.dumps(issuers)
    if workers != 1:
        options = env.get("BENTOML_CONFIG_OPTIONS", "")
        env["BENTOML_CONFIG_OPTIONS"] = f"{options} services.il2select.workers={workers}".strip()
    return env


def _ensure_audit(settings: Settings) -> None:
    """An audit log the server can write, or a clear exit before it starts (a worker that
    cannot open it would be restarted without end while the port stays open)."""
    from serving.audit import AuditUnavailable, audit_store, check_writable

    try:
        check_writable(
            audit_store(settings.audit_url, settings.audit_path, settings.audit_synchronous)
        )
    except AuditUnavailable as exc:
        err.print(f"[red]cannot serve:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_AUDIT) from None


def _ensure_token(settings: Settings, host: str) -> None:
    if load_tokens(settings.tokens, settings.tokens_path):
        return
    if not is_loopback(host):
        err.print(
            f"[red]refusing to serve on {host}:[/red] no bearer tokens configured "
            "(set IL2SELECT_TOKENS or --tokens-file)",
            highlight=False,
        )
        raise typer.Exit(EXIT_REFUSED)
    token = create_token(settings.tokens_path)
    err.print(
        f"created a bearer token (shown once; only its hash is kept, in {settings.tokens_path}):",
        soft_wrap=True,
        highlight=False,
    )
    print(token, flush=True)


def _ensure_champion(settings: Settings, train: bool, n: int, seed: int) -> None:
    """A champion this code can load, or a clear exit: trains one when there is none."""
    from model.recommend.pyfunc import IncompatibleModel, NoChampion, find_version

    try:
        find_version(settings.tracking_uri, settings.model_name, settings.champion_alias)
        return
    except IncompatibleModel as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INCOMPATIBLE) from None
    except NoChampion as exc:
        if not train:
            err.print(f"[red]error:[/red] {exc} (and --no-train)", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_NO_CHAMPION) from None
    _train_champion(settings, n, seed)


def _train_champion(settings: Settings, n: int, seed: int) -> None:
    """Train, register and gate a model on the embedded synthetic defaults."""
    from training.train import train_and_register  # only when there is no champion

    err.print(
        f"no {settings.champion_uri} in {settings.tracking_uri}: training one on the embedded "
        f"defaults (n={n:,}, seed={seed})",
        highlight=False,
    )
    result = train_and_register(
        settings, n=n, seed=seed, log=lambda line: err.print(line, highlight=False)
    )
    if not result.passed:
        err.print(
            f"[red]version {result.version} failed the promotion gate[/red] (now "
            f"@{result.alias}); there is no {settings.champion_uri} to serve",
            highlight=False,
        )
        raise typer.Exit(EXIT_NO_CHAMPION)
    err.print(f"registered version {result.version} as @{result.alias}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command(
        help="Serve the REST API and the tumour-board page (trains a champion first if none "
        "exists)."
    )(serve)
