"""Answers: status, headers and body, fixed once and sent as bytes.

`Prepared` is the one answer type of the mock: the catalogue's pre-rendered
answers, the refusals of `mockgpt.auth`, the HTTP errors a script sends
instead of a stream (`mockgpt.scripts.HttpError`) and the answers of route
overrides (`mockgpt.journal.Override`) are all `Prepared`. Most routes answer
the same bytes to every request for a given seed, so the app renders them once
and the hot path is two `send` calls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from starlette.types import Receive, Scope, Send

from mockgpt.jsonfmt import dumpb

JSON = "application/json"
#: What a header given by a user (an override, a scripted refusal) may be: the name an
#: HTTP token, the value printable latin-1 text (the bytes HTTP/1.1 can carry).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
#: Statuses whose answers carry no body at all.
NO_BODY = frozenset({204, 205, 304})


class Prepared:
    """An ASGI response whose bytes are ready before any request arrives.

    `extra` keeps the headers as the caller gave them (names as written) and
    `document` the JSON value the body was rendered from, if any, so that an
    answer can be shown, compared, or rewritten into another API's error shape.
    """

    __slots__ = ("body", "document", "extra", "headers", "media", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        media: str | None = JSON,
        extra_headers: Iterable[tuple[str, str]] = (),
        *,
        document: Any = None,
    ) -> None:
        self.status = status
        self.body = body
        self.media = media
        self.document = document
        self.extra = tuple(extra_headers)
        headers: list[tuple[bytes, bytes]] = []
        if status not in (204, 304):
            if media is not None:
                headers.append((b"content-type", media.encode("latin-1")))
            headers.append((b"content-length", str(len(body)).encode("ascii")))
        headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.extra)
        self.headers = headers

    @classmethod
    def declared(
        cls, status: int, body: bytes, media: str | None, headers: Iterable[tuple[str, str]]
    ) -> Prepared:
        """An answer as a test declared it: its own headers first, then the content
        type (only with a body) and length; a no-body status sends neither."""
        answer = cls(status, b"", None)
        answer.media = media
        answer.extra = tuple(headers)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.extra]
        if status not in NO_BODY:
            answer.body = body
            if media is not None and body:
                raw.append((b"content-type", media.encode("latin-1")))
            raw.append((b"content-length", str(len(body)).encode()))
        answer.headers = raw
        return answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Prepared):
            return NotImplemented
        return (self.status, self.headers, self.body) == (other.status, other.headers, other.body)

    def __hash__(self) -> int:
        return hash((self.status, self.body))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.body[:60]!r})"


def json_response(status: int, document: Any, headers: Iterable[tuple[str, str]] = ()) -> Prepared:
    return Prepared(status, dumpb(document), JSON, headers)


def json_refusal(status: int, document: Any, headers: Iterable[tuple[str, str]] = ()) -> Prepared:
    """A JSON answer that keeps its document, for refusals other code reads or rewrites."""
    return Prepared(status, dumpb(document), JSON, headers, document=document)
