"""When the app asks the server for a request body: only when one can exist."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope

from mockgpt.app import BodyTooLarge, read_body


def _scope(version: str, headers: list[tuple[bytes, bytes]], method: str = "GET") -> Scope:
    return {"type": "http", "http_version": version, "method": method, "headers": headers}


def _reader(*messages: Message) -> tuple[list[int], Receive]:
    asked = [0]
    queue = list(messages)

    async def receive() -> Message:
        asked[0] += 1
        return queue.pop(0)

    return asked, receive


@pytest.mark.parametrize(("version", "method"), [("1.1", "GET"), ("1.0", "GET"), ("1.1", "HEAD")])
def test_an_http1_get_without_length_or_chunks_is_not_asked_for_a_body(
    version: str, method: str
) -> None:
    asked, receive = _reader()
    body = asyncio.run(read_body(_scope(version, [(b"host", b"x")], method), receive, 100))
    assert (body, asked[0]) == (b"", 0)


@pytest.mark.parametrize(
    ("version", "headers", "method"),
    [
        ("2", [], "GET"),  # HTTP/2 frames a body without announcing it
        ("1.1", [(b"content-length", b"5")], "GET"),
        ("1.1", [(b"transfer-encoding", b"chunked")], "GET"),
        ("1.1", [], "POST"),  # as a hand-built scope may send it
    ],
)
def test_a_body_that_may_exist_is_read(
    version: str, headers: list[tuple[bytes, bytes]], method: str
) -> None:
    asked, receive = _reader(
        {"type": "http.request", "body": b"he", "more_body": True},
        {"type": "http.request", "body": b"llo", "more_body": False},
    )
    body = asyncio.run(read_body(_scope(version, headers, method), receive, 100))
    assert (body, asked[0]) == (b"hello", 2)


def test_an_announced_length_past_the_limit_is_refused_unread() -> None:
    asked, receive = _reader()
    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(_scope("1.1", [(b"content-length", b"101")]), receive, 100))
    assert asked[0] == 0
