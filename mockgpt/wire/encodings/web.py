"""What the two web encodings share: envelopes, the error envelope, moderation verdicts."""

from __future__ import annotations

from typing import Any

ERROR_TEXT = "Something went wrong while generating the response."


def envelope(message: dict[str, Any], conversation_id: str) -> dict[str, Any]:
    """A message as the web stream carries it."""
    return {"message": message, "conversation_id": conversation_id, "error": None}


def error_envelope(conversation_id: str, message: str | None) -> dict[str, Any]:
    """An envelope whose `error` ends the stream."""
    return {"message": None, "conversation_id": conversation_id, "error": message or ERROR_TEXT}


def text_path(message: dict[str, Any]) -> str:
    """Where the answer's text grows: the first part, or a code message's `text`."""
    return "/message/content/parts/0" if "parts" in message["content"] else "/message/content/text"
