"""Reading HAR files: entries as `Exchange`s, and event-stream bodies as events."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mockgpt.catalogue import ResponseSpec
from mockgpt.errors import MockGPTError
from mockgpt.framing import SSEReader
from mockgpt.responses_api.encoding import FIELDS as RESPONSE_EVENT_FIELDS

#: The event schema of the web conversation stream, whose `delta` events are decoded too.
CONVERSATION_EVENTS = "conversation/stream_event.json"
#: What a decoded conversation channel holds: the legacy snapshot envelope.
ENVELOPE = "parts/conversation_envelope.json"
#: The `event:` names each stream is known to use (bare `data:` events have none).
KNOWN_EVENT_NAMES: Mapping[str, frozenset[str]] = {
    CONVERSATION_EVENTS: frozenset({"delta_encoding", "delta"}),
    "openai/response_stream_event.json": frozenset(RESPONSE_EVENT_FIELDS),
}
TEXT_PATHS = ("/message/content/parts/0", "/message/content/text")


class HarError(MockGPTError, ValueError):
    """The capture cannot be read: missing, not JSON, or not a HAR file."""


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HAR entry: a request and its answer, bodies decoded to text where they are text."""

    index: int
    method: str
    url: str
    path: str
    query: tuple[tuple[str, str], ...]
    request_headers: tuple[tuple[str, str], ...]
    request_cookies: tuple[tuple[str, str], ...]
    request_mime: str
    request_text: str | None
    status: int
    response_headers: tuple[tuple[str, str], ...]
    response_cookies: tuple[tuple[str, str], ...]
    response_mime: str
    response_text: str | None
    #: Milliseconds from the request to the first byte, and then to the last (HAR timings).
    wait_ms: float | None = None
    receive_ms: float | None = None

    @property
    def label(self) -> str:
        return f"entry {self.index + 1} ({self.method} {self.path})"


def media_of(mime: object) -> str:
    return mime.split(";", 1)[0].strip().lower() if isinstance(mime, str) else ""


def is_text_media(media: str) -> bool:
    return (
        media.startswith("text/")
        or media.endswith(("json", "+json", "javascript", "xml"))
        or media in ("application/x-www-form-urlencoded", "")
    )


def _pairs(raw: object) -> tuple[tuple[str, str], ...]:
    """`[{"name": ..., "value": ...}, ...]` as pairs, skipping malformed items."""
    if not isinstance(raw, list):
        return ()
    return tuple(
        (item["name"], item["value"])
        for item in raw
        if isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("value"), str)
    )


def _body(container: object, media: str) -> str | None:
    """The text of a HAR `content` or `postData` object (None when absent or not text)."""
    if not isinstance(container, dict):
        return None
    text = container.get("text")
    if not isinstance(text, str):
        return None
    if container.get("encoding") != "base64":
        return text
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"its base64 body does not decode ({error})") from None
    if not is_text_media(media):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _timing(timings: object, name: str) -> float | None:
    if not isinstance(timings, dict):
        return None
    value = timings.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _exchange(index: int, entry: object) -> Exchange:
    if not isinstance(entry, dict):
        raise ValueError("it is not a JSON object")
    request, response = entry.get("request"), entry.get("response")
    if not isinstance(request, dict) or not isinstance(response, dict):
        raise ValueError("it lacks a request or a response object")
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or not method:
        raise ValueError("its request has no method or url")
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        raise ValueError("its response has no numeric status")
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise ValueError(f"its url does not parse ({error})") from None
    post = request.get("postData")
    request_mime = media_of(post.get("mimeType")) if isinstance(post, dict) else ""
    request_text = _body(post, request_mime or "application/json")
    content = response.get("content")
    response_mime = media_of(content.get("mimeType")) if isinstance(content, dict) else ""
    response_text = _body(content, response_mime)
    timings = entry.get("timings")
    return Exchange(
        index=index,
        method=method.upper(),
        url=url,
        path=unquote(parts.path) or "/",
        query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
        request_headers=_pairs(request.get("headers")),
        request_cookies=_pairs(request.get("cookies")),
        request_mime=request_mime,
        request_text=request_text,
        status=status,
        response_headers=_pairs(response.get("headers")),
        response_cookies=_pairs(response.get("cookies")),
        response_mime=response_mime,
        response_text=response_text,
        wait_ms=_timing(timings, "wait"),
        receive_ms=_timing(timings, "receive"),
    )


