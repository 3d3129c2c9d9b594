"""The script format, defined once: every key, its values, and the rules across keys.

The classes in `parts.py` and `script.py` check themselves against these shapes,
and `schemas/admin/script.json`, `fault_in_stream.json` and `http_error.json` are
written from them (`python -m mockgpt.scripts`; a test fails when the files
are stale). A new key or rule goes here, and in the class that carries it.
One rule JSON Schema cannot state is the loader's alone: chunks must join to the
text (`Rule(..., schema=None)`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast, get_args

from mockgpt.responses import HEADER_NAME, HEADER_VALUE
from mockgpt.scripts.checks import FAULT_KINDS, FRAME_NAMES, Finish
from mockgpt.scripts.keys import Key, Rule, Schema, Shape


def _charset(pattern: re.Pattern[str]) -> str:
    """The class body of a pattern that is one class repeated (`[...]+`, `[...]*`)."""
    found = re.fullmatch(r"\[(.+)\][*+]", pattern.pattern)
    if found is None:
        raise ValueError(f"not one class repeated: {pattern.pattern!r}")
    return found.group(1)


def _given(**kinds: str) -> Schema:
    """Each key named is present with a value of the JSON type given (so not null)."""
    return {"required": list(kinds), "properties": {k: {"type": t} for k, t in kinds.items()}}


PACING = Shape(
    "Pacing",
    "How fast the answer arrives.",
    keys=(
        Key("ttft_ms", "number", "Wait before the first token.", minimum=0),
        Key(
            "tokens_per_second",
            "number",
            "Rate after the first token (null: unpaced).",
            nullable=True,
            above=0,
        ),
        Key("jitter", "number", minimum=0, maximum=1),
    ),
)

REALISM = Shape(
    "Realism",
    "Byte-level quirks of the real server.",
    keys=(
        Key("padding", "boolean"),
        Key("pings", "integer", minimum=0),
        Key("crlf", "boolean"),
    ),
)

TOOL_MESSAGE = Shape(
    "Tool message",
    "A message the assistant sends to a tool before its answer.",
    keys=(
        Key("recipient", "string", required=True, visible=True),
        Key("author_name", "string", required=True, visible=True),
        Key("text", "string", required=True),
        Key(
            "result",
            "string",
            "What the tool answers the assistant (e.g. `Model set context updated.`).",
        ),
    ),
    rules=(
        Rule(
            "a tool message is not addressed to 'all'",
            "recipient",
            lambda message: message.recipient != "all",
            {"properties": {"recipient": {"not": {"const": "all"}}}},
        ),
    ),
)

FAULT = Shape(
    "Stream fault",
    "How the stream breaks after `after` events.",
    keys=(
        Key("kind", "string", required=True, choices=FAULT_KINDS),
        Key("after", "integer", "Events sent before the fault.", minimum=0),
        Key(
            "message",
            "string",
            "The error text (error_envelope only).",
            nullable=True,
            visible=True,
        ),
        Key("seconds", "number", "How long the stream goes silent (stall only, > 0).", minimum=0),
    ),
    rules=(
        Rule(
            "only an error_envelope fault has a message",
            "message",
            lambda fault: fault.message is None or fault.kind == "error_envelope",
            {
                "if": {"properties": {"kind": {"not": {"const": "error_envelope"}}}},
                "then": {"properties": {"message": {"type": "null"}}},
            },
        ),
        Rule(
            "a stall needs seconds > 0",
            "seconds",
            lambda fault: fault.kind != "stall" or fault.seconds > 0,
            {
                "if": {"properties": {"kind": {"const": "stall"}}},
                "then": {
                    "required": ["seconds"],
                    "properties": {"seconds": {"exclusiveMinimum": 0}},
                },
            },
        ),
        Rule(
            "only a stall fault has seconds",
            "seconds",
            lambda fault: fault.kind == "stall" or fault.seconds == 0,
            {
                "if": {"properties": {"kind": {"not": {"const": "stall"}}}},
                "then": {"properties": {"seconds": {"const": 0}}},
            },
        ),
    ),
    file="admin/fault_in_stream.json",
)

HEADERS = Key(
    "headers",
    "object",
    "Header names are HTTP tokens (content-length is set from the body); values printable "
    "latin-1 text.",
    names=Key(
        "name",
        "string",
        min_length=1,
        charset=_charset(HEADER_NAME),
        charset_means="a header name (an HTTP token)",
        refused=("content-length",),
        refused_means="it is set from the body; leave it out",
    ),
    values=Key(
        "value", "string", charset=_charset(HEADER_VALUE), charset_means="printable latin-1 text"
    ),
)

#: An explicit refusal: status, body and headers.
STATUS_REFUSAL = Shape(
    "Status refusal",
    "A refusal with an explicit status, body and headers.",
    keys=(
        Key("status", "integer", required=True, minimum=400, maximum=599),
        Key("body", "object", open=True),
        HEADERS,
    ),
)

#: The named refusals of the real backend, by their `kind`.
NAMED_REFUSALS: tuple[Shape, ...] = (
    Shape(
        "Model cap",
        "429: the per-model message cap; `clears_in` is in seconds.",
        keys=(
            Key("kind", "string", required=True, choices=("model_cap",)),
            Key("clears_in", "integer", required=True, minimum=0),
        ),
    ),
    Shape(
        "Plain refusal",
        "403 for unusual activity, 401 for an expired token.",
        keys=(Key("kind", "string", required=True, choices=("unusual_activity", "token_expired")),),
    ),
    Shape(
        "Bad payload",
        "422: pydantic's list for a missing body field (`model` unless named).",
        keys=(
            Key("kind", "string", required=True, choices=("bad_payload",)),
            Key("field", "string", visible=True),
        ),
    ),
)

#: Named refusals accepted as `{"http_error": {"kind": ...}}` in JSON.
HTTP_ERROR_KINDS: tuple[str, ...] = tuple(
    kind for shape in NAMED_REFUSALS for kind in shape.key("kind").choices
)

HTTP_ERROR = Shape(
    "HTTP refusal",
    "A refusal sent instead of the stream: an explicit status, body and headers, or one of the "
    "named refusals of the real backend.",
    variants=(STATUS_REFUSAL, *NAMED_REFUSALS),
    file="admin/http_error.json",
)


def streamed_text(script: Any) -> str | None:
    """The text a script's chunks cut: its `text`, or its content's `text`."""
    if script.text is not None:
        return cast(str, script.text)
    content = script.content
    if content is not None and isinstance(content.get("text"), str):
        return cast(str, content["text"])
    return None


_CHUNKED = _given(chunks="array")

SCRIPT = Shape(
    "Script",
    "What the mock answers for one turn: text or content, chunking, pacing, frames, and how "
    "the stream fails. Every key is optional; with neither text nor content the answer is "
    "generated from the seed.",
    keys=(
        Key("text", "string", "The answer's text.", nullable=True),
        Key(
            "content",
            "object",
            "A full content object (code, multimodal_text, ...) instead of text.",
            nullable=True,
            open=True,
            fields=(Key("content_type", "string", required=True),),
        ),
        Key(
            "chunks",
            "array",
            "The answer cut into these pieces, one per event; they must join to the text "
            "(or content.text) exactly, and chunk_words must then be 1.",
            nullable=True,
            items=Key("chunk", "string", min_length=1),
        ),
        Key(
            "chunk_words",
            "integer",
            "Words per event when the text is cut automatically.",
            minimum=1,
        ),
        Key("pacing", "object", part=PACING),
        Key(
            "frames",
            "object",
            "Typed frames switched on or off.",
            names=Key("frame", "string", choices=FRAME_NAMES),
            values=Key("on", "boolean"),
        ),
        Key("title", "string", nullable=True, visible=True),
        Key("model_slug", "string", nullable=True, visible=True),
        Key("finish", "string", choices=get_args(Finish)),
        Key(
            "tool_messages",
            "array",
            items=Key("tool_message", "object", part=TOOL_MESSAGE),
        ),
        Key(
            "reasoning",
            "boolean",
            "Think before answering (a thoughts message and a recap, then the answer on channel "
            "`final`); null: as the model does.",
            nullable=True,
        ),
        Key(
            "reasoning_channel",
            "string",
            "The channel of the thoughts and recap messages (`analysis`; null as in 2025 exports).",
            nullable=True,
            visible=True,
        ),
        Key(
            "handoff",
            "boolean",
            "End the POST's stream with a stream_handoff frame and go on making the turn, to be "
            "read over the celsius WebSocket or a resume; null: as the model does (Pro models "
            "hand off to v1 clients).",
            nullable=True,
        ),
        Key("fault", "object", nullable=True, part=FAULT),
        Key("http_error", "object", nullable=True, part=HTTP_ERROR),
        Key("realism", "object", part=REALISM),
    ),
    rules=(
        Rule(
            "give either text or content, not both",
            "content",
            lambda script: script.text is None or script.content is None,
            {"not": _given(text="string", content="object")},
        ),
        Rule(
            "a refused request has no stream to break; drop fault",
            "fault",
            lambda script: script.fault is None or script.http_error is None,
            {"not": _given(fault="object", http_error="object")},
        ),
        Rule(
            "chunk_words has no effect with explicit chunks",
            "chunk_words",
            lambda script: script.chunks is None or script.chunk_words == 1,
            {"if": _CHUNKED, "then": {"properties": {"chunk_words": {"const": 1}}}},
        ),
        Rule(
            "chunks need a text (or a content with a 'text')",
            "chunks",
            lambda script: script.chunks is None or streamed_text(script) is not None,
            {
                "if": _CHUNKED,
                "then": {
                    "anyOf": [
                        _given(text="string"),
                        {
                            "required": ["content"],
                            "properties": {"content": {"type": "object", **_given(text="string")}},
                        },
                    ]
                },
            },
        ),
        # JSON Schema cannot compare one value with the join of others.
        Rule(
            "chunks must join to the text exactly",
            "chunks",
            lambda script: script.chunks is None or "".join(script.chunks) == streamed_text(script),
            None,
            lambda script: (
                "chunks must join to "
                f"{'text' if script.text is not None else 'content.text'} exactly"
            ),
        ),
    ),
    file="admin/script.json",
)


#: The shapes with a schema file of their own, which `python -m mockgpt.scripts` writes.
FILED: tuple[Shape, ...] = (SCRIPT, FAULT, HTTP_ERROR)


def schema_text(shape: Shape) -> str:
    """A shape's schema file as it is committed."""
    return json.dumps(shape.schema(), indent=2) + "\n"


def write_schema_files(root: Path) -> list[Path]:
    """Write the filed shapes' schemas under `root` (the schemas folder); the paths written."""
    written = []
    for shape in FILED:
        path = root / cast(str, shape.file)
        path.write_text(schema_text(shape), encoding="utf-8")
        written.append(path)
    return written
