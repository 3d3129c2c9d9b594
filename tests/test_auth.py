"""Sessions, tokens, the sentinel with proof of work, account headers and quotas."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import socket
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient
from support import make_config, user_turn, varier_for

from mockgpt import MockGPT, create_app, load_catalogue
from mockgpt._resources import fixture_path, read_json
from mockgpt.auth import proof_ok
from mockgpt.schemas import schema_errors

ROOT = Path(__file__).resolve().parent.parent


def new_mock(**changes: Any) -> MockGPT:
    return MockGPT(make_config(0, **{"sample_conversations": 0, **changes}))


def new_client(**changes: Any) -> TestClient:
    return TestClient(new_mock(**changes))


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def turn(*, hints: list[str] | None = None, conversation_id: str | None = None) -> dict[str, Any]:
    body = user_turn("hello", message_id="aaa0b1c2-d3e4-4f50-8617-28394a5b6c7d")
    body["conversation_id"] = conversation_id
    body["system_hints"] = hints or []
    return body


# -- a solver written from the published algorithm -----------------------------------


def solve(seed: str, difficulty: str, *, limit: int = 500_000) -> str:
    """Proof of work the way the web client computes it: a config array, base64 of its
    compact JSON, sha3-512 of seed + that, compared as a hex prefix with the difficulty."""
    config: list[Any] = [
        3008,
        "Mon Nov 03 2025 09:22:41 GMT-0500 (Eastern Standard Time)",
        4294967296,
        0,
        "Mozilla/5.0 (X11; Linux x86_64)",
        "https://chatgpt.com/backend-api/sentinel/sdk.js",
        "prod-test",
        "en-US",
        "en-US,en",
        0,
        "platform\u2212Linux",
        "location",
        "styleMedia",
        412.6,
        "5f0c2b7e-8d1a-4c39-9e64-2a7b1d3c8f40",
        "",
        8,
        1762179748231.4,
    ]
    for nonce in range(limit):
        config[3] = nonce
        config[9] = nonce >> 1
        answer = base64.b64encode(json.dumps(config, separators=(",", ":")).encode()).decode()
        digest = hashlib.sha3_512((seed + answer).encode()).hexdigest()
        if digest[: len(difficulty)] <= difficulty:
            return "gAAAAAB" + answer
    raise AssertionError("no proof found")


# -- session and tokens ---------------------------------------------------------------


def test_session_token_is_a_signed_jwt_with_the_real_claims() -> None:
    with new_client() as client:
        session = client.get("/api/auth/session").json()
        me = client.get("/backend-api/me", headers=bearer(session["accessToken"])).json()
    assert not schema_errors("auth/session.json", session)
    head, _, signature = session["accessToken"].split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "mockgpt-test-key"}
    assert signature
    body = claims(session["accessToken"])
    for claim in (
        "https://api.openai.com/auth",
        "https://api.openai.com/profile",
        "iss",
        "aud",
        "iat",
        "exp",
        "scope",
    ):
        assert claim in body, claim
    assert "mockgpt" in body["iss"]
    assert body["https://api.openai.com/auth"]["user_id"] == me["id"] == session["user"]["id"]
    assert body["exp"] > body["iat"]


def test_session_can_be_logged_out_or_expired() -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        mock.set_session("logged_out")
        assert client.get("/api/auth/session").json() == {}
        mock.set_session("expired")
        expired = client.get("/api/auth/session").json()
    assert expired["error"] == "RefreshAccessTokenError"
    assert "accessToken" not in expired


def test_lenient_accepts_any_bearer_value_and_refuses_none() -> None:
    with new_client() as client:
        assert client.get("/backend-api/me", headers=bearer("whatever")).status_code == 200
        refused = client.get("/backend-api/me")
    assert refused.status_code == 401
    assert refused.json()["detail"]["code"] == "invalid_jwt"


def test_strict_checks_signature_and_expiry_on_the_mock_clock() -> None:
    mock = new_mock(auth="strict")
    with TestClient(mock) as client:
        token = client.get("/api/auth/session").json()["accessToken"]
        assert client.get("/backend-api/me", headers=bearer(token)).status_code == 200
        head, body, signature = token.split(".")
        forged = f"{head}.{body}.{'A' * len(signature)}"
        bad = client.get("/backend-api/me", headers=bearer(forged))
        assert bad.status_code == 401
        assert bad.json()["detail"]["code"] == "invalid_jwt"
        assert client.get("/backend-api/me", headers=bearer("not-a-jwt")).status_code == 401
        mock.advance(11 * 24 * 3600)
        late = client.get("/backend-api/me", headers=bearer(token))
        assert late.status_code == 401
        assert late.json()["detail"]["code"] == "token_expired"
        fresh = client.get("/api/auth/session").json()["accessToken"]
        assert client.get("/backend-api/me", headers=bearer(fresh)).status_code == 200


def test_another_seed_signs_differently() -> None:
    with new_client() as first, TestClient(create_app(make_config(1, auth="strict"))) as second:
        token = first.get("/api/auth/session").json()["accessToken"]
        assert second.get("/backend-api/me", headers=bearer(token)).status_code == 401


# -- account headers ---------------------------------------------------------------


def test_account_settings_under_strict_needs_a_real_token_and_the_header() -> None:
    with new_client(auth="strict") as client:
        token = client.get("/api/auth/session").json()["accessToken"]
        account = claims(token)["https://api.openai.com/auth"]["chatgpt_account_id"]
        path = f"/backend-api/accounts/{account}/settings"
        good = {**bearer(token), "chatgpt-account-id": account}
        assert client.get(path, headers=good).status_code == 200
        assert client.get(path, headers=bearer(token)).status_code == 401
        assert client.get(path, headers={**good, "chatgpt-account-id": "x"}).status_code == 401
        assert client.get(path, headers={**good, **bearer("fake")}).status_code == 401


def test_workspace_account_requires_the_header_on_f_conversation() -> None:
    with new_client(account="workspace") as client:
        check = client.get(CHECK, headers=bearer("t")).json()
        workspace = check["account_ordering"][0]
        personal = check["accounts"]["default"]["account"]["account_id"]
        missing = client.post("/backend-api/f/conversation", json=turn(), headers=bearer("t"))
        wrong = client.post(
            "/backend-api/f/conversation",
            json=turn(),
            headers={**bearer("t"), "chatgpt-account-id": personal},
        )
        right = client.post(
            "/backend-api/f/conversation",
            json=turn(),
            headers={**bearer("t"), "chatgpt-account-id": workspace},
        )
    # The token is fine, so the refusal is about the account and names it, not invalid_jwt.
    assert missing.status_code == 403
    assert missing.json() == {
        "detail": "Missing ChatGPT-Account-Id header: requests for workspace account "
        f"{workspace} must name it."
    }
    assert wrong.status_code == 403
    assert wrong.json() == {
        "detail": f"You do not have access to account {personal}. "
        f"This user's workspace account is {workspace}."
    }
    assert schema_errors("parts/error_detail.json", wrong.json()) == []
    assert right.status_code == 200
    with new_client() as personal_mode:
        plain = personal_mode.post("/backend-api/f/conversation", json=turn(), headers=bearer("t"))
    assert plain.status_code == 200


CHECK = "/backend-api/accounts/check/v4-2023-04-27"


def test_workspace_mode_lists_the_personal_and_the_workspace_account() -> None:
    with new_client(account="workspace", validate_responses=True) as client:
        answer = client.get(CHECK, headers=bearer("t"))
        refusal = client.post("/backend-api/f/conversation", json=turn(), headers=bearer("t"))
    # The workspace the mock will not act for unless a request names it.
    named = re.search(r"workspace account (\S+) must", refusal.json()["detail"])
    assert named is not None
    workspace_id = named.group(1)
    assert answer.status_code == 200
    document = answer.json()
    assert schema_errors("accounts/check_v4.json", document) == []
    accounts = document["accounts"]
    workspace = accounts[workspace_id]["account"]
    assert workspace["structure"] == "workspace"
    assert workspace["account_id"] == workspace_id
    assert workspace["account_user_id"].endswith(f"__{workspace_id}")
    assert accounts["default"]["account"]["structure"] == "personal"
    personal_id = accounts["default"]["account"]["account_id"]
    assert accounts[personal_id]["account"]["structure"] == "personal"
    assert document["account_ordering"] == [workspace_id, personal_id]
    # the id the check lists is the one /f/conversation takes
    with new_client(account="workspace") as client:
        listed = client.get(CHECK, headers=bearer("t")).json()["account_ordering"][0]
        headers = {**bearer("t"), "chatgpt-account-id": listed}
        answer = client.post("/backend-api/f/conversation", json=turn(), headers=headers)
        assert answer.status_code == 200


def test_personal_mode_accounts_check_is_the_fixture_unchanged() -> None:
    with new_client() as personal, new_client(account="workspace") as workspace:
        plain = personal.get(CHECK, headers=bearer("t"))
        fixture = load_catalogue().get(f"GET {CHECK}").documented.fixture
        assert fixture is not None
        world = varier_for(make_config(0, sample_conversations=0))
        assert plain.json() == world.vary(read_json(fixture_path(fixture)))
        assert [a["account"]["structure"] for a in plain.json()["accounts"].values()] == [
            "personal",
            "personal",
        ]
        assert workspace.get(CHECK, headers=bearer("t")).content != plain.content
    # another seed, another workspace id
    assert (
        create_app(make_config(seed=1)).authority.workspace_id
        != create_app(make_config(seed=2)).authority.workspace_id
    )


# -- sentinel and proof of work -----------------------------------------------------------


def test_requirements_answer_has_exactly_the_documented_puzzle() -> None:
    with new_client(sentinel="pow") as client:
        for body in ({"p": None}, {}, None):
            kwargs = {"json": body} if body is not None else {}
            answer = client.post(
                "/backend-api/sentinel/chat-requirements", headers=bearer("t"), **kwargs
            ).json()
            assert set(answer["proofofwork"]) == {"required", "seed", "difficulty"}
            assert answer["proofofwork"]["required"] is True
            assert answer["turnstile"] == {"required": False}
            assert answer["arkose"] == {"required": False}
            assert answer["proofofwork"]["difficulty"] > "000032"
        anonymous = client.post(
            "/backend-anon/sentinel/chat-requirements", headers={"oai-device-id": "d"}, json={}
        )
    assert anonymous.status_code == 200


def test_session_to_conversation_with_sentinel_and_proof_of_work() -> None:
    mock = new_mock(auth="strict", sentinel="pow")
    with TestClient(mock) as client:
        token = client.get("/api/auth/session").json()["accessToken"]
        requirements = client.post(
            "/backend-api/sentinel/chat-requirements", headers=bearer(token), json={"p": None}
        ).json()
        puzzle = requirements["proofofwork"]
        proof = solve(puzzle["seed"], puzzle["difficulty"])
        assert proof_ok(proof, puzzle["seed"], puzzle["difficulty"])
        headers = {
            **bearer(token),
            "openai-sentinel-chat-requirements-token": requirements["token"],
            "openai-sentinel-proof-token": proof,
        }
        streamed = client.post("/backend-api/conversation", json=turn(), headers=headers)
        assert streamed.status_code == 200
        assert streamed.text.rstrip().endswith("data: [DONE]")

        wrong = {**headers, "openai-sentinel-proof-token": "gAAAAAB" + "x" * 40}
        refused = client.post("/backend-api/conversation", json=turn(), headers=wrong)
        assert refused.status_code == 403
        assert "unusual activity" in refused.json()["detail"]
        no_token = {**bearer(token), "openai-sentinel-proof-token": proof}
        assert (
            client.post("/backend-api/conversation", json=turn(), headers=no_token).status_code
            == 403
        )
        mock.advance(600)
        stale = client.post("/backend-api/conversation", json=turn(), headers=headers)
        assert stale.status_code == 403


def test_token_policy_needs_only_a_live_requirements_token() -> None:
    with new_client(sentinel="token") as client:
        requirements = client.post(
            "/backend-api/sentinel/chat-requirements", headers=bearer("t"), json={}
        ).json()
        headers = {**bearer("t"), "openai-sentinel-chat-requirements-token": requirements["token"]}
        assert (
            client.post("/backend-api/conversation", json=turn(), headers=headers).status_code
            == 200
        )
        invented = {**bearer("t"), "openai-sentinel-chat-requirements-token": "gAAAAABinvented"}
        assert (
            client.post("/backend-api/conversation", json=turn(), headers=invented).status_code
            == 403
        )


def test_prepare_and_finalize_trade_a_solved_puzzle_for_a_token() -> None:
    mock = new_mock(sentinel="pow")
    with TestClient(mock) as client:
        prepared = client.post(
            "/backend-api/sentinel/chat-requirements/prepare",
            headers=bearer("t"),
            json={"p": "gAAAAACx"},
        ).json()
        puzzle = prepared["proofofwork"]
        finalized = client.post(
            "/backend-api/sentinel/chat-requirements/finalize",
            headers=bearer("t"),
            json={
                "prepare_token": prepared["prepare_token"],
                "proofofwork": solve(puzzle["seed"], puzzle["difficulty"]),
            },
        )
        assert finalized.status_code == 200
        answer = finalized.json()
        assert answer["expire_after"] == 540
        assert answer["expire_at"] == int(mock.now()) + 540
        headers = {
            **bearer("t"),
            "openai-sentinel-chat-requirements-token": answer["token"],
            "openai-sentinel-proof-token": solve(puzzle["seed"], puzzle["difficulty"]),
        }
        assert (
            client.post("/backend-api/conversation", json=turn(), headers=headers).status_code
            == 200
        )
        again = client.post(
            "/backend-api/sentinel/chat-requirements/finalize",
            headers=bearer("t"),
            json={"prepare_token": prepared["prepare_token"], "proofofwork": "x"},
        )
        assert again.status_code == 403


def test_default_difficulty_is_quick_for_a_client_solver() -> None:
    rng = random.Random(7)
    for _ in range(20):
        seed = f"0.{rng.getrandbits(64):016x}"
        assert proof_ok(solve(seed, "0fffff", limit=2_000), seed, "0fffff")


# -- quotas and limits -------------------------------------------------------------------


def test_feature_quota_spent_to_zero_then_refused_then_reset() -> None:
    mock = new_mock()
    with TestClient(mock) as client:
        for _ in range(20):
            assert (
                client.post(
                    "/backend-api/conversation", json=turn(hints=["research"]), headers=bearer("t")
                ).status_code
                == 200
            )
        init = client.get("/backend-api/conversation/init", headers=bearer("t")).json()
        research = next(i for i in init["limits_progress"] if i["feature"] == "deep_research")
        assert research["remaining"] == 0
        assert research["total"] == 20
        refused = client.post(
            "/backend-api/conversation", json=turn(hints=["research"]), headers=bearer("t")
        )
        assert refused.status_code == 429
        detail = refused.json()["detail"]
        assert detail["code"] == "model_cap_exceeded"
        assert detail["clears_in"] == int(refused.headers["retry-after"]) > 0
        assert detail["blocked_features"][0]["name"] == "deep_research"
        plain = client.post("/backend-api/conversation", json=turn(), headers=bearer("t"))
        assert plain.status_code == 200
        mock.advance(detail["clears_in"] + 1)
        assert (
            client.post(
                "/backend-api/conversation", json=turn(hints=["research"]), headers=bearer("t")
            ).status_code
            == 200
        )
        features = {item["feature"]: item for item in mock.quotas()["features"]}
        assert features["deep_research"]["remaining"] == 19


def test_stream_reports_live_limits() -> None:
    with new_client() as client:
        body = {**turn(hints=["agent"]), "supported_encodings": ["v1"]}
        text = client.post("/backend-api/conversation", json=body, headers=bearer("t")).text
    frame = next(
        json.loads(line[6:]) for line in text.splitlines() if "conversation_detail_metadata" in line
    )
    odyssey = next(i for i in frame["limits_progress"] if i["feature"] == "odyssey")
    assert odyssey == {**odyssey, "remaining": 49, "total": 50}


def test_gpt4_message_cap_counts_down() -> None:
    with new_client() as client:
        before = client.get("/public-api/conversation_limit").json()
        client.post(
            "/backend-api/conversation", json={**turn(), "model": "gpt-4o"}, headers=bearer("t")
        )
        after = client.get("/public-api/conversation_limit").json()
    assert after["limit"] == before["limit"]
    assert after["remaining"] == before["remaining"] - 1
    assert after["reset_interval_minutes"] == 180


def test_anonymous_soft_then_hard_limit() -> None:
    app = create_app(make_config(0, sample_conversations=0))
    # No setting lowers the anonymous limits, so the test sets the authority's own.
    app.authority.anon_soft_limit, app.authority.anon_hard_limit = 2, 4
    with TestClient(app) as client:
        device = {"oai-device-id": "3b0e6a4c-1f2d-4e5a-8b9c-0d1e2f3a4b5c"}
        banners = []
        for _ in range(4):
            text = client.post(
                "/backend-anon/conversation",
                headers=device,
                json={**turn(), "supported_encodings": ["v1"]},
            ).text
            frame = next(
                json.loads(line[6:])
                for line in text.splitlines()
                if "conversation_detail_metadata" in line
            )
            banners.append(frame["banner_info"])
        refused = client.post("/backend-anon/conversation", json=turn(), headers=device)
        other = client.post(
            "/backend-anon/conversation", json=turn(), headers={"oai-device-id": "another-device"}
        )
    assert banners[:2] == [None, None]
    assert banners[2]["limit_type"] == "soft"
    assert refused.status_code == 429
    assert refused.json() == {"detail": "Too many requests in 1 hour. Try again later."}
    assert other.status_code == 200


def test_only_one_message_at_a_time() -> None:
    mock = MockGPT(make_config(0, sample_conversations=0, clock="system"))
    with mock, mock.client(timeout=10) as client:
        first = client.post("/backend-api/conversation", json=turn(), headers=bearer("t"))
        cid = next(
            json.loads(line[6:])["conversation_id"]
            for line in first.text.splitlines()
            if line.startswith("data: {")
        )
        mock.reply("slow " * 40, pacing={"tokens_per_second": 20})
        body = json.dumps(turn(conversation_id=cid)).encode()
        request = (
            b"POST /backend-api/conversation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer t\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        # A raw socket keeps the first stream open while the second message arrives.
        port = httpx.URL(mock.url).port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=10) as running:
            running.sendall(request)
            assert running.recv(65536).startswith(b"HTTP/1.1 200")
            assert [t["live"] for t in mock.turns() if t["conversation_id"] == cid] == [True]
            status = client.get(
                f"/backend-api/conversation/{cid}/stream_status", headers=bearer("t")
            ).json()
            assert status["status"] == "IS_STREAMING"
            assert status["streaming"] is True
            busy = client.post(
                "/backend-api/conversation", json=turn(conversation_id=cid), headers=bearer("t")
            )
    assert busy.status_code == 409
    assert busy.json()["detail"].startswith("Only one message at a time.")


# -- the mock's own data holds no secret -----------------------------------------------------


def test_no_real_secret_in_shipped_data() -> None:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import transient_settings

    # The entropy plugins flag every random id; the rest look for real credential shapes.
    plugins = [
        "AWSKeyDetector",
        "ArtifactoryDetector",
        "AzureStorageKeyDetector",
        "BasicAuthDetector",
        "CloudantDetector",
        "DiscordBotTokenDetector",
        "GitHubTokenDetector",
        "GitLabTokenDetector",
        "IbmCloudIamDetector",
        "IbmCosHmacDetector",
        "JwtTokenDetector",
        "KeywordDetector",
        "MailchimpDetector",
        "NpmDetector",
        "OpenAIDetector",
        "PrivateKeyDetector",
        "PypiTokenDetector",
        "SendGridDetector",
        "SlackDetector",
        "SoftlayerDetector",
        "SquareOAuthDetector",
        "StripeDetector",
        "TelegramBotTokenDetector",
        "TwilioKeyDetector",
    ]
    files = [
        p
        for folder in ("fixtures", "schemas", "mockgpt")
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and p.suffix in {".json", ".html", ".js", ".py"}
    ]
    assert len(files) > 100
    with transient_settings({"plugins_used": [{"name": name} for name in plugins]}):
        found = SecretsCollection()
        for path in files:
            found.scan_file(str(path))
    problems = []
    for filename, secret in found:
        if secret.type == "JSON Web Token":
            line = Path(filename).read_text().splitlines()[secret.line_number - 1]
            token = next(word for word in line.replace('"', " ").split() if word.count(".") == 2)
            if "mockgpt" in json.dumps(claims(token)) or "mockgpt" in token:
                continue
            header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
            if "mock" in json.dumps(header):
                continue
        problems.append((filename, secret.type, secret.line_number))
    assert not problems


def test_issued_tokens_are_obviously_fake_to_a_human() -> None:
    with new_client() as client:
        token = client.get("/api/auth/session").json()["accessToken"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert "mockgpt" in header["kid"]
    assert claims(token)["iss"].endswith(".invalid/")
