"""Real traffic against the catalogue: drift checks and fixture imports from HAR captures.

A HAR file (what a browser's developer tools save) holds requests and answers
as they really went. Two things are done with one:

* `check_har` matches each entry to a catalogue route (method and path
  template; host and query ignored) and compares its bodies with the route's
  schemas: the request body with the request schema, the answer with the
  schema of its status and, for event streams, every event's JSON data with
  the stream's event schema. It reports per route what drifted: required
  fields gone, fields nobody declared, changed types, values the schema
  refuses, new typed frames and `event:` names, undocumented statuses, and
  entries no route matches. A field counts as new when neither the schema nor
  mockgpt's own answers (its fixtures and the streams it sends) carry it at
  that place, so a capture of mockgpt itself shows no drift.
* `import_har` turns the entries it can match into fixtures laid out like the
  package's `fixtures/` tree, and conversation streams into script files, with
  every credential and personal value replaced by a fake one (`Sanitiser`).
  `Config(fixtures=DIR)` / `mockgpt serve --fixtures DIR` serves them.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import random
import re
import string
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import jsonschema
from faker import Faker

from mockgpt.catalogue import Catalogue, ResponseSpec, Route, load_catalogue
from mockgpt.delta import DeltaDecoder, DeltaError, StreamDecoder
from mockgpt.errors import MockGPTError
from mockgpt.fakedata import same_shape
from mockgpt.framing import SSEReader
from mockgpt.responses_api.encoding import FIELDS as RESPONSE_EVENT_FIELDS
from mockgpt.schemas import FORMAT_CHECKER, resolved_schema, schema_errors
from mockgpt.store import first_turn
from mockgpt.validation import json_type

__all__ = [
    "Drift",
    "Exchange",
    "HarError",
    "ImportResult",
    "Report",
    "RouteReport",
    "Sanitiser",
    "SseEvent",
    "check_exchanges",
    "check_har",
    "import_exchanges",
    "import_har",
    "parse_sse",
    "read_har",
    "script_from_stream",
]

#: The event schema of the web conversation stream, whose `delta` events are decoded too.
CONVERSATION_EVENTS = "conversation/stream_event.json"
#: What a decoded conversation channel holds: the legacy snapshot envelope.
ENVELOPE = "parts/conversation_envelope.json"
#: The `event:` names each stream is known to use (bare `data:` events have none).
KNOWN_EVENT_NAMES: Mapping[str, frozenset[str]] = {
    CONVERSATION_EVENTS: frozenset({"delta_encoding", "delta"}),
    "openai/response_stream_event.json": frozenset(RESPONSE_EVENT_FIELDS),
}
_TEXT_PATHS = ("/message/content/parts/0", "/message/content/text")


class HarError(MockGPTError, ValueError):
    """The capture cannot be read: missing, not JSON, or not a HAR file."""


# --------------------------------------------------------------------------- reading


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


def _media(mime: object) -> str:
    return mime.split(";", 1)[0].strip().lower() if isinstance(mime, str) else ""


def _is_text_media(media: str) -> bool:
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
    if not _is_text_media(media):
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
    request_mime = _media(post.get("mimeType")) if isinstance(post, dict) else ""
    request_text = _body(post, request_mime or "application/json")
    content = response.get("content")
    response_mime = _media(content.get("mimeType")) if isinstance(content, dict) else ""
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


# --------------------------------------------------------------------------- routes


_ID_SEGMENT = re.compile(r"^(?=.*\d)[A-Za-z0-9_-]{8,}$")


def unknown_key(method: str, path: str) -> str:
    """`METHOD /path` with id-like segments folded to `{id}`, to group unknown routes."""
    segments = ["{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    return f"{method} {'/'.join(segments)}"


# --------------------------------------------------------------------------- SSE


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


def _is_stream(exchange: Exchange, spec: ResponseSpec | None) -> bool:
    if exchange.response_mime:
        return exchange.response_mime == "text/event-stream"
    text = (exchange.response_text or "").lstrip()
    expects_stream = spec is not None and (spec.is_stream or spec.stream_schema is not None)
    return expects_stream and text.startswith(("data:", "event:", ":"))


def _stream_schema(spec: ResponseSpec) -> str | None:
    if spec.stream_schema is not None:
        return spec.stream_schema
    return spec.schema if spec.is_stream else None


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True, slots=True)
class Drift:
    """One way a body differs from what mockgpt knows.

    `kind` is one of `missing`, `new`, `type`, `value`, `new-frame-type`,
    `new-event`, `status`, `media`, `body` or `decode`; `where` names the body
    (`request`, `response 200`, `response 200, frame title_generation`...);
    `path` is a JSON path in it (`$.items[*].title`); `detail` says the rest.
    """

    kind: str
    where: str
    path: str
    detail: str


KIND_LABELS: Mapping[str, str] = {
    "missing": "missing field",
    "new": "new field",
    "type": "type changed",
    "value": "value refused",
    "new-frame-type": "new frame type",
    "new-event": "new event name",
    "status": "undocumented status",
    "media": "media type changed",
    "body": "unreadable body",
    "decode": "stream does not decode",
}
_HARD = frozenset({"missing", "type", "value"})
_LEAF_KEYWORDS = (
    "enum",
    "const",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
)


def _type_ok(value: Any, allowed: Sequence[str]) -> bool:
    actual = json_type(value)
    if actual in allowed:
        return True
    if actual == "integer" and "number" in allowed:
        return True
    return actual == "number" and "integer" in allowed and float(value).is_integer()


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _step(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{json.dumps(key)}]"


def _fingerprint(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


class SchemaWalker:
    """Compares JSON values with resolved schemas, field by field.

    Unlike a validator it names every undeclared field, picks the one branch of
    an `anyOf` a value was meant to follow (by its `type`-like discriminator,
    then by the fewest problems), and reports types and values where they
    change. `known` holds, per object schema, the undeclared fields mockgpt's
    own answers carry; those are not reported as new.
    """

    def __init__(self) -> None:
        self.known: dict[str, set[str]] = {}
        self._fingerprints: dict[int, str] = {}
        self._leaf: dict[int, jsonschema.Draft7Validator | None] = {}
        self._pinned: list[Any] = []  # keeps the schemas behind the id() keys alive

    def _print(self, schema: dict[str, Any]) -> str:
        key = id(schema)
        found = self._fingerprints.get(key)
        if found is None:
            found = self._fingerprints[key] = _fingerprint(schema)
            self._pinned.append(schema)
        return found

    def learn(self, schema: dict[str, Any], value: Any) -> None:
        """Record the undeclared fields of `value` (one of mockgpt's own answers) as known."""
        self._walk(schema, value, "$", [], learn=True)

    def compare(self, schema: dict[str, Any], value: Any, where: str) -> list[Drift]:
        out: list[tuple[str, str, str]] = []
        self._walk(schema, value, "$", out, learn=False)
        return [Drift(kind, where, path, detail) for kind, path, detail in out]

    def _leaf_validator(self, schema: dict[str, Any]) -> jsonschema.Draft7Validator | None:
        key = id(schema)
        if key not in self._leaf:
            leaf = {name: schema[name] for name in _LEAF_KEYWORDS if name in schema}
            self._leaf[key] = (
                jsonschema.Draft7Validator(leaf, format_checker=FORMAT_CHECKER) if leaf else None
            )
            self._pinned.append(schema)
        return self._leaf[key]

    def _walk(
        self,
        schema: Any,
        value: Any,
        path: str,
        out: list[tuple[str, str, str]],
        *,
        learn: bool,
    ) -> None:
        if not isinstance(schema, dict):
            return
        branches = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(branches, list) and branches:
            self._branch(branches, value, path, out, learn=learn)
        for part in schema.get("allOf", ()):
            self._walk(part, value, path, out, learn=learn)
        declared = schema.get("type")
        if declared is not None:
            allowed = [declared] if isinstance(declared, str) else list(declared)
            if not _type_ok(value, allowed):
                out.append(("type", path, f"expected {'|'.join(allowed)}, got {json_type(value)}"))
                return
        if isinstance(value, dict):
            self._object(schema, value, path, out, learn=learn)
        elif isinstance(value, list):
            items = schema.get("items")
            if isinstance(items, dict):
                for item in value:
                    self._walk(items, item, f"{path}[*]", out, learn=learn)
            elif isinstance(items, list):
                for index, (part, item) in enumerate(zip(items, value, strict=False)):
                    self._walk(part, item, f"{path}[{index}]", out, learn=learn)
        leaf = self._leaf_validator(schema)
        if leaf is not None:
            for error in leaf.iter_errors(value):
                out.append(("value", path, _short(error.message)))

    def _object(
        self,
        schema: dict[str, Any],
        value: dict[str, Any],
        path: str,
        out: list[tuple[str, str, str]],
        *,
        learn: bool,
    ) -> None:
        for name in schema.get("required", ()):
            if name not in value:
                out.append(("missing", _step(path, name), "required field absent"))
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        patterns = schema.get("patternProperties")
        known: set[str] | None = None
        for key, item in value.items():
            if isinstance(properties, dict) and key in properties:
                self._walk(properties[key], item, _step(path, key), out, learn=learn)
                continue
            if isinstance(patterns, dict):
                matched = [sub for regex, sub in patterns.items() if re.search(regex, key)]
                if matched:
                    for sub in matched:
                        self._walk(sub, item, f"{path}.*", out, learn=learn)
                    continue
            if isinstance(extra, dict):
                self._walk(extra, item, f"{path}.*", out, learn=learn)
                continue
            if not isinstance(properties, dict):
                continue  # the schema says nothing about this object's fields
            if known is None:
                known = self.known.setdefault(self._print(schema), set())
            if learn:
                known.add(key)
            elif key not in known:
                out.append(("new", _step(path, key), f"undeclared field ({json_type(item)})"))

    def _branch(
        self,
        branches: list[Any],
        value: Any,
        path: str,
        out: list[tuple[str, str, str]],
        *,
        learn: bool,
    ) -> None:
        candidates = _discriminated(branches, value)
        best: list[tuple[str, str, str]] | None = None
        best_score: tuple[int, int, int] | None = None
        chosen: Any = None
        for branch in candidates:
            found: list[tuple[str, str, str]] = []
            self._walk(branch, value, path, found, learn=False)
            # A branch of another type is the worst fit, then the one with more problems.
            rooted = int(any(kind == "type" and where == path for kind, where, _ in found))
            hard = sum(1 for kind, _, _ in found if kind in _HARD)
            score = (rooted, hard, len(found) - hard)
            if best_score is None or score < best_score:
                best, best_score, chosen = found, score, branch
            if score == (0, 0, 0):
                break
        if learn:
            self._walk(chosen, value, path, out, learn=True)
        elif best:
            out.extend(best)


def _discriminator(branch: Any) -> dict[str, list[Any]]:
    """The properties of a branch that admit fixed values only (`type`, `content_type`...)."""
    if not isinstance(branch, dict) or not isinstance(branch.get("properties"), dict):
        return {}
    found: dict[str, list[Any]] = {}
    for name, spec in branch["properties"].items():
        if isinstance(spec, dict):
            if isinstance(spec.get("enum"), list):
                found[name] = spec["enum"]
            elif "const" in spec:
                found[name] = [spec["const"]]
    return found


def _discriminated(branches: list[Any], value: Any) -> list[Any]:
    """The branches a value's discriminating fields point to (all of them when none do).

    A field discriminates when two branches or more fix its values (`type` of
    the stream's frames, `content_type` of message contents).
    """
    if not isinstance(value, dict):
        return branches
    fixed = [_discriminator(branch) for branch in branches]
    counts = Counter(name for found in fixed for name in found)
    keys = {name for name, count in counts.items() if count > 1 and name in value}
    if not keys:
        return branches
    agreeing: list[Any] = []
    neutral: list[Any] = []
    for branch, found in zip(branches, fixed, strict=True):
        relevant = {name: allowed for name, allowed in found.items() if name in keys}
        if not relevant:
            neutral.append(branch)
        elif all(value[name] in allowed for name, allowed in relevant.items()):
            agreeing.append(branch)
    return agreeing or neutral or branches


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def frame_types(schema: Mapping[str, Any]) -> frozenset[str] | None:
    """The `type` values of the typed frames an event schema knows (None: any type passes)."""
    branches = schema.get("anyOf") or schema.get("oneOf") or [schema]
    types: set[str] = set()
    for branch in branches:
        if not isinstance(branch, dict):
            continue
        spec = (branch.get("properties") or {}).get("type")
        if spec is None:
            continue
        fixed = _discriminator({"properties": {"type": spec}}).get("type")
        if fixed is None:
            return None
        types.update(str(item) for item in fixed)
    return frozenset(types)


# --------------------------------------------------------------------------- baseline


@cache
def _resolved(relative: str) -> dict[str, Any]:
    return resolved_schema(relative)


def _own_streams() -> list[tuple[str, str]]:
    """(event schema, body) of the streams mockgpt itself sends: v1, legacy and `/v1`."""
    from mockgpt.config import Config
    from mockgpt.controller import MockGPT

    mock = MockGPT(Config(clock="virtual"))
    every_frame = {"moderation": True, "conversation_async_status": True}
    turn = first_turn("hello")
    headers = {"authorization": "Bearer mockgpt"}
    bodies: list[tuple[str, str]] = []
    with mock.test_client(headers=headers) as client:
        mock.reply("Hello there.", frames=every_frame)
        answer = client.post("/backend-api/f/conversation", json=first_turn("hello", v1=True))
        bodies.append((CONVERSATION_EVENTS, answer.text))
        mock.reply("Hello again.", frames=every_frame)
        bodies.append(
            (CONVERSATION_EVENTS, client.post("/backend-api/conversation", json=turn).text)
        )
        completion = {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hello"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        answer = client.post("/v1/chat/completions", json=completion)
        bodies.append(("openai/chat_completion_chunk.json", answer.text))
        response = {
            "model": "gpt-5",
            "input": "hello",
            "stream": True,
            "reasoning": {"summary": "auto"},
        }
        answer = client.post("/v1/responses", json=response)
        bodies.append(("openai/response_stream_event.json", answer.text))
    return bodies


@cache
def _baseline() -> SchemaWalker:
    """A walker that knows the undeclared fields of every fixture and stream mockgpt sends."""
    from mockgpt._resources import fixture_path, read_json

    walker = SchemaWalker()
    for route in load_catalogue():
        for spec in route.responses:
            if spec.is_json and spec.schema and spec.fixture:
                walker.learn(_resolved(spec.schema), read_json(fixture_path(spec.fixture)))
        if route.request and route.request_example:
            walker.learn(_resolved(route.request), read_json(fixture_path(route.request_example)))
    for schema, body in _own_streams():
        events = _resolved(schema)
        decoder = DeltaDecoder()
        for event in parse_sse(body).events:
            data = _event_json(event)
            if data is _NOT_JSON or data == "[DONE]":
                continue
            walker.learn(events, data)
            if schema == CONVERSATION_EVENTS:
                _feed(decoder, event, data)
        for root in decoder.channels.values():
            walker.learn(_resolved(ENVELOPE), root)
    return walker


_NOT_JSON = object()


def _event_json(event: SseEvent) -> Any:
    text = event.data.strip()
    if text == "" or text == "[DONE]":
        return text or _NOT_JSON
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return _NOT_JSON


def _feed(decoder: DeltaDecoder, event: SseEvent, data: Any) -> str | None:
    """Feed a decoder one v1 event; the reason when it refuses it."""
    if decoder.encoding is None and event.name != "delta_encoding":
        return None  # a legacy stream: nothing to decode
    try:
        decoder.feed(event.name, data)
    except DeltaError as error:
        return str(error)
    return None


# --------------------------------------------------------------------------- check


@dataclass(slots=True)
class RouteReport:
    """What one route's entries showed."""

    key: str
    entries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    #: Each finding with the number of entries it was seen in.
    findings: dict[Drift, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.findings)


@dataclass(slots=True)
class Report:
    """The result of `check_har`: per route findings, unknown routes and skipped entries."""

    source: str
    entries: int = 0
    routes: dict[str, RouteReport] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.unknown) or any(route.drifted for route in self.routes.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "entries": self.entries,
            "drifted": self.drifted,
            "routes": [
                {
                    "route": route.key,
                    "entries": route.entries,
                    "statuses": {str(status): n for status, n in sorted(route.statuses.items())},
                    "findings": [
                        {
                            "kind": drift.kind,
                            "where": drift.where,
                            "path": drift.path,
                            "detail": drift.detail,
                            "entries": count,
                        }
                        for drift, count in route.findings.items()
                    ],
                    "notes": list(route.notes),
                }
                for route in self.routes.values()
            ],
            "unknown_routes": [
                {"route": key, "entries": count} for key, count in self.unknown.items()
            ],
            "skipped": list(self.skipped),
        }

    def render(self) -> str:
        """The report as text, one block per route."""
        lines = [
            f"{self.source}: {self.entries} entries, {len(self.routes)} catalogue routes, "
            f"{len(self.unknown)} unknown"
        ]
        for route in self.routes.values():
            statuses = ", ".join(
                f"{status} x{count}" if count > 1 else str(status)
                for status, count in sorted(route.statuses.items())
            )
            plural = "entry" if route.entries == 1 else "entries"
            count = len(route.findings)
            verdict = f"{count} finding{'' if count == 1 else 's'}" if count else "no drift"
            lines.append(f"{route.key}: {route.entries} {plural} ({statuses}), {verdict}")
            width = max((len(KIND_LABELS[d.kind]) for d in route.findings), default=0)
            for drift, count in route.findings.items():
                seen = "" if route.entries == 1 else f"  [{count}/{route.entries} entries]"
                lines.append(
                    f"  {KIND_LABELS[drift.kind]:<{width}}  {drift.where}  {drift.path}"
                    f"  {drift.detail}{seen}"
                )
            lines.extend(f"  note: {note}" for note in route.notes)
        if self.unknown:
            lines.append("unknown routes (no catalogue match):")
            for key, count in self.unknown.items():
                lines.append(f"  {key}: {count} {'entry' if count == 1 else 'entries'}")
        lines.extend(f"skipped: {note}" for note in self.skipped)
        drifted = sum(1 for route in self.routes.values() if route.drifted)
        if self.drifted:
            lines.append(
                f"drift: {drifted} of {len(self.routes)} routes drifted, "
                f"{len(self.unknown)} unknown routes"
            )
        else:
            lines.append("no drift")
        return "\n".join(lines)


class Checker:
    """Compares exchanges with the catalogue (one per check; it keeps the known fields)."""

    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or load_catalogue()
        self.walker = _baseline()

    def exchange(self, exchange: Exchange, route: Route) -> tuple[list[Drift], list[str]]:
        """The drift of one exchange, and notes on what could not be checked."""
        drifts: list[Drift] = []
        notes: list[str] = []
        self._request(exchange, route, drifts)
        status = exchange.status
        if status == 0 or 100 <= status < 200 or 300 <= status < 400:
            notes.append(f"{exchange.label}: status {status} has no body to check")
            return drifts, notes
        try:
            spec = route.response(status)
        except KeyError:
            documented = ", ".join(str(s.status) for s in route.responses)
            drifts.append(
                Drift("status", f"response {status}", "$", f"not documented ({documented})")
            )
            return drifts, notes
        where = f"response {status}"
        documented = _media(spec.media)
        captured = exchange.response_mime
        if _is_stream(exchange, spec):
            schema = _stream_schema(spec)
            if schema is None:
                detail = f"text/event-stream, documented as {documented or 'no body'}"
                drifts.append(Drift("media", where, "$", detail))
            elif exchange.response_text is None:
                notes.append(f"{exchange.label}: no response text in the capture")
            else:
                drifts.extend(self.stream(schema, exchange.response_text, where))
            return drifts, notes
        if spec.media is None:
            return drifts, notes  # documented without a body (204)
        if not spec.is_json:
            if captured and captured != documented:
                drifts.append(Drift("media", where, "$", f"{captured}, documented as {documented}"))
            return drifts, notes
        if captured and not captured.endswith("json"):
            drifts.append(Drift("media", where, "$", f"{captured}, documented as {documented}"))
            return drifts, notes
        if exchange.response_text is None:
            notes.append(f"{exchange.label}: no response text in the capture")
            return drifts, notes
        drifts.extend(self.body(spec.schema, exchange.response_text, where))
        return drifts, notes

    def _request(self, exchange: Exchange, route: Route, drifts: list[Drift]) -> None:
        text = exchange.request_text
        if route.request is None or text is None or not text.strip():
            return
        if exchange.request_mime and not exchange.request_mime.endswith("json"):
            drifts.append(
                Drift("media", "request", "$", f"{exchange.request_mime}, documented as JSON")
            )
            return
        drifts.extend(self.body(route.request, text, "request"))

    def body(self, schema: str | None, text: str, where: str) -> list[Drift]:
        """The drift of one JSON body against a schema file."""
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            return [Drift("body", where, "$", f"not JSON ({_short(str(error), 80)})")]
        if schema is None:
            return []
        return self.value(schema, value, where)

    def value(self, schema: str, value: Any, where: str) -> list[Drift]:
        try:
            drifts = self.walker.compare(_resolved(schema), value, where)
            if not any(d.kind in _HARD for d in drifts):
                # The walker picks one branch per anyOf; the validator has the last word.
                refused = [
                    e for e in schema_errors(schema, value) if e.validator != "additionalProperties"
                ]
                for error in refused[:3]:
                    path = _error_path(error.absolute_path)
                    drifts.append(Drift("value", where, path, _short(error.message)))
        except RecursionError:
            return [Drift("body", where, "$", "nested too deeply to check")]
        return drifts

    def stream(self, schema: str, text: str, where: str) -> list[Drift]:
        """The drift of an event-stream body, event by event, and of its decoded messages."""
        events = _resolved(schema)
        known_types = frame_types(events)
        known_names = KNOWN_EVENT_NAMES.get(schema, frozenset())
        decoder = DeltaDecoder() if schema == CONVERSATION_EVENTS else None
        decode_error: str | None = None
        drifts: list[Drift] = []
        for event in parse_sse(text).events:
            if event.name is not None and event.name not in known_names:
                drifts.append(Drift("new-event", where, "$", f"event: {event.name}"))
            data = _event_json(event)
            label = f"{where}, event {event.name}" if event.name else f"{where}, data"
            if data is _NOT_JSON:
                if event.data.strip():
                    drifts.append(Drift("body", label, "$", "event data is not JSON"))
                continue
            if data == "[DONE]":
                continue
            kind = data.get("type") if isinstance(data, dict) else None
            if isinstance(kind, str):
                label = f"{where}, frame {kind}"
                if known_types is not None and kind not in known_types:
                    drifts.append(Drift("new-frame-type", label, "$.type", f"type {kind!r}"))
                    continue
            drifts.extend(self.value(schema, data, label))
            if decoder is not None and decode_error is None:
                decode_error = _feed(decoder, event, data)
        if decode_error is not None:
            drifts.append(Drift("decode", where, "$", _short(decode_error)))
        elif decoder is not None:
            for channel, root in sorted(decoder.channels.items()):
                label = f"{where}, decoded channel"
                if isinstance(root, dict):
                    drifts.extend(self.value(ENVELOPE, root, label))
                else:
                    drifts.append(Drift("type", label, "$", f"channel {channel} is not an object"))
        return drifts


def _error_path(parts: Iterable[Any]) -> str:
    path = "$"
    for part in parts:
        path = f"{path}[*]" if isinstance(part, int) else _step(path, str(part))
    return path


def check_exchanges(
    exchanges: Iterable[Exchange], source: str, catalogue: Catalogue | None = None
) -> Report:
    checker = Checker(catalogue)
    report = Report(source)
    for exchange in exchanges:
        report.entries += 1
        route = checker.catalogue.router.route(exchange.method, exchange.path)
        if route is None:
            key = unknown_key(exchange.method, exchange.path)
            report.unknown[key] = report.unknown.get(key, 0) + 1
            continue
        routed = report.routes.setdefault(route.key, RouteReport(route.key))
        routed.entries += 1
        routed.statuses[exchange.status] += 1
        drifts, notes = checker.exchange(exchange, route)
        for drift in dict.fromkeys(drifts):
            routed.findings[drift] = routed.findings.get(drift, 0) + 1
        routed.notes.extend(notes)
    return report


def check_har(path: str | Path, catalogue: Catalogue | None = None) -> Report:
    """Check a HAR capture against the catalogue. `HarError` when it cannot be read."""
    exchanges, notes = read_har(path)
    report = check_exchanges(exchanges, str(path), catalogue)
    report.entries += len(notes)
    report.skipped.extend(notes)
    return report


# --------------------------------------------------------------------------- sanitising

_JWT = r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
_EMAIL = (
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*(?:@|%40|\\u0040)"
    r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
#: How an email's `@` may be written: plain, URL-encoded, JSON-escaped.
_AT_SIGNS = ("%40", "\\u0040", "@")
_UUID = (
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
    r"-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
)
_PREFIXED = (
    r"(?<![A-Za-z0-9])(?:user|org|acct|account|sess|cus|sub|proj|file|device|ws)"
    r"-[A-Za-z0-9]{12,}(?![A-Za-z0-9])"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)"
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
_STRUCTURED = re.compile(rf"{_JWT}|{_EMAIL}|{_UUID}|{_PREFIXED}|{_IPV4}|{_IPV6}")
#: A PEM private key, whole or cut short, with real or JSON-escaped line breaks.
_PEM = (
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\[nr])*"
    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY-----)?"
)
#: A fragment of a DER key or certificate in base64 (they all start `MII`).
_DER = r"(?<![A-Za-z0-9+/])MII[A-Za-z0-9+/]{40,}={0,2}"
#: Query parameters of signed URLs and one-time-password URIs whose values are secrets:
#: Azure SAS (`sig`, `se`, `skoid`...), AWS and Google (`X-Amz-Signature`...), CloudFront
#: (`Signature`, `Policy`, `Key-Pair-Id`), `otpauth://` (`secret`), OAuth leftovers.
_SIGNED_PARAM = (
    r"(?:(?<=[?&;])|(?<=\\u0026))(?i:sig|signature|se|st|skoid|sktid|skt|ske|sks|sdd"
    r"|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature"
    r"|x-goog-credential|key-pair-id|policy|secret|token|access_token|refresh_token"
    r"|id_token|code|state|client_secret|password)=[^&\s\"'<>\\#]+"
)
#: Stripe object ids (customers, subscriptions, payments, cards, keys...): mixed case
#: with a digit, so words like `in_progress` are spared.
_STRIPE = (
    r"(?<![A-Za-z0-9_])(?:cus|sub|sub_sched|pi|pm|ch|in|ii|il|seti|si|src|card|ba|acct"
    r"|evt|txn|re|py|po|cs_live|cs_test|bps|plink|tok|sk_live|pk_live|rk_live|sk_test"
    r"|pk_test|rk_test|whsec|cn|dp|du|sli|si|ss|ipi|prod|price|promo)_"
    r"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{8,}(?![A-Za-z0-9])"
)
#: A Google account's profile-picture id (lh3.googleusercontent.com/a/<id>).
_GOOGLE_PICTURE = (
    r"(?:(?<=googleusercontent\.com/a/)|(?<=googleusercontent\.com/a-/)"
    r"|(?<=googleusercontent\.com\\/a\\/)|(?<=googleusercontent\.com%2Fa%2F))[A-Za-z0-9_-]{10,}"
)
#: The last four digits of a card, after the words or dots that introduce them.
_CARD_LAST4 = (
    r"(?:(?<=ending in )|(?<=ending with )|(?<=ending )|(?<=Ending in )|(?<=•••• )"
    r"|(?<=\*\*\*\* )|(?<=XXXX )|(?<=xxxx )|(?<=····)|(?<=•••)|(?<=last 4: )|(?<=last4: ))"
    r"\d{4}(?!\d)"
)
#: A street address: a house number, up to four capitalised words and a street kind.
_STREET = (
    r"(?<![\w-])\d{1,6}[A-Za-z]?(?:\s+[A-Z][A-Za-z'.-]*){1,4}\s+"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Parkway"
    r"|Pkwy|Place|Pl|Terrace|Square|Sq|Highway|Hwy|Circle|Cir|Close|Crescent|Row)\b\.?"
)
#: Object keys whose whole string values are secrets or personal, whatever their length.
_WHOLE_VALUE_KEY = re.compile(
    r"(?i)token$|secret|password|passwd|api_?key|authori[sz]ation|signature|credential"
    r"|recovery_?codes?|backup_?codes?|(?:^|_)(?:otp|totp|mfa)_?(?:secret|seed|codes?|uri|url)?$"
    r"|last_?4|last_?four|^line[12]$|address_?line|street|postal_?code|^zip(?:_?code)?$"
)

