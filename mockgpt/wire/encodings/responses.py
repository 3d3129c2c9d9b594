"""The Responses API stream: typed `response.*` events numbered by `sequence_number`.

A stream opens with `response.created` (and `response.queued` in background
mode) and `response.in_progress`; each output item is announced empty
(`Begin`), grows part by part (`Part`, then `Text` or `Arguments`), and is
done (`Done`, carrying the finished item); the turn's end (`Usage`) is the
terminal `response.completed`, `response.incomplete` or, after an `error`
event, `response.failed`. Every event is one counted step, so a fault's
`after` is the `sequence_number` it strikes at. There is no `[DONE]`: the
body just ends.

Each event's fields, in wire order (`type` first, then alphabetical), are the
`FIELDS` table; the events a growing text sends are the `GROWING` table.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from mockgpt.framing import Event, WireEvent
from mockgpt.wire.encodings.base import Encoding, Rule, register
from mockgpt.wire.turn import Arguments, Begin, Done, Meta, Part, Text, Usage

Payload = dict[str, Any]

ERROR_TEXT = "The server had an error while processing your request. Sorry about that!"
BLOCKED_TEXT = "This content may violate our usage policies."

_RESPONSE = ("response", "sequence_number")
_ITEM = ("item", "output_index", "sequence_number")
_PART = ("content_index", "item_id", "output_index", "part", "sequence_number")
_SUMMARY_PART = ("item_id", "output_index", "part", "sequence_number", "summary_index")
_SEARCH = ("item_id", "output_index", "sequence_number")

#: Each event's fields after `type`, in the order the platform writes them.
FIELDS: dict[str, tuple[str, ...]] = {
    "response.created": _RESPONSE,
    "response.queued": _RESPONSE,
    "response.in_progress": _RESPONSE,
    "response.completed": _RESPONSE,
    "response.incomplete": _RESPONSE,
    "response.failed": _RESPONSE,
    "response.output_item.added": _ITEM,
    "response.output_item.done": _ITEM,
    "response.content_part.added": _PART,
    "response.content_part.done": _PART,
    "response.output_text.delta": (
        "content_index",
        "delta",
        "item_id",
        "logprobs",
        "obfuscation",
        "output_index",
        "sequence_number",
    ),
    "response.output_text.done": (
        "content_index",
        "item_id",
        "logprobs",
        "output_index",
        "sequence_number",
        "text",
    ),
    "response.refusal.delta": (
        "content_index",
        "delta",
        "item_id",
        "output_index",
        "sequence_number",
    ),
    "response.refusal.done": (
        "content_index",
        "item_id",
        "output_index",
        "refusal",
        "sequence_number",
    ),
    "response.function_call_arguments.delta": (
        "delta",
        "item_id",
        "obfuscation",
        "output_index",
        "sequence_number",
    ),
    "response.function_call_arguments.done": (
        "arguments",
        "item_id",
        "output_index",
        "sequence_number",
    ),
    "response.reasoning_summary_part.added": _SUMMARY_PART,
    "response.reasoning_summary_part.done": _SUMMARY_PART,
    "response.reasoning_summary_text.delta": (
        "delta",
        "item_id",
        "obfuscation",
        "output_index",
        "sequence_number",
        "summary_index",
    ),
    "response.reasoning_summary_text.done": (
        "item_id",
        "output_index",
        "sequence_number",
        "summary_index",
        "text",
    ),
    "response.web_search_call.in_progress": _SEARCH,
    "response.web_search_call.searching": _SEARCH,
    "response.web_search_call.completed": _SEARCH,
    # The live wire nests the error object (the SDK's flat type is not what is sent).
    "error": ("sequence_number", "error"),
}


@dataclass(frozen=True, slots=True)
class Growing:
    """How one growing text streams: its delta and done events and what they carry."""

    delta: str
    done: str
    #: The done event's key for the whole text.
    key: str
    #: Whether deltas carry random `obfuscation` padding.
    obfuscated: bool
    #: Fixed fields of the delta and done events (`logprobs: []` for output text).
    extra: tuple[tuple[str, Any], ...] = ()


GROWING: dict[str, Growing] = {
    "output_text": Growing(
        "response.output_text.delta",
        "response.output_text.done",
        "text",
        obfuscated=True,
        extra=(("logprobs", ()),),
    ),
    "refusal": Growing(
        "response.refusal.delta", "response.refusal.done", "refusal", obfuscated=False
    ),
    "function_call": Growing(
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "arguments",
        obfuscated=True,
    ),
    "summary_text": Growing(
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "text",
        obfuscated=True,
    ),
}

#: Content parts as a message holds them, by kind (`text` filled in when done).
PART_SHAPES: dict[str, Payload] = {
    "output_text": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""},
    "refusal": {"type": "refusal", "refusal": ""},
}
_PART_KEY = {"output_text": "text", "refusal": "refusal"}
_OBFUSCATION = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def frame(kind: str, sequence: int, values: Payload) -> Payload:
    """One event's payload: `type`, then the table's fields in order (absent ones skipped)."""
    payload: Payload = {"type": kind}
    for name in FIELDS[kind]:
        if name == "sequence_number":
            payload[name] = sequence
        elif name in values:
            payload[name] = values[name]
    return payload


def obfuscation(delta: str, rng: random.Random) -> str:
    """Padding that brings the delta's length to the next multiple of 16 characters."""
    return "".join(rng.choice(_OBFUSCATION) for _ in range(16 - len(delta) % 16))


