"""A streamed `/v1/chat/completions` answer: `chat.completion.chunk` events and `[DONE]`.

Kept apart from `mockgpt.platform` so that serving `/v1` (models, errors, a
whole completion) does not load the stream engine; `Platform.complete` loads
this module when a request asks for `"stream": true`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from mockgpt.framing import Event
from mockgpt.replies import unscripted_pacing
from mockgpt.scripts import Script, iter_chunks
from mockgpt.wire import EventStream, Steps, encoding, framing_for
from mockgpt.wire.turn import Arguments, Begin, Done, Pace, Text, ToolCall, TurnEvent, Usage

if TYPE_CHECKING:
    from mockgpt.clock import Clock
    from mockgpt.render import Renderer

STREAM_MEDIA = "text/event-stream; charset=utf-8"
#: Draws the logprobs of a piece of text: (text, how many top ones, the seeded draw).
Logprobs = Callable[[str, int, random.Random], list[dict[str, Any]]]


def completion_stream(
    base: dict[str, Any],
    choices: list[dict[str, Any]],
    usage: dict[str, Any],
    request: dict[str, Any],
    script: Script | None,
    *,
    pace_setting: Literal["real", "instant"],
    renderer: Renderer,
    clock: Clock,
    headers: list[tuple[str, str]],
    logprobs: Logprobs,
) -> EventStream:
    """The chunk stream of a completion already made (`choices`, `usage`), paced
    like a web turn: time to first token, then the rate, chunk by chunk.

    `base` holds the fields every chunk repeats (id, object, created, model, ...).
    """
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    encoder = encoding("chunks", base=base, include_usage=include_usage)
    pace = Pace(
        script.pacing
        if script is not None
        else unscripted_pacing(pace_setting, 0, base["model"], base["id"]),
        random.Random(base["id"]),
    )
    turn = _events(choices, usage, request, script, pace, str(base["id"]), logprobs)
    realism = script.realism if script is not None else None
    steps = Steps(encoder, turn, framing_for(encoder, realism))
    if renderer.validate:
        for step in steps:  # a validating app checks every chunk before the first is sent
            if isinstance(step.event, Event):
                renderer.check("openai/chat_completion_chunk.json", step.event.data)
    wire_headers = [(b"content-type", STREAM_MEDIA.encode())] + [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers
    ]
    return EventStream(
        steps,
        clock,
        fault=script.fault if script is not None else None,
        pings=realism.pings if realism is not None else 0,
        headers=wire_headers,
    )


def _events(
    choices: list[dict[str, Any]],
    usage: dict[str, Any],
    request: dict[str, Any],
    script: Script | None,
    pace: Pace,
    completion_id: str,
    logprobs_of: Logprobs,
) -> Iterator[TurnEvent]:
    """The completion as turn events: per choice its role, its text or tool call, its end."""
    for choice in choices:
        index, message = choice["index"], choice["message"]
        calls = message.get("tool_calls")
        if calls:
            call = calls[0]
            yield Begin(message, index=index)
            function = call["function"]
            yield ToolCall(call["id"], function["name"], index, delay=pace.next(""))
            arguments = function["arguments"]
            for start in range(0, len(arguments), 8):
                yield Arguments(arguments[start : start + 8], index, delay=pace.next(""))
        else:
            yield Begin(message, index=index, delay=pace.next(""))
            text = message["content"] or ""
            if script is not None and script.text == message["content"]:
                pieces = script.iter_chunked()
            else:
                pieces = iter_chunks(text)
            for number, piece in enumerate(pieces):
                logprobs = None
                if choice["logprobs"] is not None:
                    # Each content chunk carries the logprobs of its own tokens.
                    draw = random.Random(f"{completion_id}\x1f{index}\x1f{number}")
                    top = int(request.get("top_logprobs") or 0)
                    logprobs = {"content": logprobs_of(piece, top, draw), "refusal": None}
                yield Text(piece, logprobs, index, delay=pace.next(piece))
        yield Done(None, choice["finish_reason"], index, delay=pace.next(""))
    yield Usage(usage, delay=pace.next(""))
