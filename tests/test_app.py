from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.testclient import TestClient
from support import (
    SEEDS,
    client_for,
    documented_request,
    example_request,
    make_config,
    varier_for,
)

from mockgpt import Config, MockGPT, create_app, load_catalogue
from mockgpt._resources import fixture_path
from mockgpt.catalogue import Route
from mockgpt.schemas import schema_errors

#: Clearing the history goes last, so the routes after it still find the sample conversation.
ROUTES = sorted(load_catalogue(), key=lambda route: route.key == "PATCH /backend-api/conversations")
#: Kinds whose answer depends only on the seed, never on earlier requests.
STATIC_KINDS = {"fixture", "asset", "empty", "telemetry", "session", "account_settings"}


def sse_events(body: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    events = []
    for block in body.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].lstrip(" ") for line in block.split("\n") if line.startswith("data:")]
        if data:
            events.append("\n".join(data))
    return events


def check_answer(route: Route, response: Any, status: int) -> None:
    assert response.status_code == status, (route.key, response.text[:300])
    spec = route.response(status)
    if spec.media is None:
        assert response.content == b""
        return
    assert response.headers["content-type"] == spec.media
    if spec.is_json:
        problems = schema_errors(spec.schema, response.json()) if spec.schema else []
        assert not problems, f"{route.key}: {problems[0].message}"
    elif spec.is_stream:
        events = sse_events(response.content)
        if spec.schema != "openai/response_stream_event.json":  # Responses streams send no [DONE]
            assert events.pop() == "[DONE]"
        for event in events:
            if spec.schema:
                assert not schema_errors(spec.schema, json.loads(event)), event[:200]
    else:
        assert response.content


@pytest.mark.parametrize("seed", SEEDS)
def test_every_route_answers_its_documented_status(seed: int) -> None:
    varier = varier_for(make_config(seed))
    with client_for(seed) as client:
        for route in ROUTES:
            response = documented_request(route, varier).send(client)
            check_answer(route, response, route.status)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_declared_status_is_reachable_and_valid(seed: int) -> None:
    """Besides the documented status, the success answers behind credentials are valid too."""
    varier = varier_for(make_config(seed))
    with client_for(seed) as client:
        for route in ROUTES:
            statuses = {spec.status for spec in route.responses}
            if route.status == 401 and 200 in statuses:
                check_answer(route, example_request(route, varier).send(client), 200)


def _all_bodies(seed: int) -> list[bytes]:
    varier = varier_for(make_config(seed))
    with client_for(seed) as client:
        return [documented_request(route, varier).send(client).content for route in ROUTES]


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_same_seed_same_bytes_other_seed_other_values() -> None:
    first, again, other = _all_bodies(7), _all_bodies(7), _all_bodies(8)
    assert first == again
    for route, a, b in zip(ROUTES, first, other, strict=True):
        spec = route.documented
        if spec.is_json and spec.fixture and _UUID.search(fixture_path(spec.fixture).read_bytes()):
            assert a != b, f"{route.key} does not vary with the seed"
    assert sum(a != b for a, b in zip(first, other, strict=True)) >= 30


def test_order_of_requests_does_not_change_static_bytes() -> None:
    static = [route for route in ROUTES if route.kind in STATIC_KINDS]
    varier = varier_for(make_config(3))
    with client_for(3) as client:
        forward = {r.key: documented_request(r, varier).send(client).content for r in static}
    with client_for(3) as client:
        backward = {
            r.key: documented_request(r, varier).send(client).content for r in reversed(static)
        }
    assert forward == backward


def test_json_is_written_like_the_real_service(client: TestClient) -> None:
    body = client.get("/backend-api/me", headers={"authorization": "Bearer x"}).content
    assert body.isascii()
    assert b'": ' in body
    assert b'", "' in body
    assert body == json.dumps(json.loads(body)).encode()


# -- documented behaviours ----------------------------------------------------------


def test_edge_is_204_without_body(client: TestClient) -> None:
    response = client.get("/backend-api/edge")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


def test_account_settings_needs_token_and_matching_header(client: TestClient) -> None:
    route = load_catalogue().get("GET /backend-api/accounts/{account_uuid}/settings")
    path = route.example_path()
    account = path.split("/")[3]
    token = {"authorization": "Bearer t"}
    assert client.get(path).status_code == 401
    assert client.get(path, headers=token).status_code == 401
    assert client.get(path, headers={**token, "chatgpt-account-id": "other"}).status_code == 401
    assert client.get(path, headers={"chatgpt-account-id": account}).status_code == 401
    assert client.get(path, headers={**token, "chatgpt-account-id": account}).status_code == 200
    other = path.replace(account, "11111111-2222-4333-8444-555555555555")
    assert client.get(other, headers={**token, "chatgpt-account-id": account}).status_code == 401


