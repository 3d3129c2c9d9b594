"""The official `openai` SDK's Responses and embeddings clients against a live mockgpt.

Plain and streamed responses (raw events and the `responses.stream` helper,
which checks the event grammar strictly), a function tool round trip,
structured output through `responses.parse`, `previous_response_id` threads,
background responses polled with `retrieve`, stored-response management,
typed errors, the async client, and `embeddings.create` (which asks for
base64 and decodes float32 itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from mockgpt import MockGPT
from mockgpt.scripts import Fault, HttpError, Script

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
ANSWER = "Hello team, caf\u00e9 is open \U0001f680 until six."


class Person(BaseModel):
    name: str
    age: int
    hobbies: list[str]


@pytest.fixture
def client(mockgpt: MockGPT) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="sk-test", base_url=mockgpt.openai_url, max_retries=0) as client:
        yield client


def test_plain_create(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=ANSWER))
    response = client.responses.create(model="gpt-4.1", input="Say hello", instructions="Brief.")
    assert response.status == "completed"
    assert response.output_text == ANSWER
    assert response.instructions == "Brief."
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.id.startswith("resp_")


def test_raw_stream_events(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=ANSWER))
    stream = client.responses.create(model="gpt-4.1", input="Say hello", stream=True)
    events = list(stream)
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == ANSWER


def test_stream_helper_accumulates_and_finishes(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=ANSWER))
    with client.responses.stream(
        model="gpt-5", input="Say hello", reasoning={"effort": "low", "summary": "auto"}
    ) as stream:
        snapshots = [e.snapshot for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert snapshots[-1] == ANSWER
    assert len(snapshots) > 2
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output_text == ANSWER


def test_function_tool_round_trip(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model="gpt-4.1", input="Weather in Paris?", tools=[WEATHER]
    ) as stream:
        arguments = [
            e.snapshot for e in stream if e.type == "response.function_call_arguments.delta"
        ]
        first = stream.get_final_response()
    call = first.output[0]
    assert call.type == "function_call"
    assert arguments[-1] == call.arguments
    assert set(call.parsed_arguments) == {"city"}  # strict tools are parsed by the SDK
    second = client.responses.create(
        model="gpt-4.1",
        previous_response_id=first.id,
        tools=[WEATHER],
        input=[
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": json.dumps({"temp_c": 18}),
            }
        ],
    )
    assert second.previous_response_id == first.id
    assert second.output[0].type == "message"
    assert second.output_text
    items = list(client.responses.input_items.list(second.id))
    assert [item.type for item in items] == ["function_call_output"]


def test_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    parsed = client.responses.parse(model="gpt-4.1", input="Invent a person.", text_format=Person)
    person = parsed.output_parsed
    assert isinstance(person, Person)
    assert parsed.text.format.type == "json_schema"


def test_previous_response_id_continues_a_thread(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    first = client.responses.create(model="gpt-4.1", input="My name is Ada.")
    mockgpt.match(Script(text="You are Ada."), prompt="What is my name?")
    second = client.responses.create(
        model="gpt-4.1", input="What is my name?", previous_response_id=first.id
    )
    assert second.output_text == "You are Ada."
    count = client.responses.input_tokens.count(
        model="gpt-4.1", input="What is my name?", previous_response_id=first.id
    )
    assert second.usage is not None
    assert count.input_tokens == second.usage.input_tokens


def test_background_then_retrieve_until_done(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    response = client.responses.create(model="gpt-4.1", input="Take your time.", background=True)
    assert response.status == "queued"
    assert response.output == []
    statuses = [response.status]
    while response.status in ("queued", "in_progress"):
        mockgpt.advance(0.25)
        response = client.responses.retrieve(response.id)
        statuses.append(response.status)
        assert len(statuses) < 200
    assert statuses[-1] == "completed"
    assert "in_progress" in statuses
    assert response.output_text


def test_stream_resumes_from_a_sequence_number(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="gpt-4.1", input="hi", stream=True))
    rid = events[0].response.id
    with client.responses.stream(response_id=rid, starting_after=3) as stream:
        resumed = [event.sequence_number for event in stream]
        assert stream.get_final_response().id == rid
    assert resumed == list(range(4, len(events)))


def test_delete_cancel_and_errors(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    response = client.responses.create(model="gpt-4.1", input="hi")
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve(response.id)
    assert missing.value.message.endswith(f"Response with id '{response.id}' not found.")
    queued = client.responses.create(model="gpt-4.1", input="hi", background=True)
    assert client.responses.cancel(queued.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="gpt-4.1", input="hi", max_output_tokens=5)
    assert bad.value.code == "integer_below_min_value"
    assert bad.value.param == "max_output_tokens"
    mockgpt.queue(Script(http_error=HttpError(429, headers={"retry-after": "1"})))
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="gpt-4.1", input="hi")
    with (
        openai.OpenAI(
            api_key="sk-test",
            base_url=client.base_url,
            default_headers={"Authorization": ""},
            max_retries=0,
        ) as nobody,
        pytest.raises(openai.AuthenticationError),
    ):
        nobody.responses.create(model="gpt-4.1", input="hi")


def test_a_mid_stream_error_raises(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(
        Script(text="one two three", fault=Fault("error_envelope", after=4, message="boom"))
    )
    with pytest.raises(openai.APIError, match="boom"):
        list(client.responses.create(model="gpt-4.1", input="hi", stream=True))


def test_incomplete_when_the_budget_runs_out(client: openai.OpenAI, mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=" ".join(["word"] * 50)))
    response = client.responses.create(model="gpt-4.1", input="hi", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_embeddings_decode_through_the_sdk(client: openai.OpenAI) -> None:
    default = client.embeddings.create(model="text-embedding-3-small", input=["cat", "dog"])
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=["cat", "dog"], encoding_format="float"
    )
    assert [len(item.embedding) for item in default.data] == [1536, 1536]
    assert default.data[0].embedding == floats.data[0].embedding
    short = client.embeddings.create(model="text-embedding-3-large", input="cat", dimensions=256)
    assert len(short.data[0].embedding) == 256
    assert abs(sum(v * v for v in short.data[0].embedding) - 1) < 1e-4
    assert short.usage.prompt_tokens == short.usage.total_tokens


@pytest.mark.anyio
async def test_async_client(mockgpt: MockGPT) -> None:
    mockgpt.queue(Script(text=ANSWER), Script(text=ANSWER))
    async with openai.AsyncOpenAI(
        api_key="sk-test", base_url=mockgpt.openai_url, max_retries=0
    ) as client:
        response = await client.responses.create(model="gpt-4.1", input="hi")
        assert response.output_text == ANSWER
        async with client.responses.stream(model="gpt-4.1", input="hi") as stream:
            async for _event in stream:
                pass
            final = await stream.get_final_response()
        assert final.output_text == ANSWER
        vectors = await client.embeddings.create(model="text-embedding-3-small", input="cat")
        assert len(vectors.data[0].embedding) == 1536
