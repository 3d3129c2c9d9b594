"""What the mock received, and what a test told it to answer instead.

`Journal` records every request (method, path, query, headers, body, time on
the app's clock, matched route, answer status) so a test can assert what its
client sent. `Overrides` holds per-route answers that replace the catalogue's
behaviour for a while: a status and body, a delay, a sequence, or a fault.
"""

from __future__ import annotations

import difflib
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import Receive, Scope, Send

from mockgpt.clock import Clock
from mockgpt.jsonfmt import dumpb

FaultName = Literal["reset", "empty", "malformed"]
FAULTS: tuple[str, ...] = ("reset", "empty", "malformed")


@dataclass(slots=True)
class Entry:
    """One request as the mock received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    time: float
    route: str | None
    status: int = 0

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def json(self) -> Any:
        """The body parsed as JSON (None when it is empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class Journal:
    """The requests an app received, oldest first (the most recent `limit` of them)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._entries: deque[Entry] = deque(maxlen=limit)

    def record(self, entry: Entry) -> None:
        self._entries.append(entry)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def calls(self, route: str | None = None) -> list[Entry]:
        """Requests that matched `route` (`"METHOD /path/template"`), or all of them."""
        return [e for e in self._entries if route is None or route in (e.route, e.key)]

    def unmatched(self) -> list[Entry]:
        """Requests that matched no catalogue route."""
        return [e for e in self._entries if e.route is None]


def nearest(wanted: str, known: Iterable[str], count: int = 3) -> list[str]:
    """The documented routes closest to a key nobody declared, for error messages."""
    return difflib.get_close_matches(wanted, list(known), n=count, cutoff=0.3)


@dataclass(slots=True)
class Override:
    """One answer that replaces a route's behaviour."""

    status: int = 200
    body: bytes = b""
    media: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    fault: FaultName | None = None
    times: int | None = 1  # None: for every request until reset

    @classmethod
    def of(
        cls,
        *,
        status: int = 200,
        json: Any = None,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        fault: FaultName | None = None,
        times: int | None = 1,
    ) -> Override:
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        if text is not None:
            return cls(
                status,
                text.encode(),
                "text/plain; charset=utf-8",
                dict(headers or {}),
                delay,
                fault,
                times,
            )
        body = b"" if json is None else dumpb(json)
        media = None if json is None else "application/json"
        return cls(status, body, media, dict(headers or {}), delay, fault, times)

    async def answer(self, clock: Clock, scope: Scope, receive: Receive, send: Send) -> None:
        if self.delay > 0:
            await clock.sleep(self.delay)
        if self.fault == "reset":
            # Promise a body, send a little of it, and stop: the connection drops mid-answer.
            headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"detail": ', "more_body": True})
            return
        body = self.body
        if self.fault == "empty":
            body = b""
        elif self.fault == "malformed":
            body = b'{"detail": {"message": "tru'
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()
        ]
        if self.media is not None and body:
            headers.append((b"content-type", self.media.encode("latin-1")))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class Overrides:
    """Answers queued per route key (or `"*"` for every route), used before the catalogue's."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Override]] = {}

    def add(self, key: str, *answers: Override) -> None:
        self._queues.setdefault(key, deque()).extend(answers)

    def take(self, key: str) -> Override | None:
        for name in (key, "*"):
            queue = self._queues.get(name)
            if not queue:
                continue
            answer = queue[0]
            if answer.times is not None:
                answer.times -= 1
                if answer.times == 0:
                    queue.popleft()
            return answer
        return None

    def pending(self, key: str | None = None) -> int:
        queues = [self._queues.get(key, deque())] if key else list(self._queues.values())
        return sum(len(queue) for queue in queues)

    def clear(self) -> None:
        self._queues.clear()
