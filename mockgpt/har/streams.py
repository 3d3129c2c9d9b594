"""Scripts rebuilt from captured conversation streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mockgpt.delta import DeltaError, StreamDecoder
from mockgpt.har.reading import NOT_JSON, TEXT_PATHS, SseBody, event_json, parse_sse
from mockgpt.message_text import content_text
from mockgpt.scripts import FRAME_NAMES


def _text_of(content: Any) -> str | None:
    """The text of a plain `text` content object (None for any other content)."""
    if not isinstance(content, dict) or content.get("content_type") != "text":
        return None
    parts = content.get("parts")
    if isinstance(parts, list) and all(isinstance(part, str) for part in parts):
        return "".join(parts)
    return None


def streamed_text(content: Any) -> str | None:
    """The text a stream grows: a text content's parts, or another content's `text`."""
    return content_text(content, strict=True)


def _script_body(message: dict[str, Any]) -> dict[str, Any]:
    """`text`, or `content` for answers that are not plain text."""
    content = message.get("content")
    text = _text_of(content)
    if text is not None:
        return {"text": text}
    if isinstance(content, dict) and isinstance(content.get("content_type"), str):
        return {"content": content}
    return {}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_answer(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and isinstance(message.get("author"), dict)
        and message["author"].get("role") == "assistant"
        and message.get("recipient", "all") == "all"
    )


@dataclass(slots=True)
class _Turn:
    """What a conversation stream said, gathered while reading it."""

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # message ids, as each first appeared
    pieces: dict[str, list[str]] = field(default_factory=dict)
    seen_types: set[str] = field(default_factory=set)
    title: str | None = None
    done: bool = False
    error: tuple[str, int] | None = None
    #: The number of events before a blocking moderation frame, if one came.
    blocked: int | None = None
    events: int = 0

    def keep(self, message: Any) -> None:
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            if message["id"] not in self.messages:
                self.order.append(message["id"])
            self.messages[message["id"]] = message


def _conversation_turn(text: str, body: SseBody) -> _Turn:
    """Read a web conversation stream: its messages with mockgpt's `StreamDecoder`, and
    from the events themselves the pieces the answer grew by and how the stream ended."""
    turn = _Turn()
    decoder = StreamDecoder()
    try:
        decoder.feed(text.encode("utf-8", "replace"))
        decoder.close()
    except DeltaError:
        pass  # what decoded before the broken event stays
    for message in decoder.messages:
        turn.keep(message)
    turn.done = decoder.done
    channels: dict[int, str] = {}
    previous: dict[str, Any] = {}
    for event in body.events:
        data = event_json(event)
        if data is NOT_JSON or data == "[DONE]":
            continue
        turn.events += 1
        if event.name == "delta" and isinstance(data, dict):
            op = {key: data.get(key, previous.get(key)) for key in ("p", "o", "c")}
            previous = op
            value = data.get("v")
            if op["p"] == "" and op["o"] == "add" and isinstance(value, dict):
                message = value.get("message")
                if isinstance(message, dict) and isinstance(op["c"], int):
                    channels[op["c"]] = str(message.get("id"))
            if isinstance(op["c"], int) and op["c"] in channels:
                _collect_pieces(turn, channels[op["c"]], op, value)
            continue
        if not isinstance(data, dict):
            continue
        kind = data.get("type")
        if isinstance(kind, str) or "moderation_response" in data:
            kind = kind if isinstance(kind, str) else "moderation"
            turn.seen_types.add(kind)
            if kind == "title_generation" and isinstance(data.get("title"), str):
                turn.title = data["title"]
            if kind == "moderation" and _blocked(data) and turn.blocked is None:
                turn.blocked = turn.events - 1
            continue
        if data.get("error") and turn.error is None:
            turn.error = (str(data["error"]), turn.events - 1)
        message = data.get("message")
        if isinstance(message, dict) and isinstance(message.get("id"), str):
            _snapshot_pieces(turn, message)
    return turn


def _snapshot_pieces(turn: _Turn, message: dict[str, Any]) -> None:
    """Note what a legacy snapshot added to its message's text since the last one."""
    pieces = turn.pieces.setdefault(message["id"], [])
    old = "".join(pieces)
    new = streamed_text(message.get("content"))
    if new is None or new == old:
        return
    if new.startswith(old):
        pieces.append(new[len(old) :])
    else:
        pieces[:] = [new]


def _blocked(frame: dict[str, Any]) -> bool:
    response = frame.get("moderation_response")
    return isinstance(response, dict) and response.get("blocked") is True


