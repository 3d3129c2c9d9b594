"""Reasoning and tool turns of 2026: thoughts on `analysis`, the answer on `final`, tool steps.

Each stream is read twice: with the project's decoder and with an independent
one written here from the wire rules (carry-forward of `p`, `o` and `c`; the
`patch` op, also sent as a bare list of ops; a new root per channel).
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient
from support import make_config

from mockgpt import Config, MockGPT
from mockgpt.clock import VirtualClock
from mockgpt.conversation import TurnPlanner
from mockgpt.delta import StreamDecoder
from mockgpt.errors import ConfigError
from mockgpt.prelude import TOOL_STOP_TOKEN, plan_thoughts, recap_text
from mockgpt.scripts import Script, ScriptError, ToolMessage

AUTH = {"authorization": "Bearer test"}


def body(prompt: str, model: str, *, v1: bool) -> dict[str, Any]:
    sent: dict[str, Any] = {
        "action": "next",
        "messages": [
            {
                "id": "bbb5e6f7-0a1b-4c2d-8e3f-405162738495",
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": [prompt]},
                "metadata": {},
            }
        ],
        "parent_message_id": "client-created-root",
        "model": model,
    }
    if v1:
        sent["supported_encodings"] = ["v1"]
    return sent


def events(raw: str) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) of an SSE body, read by hand."""
    out: list[tuple[str | None, Any]] = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        text = "\n".join(data).strip()
        if text and text != "[DONE]":
            out.append((name, json.loads(text)))
    return out


def _walk(root: Any, path: str) -> tuple[Any, str | int]:
    keys = [k.replace("~1", "/").replace("~0", "~") for k in path.split("/")[1:]]
    node = root
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    return node, int(last) if isinstance(node, list) else last


def _apply(root: Any, p: str, o: str, v: Any) -> Any:
    if o == "patch":
        for op in v:
            root = _apply(root, op["p"], op["o"], op.get("v"))
        return root
    if p == "":
        assert o in ("add", "replace"), o
        return v
    parent, key = _walk(root, p)
    if o in ("add", "replace"):
        parent[key] = v
    elif o == "append":
        current = parent[key]
        if isinstance(current, str):
            parent[key] = current + v
        elif isinstance(current, list):
            current.extend(v)
        else:
            current.update(v)
    elif o == "truncate":
        parent[key] = parent[key][:v]
    elif o == "remove":
        del parent[key]
    return root


def independent_v1(raw: str) -> tuple[dict[int, Any], list[Any]]:
    """Channels and typed frames of a v1 body, decoded from the wire rules alone."""
    channels: dict[int, Any] = {}
    frames: list[Any] = []
    last: dict[str, Any] = {}
    parsed = events(raw)
    assert parsed[0] == ("delta_encoding", "v1")
    for name, data in parsed[1:]:
        if name != "delta":
            frames.append(data)
            continue
        if set(data) == {"c"}:  # a channel switch and nothing else
            last["c"] = data["c"]
            continue
        p, o, c = (data.get(k, last.get(k)) for k in ("p", "o", "c"))
        if "o" not in data and isinstance(data["v"], list) and last.get("o") == "patch":
            o = "patch"
        channels[c] = _apply(channels.get(c), p, o, json.loads(json.dumps(data["v"])))
        last = {"p": p, "o": o, "c": c}
    return channels, frames


def legacy_messages(raw: str) -> tuple[dict[str, Any], list[Any]]:
    """The last snapshot of every message of a legacy body, and its other frames."""
    messages: dict[str, Any] = {}
    frames: list[Any] = []
    for _, data in events(raw):
        if isinstance(data, dict) and isinstance(data.get("message"), dict):
            messages[data["message"]["id"]] = data["message"]
        else:
            frames.append(data)
    return messages, frames


def new_mock() -> MockGPT:
    return MockGPT(make_config(0, sample_conversations=0))


def client() -> TestClient:
    return TestClient(new_mock())


def kinds(messages: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(m["author"]["role"], m["content"]["content_type"], m["channel"]) for m in messages]


REASONING_SHAPE = [
    ("system", "text", None),
    ("user", "text", None),
    ("assistant", "thoughts", "analysis"),
    ("assistant", "reasoning_recap", "analysis"),
    ("assistant", "text", "final"),
]


