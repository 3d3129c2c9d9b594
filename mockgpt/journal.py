"""What the mock received, and what a test told it to answer instead.

`Journal` records every request (method, path, query, headers, body, time on
the app's clock, matched route, answer status) so a test can assert what its
client sent. `Overrides` holds per-route answers that replace the catalogue's
behaviour for a while: a status and body, a delay, a sequence, or a fault.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from starlette.types import Message, Receive, Scope, Send

from mockgpt.clock import Clock
from mockgpt.errors import InvalidValue
from mockgpt.jsonfmt import dumpb
from mockgpt.jsonparse import parse_json
from mockgpt.masking import mask_headers, mask_json, mask_query, mask_text
from mockgpt.responses import HEADER_NAME, HEADER_VALUE, Prepared
from mockgpt.stubs import Lifetime, StubQueue

FaultName = Literal["reset", "empty", "malformed"]
FAULTS: tuple[str, ...] = ("reset", "empty", "malformed")
#: What a `malformed` fault sends: JSON cut off mid-string.
_MALFORMED = b'{"detail": {"message": "tru'


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
    #: The entry's place in the app's journal: 0 for the first request, never reused.
    index: int = 0
    #: The length of the body as received; `body` holds only its start when cut.
    size: int = -1
    #: The sha256 of the whole body, taken when the journal cut it (None: `body` is whole).
    cut_sha256: str | None = None
    #: Whether the answer came from a recording (`mockgpt record`) rather than the mock.
    recorded: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def truncated(self) -> bool:
        """Whether the journal kept only the start of the body."""
        return self.cut_sha256 is not None

    @property
    def sha256(self) -> str:
        """The hex sha256 of the whole body as received."""
        return self.cut_sha256 or hashlib.sha256(self.body).hexdigest()

    def cost(self) -> int:
        """Roughly how many bytes the entry holds, for the journal's byte limit."""
        heads = sum(len(name) + len(value) for name, value in self.headers.items())
        return 256 + len(self.body) + len(self.path) + len(self.query) + heads

    def to_json(self, *, reveal: bool = False) -> dict[str, Any]:
        """The entry as the admin API and the inspector show it: credentials masked
        (see `mockgpt.masking`) unless `reveal`."""
        try:
            text: str | None = self.body.decode()
        except UnicodeDecodeError:
            text = None
        parsed = self.json()
        headers, query = self.headers, self.query
        if not reveal:
            headers, query = mask_headers(headers), mask_query(query)
            text = None if text is None else mask_text(text)
            parsed = mask_json(parsed)
        return {
            "index": self.index,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": query,
            "headers": headers,
            "body": text,
            "body_base64": None if text is not None else base64.b64encode(self.body).decode(),
            "json": parsed,
            "route": self.route,
            "status": self.status,
            "body_size": len(self.body) if self.size < 0 else self.size,
            "body_sha256": self.sha256,
            "body_truncated": self.truncated,
            "recorded": self.recorded,
        }

    def json(self) -> Any:
        """The body parsed as JSON (None when it is empty, cut, or not strict JSON).

        Parsed with the same limits as requests, so whatever a client sent
        (NaN, deep nesting, lone surrogates) cannot break the journal's view.
        """
        if not self.body or self.truncated:
            return None
        try:
            return parse_json(self.body)
        except ValueError:
            return None


