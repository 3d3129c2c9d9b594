"""The `/v1` platform API: completions whole and streamed, options, tools, errors, models.

Everything runs in-process through starlette's TestClient; the official SDK is
driven against a live server in `contracts/test_openai_sdk.py`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from starlette.testclient import TestClient

from mockgpt import Config, MockGPT
from mockgpt.platform import count_tokens, prompt_tokens
from mockgpt.schemas import schema_errors
from mockgpt.scripts import Fault, HttpError, Script

AUTH = {"Authorization": "Bearer sk-test"}
URL = "/v1/chat/completions"
HELLO = [{"role": "user", "content": "Say hello to the team."}]
ERROR_KEYS = {"message", "type", "param", "code"}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string"}},
            "required": ["zone"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture
def mock() -> MockGPT:
    return MockGPT(Config(seed=0, clock="virtual", validate_responses=True))


@pytest.fixture
def client(mock: MockGPT) -> Iterator[TestClient]:
    with TestClient(mock) as test_client:
        yield test_client


def complete(client: TestClient, **body: Any) -> Any:
    body.setdefault("model", "gpt-4o")
    body.setdefault("messages", HELLO)
    return client.post(URL, json=body, headers=AUTH)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"]
    body: dict[str, Any] = response.json()
    return body


def sse_data(text: str) -> list[str]:
    """The `data:` payloads of an event stream, in order."""
    payloads = []
    for event in text.split("\n\n"):
        for line in event.splitlines():
            if line.startswith("data:"):
                payloads.append(line[len("data:") :].strip())
    return payloads


def stream_chunks(response: Any) -> list[dict[str, Any]]:
    """The JSON chunks of a finished stream, after checking it ends with `[DONE]`."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"]
    payloads = sse_data(response.text)
    assert payloads[-1] == "[DONE]"
    assert payloads.count("[DONE]") == 1
    return [json.loads(payload) for payload in payloads[:-1]]


def joined(chunks: list[dict[str, Any]], index: int = 0) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["index"] == index
    )


def assert_openai_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["type"], str)
    error: dict[str, Any] = body["error"]
    return error


# -- a whole completion ----------------------------------------------------------------


def test_completion_has_the_documented_shape(client: TestClient) -> None:
    body = ok(complete(client, model="gpt-4o-mini"))
    assert schema_errors("openai/chat_completion.json", body) == []
    assert body["id"].startswith("chatcmpl-")
    assert len(body["id"]) > len("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["created"] > 1_600_000_000
    assert body["model"] == "gpt-4o-mini"
    assert isinstance(body["system_fingerprint"], str)
    assert body["system_fingerprint"]
    [choice] = body["choices"]
    assert set(choice) >= {"index", "message", "logprobs", "finish_reason"}
    assert choice["index"] == 0
    assert choice["logprobs"] is None
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert isinstance(message["content"], str)
    assert message["content"].strip()
    assert "refusal" in message
    assert message["refusal"] is None
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["prompt_tokens"] + usage["completion_tokens"] == usage["total_tokens"]
    assert set(usage["prompt_tokens_details"]) >= {"cached_tokens"}
    assert set(usage["completion_tokens_details"]) >= {"reasoning_tokens"}


def test_a_scripted_text_is_the_content(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(text="Hello, team!"))
    body = ok(complete(client))
    assert body["choices"][0]["message"]["content"] == "Hello, team!"
    assert mock.pending_scripts() == 0


def test_token_counts_add_up(client: TestClient) -> None:
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name three rivers in Europe."},
    ]
    body = ok(complete(client, messages=messages, n=2))
    usage = body["usage"]
    assert usage["prompt_tokens"] == prompt_tokens(messages)
    contents = [choice["message"]["content"] for choice in body["choices"]]
    assert usage["completion_tokens"] == sum(count_tokens(text) for text in contents)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    longer = ok(
        complete(client, messages=[*messages, {"role": "user", "content": "And two more."}])
    )
    assert longer["usage"]["prompt_tokens"] > usage["prompt_tokens"]