def _collect_pieces(turn: _Turn, message_id: str, op: dict[str, Any], value: Any) -> None:
    """Note the text a delta appends to a message, one piece per event."""
    if op["o"] == "append" and op["p"] in TEXT_PATHS and isinstance(value, str):
        turn.pieces.setdefault(message_id, []).append(value)
    elif op["o"] == "add" and op["p"] == "" and isinstance(value, dict):
        message = value.get("message")
        start = streamed_text(message.get("content")) if isinstance(message, dict) else None
        turn.pieces[message_id] = [start] if start else []
    elif op["o"] == "patch" and isinstance(value, list):
        for sub in value:
            if isinstance(sub, dict):
                _collect_pieces(
                    turn, message_id, {"o": sub.get("o"), "p": sub.get("p")}, sub.get("v")
                )


def script_from_stream(
    text: str,
    *,
    wait_ms: float | None = None,
    receive_ms: float | None = None,
    openai: bool = False,
) -> dict[str, Any] | None:
    """The script (JSON form) that replays a captured stream, or None when nothing can.

    A web conversation stream (delta v1 or legacy snapshots) gives the answer's
    text (or content object) with its chunks, title, model, finish, the frames
    sent, messages to tools, byte habits and the fault it ended with; a `/v1`
    chunk stream gives the text, chunks and finish. HAR timings give the pacing.
    """
    body = parse_sse(text)
    script: dict[str, Any] = {}
    pieces: list[str] = []
    if openai:
        finish = None
        for event in body.events:
            data = event_json(event)
            if not isinstance(data, dict):
                continue
            for choice in data.get("choices") or ():
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") or {}
                content = delta.get("content") if isinstance(delta, dict) else None
                if isinstance(content, str) and content:
                    pieces.append(content)
                finish = choice.get("finish_reason") or finish
        if not pieces:
            return None
        script["text"] = "".join(pieces)
        if finish == "length":
            script["finish"] = "max_tokens"
    else:
        turn = _conversation_turn(text, body)
        answers = [turn.messages[i] for i in turn.order if _is_answer(turn.messages[i])]
        if not answers:
            return None
        answer = answers[-1]
        script.update(_script_body(answer))
        if not script:
            return None
        pieces = turn.pieces.get(answer["id"], [])
        metadata = _object(answer.get("metadata"))
        if isinstance(metadata.get("model_slug"), str) and metadata["model_slug"]:
            script["model_slug"] = metadata["model_slug"]
        if (metadata.get("finish_details") or {}).get("type") == "max_tokens":
            script["finish"] = "max_tokens"
        if turn.title:
            script["title"] = turn.title
        tools = _tool_messages(turn)
        if tools:
            script["tool_messages"] = tools
        if turn.seen_types:
            script["frames"] = {name: name in turn.seen_types for name in FRAME_NAMES}
        if turn.blocked is not None:
            script["fault"] = {"kind": "moderation_block", "after": turn.blocked}
        elif turn.error is not None:
            script["fault"] = {
                "kind": "error_envelope",
                "after": turn.error[1],
                "message": turn.error[0],
            }
        elif not turn.done:
            script["fault"] = {"kind": "no_done"}
    streamed = script.get("text")
    if streamed is None and isinstance(script.get("content"), dict):
        streamed = streamed_text(script["content"])
    if streamed and pieces and "".join(pieces) == streamed and len(pieces) > 1:
        script["chunks"] = pieces
    realism = {"crlf": body.crlf, "padding": body.padded, "pings": body.comments}
    realism = {key: value for key, value in realism.items() if value}
    if realism:
        script["realism"] = realism
    pacing: dict[str, float] = {}
    if wait_ms:
        pacing["ttft_ms"] = round(wait_ms, 1)
    if receive_ms and pieces:
        tokens = sum(max(1, len(piece) // 4) for piece in pieces)
        pacing["tokens_per_second"] = round(tokens / (receive_ms / 1000), 1)
    if pacing:
        script["pacing"] = pacing
    return script


def _tool_messages(turn: _Turn) -> list[dict[str, str]]:
    tools = []
    ordered = [turn.messages[i] for i in turn.order]
    for index, message in enumerate(ordered):
        author = _object(message.get("author"))
        recipient = message.get("recipient")
        if author.get("role") != "assistant" or not isinstance(recipient, str):
            continue
        if recipient == "all" or not recipient.strip():
            continue
        reply = next(
            (
                later
                for later in ordered[index + 1 :]
                if isinstance(later.get("author"), dict) and later["author"].get("role") == "tool"
            ),
            None,
        )
        name = reply["author"].get("name") if reply else None
        text = streamed_text(message.get("content"))
        tools.append(
            {
                "recipient": recipient,
                "author_name": name if isinstance(name, str) and name else recipient,
                "text": text or "",
            }
        )
    return tools
