"""A longer schemathesis run than CI's against a real server on loopback: every operation
of the OpenAPI schema, all phases, checking that no input gets a 5xx.

    uv run python -m bench.fuzz [--max-examples 300] [--max-time 600] [--fresh-champion]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.serving import SERVICE_COMMAND, TOKEN, benchmarked_champion, launch, service_env
from bench.unwind import unwind_on_sigterm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--max-time", type=int, default=600)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--fresh-champion", action="store_true")
    args = parser.parse_args()
    unwind_on_sigterm()
    folder = Path(tempfile.mkdtemp(prefix="il2select-fuzz-"))  # kept: the reports and the log
    with benchmarked_champion(args.fresh_champion) as tracking_uri:
        server = launch(
            SERVICE_COMMAND,
            service_env(tracking_uri, folder),
            "/readyz",
            folder / "service.log",
        )
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"http://127.0.0.1:{server.port}/docs.json",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            # BentoML's generated OpenAPI lists 200 only, so 401/413/415/422 would count as
            # "undocumented status codes": the check here is the issue's, no 5xx
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(args.max_examples),
            "--max-time",
            str(args.max_time),
            "--request-timeout",
            "60",
            "--report-dir",
            str(folder / "reports"),
        ]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        try:
            done = subprocess.run(command, cwd=folder, timeout=args.max_time + 120)
        finally:
            server.stop()
    print(f"server log: {folder / 'service.log'}")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