def test_n_gives_distinct_choices(client: TestClient) -> None:
    body = ok(complete(client, n=3))
    assert schema_errors("openai/chat_completion.json", body) == []
    assert [choice["index"] for choice in body["choices"]] == [0, 1, 2]
    contents = [choice["message"]["content"] for choice in body["choices"]]
    assert all(isinstance(text, str) and text for text in contents)
    assert len(set(contents)) == 3


def test_max_tokens_cuts_the_answer(client: TestClient, mock: MockGPT) -> None:
    long_text = " ".join(f"word{i}" for i in range(40)) + "."
    for key in ("max_tokens", "max_completion_tokens"):
        mock.queue(Script(text=long_text))
        body = ok(complete(client, **{key: 5}))
        choice = body["choices"][0]
        assert choice["finish_reason"] == "length"
        assert body["usage"]["completion_tokens"] <= 5
        assert long_text.startswith(choice["message"]["content"])
        assert count_tokens(choice["message"]["content"]) <= 5
    mock.queue(Script(text="Short."))
    body = ok(complete(client, max_tokens=50))
    assert body["choices"][0]["finish_reason"] == "stop"


def test_stop_sequences_end_the_answer_before_them(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(text="one, two, three. four, five. six"))
    body = ok(complete(client, stop="."))
    assert body["choices"][0]["message"]["content"] == "one, two, three"
    assert body["choices"][0]["finish_reason"] == "stop"
    mock.queue(Script(text="one, two, three. four, five. six"))
    body = ok(complete(client, stop=["five", "two"]))
    assert body["choices"][0]["message"]["content"] == "one, "
    mock.queue(Script(text="nothing to stop here"))
    body = ok(complete(client, stop=["###"]))
    assert body["choices"][0]["message"]["content"] == "nothing to stop here"


def test_seed_makes_the_answer_reproducible(client: TestClient) -> None:
    first = ok(complete(client, seed=42))["choices"][0]["message"]["content"]
    second = ok(complete(client, seed=42))["choices"][0]["message"]["content"]
    other = ok(complete(client, seed=43))["choices"][0]["message"]["content"]
    assert first == second
    assert first != other


def test_json_object_response_format_is_valid_json(client: TestClient) -> None:
    messages = [{"role": "user", "content": "Describe a cat as JSON."}]
    body = ok(complete(client, messages=messages, response_format={"type": "json_object"}))
    content = body["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict)


def test_json_schema_response_format_follows_the_schema(client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
            "mood": {"type": "string", "enum": ["happy", "sad"]},
            "address": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                "required": ["city", "zip"],
                "additionalProperties": False,
            },
        },
        "required": ["name", "age", "tags", "mood", "address"],
        "additionalProperties": False,
    }
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "person", "strict": True, "schema": schema},
    }
    for seed in (1, 2, 3):
        body = ok(complete(client, response_format=response_format, seed=seed))
        assert schema_errors("openai/chat_completion.json", body) == []
        value = json.loads(body["choices"][0]["message"]["content"])
        jsonschema.validate(value, schema)


def test_logprobs_cover_the_content(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(text="The sky is blue."))
    body = ok(complete(client, logprobs=True, top_logprobs=2))
    assert schema_errors("openai/chat_completion.json", body) == []
    choice = body["choices"][0]
    entries = choice["logprobs"]["content"]
    assert "".join(entry["token"] for entry in entries).replace(" ", "") == "Theskyisblue."
    for entry in entries:
        assert entry["logprob"] <= 0
        assert bytes(entry["bytes"]).decode() == entry["token"]
        assert len(entry["top_logprobs"]) == 2
        assert all(top["logprob"] <= 0 for top in entry["top_logprobs"])
    assert ok(complete(client))["choices"][0]["logprobs"] is None


# -- streaming -------------------------------------------------------------------------


