"""What a web turn sends before its answer: reasoning and tool calls, as the 2026 service does.

A thinking model (`gpt-5-thinking`, `gpt-5-pro`, `o3`, ...) first streams a
`thoughts` message on channel `analysis` (items `{summary, content, chunks,
finished}` that grow one by one), then a `reasoning_recap` ("Thought for 12s",
the seconds the thoughts took on the app clock), then the answer on channel
`final`. A scripted tool step is a call addressed to the tool on channel
`commentary` (added `in_progress`, finished with `end_turn: false` and stop
token 200012) and the tool's reply to the assistant.

The messages are built here in their final form, so the store holds them as
soon as the turn starts; `thought_events` and `call_events` say how each one
grows on the wire (with `Update`s only: the store follows the answer's
`Text` and `Done`, not theirs). Both are deterministic, so the recap's seconds are known
before the thoughts are streamed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from mockgpt.message_text import set_text
from mockgpt.replies import is_reasoning_model
from mockgpt.scripts import iter_chunks
from mockgpt.store import new_message
from mockgpt.wire.turn import Begin, Marker, Pace, TurnEvent, Update

#: The stop token that ends a message addressed to a tool (the answer's is 200002).
TOOL_STOP_TOKEN = 200012
#: How many thought items a generated reasoning message has at most.
MAX_THOUGHTS = 3
#: Tools whose calls are code (a JSON or Python text) rather than a sentence.
CODE_TOOLS = ("web.run", "python", "canmore.", "container.", "api_tool", "file_search")

_FENCE = re.compile(r"```.*?(```|$)", re.S)
_SENTENCE = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+|(?<=[\u3002\uff01\uff1f])")
_MARKUP = re.compile(r"^[#>*\-+\s\d.|]+|[*_`|]+")


def reasoning_wanted(model: str, asked: bool | None) -> bool:
    """Whether a turn thinks first: a script's explicit choice, else the model's kind."""
    return is_reasoning_model(model) if asked is None else asked


def _plain(line: str) -> str:
    return _MARKUP.sub("", line).strip()


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return (cut or text[:limit]).rstrip(",;:") + "\u2026"


def plan_thoughts(answer: str, limit: int = MAX_THOUGHTS) -> list[dict[str, Any]]:
    """Thought items that plan `answer`: one per section, in the answer's own language.

    The summary is the section's first line, the content its first sentences,
    the chunks those sentences: the short plan a reasoning summary reads like.
    """
    items: list[dict[str, Any]] = []
    prose = _FENCE.sub("", answer)
    for section in re.split(r"\n\s*\n", prose):
        lines = [_plain(line) for line in section.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            continue
        sentences = [s for s in _SENTENCE.split(" ".join(lines)) if s.strip()][:2]
        items.append(
            {
                "summary": _clip(lines[0].rstrip(":"), 60),
                "content": " ".join(sentences),
                "chunks": sentences,
                "finished": True,
            }
        )
        if len(items) == limit:
            break
    return items


def recap_text(seconds: float) -> str:
    """What the recap says, as the web client shows it: `Thought for 12s`, `Thought for 1m 5s`."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"Thought for {whole}s"
    return f"Thought for {whole // 60}m {whole % 60}s"


def thoughts_message(
    *, message_id: str, parent_id: str, model: str, now: float, channel: str | None
) -> dict[str, Any]:
    """A reasoning message as it is added: no thoughts yet, in progress."""
    return new_message(
        id=message_id,
        role="assistant",
        content={"content_type": "thoughts", "thoughts": [], "source_analysis_msg_id": message_id},
        create_time=now,
        status="in_progress",
        end_turn=None,
        metadata={
            "reasoning_status": "is_reasoning",
            "citations": [],
            "content_references": [],
            "classifier_response": "default",
            "skip_reasoning_title": "Skip",
            "model_slug": model,
            "message_type": "next",
            "default_model_slug": model,
            "parent_id": parent_id,
        },
        channel=channel,
    )


