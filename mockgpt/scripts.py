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

JSON form of one script (every key optional; unknown keys are refused)::

    {"text": "Hello!", "chunk_words": 2,
     "pacing": {"ttft_ms": 300, "tokens_per_second": 40, "jitter": 0.2},
     "frames": {"moderation": true}, "title": "Greeting",
     "fault": {"kind": "error_envelope", "after": 5, "message": "..."},
     "http_error": {"kind": "model_cap", "clears_in": 60}}
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal, Self, cast, get_args

from mockgpt.errors import MockGPTError
from mockgpt.jsonfmt import dumpb
from mockgpt.patterns import PatternError, PromptPattern
from mockgpt.responses import JSON, Prepared
from mockgpt.stubs import UNTIL_RESET, Lifetime

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

FaultKind = Literal[
    "close_after", "no_done", "malformed_frame", "stall", "error_envelope", "moderation_block"
]
Finish = Literal["stop", "max_tokens"]

#: Every way a stream can be made to break.
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: The optional typed frames a script can switch on or off.
FRAME_NAMES: tuple[str, ...] = (
    "title_generation",
    "server_ste_metadata",
    "conversation_detail_metadata",
    "message_marker",
    "resume_conversation_token",
    "input_message",
    "message_stream_complete",
    "moderation",
    "conversation_async_status",
)
#: Frames a plain turn does not send: the 2023 moderation frame, and the async status
#: of long-running tasks (deep research, image generation).
OPTIONAL_FRAMES = frozenset({"moderation", "conversation_async_status"})
#: The real 2025-26 stream sends all of them except the optional ones.
DEFAULT_FRAMES: Mapping[str, bool] = MappingProxyType(
    {name: name not in OPTIONAL_FRAMES for name in FRAME_NAMES}
)
#: Named refusals accepted as `{"http_error": {"kind": ...}}` in JSON.
HTTP_ERROR_KINDS: tuple[str, ...] = (
    "model_cap",
    "unusual_activity",
    "token_expired",
    "bad_payload",
)


class ScriptError(MockGPTError, ValueError):
    """A script is malformed; the message names the offending key.

    `path` locates the value (`script[1].pacing.jitter`), `problem` says what
    is wrong with it; `str()` joins both.
    """

    def __init__(self, problem: str, path: str = "") -> None:
        self.problem = problem
        self.path = path
        super().__init__(f"{path}: {problem}" if path else problem)

    def within(self, prefix: str) -> ScriptError:
        """The same error seen from an enclosing object (`prefix` goes in front)."""
        if not prefix:
            return self
        if not self.path:
            return ScriptError(self.problem, prefix)
        sep = "" if self.path.startswith("[") else "."
        return ScriptError(self.problem, f"{prefix}{sep}{self.path}")


# --------------------------------------------------------------------------- checks


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(cast(float, value))


def _check_int(name: str, value: object, *, minimum: int) -> int:
    if not _is_int(value):
        raise ScriptError(f"must be an integer, got {value!r}", name)
    number = cast(int, value)
    if number < minimum:
        raise ScriptError(f"must be >= {minimum}, got {number}", name)
    return number


def _check_float(name: str, value: object, *, minimum: float, maximum: float = math.inf) -> float:
    if not _is_number(value):
        raise ScriptError(f"must be a finite number, got {value!r}", name)
    number = float(cast(float, value))
    if not minimum <= number <= maximum:
        bounds = f"between {minimum:g} and {maximum:g}" if maximum < math.inf else f">= {minimum:g}"
        raise ScriptError(f"must be {bounds}, got {number:g}", name)
    return number


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ScriptError(f"must be true or false, got {value!r}", name)
    return value


