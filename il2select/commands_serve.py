"""``il2select serve``: make sure a champion exists (train one on the embedded defaults if
not), make sure a token exists, then hand over to ``bentoml serve``."""

from __future__ import annotations

import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from serving.auth import create_token, is_loopback, load_tokens
from serving.settings import PROJECT_DIR, get_settings

EXIT_REFUSED = 2
EXIT_NO_CHAMPION = 3
err = Console(stderr=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            "--tokens-file",
            help="Hashed tokens, one 'token_id:sha256hex' a line (default .il2select/tokens).",
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
    if tokens_file is not None:
        os.environ["IL2SELECT_TOKENS_FILE"] = str(tokens_file.resolve())
    get_settings.cache_clear()
    settings = get_settings()
    if not load_tokens(settings.tokens, settings.tokens_file):
        if not is_loopback(host):
            err.print(
                f"[red]refusing to serve on {host}:[/red] no bearer tokens configured "
                "(set IL2SELECT_TOKENS or --tokens-file)",
                highlight=False,
            )
            raise typer.Exit(EXIT_REFUSED)
        token = create_token(settings.tokens_file)
        err.print(
            f"created a bearer token (shown once; only its hash is kept, in "
            f"{settings.tokens_file}):",
            soft_wrap=True,
            highlight=False,
        )
        print(token, flush=True)
    if not _has_champion(settings.tracking_uri, settings.model_name, settings.model_alias):
        if not train:
            err.print(
                f"[red]no model {settings.model_name}@{settings.model_alias}[/red] in the "
                f"MLflow registry at {settings.tracking_uri} (and --no-train)",
                highlight=False,
            )
            raise typer.Exit(EXIT_NO_CHAMPION)
        _train_champion(
            settings.tracking_uri, settings.model_name, settings.model_alias, train_n, train_seed
        )
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    os.environ["IL2SELECT_TOKENS_FILE"] = str(settings.tokens_file)
    if workers != 1:
        os.environ["BENTOML_CONFIG_OPTIONS"] = (
            os.environ.get("BENTOML_CONFIG_OPTIONS", "") + f" services.il2select.workers={workers}"
        ).strip()
    err.print(f"serving on http://{host}:{port}/", highlight=False)
    sys.stderr.flush()
    os.execv(
        sys.executable,
        [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            "serving.service:IL2Select",
            "--host",
            host,
            "--port",
            str(port),
            "--working-dir",
            str(PROJECT_DIR),
        ],
    )


def _has_champion(tracking_uri: str, name: str, alias: str) -> bool:
    """Whether the registry holds ``name@alias``. A SQLite store is read directly: importing
    mlflow here would add seconds to every start."""
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri.removeprefix("sqlite:///"))
        if not path.exists():
            return False
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                return (
                    db.execute(
                        "SELECT 1 FROM registered_model_aliases WHERE name = ? AND alias = ?",
                        (name, alias),
                    ).fetchone()
                    is not None
                )
        except sqlite3.Error:
            pass  # not an MLflow schema we know: ask MLflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient(
            tracking_uri=tracking_uri, registry_uri=tracking_uri
        ).get_model_version_by_alias(name, alias)
    except MlflowException:
        return False
    return True


def _train_champion(tracking_uri: str, name: str, alias: str, n: int, seed: int) -> None:
    """Train, register and gate a model on the embedded synthetic defaults (issue 4)."""
    err.print(
        f"no {name}@{alias} in {tracking_uri}: training one on the embedded defaults "
        f"(n={n:,}, seed={seed})",
        highlight=False,
    )
    from model.settings import get_settings as get_model_settings
    from training.train import train_and_register  # lazy: only when there is no champion

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    get_model_settings.cache_clear()
    result = train_and_register(
        get_model_settings(), n=n, seed=seed, log=lambda line: err.print(line, highlight=False)
    )
    if not _has_champion(tracking_uri, name, alias):
        err.print(
            f"[red]version {result.version} failed the promotion gate[/red] (now "
            f"@{result.alias}); there is no {name}@{alias} to serve",
            highlight=False,
        )
        raise typer.Exit(EXIT_NO_CHAMPION)
    err.print(f"registered {name} version {result.version} as @{result.alias}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command(
        help="Serve the REST API and the tumour-board page (trains a champion first "
        "if none exists)."
    )(serve)
