from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from support import BEARER, client_for, documented_request, make_config, varier_for
from test_app import ROUTES

from mockgpt.fakedata import Varier, load_identity, same_shape

IDENTITY = load_identity()
AUTH = {"authorization": BEARER}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


@pytest.mark.parametrize("seed", [0, 1, 99])
def test_one_user_and_one_account_across_routes(seed: int) -> None:
    with client_for(seed) as client:
        session = client.get("/api/auth/session").json()
        me = client.get("/backend-api/me", headers=AUTH).json()
        check = client.get("/backend-api/accounts/check/v4-2023-04-27", headers=AUTH).json()
        account_id = check["account_ordering"][0]
        subscription = client.get(
            "/backend-api/subscriptions", params={"account_id": account_id}, headers=AUTH
        ).json()
    assert session["user"]["id"] == me["id"]
    assert session["user"]["email"] == me["email"]
    assert session["user"]["name"] == me["name"]
    claims = _claims(session["accessToken"])
    auth = claims["https://api.openai.com/auth"]
    assert auth["user_id"] == me["id"]
    assert auth["chatgpt_account_id"] == account_id
    assert claims["https://api.openai.com/profile"]["email"] == me["email"]
    assert check["accounts"][account_id]["account"]["account_id"] == account_id
    assert account_id in json.dumps(subscription) or subscription["id"] in json.dumps(check)


def test_conversation_list_and_detail_agree() -> None:
    with client_for(4) as client:
        listing = client.get("/backend-api/conversations", headers=AUTH).json()
        first = listing["items"][0]
        detail = client.get(f"/backend-api/conversation/{first['id']}", headers=AUTH).json()
    assert detail["title"] == first["title"]
    assert detail["conversation_id"] == first["id"]


@pytest.mark.parametrize("seed", [0, 5])
def test_no_canonical_identity_value_survives(seed: int) -> None:
    canonical = [
        IDENTITY[key]
        for key in (
            "user_id",
            "user_name",
            "email",
            "account_id",
            "org_id",
            "device_id",
            "phone_number",
        )
    ]
    canonical += IDENTITY["titles"] + IDENTITY["texts"]
    varier = varier_for(make_config(seed))
    with client_for(seed) as client:
        for route in ROUTES:
            response = documented_request(route, varier).send(client)
            body = response.content.decode("latin-1")
            for value in canonical:
                assert json.dumps(value)[1:-1] not in body, f"{value!r} in {route.key}"


def test_every_identity_kind_has_a_rule() -> None:
    varier = Varier(3)
    for key, value in IDENTITY.items():
        if key.startswith("_"):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            assert varier.text(item) != item, f"identity {key} is not varied"


def test_draws_do_not_depend_on_order() -> None:
    ids = ["0b1f2e3d-4c5b-4a69-8788-99aabbccddee", "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"]
    forward, backward = Varier(11), Varier(11)
    assert [forward.uuid_for(i) for i in ids] == [backward.uuid_for(i) for i in reversed(ids)][::-1]
    assert Varier(11).uuid_for(ids[0]) != Varier(12).uuid_for(ids[0])


def test_shapes_are_kept() -> None:
    varier = Varier(2)
    out = varier.vary(
        {
            "id": "user-Qm9ja0dQVFVzZXIwMDAwMDAx",
            "file": "file-0123456789abcdef01234567",
            "when": "2025-11-03T14:22:41.767145Z",
            "when_ms": "2025-11-03T14:22:41.767+00:00",
            "create_time": 1762179761.071,
            "created": 1762179761,
            "count": 1762179761,
            "url": "https://chatgpt.com/c/4c6f6361-6c41-4d6f-8b63-6b4163637431",
        }
    )
    assert out["id"].startswith("user-")
    assert len(out["id"]) == len("user-Qm9ja0dQVFVzZXIwMDAwMDAx")
    assert out["file"].startswith("file-")
    assert out["file"] != "file-0123456789abcdef01234567"
    assert len(out["when"]) == len("2025-11-03T14:22:41.767145Z")
    assert out["when"].endswith("Z")
    assert out["when_ms"].endswith("+00:00")
    assert len(out["when_ms"]) == 29
    assert isinstance(out["create_time"], float)
    assert out["create_time"] != 1762179761.071
    assert isinstance(out["created"], int)
    assert out["created"] != 1762179761
    assert out["count"] == 1762179761, "numbers under other keys are not times"
    assert out["url"] == "https://chatgpt.com/c/" + varier.uuid_for(
        "4c6f6361-6c41-4d6f-8b63-6b4163637431"
    )


def test_times_move_together() -> None:
    varier = Varier(9)
    a, b = varier.vary({"create_time": 1762179761.0, "update_time": 1762179861.0}).values()
    assert b - a == pytest.approx(100.0)


def _classes(text: str) -> list[str]:
    return [
        "digit" if ch.isdigit() else "lower" if ch.islower() else "upper" if ch.isupper() else ch
        for ch in text
    ]


@pytest.mark.parametrize(
    "real",
    [
        "Qm9ja0dQVFVzZXIwMDAwMDAx",  # a seeded world's id body: case kept letter by letter
        "sess-AbC123_xyz.Q9",  # a sanitised token: prefix and punctuation kept
    ],
)
def test_one_shape_keeps_every_character_class_for_the_world_and_the_sanitiser(real: str) -> None:
    fake = same_shape(random.Random(7), real)
    assert fake != real
    assert _classes(fake) == _classes(real)


def test_an_all_digit_id_stays_digits_and_lowercase_hex_stays_hex() -> None:
    assert same_shape(random.Random(1), "12345678901234").isdigit()
    hex_fake = same_shape(random.Random(1), "0123456789abcdef01234567")
    assert set(hex_fake) <= set("0123456789abcdef")
    out = Varier(3).vary({"id": "user-123456789012345"})
    assert out["id"].startswith("user-")
    assert out["id"][5:].isdigit()
