"""The adversarial shapes `mockgpt.strategies` gives a mock-written `v1` stream.

Each takes the stream as whole SSE events (bytes, as the mock wrote them) and
returns them changed the way real 2026 streams differ from the mock's own: a
patch list sent as a bare `{"v": [...]}` (its `p` and `o` carried), channel-only
deltas `{"c": N}`, the two answer markers as one string or no
`final_channel_token`, a resume token of any `kind` or none, and an answer whose
markers and patches come without its `add`. Every result still decodes with
`mockgpt.delta.StreamDecoder` to the same messages.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

from mockgpt.framing import Framing
from mockgpt.jsonfmt import dumps

_VISIBLE = b'"marker": "user_visible_token"'
_FINAL_MARKER = b'"marker": "final_channel_token"'
_MESSAGE_ADD = re.compile(
    rb'^event: delta\r?\ndata: \{(?:"p": "", )?(?:"o": "add", )?"v": \{"message"'
    rb'.*"c": (\d+)\} *\r?\n',
    re.S,
)
_TOKEN_KIND = b'"kind": "topic", '
_DELTA = re.compile(rb"^event: delta\r?\ndata: (.*?) *\r?\n", re.S)
_MARKER = re.compile(rb'^data: \{"type": "message_marker", .*"message_id": "([^"]+)"')


def _channel_only(event: bytes, channel: bytes) -> bytes:
    newline = b"\r\n" if event.endswith(b"\r\n\r\n") else b"\n"
    return b"event: delta" + newline + b'data: {"c": ' + channel + b"}" + newline + newline


def _delta(event: bytes) -> Any:
    """The data of a `delta` event, or None for any other event."""
    found = _DELTA.match(event)
    return json.loads(found.group(1)) if found is not None else None


def _answer_id(event: bytes) -> str | None:
    """The id of the assistant text message `event` adds, or None for any other add."""
    message = _delta(event)["v"]["message"]
    is_text = message["content"]["content_type"] == "text"
    return str(message["id"]) if is_text and message["author"]["role"] == "assistant" else None


@st.composite
def turn_variants(draw: st.DrawFn, events: list[bytes]) -> list[bytes]:
    """Channel-only deltas before a message's add, the two answer markers as one (or
    no `final_channel_token` at all), the resume token with any `kind` or none, and
    the answer's `add` left out (its markers and patches come all the same)."""
    out: list[bytes] = []
    index = 0
    while index < len(events):
        event = events[index]
        following = events[index + 1] if index + 1 < len(events) else b""
        if _VISIBLE in event and _FINAL_MARKER in following:
            shape = draw(st.sampled_from(["apart", "combined", "no final marker"]))
            if shape != "apart":
                # One marker for both, or none that names the final channel at all:
                # a client that splits on `final_channel_token` must still find the answer.
                combined = b'"marker": "user_visible_token|final_channel_token"'
                out.append(event.replace(_VISIBLE, combined) if shape == "combined" else event)
                index += 2
                continue
        if _TOKEN_KIND in event:
            kind = draw(st.sampled_from([b"topic", b"conduit", None]))
            event = event.replace(
                _TOKEN_KIND, b"" if kind is None else b'"kind": "' + kind + b'", '
            )
        added = _MESSAGE_ADD.match(event)
        if added is not None:
            marked = _MARKER.match(following)
            answer = _answer_id(event) if marked is not None else None
            if marked is not None and marked.group(1).decode() == answer and draw(st.booleans()):
                # Markers without an add (seen in thinking streams): only the switch to
                # the answer's channel is left, and its first patch makes the message.
                out.append(_channel_only(event, added.group(1)))
                index += 1
                continue
            if draw(st.booleans()):
                out.append(_channel_only(event, added.group(1)))
        out.append(event)
        index += 1
    return out


@st.composite
def bare_patches(draw: st.DrawFn, events: list[bytes], framing: Framing) -> list[bytes]:
    """Patch lists sent bare, `{"v": [...]}`, with `p` `""` and `o` `patch` carried.

    An op on a path (a text append, say) may go as a one-op patch list, and a patch
    list may be cut in two; once the carried `p` and `o` are `""` and `patch`,
    the next list goes bare. A delta that leaned on what was carried before gets
    its `p` and `o` written out. Clients that look for `"o": "patch"` in the
    event itself lose the text these carry (the main 2026 form).
    """
    out: list[bytes] = []
    was: tuple[Any, Any] = (None, None)  # the p and o carried in the mock's own stream
    now: tuple[Any, Any] = (None, None)  # ... and in the stream drawn from it
    for event in events:
        data = _delta(event)
        if not isinstance(data, dict) or data.keys() == {"c"}:
            out.append(event)
            continue
        resolved = (data.get("p", was[0]), data.get("o", was[1]))
        was = resolved
        ops: list[Any] | None = None
        if resolved == ("", "patch") and isinstance(data.get("v"), list) and "c" not in data:
            ops = data["v"]
        elif resolved[0] != "" and "c" not in data and draw(st.booleans()):
            ops = [{"p": resolved[0], "o": resolved[1], "v": data.get("v")}]
        if ops is None:
            # Sent as it was, with p and o written out where the carried ones changed.
            if resolved != now:
                data = {"p": resolved[0], "o": resolved[1], **data}
                event = framing.encode(("delta", dumps(data)))
            out.append(event)
            now = resolved
            continue
        cut = draw(st.integers(0, len(ops) - 1)) if len(ops) > 1 else 0
        for part in (ops[:cut], ops[cut:]) if cut else (ops,):
            bare = now == ("", "patch") and draw(st.booleans())
            patch = {"v": part} if bare else {"p": "", "o": "patch", "v": part}
            out.append(framing.encode(("delta", dumps(patch))))
            now = ("", "patch")
    return out
