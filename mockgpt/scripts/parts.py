"""The parts of a script: a fault, an HTTP refusal, pacing, realism and tool messages."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from mockgpt.jsonfmt import dumpb
from mockgpt.responses import JSON, Prepared
from mockgpt.scripts.checks import FaultKind, check_choice, compact
from mockgpt.scripts.format import (
    FAULT,
    HTTP_ERROR_KINDS,
    NAMED_REFUSALS,
    PACING,
    REALISM,
    STATUS_REFUSAL,
    TOOL_MESSAGE,
)
from mockgpt.scripts.keys import Shape

_MODEL_CAP, _, _BAD_PAYLOAD = NAMED_REFUSALS


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
        FAULT.check(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A fault from its JSON form (`{"kind": ..., "after": ...}`)."""
        return cls(**FAULT.arguments(data))

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
        status = STATUS_REFUSAL.key("status").check(status, "status")
        document = STATUS_REFUSAL.key("body").check({} if body is None else body, "body")
        STATUS_REFUSAL.key("headers").check({} if headers is None else headers, "headers")
        given = {} if headers is None else headers
        super().__init__(status, dumpb(document), JSON, given.items(), document=document)

    @classmethod
    def model_cap(cls, clears_in: int) -> Self:
        """429: the per-model message cap; `clears_in` is in seconds."""
        clears_in = _MODEL_CAP.key("clears_in").check(clears_in, "clears_in")
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
        _BAD_PAYLOAD.key("field").check(field, "field")
        item = {"loc": ["body", field], "msg": "field required", "type": "value_error.missing"}
        return cls(422, {"detail": [item]})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """From `{"status", "body", "headers"}` or a named kind (`{"kind": "model_cap", ...}`)."""
        if not isinstance(data, Mapping) or "kind" not in data:
            return cls(**STATUS_REFUSAL.arguments(data))
        kind = check_choice("kind", data["kind"], HTTP_ERROR_KINDS)
        [shape] = [shape for shape in NAMED_REFUSALS if kind in shape.key("kind").choices]
        args = shape.arguments(data)
        del args["kind"]
        if kind == "model_cap":
            return cls.model_cap(**args)
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
    SHAPE: ClassVar[Shape]

    def __post_init__(self) -> None:
        self.SHAPE.check(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(**cls.SHAPE.arguments(data))

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

    SHAPE: ClassVar[Shape] = PACING
    ttft_ms: float = 0.0
    tokens_per_second: float | None = None
    jitter: float = 0.0


@dataclass(frozen=True, slots=True)
class Realism(_Plain):
    """Byte-level quirks of the real server, off by default for readable captures.

    `padding` adds the trailing spaces the real server puts on JSON lines,
    `pings` is how many `: ping` keep-alive comments to interleave, `crlf`
    ends lines with CRLF instead of LF. Parsers that only cope with the
    tidy form break on these.
    """

    SHAPE: ClassVar[Shape] = REALISM
    padding: bool = False
    pings: int = 0
    crlf: bool = False


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
        TOOL_MESSAGE.check(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """A tool message from its JSON form (`result`, the tool's reply, is optional)."""
        return cls(**TOOL_MESSAGE.arguments(data))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out = {"recipient": self.recipient, "author_name": self.author_name, "text": self.text}
        if self.result:
            out["result"] = self.result
        return out
