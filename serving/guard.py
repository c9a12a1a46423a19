"""ASGI middleware before the BentoML app (which has no server-side auth): bearer tokens, the
body-size limit, JSON-only bodies, ``serving.problems``' checks. Health and static: public."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from model.settings import get_settings
from serving.auth import LiveTokens, TokenStore, bearer_token
from serving.cds_auth import CdsAuthError, CdsClients, looks_like_jwt
from serving.delivery import Delivery, drain, replay_body
from serving.gctune import trim_heap
from serving.problems import (
    RequestProblem,
    check_patient,
    check_patient_list,
    operation_outcome,
    problem_body,
    too_large,
)

PUBLIC_PATHS = frozenset(
    {"/", "/livez", "/readyz", "/healthz", "/favicon.ico", "/model/card", "/cds-services"}
)  # the model card and CDS discovery hold no patient data
PUBLIC_PREFIXES = ("/static/",)
CDS_PREFIX = "/cds-services/"  # CDS Hooks services: a client's JWT, or a REST token
SINGLE_PATIENT_ROUTES = frozenset({"/recommend", "/survival"})
PATIENT_LIST_ROUTES = frozenset({"/predict", "/triage"})
FHIR_ROUTES = frozenset({"/recommend"})  # also take a FHIR Bundle (serving.fhir_input)
JSON_TYPES = frozenset({"", "application/json"})
FHIR_JSON = "application/fhir+json"
PARSED_BODY = "il2select_parsed_body"  # scope["state"] key: the body as the guard checked it
FHIR_SOURCES = "il2select_fhir_sources"  # scope["state"] key: the resources an input came from

logger = logging.getLogger("il2select.guard")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


SMALL_LIST_RUNNING, SMALL_LIST_WAITING = 2, 8  # the lane of lists of a few patients
BUSY = {
    "error": "busy: as many patient lists as this worker takes are being scored or waiting; "
    "retry after the seconds in Retry-After",
    "detail": [],
}


class ListGate:
    """Bounded concurrency and a bounded queue for patient lists: at most ``running``
    computed at once and ``waiting`` more holding a place (their bodies read, waiting for
    a turn); any more are refused at once, so memory is bounded by design. A turn ends
    when the response starts: a client slow to read its answer holds no turn."""

    def __init__(self, running: int, waiting: int) -> None:
        self.running, self.waiting = running, waiting
        self.active = 0  # holding a place: reading, waiting or computing
        self._turns = asyncio.Semaphore(running)

    def may_enter(self) -> bool:
        return self.active < self.running + self.waiting

    @contextlib.contextmanager
    def place(self):
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    @contextlib.asynccontextmanager
    async def turn(self):
        """A turn; the callable yielded ends it early (once), as the response starts."""
        await self._turns.acquire()
        released = False

        def done() -> None:
            nonlocal released
            if not released:
                released = True
                self._turns.release()

        try:
            yield done
        finally:
            done()


def _releasing(send: Send, done: Callable[[], None]) -> Send:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            done()
        await send(message)

    return wrapped


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class GuardMiddleware:
    """Refuses before the app runs: 401 (no detail), 415, 413, 422."""

    def __init__(self, app: Callable, tokens: TokenStore | LiveTokens | None = None) -> None:
        settings = get_settings()
        self.app = app
        self.tokens = (
            tokens if tokens is not None else LiveTokens(settings.tokens, settings.tokens_path)
        )
        self.cds = CdsClients.from_settings(settings)
        self.max_body_bytes = settings.max_body_bytes
        self.max_patients = settings.max_patients
        self.lists = ListGate(settings.max_list_requests, settings.max_list_waiting)
        # a list declared at most this size (a few patients: milliseconds of work, a few
        # kB of memory) has a lane of its own, not a place behind lists of thousands
        self.small_list_bytes = settings.small_list_bytes
        self.small_lists = ListGate(SMALL_LIST_RUNNING, SMALL_LIST_WAITING)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or is_public(path):
            await self.app(scope, receive, send)
            return
        token_id, refusal = await self._identify(scope, path)
        if token_id is None:
            await _refuse(send, path, refusal)
            return
        scope.setdefault("state", {})["token_id"] = token_id
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if path not in PATIENT_LIST_ROUTES:
            body = await self._checked(scope, receive, send, path)
            if body is not None:
                await _delivered(self.app, scope, body, receive, send)
            return
        gate = self._gate(scope)
        if not gate.may_enter():  # the body read and dropped first (``drain``), not kept
            await drain(receive, self.max_body_bytes)
            await send_json(send, 503, BUSY, [(b"retry-after", b"2"), (b"connection", b"close")])
            return
        with gate.place():  # the body is read (and checked) before its turn comes
            limit = self.small_list_bytes if gate is self.small_lists else self.max_body_bytes
            body = await self._checked(scope, receive, send, path, limit)
            if body is not None:
                async with gate.turn() as done:  # until the response starts
                    await _delivered(self.app, scope, body, receive, _releasing(send, done))
        if gate is self.lists and not gate.active:  # the last large list is done with
            await asyncio.to_thread(trim_heap)

    def _gate(self, scope: Scope) -> ListGate:
        """The small lists' lane for a body declared at most ``small_list_bytes`` long
        (the server holds a body to its declared length), else the lists' gate."""
        headers = dict(scope.get("headers", ()))
        declared = headers.get(b"content-length", b"").strip()
        chunked = b"transfer-encoding" in headers  # a length it need not keep
        if not chunked and declared.isdigit() and int(declared) <= self.small_list_bytes:
            return self.small_lists
        return self.lists

    async def _checked(
        self, scope: Scope, receive: Receive, send: Send, path: str, limit: int | None = None
    ):
        """The request's body once read and checked; None when it was refused (the refusal
        sent) or the client went away."""
        try:
            return await self._checked_body(scope, receive, path, limit or self.max_body_bytes)
        except Exception as exc:  # noqa: BLE001  (a body no check foresaw: 422, never 500)
            problem = exc if isinstance(exc, RequestProblem) else _unforeseen(exc)
            await send_json(
                send,
                problem.status,
                problem_body(problem, path.startswith(CDS_PREFIX)),
                [(b"connection", b"close")] if problem.status == 413 else [],
            )
            return None

    async def _identify(self, scope: Scope, path: str) -> tuple[str | None, str]:
        """The caller's token id (a REST token's, or ``cds:<issuer>`` for a CDS client's
        JWT on a CDS route), or None and why."""
        token = bearer_token(scope)
        if token is None:
            return None, "no bearer token (Authorization: Bearer <JWT>)"
        token_id = self.tokens.identify(token)
        if token_id is not None or not path.startswith(CDS_PREFIX):
            return token_id, "unknown bearer token"
        if not looks_like_jwt(token):
            return None, "the bearer token is neither a JWT nor a known token"
        try:
            return await asyncio.to_thread(self.cds.verify, token, path), ""  # a DB claim
        except Exception as exc:  # noqa: BLE001  (whatever a hostile token does: 401)
            return None, str(exc) if isinstance(exc, CdsAuthError) else "an unreadable JWT"

    async def _checked_body(
        self, scope: Scope, receive: Receive, path: str, limit: int
    ) -> bytes | None:
        headers = dict(scope.get("headers", ()))
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        media_type = content_type.split(";")[0].strip().lower()
        fhir = media_type == FHIR_JSON and path in FHIR_ROUTES
        if media_type not in JSON_TYPES and not fhir:
            also = f" (or {FHIR_JSON}: a FHIR Bundle)" if path in FHIR_ROUTES else ""
            raise RequestProblem(415, _problem(f"the request body must be application/json{also}"))
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > limit:
            raise too_large(limit)
        body = await _read_body(receive, limit)
        if body is None:
            return None
        if fhir:
            from serving.fhir_input import check_fhir_patient  # fhir.resources: when needed

            scope["state"][PARSED_BODY], scope["state"][FHIR_SOURCES] = check_fhir_patient(body)
        elif path in SINGLE_PATIENT_ROUTES:
            scope["state"][PARSED_BODY] = check_patient(body)
        elif path in PATIENT_LIST_ROUTES:
            scope["state"][PARSED_BODY] = check_patient_list(body, self.max_patients)
        return body


