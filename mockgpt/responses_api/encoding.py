"""The Responses API event stream, as data: an answer in, `(event type, payload)` out.

Pure and engine-independent: no I/O, no clock, no app. An `Answer` says what
the response holds (its output items as they grow: text and refusal chunks,
function-call argument chunks, reasoning-summary chunks, a web search) and
how it ends; `encode` turns it into the ordered events the platform streams,
numbered by `sequence_number` from 0, and `finished` into the final response
object that a non-streamed request, `response.completed` and a later GET show.

Each event's fields, in wire order (`type` first, then alphabetical), are the
`FIELDS` table; the events a growing text sends are the `GROWING` table. The
order rules the official SDKs enforce (an item is announced empty, every
content part is added before its deltas, `item_id` matches the announced item,
`output_index` counts 0, 1, 2, ...) follow from walking the items in turn.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Payload = dict[str, Any]
Status = Literal["completed", "incomplete", "failed"]

#: Each event's fields after `type`, in the order the platform writes them.
FIELDS: dict[str, tuple[str, ...]] = {
    "response.created": ("response", "sequence_number"),
    "response.queued": ("response", "sequence_number"),
    "response.in_progress": ("response", "sequence_number"),
    "response.completed": ("response", "sequence_number"),
    "response.incomplete": ("response", "sequence_number"),
    "response.failed": ("response", "sequence_number"),
    "response.output_item.added": ("item", "output_index", "sequence_number"),
    "response.output_item.done": ("item", "output_index", "sequence_number"),
    "response.content_part.added": (
        "content_index",
        "item_id",
        "output_index",
        "part",
        "sequence_number",
    ),
    "response.content_part.done": (
        "content_index",
        "item_id",
        "output_index",
        "part",
        "sequence_number",
    ),
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
    "response.reasoning_summary_part.added": (
        "item_id",
        "output_index",
        "part",
        "sequence_number",
        "summary_index",
    ),
    "response.reasoning_summary_part.done": (
        "item_id",
        "output_index",
        "part",
        "sequence_number",
        "summary_index",
    ),
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
    "response.web_search_call.in_progress": ("item_id", "output_index", "sequence_number"),
    "response.web_search_call.searching": ("item_id", "output_index", "sequence_number"),
    "response.web_search_call.completed": ("item_id", "output_index", "sequence_number"),
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


# -- the answer ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Part:
    """One content part of a message: output text or a refusal, in chunks."""

    chunks: tuple[str, ...]
    kind: Literal["output_text", "refusal"] = "output_text"

    @property
    def text(self) -> str:
        return "".join(self.chunks)


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    parts: tuple[Part, ...]
    #: `commentary` or `final_answer` on current reasoning models; None omits the key.
    phase: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionCall:
    id: str
    call_id: str
    name: str
    chunks: tuple[str, ...]

    @property
    def arguments(self) -> str:
        return "".join(self.chunks)


@dataclass(frozen=True, slots=True)
class Reasoning:
    id: str
    #: Summary parts, each in chunks; empty when no summary was asked for.
    summary: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class WebSearch:
    id: str
    query: str


Item = Message | FunctionCall | Reasoning | WebSearch


@dataclass(frozen=True, slots=True)
class Ending:
    """How the response ends: completed, incomplete (with a reason) or failed (with an error)."""

    status: Status = "completed"
    reason: str | None = None
    #: `{"type", "code", "message", "param"}` for a failed response.
    error: Payload | None = None
    completed_at: int | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything a Responses stream says.

    `response` is the response object as it opens (status `in_progress`, or
    `queued` in background mode; `output` empty; `usage` None); `usage` is
    the figure the end carries.
    """

    response: Payload
    items: tuple[Item, ...]
    ending: Ending = field(default_factory=Ending)
    usage: Payload | None = None
    obfuscate: bool = True


# -- objects ---------------------------------------------------------------------------------


def item_object(item: Item, status: str) -> Payload:
    """The item as `output` holds it once done (status `completed` or `incomplete`)."""
    if isinstance(item, Message):
        content = [_part_object(part, part.text) for part in item.parts]
        return _message(item, status, content)
    if isinstance(item, FunctionCall):
        return _call(item, status, item.arguments)
    if isinstance(item, Reasoning):
        summary = [{"type": "summary_text", "text": "".join(chunks)} for chunks in item.summary]
        return {"id": item.id, "type": "reasoning", "summary": summary}
    return {
        "id": item.id,
        "type": "web_search_call",
        "status": "completed",
        "action": {"type": "search", "queries": [item.query], "query": item.query},
    }


def _announced(item: Item) -> Payload:
    """The item as `response.output_item.added` shows it: empty, in progress."""
    if isinstance(item, Message):
        return _message(item, "in_progress", [])
    if isinstance(item, FunctionCall):
        return _call(item, "in_progress", "")
    if isinstance(item, Reasoning):
        return {"id": item.id, "type": "reasoning", "summary": []}
    return {
        "id": item.id,
        "type": "web_search_call",
        "status": "in_progress",
        "action": {"type": "search", "queries": [item.query], "query": item.query},
    }