def test_stream_matches_the_whole_completion(client: TestClient) -> None:
    whole = ok(complete(client, seed=7))
    chunks = stream_chunks(complete(client, seed=7, stream=True))
    for chunk in chunks:
        assert schema_errors("openai/chat_completion_chunk.json", chunk) == []
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "gpt-4o"
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    first = chunks[0]["choices"][0]
    assert first["delta"]["role"] == "assistant"
    assert first["finish_reason"] is None
    for chunk in chunks[1:-1]:
        assert "role" not in chunk["choices"][0]["delta"]
        assert chunk["choices"][0]["finish_reason"] is None
    last = chunks[-1]["choices"][0]
    assert last["delta"] == {}
    assert last["finish_reason"] == "stop"
    assert joined(chunks) == whole["choices"][0]["message"]["content"]
    assert len([c for c in chunks if c["choices"][0]["delta"].get("content")]) > 1
    assert all("usage" not in chunk or chunk["usage"] is None for chunk in chunks)


def test_stream_of_a_script_joins_to_its_text(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(text="Streaming, one piece at a time.", chunk_words=2))
    chunks = stream_chunks(complete(client, stream=True))
    assert joined(chunks) == "Streaming, one piece at a time."


def test_stream_include_usage_ends_with_a_usage_chunk(client: TestClient) -> None:
    whole = ok(complete(client, seed=3))
    response = complete(client, seed=3, stream=True, stream_options={"include_usage": True})
    chunks = stream_chunks(response)
    for chunk in chunks:
        assert schema_errors("openai/chat_completion_chunk.json", chunk) == []
    *content, final = chunks
    assert final["choices"] == []
    assert final["id"] == content[0]["id"]
    usage = final["usage"]
    assert usage["prompt_tokens"] + usage["completion_tokens"] == usage["total_tokens"]
    assert usage["prompt_tokens"] == whole["usage"]["prompt_tokens"]
    assert usage["completion_tokens"] == whole["usage"]["completion_tokens"]
    for chunk in content:
        assert "usage" in chunk
        assert chunk["usage"] is None
    assert content[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_with_n_streams_every_choice(client: TestClient) -> None:
    whole = ok(complete(client, n=3, seed=11))
    chunks = stream_chunks(complete(client, n=3, seed=11, stream=True))
    for index in range(3):
        assert joined(chunks, index) == whole["choices"][index]["message"]["content"]
        finishes = [
            choice["finish_reason"]
            for chunk in chunks
            for choice in chunk["choices"]
            if choice["index"] == index and choice["finish_reason"]
        ]
        assert finishes == ["stop"]


def test_stream_max_tokens_finishes_with_length(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(text=" ".join(["word"] * 30)))
    chunks = stream_chunks(complete(client, stream=True, max_tokens=4))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert count_tokens(joined(chunks)) <= 4


def test_stream_logprobs_arrive_with_the_content(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(text="The sky is blue."))
    chunks = stream_chunks(complete(client, stream=True, logprobs=True))
    tokens = [
        entry["token"]
        for chunk in chunks
        for choice in chunk["choices"]
        if choice["delta"].get("content")
        for entry in (choice["logprobs"] or {}).get("content") or []
    ]
    assert "".join(tokens).replace(" ", "") == "Theskyisblue."


def test_mid_stream_error_frame(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(text="one two three four five six", fault=Fault("error_envelope", after=2)))
    response = complete(client, stream=True)
    assert response.status_code == 200
    payloads = sse_data(response.text)
    frames = [json.loads(p) for p in payloads if p != "[DONE]"]
    assert [frame["object"] for frame in frames[:2]] == ["chat.completion.chunk"] * 2
    error = frames[2]
    assert set(error) == {"error"}
    assert set(error["error"]) == ERROR_KEYS
    assert error["error"]["message"]
    assert len(frames) == 3


# -- tools -------------------------------------------------------------------------------


def _arguments(call: dict[str, Any], tool: dict[str, Any]) -> dict[str, Any]:
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == tool["function"]["name"]
    arguments: dict[str, Any] = json.loads(call["function"]["arguments"])
    jsonschema.validate(arguments, tool["function"]["parameters"])
    return arguments


def test_auto_tool_choice_calls_the_tool(client: TestClient) -> None:
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    body = ok(complete(client, messages=messages, tools=[WEATHER_TOOL]))
    assert schema_errors("openai/chat_completion.json", body) == []
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    _arguments(call, WEATHER_TOOL)
    usage = body["usage"]
    assert usage["completion_tokens"] > 0
    assert usage["prompt_tokens"] + usage["completion_tokens"] == usage["total_tokens"]


def test_tool_round_trip_ends_in_text(client: TestClient) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = ok(complete(client, messages=messages, tools=[WEATHER_TOOL]))
    call = first["choices"][0]["message"]["tool_calls"][0]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": '{"temperature": 18}'},
    ]
    second = ok(complete(client, messages=messages, tools=[WEATHER_TOOL]))
    assert schema_errors("openai/chat_completion.json", second) == []
    choice = second["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert isinstance(choice["message"]["content"], str)
    assert choice["message"]["content"]
    assert not choice["message"].get("tool_calls")
    assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"]


def test_tool_choice_none_required_and_named(client: TestClient) -> None:
    tools = [WEATHER_TOOL, TIME_TOOL]
    body = ok(complete(client, tools=tools, tool_choice="none"))
    assert body["choices"][0]["finish_reason"] == "stop"
    assert isinstance(body["choices"][0]["message"]["content"], str)
    assert not body["choices"][0]["message"].get("tool_calls")

    answered = [
        *HELLO,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"zone": "UTC"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": "12:00"},
    ]
    body = ok(complete(client, messages=answered, tools=tools, tool_choice="required"))
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    _arguments(body["choices"][0]["message"]["tool_calls"][0], WEATHER_TOOL)

    named = {"type": "function", "function": {"name": "get_time"}}
    body = ok(complete(client, tools=tools, tool_choice=named))
    choice = body["choices"][0]
    # The real API reports "stop" when a named function is forced, "tool_calls" otherwise.
    assert choice["finish_reason"] in ("stop", "tool_calls")
    [call] = choice["message"]["tool_calls"]
    _arguments(call, TIME_TOOL)


def test_streamed_tool_call_assembles_to_valid_arguments(client: TestClient) -> None:
    response = complete(
        client, tools=[WEATHER_TOOL], stream=True, stream_options={"include_usage": True}
    )
    chunks = stream_chunks(response)
    for chunk in chunks:
        assert schema_errors("openai/chat_completion_chunk.json", chunk) == []
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant"
    head = first["tool_calls"][0]
    assert head["function"]["name"] == "get_weather"
    arguments = "".join(
        call["function"].get("arguments", "")
        for chunk in chunks
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls") or []
    )
    jsonschema.validate(json.loads(arguments), WEATHER_TOOL["function"]["parameters"])
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] > 0


