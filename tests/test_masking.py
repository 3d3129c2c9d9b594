"""Credentials masked in the journal's HTTP view and the access log, full elsewhere."""

from __future__ import annotations

import json

import httpx
import pytest

from mockgpt import Config, MockGPT
from mockgpt.masking import mask, mask_credential, mask_text

ADMIN = "/__mockgpt__"
JWT = "eyJhbGciOiJIUzI1NiJ9." + "x" * 800 + ".sig"


@pytest.fixture
def client(mock_client: httpx.Client) -> httpx.Client:
    return mock_client


def test_the_journal_masks_credentials_unless_revealed(mock: MockGPT, client: httpx.Client) -> None:
    headers = {
        "authorization": f"Bearer {JWT}",
        "cookie": "__Secure-next-auth.session-token=" + "s" * 40 + "; oai-did=abc",
        "openai-sentinel-chat-requirements-token": "gAAAAAB" + "r" * 60,
        "openai-sentinel-proof-token": "gAAAAAB" + "p" * 60,
        "openai-sentinel-turnstile-token": "t" * 50,
        "x-conduit-token": "c" * 30,
    }
    body = {"accessToken": "a" * 30, "refresh_token": "f" * 30, "password": "hunter22", "x": 1}
    client.post("/backend-api/lat/r", json=body, headers=headers)
    [entry] = client.get(f"{ADMIN}/journal").json()["entries"]
    shown = str(entry)
    for secret in (JWT, "s" * 40, "r" * 60, "p" * 60, "t" * 50, "c" * 30, "a" * 30, "hunter22"):
        assert secret not in shown
    assert entry["headers"]["authorization"] == f"Bearer eyJh…({len(JWT)} chars)"
    assert entry["headers"]["cookie"].startswith("__Secure-next-auth.session-token=ssss…(40 chars)")
    assert entry["json"]["password"] == "…(8 chars)"
    assert entry["json"]["x"] == 1
    assert '"refresh_token":"ffff…(30 chars)"' in entry["body"]

    [full] = client.get(f"{ADMIN}/journal", params={"reveal": "true"}).json()["entries"]
    assert full["headers"]["authorization"] == f"Bearer {JWT}"
    assert full["json"] == body
    [call] = mock.calls()
    assert call.headers["authorization"] == f"Bearer {JWT}"
    assert call.json() == body


def test_masks_keep_kind_and_length() -> None:
    assert mask_credential("Bearer " + JWT) == f"Bearer eyJh…({len(JWT)} chars)"
    assert mask_credential("bearer abc") == "bearer …(3 chars)"
    assert mask("short") == "…(5 chars)"


def test_access_log_masks_credentials_in_the_query(caplog: pytest.LogCaptureFixture) -> None:
    mock = MockGPT(Config(clock="virtual", log_requests=True))
    with caplog.at_level("INFO", logger="mockgpt.access"), mock.client(in_process=True) as http:
        http.get("/backend-api/me", params={"access_token": "q" * 40, "page": "2"})
    [line] = [r.getMessage() for r in caplog.records if r.name == "mockgpt.access"]
    assert "q" * 40 not in line
    assert "access_token=qqqq…(40 chars)" in line
    assert "page=2" in line


def test_text_bodies_are_masked_in_place() -> None:
    form = "username=ada&password=correct-horse-battery&remember=1"
    assert mask_text(form) == "username=ada&password=corr…(21 chars)&remember=1"
    # a URL inside a JSON string: its token goes, the JSON around it stays valid
    text = '{"next": "/cb?token=abcdefghijklmnopqrstuvwx", "n": 1}'
    masked = mask_text(text)
    assert "abcdefghijklmnopqrstuvwx" not in masked
    assert json.loads(masked)["n"] == 1
    escaped = '{"accessToken": "ab\\"cdefghijklmnopqrstu", "p": null}'
    assert json.loads(mask_text(escaped)) == {"accessToken": "…(22 chars)", "p": None}
