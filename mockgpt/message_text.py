"""The text of a web message: one reading of `content.parts` and `content.text`.

The store (sidebar snippets), the turn planner (the prompt scripts match and
replies answer), the handlers and the HAR importer all need the words of a
message; they read them here, and the streams that grow an answer write them
here, so a content type is handled the same way everywhere. Pure functions on
JSON values: no other mockgpt module is imported.
"""

from __future__ import annotations

from typing import Any


def content_text(content: Any, *, strict: bool = False, separator: str = "") -> str | None:
    """The text a message's `content` carries, or None when it carries none.

    A content with `parts` gives its string parts joined by `separator`, leaving
    out images and other objects. `strict` takes parts only from a `text`
    content made of strings alone, the content a script can send back as plain
    text. Otherwise the content's `text` (code, execution output) is the text.
    """
    if not isinstance(content, dict):
        return None
    parts = content.get("parts")
    if isinstance(parts, list):
        strings = [part for part in parts if isinstance(part, str)]
        if not strict:
            return separator.join(strings)
        if content.get("content_type") == "text" and len(strings) == len(parts):
            return separator.join(strings)
    text = content.get("text")
    return text if isinstance(text, str) else None


def message_text(message: dict[str, Any]) -> str:
    """The visible text of a message: its text parts joined, or its code text ("" if none)."""
    return content_text(message.get("content")) or ""


def set_text(message: dict[str, Any], text: str) -> None:
    """Put `text` where the message's text grows: the first part, or a code message's `text`."""
    content = message["content"]
    if "parts" in content:
        content["parts"][0] = text
    else:
        content["text"] = text
