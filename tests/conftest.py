"""Shared test set-up: the brief's paths, and each suite's time printed at the end."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DOMAIN = REPO.parent / "shared" / "domain"
SAMPLES = REPO / "data" / "synthetic" / "samples"

_suite_seconds: dict[str, float] = defaultdict(float)


def _suite(item: pytest.Item) -> str:
    parts = Path(item.fspath).resolve().relative_to(REPO / "tests").parts
    return parts[0] if len(parts) > 1 else "(top)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.perf_counter()
    yield
    _suite_seconds[_suite(item)] += time.perf_counter() - start


def pytest_terminal_summary(terminalreporter):
    if not _suite_seconds:
        return
    terminalreporter.section("time per suite")
    for suite, seconds in sorted(_suite_seconds.items()):
        terminalreporter.write_line(f"{suite:<14} {seconds:8.1f} s")