async def _refuse(send: Send, path: str, why: str) -> None:
    """401: nothing more on the REST API; on a CDS route, an OperationOutcome naming what
    failed (a CDS client's integrator needs it; it names no key material)."""
    if not path.startswith(CDS_PREFIX):
        await send_json(send, 401, {"error": "unauthorized"}, [(b"www-authenticate", b"Bearer")])
        return
    outcome = operation_outcome("security", f"unauthorized: {why}")
    await send_json(send, 401, outcome, [(b"www-authenticate", b'Bearer error="invalid_token"')])


def _unforeseen(exc: Exception) -> RequestProblem:
    logger.exception("a request body no check foresaw (answered 422)", exc_info=exc)
    return RequestProblem(422, _problem(f"the body cannot be read ({type(exc).__name__})"))


def _problem(error: str):
    from serving.schemas import Problem

    return Problem(error=error)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _delivered(app, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
    """Run the app on the checked body; an answer it recorded in the audit log but that
    did not reach the client is marked so (``serving.delivery``), also on a time-out."""
    delivery = Delivery(receive, send)
    try:
        await app(scope, replay_body(body, delivery.receive), delivery.send)
    finally:
        delivery.settle(scope["state"])


async def send_json(
    send: Send, status: int, content: dict, headers: list[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(content).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