# -- errors --------------------------------------------------------------------------------


def test_no_key_is_401_with_the_four_key_body(client: TestClient) -> None:
    response = client.post(URL, json={"model": "gpt-4o", "messages": HELLO})
    error = assert_openai_error(response, 401)
    assert error["type"] == "invalid_request_error"
    assert error["param"] is None
    assert error["message"].startswith("You didn't provide an API key.")
    for headers in ({"Authorization": ""}, {"Authorization": "Basic abc"}):
        response = client.post(URL, json={"model": "gpt-4o", "messages": HELLO}, headers=headers)
        assert_openai_error(response, 401)
    assert_openai_error(client.get("/v1/models"), 401)


def test_a_wrong_key_under_strict_auth_is_an_incorrect_key(
    client: TestClient, mock: MockGPT
) -> None:
    mock.reset(mock.with_settings(auth="strict"))
    response = complete(client)
    error = assert_openai_error(response, 401)
    assert error["code"] == "invalid_api_key"
    assert error["message"].startswith("Incorrect API key provided")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt-4o"}, "messages"),
        ({"messages": HELLO}, "model"),
        ({"model": "gpt-4o", "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"model": "gpt-4o", "messages": "hi"}, "messages"),
        ({"model": 4, "messages": HELLO}, "model"),
    ],
)
def test_bad_requests_are_400_with_param(
    client: TestClient, body: dict[str, Any], param: str
) -> None:
    response = client.post(URL, json=body, headers=AUTH)
    error = assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_malformed_json_is_400(client: TestClient) -> None:
    headers = {**AUTH, "content-type": "application/json"}
    response = client.post(URL, content=b'{"model": "gpt-4o", "messages": [', headers=headers)
    error = assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]


