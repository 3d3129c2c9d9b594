"""The adversarial 2026 turns the strategies draw, and the decoder reading all of them."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, find, given, settings

from mockgpt.delta import StreamDecoder
from mockgpt.strategies import DrawnStream, streams, turn_scripts

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
