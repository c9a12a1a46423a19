"""``il2select triage``: the Manchester pathway for a clinic list, file in, file out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from il2select.progress import row_progress
from model.contract.errors import ContractError
from model.rules.pathway import PATHWAYS
from model.rules.worklist import build_worklist
from serving.tables import TableWriter, count_rows, prefetch, read_chunks
from serving.triage import triage_frame

EXIT_BAD_ROWS = 1
EXIT_BAD_FILE = 2
SHOWN_ERRORS = 50
SHOWN_WORKLIST = 40
err = Console(stderr=True)
out = Console()


INPUT_HELP = "Patients: .csv, .parquet, or a FHIR Bulk Data export folder (NDJSON per type)."
REFERENCE_DATE_HELP = (
    "FHIR input only: the day its values describe (planned start of systemic therapy); "
    "default today (UTC)."
)


def triage(
    input_path: Annotated[Path, typer.Option("--in", help=INPUT_HELP)],
    output_path: Annotated[Path, typer.Option("--out", help="Triaged rows, .csv or .parquet.")],
    errors_path: Annotated[
        Path | None,
        typer.Option(
            "--errors", help="Write bad rows here with their reasons and triage the rest."
        ),
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print counts per pathway branch and the work-list.")
    ] = False,
    reference_date: Annotated[
        datetime | None,
        typer.Option("--reference-date", formats=["%Y-%m-%d"], help=REFERENCE_DATE_HELP),
    ] = None,
) -> None:
    """Every input column is kept unchanged and in order, then the derived columns.
    Exit 1 when any row is bad (with --errors the good rows are still written),
    exit 2 when the file itself cannot be used (missing column, unknown type)."""
    on = reference_date.date() if reference_date else None
    try:
        run = _triage_file(input_path, output_path, errors_path, summary, on)
    except ContractError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_BAD_FILE) from None
    if run.rows_bad and errors_path is None:
        _print_errors(run.shown_errors, run.rows_bad)
    else:
        err.print(
            f"{run.rows_in} rows in: {run.rows_out} triaged to {output_path}, "
            f"{run.rows_bad} bad" + (f" to {errors_path}" if errors_path else ""),
            highlight=False,
        )
    if summary:
        _print_summary(run.branches, run.worklist)
    if run.rows_bad:
        raise typer.Exit(EXIT_BAD_ROWS)


@dataclass
class TriageRun:
    rows_in: int = 0
    rows_out: int = 0
    rows_bad: int = 0
    branches: Counter = field(default_factory=Counter)
    worklist: pd.DataFrame | None = None
    shown_errors: pd.DataFrame | None = None


def _triage_file(
    input_path: Path,
    output_path: Path,
    errors_path: Path | None,
    summary: bool,
    reference_date: date | None = None,
) -> TriageRun:
    run = TriageRun()
    writer = TableWriter(_partial(output_path))
    errors_writer = TableWriter(_partial(errors_path)) if errors_path else None
    shown, worklists, columns = [], [], []
    with row_progress("triage", count_rows(input_path)) as advance:
        for chunk in prefetch(read_chunks(input_path, reference_date=reference_date)):
            result = triage_frame(chunk, first_row=run.rows_in + 1)
            columns = list(chunk.columns)
            run.rows_in += len(chunk)
            run.rows_bad += len(result.rejected)
            writer.write(result.triaged)
            if errors_writer is not None:
                errors_writer.write(result.rejected)
            elif sum(map(len, shown)) < SHOWN_ERRORS:
                shown.append(result.rejected[["row", "errors"]])
            counts = result.triaged["manchester_pathway"].value_counts(dropna=False)
            run.branches.update({("unknown" if pd.isna(k) else k): v for k, v in counts.items()})
            if summary:
                worklists.append(build_worklist(result.triaged))
            advance(len(chunk))
    writer.close(columns)
    run.worklist = pd.concat(worklists) if worklists else None
    if errors_writer is not None:
        errors_writer.close(["row", *columns, "errors"])
        _partial(errors_path).replace(errors_path)
    if run.rows_bad and errors_writer is None:
        _partial(output_path).unlink(missing_ok=True)  # all or nothing without --errors
        run.shown_errors = pd.concat(shown)
        return run
    _partial(output_path).replace(output_path)
    run.rows_out = writer.rows
    return run


def _partial(path: Path) -> Path:
    """Write beside the target and rename at the end, so a failed run leaves no half file."""
    return path.with_name(f".{path.name}.partial{path.suffix}")


def _print_errors(rejected: pd.DataFrame, count: int) -> None:
    for row, reasons in rejected.head(SHOWN_ERRORS).itertuples(index=False):
        err.print(f"row {row}: {reasons}", highlight=False, soft_wrap=True)
    if count > SHOWN_ERRORS:
        err.print(f"… and {count - SHOWN_ERRORS} more bad rows", highlight=False)
    err.print(
        f"[red]{count} bad row(s); nothing written.[/red] Use --errors FILE to set them "
        "aside and triage the rest.",
        highlight=False,
    )


def _print_summary(branches: Counter, worklist: pd.DataFrame | None) -> None:
    table = Table(title="Manchester pathway")
    table.add_column("branch")
    table.add_column("patients", justify="right")
    for branch in (*PATHWAYS, "unknown"):
        table.add_row(
            branch if branch != "unknown" else "unknown (needs inputs)",
            str(branches.get(branch, 0)),
        )
    out.print(table)
    if worklist is None or worklist.empty:
        out.print("Work-list: nothing to settle.")
        return
    work = Table(title=f"Work-list: {len(worklist)} patient(s) with actions")
    for name in ("patient", "branch", "actions"):
        work.add_column(name)
    for pid, branch, actions in worklist.head(SHOWN_WORKLIST).itertuples(index=False):
        work.add_row(str(pid or ""), str(branch or "unknown"), actions)
    out.print(work)
    if len(worklist) > SHOWN_WORKLIST:
        out.print(f"… and {len(worklist) - SHOWN_WORKLIST} more")
    counts = Counter(
        a.partition(":")[0] for actions in worklist["actions"] for a in actions.split("; ")
    )
    out.print("Actions: " + ", ".join(f"{a} ×{n}" for a, n in counts.most_common()))
