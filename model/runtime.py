"""Process-wide numeric settings, applied by entry points (never at import)."""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def use_single_threaded_blas() -> None:
    """Run BLAS on one thread. Our products are small (200 parameter draws by a few
    thousand patients): OpenBLAS's threads cost more than they save, the more so on a
    2-core machine that also serves requests (measured: 16 ms with two threads against
    0.5 ms with one for a 201x18 by 18x2000 product). Parallelism comes from processes."""
    threadpool_limits(limits=1, user_api="blas")
