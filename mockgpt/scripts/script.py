"""`Script`, one turn's answer as data, and `load_script` for JSON files."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Self

from mockgpt.scripts.checks import (
    DEFAULT_FRAMES,
    Finish,
    ScriptError,
    field_names,
    mapping_at,
    set_field,
)
from mockgpt.scripts.chunking import iter_chunks
from mockgpt.scripts.format import SCRIPT, streamed_text
from mockgpt.scripts.keys import checked_items
from mockgpt.scripts.parts import Fault, HttpError, Pacing, Realism, ToolMessage


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
    #: End the POST's stream with `stream_handoff` (the rest on the WebSocket or a
    #: resume); None: as the model does (Pro models hand off to `v1` clients).
    handoff: bool | None = None
    fault: Fault | None = None
    http_error: HttpError | None = None
    realism: Realism = field(default_factory=Realism)

    #: The classes of the keys that hold parts: what `from_dict` builds from their
    #: JSON objects, and what a script built in Python must be given.
    _PARTS: ClassVar[Mapping[str, type[Pacing | Realism | Fault | HttpError]]] = MappingProxyType(
        {"pacing": Pacing, "realism": Realism, "fault": Fault, "http_error": HttpError}
    )

    def __post_init__(self) -> None:
        SCRIPT.check_keys(self)
        if self.chunks is not None:
            set_field(self, "chunks", tuple(self.chunks))
        set_field(self, "frames", {**DEFAULT_FRAMES, **self.frames})
        tools = checked_items(
            SCRIPT.key("tool_messages"), self.tool_messages, ToolMessage.from_dict
        )
        for i, message in enumerate(tools):
            if not isinstance(message, ToolMessage):
                got = type(message).__name__
                raise ScriptError(
                    f"must be a tool message (a JSON object), got {got}", f"tool_messages[{i}]"
                )
        set_field(self, "tool_messages", tuple(tools))
        for name, kind in self._PARTS.items():
            value = getattr(self, name)
            if not isinstance(value, kind) and not (value is None and SCRIPT.key(name).nullable):
                raise ScriptError(f"must be a {kind.__name__}", name)
        SCRIPT.check_rules(self)

    def _streamed_text(self) -> str | None:
        return streamed_text(self)

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
        kwargs = SCRIPT.arguments(data)
        for key, value in kwargs.items():
            part = cls._PARTS.get(key)
            if part is None:
                continue
            if value is None and not SCRIPT.key(key).nullable:
                raise ScriptError("must be a JSON object, not null", key)
            if value is not None:
                try:
                    kwargs[key] = part.from_dict(mapping_at("", value))
                except ScriptError as exc:
                    raise exc.within(key) from None
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, `from_dict`'s inverse; keys left at their defaults are omitted."""
        out: dict[str, Any] = {}
        default = Script()
        for name in field_names(Script):
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
                    scripts.append(Script.from_dict(mapping_at("", item)))
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
