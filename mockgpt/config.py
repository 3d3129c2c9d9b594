"""Configuration of one mockgpt app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from mockgpt.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Config:
    """Everything that shapes an app. Two apps with equal configs answer alike.

    - `seed`: fixes every generated id, name, timestamp and text.
    - `max_body_bytes`: larger request bodies get 413.
    - `log_requests`: write one line per request to the `mockgpt.access` logger.
    - `validate_responses`: check every JSON answer against its schema before
      sending it (slower; a mismatch is a 500 and a logged error). For tests.
    - `clock`: `"system"` (wall time; paced streams really wait) or `"virtual"`
      (time starts at the seed's moment and jumps instead of waiting).
    - `sample_conversations`: how many conversations the app starts with (the
      canonical fixture conversation first, then generated ones), for a sidebar.
    - `auth`: `"lenient"` (any bearer value) or `"strict"` (only live tokens the
      mock signed); `sentinel`: `"off"`, `"token"` or `"pow"`; `pow_difficulty`:
      the hex difficulty of issued puzzles; `account`: `"personal"` or
      `"workspace"` (`accounts/check` adds a workspace account, whose id
      `/f/conversation` requires in `ChatGPT-Account-Id`).
    - `models`: the `/v1` model list; when set, other models get 404
      `model_not_found` (by default any model name is accepted and echoed).
    - `v1_requests_per_minute`: a quota on chat completions; past it, 429 with
      `retry-after` and `x-ratelimit-*` headers (None: unlimited).
    - `latency`: `(low, high)` seconds added before every answer, drawn uniformly
      from the seed (equal bounds: a fixed delay; None: answer at once).
    - `fixtures`: a folder laid out like the package's `fixtures/` tree (as
      `mockgpt har import` writes one); each file in it replaces the built-in
      fixture of the same relative name, the others stay (None: built-ins only).
    - `json_max_depth`, `json_max_int_digits`: request JSON nested deeper, or
      with a longer integer, is malformed (422 on the web backend, 400 on `/v1`).
    - `journal_entries`, `journal_bytes`: the journal keeps the most recent
      requests within both; `journal_body_bytes`: longer bodies are kept cut to
      that size, with their full length and sha256.
    - `kept_tokens`: how many access tokens, live sentinel tokens and logged-out
      device counts the mock remembers (expired sentinel tokens are dropped; the
      oldest go first).
    - `kept_failures`: how many tracebacks of internal errors are kept.
    - `max_conversations`, `conversation_bytes`: past either (the second counts
      the messages clients sent), the least recently updated conversations are
      forgotten, deleted ones first; `max_snapshots`: named snapshots kept at once.
    - `max_files`, `file_bytes`: past either (the second counts uploaded bytes),
      the oldest uploaded files are forgotten.
    - `now`: the moment the app's clock starts at, ISO-8601 with a zone
      (`"2026-11-29T12:00:00Z"`); every fixture date is placed relative to it, so
      two apps with the same seed and `now` answer every GET with the same bytes
      (None: the wall time at start, or the seed's own moment on a virtual clock).
    - `pace`: `"real"` streams unscripted answers at a seeded, human-visible
      speed (time to first token, then tens of tokens per second); `"instant"`
      sends them at once. Scripted turns keep their own pacing either way.
    - `id_version`: the version nibble of new conversation ids (time-ordered
      either way): 4 by default, because the `chatgpt` npm client refuses any
      other; 8 as the 2026 service writes them.
    - `header_timeout`, `body_timeout`: seconds a live server waits for a request's
      head (then closes the connection) and for all of its body (then answers 408
      and closes), so half-sent requests are not held open forever.
    - `replay_speed`: when `fixtures` holds a recording (`mockgpt record`), its
      streams replay with their recorded gaps times this (0: at once);
      `replay_strict`: requests the recording has no answer for get 404
      instead of the catalogue's answer.
    """

    seed: int = 0
    max_body_bytes: int = 8 * 1024 * 1024
    log_requests: bool = False
    validate_responses: bool = False
    clock: Literal["system", "virtual"] = "system"
    sample_conversations: int = 0
    auth: Literal["lenient", "strict"] = "lenient"
    sentinel: Literal["off", "token", "pow"] = "off"
    pow_difficulty: str = "0fffff"
    account: Literal["personal", "workspace"] = "personal"
    models: tuple[str, ...] | None = None
    v1_requests_per_minute: int | None = None
    latency: tuple[float, float] | None = None
    fixtures: str | None = None
    json_max_depth: int = 128
    json_max_int_digits: int = 1000
    journal_entries: int = 10_000
    journal_bytes: int = 64 * 1024 * 1024
    journal_body_bytes: int = 64 * 1024
    kept_tokens: int = 1000
    kept_failures: int = 100
    max_conversations: int = 10_000
    conversation_bytes: int = 256 * 1024 * 1024
    max_snapshots: int = 32
    max_files: int = 1000
    file_bytes: int = 64 * 1024 * 1024
    now: str | None = None
    pace: Literal["real", "instant"] = "instant"
    header_timeout: float = 30.0
    body_timeout: float = 30.0
    replay_speed: float = 1.0
    replay_strict: bool = False
    id_version: Literal[4, 8] = 4

    def __post_init__(self) -> None:
        if self.clock not in ("system", "virtual"):
            raise ConfigError(f"clock must be 'system' or 'virtual', not {self.clock!r}")
        if not 0 <= self.sample_conversations <= 1000:
            raise ConfigError("sample_conversations must be between 0 and 1000")
        for name, value, allowed in (
            ("auth", self.auth, ("lenient", "strict")),
            ("sentinel", self.sentinel, ("off", "token", "pow")),
            ("account", self.account, ("personal", "workspace")),
        ):
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        difficulty = self.pow_difficulty
        if (
            not difficulty
            or len(difficulty) > 16
            or any(c not in "0123456789abcdef" for c in difficulty)
        ):
            raise ConfigError(f"pow_difficulty must be lowercase hex, not {difficulty!r}")
        if self.seed < 0:
            raise ConfigError(f"seed must be zero or more, not {self.seed}")
        if self.latency is not None:
            low, high = self.latency
            if not 0 <= low <= high <= 600:
                raise ConfigError(
                    "latency must be (low, high) seconds with 0 <= low <= high <= 600, "
                    f"not {self.latency!r}"
                )
        if self.fixtures is not None:
            if not isinstance(self.fixtures, str):
                raise ConfigError(f"fixtures must name a folder, not {self.fixtures!r}")
            if not Path(self.fixtures).exists():
                raise ConfigError(f"fixtures folder {self.fixtures!r} does not exist")
            if not Path(self.fixtures).is_dir():
                raise ConfigError(f"fixtures {self.fixtures!r} is a file, not a folder")
        if self.now is not None:
            parse_now(self.now)
        if self.id_version not in (4, 8) or isinstance(self.id_version, bool):
            raise ConfigError(f"id_version must be 4 or 8, not {self.id_version!r}")
        if self.pace not in ("real", "instant"):
            raise ConfigError(f"pace must be 'real' or 'instant', not {self.pace!r}")
        for name, seconds in (
            ("header_timeout", self.header_timeout),
            ("body_timeout", self.body_timeout),
        ):
            if not 0 < seconds <= 3600:
                raise ConfigError(f"{name} must be between 0 and 3600 seconds, not {seconds!r}")
        speed = self.replay_speed
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 <= speed <= 1000:
            raise ConfigError(f"replay_speed must be from 0 to 1000, not {speed!r}")
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be at least 1024, not {self.max_body_bytes}")
        for name, low, high in _BOUNDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(
                    f"{name} must be a whole number from {low} to {high}, not {value!r}"
                )
        if self.journal_body_bytes > self.journal_bytes:
            raise ConfigError("journal_body_bytes must not exceed journal_bytes")


#: The store and parser limits: (field, lowest, highest).
_BOUNDS = (
    ("json_max_depth", 1, 500),
    ("json_max_int_digits", 1, 4300),
    ("journal_entries", 1, 10_000_000),
    ("journal_bytes", 1024, 1 << 40),
    ("journal_body_bytes", 0, 1 << 40),
    ("kept_tokens", 1, 10_000_000),
    ("kept_failures", 1, 1_000_000),
    ("max_conversations", 1, 10_000_000),
    ("conversation_bytes", 1024, 1 << 40),
    ("max_snapshots", 0, 10_000),
    ("max_files", 1, 1_000_000),
    ("file_bytes", 1024, 1 << 40),
)


def parse_now(text: object) -> datetime:
    """`Config.now` as an aware datetime; a ConfigError when it is not ISO-8601 with a zone."""
    if not isinstance(text, str):
        raise ConfigError(f"now must be an ISO-8601 time, not {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"now must be an ISO-8601 time, not {text!r}") from None
    if moment.tzinfo is None:
        raise ConfigError(f"now must name its zone (Z or +hh:mm), not {text!r}")
    if not 1e9 <= moment.timestamp() <= 4e9:
        raise ConfigError(f"now must lie between 2001 and 2096, not {text!r}")
    return moment