class Journal:
    """The requests an app received, oldest first: the most recent `limit` of them,
    within `max_bytes` in all. Bodies longer than `body_bytes` are kept cut to
    that length, with their full size and sha256, so that a client sending 8 MiB
    bodies all day cannot fill the memory."""

    def __init__(
        self,
        limit: int = 10_000,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        body_bytes: int = 64 * 1024,
    ) -> None:
        self._entries: deque[Entry] = deque()
        self._count = 0
        self._limit = limit
        self._max_bytes = max_bytes
        self._body_bytes = body_bytes
        self._bytes = 0
        self._costs: deque[int] = deque()

    def record(self, entry: Entry) -> None:
        entry.index = self._count
        self._count += 1
        entry.size = len(entry.body)
        if entry.size > self._body_bytes:
            entry.cut_sha256 = hashlib.sha256(entry.body).hexdigest()
            entry.body = entry.body[: self._body_bytes]
        cost = entry.cost()
        self._entries.append(entry)
        self._costs.append(cost)
        self._bytes += cost
        while len(self._entries) > self._limit or (
            self._bytes > self._max_bytes and len(self._entries) > 1
        ):
            self._entries.popleft()
            self._bytes -= self._costs.popleft()

    @property
    def bytes(self) -> int:
        """Roughly how many bytes the kept entries hold."""
        return self._bytes

    @property
    def next_index(self) -> int:
        """The index the next request will get (for `select(since=...)` polling)."""
        return self._count

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._costs.clear()
        self._bytes = 0

    def calls(self, route: str | None = None) -> list[Entry]:
        """Requests that matched `route` (`"METHOD /path/template"`), or all of them."""
        return [e for e in self._entries if route is None or route in (e.route, e.key)]

    def select(
        self,
        route: str | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        since: int = 0,
    ) -> list[Entry]:
        """Requests by route key, method, exact path, answer status, and index (`>= since`)."""
        method = method.upper() if method else None
        return [
            e
            for e in self._entries
            if (route is None or route in (e.route, e.key))
            and (method is None or e.method == method)
            and (path is None or e.path == path)
            and (status is None or e.status == status)
            and e.index >= since
        ]

    def unmatched(self) -> list[Entry]:
        """Requests that matched no catalogue route."""
        return [e for e in self._entries if e.route is None]


def contains(expected: Any, actual: Any) -> bool:
    """Whether `actual` holds `expected`: every key of an expected object, recursively;
    lists and other values compare equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and contains(value, actual[key]) for key, value in expected.items()
        )
    return bool(expected == actual)


def json_diff(expected: Any, actual: Any) -> str:
    """A unified diff of two JSON values, pretty-printed with sorted keys."""
    left = json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    right = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    import difflib  # lazy: start-up

    return "\n".join(difflib.unified_diff(left, right, "expected", "received", lineterm=""))


def nearest(wanted: str, known: Iterable[str], count: int = 3) -> list[str]:
    """The documented routes closest to a key nobody declared, for error messages."""
    import difflib  # lazy: start-up

    return difflib.get_close_matches(wanted, list(known), n=count, cutoff=0.3)


@dataclass(frozen=True, slots=True)
class Override:
    """What a route answers instead of its catalogue behaviour: an answer, sent after
    `delay` seconds, or broken by `fault`. How long it lasts is its stub's `Lifetime`."""

    answer: Prepared
    delay: float = 0.0
    fault: FaultName | None = None

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
    ) -> Override:
        if fault is not None and fault not in FAULTS:
            raise InvalidValue(f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise InvalidValue(f"status must be a final HTTP status (200-599), not {status}")
        if not 0 <= delay <= 600:
            raise InvalidValue(f"delay must be 0 to 600 seconds, not {delay}")
        if json is not None and text is not None:
            raise InvalidValue("give json or text, not both")
        for name, value in (headers or {}).items():
            if not HEADER_NAME.fullmatch(name):
                raise InvalidValue(f"{name!r} is not a valid header name")
            if not HEADER_VALUE.fullmatch(value):
                raise InvalidValue(f"the value of header {name} must be printable latin-1 text")
        extra = dict(headers or {})
        given_media = None
        for name in list(extra):
            if name.lower() == "content-length":
                raise InvalidValue("content-length is set from the body; leave it out")
            if name.lower() == "content-type":
                # The caller's content type replaces the one implied by json or text.
                given_media = extra.pop(name)
        if text is not None:
            media: str | None = given_media or "text/plain; charset=utf-8"
            body = text.encode()
        else:
            body = b"" if json is None else dumpb(json)
            media = given_media or (None if json is None else "application/json")
        return cls(Prepared.declared(status, body, media, extra.items()), delay, fault)

    def to_json(self) -> dict[str, Any]:
        try:
            body: str | None = self.answer.body.decode()
        except UnicodeDecodeError:
            body = None
        return {
            "status": self.answer.status,
            "body": body,
            "media": self.answer.media,
            "headers": dict(self.answer.extra),
            "delay": self.delay,
            "fault": self.fault,
        }

    async def respond(self, clock: Clock, scope: Scope, receive: Receive, send: Send) -> None:
        if self.delay > 0 and not await pause(clock, self.delay, receive):
            return  # the client hung up while the answer was held back
        answer = self.answer
        if self.fault == "reset":
            # Promise a body, send a little of it, and stop: the connection drops mid-answer.
            headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"detail": ', "more_body": True})
            return
        if self.fault is not None:
            body = b"" if self.fault == "empty" else _MALFORMED
            answer = Prepared.declared(answer.status, body, answer.media, answer.extra)
        await answer(scope, receive, send)


async def _hung_up(receive: Receive) -> None:
    """Return once the client has disconnected (the request body is already read)."""
    message: Message = await receive()
    while message["type"] != "http.disconnect":
        message = await receive()


async def pause(clock: Clock, seconds: float, receive: Receive) -> bool:
    """Wait `seconds` on `clock`, but no longer than the client stays: False if it left.

    A latency or delay of minutes must not keep a handler alive (and the server
    from stopping) after the client it was meant for has gone.
    """
    if seconds <= 0:
        return True
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    listener = asyncio.ensure_future(_hung_up(receive))
    try:
        await asyncio.wait((sleeper, listener), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        listener.cancel()
        await asyncio.gather(sleeper, listener, return_exceptions=True)
    return not listener.done() or listener.cancelled()


class Failures:
    """Tracebacks of errors raised inside the mock: the most recent `limit`, each cut
    to `text_chars` characters, so that a client provoking errors all day (or one
    very deep traceback) cannot fill the memory. `total` counts all of them."""

    def __init__(self, limit: int = 100, text_chars: int = 16_384) -> None:
        self._kept: deque[str] = deque(maxlen=limit)
        self._text_chars = text_chars
        self.total = 0

    def append(self, text: str) -> None:
        if len(text) > self._text_chars:
            half = self._text_chars // 2
            text = f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"
        self._kept.append(text)
        self.total += 1

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._kept))

    def __len__(self) -> int:
        return len(self._kept)

    def __bool__(self) -> bool:
        return bool(self._kept)

    def clear(self) -> None:
        self._kept.clear()


