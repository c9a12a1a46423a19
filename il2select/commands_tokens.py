"""``il2select token add|list|revoke``: bearer tokens in the project's tokens file, stored
as hashes only. A running service sees every change at its next request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from model.settings import get_settings
from serving.auth import TokenConfigError, create_token, listed_tokens, revoke_token

err = Console(stderr=True)
tokens_app = typer.Typer(help="Bearer tokens of the service (stored as SHA-256 hashes).")
TokensFile = Annotated[
    Path | None,
    typer.Option(
        "--tokens-file", help="Hashed tokens file (default .il2select/tokens in the project)."
    ),
]


def _path(tokens_file: Path | None) -> Path:
    return tokens_file.resolve() if tokens_file else get_settings().tokens_path


@tokens_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Who holds it (goes into the audit log).")],
    tokens_file: TokensFile = None,
) -> None:
    """Create a token for NAME: printed once on standard output; only its hash is kept."""
    path = _path(tokens_file)
    try:
        token = create_token(path, name)
    except TokenConfigError as exc:
        err.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    err.print(f"token {name!r} created (shown once; its hash is in {path}):", highlight=False)
    print(token, flush=True)


@tokens_app.command("list")
def list_tokens(tokens_file: TokensFile = None) -> None:
    """Token names and creation times (never the hashes)."""
    path = _path(tokens_file)
    table = Table(title=f"tokens in {path}")
    table.add_column("name")
    table.add_column("created (UTC)")
    for name, created in listed_tokens(path):
        table.add_row(name, created or "unknown")
    if get_settings().tokens:
        table.caption = "IL2SELECT_TOKENS also holds tokens (set in the environment)"
    Console().print(table)


@tokens_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    tokens_file: TokensFile = None,
) -> None:
    """Remove NAME's token: the running service refuses it from its next request."""
    path = _path(tokens_file)
    if revoke_token(path, name) == 0:
        err.print(f"[red]no token named {name!r}[/red] in {path}", highlight=False)
        raise typer.Exit(1)
    err.print(f"token {name!r} revoked", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="token")