def test_any_model_is_accepted_by_default(client: TestClient) -> None:
    body = ok(complete(client, model="my-fine-tune-2031"))
    assert body["model"] == "my-fine-tune-2031"
    assert ok(client.get("/v1/models/my-fine-tune-2031", headers=AUTH))["id"] == (
        "my-fine-tune-2031"
    )


def test_unknown_model_is_404_when_a_model_list_is_set(client: TestClient, mock: MockGPT) -> None:
    mock.reset(mock.with_settings(models=("gpt-4o", "gpt-4o-mini")))
    error = assert_openai_error(complete(client, model="gpt-9"), 404)
    assert error["code"] == "model_not_found"
    assert "gpt-9" in error["message"]
    assert ok(complete(client, model="gpt-4o-mini"))["model"] == "gpt-4o-mini"
    assert_openai_error(client.get("/v1/models/gpt-9", headers=AUTH), 404)
    listed = ok(client.get("/v1/models", headers=AUTH))
    assert [model["id"] for model in listed["data"]] == ["gpt-4o", "gpt-4o-mini"]


def test_unknown_model_is_404_when_strict(client: TestClient, mock: MockGPT) -> None:
    mock.reset(mock.with_settings(auth="strict"))
    token = client.get("/api/auth/session").json()["accessToken"]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post(URL, json={"model": "gpt-9", "messages": HELLO}, headers=headers)
    error = assert_openai_error(response, 404)
    assert error["code"] == "model_not_found"
    assert error["type"] == "invalid_request_error"
    response = client.post(URL, json={"model": "gpt-4o", "messages": HELLO}, headers=headers)
    assert ok(response)["model"] == "gpt-4o"


def test_scripted_429_has_the_rate_limit_headers(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(http_error=HttpError.model_cap(1)))
    response = complete(client)
    error = assert_openai_error(response, 429)
    assert error["code"] == "rate_limit_exceeded"
    assert float(response.headers["retry-after"]) >= 0
    assert float(response.headers["retry-after-ms"]) == pytest.approx(
        float(response.headers["retry-after"]) * 1000
    )
    for name in (
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ):
        assert response.headers[name]
    assert mock.pending_scripts() == 0
    ok(complete(client))


def test_scripted_429_keeps_its_own_retry_after(client: TestClient, mock: MockGPT) -> None:
    mock.queue(Script(http_error=HttpError(429, headers={"retry-after": "7"})))
    response = complete(client)
    assert_openai_error(response, 429)
    assert response.headers["retry-after"] == "7"
    assert response.headers["retry-after-ms"] == "7000"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_scripted_server_errors(client: TestClient, mock: MockGPT, status: int) -> None:
    mock.queue(Script(http_error=HttpError(status=status, body={})))
    error = assert_openai_error(complete(client), status)
    assert error["type"] == "server_error"
    mock.queue(Script(http_error=HttpError(status=status, body={})))
    assert_openai_error(complete(client, stream=True), status)


def test_every_answer_has_a_request_id(client: TestClient, mock: MockGPT) -> None:
    answers = [
        complete(client),
        complete(client, stream=True),
        client.post(URL, json={"model": "gpt-4o", "messages": HELLO}),
        client.post(URL, json={"model": "gpt-4o"}, headers=AUTH),
        client.get("/v1/models", headers=AUTH),
        client.get("/v1/models/gpt-4o", headers=AUTH),
    ]
    mock.queue(Script(http_error=HttpError.model_cap(1)), Script(http_error=HttpError(500)))
    answers += [complete(client), complete(client)]
    mock.reset(mock.with_settings(models=("gpt-4o",)))
    answers.append(complete(client, model="nope"))
    ids = [answer.headers.get("x-request-id") for answer in answers]
    assert all(ids), ids
    assert len(set(ids)) == len(ids)


