"""Progress bars for long commands (on stderr, so stdout stays clean for tables)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def new_progress(console: Console) -> Progress:
    """The one progress-bar layout of every long command."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@contextmanager
def row_progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n_rows)``; the bar shows rows done of ``total`` (unknown for CSV)."""
    progress = new_progress(Console(stderr=True))
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
