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

import codecs
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


JSONEvent = tuple[str | None, str]
"""An event whose data is JSON text already, as `(name, text)`: the cheap form of the hot path."""

WireEvent = Event | JSONEvent
"""What encodings produce and framing writes."""

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

    def encode(self, event: WireEvent) -> bytes:
        if type(event) is tuple:
            name, text, raw = event[0], event[1], False
        else:
            assert isinstance(event, Event)
            name, raw = event.name, event.raw
            text = event.encoded if event.encoded is not None else event.text()
        if not self.padding and not self.crlf:  # the common case, once per event
            if name is None:
                return f"data: {text}\n\n".encode()
            return f"event: {name}\ndata: {text}\n\n".encode()
        newline = self.newline
        lines = []
        if name is not None:
            lines.append(f"event: {name}")
        data = f"data: {text}"
        if self.padding and not raw and name != "delta_encoding":
            size = len(data.encode("utf-8")) + 2 * len(newline)
            data += " " * (-size % self.pad_block)
        lines.append(data)
        return (newline.join(lines) + newline + newline).encode("utf-8")

    def ping(self, moment: float) -> bytes:
        stamp = datetime.fromtimestamp(moment, UTC).isoformat(sep=" ")
        return f": ping - {stamp}{self.newline}{self.newline}".encode()


class SSEReader:
    """Reads server-sent events from bytes as they arrive off the network.

    Writes can split anything: a UTF-8 character, a `\\r\\n` pair, a line, a
    frame. `feed` returns the events completed so far as `(name, data)` pairs
    (name None for bare data; `data` is the data lines joined by `\\n`);
    comments (`: ping`) and events without data are skipped, as the spec says.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._line = ""
        self._after_cr = False
        self._name: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        return self._take(self._decoder.decode(chunk))

    def close(self) -> list[tuple[str | None, str]]:
        """The end of the body: a last event without its blank line still counts."""
        events = self._take(self._decoder.decode(b"", final=True))
        if self._line:
            events += self._line_done(self._line)
            self._line = ""
        return events + self._line_done("")

    def _take(self, text: str) -> list[tuple[str | None, str]]:
        events: list[tuple[str | None, str]] = []
        start = 0
        for index, char in enumerate(text):
            if char == "\n" and self._after_cr and index == start:
                start = index + 1  # the LF of a CRLF whose CR ended the previous line
                self._after_cr = False
                continue
            if char in "\r\n":
                events += self._line_done(self._line + text[start:index])
                self._line = ""
                self._after_cr = char == "\r"
                start = index + 1
                continue
            self._after_cr = False
        self._line += text[start:]
        return events

    def _line_done(self, line: str) -> list[tuple[str | None, str]]:
        if line == "":
            if not self._data:
                self._name = None
                return []
            event = (self._name, "\n".join(self._data))
            self._name, self._data = None, []
            return [event]
        if line.startswith(":"):
            return []
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        return []
