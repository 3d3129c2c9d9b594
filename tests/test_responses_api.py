"""`/v1/responses`, its stored responses, `/v1/embeddings` and the Codex endpoint, in-process."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support import make_config
from test_app import sse_events
from test_har import entry_of, write_har

from mockgpt import MockGPT
from mockgpt.har import check_har
from mockgpt.scripts import Fault, HttpError, Pacing, Script

KEY = {"authorization": "Bearer sk-test"}
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
CODEX = {
    "model": "gpt-5.1-codex",
    "instructions": "You are Codex.",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ls"}]}
    ],
    "store": False,
    "stream": True,
}


def create(client: TestClient, **body: Any) -> Any:
    return client.post("/v1/responses", headers=KEY, json={"model": "gpt-4.1", **body})


def events(response: Any) -> list[dict[str, Any]]:
    return [json.loads(data) for data in sse_events(response.content)]


def error_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


# -- create ----------------------------------------------------------------------------------


def test_a_response_echoes_the_request_and_counts_tokens(client: TestClient) -> None:
    answer = create(client, input="Hello there", instructions="Be brief.", metadata={"k": "v"})
    assert answer.status_code == 200
    body = answer.json()
    assert list(body)[:4] == ["id", "object", "created_at", "status"]
    assert body["id"].startswith("resp_")
    assert len(body["id"]) == 55
    assert (body["status"], body["instructions"], body["metadata"]) == (
        "completed",
        "Be brief.",
        {"k": "v"},
    )
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    counted = client.post(
        "/v1/responses/input_tokens",
        headers=KEY,
        json={"model": "gpt-4.1", "input": "Hello there", "instructions": "Be brief."},
    ).json()
    assert counted == {"object": "response.input_tokens", "input_tokens": usage["input_tokens"]}
    assert answer.headers["x-request-id"].startswith("req_")


def test_scripts_answer_responses_like_chat(client: TestClient, client_mock: MockGPT) -> None:
    client_mock.queue(Script(text="Scripted words here."))
    streamed = create(client, input="hi", stream=True)
    assert streamed.headers["content-type"] == "text/event-stream; charset=utf-8"
    frames = events(streamed)
    deltas = "".join(f["delta"] for f in frames if f["type"] == "response.output_text.delta")
    assert deltas == "Scripted words here."
    assert frames[-1]["type"] == "response.completed"
    assert b"[DONE]" not in streamed.content


def test_a_scripted_refusal_is_the_platform_429(client: TestClient, client_mock: MockGPT) -> None:
    client_mock.queue(Script(http_error=HttpError(429, headers={"retry-after": "7"})))
    refused = create(client, input="hi")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "7"
    assert error_of(refused)["code"] == "rate_limit_exceeded"


def test_the_chat_quota_covers_responses(client: TestClient, client_mock: MockGPT) -> None:
    client_mock.reset(client_mock.with_settings(v1_requests_per_minute=1))
    assert create(client, input="one").status_code == 200
    limited = create(client, input="two")
    assert limited.status_code == 429
    assert "retry-after" in limited.headers


@pytest.mark.parametrize(
    ("body", "param", "code", "message"),
    [
        (
            {"max_output_tokens": 5},
            "max_output_tokens",
            "integer_below_min_value",
            "Invalid 'max_output_tokens': integer below minimum value. "
            "Expected a value >= 16, but got 5 instead.",
        ),
        (
            {"previous_response_id": "resp_nope"},
            "previous_response_id",
            "previous_response_not_found",
            "Previous response with id 'resp_nope' not found.",
        ),
        ({"model": None}, "model", "invalid_type", None),
    ],
)
def test_bad_requests_get_the_platform_wording(
    client: TestClient, body: dict[str, Any], param: str, code: str, message: str | None
) -> None:
    refused = create(client, input="hi", **body)
    assert refused.status_code == 400
    error = error_of(refused)
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    if message is not None:
        assert error["message"] == message


def test_no_key_is_the_platform_401(client: TestClient) -> None:
    refused = client.post("/v1/responses", json={"model": "gpt-4.1", "input": "hi"})
    assert refused.status_code == 401
    assert "didn't provide an API key" in error_of(refused)["message"]


def test_max_output_tokens_cuts_the_answer_to_incomplete(
    client: TestClient, client_mock: MockGPT
) -> None:
    client_mock.queue(Script(text=" ".join(["word"] * 40)))
    body = create(client, input="hi", max_output_tokens=16).json()
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["usage"]["output_tokens"] == 16
    assert body["output"][-1]["status"] == "incomplete"


def test_tools_call_then_answer_the_output(client: TestClient) -> None:
    first = create(client, input="Weather in Paris?", tools=[TOOL]).json()
    call = first["output"][0]
    assert call["type"] == "function_call"
    assert set(json.loads(call["arguments"])) == {"city"}
    second = create(
        client,
        previous_response_id=first["id"],
        tools=[TOOL],
        input=[{"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}],
    ).json()
    assert [item["type"] for item in second["output"]] == ["message"]
    assert second["previous_response_id"] == first["id"]
    assert second["id"][5:23] == first["id"][5:23]  # one thread


def test_json_schema_output_matches_the_schema(client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "name": "Person", "schema": schema, "strict": True}
    body = create(client, input="a person", text={"format": fmt}).json()
    parsed = json.loads(body["output"][0]["content"][0]["text"])
    assert set(parsed) == {"name", "age"}
    assert body["text"]["format"]["name"] == "Person"


def test_reasoning_models_summarise_when_asked(client: TestClient) -> None:
    body = create(client, model="gpt-5", input="hi", reasoning={"summary": "auto"}).json()
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
    assert body["output"][0]["summary"][0]["text"]
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


# -- streams and faults ------------------------------------------------------------------------


def test_a_fault_breaks_the_stream_like_on_the_other_encodings(
    client: TestClient, client_mock: MockGPT
) -> None:
    client_mock.queue(Script(text="one two three four", fault=Fault("error_envelope", after=4)))
    frames = events(create(client, input="hi", stream=True))
    assert [f["type"] for f in frames[-2:]] == ["error", "response.failed"]
    assert frames[-2]["error"]["code"] == "server_error"
    assert [f["sequence_number"] for f in frames] == list(range(len(frames)))
    client_mock.queue(Script(text="one two three", fault=Fault("close_after", after=3)))
    assert len(events(create(client, input="hi", stream=True))) == 3


def test_paced_scripts_wait_on_the_app_clock(client: TestClient, client_mock: MockGPT) -> None:
    client_mock.queue(Script(text="a b c d", pacing=Pacing(ttft_ms=2000)))
    before = client_mock.now()
    create(client, input="hi", stream=True)
    assert client_mock.now() - before == pytest.approx(2.0)  # the first token's wait, unpaced after


def test_get_replays_the_stream_after_a_sequence_number(client: TestClient) -> None:
    frames = events(create(client, input="hi", stream=True))
    rid = frames[0]["response"]["id"]
    replay = client.get(f"/v1/responses/{rid}", headers=KEY, params={"stream": "true"})
    assert events(replay) == frames
    tail = client.get(
        f"/v1/responses/{rid}", headers=KEY, params={"stream": "true", "starting_after": "3"}
    )
    assert next(f["sequence_number"] for f in events(tail)) == 4
    bare = client.get(
        f"/v1/responses/{rid}",
        headers=KEY,
        params={"stream": "true", "include_obfuscation": "false"},
    )
    assert not any("obfuscation" in f for f in events(bare))
    assert any("obfuscation" in f for f in frames)


# -- stored responses --------------------------------------------------------------------------


def test_stored_responses_can_be_read_listed_and_deleted(client: TestClient) -> None:
    body = create(
        client, input=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    )
    rid = body.json()["id"]
    assert client.get(f"/v1/responses/{rid}", headers=KEY).json() == body.json()
    items = client.get(f"/v1/responses/{rid}/input_items", headers=KEY).json()
    texts = [item["content"][0]["text"] for item in items["data"]]
    assert texts == ["b", "a"]  # newest first
    page = client.get(
        f"/v1/responses/{rid}/input_items", headers=KEY, params={"order": "asc", "limit": "1"}
    ).json()
    assert (page["data"][0]["content"][0]["text"], page["has_more"]) == ("a", True)
    deleted = client.delete(f"/v1/responses/{rid}", headers=KEY)
    assert deleted.json() == {"id": rid, "object": "response", "deleted": True}
    gone = client.get(f"/v1/responses/{rid}", headers=KEY)
    assert gone.status_code == 404
    assert error_of(gone)["message"] == f"Response with id '{rid}' not found."


def test_store_false_is_not_kept(client: TestClient) -> None:
    rid = create(client, input="hi", store=False).json()["id"]
    assert client.get(f"/v1/responses/{rid}", headers=KEY).status_code == 404


def test_the_store_is_bounded(
    client: TestClient, client_mock: MockGPT, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mockgpt.responses_api.service.STORE_LIMIT", 3)
    ids = [create(client, input=f"n{n}").json()["id"] for n in range(5)]
    kept = [summary["id"] for summary in client_mock.responses()]
    assert len(kept) == 3
    assert ids[-1] in kept
    assert ids[0] not in kept


def test_background_moves_on_the_app_clock_and_can_be_cancelled(
    client: TestClient, client_mock: MockGPT
) -> None:
    queued = create(client, input="hi", background=True).json()
    assert (queued["status"], queued["output"], queued["usage"]) == ("queued", [], None)
    rid = queued["id"]
    seen = [queued["status"]]
    while seen[-1] in ("queued", "in_progress"):
        client_mock.advance(0.25)
        seen.append(client.get(f"/v1/responses/{rid}", headers=KEY).json()["status"])
        assert len(seen) < 100
    assert seen[0] == "queued"
    assert "in_progress" in seen
    assert seen[-1] == "completed"
    other = create(client, input="hi", background=True).json()["id"]
    cancelled = client.post(f"/v1/responses/{other}/cancel", headers=KEY).json()
    assert cancelled["status"] == "cancelled"
    client_mock.advance(60)
    assert client.get(f"/v1/responses/{other}", headers=KEY).json()["status"] == "cancelled"
    sync = create(client, input="hi").json()["id"]
    refused = client.post(f"/v1/responses/{sync}/cancel", headers=KEY)
    assert refused.status_code == 400
    assert error_of(refused)["message"] == "Cannot cancel a synchronous response."


def test_background_needs_store(client: TestClient) -> None:
    refused = create(client, input="hi", background=True, store=False)
    assert (refused.status_code, error_of(refused)["param"]) == (400, "background")


# -- embeddings --------------------------------------------------------------------------------


def embed(client: TestClient, **body: Any) -> Any:
    return client.post(
        "/v1/embeddings", headers=KEY, json={"model": "text-embedding-3-small", **body}
    )


def test_embeddings_are_deterministic_unit_vectors(client: TestClient) -> None:
    body = embed(client, input=["cat", "dog", "cat"], encoding_format="float").json()
    vectors = [item["embedding"] for item in body["data"]]
    assert [item["index"] for item in body["data"]] == [0, 1, 2]
    assert len(vectors[0]) == 1536
    assert vectors[0] == vectors[2] != vectors[1]
    assert abs(sum(v * v for v in vectors[0]) - 1) < 1e-4
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] == 3


def test_base64_embeddings_decode_to_the_float_vectors(client: TestClient) -> None:
    floats = embed(client, input="cat", dimensions=8, encoding_format="float").json()
    packed = embed(client, input="cat", dimensions=8, encoding_format="base64").json()
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert list(struct.unpack("<8f", raw)) == floats["data"][0]["embedding"]


def test_dimensions_only_on_the_third_generation(client: TestClient) -> None:
    refused = embed(client, model="text-embedding-ada-002", input="x", dimensions=8)
    assert refused.status_code == 400
    assert error_of(refused)["message"] == "This model does not support specifying dimensions."


def test_token_ids_may_be_written_as_whole_floats(client: TestClient) -> None:
    as_floats = embed(client, model="text-embedding-3-small", input=[[15339.0, 1917.0]])
    as_ints = embed(client, model="text-embedding-3-small", input=[[15339, 1917]])
    assert as_floats.status_code == 200
    assert as_floats.json()["data"] == as_ints.json()["data"]
    assert embed(client, model="text-embedding-3-small", input=[1.5]).status_code == 400


# -- codex ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"instructions": ""}, "Instructions are required"),
        ({"store": True}, "Store must be set to false"),
        ({"input": "ls"}, "Input must be a list"),
    ],
)
def test_codex_refuses_like_chatgpt(
    client: TestClient, change: dict[str, Any], detail: str
) -> None:
    refused = client.post("/backend-api/codex/responses", headers=KEY, json={**CODEX, **change})
    assert (refused.status_code, refused.json()) == (400, {"detail": detail})


def test_codex_for_a_workspace_login_must_name_the_workspace_account() -> None:
    with TestClient(MockGPT(make_config(0, account="workspace"))) as client:
        check = client.get("/backend-api/accounts/check/v4-2023-04-27", headers=KEY).json()
        workspace = check["account_ordering"][0]  # the account the picker lists first
        missing = client.post("/backend-api/codex/responses", headers=KEY, json=CODEX)
        assert missing.status_code == 403
        assert workspace in missing.json()["detail"]
        wrong = {**KEY, "chatgpt-account-id": "not-the-workspace"}
        assert (
            client.post("/backend-api/codex/responses", headers=wrong, json=CODEX).status_code
            == 403
        )
        named = {**KEY, "chatgpt-account-id": workspace}
        frames = events(client.post("/backend-api/codex/responses", headers=named, json=CODEX))
        assert frames[0]["type"] == "response.created"


def test_codex_streams_and_keeps_nothing(client: TestClient) -> None:
    frames = events(client.post("/backend-api/codex/responses", headers=KEY, json=CODEX))
    assert frames[0]["type"] == "response.created"
    assert frames[-1]["response"]["store"] is False
    rid = frames[0]["response"]["id"]
    assert client.get(f"/v1/responses/{rid}", headers=KEY).status_code == 404


def test_codex_usage_limit(client: TestClient, client_mock: MockGPT) -> None:
    client_mock.queue(Script(http_error=HttpError(429, headers={"retry-after": "120"})))
    refused = client.post("/backend-api/codex/responses", headers=KEY, json=CODEX)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "usage_limit_reached"
    assert refused.json()["error"]["resets_in_seconds"] == 120
    assert refused.headers["x-codex-primary-used-percent"] == "100"


def test_codex_models_list_what_pickers_show(client: TestClient) -> None:
    models = client.get(
        "/backend-api/codex/models", headers=KEY, params={"client_version": "0.63.0"}
    ).json()["models"]
    assert any(model["visibility"] == "list" for model in models)
    assert all(model["base_instructions"] for model in models)
    assert client.get("/backend-api/codex/models").status_code == 401


# Every fault on the raw bytes of a Responses stream: tests/test_faults.py.


@pytest.mark.parametrize("kind", ["error_envelope", "moderation_block"])
def test_a_stream_that_fails_mid_way_is_stored_failed(
    client: TestClient, client_mock: MockGPT, kind: str
) -> None:
    client_mock.queue(Script(text="one two three four", fault=Fault(kind, after=5)))
    frames = events(create(client, input="hi", stream=True))
    assert [frame["type"] for frame in frames[5:]] == ["error", "response.failed"]
    rid = frames[0]["response"]["id"]
    kept = client.get(f"/v1/responses/{rid}", headers=KEY).json()
    assert kept == frames[-1]["response"]
    assert kept["status"] == "failed"
    replay = client.get(f"/v1/responses/{rid}", headers=KEY, params={"stream": "true"})
    assert events(replay) == frames


@pytest.mark.parametrize(("pace", "least", "most"), [("real", 0.25, 60.0), ("instant", 0.0, 0.0)])
def test_unscripted_streams_take_the_configured_pace(pace: str, least: float, most: float) -> None:
    mock = MockGPT(make_config(0, pace=pace))
    with TestClient(mock) as client:
        for path, body, headers in [
            ("/v1/responses", {"model": "gpt-4.1", "input": "Explain tides.", "stream": True}, KEY),
            ("/backend-api/codex/responses", CODEX, KEY),
        ]:
            before = mock.now()
            response = client.post(path, json=body, headers=headers)
            assert response.status_code == 200
            assert events(response)[-1]["type"] == "response.completed"
            waited = mock.now() - before
            assert least <= waited <= most, (path, waited)


def test_the_admin_api_shows_stored_responses() -> None:
    mock = MockGPT(make_config(0))
    with mock.client(in_process=True) as http:
        first = http.post("/v1/responses", headers=KEY, json={"model": "gpt-4.1", "input": "hi"})
        rid = first.json()["id"]
        listed = http.get("/__mockgpt__/responses").json()
        assert listed[0]["id"] == rid
        assert listed[0]["status"] == "completed"
        one = http.get(f"/__mockgpt__/responses/{rid}").json()
        assert one["response"] == first.json()
        assert one["input_items"][0]["content"] == [{"type": "input_text", "text": "hi"}]
        assert http.get("/__mockgpt__/responses/resp_none").status_code == 404
        assert mock.state()["responses"] == len(listed)


def test_the_har_drift_check_knows_responses_streams(tmp_path: Path) -> None:
    mock = MockGPT(make_config(0))
    with mock.test_client() as http:
        body = {"model": "gpt-5", "input": "hi", "stream": True, "tools": [TOOL]}
        entry = entry_of(http.post("/v1/responses", json=body, headers=KEY))
    clean = check_har(write_har(tmp_path, [entry]))
    assert not clean.routes["POST /v1/responses"].drifted
    unknown = '{"type": "response.audio.delta", "delta": "", "sequence_number": 99}'
    entry["response"]["content"]["text"] += f"event: response.audio.delta\ndata: {unknown}\n\n"
    drifted = check_har(write_har(tmp_path, [entry], "drifted.har"))
    kinds = {drift.kind for drift in drifted.routes["POST /v1/responses"].findings}
    assert {"new-event", "new-frame-type"} <= kinds


def test_every_listed_input_item_has_an_id_and_a_type(client: TestClient) -> None:
    # an item with neither, of no known kind, as a fuzzer sends one
    made = create(client, input=[{"id": "", "content": "", "call_id": ""}]).json()
    listed = client.get(f"/v1/responses/{made['id']}/input_items", headers=KEY).json()
    assert [(bool(item["id"]), item["type"]) for item in listed["data"]] == [(True, "message")]
