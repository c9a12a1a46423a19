"""A list refused as busy has its body read and dropped before the 503 goes out: a
connection closed with a body still unread is reset, and the client still sending it reads
a connection error instead of the 503 (seen in the queue test under a loaded machine)."""

from __future__ import annotations

import asyncio

from serving.delivery import drain


def _receiver(messages: list[dict]):
    taken = []

    async def receive() -> dict:
        message = messages[len(taken)]
        taken.append(message)
        return message

    return receive, taken


def _body(chunks: int, size: int) -> list[dict]:
    return [
        {"type": "http.request", "body": b"x" * size, "more_body": i < chunks - 1}
        for i in range(chunks)
    ]


def test_the_whole_body_is_read_before_the_refusal():
    receive, taken = _receiver(_body(5, 1000))
    asyncio.run(drain(receive, limit=10_000))
    assert len(taken) == 5 and not taken[-1]["more_body"]


def test_no_more_than_the_limit_is_read_and_a_client_gone_ends_it():
    receive, taken = _receiver(_body(50, 1000))
    asyncio.run(drain(receive, limit=2_500))
    assert len(taken) == 3  # 3,000 bytes read: past the limit, no further
    receive, taken = _receiver([*_body(2, 10)[:1], {"type": "http.disconnect"}])
    asyncio.run(drain(receive, limit=10_000))
    assert taken[-1]["type"] == "http.disconnect"