@pytest.mark.parametrize("v1", [True, False], ids=["v1", "legacy"])
def test_thinking_turn_decodes_to_analysis_then_final(v1: bool) -> None:
    with client() as app:
        response = app.post(
            "/backend-api/conversation",
            json=body("How do I sort a list in Python?", "gpt-5-thinking", v1=v1),
            headers=AUTH,
        )
        assert response.status_code == 200
        raw = response.text
        ours = StreamDecoder()
        ours.feed(response.content)
        ours.close()
        if v1:
            channels, frames = independent_v1(raw)
            theirs = [channels[c]["message"] for c in sorted(channels)]
        else:
            by_id, frames = legacy_messages(raw)
            theirs = list(by_id.values())
        assert kinds(ours.messages) == REASONING_SHAPE
        assert theirs == ours.messages
        thoughts, recap, answer = theirs[2:]
        assert thoughts["content"]["thoughts"], "a generated reasoning plans the answer"
        for item in thoughts["content"]["thoughts"]:
            assert list(item) == ["summary", "content", "chunks", "finished"]
            assert item["finished"] is True
            assert item["summary"]
        assert (thoughts["status"], thoughts["end_turn"]) == ("finished_successfully", False)
        assert recap["content"]["content"].startswith("Thought for ")
        assert recap["metadata"]["parent_id"] == thoughts["id"]
        assert answer["metadata"]["parent_id"] == recap["id"]
        assert answer["end_turn"] is True
        assert answer["content"]["parts"][0]
        markers = [
            (f["marker"], f["message_id"]) for f in frames if f.get("type") == "message_marker"
        ]
        if v1:
            assert markers == [
                ("cot_token", thoughts["id"]),
                ("user_visible_token", answer["id"]),
                ("final_channel_token", answer["id"]),
                ("last_token", answer["id"]),
            ]
            # Each message is its own channel, so the answer is picked by channel.
            finals = [m for m in theirs if m["channel"] == "final"]
            assert finals == [answer]
        cid = ours.conversation
        stored = app.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
        assert stored["current_node"] == answer["id"]
        for message in theirs[2:]:
            assert stored["mapping"][message["id"]]["message"] == message


def test_non_reasoning_answer_is_on_final_without_thoughts() -> None:
    with client() as app:
        response = app.post(
            "/backend-api/conversation", json=body("hi", "gpt-4o", v1=True), headers=AUTH
        )
        channels, frames = independent_v1(response.text)
    messages = [channels[c]["message"] for c in sorted(channels)]
    assert kinds(messages) == [
        ("system", "text", None),
        ("user", "text", None),
        ("assistant", "text", "final"),
    ]
    names = [f["marker"] for f in frames if f.get("type") == "message_marker"]
    assert "final_channel_token" not in names
    assert "cot_token" not in names


@pytest.mark.parametrize("v1", [True, False], ids=["v1", "legacy"])
def test_tool_turn_streams_call_then_reply_then_answer(v1: bool) -> None:
    tools = [
        {
            "recipient": "bio",
            "author_name": "bio",
            "text": "Prefers tea.",
            "result": "Model set context updated.",
        },
        {
            "recipient": "web.run",
            "author_name": "web.run",
            "text": '{"search_query": [{"q": "tea"}]}',
        },
    ]
    mock = new_mock()
    with TestClient(mock) as app:
        mock.load({"text": "Noted: tea it is.", "tool_messages": tools, "reasoning": False})
        response = app.post(
            "/backend-api/conversation", json=body("remember tea", "gpt-5", v1=v1), headers=AUTH
        )
        ours = StreamDecoder()
        ours.feed(response.content)
        ours.close()
        if v1:
            channels, _ = independent_v1(response.text)
            theirs = [channels[c]["message"] for c in sorted(channels)]
        else:
            theirs = list(legacy_messages(response.text)[0].values())
        assert theirs == ours.messages
        bio_call, bio_reply, web_call, web_reply, answer = theirs[2:]
        for call, reply in ((bio_call, bio_reply), (web_call, web_reply)):
            assert call["channel"] == reply["channel"] == "commentary"
            assert call["end_turn"] is False
            assert call["status"] == "finished_successfully"
            assert call["metadata"]["finish_details"]["stop_tokens"] == [TOOL_STOP_TOKEN]
            assert reply["author"] == {"role": "tool", "name": call["recipient"], "metadata": {}}
            assert reply["recipient"] == "assistant"
            assert reply["metadata"]["parent_id"] == call["id"]
        assert bio_call["content"]["parts"] == ["Prefers tea."]
        assert bio_reply["content"]["parts"] == ["Model set context updated."]
        assert web_call["content"]["content_type"] == "code"
        assert answer["content"]["parts"] == ["Noted: tea it is."]
        assert answer["metadata"]["parent_id"] == web_reply["id"]
        if v1:
            # The call is added in progress and finished later, as the service streams it.
            adds = [
                d
                for n, d in events(response.text)
                if n == "delta" and isinstance(d.get("v"), dict) and "message" in d["v"]
            ]
            first = next(
                a["v"]["message"] for a in adds if a["v"]["message"]["id"] == bio_call["id"]
            )
            assert (first["status"], first["content"]["parts"]) == ("in_progress", [""])
        stored = app.get(f"/backend-api/conversation/{ours.conversation}", headers=AUTH).json()
        assert stored["current_node"] == answer["id"]
        assert [stored["mapping"][m["id"]]["message"] for m in theirs[2:]] == theirs[2:]