def test_unknown_v1_paths_answer_like_the_platform(client: TestClient) -> None:
    """The real API answers a wrong path or method on /v1 with its own error body."""
    error = assert_openai_error(client.get("/v1/chat/complete", headers=AUTH), 404)
    assert error["type"] == "invalid_request_error"
    assert_openai_error(client.get(URL, headers=AUTH), 405)


# -- models --------------------------------------------------------------------------------


def test_models_list_and_get(client: TestClient) -> None:
    listed = ok(client.get("/v1/models", headers=AUTH))
    assert schema_errors("openai/model_list.json", listed) == []
    assert listed["object"] == "list"
    ids = [model["id"] for model in listed["data"]]
    assert "gpt-4o" in ids
    assert len(ids) == len(set(ids))
    for model in listed["data"]:
        assert model["object"] == "model"
        assert isinstance(model["created"], int)
        assert isinstance(model["owned_by"], str)
        assert model["owned_by"]
    one = ok(client.get("/v1/models/gpt-4o", headers=AUTH))
    assert schema_errors("openai/model.json", one) == []
    assert one == next(model for model in listed["data"] if model["id"] == "gpt-4o")


# -- one script, two APIs ------------------------------------------------------------------


def _web_turn(client: TestClient, prompt: str) -> str:
    body = {
        "action": "next",
        "model": "auto",
        "messages": [
            {
                "id": str(uuid.uuid4()),
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": [prompt]},
            }
        ],
        "parent_message_id": "client-created-root",
    }
    response = client.post(
        "/backend-api/conversation", json=body, headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 200, response.text
    snapshots = [
        json.loads(payload)
        for payload in sse_data(response.text)
        if payload.startswith("{") and '"message"' in payload
    ]
    snapshots = [s for s in snapshots if isinstance(s.get("message"), dict)]
    assert snapshots
    text: str = snapshots[-1]["message"]["content"]["parts"][0]
    return text


def test_the_same_script_answers_the_web_and_the_platform(
    client: TestClient, mock: MockGPT
) -> None:
    script = Script(text="One script, two front doors.")
    mock.match(script)  # every turn, until cleared
    assert _web_turn(client, "hi") == "One script, two front doors."
    assert ok(complete(client))["choices"][0]["message"]["content"] == (
        "One script, two front doors."
    )
    mock.clear_scripts()
    mock.queue(script, script)
    assert joined(stream_chunks(complete(client, stream=True))) == "One script, two front doors."
    assert _web_turn(client, "hello again") == "One script, two front doors."
    assert mock.pending_scripts() == 0


def test_streams_are_paced_on_the_app_clock_and_can_stall(
    client: TestClient, mock: MockGPT
) -> None:
    paced = Script.from_dict(
        {"text": "one two three four five six", "pacing": {"ttft_ms": 800, "tokens_per_second": 4}}
    )
    mock.queue(paced, Script(text="a b c d", fault=Fault("stall", after=2, seconds=45.0)))
    before = mock.now()
    chunks = stream_chunks(complete(client, stream=True))
    elapsed = mock.now() - before
    assert joined(chunks) == "one two three four five six"
    # The first token's wait, then a token a chunk at 4/s: six words, the role and the finish.
    assert elapsed == pytest.approx(0.8 + 8 / 4)
    before = mock.now()
    stalled = complete(client, stream=True)
    assert mock.now() - before == pytest.approx(45.0)
    assert joined(stream_chunks(stalled)) == "a b c d"  # silent for a while, then the rest


def test_a_request_quota_refuses_with_retry_headers_and_resets(
    client: TestClient, mock: MockGPT
) -> None:
    mock.reset(mock.with_settings(v1_requests_per_minute=2))
    first = complete(client)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert complete(client).status_code == 200
    refused = complete(client)
    error = assert_openai_error(refused, 429)
    assert error["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert int(refused.headers["retry-after-ms"]) > 0
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    documented = client.get("/openapi.json").json()["paths"]["/v1/chat/completions"]["post"]
    assert "429" in documented["responses"]  # the quota's answer is in the contract
    mock.advance(61)
    assert complete(client).status_code == 200
