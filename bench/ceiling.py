"""What two processes get from this machine: the champion's batched ``recommend_records``
in one process, then in two at once, as a ratio. No server, no I/O: the ceiling any
2-worker service can reach here (``bench.serving --scaling`` prints it beside the
service's own ratio). On a machine whose two cores slow each other down (shared caches,
a hypervisor), the ceiling is well below 2.

    python -m bench.ceiling [--seconds 4] [--rounds 3]   (a fresh champion, throw-away store)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench.unwind import unwind_on_sigterm

BATCH = 8  # patients a batch: what a worker computes together at concurrency 16


def compute_rates(tracking_uri: str, seconds: float, start_at: float, windows: list[int]):
    """Batches a second of the champion's ``recommend_records`` in each of ``windows``
    (indices of consecutive windows of ``seconds`` from ``start_at``, a wall-clock time:
    processes started together measure together); idle in the others."""
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from model.recommend.pyfunc import load_recommender
    from model.runtime import use_single_threaded_blas
    from serving.schemas import PatientRequest
    from tests.integration.service_fixtures import clinic_patients

    use_single_threaded_blas()  # as the service's workers
    recommender = load_recommender("models:/il2select@champion", tracking_uri)
    patients = [PatientRequest.model_validate(p).model_dump() for p in clinic_patients()]
    batch = [patients[i % len(patients)] for i in range(BATCH)]
    for _ in range(20):  # warm
        recommender.recommend_records(batch)
    rates = []
    for window in windows:
        began = start_at + window * seconds
        while time.time() < began:
            time.sleep(0.001)
        count = 0
        while time.time() < began + seconds:
            recommender.recommend_records(batch)
            count += 1
        rates.append(count / seconds)
    return rates


def ceiling(tracking_uri: str, seconds: float = 4.0, rounds: int = 3) -> list[float]:
    """Each round's ratio of two processes' rate (both computing) to one's (the other
    idle), alternated window by window so the machine's drift falls on both sides."""
    start_at = time.time() + 25  # after both processes have loaded the champion
    everyone = list(range(2 * rounds))
    alone, together = _run_children(tracking_uri, seconds, start_at, [everyone, everyone[1::2]])
    ones, twos = alone[0::2], alone[1::2]
    return [(a + b) / one for one, a, b in zip(ones, twos, together, strict=True)]


def _run_children(tracking_uri, seconds, start_at, windows: list[list[int]]):
    children = []
    try:
        for mine in windows:
            command = [sys.executable, "-m", "bench.ceiling", "--child", tracking_uri]
            command += ["--seconds", str(seconds), "--start-at", str(start_at)]
            command += ["--windows", ",".join(map(str, mine))]
            children.append(
                subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
                )
            )
        budget = start_at - time.time() + seconds * (max(map(max, windows)) + 1) + 60
        outputs = [child.communicate(timeout=budget)[0] for child in children]
    finally:
        for child in children:  # also when one failed or the run was interrupted
            if child.poll() is None:
                child.kill()
                child.wait()
    if any(child.returncode != 0 for child in children):
        raise RuntimeError("a compute process failed")
    return [[float(x) for x in out.split()] for out in outputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", metavar="TRACKING_URI")
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--windows", default="")
    args = parser.parse_args()
    unwind_on_sigterm()
    if args.child:
        windows = [int(w) for w in args.windows.split(",") if w]
        print(
            " ".join(
                str(r) for r in compute_rates(args.child, args.seconds, args.start_at, windows)
            )
        )
        return
    from bench.serving import benchmarked_champion

    with benchmarked_champion(True) as tracking_uri:
        ratios = ceiling(tracking_uri, args.seconds, args.rounds)
    print(f"2 processes against 1, each round: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(
        f"ceiling for 2 workers on this machine (median): {sorted(ratios)[len(ratios) // 2]:.2f}×"
    )


if __name__ == "__main__":
    main()
