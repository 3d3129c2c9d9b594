"""The Responses stream encoding: event order, numbering, identities and shapes.

The rules checked here are the ones the official SDKs' stream helpers enforce
(an item announced empty, parts added before their deltas, `item_id` equal to
the announced item's id, `output_index` 0, 1, 2, ..., one response id
throughout, `sequence_number` from 0 by one) plus the wire's field order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from mockgpt.responses_api.encoding import (
    FIELDS,
    GROWING,
    Answer,
    Ending,
    FunctionCall,
    Message,
    Part,
    Reasoning,
    WebSearch,
    encode,
    finished,
)
from mockgpt.schemas import schema_errors

RESPONSE: dict[str, Any] = {
    "id": "resp_0123",
    "object": "response",
    "created_at": 1795000000,
    "status": "in_progress",
    "background": False,
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "metadata": {},
    "model": "gpt-5",
    "output": [],
    "parallel_tool_calls": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "usage": None,
}
DONE_EVENTS = {shape.done for shape in GROWING.values()}
USAGE = {
    "input_tokens": 9,
    "input_tokens_details": {"cache_write_tokens": 0, "cached_tokens": 0},
    "output_tokens": 8,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 17,
}


def kinds(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [kind for kind, _ in events]


def test_plain_text_streams_in_the_platform_order() -> None:
    answer = Answer(RESPONSE, (Message("msg_1", (Part(("Hello", "!", " Bye")),)),), usage=USAGE)
    events = encode(answer)
    assert kinds(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [payload["sequence_number"] for _, payload in events] == list(range(len(events)))
    added = events[2][1]["item"]
    assert added == {
        "id": "msg_1",
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    assert events[7][1]["text"] == "Hello! Bye"
    final = events[-1][1]["response"]
    assert final["status"] == "completed"
    assert final["usage"] == USAGE
    assert final["output"][0]["content"][0]["text"] == "Hello! Bye"


def test_each_payload_has_type_first_then_the_table_order() -> None:
    answer = Answer(
        RESPONSE,
        (
            Reasoning("rs_1", (("Think", "ing"),)),
            FunctionCall("fc_1", "call_1", "f", ('{"a"', ": 1}")),
            Message("msg_1", (Part(("No",), "refusal"),)),
            WebSearch("ws_1", "weather"),
        ),
        usage=USAGE,
    )
    payloads = list(encode(answer))
    # The four items make 18 kinds of event, each checked below against its table row.
    assert len({kind for kind, _ in payloads}) == 18
    for kind, payload in payloads:
        keys = list(payload)
        assert keys[0] == "type"
        assert payload["type"] == kind
        assert keys[1:] == [name for name in FIELDS[kind] if name in payload]


def test_obfuscation_pads_deltas_to_sixteen_characters_and_can_be_turned_off() -> None:
    answer = Answer(RESPONSE, (Message("msg_1", (Part(("Hi", "a" * 16, "b" * 20)),)),))
    deltas = [p for k, p in encode(answer) if k == "response.output_text.delta"]
    assert all((len(p["delta"]) + len(p["obfuscation"])) % 16 == 0 for p in deltas)
    assert [len(p["obfuscation"]) for p in deltas] == [14, 16, 12]
    plain = Answer(RESPONSE, answer.items, obfuscate=False)
    assert not any("obfuscation" in p for _, p in encode(plain))


def test_refusal_parts_stream_as_refusal_events() -> None:
    answer = Answer(RESPONSE, (Message("msg_1", (Part(("I can't", " help."), "refusal"),)),))
    events = encode(answer)
    assert "response.refusal.delta" in kinds(events)
    assert events[3][1]["part"] == {"type": "refusal", "refusal": ""}
    done = next(p for k, p in events if k == "response.refusal.done")
    assert done["refusal"] == "I can't help."
    assert finished(answer)["output"][0]["content"] == [
        {"type": "refusal", "refusal": "I can't help."}
    ]


def test_function_call_arguments_grow_then_complete() -> None:
    answer = Answer(
        RESPONSE, (FunctionCall("fc_1", "call_1", "get_weather", ('{"city"', ':"P"}')),)
    )
    events = encode(answer)
    assert events[2][1]["item"]["arguments"] == ""
    done = next(p for k, p in events if k == "response.function_call_arguments.done")
    assert done["arguments"] == '{"city":"P"}'
    assert events[-2][1]["item"]["status"] == "completed"


def test_incomplete_ends_with_its_reason_and_an_incomplete_message() -> None:
    answer = Answer(
        RESPONSE,
        (Message("msg_1", (Part(("Once", " upon")),)),),
        Ending("incomplete", "max_output_tokens"),
        USAGE,
    )
    events = encode(answer)
    assert events[-1][0] == "response.incomplete"
    final = events[-1][1]["response"]
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"
    assert final["completed_at"] is None


def test_failed_sends_the_nested_error_then_response_failed() -> None:
    error = {"type": "server_error", "code": "server_error", "message": "boom", "param": None}
    events = encode(Answer(RESPONSE, (), Ending("failed", error=error), USAGE))
    assert kinds(events)[-2:] == ["error", "response.failed"]
    assert events[-2][1] == {"type": "error", "sequence_number": 2, "error": error}
    final = events[-1][1]["response"]
    assert final["error"] == {"code": "server_error", "message": "boom"}
    assert final["usage"] is None


def test_background_streams_open_queued() -> None:
    events = encode(Answer({**RESPONSE, "status": "queued"}, ()))
    assert kinds(events)[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert events[2][1]["response"]["status"] == "in_progress"


# -- any answer --------------------------------------------------------------------------------

_chunks = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5).map(tuple)
_item = st.one_of(
    st.builds(
        lambda parts: Message("msg", tuple(parts)),
        st.lists(
            st.builds(Part, _chunks, st.sampled_from(["output_text", "refusal"])),
            min_size=1,
            max_size=3,
        ),
    ),
    st.builds(lambda c: FunctionCall("fc", "call_x", "f", c), _chunks),
    st.builds(lambda s: Reasoning("rs", tuple(s)), st.lists(_chunks, max_size=2)),
    st.builds(lambda q: WebSearch("ws", q), st.text(max_size=10)),
)
_ending = st.sampled_from(
    [
        Ending(),
        Ending("incomplete", "max_output_tokens"),
        Ending(
            "failed", error={"type": "t", "code": "server_error", "message": "m", "param": None}
        ),
    ]
)


def _numbered(items: list[Any]) -> tuple[Any, ...]:
    renamed = []
    for index, item in enumerate(items):
        renamed.append(type(item)(f"{item.id}_{index}", *[getattr(item, f) for f in _rest(item)]))
    return tuple(renamed)


def _rest(item: Any) -> list[str]:
    return [name for name in item.__dataclass_fields__ if name != "id"]


def _check_stream(items: list[Any], ending: Ending) -> None:
    answer = Answer(RESPONSE, _numbered(items), ending, USAGE)
    events = encode(answer)
    assert events[0][0] == "response.created"
    assert [p["sequence_number"] for _, p in events] == list(range(len(events)))
    announced: dict[int, str] = {}
    texts: dict[tuple[str, int], str] = {}
    for kind, payload in events:
        assert not schema_errors("openai/response_stream_event.json", payload), (kind, payload)
        if "response" in payload:
            assert payload["response"]["id"] == RESPONSE["id"]
        if kind == "response.output_item.added":
            assert payload["output_index"] == len(announced)
            announced[payload["output_index"]] = payload["item"]["id"]
        elif "item_id" in payload:
            assert announced[payload["output_index"]] == payload["item_id"]
        if kind.endswith(".delta"):
            place = (kind, payload.get("content_index", payload.get("summary_index", 0)))
            key = (payload["item_id"], place[1])
            texts[key] = texts.get(key, "") + payload["delta"]
        if kind in DONE_EVENTS:
            whole = payload.get("text", payload.get("refusal", payload.get("arguments")))
            index = payload.get("content_index", payload.get("summary_index", 0))
            assert texts.get((payload["item_id"], index), "") == whole
    final = events[-1][1]["response"]
    assert events[-1][0] == f"response.{ending.status}"
    assert [item["id"] for item in final["output"]] == list(announced.values())


@settings(max_examples=40, deadline=None)
@given(st.lists(_item, max_size=4), _ending)
def test_any_answer_keeps_the_sdk_rules(items: list[Any], ending: Ending) -> None:
    _check_stream(items, ending)


@seed(20261129)
@settings(max_examples=20, deadline=None, database=None)
@given(st.lists(_item, max_size=4), _ending)
def test_any_answer_keeps_the_sdk_rules_pinned(items: list[Any], ending: Ending) -> None:
    _check_stream(items, ending)
