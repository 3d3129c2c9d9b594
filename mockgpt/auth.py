"""Who may call what: access tokens, the sentinel and proof of work, feature quotas.

One `Authority` hangs off each app. Its policies can change at run time (a test
may switch to `strict` for itself):

- `policy`: `lenient` (any `Authorization: Bearer` value passes, as when a
  client written for chatgpt.com is pointed at the mock) or `strict` (only
  tokens this mock signed and that have not expired on its clock).
- `sentinel`: `off` (conversation requests need no sentinel headers), `token`
  (they carry a live `OpenAI-Sentinel-Chat-Requirements-Token` the mock issued),
  or `pow` (also a valid `OpenAI-Sentinel-Proof-Token`).
- `account`: `personal` or `workspace` (the latter adds a workspace account to
  `accounts/check` and requires its id in `ChatGPT-Account-Id` on
  `/backend-api/f/conversation`, as workspace clients send it).

Proof of work, as the public clients compute it: the proof is `gAAAAAB` plus a
base64 string; `sha3_512(seed + that string)` in hex must start at or below the
issued difficulty (a lower hex string is harder).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.datastructures import Headers

from mockgpt import errors, tokens
from mockgpt.clock import Clock
from mockgpt.jsonparse import parse_json
from mockgpt.responses import Prepared, json_refusal

AuthPolicy = Literal["lenient", "strict"]
SentinelPolicy = Literal["off", "token", "pow"]
AccountKind = Literal["personal", "workspace"]


#: Easy enough for a client's solver in a few milliseconds, and well above the
#: "000032" that some clients refuse as too hard.
DEFAULT_DIFFICULTY = "0fffff"
PROOF_PREFIX = "gAAAAAB"
SENTINEL_LIFETIME = 540
ACCESS_TOKEN_LIFETIME = 10 * 24 * 3600
SESSION_LIFETIME = 30 * 24 * 3600

TOKEN_EXPIRED = errors.detail(
    {
        "message": "Your authentication token has expired. Please try signing in again.",
        "type": "invalid_request_error",
        "param": None,
        "code": "token_expired",
    }
)
UNUSUAL_ACTIVITY = errors.detail(
    "Our systems have detected unusual activity from your system. Please try again later."
)
HOURLY_LIMIT = errors.detail("Too many requests in 1 hour. Try again later.")
MODEL_CAP_MESSAGE = "You have sent too many messages to the model. Please try again later."

#: The feature quotas the web client shows, with their totals.
FEATURE_TOTALS = {"deep_research": 20, "odyssey": 50}
#: Which `system_hints` of a conversation request spend which feature.
FEATURE_HINTS = {
    "research": "deep_research",
    "deep_research": "deep_research",
    "agent": "odyssey",
    "odyssey": "odyssey",
}


def _b64json(segment: str) -> Any:
    return parse_json(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_month(moment: float) -> float:
    """Midnight UTC on the first day of the month after `moment`: when quotas reset."""
    day = datetime.fromtimestamp(moment, UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))


@dataclass(slots=True)
class Grant:
    """A sentinel token the mock issued, with the proof-of-work puzzle that goes with it."""

    token: str
    seed: str
    difficulty: str
    expires_at: float


@dataclass(slots=True)
class Quota:
    """One feature's allowance: spent by turns, restored at `reset_at` on the mock's clock."""

    feature: str
    total: int
    remaining: int
    reset_at: float

    def progress(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "remaining": self.remaining,
            "total": self.total,
            "reset_at": _iso(self.reset_at),
            # The 2026 web client's names for the same two facts.
            "feature_name": self.feature,
            "reset_after": _iso(self.reset_at),
        }


@dataclass(slots=True)
class MessageCap:
    """The GPT-4 message cap of `/public-api/conversation_limit`."""

    limit: int = 40
    remaining: int = 40
    reset_interval_minutes: int = 180
    window_start: float = 0.0


class Authority:
    """Tokens, sentinel grants, quotas and the policies that check them, for one app."""

    def __init__(
        self,
        *,
        seed: int,
        clock: Clock,
        user_id: str,
        email: str | Callable[[], str],
        account_id: str,
        policy: AuthPolicy = "lenient",
        sentinel: SentinelPolicy = "off",
        difficulty: str = DEFAULT_DIFFICULTY,
        account: AccountKind = "personal",
        kept_tokens: int = 1000,
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.key = tokens.signing_key(seed)
        self.user_id = user_id
        #: The user's address, or what gives it on first use (drawing it costs start-up time).
        self._email = email
        self.account_id = account_id
        self.policy: AuthPolicy = policy
        self.sentinel: SentinelPolicy = sentinel
        self.difficulty = difficulty
        self.account: AccountKind = account
        #: The team account the user also belongs to in workspace mode: the id that
        #: `accounts/check` lists with `structure: "workspace"` and that requests
        #: acting for it carry in `ChatGPT-Account-Id`.
        self.workspace_id = str(
            uuid.UUID(int=random.Random(f"{seed}\x1fworkspace").getrandbits(128), version=4)
        )
        self.session_state: Literal["active", "logged_out", "expired"] = "active"
        self.anon_soft_limit = 10
        self.anon_hard_limit = 20
        self._rng = random.Random(f"{seed}\x1fauthority")
        #: Live sentinel tokens, oldest first: expired ones are dropped, at most `kept_tokens`.
        self.grants: dict[str, Grant] = {}
        self.prepared: dict[str, Grant] = {}
        self.kept_tokens = kept_tokens
        #: The most recent access tokens issued. Strict checks need only the signature,
        #: so a forgotten token still passes; this is for tests that look at them.
        self.issued: deque[str] = deque(maxlen=kept_tokens)
        self.anon_turns: dict[str, int] = {}
        start = clock.now()
        reset = next_month(start)
        self.quotas = {
            name: Quota(name, total, total, reset) for name, total in FEATURE_TOTALS.items()
        }
        self.cap = MessageCap(window_start=start)

    @property
    def email(self) -> str:
        if callable(self._email):
            self._email = self._email()
        return self._email

    # -- access tokens -------------------------------------------------------------

    def issue_access_token(self) -> tuple[str, float]:
        """A signed access token for the mock's user, and when it expires."""
        now = int(self.clock.now())
        expires = now + ACCESS_TOKEN_LIFETIME
        claims = tokens.access_token_claims(
            user_id=self.user_id,
            email=self.email,
            account_id=self.account_id,
            issued_at=now,
            expires_at=expires,
            session_id=f"authsess_{self._rng.getrandbits(96):024x}",
        )
        token = tokens.encode_jwt(claims, self.key)
        self.issued.append(token)
        return token, float(expires)

    def verify(self, token: str) -> Literal["ok", "invalid", "expired"]:
        """Check a bearer token the strict way: our signature, not expired on our clock."""
        parts = token.split(".")
        if len(parts) != 3:
            return "invalid"
        try:
            header, claims = _b64json(parts[0]), _b64json(parts[1])
            signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return "invalid"
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return "invalid"
        expected = hmac.new(self.key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected) or not isinstance(claims, dict):
            return "invalid"
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires <= self.clock.now():
            return "expired"
        return "ok"

    def bearer_refusal(self, token: str | None) -> Prepared | None:
        """Why a bearer token is not good enough under the current policy, or None."""
        if token is None:
            return json_refusal(401, errors.INVALID_JWT)
        if self.policy == "lenient":
            return None
        verdict = self.verify(token)
        if verdict == "expired":
            return json_refusal(401, TOKEN_EXPIRED)
        if verdict == "invalid":
            return json_refusal(401, errors.INVALID_JWT)
        return None

    def account_refusal(self, headers: Headers) -> Prepared | None:
        """Why a workspace request does not act for the workspace account, or None.

        The token is fine, so this is a 403 that names the account, not `invalid_jwt`.
        """
        if self.account != "workspace":
            return None
        given = headers.get("chatgpt-account-id", "").strip()
        if not given:
            message = (
                "Missing ChatGPT-Account-Id header: requests for workspace account "
                f"{self.workspace_id} must name it."
            )
            return json_refusal(403, errors.detail(message))
        if given != self.workspace_id:
            message = (
                f"You do not have access to account {given}. "
                f"This user's workspace account is {self.workspace_id}."
            )
            return json_refusal(403, errors.detail(message))
        return None

    def session(self, document: dict[str, Any]) -> dict[str, Any]:
        """The `/api/auth/session` body for the current session state."""
        if self.session_state == "logged_out":
            return {}
        now = self.clock.now()
        if self.session_state == "expired":
            expired = dict(document)
            expired.pop("accessToken", None)
            expired["expires"] = _iso(now - 60)
            expired["error"] = "RefreshAccessTokenError"
            return expired
        token, _ = self.issue_access_token()
        fresh = dict(document)
        stamp = datetime.fromtimestamp(now + SESSION_LIFETIME, UTC)
        fresh["expires"] = (
            stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
        )
        fresh["accessToken"] = token
        return fresh

    # -- sentinel ------------------------------------------------------------------

    def _token(self, kind: str) -> str:
        body = base64.urlsafe_b64encode(self._rng.randbytes(48)).decode().rstrip("=")
        return f"{PROOF_PREFIX}mock{kind}{body}"

    def _issue(self, kind: str, into: dict[str, Grant]) -> tuple[str, dict[str, Any]]:
        """A fresh sentinel token, remembered in `into`, and the puzzle that goes with it."""
        seed, difficulty = f"0.{self._rng.getrandbits(64):016x}", self.difficulty
        token = self._token(kind)
        self._remember(into, Grant(token, seed, difficulty, self.clock.now() + SENTINEL_LIFETIME))
        puzzle = {"required": self.sentinel == "pow", "seed": seed, "difficulty": difficulty}
        return token, puzzle

    def _remember(self, into: dict[str, Grant], grant: Grant) -> None:
        """Keep a sentinel token, dropping expired ones and, past the cap, the oldest.

        Tokens live for the same time and are kept in issue order, so the expired
        ones are always at the front.
        """
        into[grant.token] = grant
        now = self.clock.now()
        while into:
            oldest = next(iter(into))
            if into[oldest].expires_at > now and len(into) <= self.kept_tokens:
                break
            del into[oldest]

    def grant(self, document: dict[str, Any]) -> dict[str, Any]:
        """Fill a chat-requirements answer with a fresh token and puzzle."""
        token, puzzle = self._issue("req", self.grants)
        answer = dict(document)
        answer["token"] = token
        answer["proofofwork"] = puzzle
        answer["turnstile"] = {"required": False}
        answer["arkose"] = {"required": False}
        return answer

    def prepare(self, document: dict[str, Any]) -> dict[str, Any]:
        """The first half of the split exchange: a prepare token and its puzzle."""
        token, puzzle = self._issue("prep", self.prepared)
        answer = dict(document)
        answer["prepare_token"] = token
        answer["turnstile"] = {"required": False}
        answer["proofofwork"] = puzzle
        return answer

    def finalize(self, document: dict[str, Any], body: dict[str, Any]) -> Prepared | dict[str, Any]:
        prepared = self.prepared.pop(str(body.get("prepare_token")), None)
        if prepared is None or prepared.expires_at <= self.clock.now():
            if self.sentinel != "off":
                return json_refusal(403, UNUSUAL_ACTIVITY)
            # With the sentinel off, any prepare token is good enough, as for lenient auth.
            _, puzzle = self._issue("prep", {})
            prepared = Grant("", puzzle["seed"], puzzle["difficulty"], self.clock.now())
        proof = body.get("proofofwork")
        if self.sentinel == "pow" and not (
            isinstance(proof, str) and proof_ok(proof, prepared.seed, prepared.difficulty)
        ):
            return json_refusal(403, UNUSUAL_ACTIVITY)
        token = self._token("fin")
        expires = self.clock.now() + SENTINEL_LIFETIME
        self._remember(self.grants, Grant(token, prepared.seed, prepared.difficulty, expires))
        answer = dict(document)
        answer["token"] = token
        answer["expire_after"] = SENTINEL_LIFETIME
        answer["expire_at"] = int(expires)
        return answer

    def sentinel_refusal(self, headers: Headers) -> Prepared | None:
        """Why a conversation request fails the sentinel policy, or None."""
        if self.sentinel == "off":
            return None
        grant = self.grants.get(headers.get("openai-sentinel-chat-requirements-token", ""))
        if grant is None or grant.expires_at <= self.clock.now():
            return json_refusal(403, UNUSUAL_ACTIVITY)
        if self.sentinel == "pow":
            proof = headers.get("openai-sentinel-proof-token", "")
            if not proof_ok(proof, grant.seed, grant.difficulty):
                return json_refusal(403, UNUSUAL_ACTIVITY)
        return None

    # -- quotas --------------------------------------------------------------------

    def _refresh(self) -> None:
        now = self.clock.now()
        for quota in self.quotas.values():
            while now >= quota.reset_at:
                quota.remaining = quota.total
                quota.reset_at = next_month(quota.reset_at)
        window = self.cap.reset_interval_minutes * 60
        if now - self.cap.window_start >= window:
            self.cap.remaining = self.cap.limit
            self.cap.window_start = now

    def limits_progress(self) -> list[dict[str, Any]]:
        self._refresh()
        return [quota.progress() for quota in self.quotas.values()]

    def message_cap(self) -> MessageCap:
        self._refresh()
        return self.cap

    def spend(self, hints: list[str], model: str) -> Prepared | None:
        """Charge a turn to its features (and the GPT-4 cap); refuse it when one is used up."""
        self._refresh()
        wanted = {FEATURE_HINTS[hint] for hint in hints if hint in FEATURE_HINTS}
        now = self.clock.now()
        for name in sorted(wanted):
            quota = self.quotas[name]
            if quota.remaining <= 0:
                clears_in = max(1, int(quota.reset_at - now))
                return json_refusal(
                    429,
                    errors.detail(
                        {
                            "message": MODEL_CAP_MESSAGE,
                            "code": "model_cap_exceeded",
                            "clears_in": clears_in,
                            "blocked_features": [
                                {
                                    "name": name,
                                    "resets_after": _iso(quota.reset_at),
                                    "limit": float(quota.total),
                                }
                            ],
                        }
                    ),
                    [("retry-after", str(clears_in))],
                )
        for name in wanted:
            self.quotas[name].remaining -= 1
        if model.startswith("gpt-4") and self.cap.remaining > 0:
            self.cap.remaining -= 1
        return None

    def anonymous_turn(self, device: str) -> tuple[Prepared | None, bool]:
        """Count a logged-out turn: (a refusal past the hard limit, past the soft limit?)."""
        count = self.anon_turns.get(device, 0)
        if count >= self.anon_hard_limit:
            return json_refusal(429, HOURLY_LIMIT), True
        self.anon_turns[device] = count + 1
        if len(self.anon_turns) > self.kept_tokens:
            # One entry per device id a client makes up: forget the earliest device first.
            del self.anon_turns[next(iter(self.anon_turns))]
        return None, count + 1 > self.anon_soft_limit


def proof_ok(proof: str, seed: str, difficulty: str) -> bool:
    """Whether a proof-of-work token solves the puzzle (seed, difficulty)."""
    if not proof.startswith(PROOF_PREFIX):
        return False
    answer = proof[len(PROOF_PREFIX) :]
    digest = hashlib.sha3_512((seed + answer).encode()).hexdigest()
    return digest[: len(difficulty)] <= difficulty


def bearer_token(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer ...` header (any case), None without one."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