def test_scripts_ask_for_reasoning_and_its_channel() -> None:
    mock = new_mock()
    with TestClient(mock) as app:
        mock.load({"text": "Plain answer.", "reasoning": True, "reasoning_channel": None})
        response = app.post(
            "/backend-api/conversation", json=body("anything", "gpt-4o", v1=True), headers=AUTH
        )
        channels, _ = independent_v1(response.text)
    messages = [channels[c]["message"] for c in sorted(channels)]
    assert [m["content"]["content_type"] for m in messages[2:]] == [
        "thoughts",
        "reasoning_recap",
        "text",
    ]
    assert [m["channel"] for m in messages[2:]] == [None, None, "final"]


def test_script_fields_round_trip_and_are_checked() -> None:
    script = Script.from_dict(
        {
            "reasoning": True,
            "tool_messages": [
                {"recipient": "bio", "author_name": "bio", "text": "x", "result": "ok"}
            ],
        }
    )
    assert script.tool_messages[0] == ToolMessage("bio", "bio", "x", "ok")
    assert Script.from_dict(script.to_dict()) == script
    with pytest.raises(ScriptError):
        Script.from_dict({"reasoning": "yes"})


def test_thoughts_plan_the_answer_and_the_recap_counts_seconds() -> None:
    items = plan_thoughts("Premier point.\n\n## Deuxième partie\nUne phrase. Une autre. Encore.")
    assert [item["summary"] for item in items] == ["Premier point.", "Deuxième partie"]
    assert items[1]["chunks"] == ["Deuxième partie Une phrase.", "Une autre."]
    assert recap_text(0.2) == "Thought for 1s"
    assert recap_text(12.4) == "Thought for 12s"
    assert recap_text(65) == "Thought for 1m 5s"


# -- the fields the 2026 service adds ----------------------------------------------------

STE_KEYS = [
    "conduit_prewarmed",
    "plan_type",
    "plan_type_bucket",
    "user_agent",
    "service",
    "tool_name",
    "tool_invoked",
    "fast_convo",
    "warmup_state",
    "is_first_turn",
    "cluster_region",
    "model_slug",
    "region",
    "is_multimodal",
    "did_auto_switch_to_reasoning",
    "auto_switcher_race_winner",
    "is_autoswitcher_enabled",
    "is_search",
    "did_prompt_contain_image",
    "search_tool_call_count",
    "search_tool_query_types",
    "message_id",
    "request_id",
    "turn_exchange_id",
    "turn_trace_id",
    "otrace_id",
    "a32e6ebcb",
    "resume_with_websockets",
    "low_turn_topic_ttl",
    "streaming_async_status",
    "replace_stream_status",
    "temporal_conversation_turn",
    "turn_use_case",
    "turn_mode",
]


def frame(frames: list[Any], kind: str) -> dict[str, Any]:
    return next(f for f in frames if isinstance(f, dict) and f.get("type") == kind)


