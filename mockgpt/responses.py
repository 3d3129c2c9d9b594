"""Pre-rendered answers: status, headers and body fixed once, sent as bytes.

Most routes answer the same bytes to every request for a given seed, so the
app renders them once and the hot path is two `send` calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.types import Receive, Scope, Send

from mockgpt.jsonfmt import dumpb

JSON = "application/json"


class Prepared:
    """An ASGI response whose bytes are ready before any request arrives."""

    __slots__ = ("body", "headers", "media", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        media: str | None = JSON,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.status = status
        self.body = body
        self.media = media
        headers: list[tuple[bytes, bytes]] = []
        if status not in (204, 304):
            if media is not None:
                headers.append((b"content-type", media.encode("latin-1")))
            headers.append((b"content-length", str(len(body)).encode("ascii")))
        headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers)
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode("latin-1")
        for key, value in self.headers:
            if key == wanted:
                return value.decode("latin-1")
        return None


def json_response(status: int, document: Any, headers: Iterable[tuple[str, str]] = ()) -> Prepared:
    return Prepared(status, dumpb(document), JSON, headers)
