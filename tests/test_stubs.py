"""Stubs: one lifetime rule for overrides and scripts, and the route object's calls."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import user_turn

from mockgpt import MockGPT
from mockgpt.errors import InvalidValue
from mockgpt.scripts import Script
from mockgpt.stubs import UNTIL_RESET, Lifetime, StubQueue

AUTH = {"authorization": "Bearer t"}
ME = "GET /backend-api/me"
TURN = "POST /backend-api/conversation"


def last_text(body: str) -> str:
    frames = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    text: str = frames[-1]["message"]["content"]["parts"][0]
    return text


# -- the lifetime rule -------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=50))
def test_a_lifetime_of_n_lasts_exactly_n_uses(uses: int) -> None:
    lifetime: Lifetime | None = Lifetime(uses)
    spent = 0
    while lifetime is not None:
        lifetime = lifetime.spend()
        spent += 1
    assert spent == uses


def test_until_reset_never_runs_out_and_bad_counts_are_refused() -> None:
    assert UNTIL_RESET.spend() is UNTIL_RESET
    assert Lifetime().uses == 1
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InvalidValue, match="times must be at least 1"):
            Lifetime(bad)  # type: ignore[arg-type]


def test_a_queue_answers_in_order_each_stub_for_its_lifetime() -> None:
    queue: StubQueue[str] = StubQueue()
    queue.add("a", Lifetime(2))
    queue.add("b", Lifetime(1))
    queue.add("c", UNTIL_RESET)
    assert [queue.take() for _ in range(6)] == ["a", "a", "b", "c", "c", "c"]
    assert [stub.answer for stub in queue] == ["c"]
    assert queue.take(lambda answer: answer != "c") is None
    queue.clear()
    assert queue.take() is None


def test_overrides_and_scripts_share_the_rule() -> None:
    mock = MockGPT()
    mock.on(ME).respond(503, times=2)
    mock.match(Script(text="Matched."), prompt="tea", times=2)
    with mock.test_client(headers=AUTH) as client:
        statuses = [client.get("/backend-api/me").status_code for _ in range(3)]
        texts = [
            last_text(client.post("/backend-api/conversation", json=user_turn("tea?")).text)
            for _ in range(3)
        ]
    assert statuses == [503, 503, 200]
    assert texts[:2] == ["Matched.", "Matched."]
    assert texts[2] != "Matched."


def test_the_listing_shows_what_each_override_has_left() -> None:
    mock = MockGPT()
    mock.on(ME).respond(503, times=3)
    mock.on(ME).fail("empty", times=None)
    with mock.test_client(headers=AUTH) as client:
        client.get("/backend-api/me")
    assert [(row["status"], row["fault"], row["times"]) for row in mock.overrides()] == [
        (503, None, 2),
        (200, "empty", None),
    ]


# -- the route object ----------------------------------------------------------------------


def test_a_route_knows_the_requests_that_reached_it() -> None:
    mock = MockGPT()
    me = mock.on(ME)
    assert (me.called, me.call_count, me.calls) == (False, 0, [])
    with mock.test_client(headers=AUTH) as client:
        client.get("/backend-api/me", params={"n": "1"})
        client.get("/backend-api/models")
        client.get("/backend-api/me", params={"n": "2"})
    assert me.called
    assert me.call_count == 2
    assert [call.query for call in me.calls] == ["n=1", "n=2"]
    assert all(call.route == ME and call.status == 200 for call in me.calls)
    # a second route object for the same key sees the same journal
    assert mock.on(ME).calls == me.calls
    assert mock.on("*").call_count == 3
    mock.clear_journal()
    assert not me.called


def test_a_route_counts_the_requests_its_stubs_answered() -> None:
    mock = MockGPT()
    turn = mock.on(TURN).respond(429, json={"detail": "slow down"})
    with mock.test_client(headers=AUTH) as client:
        first = client.post("/backend-api/conversation", json=user_turn())
        second = client.post("/backend-api/conversation", json=user_turn())
    assert [first.status_code, second.status_code] == [429, 200]
    assert [call.status for call in turn.calls] == [429, 200]
    assert turn.calls[0].json()["action"] == "next"


def test_the_route_object_through_the_pytest_fixture(mockgpt: MockGPT) -> None:
    me = mockgpt.on(ME).respond(500, json={"detail": "boom"})
    with httpx.Client(base_url=mockgpt.url, headers=AUTH) as client:
        assert client.get("/backend-api/me").status_code == 500
        assert client.get("/backend-api/me").status_code == 200
    assert me.call_count == 2
    assert [call.status for call in me.calls] == [500, 200]