@pytest.mark.parametrize("path", ["/backend-api/conversation", "/backend-anon/conversation"])
def test_conversation_without_credentials_is_401(client: TestClient, path: str) -> None:
    response = client.post(path, json={"action": "next", "model": "auto", "messages": []})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_conversation_with_token_streams(client: TestClient) -> None:
    body = {"action": "next", "model": "auto", "messages": []}
    response = client.post(
        "/backend-api/conversation", json=body, headers={"authorization": "Bearer t"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert sse_events(response.content)[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/backend-api/share", 500),
        ("POST", "/backend-anon/share", 500),
        ("GET", "/public-api/conversation", 404),
        ("GET", "/public-api/share", 404),
    ],
)
def test_documented_errors_have_fastapi_bodies(method: str, path: str, status: int) -> None:
    with client_for(0) as client:
        route = load_catalogue().get(f"{method} {path}")
        response = example_request(route, varier_for(make_config(0))).send(client)
    assert response.status_code == status
    assert set(response.json()) == {"detail"}


def test_telemetry_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/rgstr", json={"events": []})
    assert response.status_code == 202
    assert response.json() == {"accepted": True}


@pytest.mark.parametrize(
    ("path", "media"),
    [
        ("/backend-api/sentinel/frame.html", "text/html"),
        ("/backend-api/sentinel/sdk.js", "javascript"),
        ("/", "text/html"),
    ],
)
def test_assets_have_their_content_types(client: TestClient, path: str, media: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert media in response.headers["content-type"]


def test_file_download_is_binary(client: TestClient, client_mock: MockGPT) -> None:
    route = load_catalogue().get("GET /backend-api/files/download/{file_id}")
    response = example_request(route, varier_for(client_mock.config)).send(client)
    assert response.status_code == 200
    assert not response.headers["content-type"].startswith(("text/", "application/json"))
    assert response.content.startswith(b"\x89PNG")


# -- bad input ----------------------------------------------------------------------


def test_unknown_path_is_fastapi_404(client: TestClient) -> None:
    response = client.get("/backend-api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.delete("/backend-api/me")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == "GET"


def test_wrong_method_on_templated_path_is_405(client: TestClient) -> None:
    response = client.delete("/backend-api/conversation/7b0d4c1e-8f6a-4e2b-9c3d-5a1f0e9b8c7d")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PATCH"


def test_form_encoded_conversation_body_is_422_jsondecode(client: TestClient) -> None:
    response = client.post(
        "/backend-api/conversation",
        content=b"action=next&model=auto",
        headers={"authorization": "Bearer t", "content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", 0]
    assert item["type"] == "value_error.jsondecode"
    assert item["ctx"]["doc"] == "action=next&model=auto"


def test_missing_model_is_422_naming_the_field(client: TestClient) -> None:
    response = client.post(
        "/backend-api/conversation",
        json={"action": "next", "messages": []},
        headers={"authorization": "Bearer t"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "model"], "msg": "field required", "type": "value_error.missing"}
        ]
    }


def test_wrong_type_is_422_naming_the_field(client: TestClient) -> None:
    response = client.post(
        "/backend-api/lat/r", json={"model": 5}, headers={"authorization": "Bearer t"}
    )
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", "model"]
    assert item["type"] == "type_error.str"


def test_bad_query_parameter_is_422(client: TestClient) -> None:
    headers = {"authorization": "Bearer t"}
    missing = client.get("/backend-api/automations", headers=headers)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "filter"]
    wrong = client.get("/backend-api/automations?filter=bogus", headers=headers)
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["type"] == "type_error.enum"
    number = client.get("/backend-api/conversations?offset=abc", headers=headers)
    assert number.status_code == 422
    assert number.json()["detail"][0] == {
        "loc": ["query", "offset"],
        "msg": "value is not a valid integer",
        "type": "type_error.integer",
    }


def test_v1_bad_body_is_openai_400(client: TestClient) -> None:
    headers = {"authorization": "Bearer sk-test"}
    missing = client.post("/v1/chat/completions", json={"model": "gpt-4o"}, headers=headers)
    assert missing.status_code == 400
    assert missing.json()["error"] == {
        "message": "Missing required parameter: 'messages'.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "missing_required_parameter",
    }
    wrong = client.post(
        "/v1/chat/completions", json={"model": "gpt-4o", "messages": "hi"}, headers=headers
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["param"] == "messages"
    assert wrong.json()["error"]["code"] == "invalid_type"
    garbage = client.post("/v1/chat/completions", content=b"{nope", headers=headers)
    assert garbage.status_code == 400
    assert set(garbage.json()["error"]) == {"message", "type", "param", "code"}


def test_v1_without_key_is_openai_401(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["message"].startswith("You didn't provide an API key.")
    assert error["code"] is None


def test_oversized_body_is_413_and_server_keeps_working() -> None:
    with TestClient(create_app(Config(max_body_bytes=2048))) as client:
        big = b"x" * 4096
        response = client.post(
            "/v1/rgstr", content=big, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json() == {"detail": "Request Entity Too Large"}
        assert client.post("/v1/rgstr", json={"events": []}).status_code == 202


def test_a_failing_handler_is_a_plain_500(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockgpt import handlers

    async def broken(call: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(handlers.HANDLERS, "fixture", broken)
    with TestClient(create_app()) as client:
        response = client.get("/backend-api/me", headers={"authorization": "Bearer t"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "boom" not in response.text
    assert "Traceback" not in response.text


def test_bearer_routes_need_a_token(client: TestClient) -> None:
    response = client.get("/backend-api/me")
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "invalid_jwt"


def test_openapi_is_served(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.2.0"
    assert len([op for item in document["paths"].values() for op in item]) == len(ROUTES)


def test_chat_completion_streams_when_asked(client: TestClient) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = client.post("/v1/chat/completions", json=body, headers={"authorization": "Bearer k"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.content)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    for chunk in chunks:
        assert not schema_errors("openai/chat_completion_chunk.json", chunk)
    assert {chunk["model"] for chunk in chunks} == {"gpt-4o-mini"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
