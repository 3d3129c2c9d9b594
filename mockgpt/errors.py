"""Errors raised by mockgpt itself, and the error bodies it sends.

Exception hierarchy::

    MockGPTError                 base of everything mockgpt raises
    ├── CatalogueError           the catalogue data is inconsistent (also a ValueError)
    ├── ConfigError              a Config value is out of range (also a ValueError)
    ├── DeltaError               a v1 delta stream cannot be decoded (also a ValueError)
    ├── HarError                 a capture is missing, not JSON or not a HAR (also a ValueError)
    ├── PatternError             a prompt pattern RE2 cannot run (also a ValueError)
    ├── ScriptError              a script is malformed; names the bad key (also a ValueError)
    ├── ResponseMismatch         an answer breaks its own schema (validating mode only)
    └── MockFailure              the mock failed inside a test (also an AssertionError)

Bodies: the web backend speaks FastAPI (`{"detail": ...}`), the platform API
speaks `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

from typing import Any


class MockGPTError(Exception):
    """Base class of every error mockgpt raises."""


class ConfigError(MockGPTError, ValueError):
    """A configuration value is out of range."""


def detail(message: Any) -> dict[str, Any]:
    """A FastAPI error body."""
    return {"detail": message}


def openai_error(
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """A platform API error body, with all four keys the SDKs require."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


INVALID_JWT = detail(
    {
        "code": "invalid_jwt",
        "message": "Could not parse your authentication token. Please try signing in again.",
        "param": None,
        "type": "invalid_request_error",
    }
)
NOT_FOUND = detail("Not Found")
METHOD_NOT_ALLOWED = detail("Method Not Allowed")
PAYLOAD_TOO_LARGE = detail("Request Entity Too Large")
INTERNAL_ERROR = detail("Internal Server Error")
ONLY_ONE_MESSAGE = detail(
    "Only one message at a time. Please allow any other responses to complete "
    "before sending another message, or wait one minute."
)
