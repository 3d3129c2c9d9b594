"""A mock that is safe beside a browser: who may use the admin API (Host, Origin,
content type, token), and which files a fixtures folder may serve."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from mockgpt import Config, MockGPT

ADMIN = "/__mockgpt__"
AUTH = {"authorization": "Bearer t"}
JWT = "eyJhbGciOiJIUzI1NiJ9." + "x" * 800 + ".sig"


def admin_call(
    mock: MockGPT,
    method: str,
    path: str,
    *,
    client: str = "127.0.0.1",
    base_url: str = "http://127.0.0.1:8000",
    headers: dict[str, Any] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """One request with a chosen client address and headers, as a socket would bring it."""
    transport = httpx.ASGITransport(app=mock, client=(client, 50000))

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            response = await http.request(method, ADMIN + path, headers=headers, content=content)
            await response.aread()
            return response

    return anyio.run(go)


@pytest.fixture
def client(mock_client: httpx.Client) -> httpx.Client:
    return mock_client


# -- the repros: a web page driving the admin API ------------------------------------------


def test_a_rebound_page_cannot_reset_the_mock_with_a_text_plain_post(mock: MockGPT) -> None:
    body = b'{"settings":{"latency":[600,600]}}'
    hostile = {
        "host": "evil.example",
        "origin": "http://evil.example",
        "content-type": "text/plain",
    }
    answer = admin_call(mock, "POST", "/reset", headers=hostile, content=body)
    assert answer.status_code == 403
    assert "Host" in answer.json()["detail"]
    # the right Host but another page's Origin: still refused
    cross = {**hostile, "host": "127.0.0.1:8000"}
    assert admin_call(mock, "POST", "/reset", headers=cross, content=body).status_code == 403
    # no Origin (not a browser), but not JSON: 415
    plain = {"host": "127.0.0.1:8000", "content-type": "text/plain"}
    refused = admin_call(mock, "POST", "/reset", headers=plain, content=body)
    assert refused.status_code == 415
    assert "application/json" in refused.json()["detail"]
    assert mock.config.latency is None
    assert mock.state()["settings"]["latency"] is None


def test_a_rebound_page_cannot_read_the_journal(mock: MockGPT, client: httpx.Client) -> None:
    client.get("/backend-api/me", headers={"authorization": f"Bearer {JWT}", "cookie": "a=b"})
    answer = admin_call(mock, "GET", "/journal", headers={"host": "evil.example"})
    assert answer.status_code == 403
    assert set(answer.json()) == {"detail"}
    assert JWT not in answer.text


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]", "[::1]:8000"],
)
def test_loopback_names_pass_with_or_without_a_port(mock: MockGPT, host: str) -> None:
    assert admin_call(mock, "GET", "/state", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "localhost.evil.example", "127.0.0.1.nip.io", ""]
)
def test_foreign_hosts_are_refused(mock: MockGPT, host: str) -> None:
    answer = admin_call(mock, "GET", "/state", headers={"host": host})
    assert answer.status_code == 403
    assert "detail" in answer.json()


def test_the_address_the_server_listens_on_is_its_own_host(mock: MockGPT) -> None:
    # the address a connection arrived at (ASGI "server") and a name it was told to use
    lan = admin_call(mock, "GET", "/state", client="192.0.2.9", base_url="http://192.0.2.1:8000")
    assert lan.status_code == 403  # the right host, but not loopback and no token
    guarded = MockGPT(admin_token="s3cret")
    token = {"authorization": "Bearer s3cret"}
    at_address = admin_call(
        guarded, "GET", "/state", client="192.0.2.9", base_url="http://192.0.2.1", headers=token
    )
    assert at_address.status_code == 200
    named = {**token, "host": "devbox.lan:8000"}
    assert admin_call(guarded, "GET", "/state", headers=named).status_code == 403
    guarded.admin.listen_on("devbox.lan")
    assert admin_call(guarded, "GET", "/state", headers=named).status_code == 200
    guarded.admin.listen_on("0.0.0.0")  # a wildcard is not a name a page may use
    wildcard = {**token, "host": "0.0.0.0:8000"}
    assert admin_call(guarded, "GET", "/state", headers=wildcard).status_code == 403


def test_cross_site_fetches_are_refused_and_the_own_origin_is_served(mock: MockGPT) -> None:
    own = {"host": "localhost:8000", "origin": "http://localhost:8000"}
    assert admin_call(mock, "GET", "/state", headers=own).status_code == 200
    typed = {"host": "localhost:8000", "sec-fetch-site": "none"}
    assert admin_call(mock, "GET", "/state", headers=typed).status_code == 200
    same = {**own, "sec-fetch-site": "same-origin"}
    assert admin_call(mock, "GET", "/state", headers=same).status_code == 200
    for headers in (
        {"host": "localhost:8000", "origin": "http://localhost:3000"},
        {"host": "localhost:8000", "origin": "null"},
        {"host": "localhost:8000", "sec-fetch-site": "cross-site"},
        {"host": "localhost:8000", "sec-fetch-site": "same-site"},
    ):
        answer = admin_call(mock, "GET", "/journal", headers=headers)
        assert answer.status_code == 403, headers
        assert "origin" in answer.json()["detail"].lower()


def test_admin_bodies_must_be_json(mock: MockGPT) -> None:
    body = b'{"name": "kept"}'
    for media in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
        answer = admin_call(
            mock, "POST", "/snapshots", headers={"content-type": media}, content=body
        )
        assert answer.status_code == 201, media
    for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = admin_call(
            mock, "POST", "/snapshots", headers={"content-type": media}, content=body
        )
        assert answer.status_code == 415, media
    no_type = admin_call(mock, "POST", "/snapshots", content=body)
    assert no_type.status_code == 415
    # a POST without a body needs no content type
    assert admin_call(mock, "POST", "/snapshots/kept/restore").status_code == 200


def test_the_token_is_asked_of_every_client_with_any_case_of_bearer() -> None:
    guarded = MockGPT(admin_token="s3cret")
    for headers, status in (
        ({}, 403),
        ({"authorization": ""}, 403),
        ({"authorization": "s3cret"}, 403),  # a bare token, no scheme
        ({"authorization": "Basic s3cret"}, 403),
        ({"authorization": "Bearer s3cre"}, 403),
        ({"authorization": "Bearer s3cret2"}, 403),
        ({"authorization": "Bearer s3cret"}, 200),
        ({"authorization": "bearer s3cret"}, 200),
        ({"authorization": "BEARER  s3cret "}, 200),
    ):
        for client in ("127.0.0.1", "192.0.2.7"):
            answer = admin_call(guarded, "GET", "/state", client=client, headers=headers)
            assert answer.status_code == status, (headers, client)
    # the inspector page itself holds nothing: it loads, then sends the token it was given
    page = admin_call(guarded, "GET", "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_admin_token_is_refused(empty: str) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        MockGPT(admin_token=empty)


def test_the_token_comparison_is_constant_time() -> None:
    import inspect

    from mockgpt.admin import AdminAPI

    assert "hmac.compare_digest" in inspect.getsource(AdminAPI.refusal)


# -- a real socket ----------------------------------------------------------------------


def test_a_live_server_refuses_a_rebound_host() -> None:
    with MockGPT(Config(clock="virtual")) as mock:
        port = mock.url.rsplit(":", 1)[1]
        with httpx.Client(base_url=mock.url) as http:
            assert http.get(f"{ADMIN}/state").status_code == 200
            assert (
                http.get(f"{ADMIN}/state", headers={"host": f"localhost:{port}"}).status_code == 200
            )
            rebound = http.get(f"{ADMIN}/journal", headers={"host": f"evil.example:{port}"})
            assert rebound.status_code == 403
            # the mock's own routes are not the admin API: they answer any host
            me = http.get("/backend-api/me", headers={"host": "evil.example", **AUTH})
            assert me.status_code == 200


def test_a_non_ascii_token_is_compared_as_utf8_bytes() -> None:
    guarded = MockGPT(admin_token="clé-ü")
    good = {"authorization": "Bearer clé-ü".encode()}
    answer = admin_call(guarded, "GET", "/state", headers=good)
    assert answer.status_code == 200
    latin = {"authorization": "Bearer clé-ü".encode("latin-1")}
    assert admin_call(guarded, "GET", "/state", headers=latin).status_code == 403
