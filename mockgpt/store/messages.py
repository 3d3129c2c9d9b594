"""Messages as the web backend stores them: building, completing and reading them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mockgpt.files import store_attachments
from mockgpt.message_text import content_text

Message = dict[str, Any]

#: The first-turn `parent_message_id` the 2025-12 web client sends instead of a real node id.
CLIENT_CREATED_ROOT = "client-created-root"
#: The title ChatGPT shows until a title is generated; the schemas do not allow a null title.
UNTITLED = "New chat"
#: The stop token the real backend reports in `finish_details` for a normal end of answer.
STOP_TOKEN = 200002
#: Longest list-item snippet, in characters.
SNIPPET_LENGTH = 100


def first_turn(
    prompt: str, *, message_id: str = "aaa5e6f7-0a1b-4c2d-8e3f-405162738495", v1: bool = False
) -> dict[str, Any]:
    """The body a web client sends to start a conversation with `prompt`
    (asking for the `v1` delta encoding when `v1`)."""
    body: dict[str, Any] = {
        "action": "next",
        "model": "auto",
        "messages": [
            {
                "id": message_id,
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": [prompt]},
            }
        ],
        "parent_message_id": CLIENT_CREATED_ROOT,
    }
    if v1:
        body["supported_encodings"] = ["v1"]
    return body


def new_message(
    *,
    id: str,
    role: str,
    text: str | None = None,
    content: dict[str, Any] | None = None,
    create_time: float | None,
    status: str = "finished_successfully",
    end_turn: bool | None = None,
    weight: float = 1.0,
    metadata: dict[str, Any] | None = None,
    recipient: str = "all",
    channel: str | None = None,
    author_name: str | None = None,
) -> Message:
    """A message object with every key of `parts/message.json`, in the wire's key order.

    Every producer of messages (stream, mapping, samples) goes through here so the
    key order and defaults cannot drift apart. Give `text` for a plain text message
    or `content` for any other content type; with neither the parts are `[""]`, the
    way an answer starts before its first token.
    """
    if text is not None and content is not None:
        raise ValueError("give text or content, not both")
    if content is None:
        made = {"content_type": "text", "parts": ["" if text is None else text]}
    else:
        made = copy.deepcopy(content)  # the caller's dict stays the caller's
    return {
        "id": id,
        "author": {"role": role, "name": author_name, "metadata": {}},
        "create_time": create_time,
        "update_time": None,
        "content": made,
        "status": status,
        "end_turn": end_turn,
        "weight": weight,
        "metadata": copy.deepcopy(metadata) if metadata is not None else {},
        "recipient": recipient,
        "channel": channel,
    }


def hidden_system_message(message_id: str) -> Message:
    return new_message(
        id=message_id,
        role="system",
        text="",
        create_time=None,
        end_turn=True,
        weight=0.0,
        metadata={"is_visually_hidden_from_conversation": True},
    )


def sender(sent: Message) -> dict[str, Any]:
    """The author of a client-sent message: `author`, or the older bare `role` field."""
    author = sent.get("author")
    if isinstance(author, dict):
        return author
    return {"role": sent.get("role", "user")}


def full_message(sent: Message, *, create_time: float, new_id: Callable[[], str]) -> Message:
    """A client-sent message (`{id, author{role}, content, metadata}`) as the mapping shows it.

    Clients send only a few keys; the mapping must hold whole message objects, so
    the missing ones get the values the real backend fills in for user messages.
    """
    author = sender(sent)
    message = new_message(
        id=str(sent.get("id") or new_id()),
        role=str(author.get("role", "user")),
        content=sent.get("content") or {"content_type": "text", "parts": [""]},
        create_time=sent.get("create_time", create_time),
        status=str(sent.get("status", "finished_successfully")),
        end_turn=sent.get("end_turn"),
        weight=float(sent.get("weight", 1.0)),
        metadata=sent.get("metadata") or {},
        recipient=str(sent.get("recipient", "all")),
        channel=sent.get("channel"),
        author_name=author.get("name"),
    )
    if isinstance(author.get("metadata"), dict):
        message["author"]["metadata"] = copy.deepcopy(author["metadata"])
    if "update_time" in sent:
        message["update_time"] = sent["update_time"]
    store_attachments(message)
    return message


def iso_time(epoch: float) -> str:
    """`1767132761.767145` → `"2025-12-30T22:12:41.767145Z"`, the list's time format."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def visible_text(message: Message | None) -> str | None:
    """The text a reader sees for a message, or None for hidden, tool and non-text messages."""
    if message is None:
        return None
    if message.get("metadata", {}).get("is_visually_hidden_from_conversation"):
        return None
    if message.get("author", {}).get("role") not in ("user", "assistant"):
        return None
    if message.get("recipient", "all") != "all":
        return None
    content = message.get("content") or {}
    if content.get("content_type") not in ("text", "multimodal_text"):
        return None
    text = " ".join((content_text(content, separator=" ") or "").split())
    return text or None
