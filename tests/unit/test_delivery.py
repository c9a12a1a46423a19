"""The guard marks an answer recorded in the audit log but never delivered: cut by a
time-out, or sent to a client already gone. Drives ``serving.guard._delivered`` with small
ASGI apps and a real audit log."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from serving.audit import AuditLog
from serving.audit_store import read_records
from serving.delivery import AUDIT_REQUEST, CLIENT_GONE, NOT_SENT
from serving.guard import _delivered


@pytest.fixture
def log(tmp_path):
    audit = AuditLog(tmp_path / "audit.db").start()
    yield audit
    audit.close()


def recording_app(log: AuditLog, status: int = 200, hang: bool = False):
    async def app(scope, receive, send):
        record = log.record("R", "recommend", "t", "1", {}, b'{"answer": 1}')
        scope["state"][AUDIT_REQUEST] = (log, "R")
        await asyncio.wrap_future(log.submit([record]))
        if hang:
            await asyncio.sleep(3600)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b'{"answer": 1}'})

    return app


def run(app, client_there: bool = True, timeout: float = 5.0) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        if client_there:
            await asyncio.sleep(3600)  # nothing until the client goes
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def main():
        scope = {"type": "http", "state": {}}
        await asyncio.wait_for(_delivered(app, scope, b"{}", receive, send), timeout)

    try:
        asyncio.run(main())
    except TimeoutError:
        pass
    return sent


def settled(log: AuditLog) -> list[tuple[bool, str | None]]:
    log.submit([]).result(10)  # the marks are committed in order, before this probe
    return [(r["delivered"], r["undelivered_reason"]) for r in read_records(log.path)]


def test_an_answer_handed_whole_to_its_client_stays_delivered(log):
    sent = run(recording_app(log))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert settled(log) == [(True, None)]


def test_an_answer_cut_by_a_time_out_is_marked_not_sent(log):
    run(recording_app(log, hang=True), timeout=0.5)
    assert settled(log) == [(False, NOT_SENT)]


def test_an_answer_whose_client_has_gone_is_marked(log):
    run(recording_app(log), client_there=False)
    assert settled(log) == [(False, CLIENT_GONE)]


def test_a_refusal_recorded_nothing_and_marks_nothing(log):
    async def refusing(scope, receive, send):
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    run(refusing)
    log.submit([]).result(10)
    assert list(read_records(log.path)) == []
    with sqlite3.connect(log.path) as db:
        assert db.execute("SELECT count(*) FROM undelivered").fetchone() == (0,)


def test_an_answer_the_app_stopped_sending_when_its_client_left_is_marked(log):
    """Starlette's streaming response listens for the disconnect and stops sending: no
    final body goes out, and the reason is the client's going."""

    async def listening(scope, receive, send):
        record = log.record("R", "predict", "t", "1", {}, b"[]")
        scope["state"][AUDIT_REQUEST] = (log, "R")
        await asyncio.wrap_future(log.submit([record]))
        await receive()  # the body
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert (await receive())["type"] == "http.disconnect"

    run(listening, client_there=False)
    assert settled(log) == [(False, CLIENT_GONE)]


def test_a_client_leaving_after_the_last_byte_leaves_the_answer_delivered(log):
    """The whole Content-Length went out, then the client closed before the server's empty
    final message: the client got every byte; the answer stays delivered."""
    body = b'{"answer": 1}'
    sent_all = asyncio.Event()

    async def streaming(scope, receive, send):
        record = log.record("R", "predict", "t", "1", {}, body)
        scope["state"][AUDIT_REQUEST] = (log, "R")
        await asyncio.wrap_future(log.submit([record]))
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        sent_all.set()
        await asyncio.sleep(0.05)  # the client reads it all and hangs up
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        await sent_all.wait()
        return {"type": "http.disconnect"}

    async def main():
        scope = {"type": "http", "state": {}}
        await _delivered(streaming, scope, b"{}", receive, _ignore)

    asyncio.run(main())
    assert settled(log) == [(True, None)]


async def _ignore(message):
    return None