#: Object keys whose string values identify a person, an account or a session.
_ID_KEY = re.compile(
    r"(?i)(?:^|_|-)(?:account|user|org|organization|workspace|device|customer|member|session"
    r"|poid|chatgpt_account|chatgpt_user)[_-]?(?:id|uuid)$|^(?:sub|sid|jti|username|handle)$"
    r"|(?<=[a-z])(?:AccountId|UserId|DeviceId|SessionId|OrgId)$"
)
#: Object keys and query parameters whose values are credentials.
_SECRET_KEY = re.compile(
    r"(?i)token$|secret|password|passwd|cookie|api_?key|authori[sz]ation|signature|credential"
    r"|hash$"
)
#: Header names whose values are credentials or identify the user, device or session.
_SECRET_HEADER = re.compile(
    r"(?i)token$|secret|api-key|session|signature|credential|(?:account|device|user|org)-id$"
)
#: Keys that hold a person's name wherever they appear.
_PERSON_KEYS = frozenset(
    {"user_name", "full_name", "first_name", "last_name", "given_name", "family_name", "nickname"}
)
#: Keys that hold a person's name in an object about a person.
_NAME_KEYS = frozenset({"name", "display_name", "preferred_username"})
#: Keys that make an object be about a person.
_PERSON_HINTS = frozenset(
    {"email", "picture", "avatar", "avatar_url", "phone_number", "profile_picture_url", "user_id"}
)
_PICTURE_KEYS = frozenset({"picture", "avatar", "avatar_url", "image", "profile_picture_url"})
_AVATAR_HASH = re.compile(r"/avatar/([0-9a-fA-F]{32,64})")
#: What a person's name looks like: up to five words of letters (any script).
_PERSON_NAME = re.compile(r"[^\W\d_][^\W\d_.'-]*(?:[ .'-]+[^\W\d_][^\W\d_.'-]*){0,4}\.?")
#: Authors the service itself signs as, which are no one's name.
_SERVICE_NAMES = frozenset({"chatgpt", "openai", "gpt", "assistant", "system", "user", "tool"})
_PERSON_PARENTS = frozenset({"user", "owner", "creator", "member", "profile", "author_profile"})
_ORG_PARENTS = frozenset({"account", "organization", "org", "workspace", "team"})
_PHONE_KEYS = frozenset({"phone", "phone_number", "mobile"})
_TEST_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sanitiser:
    """Replaces credentials and personal values by fake ones, the same fake for the same value.

    Learn first (`learn_exchange`, `learn_json`): values found by the name of
    their key or header (names, account and user ids, cookies, tokens) are
    recorded. Then `text` and `json` replace, in one pass over each string,
    JWTs (rebuilt around sanitised claims), emails, UUIDs, prefixed ids,
    IPv4/IPv6 addresses and every learned value. Fakes are drawn from one
    generator seeded with `seed` in the order values are met, so one capture
    gives the same output for the same seed, and no fake is derived from the
    real value it replaces.
    """

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(f"mockgpt har import\x1f{seed}")
        self._faker = Faker("en_US")
        self._fakes: dict[str, str] = {}
        self._names: dict[str, str] = {}  # lowercased real name -> fake
        self._literals: dict[str, str] = {}  # real token/id -> kind
        self._shorts: set[str] = set()  # short credentials, replaced as whole words
        self._used: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    # -- fakes ---------------------------------------------------------------------

    @property
    def replaced(self) -> int:
        """How many distinct real values have a fake."""
        return len(self._fakes) + len(self._names)

    def _unique(self, make: Callable[[], str]) -> str:
        for _ in range(100):
            candidate: str = make()
            if candidate not in self._used and candidate not in self._fakes:
                self._used.add(candidate)
                return candidate
        raise MockGPTError("could not draw a fresh fake value")

    def _fake_name(self) -> tuple[str, str]:
        self._faker.seed_instance(self._rng.getrandbits(64))
        return self._faker.first_name(), self._faker.last_name()

    def _fake(self, real: str, kind: str) -> str:
        found = self._fakes.get(real)
        if found is not None:
            return found
        rng = self._rng
        if kind == "jwt":
            fake = self._jwt(real)
        elif kind == "email":
            fake = self._unique(lambda: self._email(real))
        elif kind == "uuid":
            text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            fake = text.upper() if real.isupper() else text
        elif kind == "ipv4":
            fake = self._unique(lambda: rng.choice(_TEST_NETS) + str(rng.randint(1, 254)))
        elif kind == "ipv6":
            fake = self._unique(
                lambda: str(ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(96)))
            )
        elif kind == "phone":
            fake = self._unique(lambda: "+1555555" + "".join(rng.choices(string.digits, k=4)))
        elif kind == "street":
            self._faker.seed_instance(rng.getrandbits(64))
            fake = self._unique(self._faker.street_address)
        elif kind == "digits":
            fake = self._unique(lambda: "".join(rng.choices(string.digits, k=len(real))))
        elif kind == "org":
            self._faker.seed_instance(rng.getrandbits(64))
            fake = self._unique(self._faker.company)
        else:
            fake = self._unique(lambda: same_shape(rng, real))
        self._fakes[real] = fake
        self._used.add(fake)
        return fake

    def _email(self, real: str) -> str:
        """A fake address at a reserved domain; when the real one is made of a learned
        name (`ada.lovelace@...`), made of that name's fake the same way."""
        domain = self._rng.choice(("example.com", "example.org", "example.net"))
        local = real.rsplit("@", 1)[0].lower()
        pieces = re.split(r"([._+-])", local)
        words = pieces[::2]
        if all(word in self._names and " " not in self._names[word] for word in words):
            pieces[::2] = [self._names[word].lower() for word in words]
            made = "".join(ch for ch in "".join(pieces) if ch.isalnum() or ch in "._+-")
            if f"{made}@{domain}" not in self._used:
                return f"{made}@{domain}"
        first, last = self._fake_name()
        made = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
        if self._rng.random() < 0.5:
            made += str(self._rng.randint(1, 99))
        return f"{made}@{domain}"

    def _jwt(self, real: str) -> str:
        head, body, signature = real.split(".")
        parts = []
        for segment in (head, body):
            try:
                claims = json.loads(_unb64url(segment))
            except (ValueError, binascii.Error, RecursionError):
                parts.append(same_shape(self._rng, segment))
                continue
            parts.append(_b64url(json.dumps(self.json(claims), separators=(",", ":")).encode()))
        parts.append(same_shape(self._rng, signature))
        return ".".join(parts)

    # -- learning --------------------------------------------------------------------

    def _literal(self, value: str, kind: str = "token", *, minimum: int = 8) -> None:
        """Replace `value` wherever it appears (values the patterns find need no entry)."""
        value = value.strip()
        if value.startswith("eyJ"):
            self.learn_text(value)
        if len(value) < minimum or value in self._literals:
            return
        if len(re.sub(r"[^A-Za-z0-9]", "", _STRUCTURED.sub("", value))) < 4:
            return  # made of emails, ids and addresses, which the patterns replace
        if kind == "token" and " " in value:
            return  # prose, not a credential
        self._literals[value] = kind
        self._pattern = None

    def _short(self, value: str) -> None:
        """Replace a credential too short for `_literal` (a 5-character bearer token, a
        recovery code) wherever it stands as a whole word; under 3 characters it could
        be anything, so it is only replaced where its key says what it is."""
        value = value.strip()
        if len(value) < 3 or value in self._literals or value in self._shorts or " " in value:
            return
        if not re.search(r"\d", value) and (value.islower() or value.isupper()):
            return  # a word (`true`, `none`, `Bearer`), not a credential
        if len(value) > 16 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", value):
            return  # a longer or structured value: `_literal` and the patterns see to it
        self._shorts.add(value)
        self._pattern = None

    def learn_name(self, name: str) -> None:
        """Record a person's full name (and its parts) to be replaced everywhere."""
        name = " ".join(name.split())
        lowered = name.lower()
        if len(name) < 2 or lowered in self._names or lowered in _SERVICE_NAMES:
            return
        if not _PERSON_NAME.fullmatch(name) or _STRUCTURED.search(name):
            return  # an id, an address or a label, not a person's name
        words = name.split(" ")
        first, last = self._fake_name()
        fakes = [first, last, *(self._fake_name()[1] for _ in words[2:])]
        self._names[name.lower()] = " ".join(fakes[: len(words)]) if len(words) > 1 else first
        if len(words) > 1:
            for word, fake in zip(words, fakes, strict=False):
                if len(word) >= 3 and word[0].isupper() and word.lower() not in self._names:
                    self._names[word.lower()] = fake
        self._pattern = None

    def learn_text(self, text: str) -> None:
        """Record what the claims of the JWTs inside `text` say about a person."""
        for match in re.finditer(_JWT, text):
            try:
                claims = json.loads(_unb64url(match.group(0).split(".")[1]))
            except (ValueError, binascii.Error, RecursionError):
                continue
            self.learn_json(claims)

    def learn_json(self, value: Any, parent: str = "") -> None:
        """Record the names, ids and tokens a JSON value holds, by the keys they are under."""
        if isinstance(value, list):
            for item in value:
                self.learn_json(item, parent)
            return
        if isinstance(value, str):
            if "eyJ" in value:
                self.learn_text(value)
            return
        if not isinstance(value, dict):
            return
        identified = value.get("id")
        personal = any(hint in value for hint in _PERSON_HINTS) or (
            isinstance(identified, str) and identified.startswith("user-")
        )
        for key, item in value.items():
            lowered = key.lower()
            if isinstance(item, str) and item:
                if lowered in _PERSON_KEYS or (
                    lowered in _NAME_KEYS and (personal or parent in _PERSON_PARENTS)
                ):
                    self.learn_name(item)
                elif lowered in _NAME_KEYS and parent in _ORG_PARENTS:
                    if not _STRUCTURED.search(item):
                        self._fake(item, "org")
                        self._literal(item, "org", minimum=2)
                elif lowered in _PHONE_KEYS:
                    self._fake(item, "phone")
                    self._literal(item, "phone", minimum=4)
                elif lowered in _PICTURE_KEYS:
                    for found in _AVATAR_HASH.finditer(item):
                        self._literal(found.group(1))
                elif _ID_KEY.search(key) or _SECRET_KEY.search(key):
                    self._literal(item, minimum=4)
                elif _WHOLE_VALUE_KEY.search(key):
                    self._short(item)
            elif isinstance(item, list) and _WHOLE_VALUE_KEY.search(key):
                for code in item:
                    if isinstance(code, str):
                        self._short(code)
            self.learn_json(item, lowered)

    def learn_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        for name, value in headers:
            lowered = name.lower()
            if lowered == "authorization":
                scheme, _, token = value.partition(" ")
                self._literal(token if token else scheme)
                self._short(token.strip() if token else scheme)
            elif lowered in ("cookie", "set-cookie"):
                pieces = value.split(";") if lowered == "cookie" else value.split(";", 1)[:1]
                for piece in pieces:
                    self._literal(piece.partition("=")[2], minimum=6)
            elif _SECRET_HEADER.search(lowered):
                self._literal(value, minimum=6)

    def learn_exchange(self, exchange: Exchange) -> None:
        """Learn from everything an entry holds: headers, cookies, query, bodies and streams."""
        self.learn_headers(exchange.request_headers)
        self.learn_headers(exchange.response_headers)
        for _, value in (*exchange.request_cookies, *exchange.response_cookies):
            self._literal(value, minimum=6)
        for name, value in exchange.query:
            if _ID_KEY.search(name) or _SECRET_KEY.search(name):
                self._literal(value, minimum=4)
        for text in (exchange.request_text, exchange.response_text):
            if not text:
                continue
            for value in _json_values(text):
                self.learn_json(value)
            self.learn_text(text)

    # -- replacing -------------------------------------------------------------------

    def _compiled(self) -> re.Pattern[str]:
        if self._pattern is None:
            literals = sorted(self._literals, key=len, reverse=True)
            names = sorted(self._names, key=len, reverse=True)
            shorts = sorted(self._shorts, key=len, reverse=True)
            alternatives = [
                f"(?P<pem>{_PEM})",
                f"(?P<jwt>{_JWT})",
                f"(?P<param>{_SIGNED_PARAM})",
                f"(?P<email>{_EMAIL})",
                f"(?P<picture>{_GOOGLE_PICTURE})",
                f"(?P<stripe>{_STRIPE})",
                f"(?P<der>{_DER})",
                f"(?P<card>{_CARD_LAST4})",
                f"(?P<street>{_STREET})",
                *(
                    [f"(?P<literal>{'|'.join(re.escape(value) for value in literals)})"]
                    if literals
                    else []
                ),
                *(
                    [
                        "(?P<name>(?<!\\w)(?:"
                        + "|".join(_name_regex(name) for name in names)
                        + ")(?!\\w))"
                    ]
                    if names
                    else []
                ),
                *(
                    [
                        "(?P<short>(?<![A-Za-z0-9_-])(?:"
                        + "|".join(re.escape(value) for value in shorts)
                        + ")(?![A-Za-z0-9_-]))"
                    ]
                    if shorts
                    else []
                ),
                f"(?P<uuid>{_UUID})",
                f"(?P<prefixed>{_PREFIXED})",
                f"(?P<ipv4>{_IPV4})",
                f"(?P<ipv6>{_IPV6})",
            ]
            self._pattern = re.compile("|".join(alternatives))
        return self._pattern

    def _replace(self, match: re.Match[str]) -> str:
        kind = match.lastgroup or ""
        real = match.group(0)
        if kind == "name":
            space = next((sep for sep in _NAME_SPACES if sep in real), " ")
            words = real.replace(space, " ").split() if space != " " else real.split()
            fake = self._names[" ".join(words).lower()]
            if real.isupper():
                fake = fake.upper()
            elif real.islower():
                fake = fake.lower()
            return fake.replace(" ", space)
        if kind == "literal":
            return self._fake(real, self._literals[real])
        if kind == "email":
            at = next(sign for sign in _AT_SIGNS if sign in real)
            return self._fake(real.replace(at, "@"), "email").replace("@", at)
        if kind == "param":
            name, _, secret = real.partition("=")
            if "%" not in secret:
                return f"{name}={self._fake(secret, 'token')}"
            return f"{name}={quote(self._fake(unquote(secret), 'token'), safe='')}"
        if kind == "pem":
            return self._pem(real)
        if kind == "card":
            return self._fake(real, "digits")
        if kind == "street":
            return self._fake(real, "street")
        if kind in ("ipv4", "ipv6"):
            try:
                address = ipaddress.ip_address(real)
            except ValueError:
                return real
            if address.is_loopback or address.is_unspecified:
                return real
        if kind == "prefixed":
            kind = "token"
        return self._fake(real, kind)

    def _pem(self, real: str) -> str:
        """A PEM key with its base64 lines drawn anew, and armour that no secret scanner
        (or reader) takes for a real key: `-----BEGIN FAKE KEY-----`."""
        real = re.sub(r"(-----(?:BEGIN|END) )[A-Z0-9 ]*PRIVATE KEY-----", r"\1FAKE KEY-----", real)
        pieces = re.split(r"(-----[A-Z0-9 ]+-----|\s+|\\[nr])", real)
        return "".join(
            piece
            if not piece or piece.startswith("-----") or not re.fullmatch(r"[A-Za-z0-9+/=]+", piece)
            else "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in piece)
            for piece in pieces
        )

    def text(self, value: str) -> str:
        """`value` with every secret and personal value replaced."""
        return self._compiled().sub(self._replace, value)

    def json(self, value: Any, key: str = "") -> Any:
        """A copy of a JSON value with every string (keys too) sanitised; a string under a
        key that names a secret (`password`, `recovery_codes`, `last4`...) is replaced whole."""
        if isinstance(value, str):
            if value and key and _WHOLE_VALUE_KEY.search(key):
                return self._whole(value, key)
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(name): self.json(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [self.json(item, key) for item in value]
        return value

    def _whole(self, value: str, key: str) -> str:
        found = self.text(value)
        if found != value:
            return found  # a JWT or an email keeps its form, with sanitised contents
        lowered = key.lower()
        if re.search(r"last_?4|last_?four", lowered) and value.isdigit():
            return self._fake(value, "digits")
        if re.search(r"line[12]|address_?line|street", lowered):
            return self._fake(value, "street")
        return self._fake(value, "token")


def _name_regex(name: str) -> str:
    """A learned name as a regex: any case for full names; a single word only capitalised
    or in capitals (so a surname like "Rose" spares the flower)."""
    words = name.split(" ")
    if len(words) == 1:
        forms = dict.fromkeys((name.capitalize(), name.upper()))
        return "(?:" + "|".join(re.escape(form) for form in forms) + ")"
    return "(?i:" + r"(?:\s+|%20|\+)".join(re.escape(word) for word in words) + ")"


#: How a space between a name's words may be written in a URL (plain space last).
_NAME_SPACES = ("%20", "+")


def _json_values(text: str) -> Iterator[Any]:
    """The JSON value of a body, or of each data event of an event stream."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            yield json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            return
        return
    if stripped.startswith(("data:", "event:", ":")):
        for event in parse_sse(text).events:
            data = _event_json(event)
            if data is not _NOT_JSON:
                yield data


# --------------------------------------------------------------------------- scripts


def _text_of(content: Any) -> str | None:
    """The text of a plain `text` content object (None for any other content)."""
    if not isinstance(content, dict) or content.get("content_type") != "text":
        return None
    parts = content.get("parts")
    if isinstance(parts, list) and all(isinstance(part, str) for part in parts):
        return "".join(parts)
    return None


def _streamed_text(content: Any) -> str | None:
    """The text a stream grows: a text content's parts, or another content's `text`."""
    text = _text_of(content)
    if text is None and isinstance(content, dict) and isinstance(content.get("text"), str):
        text = content["text"]
    return text


def _script_body(message: dict[str, Any]) -> dict[str, Any]:
    """`text`, or `content` for answers that are not plain text."""
    content = message.get("content")
    text = _text_of(content)
    if text is not None:
        return {"text": text}
    if isinstance(content, dict) and isinstance(content.get("content_type"), str):
        return {"content": content}
    return {}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_answer(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and isinstance(message.get("author"), dict)
        and message["author"].get("role") == "assistant"
        and message.get("recipient", "all") == "all"
    )


@dataclass(slots=True)
class _Turn:
    """What a conversation stream said, gathered while reading it."""

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # message ids, as each first appeared
    pieces: dict[str, list[str]] = field(default_factory=dict)
    seen_types: set[str] = field(default_factory=set)
    title: str | None = None
    done: bool = False
    error: tuple[str, int] | None = None
    #: The number of events before a blocking moderation frame, if one came.
    blocked: int | None = None
    events: int = 0

    def keep(self, message: Any) -> None:
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            if message["id"] not in self.messages:
                self.order.append(message["id"])
            self.messages[message["id"]] = message


def _conversation_turn(text: str, body: SseBody) -> _Turn:
    """Read a web conversation stream: its messages with mockgpt's `StreamDecoder`, and
    from the events themselves the pieces the answer grew by and how the stream ended."""
    turn = _Turn()
    decoder = StreamDecoder()
    try:
        decoder.feed(text.encode("utf-8", "replace"))
        decoder.close()
    except DeltaError:
        pass  # what decoded before the broken event stays
    for message in decoder.messages:
        turn.keep(message)
    turn.done = decoder.done
    channels: dict[int, str] = {}
    previous: dict[str, Any] = {}
    for event in body.events:
        data = _event_json(event)
        if data is _NOT_JSON or data == "[DONE]":
            continue
        turn.events += 1
        if event.name == "delta" and isinstance(data, dict):
            op = {key: data.get(key, previous.get(key)) for key in ("p", "o", "c")}
            previous = op
            value = data.get("v")
            if op["p"] == "" and op["o"] == "add" and isinstance(value, dict):
                message = value.get("message")
                if isinstance(message, dict) and isinstance(op["c"], int):
                    channels[op["c"]] = str(message.get("id"))
            if isinstance(op["c"], int) and op["c"] in channels:
                _collect_pieces(turn, channels[op["c"]], op, value)
            continue
        if not isinstance(data, dict):
            continue
        kind = data.get("type")
        if isinstance(kind, str) or "moderation_response" in data:
            kind = kind if isinstance(kind, str) else "moderation"
            turn.seen_types.add(kind)
            if kind == "title_generation" and isinstance(data.get("title"), str):
                turn.title = data["title"]
            if kind == "moderation" and _blocked(data) and turn.blocked is None:
                turn.blocked = turn.events - 1
            continue
        if data.get("error") and turn.error is None:
            turn.error = (str(data["error"]), turn.events - 1)
        message = data.get("message")
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            _snapshot_pieces(turn, message)
    return turn


def _snapshot_pieces(turn: _Turn, message: dict[str, Any]) -> None:
    """Note what a legacy snapshot added to its message's text since the last one."""
    pieces = turn.pieces.setdefault(message["id"], [])
    old = "".join(pieces)
    new = _streamed_text(message.get("content"))
    if new is None or new == old:
        return
    if new.startswith(old):
        pieces.append(new[len(old) :])
    else:
        pieces[:] = [new]


def _blocked(frame: dict[str, Any]) -> bool:
    response = frame.get("moderation_response")
    return isinstance(response, dict) and response.get("blocked") is True


def _collect_pieces(turn: _Turn, message_id: str, op: dict[str, Any], value: Any) -> None:
    """Note the text a delta appends to a message, one piece per event."""
    if op["o"] == "append" and op["p"] in _TEXT_PATHS and isinstance(value, str):
        turn.pieces.setdefault(message_id, []).append(value)
    elif op["o"] == "add" and op["p"] == "" and isinstance(value, dict):
        message = value.get("message")
        start = _streamed_text(message.get("content")) if isinstance(message, dict) else None
        turn.pieces[message_id] = [start] if start else []
    elif op["o"] == "patch" and isinstance(value, list):
        for sub in value:
            if isinstance(sub, dict):
                _collect_pieces(
                    turn, message_id, {"o": sub.get("o"), "p": sub.get("p")}, sub.get("v")
                )


def script_from_stream(
    text: str,
    *,
    wait_ms: float | None = None,
    receive_ms: float | None = None,
    openai: bool = False,
) -> dict[str, Any] | None:
    """The script (JSON form) that replays a captured stream, or None when nothing can.

    A web conversation stream (delta v1 or legacy snapshots) gives the answer's
    text (or content object) with its chunks, title, model, finish, the frames
    sent, messages to tools, byte habits and the fault it ended with; a `/v1`
    chunk stream gives the text, chunks and finish. HAR timings give the pacing.
    """
    from mockgpt.scripts import FRAME_NAMES

    body = parse_sse(text)
    script: dict[str, Any] = {}
    pieces: list[str] = []
    if openai:
        finish = None
        for event in body.events:
            data = _event_json(event)
            if not isinstance(data, dict):
                continue
            for choice in data.get("choices") or ():
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") or {}
                content = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(content, str) and content:
                    pieces.append(content)
                finish = choice.get("finish_reason") or finish
        if not pieces:
            return None
        script["text"] = "".join(pieces)
        if finish == "length":
            script["finish"] = "max_tokens"
    else:
        turn = _conversation_turn(text, body)
        answers = [turn.messages[i] for i in turn.order if _is_answer(turn.messages[i])]
        if not answers:
            return None
        answer = answers[-1]
        script.update(_script_body(answer))
        if not script:
            return None
        pieces = turn.pieces.get(answer["id"], [])
        metadata = _object(answer.get("metadata"))
        if isinstance(metadata.get("model_slug"), str) and metadata["model_slug"]:
            script["model_slug"] = metadata["model_slug"]
        if (metadata.get("finish_details") or {}).get("type") == "max_tokens":
            script["finish"] = "max_tokens"
        if turn.title:
            script["title"] = turn.title
        tools = _tool_messages(turn)
        if tools:
            script["tool_messages"] = tools
        if turn.seen_types:
            script["frames"] = {name: name in turn.seen_types for name in FRAME_NAMES}
        if turn.blocked is not None:
            script["fault"] = {"kind": "moderation_block", "after": turn.blocked}
        elif turn.error is not None:
            script["fault"] = {
                "kind": "error_envelope",
                "after": turn.error[1],
                "message": turn.error[0],
            }
        elif not turn.done:
            script["fault"] = {"kind": "no_done"}
    streamed = script.get("text")
    if streamed is None and isinstance(script.get("content"), dict):
        streamed = _streamed_text(script["content"])
    if streamed and pieces and "".join(pieces) == streamed and len(pieces) > 1:
        script["chunks"] = pieces
    realism = {"crlf": body.crlf, "padding": body.padded, "pings": body.comments}
    realism = {key: value for key, value in realism.items() if value}
    if realism:
        script["realism"] = realism
    pacing: dict[str, float] = {}
    if wait_ms:
        pacing["ttft_ms"] = round(wait_ms, 1)
    if receive_ms and pieces:
        tokens = sum(max(1, len(piece) // 4) for piece in pieces)
        pacing["tokens_per_second"] = round(tokens / (receive_ms / 1000), 1)
    if pacing:
        script["pacing"] = pacing
    return script


def _tool_messages(turn: _Turn) -> list[dict[str, str]]:
    tools = []
    ordered = [turn.messages[i] for i in turn.order]
    for index, message in enumerate(ordered):
        author = _object(message.get("author"))
        recipient = message.get("recipient")
        if author.get("role") != "assistant" or not isinstance(recipient, str):
            continue
        if recipient == "all" or not recipient.strip():
            continue
        reply = next(
            (
                later
                for later in ordered[index + 1 :]
                if isinstance(later.get("author"), dict) and later["author"].get("role") == "tool"
            ),
            None,
        )
        name = reply["author"].get("name") if reply else None
        text = _streamed_text(message.get("content"))
        tools.append(
            {
                "recipient": recipient,
                "author_name": name if isinstance(name, str) and name else recipient,
                "text": text or "",
            }
        )
    return tools


# --------------------------------------------------------------------------- import


@dataclass(slots=True)
class ImportResult:
    """What `import_har` wrote (paths relative to the output folder) and what it skipped."""

    out: Path
    written: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    replaced: int = 0

    def render(self) -> str:
        lines = [f"wrote {len(self.written)} files to {self.out}"]
        lines.extend(f"  {path}  <- {source}" for path, source in self.written)
        if self.unknown:
            lines.append("unknown routes (skipped):")
            lines.extend(f"  {key}: {n}" for key, n in self.unknown.items())
        lines.extend(f"skipped: {note}" for note in self.skipped)
        lines.extend(f"warning: {note}" for note in self.warnings)
        lines.append(f"{self.replaced} distinct values replaced by fakes")
        scripts = [path for path, _ in self.written if path.startswith("scripts/")]
        hint = f"serve them with: mockgpt serve --fixtures {self.out}"
        if any(path == "scripts/turns.json" for path in scripts):
            hint += f" --script {self.out / 'scripts' / 'turns.json'}"
        lines.append(hint)
        return "\n".join(lines)


def _inside(root: Path, relative: str) -> Path:
    """`root / relative`, refusing anything that would land outside `root`."""
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        raise HarError(f"refusing to write {relative!r} outside {root}")
    return target


def _write(root: Path, relative: str, data: bytes) -> None:
    target = _inside(root, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    _inside(root, relative)  # again, now that the folders exist (a symlink in between)
    target.write_bytes(data)


def _pretty(value: Any) -> bytes:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace")  # a lone surrogate stays an escape


def _sanitised_script(script: dict[str, Any], sanitiser: Sanitiser) -> dict[str, Any]:
    """The script with secrets replaced; chunks are kept only if they still join to the text."""
    chunks = script.pop("chunks", None)
    clean: dict[str, Any] = sanitiser.json(script)
    streamed = clean.get("text")
    if streamed is None:
        streamed = _streamed_text(clean.get("content"))
    if chunks is not None and streamed is not None:
        pieces = [sanitiser.text(piece) for piece in chunks]
        if "".join(pieces) == streamed and all(pieces):
            clean["chunks"] = pieces
    return clean


class _Importer:
    """Writes one capture's fixtures and scripts into a folder."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.result = ImportResult(root)
        self.sanitiser = Sanitiser(seed)
        self.done: set[str] = set()
        self.scripts: list[dict[str, Any]] = []

    def write(self, relative: str, data: bytes, source: str) -> None:
        _write(self.root, relative, data)
        self.result.written.append((relative, source))

    def exchange(self, exchange: Exchange, route: Route, source: str) -> str | None:
        """Import one entry; the reason when it is skipped."""
        try:
            spec = route.response(exchange.status)
        except KeyError:
            return "status not documented"
        if _is_stream(exchange, spec):
            return self.stream(exchange, route, source)
        if spec.fixture is None or spec.fixture in self.done:
            return None
        if spec.is_json:
            if exchange.response_text is None:
                return "no response text in the capture"
            try:
                document = self.sanitiser.json(json.loads(exchange.response_text))
            except json.JSONDecodeError:
                return "the body is not JSON"
            problems = [] if spec.schema is None else schema_errors(spec.schema, document)
            if problems:
                where = "/".join(map(str, problems[0].absolute_path)) or "the top"
                message = problems[0].message
                message = message if len(message) <= 160 else message[:160] + "..."
                self.result.warnings.append(
                    f"{route.key} {exchange.status}: the captured body written to "
                    f"fixtures/{spec.fixture} breaks the route's schema schemas/{spec.schema} "
                    f"at {where}: {message} (see `mockgpt har check`; "
                    "validate_responses would refuse it)"
                )
            data = _pretty(document)
        elif exchange.response_text is not None and _is_text_media(_media(spec.media)):
            data = self.sanitiser.text(exchange.response_text).encode("utf-8", "backslashreplace")
        else:
            return "binary body not imported"
        self.write(spec.fixture, data, source)
        self.done.add(spec.fixture)
        return None

    def stream(self, exchange: Exchange, route: Route, source: str) -> str | None:
        from mockgpt.scripts import Script, ScriptError

        if route.kind == "conversation_resume":
            return "a resumed stream replays an earlier turn"
        if exchange.response_text is None:
            return "no stream text in the capture"
        script = script_from_stream(
            exchange.response_text,
            wait_ms=exchange.wait_ms,
            receive_ms=exchange.receive_ms,
            openai=route.platform,
        )
        if script is None:
            return "no answer a script can replay"
        try:
            clean = Script.from_dict(_sanitised_script(script, self.sanitiser)).to_dict()
        except ScriptError as error:
            return str(error)
        self.scripts.append(clean)
        self.write(f"scripts/turn-{len(self.scripts):03d}.json", _pretty(clean), source)
        return None


def import_exchanges(
    exchanges: Sequence[Exchange],
    out: str | Path,
    *,
    seed: int = 0,
    catalogue: Catalogue | None = None,
) -> ImportResult:
    """Write sanitised fixtures and scripts for the exchanges a catalogue route matches."""
    router = (catalogue or load_catalogue()).router
    try:
        root = Path(out)
        root.mkdir(parents=True, exist_ok=True)
        root = root.resolve()
    except OSError as error:
        raise HarError(f"cannot create {out}: {error.strerror or error}") from None
    importer = _Importer(root, seed)
    result = importer.result
    routed: list[tuple[Exchange, Route]] = []
    for exchange in exchanges:
        route = router.route(exchange.method, exchange.path)
        if route is None:
            key = unknown_key(exchange.method, exchange.path)
            result.unknown[key] = result.unknown.get(key, 0) + 1
            continue
        try:
            importer.sanitiser.learn_exchange(exchange)
        except RecursionError:
            result.skipped.append(f"{exchange.label}: nested too deeply to sanitise")
            continue
        routed.append((exchange, route))
    for exchange, route in routed:
        source = f"{route.key} ({exchange.status}, entry {exchange.index + 1})"
        try:
            skipped = importer.exchange(exchange, route, source)
        except RecursionError:
            skipped = "nested too deeply to sanitise"
        if skipped is not None:
            result.skipped.append(f"{source}: {skipped}")
    if importer.scripts:
        count = len(importer.scripts)
        importer.write(
            "scripts/turns.json", _pretty(importer.scripts), f"all {count} turns, in order"
        )
    result.replaced = importer.sanitiser.replaced
    return result


def import_har(
    path: str | Path, out: str | Path, *, seed: int = 0, catalogue: Catalogue | None = None
) -> ImportResult:
    """Write sanitised fixtures and scripts for the routes a HAR capture shows."""
    exchanges, notes = read_har(path)
    result = import_exchanges(exchanges, out, seed=seed, catalogue=catalogue)
    result.skipped[:0] = notes
    return result