def _check_str(name: str, value: object, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ScriptError(f"must be a string, got {value!r}", name)
    if not empty and not value.strip():
        raise ScriptError("must not be empty", name)
    return value


def _check_optional_str(name: str, value: object, *, empty: bool = True) -> str | None:
    return None if value is None else _check_str(name, value, empty=empty)


def _check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ScriptError(f"must be one of {', '.join(map(repr, choices))}; got {value!r}", name)
    return value


def _json_copy(name: str, value: object) -> Any:
    """A deep copy of a JSON value, refusing anything json cannot write."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ScriptError(f"must be plain JSON data ({exc})", name) from None
    return copy.deepcopy(value)


def _set(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass inside `__post_init__`."""
    object.__setattr__(obj, name, value)


def _mapping(path: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScriptError(f"must be a JSON object, got {type(value).__name__}", path)
    return cast(Mapping[str, Any], value)


def _refuse_unknown(data: Mapping[str, Any], known: Sequence[str]) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ScriptError(
                f"unknown key {key!r}{hint} (allowed: {', '.join(sorted(known))})", str(key)
            )


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _compact(obj: object) -> dict[str, Any]:
    """The fields of a dataclass that differ from a default-built one."""
    default = type(obj)()
    return {
        name: getattr(obj, name)
        for name in _field_names(type(obj))
        if getattr(obj, name) != getattr(default, name)
    }


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True, slots=True)
class Fault:
    """How a stream breaks, so clients' recovery paths can be tested.

    `after` counts the events sent before the fault strikes, so a test can
    break a stream before the first delta (0) or in the middle of the answer;
    past the last event, it strikes at the end. A fault means the same on every
    encoding (web `legacy` and `v1`, `/v1` chunks); where a format has its own
    shape for an error or a refusal, that shape is sent.

    * `close_after`: the connection closes, with no `[DONE]`.
    * `no_done`: the body ends cleanly after `after` events, without the
      closing `data: [DONE]` (the web client then starts a resume); an
      `after` past the last event sends every event.
    * `malformed_frame`: a frame whose JSON does not parse is sent, then
      `[DONE]`.
    * `stall`: the stream goes silent for `seconds`, then carries on; this
      exercises read timeouts.
    * `error_envelope`: an envelope with a non-null `error` (text `message`,
      or the server's default when None) is sent and the stream ends.
    * `moderation_block`: a moderation frame with `blocked: true` is sent and
      the answer stops.
    """

    kind: FaultKind
    after: int = 0
    message: str | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        _check_choice("kind", self.kind, FAULT_KINDS)
        _check_int("after", self.after, minimum=0)
        _check_optional_str("message", self.message, empty=False)
        if self.message is not None and self.kind != "error_envelope":
            raise ScriptError(f"only an error_envelope fault has a message, not {self.kind}")
        seconds = _check_float("seconds", self.seconds, minimum=0.0)
        if self.kind == "stall" and seconds == 0:
            raise ScriptError("a stall needs seconds > 0", "seconds")
        if self.kind != "stall" and seconds != 0:
            raise ScriptError(f"only a stall fault has seconds, not {self.kind}", "seconds")
        _set(self, "seconds", seconds)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A fault from its JSON form (`{"kind": ..., "after": ...}`)."""
        data = _mapping("", data)
        _refuse_unknown(data, _field_names(cls))
        if "kind" not in data:
            raise ScriptError("missing key 'kind'")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; keys left at their defaults are omitted."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.after:
            out["after"] = self.after
        if self.message is not None:
            out["message"] = self.message
        if self.seconds:
            out["seconds"] = self.seconds
        return out


class HttpError(Prepared):
    """A refusal sent instead of the stream, with the real server's body.

    An answer like every other (a `Prepared`): the web backend sends it as it
    is, the platform API rewrites it into its own error shape from `document`
    and `extra`. The constructors reproduce the bodies the ChatGPT backend
    (FastAPI) sends, so clients' error handling sees the exact shapes it meets
    in production.
    """

    __slots__ = ()

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        status = _check_int("status", status, minimum=400)
        if status > 599:
            raise ScriptError(f"must be an HTTP error status (400-599), got {status}", "status")
        document = dict(_json_copy("body", _mapping("body", {} if body is None else body)))
        given = _mapping("headers", {} if headers is None else headers)
        for key, value in given.items():
            _check_str("headers", key, empty=False)
            _check_str(f"headers.{key}", value)
        super().__init__(status, dumpb(document), JSON, given.items(), document=document)

    @classmethod
    def model_cap(cls, clears_in: int) -> Self:
        """429: the per-model message cap; `clears_in` is in seconds."""
        _check_int("clears_in", clears_in, minimum=0)
        message = "You have sent too many messages to the model. Please try again later."
        detail = {"message": message, "code": "model_cap_exceeded", "clears_in": clears_in}
        return cls(429, {"detail": detail})

    @classmethod
    def unusual_activity(cls) -> Self:
        """403: the anti-abuse refusal."""
        message = (
            "Our systems have detected unusual activity from your system. Please try again later."
        )
        return cls(403, {"detail": message})

    @classmethod
    def token_expired(cls) -> Self:
        """401: the access token has expired."""
        detail = {
            "message": "Your authentication token has expired. Please try signing in again.",
            "type": "invalid_request_error",
            "param": None,
            "code": "token_expired",
        }
        return cls(401, {"detail": detail})

    @classmethod
    def bad_payload(cls, field: str = "model") -> Self:
        """422: pydantic's list for a missing body field."""
        _check_str("field", field, empty=False)
        item = {"loc": ["body", field], "msg": "field required", "type": "value_error.missing"}
        return cls(422, {"detail": [item]})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """From `{"status", "body", "headers"}` or a named kind (`{"kind": "model_cap", ...}`)."""
        data = _mapping("", data)
        if "kind" not in data:
            _refuse_unknown(data, ("status", "body", "headers"))
            if "status" not in data:
                raise ScriptError("missing key 'status' (or give a 'kind')")
            return cls(**data)
        kind = _check_choice("kind", data["kind"], HTTP_ERROR_KINDS)
        params: dict[str, tuple[str, ...]] = {
            "model_cap": ("clears_in",),
            "unusual_activity": (),
            "token_expired": (),
            "bad_payload": ("field",),
        }
        _refuse_unknown(data, ("kind", *params[kind]))
        args = {key: value for key, value in data.items() if key != "kind"}
        if kind == "model_cap":
            if "clears_in" not in args:
                raise ScriptError("missing key 'clears_in' for kind 'model_cap'")
            return cls.model_cap(args["clears_in"])
        if kind == "unusual_activity":
            return cls.unusual_activity()
        if kind == "token_expired":
            return cls.token_expired()
        return cls.bad_payload(**args)

    def to_dict(self) -> dict[str, Any]:
        """The explicit JSON form (status, body and, when set, headers)."""
        out: dict[str, Any] = {"status": self.status, "body": copy.deepcopy(self.document)}
        if self.extra:
            out["headers"] = dict(self.extra)
        return out


class _Plain:
    """JSON form of a small settings object: every key optional, defaults left out."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = _mapping("", data)
        _refuse_unknown(data, _field_names(cls))
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; keys left at their defaults are omitted."""
        return _compact(self)


@dataclass(frozen=True, slots=True)
class Pacing(_Plain):
    """How fast the answer arrives, to test spinners, timeouts and buffering.

    `ttft_ms` is the wait before the first token; `tokens_per_second` the rate
    after it (None: as fast as possible, the default so tests stay quick);
    `jitter` the fraction (0..1) by which each wait may randomly vary.
    """

    ttft_ms: float = 0.0
    tokens_per_second: float | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        _set(self, "ttft_ms", _check_float("ttft_ms", self.ttft_ms, minimum=0.0))
        if self.tokens_per_second is not None:
            rate = _check_float("tokens_per_second", self.tokens_per_second, minimum=0.0)
            if rate == 0:
                raise ScriptError("must be > 0 (or null for unpaced)", "tokens_per_second")
            _set(self, "tokens_per_second", rate)
        _set(self, "jitter", _check_float("jitter", self.jitter, minimum=0.0, maximum=1.0))


@dataclass(frozen=True, slots=True)
class Realism(_Plain):
    """Byte-level quirks of the real server, off by default for readable captures.

    `padding` adds the trailing spaces the real server puts on JSON lines,
    `pings` is how many `: ping` keep-alive comments to interleave, `crlf`
    ends lines with CRLF instead of LF. Parsers that only cope with the
    tidy form break on these.
    """

    padding: bool = False
    pings: int = 0
    crlf: bool = False

    def __post_init__(self) -> None:
        _check_bool("padding", self.padding)
        _check_int("pings", self.pings, minimum=0)
        _check_bool("crlf", self.crlf)


@dataclass(frozen=True, slots=True)
class ToolMessage:
    """A message the assistant sends to a tool before its final answer.

    Clients must skip these (`recipient != "all"`); scripting them checks they do.
    `author_name` is the tool's name on its reply (e.g. `bio`).
    """

    recipient: str
    author_name: str
    text: str
    result: str = ""

    def __post_init__(self) -> None:
        recipient = _check_str("recipient", self.recipient, empty=False)
        if recipient == "all":
            raise ScriptError("a tool message is not addressed to 'all'", "recipient")
        _check_str("author_name", self.author_name, empty=False)
        _check_str("text", self.text)
        _check_str("result", self.result)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A tool message from its JSON form (`result`, the tool's reply, is optional)."""
        data = _mapping("", data)
        names = _field_names(cls)
        _refuse_unknown(data, names)
        for name in names:
            if name not in data and name != "result":
                raise ScriptError(f"missing key {name!r}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out = {"recipient": self.recipient, "author_name": self.author_name, "text": self.text}
        if self.result:
            out["result"] = self.result
        return out


# --------------------------------------------------------------------------- chunking

# Scripts written without spaces between words: each character is a token.
NO_SPACE_CHARS = (
    "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\u0e00-\u0e7f\U00020000-\U0003134f"
)
# Combining marks stay with the character they modify.
_MARKS = "\u0300-\u036f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u3099\u309a\ufe00-\ufe0f\u200d"
_TOKEN = re.compile(rf"(?:[{NO_SPACE_CHARS}][{_MARKS}]*|[^\s{NO_SPACE_CHARS}]+)\s*")
_LEADING_SPACE = re.compile(r"\s*")


def chunk_text(text: str, words: int = 1) -> list[str]:
    """Split `text` into chunks of `words` words that join back to it exactly.

    A word keeps the whitespace after it (leading whitespace goes with the
    first word). In Chinese, Japanese and Thai, which do not separate words
    with spaces, each character counts as a word, the way the real model
    streams them a token at a time.
    """
    _check_int("chunk_words", words, minimum=1)
    return list(iter_chunks(text, words))


def iter_chunks(text: str, words: int = 1) -> Iterator[str]:
    """`chunk_text`, one chunk at a time: a stream starts before the text is all cut."""
    if not text:
        return
    lead = _LEADING_SPACE.match(text)
    head = lead.group() if lead else ""
    pending: list[str] = []
    found = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if not found:
            found = True
            token = head + token
        if words == 1:
            yield token
            continue
        pending.append(token)
        if len(pending) == words:
            yield "".join(pending)
            pending = []
    if pending:
        yield "".join(pending)
    elif not found:
        yield text


# --------------------------------------------------------------------------- script


@dataclass(frozen=True, slots=True)
class Script:
    """What the mock answers for one turn, how fast, with which frames, and how it fails.

    With neither `text` nor `content` the answer is generated from the seed
    (`generate_reply`), so a script can change only the pacing or the failure.
    `content` is a full content object (`code`, `multimodal_text`, ...) for
    answers that are not plain text. `finish="max_tokens"` ends the turn
    early the way a long answer does; the client's `continue` request is a
    new turn, answered by the next script picked. Sequences are stored as
    tuples and mappings as private copies, so a script cannot change after
    it is built.
    """

    text: str | None = None
    content: Mapping[str, Any] | None = None
    chunks: Sequence[str] | None = None
    chunk_words: int = 1
    pacing: Pacing = field(default_factory=Pacing)
    frames: Mapping[str, bool] = field(default_factory=lambda: dict(DEFAULT_FRAMES))
    title: str | None = None
    model_slug: str | None = None
    finish: Finish = "stop"
    tool_messages: Sequence[ToolMessage] = ()
    #: Think first (thoughts, recap, then the answer on `final`); None: as the model does.
    reasoning: bool | None = None
    #: The channel of the thoughts and recap (`analysis`; None as in 2025 exports).
    reasoning_channel: str | None = "analysis"
    fault: Fault | None = None
    http_error: HttpError | None = None
    realism: Realism = field(default_factory=Realism)

    _NESTED: ClassVar[Mapping[str, Callable[[Mapping[str, Any]], object]]] = MappingProxyType(
        {
            "pacing": Pacing.from_dict,
            "fault": Fault.from_dict,
            "http_error": HttpError.from_dict,
            "realism": Realism.from_dict,
        }
    )

    def __post_init__(self) -> None:
        text = _check_optional_str("text", self.text)
        if self.content is not None:
            if text is not None:
                raise ScriptError("give either text or content, not both", "content")
            content = _json_copy("content", _mapping("content", self.content))
            if not isinstance(content.get("content_type"), str):
                raise ScriptError("must have a string 'content_type'", "content")
            _set(self, "content", content)
        self._check_chunks()
        self._check_frames()
        for name, kind in (("pacing", Pacing), ("realism", Realism)):
            if not isinstance(getattr(self, name), kind):
                raise ScriptError(f"must be a {kind.__name__}", name)
        _check_optional_str("title", self.title, empty=False)
        _check_optional_str("model_slug", self.model_slug, empty=False)
        _check_choice("finish", self.finish, get_args(Finish))
        if self.reasoning is not None:
            _check_bool("reasoning", self.reasoning)
        _check_optional_str("reasoning_channel", self.reasoning_channel, empty=False)
        messages: list[ToolMessage] = []
        for i, message in enumerate(self.tool_messages):
            if isinstance(message, Mapping):
                try:
                    message = ToolMessage.from_dict(message)
                except ScriptError as exc:
                    raise exc.within(f"tool_messages[{i}]") from None
            if not isinstance(message, ToolMessage):
                raise ScriptError("must be a ToolMessage", f"tool_messages[{i}]")
            messages.append(message)
        _set(self, "tool_messages", tuple(messages))
        if self.fault is not None and not isinstance(self.fault, Fault):
            raise ScriptError("must be a Fault", "fault")
        if self.http_error is not None:
            if not isinstance(self.http_error, HttpError):
                raise ScriptError("must be an HttpError", "http_error")
            if self.fault is not None:
                raise ScriptError("a refused request has no stream to break; drop fault", "fault")

    def _check_chunks(self) -> None:
        _check_int("chunk_words", self.chunk_words, minimum=1)
        if self.chunks is None:
            return
        if isinstance(self.chunks, str) or not isinstance(self.chunks, Sequence):
            raise ScriptError("must be a list of strings", "chunks")
        chunks = tuple(self.chunks)
        for i, chunk in enumerate(chunks):
            _check_str(f"chunks[{i}]", chunk)
            if not chunk:
                raise ScriptError("must not be empty", f"chunks[{i}]")
        if self.chunk_words != 1:
            raise ScriptError("chunk_words has no effect with explicit chunks", "chunk_words")
        streamed = self._streamed_text()
        if streamed is None:
            raise ScriptError("chunks need a text (or a content with a 'text')", "chunks")
        if "".join(chunks) != streamed:
            where = "text" if self.text is not None else "content.text"
            raise ScriptError(f"chunks must join to {where} exactly", "chunks")
        _set(self, "chunks", chunks)

    def _check_frames(self) -> None:
        frames = _mapping("frames", self.frames)
        try:
            _refuse_unknown(frames, FRAME_NAMES)
        except ScriptError as exc:
            raise exc.within("frames") from None
        merged = dict(DEFAULT_FRAMES)
        for name, value in frames.items():
            merged[name] = _check_bool(f"frames.{name}", value)
        _set(self, "frames", merged)

    def _streamed_text(self) -> str | None:
        if self.text is not None:
            return self.text
        if self.content is not None and isinstance(self.content.get("text"), str):
            return cast(str, self.content["text"])
        return None

    def chunked(self) -> list[str]:
        """The pieces the answer is streamed in; they join back to the text exactly.

        Explicit `chunks` win; otherwise `text` (or a code content's `text`) is
        cut every `chunk_words` words. Empty when the answer is generated or
        has no text to stream.
        """
        return list(self.iter_chunked())

    def iter_chunked(self) -> Iterator[str]:
        """`chunked`, one piece at a time."""
        if self.chunks is not None:
            return iter(self.chunks)
        streamed = self._streamed_text()
        return iter(()) if streamed is None else iter_chunks(streamed, self.chunk_words)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A script from its JSON form; unknown keys and bad values raise `ScriptError`."""
        data = _mapping("", data)
        _refuse_unknown(data, _field_names(cls))
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            parse = cls._NESTED.get(key)
            if parse is not None and value is not None:
                try:
                    value = parse(_mapping("", value))
                except ScriptError as exc:
                    raise exc.within(key) from None
            elif key == "tool_messages":
                if not isinstance(value, list):
                    raise ScriptError("must be a list", key)
                parsed: list[ToolMessage] = []
                for i, item in enumerate(value):
                    try:
                        parsed.append(ToolMessage.from_dict(_mapping("", item)))
                    except ScriptError as exc:
                        raise exc.within(f"{key}[{i}]") from None
                value = parsed
            elif key in ("chunks",) and value is not None and not isinstance(value, list):
                raise ScriptError("must be a list of strings", key)
            elif key in ("pacing", "realism", "frames") and value is None:
                raise ScriptError("must be a JSON object, not null", key)
            kwargs[key] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, `from_dict`'s inverse; keys left at their defaults are omitted."""
        out: dict[str, Any] = {}
        default = Script()
        for name in _field_names(Script):
            value = getattr(self, name)
            if value == getattr(default, name):
                continue
            if name == "frames":
                value = {k: v for k, v in value.items() if DEFAULT_FRAMES[k] != v}
            elif name == "chunks":
                value = list(value)
            elif name == "content":
                value = copy.deepcopy(dict(value))
            elif name == "tool_messages":
                value = [message.to_dict() for message in value]
            elif isinstance(value, Pacing | Realism | Fault | HttpError):
                value = value.to_dict()
            out[name] = value
        return out


def load_script(source: str | Path | Mapping[str, Any] | Sequence[Any]) -> list[Script]:
    """Scripts from a JSON file (path) or from already-parsed data.

    A JSON object is one script, a JSON array several. Errors are
    `ScriptError`s naming the file, the script's index and the bad key.
    """
    origin = ""
    data: object = source
    if isinstance(source, str | Path):
        origin = str(source)
        try:
            raw = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScriptError(f"cannot read script file: {exc.strerror or exc}", origin) from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            problem = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            raise ScriptError(problem, origin) from None
    try:
        if isinstance(data, Mapping):
            try:
                return [Script.from_dict(data)]
            except ScriptError as exc:
                raise exc.within("script") from None
        if isinstance(data, Sequence) and not isinstance(data, str | bytes):
            scripts = []
            for i, item in enumerate(data):
                try:
                    scripts.append(Script.from_dict(_mapping("", item)))
                except ScriptError as exc:
                    raise exc.within(f"script[{i}]") from None
            return scripts
        raise ScriptError(f"must be a JSON object or array, got {type(data).__name__}")
    except ScriptError as exc:
        if origin:
            raise ScriptError(
                exc.problem, f"{origin}: {exc.path}" if exc.path else origin
            ) from None
        raise


# --------------------------------------------------------------------------- book


@dataclass(frozen=True, slots=True)
class Matcher:
    """A script answering the turns whose prompt and model fit, for its lifetime."""

    script: Script
    prompt: str | PromptPattern | None = None
    model: str | None = None
    lifetime: Lifetime = UNTIL_RESET

    def matches(self, prompt: str, model: str) -> bool:
        """Whether a turn with this prompt and model is answered by this matcher."""
        if self.model is not None and model != self.model:
            return False
        if isinstance(self.prompt, PromptPattern):
            return self.prompt.search(prompt)
        return self.prompt is None or self.prompt in prompt


@dataclass(frozen=True, slots=True)
class BookState:
    """An immutable copy of a `ScriptBook`, for `ScriptBook.restore`."""

    queued: tuple[Script, ...] = ()
    matchers: tuple[Matcher, ...] = ()
    fixed: Script | None = None


class ScriptBook:
    """Where the app keeps scripts, and which one answers a turn.

    Order of `pick`: queued scripts first (FIFO, each used once), then
    matchers in the order they were registered (each for its `Lifetime`, the
    rule route overrides follow too: see `mockgpt.stubs`), then the fixed
    script; None means "generate the answer".
    Thread-safe, since the app may serve turns from several threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: deque[Script] = deque()
        self._matchers: list[Matcher] = []
        self._fixed: Script | None = None

    def queue(self, *scripts: Script) -> None:
        """Answer the next turns with these scripts, in order."""
        for script in scripts:
            if not isinstance(script, Script):
                raise TypeError(f"expected a Script, got {type(script).__name__}")
        with self._lock:
            self._queued.extend(scripts)

    def match(
        self,
        script: Script,
        *,
        prompt: str | re.Pattern[str] | PromptPattern | None = None,
        model: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer turns whose prompt contains `prompt` (or matches the pattern) and
        whose model is `model`; at most `times` times (None: no limit). A pattern runs
        on RE2 (`mockgpt.patterns`), so one it cannot run is a `ScriptError` here."""
        if not isinstance(script, Script):
            raise TypeError(f"expected a Script, got {type(script).__name__}")
        if times is not None:
            _check_int("times", times, minimum=1)
        if isinstance(prompt, re.Pattern):
            try:
                prompt = PromptPattern(prompt)
            except PatternError as error:
                raise ScriptError(str(error), "prompt") from None
        with self._lock:
            self._matchers.append(Matcher(script, prompt, model, Lifetime(times)))

    def fixed(self, script: Script | None) -> None:
        """Answer every other turn of the run with `script` (None: generate)."""
        if script is not None and not isinstance(script, Script):
            raise TypeError(f"expected a Script, got {type(script).__name__}")
        with self._lock:
            self._fixed = script

    def pick(self, prompt: str, model: str) -> Script | None:
        """The script for a turn, consuming a queued script or one use of a matcher."""
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            for i, matcher in enumerate(self._matchers):
                if not matcher.matches(prompt, model):
                    continue
                left = matcher.lifetime.spend()
                if left is None:
                    del self._matchers[i]
                elif left is not matcher.lifetime:
                    self._matchers[i] = replace(matcher, lifetime=left)
                return matcher.script
            return self._fixed

    def reset(self) -> None:
        """Forget every script."""
        with self._lock:
            self._queued.clear()
            self._matchers.clear()
            self._fixed = None

    @property
    def pending(self) -> int:
        """How many queued scripts are still waiting for a turn."""
        with self._lock:
            return len(self._queued)

    def snapshot(self) -> BookState:
        """The current state, to put back later with `restore`."""
        with self._lock:
            return BookState(tuple(self._queued), tuple(self._matchers), self._fixed)

    def restore(self, state: BookState) -> None:
        """Go back to a state taken by `snapshot`."""
        with self._lock:
            self._queued = deque(state.queued)
            self._matchers = list(state.matchers)
            self._fixed = state.fixed

    def __deepcopy__(self, memo: dict[int, Any]) -> ScriptBook:
        # Scripts are immutable, so a copy of the book needs only its own lock and lists.
        book = ScriptBook()
        book.restore(self.snapshot())
        return book
