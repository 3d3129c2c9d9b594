"""Replay: a recording folder answers the requests it saw, streams with their recorded gaps.

`Config(fixtures=DIR)` (`mockgpt serve --fixtures DIR`) loads `DIR/recording/`
when `mockgpt record` wrote one. A request is answered from the first unused
exchange of the same method, path and query (then, with none left, the last
one again, as a cassette replays); one whose query matches none takes an
exchange of the same method and path. Streams send their events with the
recorded gaps scaled by `Config.replay_speed` (0: at once) on the app's clock,
so a virtual clock replays a minute-long stream in no time and still reports
the minute. What matches nothing goes on to the catalogue, or gets 404 with
`Config.replay_strict`.

`mockgpt.recorded.check_recording(DIR)` compares the recorded exchanges with
the catalogue's schemas, as `mockgpt har check` does a HAR capture.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import Receive, Send

from mockgpt.clock import Clock
from mockgpt.errors import MockGPTError
from mockgpt.journal import pause

#: The folder inside a recording that holds one file per exchange.
RECORDING = "recording"
#: A recording holds at most this many exchanges, and this many bytes of them.
MAX_EXCHANGES = 10_000
MAX_BYTES = 256 * 1024 * 1024


class RecordingError(MockGPTError, ValueError):
    """A recording folder cannot be read."""


@dataclass(frozen=True, slots=True)
class ReplayedEvent:
    gap: float  # seconds since the event before (or since the request)
    name: str | None
    data: str


@dataclass(frozen=True, slots=True)
class Take:
    """One recorded answer."""

    number: int
    method: str
    path: str
    query: str
    request: str | None
    status: int
    headers: tuple[tuple[str, str], ...]
    body: str | None
    events: tuple[ReplayedEvent, ...] | None
    complete: bool

    @property
    def media(self) -> str:
        for name, value in self.headers:
            if name == "content-type":
                return value.split(";", 1)[0].strip().lower()
        return ""

    async def answer(self, clock: Clock, speed: float, receive: Receive, send: Send) -> None:
        """Send the recorded answer; a stream's events on `clock`, gaps times `speed`."""
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers]
        if self.events is None:
            body = (self.body or "").encode("utf-8", "surrogateescape")
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        headers.append((b"cache-control", b"no-cache"))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        # Each event is due at its recorded offset from the start, so the time spent
        # sending does not add up over a long stream.
        due = clock.now()
        for event in self.events:
            due += event.gap * speed
            wait = due - clock.now()
            if speed > 0 and wait > 0 and not await pause(clock, wait, receive):
                return  # the client left
            await send({"type": "http.response.body", "body": frame_of(event), "more_body": True})
        if self.complete:
            await send({"type": "http.response.body", "body": b""})
        # else: the upstream dropped the connection here, and so does the replay


def frame_of(event: ReplayedEvent) -> bytes:
    head = f"event: {event.name}\n" if event.name else ""
    lines = "".join(f"data: {line}\n" for line in event.data.split("\n"))
    return f"{head}{lines}\n".encode("utf-8", "surrogateescape")


