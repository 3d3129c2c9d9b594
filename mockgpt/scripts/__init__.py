"""Scripts: what the mock answers for a turn, when, and how it fails.

A test that talks to mockgpt usually needs to control one thing: the answer to
the next message, the pace it arrives at, or the way the stream breaks. A
`Script` says all of that as plain data, so it can live in a JSON file next to
the test (`load_script`) or be built in Python. The app keeps scripts in a
`ScriptBook`, which picks one per conversation turn (web) or chat completion
(/v1): queued scripts first, then prompt/model matchers, then a fixed script.

When no script applies the answer is still deterministic: `replies.generate_reply`
draws it from the seed, the prompt and the model, in the prompt's language, so
a run with the same seed replays byte for byte.

The format is defined once, in `mockgpt.scripts.format`: the classes check
themselves against it, and the admin API's JSON Schemas are written from it
(`python -m mockgpt.scripts`). JSON form of one script (every key optional;
unknown keys are refused)::

    {"text": "Hello!", "chunk_words": 2,
     "pacing": {"ttft_ms": 300, "tokens_per_second": 40, "jitter": 0.2},
     "frames": {"moderation": true}, "title": "Greeting",
     "fault": {"kind": "error_envelope", "after": 5, "message": "..."},
     "http_error": {"kind": "model_cap", "clears_in": 60}}
"""

from __future__ import annotations

from mockgpt.scripts.book import BookState, Matcher, ScriptBook
from mockgpt.scripts.checks import (
    DEFAULT_FRAMES,
    FAULT_KINDS,
    FRAME_NAMES,
    FaultKind,
    Finish,
    ScriptError,
)
from mockgpt.scripts.chunking import chunk_text, iter_chunks
from mockgpt.scripts.format import HTTP_ERROR_KINDS
from mockgpt.scripts.parts import Fault, HttpError, Pacing, Realism, ToolMessage
from mockgpt.scripts.script import Script, load_script

__all__ = [
    "DEFAULT_FRAMES",
    "FAULT_KINDS",
    "FRAME_NAMES",
    "HTTP_ERROR_KINDS",
    "BookState",
    "Fault",
    "FaultKind",
    "Finish",
    "HttpError",
    "Matcher",
    "Pacing",
    "Realism",
    "Script",
    "ScriptBook",
    "ScriptError",
    "ToolMessage",
    "chunk_text",
    "iter_chunks",
    "load_script",
]
