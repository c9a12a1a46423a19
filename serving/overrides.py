"""Where the service overrides BentoML internals, and why. Each is small, measured, and
covered by a test. They are written for BentoML 1.4 (``pyproject.toml`` caps it below 1.5):
``install_bentoml_overrides`` refuses another minor version rather than patch blind, and
is called by the service's start-up, never at import; re-check them on a BentoML upgrade."""

from __future__ import annotations

import asyncio
from typing import Any

import bentoml
from bentoml._internal.server.http.traffic import TimeoutMiddleware
from starlette.responses import JSONResponse

from serving.guard import PARSED_BODY

WRITTEN_FOR = "1.4."  # the BentoML minor version these overrides were written and tested on
_INSTALLED = "_il2select_checked_body"


def install_bentoml_overrides(service, methods: tuple[str, ...]) -> None:
    """Install both overrides (idempotent: a second call changes nothing).

    Raises
    ------
    RuntimeError
        on a BentoML version the overrides were not written for.
    """
    if not bentoml.__version__.startswith(WRITTEN_FOR):
        raise RuntimeError(
            f"serving/overrides.py patches BentoML {WRITTEN_FOR}x internals; this is "
            f"BentoML {bentoml.__version__}: re-check the overrides before raising the cap"
        )
    take_checked_bodies(service, methods)
    cancel_finished_timeouts()


def take_checked_bodies(service, methods: tuple[str, ...]) -> None:
    """The guard has parsed and checked the body of these methods' routes
    (``serving/guard.py``): hand that to the method instead of letting BentoML parse and
    validate the same bytes again (about 0.3 ms of a /recommend, 0.2 s of a 10,000-patient
    /predict). Overrides the methods' ``IODescriptor.from_http_request`` and falls back to
    it where the guard did not run."""
    for name in methods:
        spec = service.apis[name].input_spec
        if getattr(spec, _INSTALLED, False):
            continue
        parse = spec.from_http_request

        async def from_http_request(cls, request, serde, parse=parse):
            checked = request.scope.get("state", {}).get(PARSED_BODY)
            return checked if checked is not None else await parse(request, serde)

        spec.from_http_request = classmethod(from_http_request)
        setattr(spec, _INSTALLED, True)


async def _call_with_timeout(self, scope, receive, send) -> None:
    """BentoML's ``TimeoutMiddleware.__call__`` (a 504 after ``timeout`` seconds), with its
    timer cancelled once the request is done. BentoML never cancels it, so every request's
    timer and future live for the whole timeout (60 s here): about 0.8 KB a request, or
    400 MiB after a minute of health checks at 8,000 a second (measured)."""
    if scope["type"] not in ("http", "websocket"):
        return await self.app(scope, receive, send)
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

    async def _send(message: dict[str, Any]) -> None:
        if not waiter.done():
            waiter.set_result(None)
        await send(message)

    task = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
    # a request that fails before it sends anything ends the wait too (else it would
    # hang to the timeout and its error would never be seen): ``await task`` raises it
    task.add_done_callback(lambda _: waiter.done() or waiter.set_result(None))
    try:
        await waiter
    except TimeoutError:
        if task.cancel():
            await JSONResponse(
                {"error": f"Not able to process the request in {self.timeout} seconds"},
                status_code=504,
            )(scope, receive, send)
    else:
        await task
    finally:
        timer.cancel()


def cancel_finished_timeouts() -> None:
    TimeoutMiddleware.__call__ = _call_with_timeout
