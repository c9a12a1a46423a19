"""``il2select audit export``: the audit log as JSON lines, outputs decoded (they are
stored compressed), each with whether its answer reached the client."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from model.settings import get_settings
from serving.audit_store import read_records

err = Console(stderr=True)
audit_app = typer.Typer(help="The service's audit log (every answer it gave).")


@audit_app.command("export")
def export(
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Audit database (default .il2select/audit.db in the project)."),
    ] = None,
    undelivered: Annotated[
        bool, typer.Option("--undelivered", help="Only answers that did not reach the client.")
    ] = False,
) -> None:
    """Every record, oldest first, one JSON object a line on standard output."""
    path = db.resolve() if db else get_settings().audit_path
    if not path.is_file():
        err.print(f"[red]no audit database at {path}[/red]", highlight=False)
        raise typer.Exit(2)
    count, unreadable = 0, []
    try:
        for record in read_records(path, undelivered_only=undelivered):
            sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
            count += 1
            if "unreadable" in record:
                unreadable.append(record["id"])
    except sqlite3.DatabaseError as exc:
        err.print(f"[red]{path} is not a readable audit database:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    err.print(f"{count} records from {path}", highlight=False)
    if unreadable:
        shown = ", ".join(map(str, unreadable[:20])) + (" …" if len(unreadable) > 20 else "")
        err.print(f"[red]{len(unreadable)} records cannot be decoded:[/red] ids {shown}")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
