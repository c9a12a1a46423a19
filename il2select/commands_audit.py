"""``il2select audit export``: the audit log as JSON lines, outputs decoded (they are
stored compressed), each with whether its answer reached the client."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import orjson
import psycopg
import typer
from rich.console import Console

from model.settings import get_settings
from serving.audit_postgres import is_postgres_url, shown
from serving.audit_postgres import read_notes as postgres_notes
from serving.audit_postgres import read_records as postgres_records
from serving.audit_store import read_notes, read_records

err = Console(stderr=True)
audit_app = typer.Typer(help="The service's audit log (every answer it gave).")


@audit_app.command("export")
def export(
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Audit database (default .il2select/audit.db in the project)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="PostgreSQL audit database (default IL2SELECT_AUDIT_URL when set)."
        ),
    ] = None,
    undelivered: Annotated[
        bool, typer.Option("--undelivered", help="Only answers that did not reach the client.")
    ] = False,
    notes: Annotated[
        bool,
        typer.Option(
            "--notes",
            help="The notes beside the records instead: the FHIR resources an answer was "
            "computed from (fhir_sources), CDS Hooks feedback on a card (cds_feedback).",
        ),
    ] = False,
) -> None:
    """Every record (or note), oldest first, one JSON object a line on standard output."""
    records, where = _records(db, url, undelivered, notes)
    count, unreadable = 0, []
    try:
        for record in records:
            sys.stdout.buffer.write(orjson.dumps(record) + b"\n")
            count += 1
            if "unreadable" in record:
                unreadable.append(record["id"])
    except (sqlite3.DatabaseError, psycopg.Error) as exc:
        err.print(f"[red]{where} is not a readable audit database:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    err.print(
        f"{count} {'notes' if notes else 'records'} from {where}", highlight=False, soft_wrap=True
    )
    if unreadable:
        shown = ", ".join(map(str, unreadable[:20])) + (" …" if len(unreadable) > 20 else "")
        err.print(f"[red]{len(unreadable)} records cannot be decoded:[/red] ids {shown}")
        raise typer.Exit(1)


def _records(db: Path | None, url: str | None, undelivered: bool, notes: bool = False):
    """The records (or notes) of the database asked for (``--db``, ``--url``, else the
    settings': the PostgreSQL one when ``IL2SELECT_AUDIT_URL`` is set), and where they
    come from."""
    settings = get_settings()
    url = url or (None if db else settings.audit_url)
    if url:
        if not is_postgres_url(url):
            err.print(f"[red]not a postgresql:// URL: {url}[/red]", highlight=False)
            raise typer.Exit(2)
        if notes:
            return postgres_notes(url), shown(url)
        return postgres_records(url, undelivered_only=undelivered), shown(url)
    path = db.resolve() if db else settings.audit_path
    if not path.is_file():
        err.print(f"[red]no audit database at {path}[/red]", highlight=False)
        raise typer.Exit(2)
    if notes:
        return read_notes(path), str(path)
    return read_records(path, undelivered_only=undelivered), str(path)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
