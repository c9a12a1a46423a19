"""A benchmark stopped by SIGTERM (a CI timeout, ``timeout``, ``kill``) unwinds as Ctrl-C
does, through every ``finally`` that stops a server it started: by default SIGTERM ends
Python at once and leaves the servers, PostgreSQL and their folders behind (found so:
ten processes and a PostgreSQL cluster left by a ``bench.serving`` killed mid-run)."""

from __future__ import annotations

import signal
import sys


def unwind_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