def read_har(path: str | Path) -> tuple[list[Exchange], list[str]]:
    """The entries of a HAR file, and a note for each entry too broken to use.

    `HarError` (with a one-line message) when the file is missing, is not JSON
    or has no `log.entries` list.
    """
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise HarError(f"cannot read {name}: {error.strerror or error}") from None
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise HarError(f"{name} is not a HAR file: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise HarError(
            f"{name} is not a HAR file: invalid JSON at line {error.lineno} "
            f"column {error.colno} ({error.msg})"
        ) from None
    except RecursionError:
        raise HarError(f"{name} is not a HAR file: JSON nested too deeply") from None
    log = document.get("log") if isinstance(document, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise HarError(f"{name} is not a HAR file: it has no log.entries list")
    exchanges: list[Exchange] = []
    notes: list[str] = []
    for index, entry in enumerate(entries):
        try:
            exchanges.append(_exchange(index, entry))
        except ValueError as error:
            notes.append(f"entry {index + 1} skipped: {error}")
    return exchanges, notes


_ID_SEGMENT = re.compile(r"^(?=.*\d)[A-Za-z0-9_-]{8,}$")


def unknown_key(method: str, path: str) -> str:
    """`METHOD /path` with id-like segments folded to `{id}`, to group unknown routes."""
    segments = ["{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    return f"{method} {'/'.join(segments)}"


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event: its `event:` name (None without one) and its data text."""

    name: str | None
    data: str


@dataclass(frozen=True, slots=True)
class SseBody:
    """A parsed event-stream body with the byte habits the script format can replay."""

    events: tuple[SseEvent, ...]
    comments: int
    crlf: bool
    padded: bool


_LINE_END = re.compile(r"\r\n|\r|\n")


def parse_sse(text: str) -> SseBody:
    """Split an event-stream body into events with mockgpt's `SSEReader`.

    LF, CRLF and CR line ends are read alike; events without data are skipped.
    The comment lines, CRLF line ends and padded data lines (habits a script
    can replay) are noted alongside.
    """
    reader = SSEReader()
    raw = text.encode("utf-8", "replace")  # a lone surrogate cannot be sent anyway
    pairs = [*reader.feed(raw), *reader.close()]
    events = tuple(SseEvent(name.strip() or None if name else None, data) for name, data in pairs)
    lines = _LINE_END.split(text)
    comments = sum(1 for line in lines if line.startswith(":"))
    padded = any(
        line.startswith("data:") and line.endswith(" ") and line[5:].strip() for line in lines
    )
    return SseBody(events, comments, "\r\n" in text, padded)


def is_stream(exchange: Exchange, spec: ResponseSpec | None) -> bool:
    if exchange.response_mime:
        return exchange.response_mime == "text/event-stream"
    text = (exchange.response_text or "").lstrip()
    expects_stream = spec is not None and (spec.is_stream or spec.stream_schema is not None)
    return expects_stream and text.startswith(("data:", "event:", ":"))


def stream_schema_of(spec: ResponseSpec) -> str | None:
    if spec.stream_schema is not None:
        return spec.stream_schema
    return spec.schema if spec.is_stream else None


NOT_JSON = object()


def event_json(event: SseEvent) -> Any:
    text = event.data.strip()
    if text == "" or text == "[DONE]":
        return text or NOT_JSON
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return NOT_JSON