def finish_thoughts(message: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """The reasoning message once every item is written: finished, not the end of the turn."""
    final = copy.deepcopy(message)
    final["content"]["thoughts"] = copy.deepcopy(items)
    final["status"] = "finished_successfully"
    final["end_turn"] = False
    return final


def recap_message(
    *,
    message_id: str,
    parent_id: str,
    model: str,
    now: float,
    seconds: float,
    channel: str | None,
) -> dict[str, Any]:
    """The recap that closes the reasoning: how long the model thought."""
    return new_message(
        id=message_id,
        role="assistant",
        content={"content_type": "reasoning_recap", "content": recap_text(seconds)},
        create_time=now,
        end_turn=False,
        metadata={
            "reasoning_status": "reasoning_ended",
            "finished_duration_sec": max(1, round(seconds)),
            "model_slug": model,
            "message_type": "next",
            "default_model_slug": model,
            "parent_id": parent_id,
        },
        channel=channel,
    )


def thought_events(final: dict[str, Any], pace: Pace, *, markers: bool) -> list[TurnEvent]:
    """How a reasoning message grows: added empty, `cot_token`, each item appended then written.

    Each item arrives whole but empty, its content grows piece by piece, and
    one patch sets its chunks and `finished`; the last event finishes the message.
    """
    state = copy.deepcopy(final)
    state["content"]["thoughts"] = []
    state["status"] = "in_progress"
    state["end_turn"] = None
    events: list[TurnEvent] = [Begin(copy.deepcopy(state), channel=state.get("channel"))]
    if markers:
        events.append(Marker("cot_token", "first", final["id"]))
    for item in final["content"]["thoughts"]:
        thoughts = state["content"]["thoughts"]
        thoughts.append(
            {"summary": item["summary"], "content": "", "chunks": [], "finished": False}
        )
        events.append(Update(copy.deepcopy(state), delay=pace.next(item["summary"])))
        for piece in iter_chunks(item["content"], 3):
            thoughts[-1]["content"] += piece
            events.append(Update(copy.deepcopy(state), delay=pace.next(piece)))
        thoughts[-1]["chunks"] = list(item["chunks"])
        thoughts[-1]["finished"] = True
        events.append(Update(copy.deepcopy(state)))
    # An `Update`, not a `Done`: only the answer's events are followed by the store.
    events.append(Update(copy.deepcopy(final), delay=pace.next("")))
    return events


def thinking_seconds(events: list[TurnEvent]) -> float:
    """The app-clock time a reasoning message's events take."""
    return sum(float(getattr(event, "delay", 0.0)) for event in events)


def is_code_tool(recipient: str) -> bool:
    """Whether calls to `recipient` are `code` messages (web.run, python, canvas, ...)."""
    return any(
        recipient == name or (name.endswith(".") and recipient.startswith(name))
        for name in CODE_TOOLS
    )


def call_message(
    *,
    message_id: str,
    parent_id: str,
    model: str,
    now: float,
    recipient: str,
    call: str,
    reasoning: bool,
) -> dict[str, Any]:
    """The assistant's finished call to a tool, as stored (the stream adds it in progress)."""
    content: dict[str, Any] | None = None
    if is_code_tool(recipient):
        language = "python" if recipient == "python" else "unknown"
        content = {
            "content_type": "code",
            "language": language,
            "response_format_name": None,
            "text": call,
        }
    metadata: dict[str, Any] = {
        "citations": [],
        "content_references": [],
        "message_type": "next",
        "model_slug": model,
        "default_model_slug": model,
        "parent_id": parent_id,
    }
    if reasoning:
        metadata["reasoning_status"] = "is_reasoning"
    metadata["finish_details"] = {"type": "stop", "stop_tokens": [TOOL_STOP_TOKEN]}
    metadata["is_complete"] = True
    return new_message(
        id=message_id,
        role="assistant",
        text=call if content is None else None,
        content=content,
        create_time=now,
        end_turn=False,
        metadata=metadata,
        recipient=recipient,
        channel="commentary",
    )


def reply_message(
    *,
    message_id: str,
    parent_id: str,
    model: str,
    now: float,
    tool: str,
    result: str,
) -> dict[str, Any]:
    """The tool's answer, addressed back to the assistant."""
    metadata: dict[str, Any] = {}
    if tool == "bio":
        metadata["memory_percentage_used"] = 0.05
    metadata |= {
        "message_type": "next",
        "model_slug": model,
        "default_model_slug": model,
        "parent_id": parent_id,
    }
    if tool == "web.run":
        metadata["search_result_groups"] = []
    return new_message(
        id=message_id,
        role="tool",
        author_name=tool,
        text=result,
        create_time=now,
        metadata=metadata,
        recipient="assistant",
        channel="commentary",
    )


def call_events(final: dict[str, Any], pace: Pace) -> Iterator[TurnEvent]:
    """How a tool call grows: added in progress and empty, its text appended, then finished."""
    start = copy.deepcopy(final)
    start["status"] = "in_progress"
    start["end_turn"] = None
    metadata = start["metadata"]
    metadata.pop("finish_details", None)
    metadata.pop("is_complete", None)
    content = start["content"]
    text = content["parts"][0] if "parts" in content else content["text"]
    set_text(start, "")
    yield Begin(start, channel="commentary")
    # The last piece arrives with the finishing patch, as the answer's does.
    grown, held = "", None
    for piece in iter_chunks(text, 3):
        if held is not None:
            grown += held
            set_text(start, grown)
            yield Update(copy.deepcopy(start), delay=pace.next(held))
        held = piece
    yield Update(copy.deepcopy(final), delay=pace.next(held or ""))


__all__ = [
    "TOOL_STOP_TOKEN",
    "call_events",
    "call_message",
    "finish_thoughts",
    "is_code_tool",
    "plan_thoughts",
    "reasoning_wanted",
    "recap_message",
    "recap_text",
    "reply_message",
    "thinking_seconds",
    "thought_events",
    "thoughts_message",
]