@dataclass(frozen=True, slots=True)
class Latency:
    """Extra time before an answer: fixed (`low == high`) or uniform between two bounds.

    `spread="normal"` draws from a normal distribution centred between the bounds
    (the bounds are then two standard deviations out) and clips it to them.
    """

    low: float
    high: float
    spread: Literal["uniform", "normal"] = "uniform"

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= 600:
            raise InvalidValue("latency bounds must satisfy 0 <= low <= high <= 600 seconds")
        if self.spread not in ("uniform", "normal"):
            raise InvalidValue(f"spread must be uniform or normal, not {self.spread!r}")

    @classmethod
    def of(cls, value: float | tuple[float, float] | Latency, spread: str = "uniform") -> Latency:
        """From seconds, a `(low, high)` pair, or a `Latency`."""
        if isinstance(value, Latency):
            return value
        if isinstance(value, tuple | list):
            low, high = value
            return cls(float(low), float(high), spread)  # type: ignore[arg-type]
        return cls(float(value), float(value), spread)  # type: ignore[arg-type]

    def draw(self, rng: random.Random) -> float:
        if self.low == self.high:
            return self.low
        if self.spread == "normal":
            middle, sigma = (self.low + self.high) / 2, (self.high - self.low) / 4
            return min(self.high, max(self.low, rng.gauss(middle, sigma)))
        return rng.uniform(self.low, self.high)

    def to_json(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "spread": self.spread}


class Overrides:
    """Override stubs queued per route key (or `"*"` for every route), used before the
    catalogue's answer; the route's own stubs before the catch-all ones (see `mockgpt.stubs`)."""

    def __init__(self) -> None:
        self._queues: dict[str, StubQueue[Override]] = {}

    def add(self, key: str, answer: Override, lifetime: Lifetime | None = None) -> None:
        self._queues.setdefault(key, StubQueue()).add(answer, lifetime or Lifetime())

    def take(self, key: str) -> Override | None:
        for name in (key, "*"):
            queue = self._queues.get(name)
            if queue:
                return queue.take()
        return None

    def listing(self) -> list[dict[str, Any]]:
        """What is queued, route by route, oldest first (for the admin API)."""
        return [
            {"route": key, **stub.answer.to_json(), "times": stub.lifetime.uses}
            for key, queue in self._queues.items()
            for stub in queue
        ]

    def clear(self) -> None:
        self._queues.clear()
