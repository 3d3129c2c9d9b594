"""The routes 2025-26 clients call beside the turn: each answers what the clients read."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from support import BEARER, make_config, user_turn, varier_for

from mockgpt import MockGPT
from mockgpt.schemas import schema_errors

AUTH = {"authorization": BEARER}


@pytest.fixture
def mock() -> MockGPT:
    return MockGPT(make_config())


@pytest.fixture
def client(mock: MockGPT) -> Iterator[httpx.Client]:
    with mock.client(in_process=True, headers=AUTH) as client:
        yield client


def sample_id(mock: MockGPT) -> str:
    return varier_for(mock.config).text("54a0ce83-1d70-48aa-968d-f2b4052a5fde")


def test_the_sentinel_heartbeat_answers_204_to_any_body(
    mock: MockGPT, client: httpx.Client
) -> None:
    for content in (b"", b"{}", b"not json"):
        answer = client.post("/backend-api/sentinel/heartbeat", content=content)
        assert answer.status_code == 204
        assert answer.content == b""
    with mock.client(in_process=True) as bare:
        assert bare.post("/backend-api/sentinel/heartbeat").status_code == 401


def test_the_prompt_library_pages_by_offset_and_limit(client: httpx.Client) -> None:
    first = client.get("/backend-api/prompt_library/", params={"limit": 4, "offset": 0}).json()
    assert (len(first["items"]), first["limit"], first["offset"]) == (4, 4, 0)
    rest = client.get("/backend-api/prompt_library/", params={"limit": 4, "offset": 4}).json()
    assert rest["total"] == first["total"] == len(first["items"]) + len(rest["items"])
    ids = [item["id"] for item in first["items"] + rest["items"]]
    assert len(set(ids)) == len(ids)
    assert all(item["prompt"] for item in first["items"])
    bad = client.get("/backend-api/prompt_library/", params={"limit": "many"})
    assert bad.status_code == 422


def test_url_safe_needs_a_known_conversation_and_a_url(mock: MockGPT, client: httpx.Client) -> None:
    path = f"/backend-api/conversation/{sample_id(mock)}/url_safe"
    answer = client.get(path, params={"url": "https://example.com/a?b=c"})
    assert answer.json() == {"safe": True}
    assert client.get(path).status_code == 422
    unknown = "/backend-api/conversation/00000000-0000-4000-8000-000000000000/url_safe"
    assert client.get(unknown, params={"url": "https://example.com"}).status_code == 404


def test_pins_answer_an_empty_page(client: httpx.Client) -> None:
    answer = client.get("/backend-api/pins", params={"limit": 3, "include_unpinned": "false"})
    assert answer.json() == {"items": [], "cursor": None}


def test_a_batch_answers_the_known_conversations_as_details(
    mock: MockGPT, client: httpx.Client
) -> None:
    known = sample_id(mock)
    listed = [item["id"] for item in client.get("/backend-api/conversations").json()["items"]]
    unknown = "00000000-0000-4000-8000-000000000000"
    asked = [listed[-1], unknown, known]
    answer = client.post("/backend-api/conversations/batch", json={"conversation_ids": asked})
    assert answer.status_code == 200
    found = answer.json()
    assert [item["conversation_id"] for item in found] == [listed[-1], known]
    assert found[1] == client.get(f"/backend-api/conversation/{known}").json()
    assert not schema_errors("conversation/batch.json", found)
    too_many = {"conversation_ids": [known] * 11}
    refused = client.post("/backend-api/conversations/batch", json=too_many)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][:2] == ["body", "conversation_ids"]


def test_a_gizmo_lists_only_its_own_conversations(mock: MockGPT, client: httpx.Client) -> None:
    gizmo = "g-p-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    path = f"/backend-api/gizmos/{gizmo}/conversations"
    assert client.get(path, params={"cursor": "0"}).json() == {"items": [], "cursor": None}
    outside = client.post("/backend-api/conversation", json=user_turn("not in the project"))
    turn = user_turn("in the project", message_id="bbb5e6f7-0a1b-4c2d-8e3f-405162738495")
    turn["conversation_mode"] = {"kind": "gizmo_interaction", "gizmo_id": gizmo}
    inside = client.post("/backend-api/conversation", json=turn)
    assert (outside.status_code, inside.status_code) == (200, 200)
    made = [c for c in mock.conversations() if c["gizmo_id"] == gizmo]
    assert len(made) == 1
    items = client.get(path).json()["items"]
    assert [item["id"] for item in items] == [made[0]["id"]]
    assert items[0]["gizmo_id"] == items[0]["conversation_template_id"] == gizmo
    detail = client.get(f"/backend-api/conversation/{made[0]['id']}").json()
    assert (detail["gizmo_id"], detail["gizmo_type"]) == (gizmo, "snorlax")
    assert client.get("/backend-api/gizmos/not-a-gizmo/conversations").status_code == 422


def test_a_conversation_begun_with_a_gpt_names_it(client: httpx.Client) -> None:
    gpt = "g-0a1b2c3d4e5f60718293a4b5"
    turn = user_turn("hello, GPT")
    turn["conversation_mode"] = {"kind": "gizmo_interaction", "gizmo_id": gpt}
    answer = client.post("/backend-api/conversation", json=turn)
    conversation_id = answer.text.split('"conversation_id": "', 1)[1].split('"', 1)[0]
    detail = client.get(f"/backend-api/conversation/{conversation_id}").json()
    assert (detail["gizmo_id"], detail["gizmo_type"]) == (gpt, "gpt")
    assert detail["conversation_template_id"] == gpt
    assert not schema_errors("conversation/detail.json", detail)


def test_the_project_of_the_world_lists_what_its_page_shows(
    mock: MockGPT, client: httpx.Client
) -> None:
    project = varier_for(mock.config).text("g-p-68af9464c0a48191a3f7e0d3c2b1a0f9")
    shown = client.get(f"/backend-api/gizmos/{project}").json()["conversations"]["items"]
    listed = client.get(f"/backend-api/gizmos/{project}/conversations").json()["items"]
    assert [item["id"] for item in listed] == [item["id"] for item in shown]
    assert listed


def test_the_page_collector_acknowledges(client: httpx.Client) -> None:
    answer = client.post("/ces/v1/p", json={"type": "page", "name": "Chat", "properties": {}})
    assert (answer.status_code, answer.json()) == (200, {"success": True})
    assert client.post("/ces/v1/p", json=["not", "an", "object"]).status_code == 422


def test_codex_cloud_tasks_are_empty_and_any_task_is_invalid(client: httpx.Client) -> None:
    listed = client.get("/backend-api/wham/tasks/list", params={"task_filter": "current"})
    assert listed.json() == {"items": [], "cursor": None}
    task = client.get("/backend-api/wham/tasks/task_e_0123456789abcdef")
    assert (task.status_code, task.json()) == (404, {"detail": "Invalid task ID"})
    assert client.get("/backend-api/wham/usage").json() == {}
    assert client.get("/backend-api/wham/environments").json() == []


def test_textdocs_of_a_known_conversation(mock: MockGPT, client: httpx.Client) -> None:
    answer = client.get(f"/backend-api/conversation/{sample_id(mock)}/textdocs")
    assert (answer.status_code, answer.json()) == (200, [])
    unknown = "/backend-api/conversation/00000000-0000-4000-8000-000000000000/textdocs"
    assert client.get(unknown).status_code == 404
