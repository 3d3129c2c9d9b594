"""The drift check: captured entries against the catalogue's schemas and mockgpt's own answers."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from mockgpt._resources import fixture_path, read_json
from mockgpt.catalogue import Catalogue, Route, load_catalogue
from mockgpt.config import Config
from mockgpt.controller import MockGPT
from mockgpt.delta import DeltaDecoder, DeltaError
from mockgpt.har.reading import (
    CONVERSATION_EVENTS,
    ENVELOPE,
    KNOWN_EVENT_NAMES,
    NOT_JSON,
    Exchange,
    SseEvent,
    event_json,
    is_stream,
    media_of,
    parse_sse,
    read_har,
    stream_schema_of,
    unknown_key,
)
from mockgpt.har.walker import (
    HARD_KINDS,
    KIND_LABELS,
    Drift,
    SchemaWalker,
    frame_types,
    json_step,
    shorten,
)
from mockgpt.schemas import resolved_schema, schema_errors
from mockgpt.store import first_turn


@cache
def _resolved(relative: str) -> dict[str, Any]:
    return resolved_schema(relative)


def _own_streams() -> list[tuple[str, str]]:
    """(event schema, body) of the streams mockgpt itself sends: v1, legacy and `/v1`."""
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
            data = event_json(event)
            if data is NOT_JSON or data == "[DONE]":
                continue
            walker.learn(events, data)
            if schema == CONVERSATION_EVENTS:
                _feed(decoder, event, data)
        for root in decoder.channels.values():
            walker.learn(_resolved(ENVELOPE), root)
    return walker


def _feed(decoder: DeltaDecoder, event: SseEvent, data: Any) -> str | None:
    """Feed a decoder one v1 event; the reason when it refuses it."""
    if decoder.encoding is None and event.name != "delta_encoding":
        return None  # a legacy stream: nothing to decode
    try:
        decoder.feed(event.name, data)
    except DeltaError as error:
        return str(error)
    return None


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
        documented = media_of(spec.media)
        captured = exchange.response_mime
        if is_stream(exchange, spec):
            schema = stream_schema_of(spec)
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
            return [Drift("body", where, "$", f"not JSON ({shorten(str(error), 80)})")]
        if schema is None:
            return []
        return self.value(schema, value, where)

    def value(self, schema: str, value: Any, where: str) -> list[Drift]:
        try:
            drifts = self.walker.compare(_resolved(schema), value, where)
            if not any(d.kind in HARD_KINDS for d in drifts):
                # The walker picks one branch per anyOf; the validator has the last word.
                refused = [
                    e for e in schema_errors(schema, value) if e.validator != "additionalProperties"
                ]
                for error in refused[:3]:
                    path = _error_path(error.absolute_path)
                    drifts.append(Drift("value", where, path, shorten(error.message)))
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
            data = event_json(event)
            label = f"{where}, event {event.name}" if event.name else f"{where}, data"
            if data is NOT_JSON:
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
            drifts.append(Drift("decode", where, "$", shorten(decode_error)))
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
        path = f"{path}[*]" if isinstance(part, int) else json_step(path, str(part))
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
