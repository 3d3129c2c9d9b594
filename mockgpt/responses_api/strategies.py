"""Hypothesis strategies for Responses API clients: adversarial but valid streams.

* `answers()`: any answer the platform could stream: messages with output text
  (any unicode) or refusal parts, function calls whose arguments arrive in
  odd pieces, reasoning summaries, web searches, and an end that is completed,
  incomplete or failed.
* `response_streams()`: such an answer as the network delivers it: the
  encoding's events framed with LF or CRLF, optionally without obfuscation,
  and the bytes split into reads at awkward places (inside a frame, between
  `\\r` and `\\n`, inside a multi-byte character).

Feed `ResponseStreamDraw.reads` to a client's parser and compare what it
builds with `ResponseStreamDraw.final` (the object `response.completed` and
its kin carry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "mockgpt.responses_api.strategies needs hypothesis: pip install 'mockgpt[strategies]'"
    ) from error

from mockgpt.framing import Event, Framing
from mockgpt.jsonfmt import dumps
from mockgpt.responses_api.encoding import (
    Answer,
    Ending,
    FunctionCall,
    Item,
    Message,
    Part,
    Reasoning,
    WebSearch,
    encode,
    finished,
)
from mockgpt.responses_api.objects import opening, usage

_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=24)
_chunks = st.lists(_text, min_size=1, max_size=6).map(tuple)
_ENDINGS = (
    Ending("completed", completed_at=1795000002),
    Ending("incomplete", "max_output_tokens"),
    Ending(
        "failed",
        error={
            "type": "server_error",
            "code": "server_error",
            "message": "The server had an error while processing your request. Sorry about that!",
            "param": None,
        },
    ),
)


def _hex(number: int) -> str:
    return f"{number:050x}"


@st.composite
def _item(draw: st.DrawFn, index: int) -> Item:
    kind = draw(st.sampled_from(["message", "function_call", "reasoning", "web_search"]))
    if kind == "message":
        kinds = st.sampled_from(["output_text", "refusal"])
        parts = draw(st.lists(st.builds(Part, _chunks, kinds), min_size=1, max_size=3))
        return Message(f"msg_{_hex(index)}", tuple(parts))
    if kind == "function_call":
        arguments = draw(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8)))
        text = dumps(arguments)
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=5)))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        return FunctionCall(
            f"fc_{_hex(index)}", f"call_{index:024d}", "tool", tuple(p for p in pieces if p)
        )
    if kind == "reasoning":
        return Reasoning(f"rs_{_hex(index)}", tuple(draw(st.lists(_chunks, max_size=2))))
    return WebSearch(f"ws_{_hex(index)}", draw(st.text(max_size=20)))


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    """Any answer the platform could stream (see the module docstring)."""
    count = draw(st.integers(0, 4))
    items = tuple(draw(_item(index)) for index in range(count))
    request = {"model": draw(st.sampled_from(["gpt-4.1", "gpt-5"])), "input": "hi"}
    head = opening(request, f"resp_{_hex(draw(st.integers(0, 2**64)))}", 1795000000)
    return Answer(
        head,
        items,
        draw(st.sampled_from(_ENDINGS)),
        usage(9, 17),
        obfuscate=draw(st.booleans()),
    )


@dataclass(frozen=True, slots=True)
class ResponseStreamDraw:
    """A drawn stream: the answer, its events, and the reads that deliver them."""

    answer: Answer
    events: tuple[tuple[str, dict[str, Any]], ...]
    reads: tuple[bytes, ...]

    @property
    def final(self) -> dict[str, Any]:
        return finished(self.answer)


@st.composite
def response_streams(draw: st.DrawFn) -> ResponseStreamDraw:
    """A drawn answer, framed and split into network reads (see the module docstring)."""
    answer = draw(answers())
    events = encode(answer)
    framing = Framing(crlf=draw(st.booleans()))
    body = b"".join(framing.encode(Event(kind, payload)) for kind, payload in events)
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(body) - 1)), max_size=12)))
    reads = tuple(
        body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if body[a:b]
    )
    return ResponseStreamDraw(answer, tuple(events), reads)
