"""The adversarial 2026 turns the strategies draw, and the decoder reading all of them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, find, given, settings

from mockgpt.delta import StreamDecoder
from mockgpt.strategies import DrawnHandoff, DrawnStream, handoffs, streams, turn_scripts

#: Unpinned: every run draws new turns.
FREE = settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
#: Pinned, for the searches that show a variant is reachable.
SEARCH = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def decode(stream: DrawnStream) -> StreamDecoder:
    decoder = StreamDecoder()
    for write in stream.writes:
        decoder.feed(write)
    decoder.close()
    return decoder


@FREE
@given(streams(script=turn_scripts()))
def test_the_decoder_reads_every_drawn_reasoning_and_tool_turn(stream: DrawnStream) -> None:
    decoded = decode(stream)
    script = stream.script
    answer = decoded.message
    assert answer is not None
    assert "".join(answer["content"]["parts"]) == stream.text
    assert answer["channel"] == "final"
    assert answer["end_turn"] is True
    kinds = [m["content"]["content_type"] for m in decoded.messages]
    if script.reasoning:
        thoughts = next(m for m in decoded.messages if m["content"]["content_type"] == "thoughts")
        assert thoughts["channel"] == script.reasoning_channel
        assert thoughts["status"] == "finished_successfully"
        assert all(item["finished"] for item in thoughts["content"]["thoughts"])
        assert kinds.index("thoughts") < kinds.index("reasoning_recap")
    else:
        assert "thoughts" not in kinds
    calls = [m for m in decoded.messages if m["recipient"] not in ("all", "assistant")]
    replies = [m for m in decoded.messages if m["author"]["role"] == "tool"]
    assert [c["recipient"] for c in calls] == [t.recipient for t in script.tool_messages]
    assert [r["content"]["parts"] for r in replies] == [[t.result] for t in script.tool_messages]
    for call in calls:
        assert call["status"] == "finished_successfully"
        assert call["end_turn"] is False
        assert call["metadata"]["finish_details"]["stop_tokens"] == [200012]


def _has(stream: DrawnStream, piece: bytes) -> bool:
    return piece in stream.body.replace(b"\r\n", b"\n")


def test_the_strategy_sends_the_combined_marker() -> None:
    combined = b'"marker": "user_visible_token|final_channel_token"'
    found = find(streams("v1", script=turn_scripts()), lambda s: _has(s, combined), settings=SEARCH)
    assert decode(found).message["channel"] == "final"


def test_the_strategy_sends_channel_only_deltas() -> None:
    found = find(
        streams("v1", script=turn_scripts()),
        lambda s: _has(s, b'event: delta\ndata: {"c": '),
        settings=SEARCH,
    )
    assert "".join(decode(found).message["content"]["parts"]) == found.text


def test_the_strategy_sends_reasoning_turns_without_the_final_marker() -> None:
    found = find(
        streams("v1", script=turn_scripts()),
        lambda s: s.script.reasoning is True and not _has(s, b"final_channel_token"),
        settings=SEARCH,
    )
    assert decode(found).message["channel"] == "final"


def test_the_strategy_sends_resume_tokens_of_every_kind() -> None:
    for kind in (b'"kind": "conduit", ', b'"type": "resume_conversation_token", "token"'):
        found = find(
            streams("v1", script=turn_scripts()), lambda s, k=kind: _has(s, k), settings=SEARCH
        )
        assert "".join(decode(found).message["content"]["parts"]) == found.text


def _socket_messages(drawn: DrawnHandoff) -> list[dict[str, Any]]:
    """Every topic message the socket's frames carry, catch-ups first, in order."""
    messages: list[dict[str, Any]] = []
    for frame in drawn.frames:
        value = json.loads(frame)
        for item in value if isinstance(value, list) else [value]:
            messages += item["reply"]["catchups"] if item.get("type") == "reply" else [item]
    return messages


@FREE
@given(handoffs(script=turn_scripts()))
def test_a_client_that_dedupes_by_item_id_reads_every_drawn_handoff(drawn: DrawnHandoff) -> None:
    stub = b"".join(drawn.stub).replace(b"\r\n", b"\n")
    blocks = [block.strip() for block in stub.split(b"\n\n") if block.strip()]
    assert blocks[-1] == b"data: [DONE]"
    handoff = json.loads(next(b for b in blocks if b"stream_handoff" in b).split(b"data: ", 1)[1])
    assert handoff["options"][1] == {"type": "subscribe_ws_topic", "topic_id": drawn.topic_id}
    messages = _socket_messages(drawn)
    assert messages[-1]["payload"]["payload"]["type"] == "done"
    seen: set[str] = set()
    decoder = StreamDecoder()
    for message in messages:
        assert message["topic_id"] == drawn.topic_id
        item = message["payload"]["payload"]
        if item["type"] == "stream-item" and item["stream_item_id"] not in seen:
            seen.add(item["stream_item_id"])
            decoder.feed(item["encoded_item"].encode())
    decoder.close()
    assert "".join(decoder.message["content"]["parts"]) == drawn.text


def test_the_handoff_strategy_repeats_items_and_sends_heartbeats_and_bare_frames() -> None:
    def repeats(drawn: DrawnHandoff) -> bool:
        ids = [
            m["payload"]["payload"].get("stream_item_id")
            for m in _socket_messages(drawn)
            if m["payload"]["payload"]["type"] == "stream-item"
        ]
        return len(ids) != len(set(ids))

    found = find(handoffs(), repeats, settings=SEARCH)
    assert repeats(found)
    beat = find(handoffs(), lambda d: any('"heartbeat"' in f for f in d.frames), settings=SEARCH)
    assert any('"type": "heartbeat"' in frame for frame in beat.frames)
    bare = find(handoffs(), lambda d: any(f.startswith("{") for f in d.frames), settings=SEARCH)
    assert any(frame.startswith('{"type": "message"') for frame in bare.frames)


def test_the_strategy_sends_text_in_bare_patch_arrays() -> None:
    bare = b'event: delta\ndata: {"v": [{"p": "/message/content/parts/0", "o": "append"'
    found = find(streams("v1"), lambda s: _has(s, bare), settings=SEARCH)
    assert "".join(decode(found).message["content"]["parts"]) == found.text
    turn = find(streams("v1", script=turn_scripts()), lambda s: _has(s, bare), settings=SEARCH)
    assert "".join(decode(turn).message["content"]["parts"]) == turn.text


def _answer_unadded(stream: DrawnStream) -> bool:
    """Whether the answer's markers came but no delta carried its id (no `add`)."""
    blocks = [block for block in stream.body.replace(b"\r\n", b"\n").split(b"\n\n") if block]
    marked = {
        json.loads(block.split(b"data: ", 1)[1])["message_id"].encode()
        for block in blocks
        if b'"marker": "user_visible_token' in block
    }
    deltas = [block for block in blocks if block.startswith(b"event: delta")]
    return bool(marked) and not any(ident in delta for ident in marked for delta in deltas)


def test_the_strategy_sends_answer_markers_without_the_answer_add() -> None:
    found = find(streams("v1", script=turn_scripts()), _answer_unadded, settings=SEARCH)
    answer = decode(found).message
    assert "".join(answer["content"]["parts"]) == found.text
    assert answer["channel"] == "final"
    assert answer["end_turn"] is True