def _message(item: Message, status: str, content: list[Payload]) -> Payload:
    body: Payload = {"id": item.id, "type": "message", "status": status, "content": content}
    if item.phase is not None:
        body["phase"] = item.phase
    body["role"] = "assistant"
    return body


def _call(item: FunctionCall, status: str, arguments: str) -> Payload:
    return {
        "id": item.id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": item.call_id,
        "name": item.name,
    }


def _part_object(part: Part, text: str) -> Payload:
    shape = dict(PART_SHAPES[part.kind])
    shape[_PART_KEY[part.kind]] = text
    if "annotations" in shape:
        shape["annotations"], shape["logprobs"] = [], []
    return shape


def _item_status(answer: Answer, index: int) -> str:
    last = index == len(answer.items) - 1
    return "incomplete" if answer.ending.status == "incomplete" and last else "completed"


def finished(answer: Answer) -> Payload:
    """The final response object: the one `response.completed` (or its kin) carries."""
    ending = answer.ending
    body = dict(answer.response)
    body["status"] = ending.status
    body["completed_at"] = ending.completed_at if ending.status == "completed" else None
    if ending.status == "failed" and ending.error is not None:
        body["error"] = {"code": ending.error["code"], "message": ending.error["message"]}
    if ending.status == "incomplete":
        body["incomplete_details"] = {"reason": ending.reason or "max_output_tokens"}
    body["output"] = [
        item_object(item, _item_status(answer, index)) for index, item in enumerate(answer.items)
    ]
    body["service_tier"] = "default"
    body["usage"] = None if ending.status == "failed" else answer.usage
    return body


# -- events ----------------------------------------------------------------------------------


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


def _growing(
    shape: Growing, chunks: tuple[str, ...], scope: Payload, answer: Answer, rng: random.Random
) -> Iterator[tuple[str, Payload]]:
    extra = {name: list(value) for name, value in shape.extra}
    for chunk in chunks:
        values = {**scope, **extra, "delta": chunk}
        if shape.obfuscated and answer.obfuscate:
            values["obfuscation"] = obfuscation(chunk, rng)
        yield shape.delta, values
    yield shape.done, {**scope, **extra, shape.key: "".join(chunks)}


def _item_events(
    item: Item, index: int, answer: Answer, rng: random.Random
) -> Iterator[tuple[str, Payload]]:
    yield "response.output_item.added", {"item": _announced(item), "output_index": index}
    scope: Payload = {"item_id": item.id, "output_index": index}
    if isinstance(item, Message):
        for number, part in enumerate(item.parts):
            where = {**scope, "content_index": number}
            yield "response.content_part.added", {**where, "part": dict(PART_SHAPES[part.kind])}
            yield from _growing(GROWING[part.kind], part.chunks, where, answer, rng)
            yield "response.content_part.done", {**where, "part": _part_object(part, part.text)}
    elif isinstance(item, FunctionCall):
        yield from _growing(GROWING["function_call"], item.chunks, scope, answer, rng)
    elif isinstance(item, Reasoning):
        for number, chunks in enumerate(item.summary):
            where = {**scope, "summary_index": number}
            empty = {"type": "summary_text", "text": ""}
            yield "response.reasoning_summary_part.added", {**where, "part": empty}
            yield from _growing(GROWING["summary_text"], chunks, where, answer, rng)
            whole = {"type": "summary_text", "text": "".join(chunks)}
            yield "response.reasoning_summary_part.done", {**where, "part": whole}
    else:
        for step in ("in_progress", "searching", "completed"):
            yield f"response.web_search_call.{step}", dict(scope)
    done = item_object(item, _item_status(answer, index))
    yield "response.output_item.done", {"item": done, "output_index": index}


def _events(answer: Answer) -> Iterator[tuple[str, Payload]]:
    rng = random.Random(str(answer.response.get("id")))
    opening = answer.response
    yield "response.created", {"response": opening}
    if opening.get("status") == "queued":
        yield "response.queued", {"response": opening}
    yield "response.in_progress", {"response": {**opening, "status": "in_progress"}}
    for index, item in enumerate(answer.items):
        yield from _item_events(item, index, answer, rng)
    ending = answer.ending
    if ending.status == "failed" and ending.error is not None:
        yield "error", {"error": dict(ending.error)}
    yield f"response.{ending.status}", {"response": finished(answer)}


def encode(answer: Answer) -> list[tuple[str, Payload]]:
    """The stream's events in order, each payload numbered by `sequence_number`."""
    return [
        (kind, frame(kind, sequence, values))
        for sequence, (kind, values) in enumerate(_events(answer))
    ]


def error_event(sequence: int, error: Payload) -> tuple[str, Payload]:
    """A mid-stream `error` event, numbered to follow the events already sent."""
    return "error", frame("error", sequence, {"error": dict(error)})
