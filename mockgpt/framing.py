"""Server-sent event bytes, as the real server writes them.

The encodings produce `Event`s (a name and a JSON value); framing turns them
into bytes: `event:` and `data:` lines, LF or CRLF, the server's trailing-space
padding, `: ping` comments and the closing `data: [DONE]`.

Padding, measured on public captures: each `data:` line is padded with spaces
so that the line plus its blank-line terminator fills whole blocks, of 32 bytes
for legacy snapshots and of 8 bytes for `v1` deltas; the `delta_encoding`
line is not padded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mockgpt.jsonfmt import dumps


@dataclass(slots=True)
class Event:
    """One SSE event: an optional `event:` name and its data (JSON, or a raw string)."""

    name: str | None
    data: Any
    raw: bool = False
    #: The JSON text of `data`, when the planner already has it (the hot path).
    encoded: str | None = None

    def text(self) -> str:
        if self.encoded is not None:
            return self.encoded
        return self.data if self.raw else dumps(self.data)


DONE = Event(None, "[DONE]", raw=True)
EMPTY = Event(None, "", raw=True)


@dataclass(frozen=True, slots=True)
class Framing:
    """How events become bytes. The defaults are plain LF framing with no padding."""

    crlf: bool = False
    padding: bool = False
    pad_block: int = 8

    @property
    def newline(self) -> str:
        return "\r\n" if self.crlf else "\n"

    def encode(self, event: Event) -> bytes:
        if not self.padding and not self.crlf:  # the common case, once per event
            if event.name is None:
                return f"data: {event.text()}\n\n".encode()
            return f"event: {event.name}\ndata: {event.text()}\n\n".encode()
        newline = self.newline
        lines = []
        if event.name is not None:
            lines.append(f"event: {event.name}")
        data = f"data: {event.text()}"
        if self.padding and not event.raw and event.name != "delta_encoding":
            size = len(data.encode("utf-8")) + 2 * len(newline)
            data += " " * (-size % self.pad_block)
        lines.append(data)
        return (newline.join(lines) + newline + newline).encode("utf-8")

    def ping(self, moment: float) -> bytes:
        stamp = datetime.fromtimestamp(moment, UTC).isoformat(sep=" ")
        return f": ping - {stamp}{self.newline}{self.newline}".encode()
