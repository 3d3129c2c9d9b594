"""Errors raised by mockgpt itself, and the error bodies it sends.

Exception hierarchy::

    MockGPTError                 base of everything mockgpt raises
    ├── CatalogueError           the catalogue data is inconsistent (also a ValueError)
    ├── ConfigError              a Config value is out of range (also a ValueError)
    ├── DeltaError               a v1 delta stream cannot be decoded (also a ValueError)
    ├── HarError                 a HAR file cannot be read or imported (also a ValueError)
    ├── PatternError             a prompt pattern RE2 cannot run (also a ValueError)
    ├── RecordingError           a recording folder cannot be read (also a ValueError)
    ├── ScriptError              a script is malformed; names the bad key (also a ValueError)
    ├── InvalidValue             a control was given a value it refuses (also a ValueError)
    ├── NotFound                 a control named something the mock does not hold
    │                            (a conversation, response, snapshot, route; also a KeyError)
    ├── UnmetExpectation         a journal assertion failed (also an AssertionError)
    ├── MockFailure              something failed inside the mock while a test ran
    │                            (also an AssertionError)
    ├── ConversationNotFound     a web route named a conversation the store does not
    │                            show; the app answers 404 (also a LookupError)
    └── ResponseMismatch         an answer breaks its own schema (validating mode only)

The admin API maps them to statuses by type: `NotFound` is a 404,
`UnmetExpectation` a 417, every other `MockGPTError` a 422; any other exception
is a bug in the mock, answered 500 with its traceback in `failures()`.

Bodies: the web backend speaks FastAPI (`{"detail": ...}`), the platform API
speaks `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

from typing import Any


class MockGPTError(Exception):
    """Base class of every error mockgpt raises."""


class ConfigError(MockGPTError, ValueError):
    """A configuration value is out of range."""


class InvalidValue(MockGPTError, ValueError):
    """A control (Python or admin API) was given a value it refuses; a 422 over HTTP."""


class NotFound(MockGPTError, KeyError):
    """A control named a conversation, response, snapshot or route the mock does not
    hold; a 404 over HTTP. A KeyError too, as a dict lookup of the same name would be."""

    def __str__(self) -> str:
        # KeyError quotes its argument; the message reads better as written.
        return str(self.args[0]) if self.args else "Not Found"


class UnmetExpectation(MockGPTError, AssertionError):
    """A journal assertion (`assert_called`, `last`) failed; a 417 over HTTP."""


class MockFailure(MockGPTError, AssertionError):
    """Something failed inside the mock while a test ran (a broken script, a handler error)."""


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
