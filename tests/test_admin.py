"""The admin API: the controller's methods over HTTP, giving the same results."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from support import user_turn

from mockgpt import Config, MockGPT, load_catalogue
from mockgpt.admin import ENDPOINTS, PREFIX
from mockgpt.schemas import load_schema, schemas_dir
from mockgpt.scripts import Script

AUTH = {"authorization": "Bearer t"}
ADMIN = "/__mockgpt__"


@pytest.fixture
def mock() -> MockGPT:
    return MockGPT(Config(clock="virtual", sample_conversations=2))


@pytest.fixture
def client(mock: MockGPT) -> Iterator[httpx.Client]:
    with mock.client(in_process=True) as client:
        yield client


# -- one scenario, driven once from Python and once over HTTP ----------------------------

Step = tuple[Callable[[MockGPT], object], str, str, Any]

SCRIPT = {"text": "Scripted through either door.", "title": "Either door"}
STEPS: list[Step] = [
    (lambda m: m.load(SCRIPT), "POST", "/scripts", SCRIPT),
    (
        lambda m: m.match(Script(text="Sunny, 21 degrees."), prompt="weather"),
        "POST",
        "/scripts/match",
        {"script": {"text": "Sunny, 21 degrees."}, "prompt": "weather"},
    ),
    (
        lambda m: m.on("GET /backend-api/me").respond(
            503, json={"detail": "down"}, headers={"retry-after": "3"}
        ),
        "POST",
        "/overrides",
        {
            "route": "GET /backend-api/me",
            "status": 503,
            "json": {"detail": "down"},
            "headers": {"retry-after": "3"},
        },
    ),
    (
        lambda m: m.on("GET /backend-api/models").fail("malformed"),
        "POST",
        "/faults",
        {"route": "GET /backend-api/models", "fault": "malformed"},
    ),
    (lambda m: m.on("*").latency((0.2, 0.9)), "POST", "/latency", {"between": [0.9, 0.2]}),
    (lambda m: m.advance(120), "POST", "/clock", {"advance": 120}),
    (lambda m: m.snapshot("before-traffic"), "POST", "/snapshots", {"name": "before-traffic"}),
]


def traffic(client: httpx.Client) -> list[tuple[int, str]]:
    answers = []
    for method, path, body in (
        ("POST", "/backend-api/conversation", user_turn("hello there")),
        ("GET", "/backend-api/me", None),
        ("GET", "/backend-api/me", None),
        ("GET", "/backend-api/models", None),
        ("POST", "/backend-api/conversation", user_turn("what is the weather like?")),
        ("GET", "/no/such/route", None),
    ):
        response = client.request(method, path, json=body, headers=AUTH)
        answers.append((response.status_code, response.text))
    return answers


def observed(mock: MockGPT) -> dict[str, Any]:
    return {
        "state": mock.state(),
        "conversations": mock.conversations(),
        "details": [mock.conversation(item["id"]) for item in mock.conversations()],
        "journal": [entry.to_json() for entry in mock.calls()],
        "overrides": mock.overrides(),
    }


def test_python_and_http_controls_give_the_same_mock() -> None:
    config = Config(clock="virtual", sample_conversations=2, seed=5)
    by_python, by_http = MockGPT(config), MockGPT(config)
    with by_python.client(in_process=True) as left, by_http.client(in_process=True) as right:
        for call, method, path, body in STEPS:
            call(by_python)
            answer = right.request(method, ADMIN + path, json=body)
            assert answer.status_code in (200, 201), answer.text
        assert observed(by_python) == observed(by_http)
        first = traffic(left)
        assert first == traffic(right)
        assert observed(by_python) == observed(by_http)
        assert [status for status, _ in first] == [200, 503, 200, 200, 200, 404]
        assert "Scripted through either door." in first[0][1]
        assert "Sunny, 21 degrees." in first[4][1]
        assert first[3][1].startswith('{"detail": {"message": "tru')
        # back to the snapshot, by each door, and the same traffic answers the same again
        by_python.restore("before-traffic")
        assert right.post(f"{ADMIN}/snapshots/before-traffic/restore").status_code == 200
        assert observed(by_python) == observed(by_http)
        assert traffic(left) == first
        assert traffic(right) == first
        assert observed(by_python) == observed(by_http)
        # reset with a setting changed, by each door
        by_python.reset(by_python.with_settings(seed=9, sample_conversations=0))
        reset = right.post(
            f"{ADMIN}/reset", json={"settings": {"seed": 9, "sample_conversations": 0}}
        )
        assert reset.status_code == 200
        assert observed(by_python) == observed(by_http)
        assert by_http.state()["seed"] == 9


def test_latency_moves_the_virtual_clock_by_a_seeded_draw(
    mock: MockGPT, client: httpx.Client
) -> None:
    start = mock.now()
    mock.on("GET /backend-api/me").latency(1.5)
    client.get("/backend-api/me", headers=AUTH)
    assert mock.now() == pytest.approx(start + 1.5)
    mock.on("*").latency((2.0, 4.0))
    waits = []
    for _ in range(20):
        before = mock.now()
        client.get("/backend-api/edge")
        waits.append(mock.now() - before)
    assert all(2.0 <= wait <= 4.0 for wait in waits)
    assert len(set(waits)) > 10
    again = MockGPT(Config(clock="virtual", sample_conversations=2))
    again.on("GET /backend-api/me").latency(1.5)
    again.on("*").latency((2.0, 4.0))
    with again.client(in_process=True) as other:
        other.get("/backend-api/me", headers=AUTH)
        replay = []
        for _ in range(20):
            before = again.now()
            other.get("/backend-api/edge")
            replay.append(again.now() - before)
    assert replay == waits
    mock.on("*").latency(None)
    before = mock.now()
    client.get("/backend-api/edge")
    assert mock.now() == before


def test_config_latency_applies_to_every_route() -> None:
    mock = MockGPT(Config(clock="virtual", latency=(0.25, 0.25)))
    with mock.client(in_process=True) as client:
        before = mock.now()
        client.get("/backend-api/edge")
        assert mock.now() - before == pytest.approx(0.25)
    assert mock.overrides() == [
        {"route": "*", "latency": {"low": 0.25, "high": 0.25, "spread": "uniform"}}
    ]


def test_journal_filters(mock: MockGPT, client: httpx.Client) -> None:
    client.get("/backend-api/me", headers=AUTH)
    client.get("/backend-api/me")
    client.post("/backend-api/conversation", json=user_turn("hi"), headers=AUTH)
    client.get("/nowhere")
    everything = client.get(f"{ADMIN}/journal").json()
    assert [e["path"] for e in everything["entries"]] == [
        "/backend-api/me",
        "/backend-api/me",
        "/backend-api/conversation",
        "/nowhere",
    ]
    assert everything["next"] == 4
    by_status = client.get(f"{ADMIN}/journal", params={"status": 401}).json()["entries"]
    assert [e["index"] for e in by_status] == [e.index for e in mock.calls(status=401)] == [1]
    since = client.get(f"{ADMIN}/journal", params={"since": 2}).json()["entries"]
    assert [e["index"] for e in since] == [2, 3]
    posts = client.get(f"{ADMIN}/journal", params={"method": "post"}).json()["entries"]
    assert posts[0]["json"]["messages"][0]["content"]["parts"] == ["hi"]
    assert posts[0]["route"] == "POST /backend-api/conversation"
    unmatched = client.get(f"{ADMIN}/journal", params={"unmatched": "true"}).json()["entries"]
    assert [e["path"] for e in unmatched] == ["/nowhere"]
    assert unmatched[0]["route"] is None
    for bad in ("", "abc", "-1"):  # an integer query value, as FastAPI reads one
        refused = client.get(f"{ADMIN}/journal", params={"since": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["detail"][0]["loc"] == ["query", "since"]
    assert client.delete(f"{ADMIN}/journal").status_code == 200
    assert mock.calls() == []


def test_binary_bodies_are_journaled_as_base64(client: httpx.Client) -> None:
    client.post("/backend-api/lat/r", content=b"\xff\xfe\x00")
    [entry] = client.get(f"{ADMIN}/journal").json()["entries"]
    assert entry["body"] is None
    assert entry["body_base64"] == "//4A"


def test_assertions_over_http_explain_what_was_received(client: httpx.Client) -> None:
    client.post("/backend-api/conversation", json=user_turn("hi"), headers=AUTH)
    passed = client.post(
        f"{ADMIN}/journal/assert",
        json={"route": "POST /backend-api/conversation", "times": 1, "json": {"action": "next"}},
    )
    assert passed.json() == {"passed": True, "calls": 1}
    failed = client.post(
        f"{ADMIN}/journal/assert", json={"route": "GET /backend-api/me", "times": 1}
    )
    assert failed.status_code == 417
    message = failed.json()["detail"]
    assert "expected 1 time(s), got 0" in message
    assert "POST /backend-api/conversation -> 200" in message
    wrong_body = client.post(
        f"{ADMIN}/journal/assert",
        json={"route": "POST /backend-api/conversation", "json": {"model": "gpt-5"}},
    )
    assert wrong_body.status_code == 417
    assert '-  "model": "gpt-5"' in wrong_body.json()["detail"]
    assert '+  "model": "auto"' in wrong_body.json()["detail"]


def test_state_conversations_quotas_tokens_and_clock(mock: MockGPT, client: httpx.Client) -> None:
    client.get("/api/auth/session")
    client.post("/backend-api/sentinel/chat-requirements", json={}, headers=AUTH)
    state = client.get(f"{ADMIN}/state").json()
    assert state == json.loads(json.dumps(mock.state()))
    assert state["tokens"] == {"access_tokens": 1, "sentinel_tokens": 1}
    assert client.get(f"{ADMIN}/tokens").json() == mock.tokens()
    assert client.get(f"{ADMIN}/quotas").json() == mock.quotas()
    listing = client.get(f"{ADMIN}/conversations").json()
    assert [item["id"] for item in listing] == [item["id"] for item in mock.conversations()]
    detail = client.get(f"{ADMIN}/conversations/{listing[0]['id']}").json()
    assert detail == mock.conversation(listing[0]["id"])
    missing = client.get(f"{ADMIN}/conversations/not-there")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no conversation 'not-there'"}
    clock = client.post(f"{ADMIN}/clock", json={"advance": 3600}).json()
    assert clock["now"] == mock.now()
    assert clock["kind"] == "virtual"
    assert clock["iso"].endswith("+00:00")


def test_snapshots_over_http(mock: MockGPT, client: httpx.Client) -> None:
    assert client.post(f"{ADMIN}/snapshots", json={"name": "empty"}).status_code == 201
    client.post("/backend-api/conversation", json=user_turn("hi"), headers=AUTH)
    assert len(mock.conversations()) == 3
    assert client.get(f"{ADMIN}/snapshots").json()[0]["name"] == "empty"
    assert client.post(f"{ADMIN}/snapshots/empty/restore").status_code == 200
    assert len(mock.conversations()) == 2
    client.post("/backend-api/conversation", json=user_turn("again"), headers=AUTH)
    client.post(f"{ADMIN}/snapshots/empty/restore")
    assert len(mock.conversations()) == 2  # a snapshot restores as often as asked
    assert client.delete(f"{ADMIN}/snapshots/empty").json() == []
    gone = client.post(f"{ADMIN}/snapshots/empty/restore")
    assert gone.status_code == 404


def test_whole_floats_count_as_integers_but_served_json_is_kept(
    mock: MockGPT, client: httpx.Client
) -> None:
    # JSON Schema calls 3.0 an integer, so the controls must take it as one.
    reset = client.post(f"{ADMIN}/reset", json={"settings": {"sample_conversations": 3.0}})
    assert reset.status_code == 200
    assert len(mock.conversations()) == 3
    route = "GET /backend-api/me"
    added = client.post(f"{ADMIN}/overrides", json={"route": route, "status": 503.0, "json": [1.0]})
    assert added.status_code == 200
    answer = client.get("/backend-api/me", headers=AUTH)
    assert answer.status_code == 503
    assert answer.content == b"[1.0]"


def test_the_settings_in_the_state_can_be_sent_back_to_reset(
    mock: MockGPT, client: httpx.Client
) -> None:
    settings = client.get(f"{ADMIN}/state").json()["settings"]
    assert set(settings) == {field.name for field in dataclasses.fields(Config)}
    answer = client.post(f"{ADMIN}/reset", json={"settings": settings})
    assert answer.status_code == 200, answer.text
    assert mock.state()["settings"] == settings


def test_bad_admin_requests_get_fastapi_errors(mock: MockGPT, client: httpx.Client) -> None:
    assert client.get(f"{ADMIN}/nothing").json() == {"detail": "Not Found"}
    wrong = client.put(f"{ADMIN}/journal")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "DELETE, GET"
    not_json = client.post(
        f"{ADMIN}/overrides", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert not_json.json()["detail"][0]["type"] == "value_error.jsondecode"
    unknown = client.post(f"{ADMIN}/overrides", json={"route": "GET /backend-api/mee"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "route"]
    assert "'GET /backend-api/me'" in unknown.json()["detail"][0]["msg"]
    bad_script = client.post(f"{ADMIN}/scripts", json={"txet": "typo"})
    assert bad_script.status_code == 422
    assert bad_script.json()["detail"][0]["loc"] == ["body", "txet"]
    joined_wrong = client.post(f"{ADMIN}/scripts", json={"text": "ab", "chunks": ["a", "c"]})
    assert joined_wrong.status_code == 422
    assert "chunks must join to text exactly" in joined_wrong.text
    negative = client.get(f"{ADMIN}/journal", params={"since": -1})
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["query", "since"]
    system = MockGPT(Config(clock="system"))
    with system.client(in_process=True) as other:
        refused = other.post(f"{ADMIN}/clock", json={"advance": 1})
    assert refused.status_code == 422
    assert "virtual" in refused.text
    # nothing above changed the mock
    assert mock.overrides() == []
    assert mock.pending_scripts() == 0
    assert mock.failures() == []


def test_admin_answers_loopback_without_a_token_and_everyone_with_it() -> None:
    def call(mock: MockGPT, host: str, headers: dict[str, str] | None = None) -> int:
        transport = httpx.ASGITransport(app=mock, client=(host, 5000))

        async def go() -> int:
            async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
                return (await client.get(f"{ADMIN}/state", headers=headers)).status_code

        import anyio

        return anyio.run(go)

    open_mock = MockGPT()
    assert call(open_mock, "127.0.0.1") == 200
    assert call(open_mock, "::1") == 200
    assert call(open_mock, "192.0.2.7") == 403
    guarded = MockGPT(admin_token="s3cret")
    assert call(guarded, "192.0.2.7") == 403
    assert call(guarded, "192.0.2.7", {"authorization": "Bearer wrong"}) == 403
    assert call(guarded, "192.0.2.7", {"authorization": "Bearer s3cret"}) == 200
    # a token, once set, is asked of loopback clients too
    assert call(guarded, "127.0.0.1") == 403
    assert call(guarded, "127.0.0.1", {"authorization": "bearer s3cret"}) == 200


def test_route_key_schema_lists_the_catalogue() -> None:
    enum = load_schema("admin/route_key.json")["enum"]
    assert enum == ["*", *(route.key for route in load_catalogue())]


def test_every_admin_body_has_a_schema() -> None:
    for endpoint in ENDPOINTS:
        if endpoint.method == "POST" and endpoint.name not in ("restore",):
            assert endpoint.body is not None, endpoint.name
        if endpoint.body is not None:
            assert (schemas_dir() / endpoint.body).is_file(), endpoint.body


def test_the_admin_api_has_its_own_openapi_document(client: httpx.Client) -> None:
    document = client.get(f"{ADMIN}/openapi.json").json()
    assert document["openapi"] == "3.2.0"
    operations = [
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    ]
    assert sorted(operations) == sorted((e.method, ADMIN + e.path) for e in ENDPOINTS)
    assert document["paths"][f"{ADMIN}/overrides"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"] == {"$ref": "#/components/schemas/admin.override"}
    assert [tag["name"] for tag in document["tags"]] == ["mockgpt admin"]
    # every reference resolves inside the document, and nothing unused rides along
    components = document["components"]["schemas"]
    text = json.dumps(document)
    targets = {chunk.split('"', 1)[0] for chunk in text.split('"$ref": "')[1:]}
    assert {target.removeprefix("#/components/schemas/") for target in targets} == set(components)
    assert "admin.script" in components


def test_the_services_document_leaves_the_admin_api_out(client: httpx.Client) -> None:
    # A contract tool pointed at /openapi.json must not fuzz the mock's own controls.
    document = client.get("/openapi.json").json()
    assert document["paths"]
    assert not [path for path in document["paths"] if path.startswith(ADMIN)]
    assert "mockgpt admin" not in [tag["name"] for tag in document["tags"]]
    assert not [name for name in document["components"]["schemas"] if name.startswith("admin.")]


def test_the_admin_document_keeps_the_admin_access_rules() -> None:
    async def status(mock: MockGPT, headers: dict[str, str] | None = None) -> int:
        transport = httpx.ASGITransport(app=mock, client=("192.0.2.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            return (await client.get(f"{ADMIN}/openapi.json", headers=headers)).status_code

    import anyio

    assert anyio.run(status, MockGPT()) == 403
    guarded = MockGPT(admin_token="s3cret")
    assert anyio.run(status, guarded) == 403
    assert anyio.run(status, guarded, {"authorization": "Bearer s3cret"}) == 200


def test_oversized_admin_bodies_get_413(mock: MockGPT, client: httpx.Client) -> None:
    huge = client.post(f"{ADMIN}/scripts", content=b"[" + b" " * (5 * 1024 * 1024) + b"]")
    assert huge.status_code == 413
    assert huge.json() == {"detail": "Request Entity Too Large"}
    assert mock.pending_scripts() == 0


def test_a_bug_in_a_handler_is_a_500_recorded_in_failures(
    mock: MockGPT, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def planted() -> dict[str, Any]:
        return {}["no such key"]  # type: ignore[no-any-return]

    monkeypatch.setattr(mock, "state", planted)
    answer = client.get(f"{ADMIN}/state")
    assert answer.status_code == 500
    assert answer.json() == {"detail": "Internal Server Error"}
    [failure] = mock.failures()
    assert failure.startswith("admin state:")
    assert "KeyError: 'no such key'" in failure


def test_errors_are_mapped_by_the_mocks_own_types(client: httpx.Client) -> None:
    from mockgpt.errors import InvalidValue, MockGPTError, NotFound, UnmetExpectation

    assert issubclass(NotFound, KeyError)
    assert issubclass(NotFound, MockGPTError)
    assert issubclass(InvalidValue, ValueError)
    assert issubclass(UnmetExpectation, AssertionError)
    missing = client.get(f"{ADMIN}/conversations/nope")
    assert (missing.status_code, missing.json()) == (404, {"detail": "no conversation 'nope'"})
    unmet = client.post(f"{ADMIN}/journal/assert", json={"route": "GET /backend-api/me"})
    assert unmet.status_code == 417
    settings = {"journal_bytes": 100_000, "journal_body_bytes": 200_000}
    refused = client.post(f"{ADMIN}/reset", json={"settings": settings})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"] == "journal_body_bytes must not exceed journal_bytes"


def test_every_endpoint_names_its_own_handler() -> None:
    from mockgpt.admin import AdminAPI

    handlers = [endpoint.handler for endpoint in ENDPOINTS]
    assert len(set(handlers)) == len(handlers)
    assert all(getattr(AdminAPI, f"_{endpoint.name}") is endpoint.handler for endpoint in ENDPOINTS)
    assert len({(e.method, e.path) for e in ENDPOINTS}) == len(ENDPOINTS)


def test_both_openapi_documents_are_served_from_one_place(client: httpx.Client) -> None:
    from mockgpt.openapi import admin_document, document_answer, openapi_document

    admin = client.get(f"{ADMIN}/openapi.json")
    services = client.get("/openapi.json")
    admin_answer = document_answer(None, endpoints=ENDPOINTS, prefix=PREFIX)
    assert admin.content == admin_answer.body
    assert services.content == document_answer(load_catalogue()).body
    assert json.loads(admin.content) == admin_document(ENDPOINTS, PREFIX)
    assert json.loads(services.content) == openapi_document(load_catalogue())
    # rendered once, then kept
    assert document_answer(None, endpoints=ENDPOINTS, prefix=PREFIX) is admin_answer
