"""Drawn Responses streams go through the official SDK's stream helper intact.

The helper rebuilds the response from the events; whatever the answer and
however the bytes are split, it must end with the object the stream's last
event carries (or raise the stream's error for a failed one).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import openai
import pytest
from hypothesis import given, seed, settings

from mockgpt.responses_api.strategies import ResponseStreamDraw, response_streams


def _client(drawn: ResponseStreamDraw) -> openai.OpenAI:
    def answer(request: httpx2.Request) -> httpx2.Response:
        def reads() -> Iterator[bytes]:
            yield from drawn.reads

        headers = {"content-type": "text/event-stream; charset=utf-8"}
        return httpx2.Response(200, headers=headers, content=reads())

    transport = httpx2.MockTransport(answer)
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://mock.test/v1",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )


def _check(drawn: ResponseStreamDraw) -> None:
    final = drawn.final
    with _client(drawn) as client:
        if final["status"] == "failed":
            with (
                pytest.raises(openai.APIError),
                client.responses.stream(model="m", input="hi") as s,
            ):
                list(s)
            return
        with client.responses.stream(model="m", input="hi") as stream:
            seen = [event.sequence_number for event in stream]
            if final["status"] == "completed":
                built = stream.get_final_response()
                assert built.id == final["id"]
                assert [item.id for item in built.output] == [i["id"] for i in final["output"]]
                assert built.output_text == "".join(
                    part.get("text", "")
                    for item in final["output"]
                    if item["type"] == "message"
                    for part in item["content"]
                )
    assert seen == list(range(len(drawn.events)))


@settings(max_examples=40, deadline=None)
@given(response_streams())
def test_drawn_streams_parse_in_the_sdk(drawn: ResponseStreamDraw) -> None:
    _check(drawn)


@seed(20261129)
@settings(max_examples=20, deadline=None, database=None)
@given(response_streams())
def test_drawn_streams_parse_in_the_sdk_pinned(drawn: ResponseStreamDraw) -> None:
    _check(drawn)
