"""Tokens the mock issues: JWTs that are real (three parts, signed) but obviously fake.

The signing key is derived from the seed, so the same seed issues the same
tokens. The key id and issuer say `mockgpt` so nobody mistakes them for real ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

KEY_ID = "mockgpt-test-key"
#: The plan of the mock's account, as accounts/check and the subscription fixtures say.
PLAN_TYPE = "pro"
ISSUER = "https://auth.mockgpt.invalid/"
AUDIENCE = ["https://api.openai.com/v1"]
SCOPE = (
    "openid email profile model.read model.request"
    " organization.read organization.write offline_access"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signing_key(seed: int) -> bytes:
    return hashlib.sha256(f"mockgpt signing key, seed {seed}".encode()).digest()


def encode_jwt(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 JWT of `claims`."""
    header = {"alg": "HS256", "typ": "JWT", "kid": KEY_ID}
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{head}.{body}".encode("ascii"), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def access_token_claims(
    *, user_id: str, email: str, account_id: str, issued_at: int, expires_at: int, session_id: str
) -> dict[str, Any]:
    """The claims the real access token carries, for the mock's user."""
    return {
        "aud": AUDIENCE,
        "client_id": "app_mockgpt",
        "exp": expires_at,
        "https://api.openai.com/auth": {
            "chatgpt_account_id": account_id,
            "chatgpt_plan_type": PLAN_TYPE,
            "chatgpt_user_id": user_id,
            "user_id": user_id,
        },
        "https://api.openai.com/profile": {"email": email, "email_verified": True},
        "iat": issued_at,
        "iss": ISSUER,
        "jti": session_id,
        "nbf": issued_at,
        "scp": SCOPE.split(),
        "scope": SCOPE,
        "session_id": session_id,
        "sub": f"auth0|{user_id.removeprefix('user-')}",
    }
