"""Configuration of one mockgpt app."""

from __future__ import annotations

from dataclasses import dataclass

from mockgpt.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Config:
    """Everything that shapes an app. Two apps with equal configs answer alike.

    - `seed`: fixes every generated id, name, timestamp and text.
    - `max_body_bytes`: larger request bodies get 413.
    - `log_requests`: write one line per request to the `mockgpt.access` logger.
    - `validate_responses`: check every JSON answer against its schema before
      sending it (slower; a mismatch is a 500 and a logged error). For tests.
    """

    seed: int = 0
    max_body_bytes: int = 8 * 1024 * 1024
    log_requests: bool = False
    validate_responses: bool = False

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"seed must be zero or more, not {self.seed}")
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be at least 1024, not {self.max_body_bytes}")
