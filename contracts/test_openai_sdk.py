"""The official `openai` SDK, sync and async, against a live mockgpt.

These tests prove the /v1 answers parse the way the SDK parses the real API:
typed objects, streams, the structured-output helpers, typed errors and the
SDK's own retry logic (which must honour `retry-after`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from mockgpt import MockGPT
from mockgpt.scripts import Fault, HttpError, Script

HELLO: list[Any] = [{"role": "user", "content": "Say hello to the team."}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
LONG_TEXT = "This answer arrives in many small pieces, one word after another, until the end."


class Person(BaseModel):
    name: str
    age: int
    hobbies: list[str]


@pytest.fixture
def base_url(mockgpt: MockGPT) -> str:
    return mockgpt.openai_url


@pytest.fixture
def client(base_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=2) as sdk:
        yield sdk


def drain(stream: Any, into: list[Any]) -> None:
    """Read a stream chunk by chunk, keeping what arrived before any failure."""
    for chunk in stream:
        into.append(chunk)


async def drain_async(request: Any, into: list[Any]) -> None:
    async for chunk in await request:
        into.append(chunk)


# -- answers ---------------------------------------------------------------------------


def test_plain_completion(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text="Hello, team!"))
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o"
    [choice] = completion.choices
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello, team!"
    assert choice.message.refusal is None
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens + usage.completion_tokens == usage.total_tokens
    assert usage.completion_tokens_details is not None
    assert completion._request_id is not None
    assert completion._request_id.startswith("req_")


def test_generated_completion_and_raw_response(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)
    assert raw.status_code == 200
    assert raw.headers["x-request-id"]
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.model == "gpt-4o-mini"


def test_streamed_completion(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=LONG_TEXT))
    stream = client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)
    chunks = list(stream)
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == LONG_TEXT
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(chunks) > 3


def test_stream_include_usage(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=LONG_TEXT))
    stream = client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    *content, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(chunk.usage is None for chunk in content)
    assert "".join(c.choices[0].delta.content or "" for c in content) == LONG_TEXT


def test_stream_helper_accumulates_the_completion(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=LONG_TEXT))
    with client.chat.completions.stream(model="gpt-4o", messages=HELLO) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert {"chunk", "content.delta", "content.done"} <= kinds
    assert final.choices[0].message.content == LONG_TEXT
    assert final.choices[0].finish_reason == "stop"


def test_n_gives_several_choices(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO, n=3)
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    contents = [choice.message.content for choice in completion.choices]
    assert all(contents)
    assert len(set(contents)) == 3


def test_tools_round_trip(client: openai.OpenAI) -> None:
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Oslo?"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER_TOOL["function"]["parameters"])
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"temp": 3}'})
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content
    assert not second.choices[0].message.tool_calls


def test_streamed_tool_call_through_the_helper(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="gpt-4o", messages=HELLO, tools=[WEATHER_TOOL]
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls
    arguments = json.loads(choice.message.tool_calls[0].function.arguments)
    jsonschema.validate(arguments, WEATHER_TOOL["function"]["parameters"])


def test_response_format_json_schema(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
            "genres": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["title", "year", "genres"],
        "additionalProperties": False,
    }
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "A film, as JSON."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "film", "strict": True, "schema": schema},
        },
    )
    content = completion.choices[0].message.content
    assert content is not None
    jsonschema.validate(json.loads(content), schema)


def test_parse_helper_gives_a_pydantic_object(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Invent a person."}],
        response_format=Person,
    )
    person = completion.choices[0].message.parsed
    assert isinstance(person, Person)
    assert isinstance(person.hobbies, list)


def test_models(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert "gpt-4o" in ids
    model = client.models.retrieve("gpt-4o")
    assert model.id == "gpt-4o"
    assert model.object == "model"


# -- errors ------------------------------------------------------------------------------


def test_authentication_error_without_a_key(base_url: str) -> None:
    sdk = openai.OpenAI(
        base_url=base_url,
        api_key="sk-test",
        default_headers={"Authorization": ""},
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=HELLO)
    error = caught.value
    assert error.status_code == 401
    assert error.type == "invalid_request_error"
    assert error.request_id is not None
    assert isinstance(error.body, dict)
    assert set(error.body) == {"message", "type", "param", "code"}


@pytest.mark.mockgpt(auth="strict")
def test_authentication_error_with_a_refused_key(base_url: str) -> None:
    sdk = openai.OpenAI(base_url=base_url, api_key="sk-not-ours", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk.models.list()
    assert caught.value.code == "invalid_api_key"


def test_bad_request_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "robot", "content": "beep"}],  # type: ignore[list-item,misc]
        )
    error = caught.value
    assert error.status_code == 400
    assert error.param == "messages[0].role"
    assert error.type == "invalid_request_error"
    assert error.request_id is not None


@pytest.mark.mockgpt(auth="strict")
def test_not_found_error_for_strict_models(mockgpt: MockGPT, base_url: str) -> None:
    with mockgpt.client() as web:  # a token the mock issued, as a signed-in client has one
        token = web.get("/api/auth/session").json()["accessToken"]
    sdk = openai.OpenAI(base_url=base_url, api_key=token, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="gpt-imaginary", messages=HELLO)
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-imaginary")
    assert sdk.chat.completions.create(model="gpt-4o", messages=HELLO).model == "gpt-4o"


@pytest.mark.mockgpt(models=("gpt-4o",))
def test_not_found_error_for_a_model_list(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)


def test_rate_limit_error_after_retries_that_honour_retry_after(
    client: openai.OpenAI, mockgpt: MockGPT, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    calculate = client._calculate_retry_timeout

    def spy(*args: Any, **kwargs: Any) -> float:
        wait = calculate(*args, **kwargs)
        waits.append(wait)
        return wait

    monkeypatch.setattr(client, "_calculate_retry_timeout", spy)
    refusal = Script(http_error=HttpError(429, headers={"retry-after": "0.05"}))
    mockgpt.queue(refusal, refusal, refusal)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "0.05"
    # max_retries=2: three attempts, each used one queued script, and both waits
    # were the server's 50 ms rather than the SDK's own back-off (>= 375 ms).
    assert mockgpt.pending_scripts() == 0
    assert waits == [pytest.approx(0.05), pytest.approx(0.05)]
    assert client.chat.completions.create(model="gpt-4o", messages=HELLO).choices


def test_rate_limit_then_success_is_retried_transparently(
    client: openai.OpenAI, mockgpt: MockGPT
) -> None:
    refusal = Script(http_error=HttpError(429, headers={"retry-after": "0.01"}))
    mockgpt.queue(refusal, Script(text="Made it."))
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content == "Made it."
    assert mockgpt.pending_scripts() == 0


def test_internal_server_error(mockgpt: MockGPT, base_url: str) -> None:
    sdk = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    mockgpt.queue(Script(http_error=HttpError(status=500, body={})))
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"
    assert mockgpt.pending_scripts() == 0


def test_error_frame_mid_stream_raises(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=LONG_TEXT, fault=Fault("error_envelope", after=2)))
    received: list[Any] = []
    with pytest.raises(openai.APIError) as caught:
        drain(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True), received)
    assert len(received) == 2
    assert caught.value.message


def test_stream_cut_mid_way_raises(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=LONG_TEXT))
    whole = list(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True))
    mockgpt.queue(Script(text=LONG_TEXT, fault=Fault("close_after", after=3)))
    received: list[Any] = []
    with pytest.raises((openai.APIError, httpx2.TransportError)):
        drain(client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True), received)
    assert 0 < len(received) < len(whole)
    assert len(received) == 3


# -- async -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_completion_and_stream(mockgpt: MockGPT, base_url: str) -> None:
    async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=2) as sdk:
        mockgpt.queue(Script(text="Async hello."), Script(text=LONG_TEXT))
        completion = await sdk.chat.completions.create(model="gpt-4o", messages=HELLO)
        assert completion.choices[0].message.content == "Async hello."
        stream = await sdk.chat.completions.create(
            model="gpt-4o",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == LONG_TEXT
        assert chunks[-1].usage is not None
        models = [model.id async for model in sdk.models.list()]
        assert "gpt-4o" in models


@pytest.mark.anyio
async def test_async_errors(mockgpt: MockGPT, base_url: str) -> None:
    async with openai.AsyncOpenAI(base_url=base_url, api_key="sk-test", max_retries=2) as sdk:
        with pytest.raises(openai.BadRequestError):
            await sdk.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "robot", "content": "beep"}],  # type: ignore[list-item,misc]
            )
        refusal = Script(http_error=HttpError(429, headers={"retry-after": "0.01"}))
        mockgpt.queue(refusal, refusal, refusal)
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(model="gpt-4o", messages=HELLO)
        assert mockgpt.pending_scripts() == 0
        mockgpt.queue(Script(text=LONG_TEXT, fault=Fault("close_after", after=3)))
        received: list[Any] = []
        request = sdk.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)
        with pytest.raises((openai.APIError, httpx2.TransportError)):
            await drain_async(request, received)
        assert len(received) == 3
