"""Configuration of one mockgpt app."""

from __future__ import annotations

from dataclasses import dataclass
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
      `"workspace"` (which requires `ChatGPT-Account-Id` on `/f/conversation`).
    - `models`: the `/v1` model list; when set, other models get 404
      `model_not_found` (by default any model name is accepted and echoed).
    - `v1_requests_per_minute`: a quota on chat completions; past it, 429 with
      `retry-after` and `x-ratelimit-*` headers (None: unlimited).
    - `latency`: `(low, high)` seconds added before every answer, drawn uniformly
      from the seed (equal bounds: a fixed delay; None: answer at once).
    - `fixtures`: a folder laid out like the package's `fixtures/` tree (as
      `mockgpt har import` writes one); each file in it replaces the built-in
      fixture of the same relative name, the others stay (None: built-ins only).
    - `header_timeout`, `body_timeout`: seconds a live server waits for a request's
      head (then closes the connection) and for all of its body (then answers 408
      and closes), so half-sent requests are not held open forever.
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
    header_timeout: float = 30.0
    body_timeout: float = 30.0

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
        if self.fixtures is not None and (
            not isinstance(self.fixtures, str) or not Path(self.fixtures).is_dir()
        ):
            raise ConfigError(f"fixtures must name a folder, not {self.fixtures!r}")
        for name, seconds in (
            ("header_timeout", self.header_timeout),
            ("body_timeout", self.body_timeout),
        ):
            if not 0 < seconds <= 3600:
                raise ConfigError(f"{name} must be between 0 and 3600 seconds, not {seconds!r}")
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be at least 1024, not {self.max_body_bytes}")