def part_object(kind: str, text: str) -> Payload:
    """A finished content part of `kind` holding `text`."""
    shape = dict(PART_SHAPES[kind])
    shape[_PART_KEY[kind]] = text
    if "annotations" in shape:
        shape["annotations"], shape["logprobs"] = [], []
    return shape


def failed_response(response: Payload, error: Payload) -> Payload:
    """The response object of a stream that failed with `error` before any output was done."""
    body = dict(response)
    body["status"] = "failed"
    body["completed_at"] = None
    body["error"] = {"code": error["code"], "message": error["message"]}
    body["output"] = []
    body["service_tier"] = "default"
    body["usage"] = None
    return body


def server_error(message: str | None) -> Payload:
    """The error object of a failed stream (`message` None: the platform's default)."""
    return {
        "type": "server_error",
        "code": "server_error",
        "message": message or ERROR_TEXT,
        "param": None,
    }


def failure(response: Payload, sequence: int, message: str | None) -> list[Event]:
    """The `error` event at `sequence` and the `response.failed` after it."""
    error = server_error(message)
    return [
        Event("error", frame("error", sequence, {"error": error})),
        Event(
            "response.failed",
            frame("response.failed", sequence + 1, {"response": failed_response(response, error)}),
        ),
    ]


@register
class Responses(Encoding):
    """`POST /v1/responses` with `stream: true`, and ChatGPT's `codex/responses`.

    `response` is the response object as it opens, `final` the one the stream
    ends with (`error`: what a failed one failed with), `obfuscate` whether
    deltas carry `obfuscation` padding (drawn from the response id).
    """

    name = "responses"
    malformed = '{"type": "response.output_text.delta", "content_index": 0, "delta": "'

    def __init__(
        self,
        *,
        response: Payload,
        final: Payload,
        error: Payload | None = None,
        obfuscate: bool = True,
    ) -> None:
        self.response = response
        self.final = final
        self.failed_with = error
        self.obfuscate = obfuscate
        self._rng = random.Random(str(response.get("id")))
        self._sequence = 0
        self._scope: Payload = {}
        self._item = ""
        #: The open growing text: how it streams, where it is, its chunks so far.
        self._growing: Growing | None = None
        self._part = ""
        self._where: Payload = {}
        self._chunks: list[str] = []
        self._failed: Payload | None = None

    def _event(self, kind: str, values: Payload) -> Event:
        payload = frame(kind, self._sequence, values)
        self._sequence += 1
        return Event(kind, payload)

    def opening(self) -> list[WireEvent]:
        head = self.response
        events: list[WireEvent] = [self._event("response.created", {"response": head})]
        if head.get("status") == "queued":
            events.append(self._event("response.queued", {"response": head}))
        running = {**head, "status": "in_progress"}
        events.append(self._event("response.in_progress", {"response": running}))
        return events

    def _begin(self, event: Begin) -> list[WireEvent]:
        item = event.message
        self._scope = {"item_id": item["id"], "output_index": event.index}
        self._item = item["type"]
        if self._item == "function_call":
            self._open(GROWING["function_call"], "", self._scope)
        added = {"item": item, "output_index": event.index}
        return [self._event("response.output_item.added", added)]

    def _open(self, growing: Growing, part: str, where: Payload) -> None:
        self._growing, self._part, self._where, self._chunks = growing, part, where, []

    def _new_part(self, event: Part) -> list[WireEvent]:
        events = self._close()
        if event.kind == "summary_text":
            where = {**self._scope, "summary_index": event.index}
            empty = {"type": "summary_text", "text": ""}
            events.append(
                self._event("response.reasoning_summary_part.added", {**where, "part": empty})
            )
        else:
            where = {**self._scope, "content_index": event.index}
            shape = dict(PART_SHAPES[event.kind])
            events.append(self._event("response.content_part.added", {**where, "part": shape}))
        self._open(GROWING[event.kind], event.kind, where)
        return events

    def _grow(self, event: str | Text | Arguments) -> list[WireEvent]:
        text = event if type(event) is str else event.text  # type: ignore[union-attr]
        growing = self._growing
        if growing is None:
            return []
        self._chunks.append(text)
        values = {**self._where, "delta": text}
        for name, value in growing.extra:
            values[name] = list(value)
        if growing.obfuscated and self.obfuscate:
            values["obfuscation"] = obfuscation(text, self._rng)
        return [self._event(growing.delta, values)]

    def _close(self) -> list[WireEvent]:
        """The events that end the open growing text (none open: none)."""
        growing = self._growing
        if growing is None:
            return []
        self._growing = None
        whole = "".join(self._chunks)
        where = self._where
        values = {**where, growing.key: whole}
        for name, value in growing.extra:
            values[name] = list(value)
        events: list[WireEvent] = [self._event(growing.done, values)]
        if self._part == "summary_text":
            part = {"type": "summary_text", "text": whole}
            events.append(
                self._event("response.reasoning_summary_part.done", {**where, "part": part})
            )
        elif self._part:
            part = part_object(self._part, whole)
            events.append(self._event("response.content_part.done", {**where, "part": part}))
        return events

    def _meta(self, event: Meta) -> list[WireEvent]:
        if event.kind != "web_search_call":
            return []
        return [self._event(f"response.web_search_call.{event.data['status']}", self._scope)]

    def _done(self, event: Done) -> list[WireEvent]:
        events = self._close()
        done = {"item": event.message, "output_index": event.index}
        events.append(self._event("response.output_item.done", done))
        return events

    def _end(self, event: Usage) -> list[WireEvent]:
        final = self.final
        events: list[WireEvent] = []
        if final["status"] == "failed" and self.failed_with is not None:
            events.append(self._event("error", {"error": dict(self.failed_with)}))
        events.append(self._event(f"response.{final['status']}", {"response": final}))
        return events

    frames: ClassVar[Mapping[type, Rule]] = {
        Begin: _begin,
        Part: _new_part,
        str: _grow,
        Text: _grow,
        Arguments: _grow,
        Meta: _meta,
        Done: _done,
        Usage: _end,
    }

    def strike(self, index: int) -> None:
        self._sequence = index

    def error(self, message: str | None) -> Event:
        error = server_error(message)
        self._failed = error
        return self._event("error", {"error": error})

    def blocked(self) -> Event:
        return self.error(BLOCKED_TEXT)

    def closing(self, *, padded: bool) -> list[WireEvent]:
        """Nothing: the body ends; after a mid-stream error, `response.failed` first."""
        if self._failed is None:
            return []
        failed = failed_response(self.response, self._failed)
        return [self._event("response.failed", {"response": failed})]
