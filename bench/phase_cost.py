"""Where a load phase's CPU goes, per answered request: the service's workers, the
PostgreSQL cluster (its ``postgres`` processes, when it runs here) and the load generator
(this process), with the mean batch the service computed (``recommend_batch_size`` on
``/metrics``). It says why 2 workers get less than twice 1 worker's rate: a worker's CPU
per request grows when its batches shrink, and the other processes take their share of
the two cores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.loadgen import LoadResult

BATCH_METRIC = "recommend_batch_size"


@dataclass(frozen=True)
class PhaseCost:
    rate: float  # answered requests a second
    worker_ms: float  # CPU milliseconds per answered request
    postgres_ms: float
    loadgen_ms: float
    mean_batch: float  # patients per computed batch (nan without the metric)

    def shown(self) -> str:
        return (
            f"{self.rate:,.0f} req/s, CPU ms a request: workers {self.worker_ms:.2f}, "
            f"PostgreSQL {self.postgres_ms:.2f}, load generator {self.loadgen_ms:.2f}; "
            f"mean batch {self.mean_batch:.1f}"
        )


def measured_phase(
    base_url: str, token: str, workers: list[psutil.Process], run: Callable[[], LoadResult]
) -> tuple[LoadResult, PhaseCost]:
    """``run()`` (a load phase against the service at ``base_url``) and what it cost."""
    groups = {"workers": workers, "postgres": _postgres(), "loadgen": [psutil.Process()]}
    before = {name: _cpu_s(procs) for name, procs in groups.items()}
    batches_before = batch_totals(base_url, token)
    result = run()
    spent = {name: _cpu_s(procs) - before[name] for name, procs in groups.items()}
    total, count = (
        a - b for a, b in zip(batch_totals(base_url, token), batches_before, strict=True)
    )
    answered = max(result.count, 1)
    return result, PhaseCost(
        result.rate,
        spent["workers"] / answered * 1e3,
        spent["postgres"] / answered * 1e3,
        spent["loadgen"] / answered * 1e3,
        total / count if count else float("nan"),
    )


def batch_totals(base_url: str, token: str) -> tuple[float, float]:
    """The batch-size histogram's sum and count so far (0, 0 when it is not exposed)."""
    response = httpx.get(
        f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    response.raise_for_status()
    text = response.text
    total = count = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != BATCH_METRIC:
            continue
        for sample in family.samples:
            if sample.name == f"{BATCH_METRIC}_sum":
                total += sample.value
            elif sample.name == f"{BATCH_METRIC}_count":
                count += sample.value
    return total, count


def _postgres() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


def _cpu_s(processes: list[psutil.Process]) -> float:
    """CPU seconds (user + system) of the processes still alive."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:  # gone (a PostgreSQL backend that ended): not counted
            continue
        total += times.user + times.system
    return total
