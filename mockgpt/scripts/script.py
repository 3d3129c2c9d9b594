"""`Script`, one turn's answer as data, and `load_script` for JSON files."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Self, cast, get_args

from mockgpt.scripts.checks import (
    DEFAULT_FRAMES,
    FRAME_NAMES,
    Finish,
    ScriptError,
    check_bool,
    check_choice,
    check_int,
    check_optional_str,
    check_str,
    field_names,
    json_copy,
    mapping_at,
    refuse_unknown,
    set_field,
)
from mockgpt.scripts.chunking import iter_chunks
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

    _NESTED: ClassVar[Mapping[str, Callable[[Mapping[str, Any]], object]]] = MappingProxyType(
        {
            "pacing": Pacing.from_dict,
            "fault": Fault.from_dict,
            "http_error": HttpError.from_dict,
            "realism": Realism.from_dict,
        }
    )

    def __post_init__(self) -> None:
        text = check_optional_str("text", self.text)
        if self.content is not None:
            if text is not None:
                raise ScriptError("give either text or content, not both", "content")
            content = json_copy("content", mapping_at("content", self.content))
            if not isinstance(content.get("content_type"), str):
                raise ScriptError("must have a string 'content_type'", "content")
            set_field(self, "content", content)
        self._check_chunks()
        self._check_frames()
        for name, kind in (("pacing", Pacing), ("realism", Realism)):
            if not isinstance(getattr(self, name), kind):
                raise ScriptError(f"must be a {kind.__name__}", name)
        check_optional_str("title", self.title, empty=False)
        check_optional_str("model_slug", self.model_slug, empty=False)
        check_choice("finish", self.finish, get_args(Finish))
        if self.reasoning is not None:
            check_bool("reasoning", self.reasoning)
        check_optional_str("reasoning_channel", self.reasoning_channel, empty=False)
        if self.handoff is not None:
            check_bool("handoff", self.handoff)
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
        set_field(self, "tool_messages", tuple(messages))
        if self.fault is not None and not isinstance(self.fault, Fault):
            raise ScriptError("must be a Fault", "fault")
        if self.http_error is not None:
            if not isinstance(self.http_error, HttpError):
                raise ScriptError("must be an HttpError", "http_error")
            if self.fault is not None:
                raise ScriptError("a refused request has no stream to break; drop fault", "fault")

    def _check_chunks(self) -> None:
        check_int("chunk_words", self.chunk_words, minimum=1)
        if self.chunks is None:
            return
        if isinstance(self.chunks, str) or not isinstance(self.chunks, Sequence):
            raise ScriptError("must be a list of strings", "chunks")
        chunks = tuple(self.chunks)
        for i, chunk in enumerate(chunks):
            check_str(f"chunks[{i}]", chunk)
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
        set_field(self, "chunks", chunks)

    def _check_frames(self) -> None:
        frames = mapping_at("frames", self.frames)
        try:
            refuse_unknown(frames, FRAME_NAMES)
        except ScriptError as exc:
            raise exc.within("frames") from None
        merged = dict(DEFAULT_FRAMES)
        for name, value in frames.items():
            merged[name] = check_bool(f"frames.{name}", value)
        set_field(self, "frames", merged)

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
        data = mapping_at("", data)
        refuse_unknown(data, field_names(cls))
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            parse = cls._NESTED.get(key)
            if parse is not None and value is not None:
                try:
                    value = parse(mapping_at("", value))
                except ScriptError as exc:
                    raise exc.within(key) from None
            elif key == "tool_messages":
                if not isinstance(value, list):
                    raise ScriptError("must be a list", key)
                parsed: list[ToolMessage] = []
                for i, item in enumerate(value):
                    try:
                        parsed.append(ToolMessage.from_dict(mapping_at("", item)))
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
