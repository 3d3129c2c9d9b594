"""Scripts: the data form, its validation, the book that picks them, generated answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgpt.errors import MockGPTError
from mockgpt.scripts import (
    DEFAULT_FRAMES,
    BookState,
    Fault,
    HttpError,
    Pacing,
    Realism,
    Script,
    ScriptBook,
    ScriptError,
    ToolMessage,
    chunk_text,
    load_script,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "scripts" / "example.json"

RICH = Script(
    text="Hello there, friend.",
    chunks=["Hello ", "there, ", "friend."],
    pacing=Pacing(ttft_ms=120, tokens_per_second=30.5, jitter=0.2),
    frames={"moderation": True, "title_generation": False},
    title="Greeting",
    model_slug="gpt-4o",
    finish="max_tokens",
    tool_messages=[ToolMessage("bio", "bio", "User likes tea.")],
    fault=Fault("error_envelope", after=3, message="boom"),
    realism=Realism(padding=True, pings=2, crlf=True),
)


# --------------------------------------------------------------------------- data form


def test_round_trip_through_dict_and_json() -> None:
    data = RICH.to_dict()
    assert Script.from_dict(data) == RICH
    assert Script.from_dict(json.loads(json.dumps(data))) == RICH
    assert data["frames"] == {"moderation": True, "title_generation": False}
    assert data["chunks"] == ["Hello ", "there, ", "friend."]


def test_round_trip_of_content_and_http_error() -> None:
    script = Script(
        content={"content_type": "code", "language": "python", "text": "print('hi')\n"},
        chunk_words=2,
        http_error=HttpError.model_cap(60),
    )
    assert Script.from_dict(script.to_dict()) == script
    assert script.chunked() == ["print('hi')\n"]


def test_default_script_is_empty_dict() -> None:
    assert Script().to_dict() == {}
    assert Script.from_dict({}) == Script()
    assert Script().frames == dict(DEFAULT_FRAMES)
    assert Script().frames["moderation"] is False
    assert Script().chunked() == []


def test_script_copies_what_it_is_given() -> None:
    content: dict[str, Any] = {"content_type": "text", "parts": ["hi"]}
    chunks = ["a ", "b"]
    script = Script(content=content, chunks=None)
    other = Script(text="a b", chunks=chunks)
    content["parts"].append("changed")
    chunks.append("c")
    assert script.content == {"content_type": "text", "parts": ["hi"]}
    assert other.chunked() == ["a ", "b"]


def test_load_example_file() -> None:
    scripts = load_script(EXAMPLE)
    assert len(scripts) == 2
    plain, failing = scripts
    assert plain.title
    assert plain.pacing.tokens_per_second is not None
    assert plain.pacing.ttft_ms > 0
    assert plain.fault is None
    assert "".join(plain.chunked()) == plain.text
    assert failing.fault is not None
    assert failing.fault.kind == "error_envelope"
    assert failing.fault.after == 5
    assert failing.fault.message
    assert load_script(str(EXAMPLE)) == scripts
    assert load_script(json.loads(EXAMPLE.read_text(encoding="utf-8"))) == scripts


def test_load_one_script_from_a_dict() -> None:
    assert load_script({"text": "hi"}) == [Script(text="hi")]


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"txt": "hi"}, ["'txt'", "'text'"]),
        ({"text": "hello world", "chunks": ["hello", "world"]}, ["chunks", "join"]),
        ({"text": "hi", "content": {"content_type": "code", "text": "x"}}, ["content", "text"]),
        ({"finish": "length"}, ["finish", "'length'"]),
        ({"fault": {"kind": "explode"}}, ["fault.kind", "'explode'"]),
        ({"pacing": {"ttft_ms": -5}}, ["pacing.ttft_ms", ">= 0"]),
        ({"pacing": {"tokens_per_second": -1}}, ["pacing.tokens_per_second"]),
        ({"pacing": {"jitter": 1.5}}, ["pacing.jitter", "between 0 and 1"]),
        ({"pacing": {"speed": 3}}, ["pacing.speed", "unknown key"]),
        ({"frames": {"titles": True}}, ["frames.titles", "title_generation"]),
        ({"frames": {"moderation": "yes"}}, ["frames.moderation"]),
        ({"chunk_words": 0}, ["chunk_words"]),
        ({"realism": {"pings": -1}}, ["realism.pings"]),
        ({"fault": {"kind": "stall"}}, ["fault.seconds"]),
        ({"fault": {"kind": "no_done", "message": "x"}}, ["error_envelope"]),
        ({"http_error": {"kind": "model_cap"}}, ["http_error", "clears_in"]),
        ({"http_error": {"status": 200}}, ["http_error.status"]),
        ({"tool_messages": [{"recipient": "all", "author_name": "x", "text": ""}]}, ["recipient"]),
        (
            {"fault": {"kind": "close_after"}, "http_error": {"kind": "unusual_activity"}},
            ["fault"],
        ),
    ],
)
def test_clear_errors_name_the_bad_key(data: dict[str, Any], names: list[str]) -> None:
    with pytest.raises(ScriptError) as caught:
        Script.from_dict(data)
    for name in names:
        assert name in str(caught.value)


def test_errors_are_mockgpt_and_value_errors() -> None:
    with pytest.raises(MockGPTError):
        Pacing(jitter=2)
    with pytest.raises(ValueError, match="jitter"):
        Pacing(jitter=-0.1)
    with pytest.raises(ScriptError, match="tokens_per_second"):
        Pacing(tokens_per_second=0)
    with pytest.raises(ScriptError, match="content"):
        Script(text="a", content={"content_type": "text", "parts": ["a"]})


def test_load_script_names_file_and_index(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"text": "ok"}, {"pacing": {"jitter": 7}}]), encoding="utf-8")
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    message = str(caught.value)
    assert str(path) in message
    assert "script[1].pacing.jitter" in message
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(ScriptError, match="invalid JSON at line 1"):
        load_script(path)
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "missing.json")
    with pytest.raises(ScriptError, match=r"script\[0\]"):
        load_script([42])


# --------------------------------------------------------------------------- http errors


def test_http_error_constructors_match_the_real_bodies() -> None:
    cap = HttpError.model_cap(clears_in=9665)
    assert cap.status == 429
    assert cap.document == {
        "detail": {
            "message": "You have sent too many messages to the model. Please try again later.",
            "code": "model_cap_exceeded",
            "clears_in": 9665,
        }
    }
    unusual = HttpError.unusual_activity()
    assert unusual.status == 403
    assert unusual.document["detail"].startswith("Our systems have detected unusual activity")
    expired = HttpError.token_expired()
    assert expired.status == 401
    assert expired.document["detail"]["code"] == "token_expired"
    assert expired.document["detail"]["param"] is None
    bad = HttpError.bad_payload("messages")
    assert bad.status == 422
    assert bad.document == {
        "detail": [
            {"loc": ["body", "messages"], "msg": "field required", "type": "value_error.missing"}
        ]
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"kind": "model_cap", "clears_in": 60}, HttpError.model_cap(60)),
        ({"kind": "unusual_activity"}, HttpError.unusual_activity()),
        ({"kind": "token_expired"}, HttpError.token_expired()),
        ({"kind": "bad_payload"}, HttpError.bad_payload()),
        ({"kind": "bad_payload", "field": "action"}, HttpError.bad_payload("action")),
        (
            {"status": 503, "body": {"detail": "busy"}, "headers": {"retry-after": "3"}},
            HttpError(503, {"detail": "busy"}, {"retry-after": "3"}),
        ),
    ],
)
def test_http_error_kinds_in_json(data: dict[str, Any], expected: HttpError) -> None:
    script = Script.from_dict({"http_error": data})
    assert script.http_error == expected
    assert Script.from_dict(script.to_dict()) == script


def test_http_error_kind_refuses_foreign_keys() -> None:
    with pytest.raises(ScriptError, match="'status'"):
        HttpError.from_dict({"kind": "token_expired", "status": 500})


# --------------------------------------------------------------------------- chunking

_PIECES = st.sampled_from(
    [
        "hello",
        "naïve",
        "中文",
        "日本語",
        "ไทย",
        "👋🏽",
        "👨‍👩‍👧",
        "🚀",
        " ",
        "  ",
        "\n",
        "\t",
        "é",
        "e\u0301",
    ]
)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(
    text=st.text() | st.lists(_PIECES, max_size=30).map("".join),
    words=st.integers(min_value=1, max_value=5),
)
def test_chunks_join_back_exactly(text: str, words: int) -> None:
    chunks = chunk_text(text, words)
    assert "".join(chunks) == text
    assert all(chunks)
    assert Script(text=text, chunk_words=words).chunked() == chunks


def test_chunking_keeps_spaces_with_words() -> None:
    assert chunk_text("  one two  three\n", 1) == ["  one ", "two  ", "three\n"]
    assert chunk_text("one two three", 2) == ["one two ", "three"]
    assert chunk_text("你好世界", 2) == ["你好", "世界"]
    assert chunk_text("", 1) == []
    assert Script(text="a b", chunks=["a", " b"]).chunked() == ["a", " b"]


# --------------------------------------------------------------------------- book

FIRST, SECOND, MATCHED, OTHER, FIXED = (
    Script(text=t) for t in ("first", "second", "matched", "other", "fixed")
)


def test_book_order_queue_then_matchers_then_fixed() -> None:
    book = ScriptBook()
    assert book.pick("hi", "gpt-4o") is None
    book.fixed(FIXED)
    book.match(MATCHED, prompt="weather")
    book.match(OTHER)
    book.queue(FIRST, SECOND)
    assert book.pending == 2
    assert book.pick("weather today?", "gpt-4o") is FIRST
    assert book.pick("weather today?", "gpt-4o") is SECOND
    assert book.pending == 0
    assert book.pick("weather today?", "gpt-4o") is MATCHED
    assert book.pick("anything", "gpt-4o") is OTHER
    book.reset()
    book.fixed(FIXED)
    assert book.pick("anything", "gpt-4o") is FIXED
    book.fixed(None)
    assert book.pick("anything", "gpt-4o") is None


def test_book_matcher_times_run_out() -> None:
    book = ScriptBook()
    book.fixed(FIXED)
    book.match(MATCHED, prompt="tea", times=2)
    assert [book.pick("tea?", "m") for _ in range(3)] == [MATCHED, MATCHED, FIXED]
    assert book.snapshot().matchers == ()
    with pytest.raises(ScriptError, match="times"):
        book.match(MATCHED, times=0)


def test_book_regex_and_model_matching() -> None:
    book = ScriptBook()
    book.match(MATCHED, prompt=re.compile(r"^translate\b", re.IGNORECASE))
    book.match(OTHER, model="gpt-4o-mini")
    book.match(SECOND, prompt="hello", model="o3")
    assert book.pick("Translate this please", "gpt-4o") is MATCHED
    assert book.pick("please translate this", "gpt-4o") is None
    assert book.pick("please translate this", "gpt-4o-mini") is OTHER
    assert book.pick("hello there", "o3") is SECOND
    assert book.pick("hello there", "o3-pro") is None
    assert book.pick("Hello there", "o3") is None


def test_book_snapshot_and_restore() -> None:
    book = ScriptBook()
    book.queue(FIRST)
    book.match(MATCHED, prompt="x", times=1)
    book.fixed(FIXED)
    state = book.snapshot()
    assert isinstance(state, BookState)
    assert book.pick("x", "m") is FIRST
    assert book.pick("x", "m") is MATCHED
    book.reset()
    assert book.pick("x", "m") is None
    book.restore(state)
    assert book.pending == 1
    assert [book.pick("x", "m") for _ in range(3)] == [FIRST, MATCHED, FIXED]
    book.restore(state)
    assert book.snapshot() == state


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"Ā": "x"}, "headers"),
        ({"x-a": "\u0100"}, "headers.x-a"),
        ({"Content-Length": "3"}, "headers"),
    ],
)
def test_a_scripted_refusal_takes_only_headers_http_can_carry(
    headers: dict[str, str], key: str
) -> None:
    with pytest.raises(ScriptError) as refused:
        HttpError(429, {}, headers)
    assert key in str(refused.value)
