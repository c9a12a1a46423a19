"""Per-row dicts from per-field columns, quickly: how every answer is assembled."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache


def rows_of(**columns: list) -> list[dict]:
    """Per-row dicts from per-field columns of equal length: each field named once, by
    keyword. Built by a comprehension of dict displays compiled once per set of names
    (as ``dataclasses`` compiles its ``__init__``): three times quicker than
    ``dict(zip(names, row))``, which counts at /predict's 300,000 dicts."""
    lengths = {len(column) for column in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    return _row_builder(tuple(columns))(*columns.values())


@lru_cache(maxsize=64)
def _row_builder(names: tuple[str, ...]) -> Callable[..., list[dict]]:
    if not all(name.isidentifier() or name.isdigit() for name in names):
        raise ValueError(f"not a field name: {names}")
    arguments = ", ".join(f"c{i}" for i in range(len(names)))
    display = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(names))
    values = ", ".join(f"v{i}" for i in range(len(names)))
    source = f"lambda {arguments}: [{{{display}}} for ({values},) in zip({arguments})]"
    return eval(source)  # built from checked field names only, never from input
