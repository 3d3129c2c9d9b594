"""The parts of a script: a fault, an HTTP refusal, pacing, realism and tool messages."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from mockgpt.jsonfmt import dumpb
from mockgpt.responses import HEADER_NAME, HEADER_VALUE, JSON, Prepared
from mockgpt.scripts.checks import (
    FAULT_KINDS,
    HTTP_ERROR_KINDS,
    FaultKind,
    ScriptError,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_optional_str,
    check_str,
    compact,
    field_names,
    json_copy,
    mapping_at,
    refuse_unknown,
    set_field,
)


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
        check_choice("kind", self.kind, FAULT_KINDS)
        check_int("after", self.after, minimum=0)
        check_optional_str("message", self.message, empty=False)
        if self.message is not None and self.kind != "error_envelope":
            raise ScriptError(f"only an error_envelope fault has a message, not {self.kind}")
        seconds = check_float("seconds", self.seconds, minimum=0.0)
        if self.kind == "stall" and seconds == 0:
            raise ScriptError("a stall needs seconds > 0", "seconds")
        if self.kind != "stall" and seconds != 0:
            raise ScriptError(f"only a stall fault has seconds, not {self.kind}", "seconds")
        set_field(self, "seconds", seconds)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A fault from its JSON form (`{"kind": ..., "after": ...}`)."""
        data = mapping_at("", data)
        refuse_unknown(data, field_names(cls))
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
        status = check_int("status", status, minimum=400)
        if status > 599:
            raise ScriptError(f"must be an HTTP error status (400-599), got {status}", "status")
        document = dict(json_copy("body", mapping_at("body", {} if body is None else body)))
        given = mapping_at("headers", {} if headers is None else headers)
        for key, value in given.items():
            check_str("headers", key, empty=False)
            check_str(f"headers.{key}", value)
            if not HEADER_NAME.fullmatch(key):
                raise ScriptError(f"{key!r} is not a valid header name", "headers")
            if not HEADER_VALUE.fullmatch(value):
                raise ScriptError("must be printable latin-1 text", f"headers.{key}")
            if key.lower() == "content-length":
                raise ScriptError("content-length is set from the body; leave it out", "headers")
        super().__init__(status, dumpb(document), JSON, given.items(), document=document)

    @classmethod
    def model_cap(cls, clears_in: int) -> Self:
        """429: the per-model message cap; `clears_in` is in seconds."""
        check_int("clears_in", clears_in, minimum=0)
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
        check_str("field", field, empty=False)
        item = {"loc": ["body", field], "msg": "field required", "type": "value_error.missing"}
        return cls(422, {"detail": [item]})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """From `{"status", "body", "headers"}` or a named kind (`{"kind": "model_cap", ...}`)."""
        data = mapping_at("", data)
        if "kind" not in data:
            refuse_unknown(data, ("status", "body", "headers"))
            if "status" not in data:
                raise ScriptError("missing key 'status' (or give a 'kind')")
            return cls(**data)
        kind = check_choice("kind", data["kind"], HTTP_ERROR_KINDS)
        params: dict[str, tuple[str, ...]] = {
            "model_cap": ("clears_in",),
            "unusual_activity": (),
            "token_expired": (),
            "bad_payload": ("field",),
        }
        refuse_unknown(data, ("kind", *params[kind]))
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
        data = mapping_at("", data)
        refuse_unknown(data, field_names(cls))
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; keys left at their defaults are omitted."""
        return compact(self)


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
        set_field(self, "ttft_ms", check_float("ttft_ms", self.ttft_ms, minimum=0.0))
        if self.tokens_per_second is not None:
            rate = check_float("tokens_per_second", self.tokens_per_second, minimum=0.0)
            if rate == 0:
                raise ScriptError("must be > 0 (or null for unpaced)", "tokens_per_second")
            set_field(self, "tokens_per_second", rate)
        set_field(self, "jitter", check_float("jitter", self.jitter, minimum=0.0, maximum=1.0))


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
        check_bool("padding", self.padding)
        check_int("pings", self.pings, minimum=0)
        check_bool("crlf", self.crlf)


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
        recipient = check_str("recipient", self.recipient, empty=False)
        if recipient == "all":
            raise ScriptError("a tool message is not addressed to 'all'", "recipient")
        check_str("author_name", self.author_name, empty=False)
        check_str("text", self.text)
        check_str("result", self.result)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A tool message from its JSON form (`result`, the tool's reply, is optional)."""
        data = mapping_at("", data)
        names = field_names(cls)
        refuse_unknown(data, names)
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