def test_turn_fields_of_2026_on_two_turns() -> None:
    mock = new_mock()
    with TestClient(mock) as app:
        before = mock.now()
        first = app.post(
            "/backend-api/conversation", json=body("hi", "gpt-5", v1=True), headers=AUTH
        )
        channels, frames = independent_v1(first.text)
        system, user, answer = (channels[c]["message"] for c in sorted(channels))
        cid = channels[0]["conversation_id"]
        # time-ordered: the creation second (the virtual clock stands still until the
        # answer streams), version 4 (what older clients accept)
        assert int(cid[:8], 16) == int(before)
        assert cid[14] == "4"
        assert cid[19] in "89ab"
        ste = frame(frames, "server_ste_metadata")["metadata"]
        assert list(ste) == STE_KEYS
        assert ste["is_first_turn"] is True
        assert ste["message_id"] == system["id"]
        for key in ("request_id", "turn_exchange_id"):
            assert user["metadata"][key] == answer["metadata"][key] == ste[key]
        assert user["metadata"]["message_source"] is None
        assert user["metadata"]["timestamp_"] == "absolute"
        assert answer["metadata"]["resolved_model_slug"] == "gpt-5"
        for item in frame(frames, "conversation_detail_metadata")["limits_progress"]:
            assert item["feature_name"] == item["feature"]
            assert item["reset_after"] == item["reset_at"]
        stored = app.get(f"/backend-api/conversation/{cid}", headers=AUTH).json()
        assert stored["mapping"][user["id"]]["message"]["metadata"] == user["metadata"]
        assert stored["mapping"][answer["id"]]["message"] == answer
        follow = body("and then?", "gpt-5", v1=True)
        follow["conversation_id"] = cid
        follow["parent_message_id"] = answer["id"]
        follow["messages"][0]["id"] = "ccc5e6f7-0a1b-4c2d-8e3f-405162738495"
        second = app.post("/backend-api/conversation", json=follow, headers=AUTH)
        _, frames = independent_v1(second.text)
        later = frame(frames, "server_ste_metadata")["metadata"]
        assert later["is_first_turn"] is False
        assert later["turn_exchange_id"] != ste["turn_exchange_id"]


def test_conversation_ids_can_take_the_2026_version_nibble() -> None:
    clock, rng = VirtualClock(1_795_000_000.0), random.Random(0)
    planner = TurnPlanner(0, clock, lambda: str(uuid.UUID(int=rng.getrandbits(128))))
    planner.id_version = 8
    now = int(clock.now())
    ids = [planner.conversation_id() for _ in range(20)]
    assert len(set(ids)) == 20
    for cid in ids:
        assert cid[14] == "8"
        assert cid[19] in "89ab"
        assert int(cid[:8], 16) == now


@pytest.mark.parametrize("version", [4, 8])
def test_the_id_version_is_a_config_field(version: int) -> None:
    mock = MockGPT(make_config(0, sample_conversations=0, id_version=version))
    before = mock.now()
    with mock.test_client() as web:
        text = web.post(
            "/backend-api/conversation", json=body("Hi", "gpt-4o", v1=False), headers=AUTH
        ).text
    cid = json.loads(text.split("data: ", 2)[1].split("\n", 1)[0])["conversation_id"]
    assert uuid.UUID(cid).version == version
    assert int(cid[:8], 16) == int(before)


@pytest.mark.parametrize("bad", [5, 0, True, "8"])
def test_an_unknown_id_version_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="id_version"):
        Config(id_version=bad)  # type: ignore[arg-type]


def test_the_recap_and_the_answer_are_made_when_the_thinking_ends() -> None:
    # On the app clock a thinking turn spends its recap's seconds before the answer
    # starts: a client timing the reasoning from create_time saw 0 s for "Thought for 9s".
    with TestClient(MockGPT(make_config(0, sample_conversations=0, pace="real"))) as app:
        response = app.post(
            "/backend-api/conversation",
            json=body("How do tides work?", "gpt-5-thinking", v1=True),
            headers=AUTH,
        )
        decoded = StreamDecoder()
        decoded.feed(response.content)
        decoded.close()
        thoughts, recap, answer = decoded.messages[2:]
        seconds = recap["metadata"]["finished_duration_sec"]
        assert seconds >= 2
        took = recap["create_time"] - thoughts["create_time"]
        assert seconds - 1 <= took <= seconds + 1
        assert answer["create_time"] >= recap["create_time"]
        stored = app.get(f"/backend-api/conversation/{decoded.conversation}", headers=AUTH)
        kept = stored.json()
        assert kept["mapping"][answer["id"]]["message"]["create_time"] == answer["create_time"]
        assert kept["update_time"] >= answer["create_time"]