class Recording:
    """The exchanges of one recording folder, handed out in order per request."""

    def __init__(self, takes: list[Take]) -> None:
        self.takes = takes
        self._exact: dict[tuple[str, ...], deque[Take]] = {}
        self._loose: dict[tuple[str, ...], deque[Take]] = {}
        self._last: dict[tuple[str, ...], Take] = {}
        self._used: set[int] = set()
        for take in takes:
            if take.body is None and take.events is None:
                continue  # a binary or too long answer: the catalogue answers instead
            self._exact.setdefault((take.method, take.path, take.query), deque()).append(take)
            self._loose.setdefault((take.method, take.path), deque()).append(take)

    def __len__(self) -> int:
        return len(self.takes)

    def take(self, method: str, path: str, query: str) -> Take | None:
        """The recorded answer for a request, or None when the recording has none."""
        for key, queues in (
            ((method, path, query), self._exact),
            ((method, path), self._loose),
        ):
            waiting = queues.get(key)
            while waiting and waiting[0].number in self._used:
                waiting.popleft()  # answered through the other table
            if waiting:
                found: Take = waiting.popleft()
                self._used.add(found.number)
                self._last[key] = found
                return found
            if key in self._last:
                return self._last[key]
        return None

    def __deepcopy__(self, memo: dict[int, Any]) -> Recording:
        """A copy for a snapshot: where each request has got to, sharing the (unchanging)
        recorded answers rather than copying them."""
        clone = Recording.__new__(Recording)
        clone.takes = self.takes
        clone._exact = {key: deque(queue) for key, queue in self._exact.items()}
        clone._loose = {key: deque(queue) for key, queue in self._loose.items()}
        clone._last = dict(self._last)
        clone._used = set(self._used)
        return clone

    def fresh(self) -> Recording:
        """The same recording, from its first exchange again (for a reset app)."""
        return Recording(self.takes)


def load_recording(folder: str | Path) -> Recording | None:
    """The recording in `folder/recording/`, or None when the folder has none.

    `RecordingError` when a file is not a recorded exchange or the recording is
    past its bounds.
    """
    root = Path(folder) / RECORDING
    if not root.is_dir():
        return None
    takes: list[Take] = []
    size = 0
    for path in sorted(root.glob("[0-9]*.json")):
        if len(takes) >= MAX_EXCHANGES:
            raise RecordingError(f"{root} holds more than {MAX_EXCHANGES} exchanges")
        try:
            raw = path.read_bytes()
            size += len(raw)
            if size > MAX_BYTES:
                raise RecordingError(f"{root} holds more than {MAX_BYTES} bytes")
            takes.append(_take(len(takes) + 1, json.loads(raw)))
        except KeyError as error:
            raise RecordingError(f"{path} is not a recorded exchange: it lacks {error}") from None
        except (OSError, ValueError, TypeError, RecursionError) as error:
            raise RecordingError(f"{path} is not a recorded exchange: {error}") from None
    return Recording(takes)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    return value


def _optional_text(value: Any, name: str) -> str | None:
    return None if value is None else _text(value, name)


def _take(number: int, document: Any) -> Take:
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    status = document["status"]
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise ValueError(f"status must be 200 to 599, not {status!r}")
    headers = document.get("headers") or {}
    if not isinstance(headers, dict):
        raise ValueError("headers must be an object")
    pairs = tuple(
        (_text(name, "a header name").lower(), _text(value, "a header value"))
        for name, value in headers.items()
    )
    for name, value in pairs:
        value.encode("latin-1")
        if not name or any(c in name for c in " :\r\n") or any(c in value for c in "\r\n"):
            raise ValueError(f"header {name!r} is not a valid header")
    events = None
    raw_events = document.get("events")
    if raw_events is not None:
        if not isinstance(raw_events, list):
            raise ValueError("events must be a list")
        events = []
        for item in raw_events:
            if not isinstance(item, dict):
                raise ValueError("each event must be an object")
            gap = item["gap_ms"]
            if isinstance(gap, bool) or not isinstance(gap, int | float) or not 0 <= gap <= 3.6e6:
                raise ValueError(f"gap_ms must be 0 to 3600000, not {gap!r}")
            kind = _optional_text(item.get("event"), "event")
            if kind is not None and any(c in kind for c in "\r\n"):
                raise ValueError("an event name is one line")
            events.append(ReplayedEvent(gap / 1000, kind, _text(item["data"], "data")))
    return Take(
        number=number,
        method=_text(document["method"], "method").upper(),
        path=_text(document["path"], "path"),
        query=_text(document.get("query", ""), "query"),
        request=_optional_text(document.get("request"), "request"),
        status=status,
        headers=pairs,
        body=_optional_text(document.get("body"), "body"),
        events=None if events is None else tuple(events),
        complete=bool(document.get("complete", True)),
    )
