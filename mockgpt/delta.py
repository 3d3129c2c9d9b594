"""Delta encoding v1: the compact patch stream the ChatGPT web backend sends.

With `"supported_encodings": ["v1"]` in the request the server stops re-sending the
whole message on every token. It sends `event: delta_encoding` / `data: "v1"` first,
then `event: delta` frames holding one patch op each, `{"p": path, "o": op, "v": value,
"c": channel}`. `p`, `o` and `c` are carried forward from the previous delta when
missing (`v` never is), so most frames are a bare `{"v": "next token"}`. The client
keeps one object tree per channel and applies each op to it; decoding gives back
the same full snapshots the legacy stream sends.

This module holds both directions:

* `apply_op`, `DeltaDecoder` and `decode_sse` rebuild the snapshots, so tests (ours
  and our users') can assert on whole messages rather than on patch frames;
* `DeltaEncoder` turns the successive snapshots the mock builds into the frames the
  real server sends, with the same carry-forward habits.

Ops are applied in place: a token stream touches one string per frame, and copying
the tree each time would make decoding quadratic for no benefit.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mockgpt.errors import MockGPTError
from mockgpt.framing import SSEReader

__all__ = [
    "DeltaDecoder",
    "DeltaEncoder",
    "DeltaError",
    "Event",
    "Op",
    "StreamDecoder",
    "apply_op",
    "decode_sse",
    "diff",
    "escape_segment",
    "format_pointer",
    "parse_pointer",
    "resolve_pointer",
]

ENCODING = "v1"
OPS = frozenset({"add", "remove", "replace", "append", "truncate", "patch"})

Event = tuple[str, Any]
"""One SSE event as (event name, parsed data)."""
Op = dict[str, Any]
"""One op, `{"p": pointer, "o": op name, "v": value}`."""

_INDEX = re.compile(r"0|[1-9][0-9]*")
# Characters outside the BMP take two UTF-16 units in a JavaScript string.
#: Markers that name the visible answer (a combined `a|b` string counts too).
_ANSWER_MARKER = re.compile(r"user_visible_token|final_channel_token")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class DeltaError(MockGPTError, ValueError):
    """A delta op or stream does not follow the v1 rules."""


# JSON pointers (RFC 6901) ------------------------------------------------------------


def escape_segment(segment: str) -> str:
    """One pointer segment, with `~` and `/` escaped so keys holding them survive."""
    return segment.replace("~", "~0").replace("/", "~1")


def format_pointer(segments: Iterable[str | int]) -> str:
    """The pointer to `segments` (keys or list indexes); no segments is the root, `""`."""
    return "".join("/" + escape_segment(str(segment)) for segment in segments)


def parse_pointer(path: str) -> list[str]:
    """The unescaped segments of `path`; `""` (the root) has none."""
    if path == "":
        return []
    if not isinstance(path, str) or not path.startswith("/"):
        raise DeltaError(f"bad path {path!r}: a JSON pointer is empty or starts with '/'")
    # `~1` first: `~01` is the key `~1`, not `/`.
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def resolve_pointer(root: Any, path: str) -> Any:
    """The value at `path` in `root`; numeric segments index lists."""
    node = root
    for segment in parse_pointer(path):
        node = node[_slot(node, segment, path)]
    return node


def _slot(node: Any, segment: str, path: str, *, end_ok: bool = False) -> str | int:
    """The subscript `segment` names in `node`, which must exist (or be the end, for add)."""
    if isinstance(node, dict):
        if segment not in node and not end_ok:
            raise DeltaError(f"bad path {path!r}: no key {segment!r}")
        return segment
    if isinstance(node, list):
        if segment == "-" and end_ok:
            return len(node)
        if not _INDEX.fullmatch(segment):
            raise DeltaError(f"bad path {path!r}: {segment!r} is not a list index")
        index = int(segment)
        if index > len(node) or (index == len(node) and not end_ok):
            raise DeltaError(f"bad path {path!r}: index {index} out of range ({len(node)} items)")
        return index
    raise DeltaError(f"bad path {path!r}: cannot step into {type(node).__name__} at {segment!r}")


# Applying ops ---------------------------------------------------------------------------


def apply_op(root: Any, op: Mapping[str, Any]) -> Any:
    """Apply one full op `{"p", "o", "v"}` to `root` and return the root to keep.

    Containers are changed in place; the return value differs from `root` only when
    the op replaces the root itself (empty path with `add`/`replace`) or changes
    a root string. Sub-ops of `patch` are taken as they stand: no carry-forward.
    A failing `patch` may leave its earlier sub-ops applied.
    """
    if not isinstance(op, Mapping) or "p" not in op or "o" not in op:
        raise DeltaError(f"an op needs 'p' and 'o': {op!r}")
    path, kind, value = op["p"], op["o"], op.get("v")
    if kind not in OPS:
        raise DeltaError(f"unknown op {kind!r} at {path!r}")
    segments = parse_pointer(path)
    if kind == "patch":
        return _apply_patch(root, path, value)
    if not segments:
        if kind == "remove":
            raise DeltaError("cannot remove the root")
        return value if kind in ("add", "replace") else _grow_or_cut(root, kind, value, path)
    parent = root
    for segment in segments[:-1]:
        parent = parent[_slot(parent, segment, path)]
    key = segments[-1]
    if isinstance(parent, dict) and kind in ("add", "replace"):
        parent[key] = value  # both set a key, present or not
        return root
    slot = _slot(parent, key, path, end_ok=kind == "add")
    if kind == "add":
        parent.insert(slot, value)  # a list: dicts were handled above
    elif kind == "remove":
        del parent[slot]
    elif kind == "replace":
        parent[slot] = value
    else:
        parent[slot] = _grow_or_cut(parent[slot], kind, value, path)
    return root


def _apply_patch(root: Any, path: str, value: Any) -> Any:
    # Every capture sends patches at "". A longer `p` is read as a prefix of the
    # sub-op paths (an assumption: no capture shows one).
    if not isinstance(value, list):
        raise DeltaError(f"patch at {path!r} needs a list of ops, got {type(value).__name__}")
    for sub in value:
        if not isinstance(sub, Mapping) or not isinstance(sub.get("p"), str) or "o" not in sub:
            raise DeltaError(f"patch sub-ops carry their own 'p' and 'o': {sub!r}")
        root = apply_op(root, {**sub, "p": path + sub["p"]})
    return root


def _grow_or_cut(target: Any, kind: str, value: Any, path: str) -> Any:
    """The new value at `path` after `append` or `truncate` (dicts/lists change in place)."""
    if kind == "truncate":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DeltaError(f"truncate at {path!r} needs a length >= 0, got {value!r}")
        if isinstance(target, str | list):
            return target[:value]
        raise DeltaError(f"cannot truncate {type(target).__name__} at {path!r}")
    if isinstance(target, str) and isinstance(value, str):
        return target + value
    if isinstance(target, dict) and isinstance(value, dict):
        target.update(value)
        return target
    if isinstance(target, list):
        if isinstance(value, list):
            target.extend(value)
        else:
            target.append(value)
        return target
    raise DeltaError(f"cannot append {type(value).__name__} to {type(target).__name__} at {path!r}")


# Decoding -------------------------------------------------------------------------------


class DeltaDecoder:
    """Rebuilds full snapshots from a v1 event stream, one event at a time.

    Non-delta events (typed frames such as `message_stream_complete`, and `[DONE]`)
    go to `frames` untouched, so tests can check their order too.
    """

    def __init__(self) -> None:
        self.encoding: str | None = None
        self.frames: list[Any] = []
        self._channels: dict[int, Any] = {}
        self._previous: dict[str, Any] = {}  # the last delta's p, o and c
        self._latest: int | None = None
        #: Answers a marker named before any `add` of theirs: id -> conversation id.
        self._marked: dict[str, Any] = {}

    def feed(self, event: str | None, data: Any) -> None:
        """Take one event: `event` is the SSE event name (None for a bare data line).

        `data` is the parsed JSON of the event's data; it is never modified.
        """
        if self.encoding is None and event != "delta_encoding":
            raise DeltaError(f"the stream must start with delta_encoding, got {event!r}")
        if event == "delta_encoding":
            if data != ENCODING:
                raise DeltaError(f"unknown delta encoding {data!r} (only {ENCODING!r} is known)")
            self.encoding = data
        elif event == "delta":
            self._apply_delta(data)
        else:
            self.frames.append(data)
            if (
                isinstance(data, dict)
                and data.get("type") == "message_marker"
                and isinstance(data.get("message_id"), str)
                and _ANSWER_MARKER.search(str(data.get("marker")))
            ):
                self._marked[data["message_id"]] = data.get("conversation_id")

    def _apply_delta(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise DeltaError(f"a delta is a JSON object, got {data!r}")
        if "v" not in data and set(data) == {"c"}:
            # A 2026 stream may switch channel with no op (`{"c": 5}`): nothing to apply.
            channel = data["c"]
            if not isinstance(channel, int) or isinstance(channel, bool):
                raise DeltaError(f"channel 'c' must be an integer, got {channel!r}")
            self._previous = {**self._previous, "c": channel}
            return
        # Carry-forward: p, o and c come from the previous delta when missing; v never.
        resolved = {key: data.get(key, self._previous.get(key)) for key in ("p", "o", "c")}
        missing = [key for key, value in resolved.items() if value is None]
        if missing:
            raise DeltaError(f"delta {data!r} lacks {missing} and no earlier delta set them")
        channel = resolved["c"]
        if not isinstance(channel, int) or isinstance(channel, bool):
            raise DeltaError(f"channel 'c' must be an integer, got {channel!r}")
        if channel not in self._channels and (resolved["p"], resolved["o"]) != ("", "add"):
            root = self._unadded_answer()
            if root is None:
                raise DeltaError(f"delta {data!r} targets channel {channel}, which has no root yet")
            self._channels[channel] = root
        # A copy, so later ops never write into the caller's `data`.
        op = {"p": resolved["p"], "o": resolved["o"], "v": _copy(data.get("v"))}
        self._channels[channel] = apply_op(self._channels.get(channel), op)
        self._previous = resolved
        self._latest = channel

    def _unadded_answer(self) -> dict[str, Any] | None:
        """A root for the answer a marker named but no `add` brought, or None.

        Thinking streams may send no `add` for the answer at all, only its markers
        and then its patches; clients then take the marked message as the visible
        answer, so its patches grow an empty final-channel text message.
        """
        known = {message.get("id") for message in self.messages}
        pending = [ident for ident in self._marked if ident not in known]
        if not pending:
            return None
        message: dict[str, Any] = {
            "id": pending[-1],
            "author": {"role": "assistant", "name": None, "metadata": {}},
            "create_time": None,
            "update_time": None,
            "content": {"content_type": "text", "parts": [""]},
            "status": "in_progress",
            "end_turn": None,
            "weight": 1.0,
            "metadata": {},
            "recipient": "all",
            "channel": "final",
        }
        conversation = self._marked[pending[-1]]
        return {"message": message, "conversation_id": conversation, "error": None}

    @property
    def channels(self) -> dict[int, Any]:
        """The current root of every channel (the live objects, not copies)."""
        return self._channels

    @property
    def latest(self) -> Any:
        """The root of the channel the last delta touched, or None before any delta."""
        return None if self._latest is None else self._channels[self._latest]

    @property
    def messages(self) -> list[Any]:
        """The `message` of every channel, in channel order, skipping roots without one."""
        roots = (self._channels[channel] for channel in sorted(self._channels))
        return [
            root["message"]
            for root in roots
            if isinstance(root, dict) and root.get("message") is not None
        ]


def decode_sse(text: str) -> DeltaDecoder:
    """Decode a whole v1 SSE body (LF or CRLF) into a `DeltaDecoder`.

    Comment lines (`: ping - ...`), empty `data:` lines and the trailing spaces the
    real server pads JSON with are ignored; `data: [DONE]` is kept as a frame.
    """
    reader = StreamDecoder()
    reader.feed(text.encode("utf-8"))
    reader.close()
    if reader.delta is None:
        raise DeltaError("the stream must start with delta_encoding")
    return reader.delta


class StreamDecoder:
    """Decodes a conversation stream of either encoding from bytes as they arrive.

    Feed it the network reads in order (they may split frames, lines and UTF-8
    characters anywhere), then `close()`. A stream that opens with
    `delta_encoding` is decoded with `DeltaDecoder` (`delta`); any other is the
    legacy one, whose snapshots replace each other by message id. Either way
    `message` is the last assistant message, `conversation_id` the conversation,
    `frames` the typed frames and `done` whether `[DONE]` arrived.
    """

    def __init__(self) -> None:
        self._reader = SSEReader()
        self.delta: DeltaDecoder | None = None
        self.snapshots: dict[str, Any] = {}
        self.frames: list[Any] = []
        self.conversation_id: str | None = None
        self.done = False
        self._started = False

    def feed(self, chunk: bytes) -> None:
        for name, data in self._reader.feed(chunk):
            self._event(name, data)

    def close(self) -> None:
        for name, data in self._reader.close():
            self._event(name, data)

    def _event(self, name: str | None, data: str) -> None:
        data = data.strip()
        if not data:
            return
        if data == "[DONE]":
            self.done = True
            if self.delta is not None:
                self.delta.feed(name, data)
            return
        value = _parse_json(data)
        if not self._started:
            self._started = True
            if name == "delta_encoding":
                self.delta = DeltaDecoder()
        if self.delta is not None:
            self.delta.feed(name, value)
            if name not in ("delta", "delta_encoding"):
                self._frame(value)
            return
        if isinstance(value, dict) and isinstance(value.get("message"), dict):
            message = value["message"]
            self.snapshots[str(message.get("id"))] = message
            self.conversation_id = value.get("conversation_id") or self.conversation_id
        else:
            self._frame(value)

    def _frame(self, value: Any) -> None:
        self.frames.append(value)
        if isinstance(value, dict) and isinstance(value.get("conversation_id"), str):
            self.conversation_id = self.conversation_id or value["conversation_id"]

    @property
    def conversation(self) -> str | None:
        """The conversation the stream belongs to, from its envelopes or typed frames."""
        if self.delta is not None:
            for root in self.delta.channels.values():
                if isinstance(root, dict) and isinstance(root.get("conversation_id"), str):
                    return str(root["conversation_id"])
        return self.conversation_id

    @property
    def messages(self) -> list[Any]:
        """Every message the stream carried, in the order each first appeared."""
        if self.delta is not None:
            return self.delta.messages
        return list(self.snapshots.values())

    @property
    def message(self) -> Any:
        """The last assistant message (None when the stream carried none)."""
        found = [m for m in self.messages if (m.get("author") or {}).get("role") == "assistant"]
        return found[-1] if found else None


def _parse_json(data: str) -> Any:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise DeltaError(f"data line is not JSON ({exc}): {data[:80]!r}") from None


# Encoding -------------------------------------------------------------------------------


def diff(old: Any, new: Any, path: str = "") -> list[Op]:
    """The ops that turn `old` into `new`, in the order of `new`'s keys.

    Strings that grow by a suffix give `append`, lists that grow give `append` of
    the new items, shortened ones `truncate`; a dict that only gains keys gives one
    `append` of those keys (how the server sends `finish_details`); removed keys
    give `remove`; other changes `replace`. Types are compared strictly (`1`,
    `1.0` and `true` differ in JSON). Values in the ops are copies of `new`'s.
    """
    ops: list[Op] = []
    _diff(old, new, path, ops)
    return ops


def _diff(old: Any, new: Any, path: str, ops: list[Op]) -> None:
    if old is new:
        return
    if type(old) is not type(new):
        ops.append(_op(path, "replace", new))
    elif isinstance(new, dict):
        _diff_dict(old, new, path, ops)
    elif isinstance(new, list):
        _diff_list(old, new, path, ops)
    elif isinstance(new, str):
        _diff_str(old, new, path, ops)
    elif old != new:
        ops.append(_op(path, "replace", new))


def _diff_dict(old: dict[str, Any], new: dict[str, Any], path: str, ops: list[Op]) -> None:
    removed = [key for key in old if key not in new]
    added: dict[str, Any] = {}
    walked: list[Op] = []  # changes to kept keys and adds, in new's key order
    for key, value in new.items():
        if key not in old:
            added[key] = value
            walked.append(_op(f"{path}/{escape_segment(key)}", "add", value))
        elif not _same_leaf(old[key], value):
            _diff(old[key], value, f"{path}/{escape_segment(key)}", walked)
    if added and not removed and len(walked) == len(added):  # nothing but new keys
        ops.append(_op(path, "append", added))
        return
    ops.extend({"p": f"{path}/{escape_segment(key)}", "o": "remove"} for key in removed)
    ops.extend(walked)


def _diff_list(old: list[Any], new: list[Any], path: str, ops: list[Op]) -> None:
    shared = min(len(old), len(new))
    for index in range(shared):
        if not _same_leaf(old[index], new[index]):
            _diff(old[index], new[index], f"{path}/{index}", ops)
    if len(new) > shared:
        ops.append(_op(path, "append", new[shared:]))
    elif len(old) > shared:
        ops.append(_op(path, "truncate", shared))


def _same_leaf(old: Any, new: Any) -> bool:
    """Cheap test for the common case, an untouched scalar, before any path is built.

    Containers are always walked: `==` would call `[1]` and `[true]` equal.
    """
    if old is new:
        return True
    return type(old) is type(new) and not isinstance(new, dict | list) and old == new


def _diff_str(old: str, new: str, path: str, ops: list[Op]) -> None:
    if old == new:
        return
    if new.startswith(old):
        ops.append(_op(path, "append", new[len(old) :]))
    # A JavaScript client counts UTF-16 units: truncate only where that agrees with us.
    elif old.startswith(new) and not _ASTRAL.search(new):
        ops.append(_op(path, "truncate", len(new)))
    else:
        ops.append(_op(path, "replace", new))


def _op(path: str, kind: str, value: Any) -> Op:
    return {"p": path, "o": kind, "v": _copy(value)}


def _copy(value: Any) -> Any:
    """A private copy of a JSON value; strings and numbers are immutable and shared."""
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


class DeltaEncoder:
    """Turns successive full snapshots into v1 events, as the real server sends them.

    Each `add` opens a new channel (0, 1, 2, ...); `update` diffs the newest
    channel against its last snapshot. The encoder keeps its own copy of each
    channel, advanced by the ops it emits, so callers may mutate and re-pass the
    same snapshot object, and the copy always equals what a decoder holds.
    """

    def __init__(self) -> None:
        self._roots: list[Any] = []
        self._previous: tuple[Any, Any] = (None, None)  # p and o of the last delta
        self._pending: tuple[str, list[str]] | None = None  # text appends not yet applied

    def start(self) -> list[Event]:
        """The opening event every v1 stream begins with."""
        return [("delta_encoding", ENCODING)]

    def append(self, path: str, text: str) -> list[Event]:
        """Append `text` to the string at `path` of the newest channel, without diffing.

        Token by token the server only appends to the answer's text; this is the
        fast path for that, giving the same events `update` would. The appends
        are applied to the encoder's copy once, at the next `add` or `update`.
        """
        if not self._roots:
            raise DeltaError("append() before add(): there is no channel to append to")
        if self._pending is not None and self._pending[0] != path:
            self._flush()
        if self._pending is None:
            self._pending = (path, [])
        self._pending[1].append(text)
        return self._emit({"p": path, "o": "append", "v": text})

    def extend(self, path: str, texts: list[str]) -> None:
        """Record appends whose events the caller writes itself, as bare `{"v": text}`.

        Valid right after an `append` to the same path: carry-forward then leaves
        only `v` in each event, so the caller can serialise them directly.
        """
        if self._pending is None or self._pending[0] != path or self._previous != (path, "append"):
            raise DeltaError("extend() must follow append() to the same path")
        self._pending[1].extend(texts)

    def _flush(self) -> None:
        if self._pending is not None:
            path, pieces = self._pending
            self._pending = None
            self._roots[-1] = apply_op(
                self._roots[-1], {"p": path, "o": "append", "v": "".join(pieces)}
            )

    def add(self, root: Any) -> list[Event]:
        """Open the next channel with the full `root` (an envelope `{"message", ...}`)."""
        self._flush()
        channel = len(self._roots)
        self._roots.append(_copy(root))
        return self._emit({"p": "", "o": "add", "v": _copy(root)}, channel)

    def update(self, root: Any, *, batch: bool = False) -> list[Event]:
        """The events that turn the newest channel into `root`; none when nothing changed.

        One op goes out alone; several (or any with `batch=True`) go out as one
        `patch`, as the server does for the final status/end_turn/metadata change.
        """
        if not self._roots:
            raise DeltaError("update() before add(): there is no channel to diff against")
        self._flush()
        ops = diff(self._roots[-1], root)
        if not ops:
            return []
        for op in ops:
            self._roots[-1] = apply_op(self._roots[-1], {**op, "v": _copy(op.get("v"))})
        if len(ops) == 1 and not batch:
            return self._emit(ops[0])
        return self._emit({"p": "", "o": "patch", "v": ops})

    def _emit(self, op: Op, channel: int | None = None) -> list[Event]:
        # Carry-forward compression: leave out p and o when the decoder already has them.
        data: dict[str, Any] = {}
        if op["p"] != self._previous[0]:
            data["p"] = op["p"]
        if op["o"] != self._previous[1]:
            data["o"] = op["o"]
        if "v" in op:
            data["v"] = op["v"]
        if channel is not None:
            data["c"] = channel
        self._previous = (op["p"], op["o"])
        return [("delta", data)]
