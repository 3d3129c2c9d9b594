"""Configuration of one mockgpt app."""

from __future__ import annotations

from dataclasses import dataclass
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
    """

    seed: int = 0
    max_body_bytes: int = 8 * 1024 * 1024
    log_requests: bool = False
    validate_responses: bool = False
    clock: Literal["system", "virtual"] = "system"
    sample_conversations: int = 0

    def __post_init__(self) -> None:
        if self.clock not in ("system", "virtual"):
            raise ConfigError(f"clock must be 'system' or 'virtual', not {self.clock!r}")
        if not 0 <= self.sample_conversations <= 1000:
            raise ConfigError("sample_conversations must be between 0 and 1000")
        if self.seed < 0:
            raise ConfigError(f"seed must be zero or more, not {self.seed}")
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be at least 1024, not {self.max_body_bytes}")
