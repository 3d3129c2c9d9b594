"""One reading of a web message's words, shared by the store, the planner and the tools."""

from __future__ import annotations

from mockgpt.message_text import content_text, message_text, set_text

IMAGE = {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-1"}


def test_parts_are_joined_and_images_left_out() -> None:
    content = {"content_type": "multimodal_text", "parts": [IMAGE, "What is ", "this?"]}
    assert content_text(content) == "What is this?"
    assert content_text(content, separator=" ") == "What is  this?"
    assert message_text({"content": content}) == "What is this?"


def test_contents_without_parts_give_their_text() -> None:
    code = {"content_type": "code", "language": "python", "text": "print(1)"}
    assert content_text(code) == "print(1)"
    assert content_text(code, strict=True) == "print(1)"


def test_strict_takes_parts_only_from_plain_text() -> None:
    plain = {"content_type": "text", "parts": ["Hello", " there"]}
    assert content_text(plain, strict=True) == "Hello there"
    mixed = {"content_type": "multimodal_text", "parts": [IMAGE, "Look"]}
    assert content_text(mixed, strict=True) is None
    assert content_text({"content_type": "text", "parts": ["a", IMAGE]}, strict=True) is None


def test_no_text_is_none_or_empty() -> None:
    assert content_text(None) is None
    assert content_text("not an object") is None
    assert content_text({"content_type": "tether_quote"}) is None
    assert message_text({}) == ""
    assert message_text({"content": {"content_type": "text", "parts": []}}) == ""


def test_set_text_writes_where_message_text_reads() -> None:
    text = {"content": {"content_type": "text", "parts": ["old", "kept"]}}
    code = {"content": {"content_type": "code", "language": "python", "text": "old"}}
    for message in (text, code):
        set_text(message, "new")
    assert text["content"]["parts"] == ["new", "kept"]
    assert message_text(code) == "new"
