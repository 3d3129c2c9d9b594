"""A Responses answer as data: what it holds, as turn events, as the final object.

Pure: no I/O, no clock, no app. An `Answer` says what the response holds (its
output items as they grow: text and refusal chunks, function-call argument
chunks, reasoning-summary chunks, a web search) and how it ends; `turn` makes
it the turn events that the stream engine's `responses` encoding
(`mockgpt.wire.encodings.responses`, which holds the `FIELDS` and `GROWING`
tables) streams, `encode` the whole event list at once, numbered by
`sequence_number` from 0, and `finished` the final response object that a
non-streamed request, `response.completed` and a later GET show. The
order rules the official SDKs enforce (an item is announced empty, every
content part is added before its deltas, `item_id` matches the announced item,
`output_index` counts 0, 1, 2, ...) follow from walking the items in turn.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from mockgpt.framing import Event
from mockgpt.wire.encodings.responses import (
    FIELDS,
    GROWING,
    PART_SHAPES,
    Growing,
    Responses,
    frame,
    part_object,
)
from mockgpt.wire.turn import Arguments, Begin, Done, Meta, Pace, Text, TurnEvent, Usage
from mockgpt.wire.turn import Part as PartBegins

Payload = dict[str, Any]
Status = Literal["completed", "incomplete", "failed"]


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
        content = [part_object(part.kind, part.text) for part in item.parts]
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


def turn(answer: Answer, pace: Pace) -> Iterator[TurnEvent]:
    """The answer as turn events, paced: what the `responses` encoding streams."""
    paced = pace.active
    for index, item in enumerate(answer.items):
        yield Begin(_announced(item), index=index, delay=pace.next(""))
        if isinstance(item, Message):
            for number, part in enumerate(item.parts):
                yield PartBegins(part.kind, number)
                for chunk in part.chunks:
                    yield Text(chunk, delay=pace.next(chunk)) if paced else chunk
        elif isinstance(item, FunctionCall):
            for chunk in item.chunks:
                yield Arguments(chunk, delay=pace.next(chunk))
        elif isinstance(item, Reasoning):
            for number, chunks in enumerate(item.summary):
                yield PartBegins("summary_text", number)
                for chunk in chunks:
                    yield Text(chunk, delay=pace.next(chunk)) if paced else chunk
        else:
            for step in ("in_progress", "searching", "completed"):
                yield Meta("web_search_call", {"status": step})
        status = _item_status(answer, index)
        yield Done(item_object(item, status), status, index, delay=pace.next(""))
    yield Usage(answer.usage or {}, delay=pace.next(""))


def encoder(answer: Answer, final: Payload | None = None) -> Responses:
    """The `responses` encoder of one stream of `answer` (`final`: its `finished` object)."""
    return Responses(
        response=answer.response,
        final=finished(answer) if final is None else final,
        error=answer.ending.error,
        obfuscate=answer.obfuscate,
    )


def encode(answer: Answer) -> list[tuple[str, Payload]]:
    """The stream's events in order, unpaced, each payload numbered by `sequence_number`."""
    coder = encoder(answer)
    events = coder.opening()
    for event in turn(answer, Pace(None, random.Random(0))):
        events.extend(coder.encode(event))
    return [(str(event.name), event.data) for event in events if isinstance(event, Event)]


__all__ = [
    "FIELDS",
    "GROWING",
    "PART_SHAPES",
    "Answer",
    "Ending",
    "FunctionCall",
    "Growing",
    "Item",
    "Message",
    "Part",
    "Reasoning",
    "Responses",
    "WebSearch",
    "encode",
    "encoder",
    "finished",
    "frame",
    "item_object",
    "turn",
]
