"""`MockGPT`: one mock, controlled from Python.

    with MockGPT() as mock:                          # a live server on a free port
        mock.reply("Hello from the mock!")             # the next turn's answer
        mock.on("GET /backend-api/me").respond(status=500, json={"detail": "boom"})
        ...run the client against mock.url...
        mock.assert_called("POST /backend-api/conversation", times=1)

The controller is itself the ASGI app the server runs and forwards to its
current `MockApp`, so `reset()` swaps in a fresh app (exactly the state of a
new one) without restarting the server.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import TracebackType
from typing import Any

from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from mockgpt.app import MockApp, create_app
from mockgpt.clock import VirtualClock
from mockgpt.config import Config
from mockgpt.errors import MockGPTError
from mockgpt.journal import Entry, FaultName, Override, nearest
from mockgpt.scripts import Script, load_script
from mockgpt.server import LiveServer


class MockFailure(MockGPTError, AssertionError):
    """Something failed inside the mock while a test ran (a broken script, a handler error)."""


class RouteControl:
    """Overrides for one catalogue route (or `"*"` for all), respx-style."""

    def __init__(self, mock: MockGPT, key: str) -> None:
        self._mock = mock
        self.key = key

    def respond(
        self,
        status: int = 200,
        *,
        json: Any = None,
        text: str | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        times: int | None = 1,
    ) -> RouteControl:
        """Answer the next `times` requests (None: all of them until reset) with this."""
        answer = Override.of(
            status=status, json=json, text=text, headers=headers, delay=delay, times=times
        )
        self._mock.app.overrides.add(self.key, answer)
        return self

    def sequence(self, *answers: dict[str, Any]) -> RouteControl:
        """Answer the next requests with these, in order (each a `respond` keyword dict)."""
        for answer in answers:
            self.respond(**answer)
        return self

    def fail(self, fault: FaultName, *, times: int | None = 1, delay: float = 0.0) -> RouteControl:
        """Break the next requests: `reset` (no answer), `empty` or `malformed` body."""
        self._mock.app.overrides.add(self.key, Override.of(fault=fault, times=times, delay=delay))
        return self


class MockGPT:
    """The Python control surface over one mock app."""

    def __init__(self, config: Config | None = None, *, app: MockApp | None = None) -> None:
        self.config = config or (app.config if app is not None else Config(clock="virtual"))
        self.app = app or create_app(self.config)
        self._server: LiveServer | None = None

    # -- serving -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> MockGPT:
        if self._server is None:
            self._server = LiveServer(self, host=host, port=port).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> MockGPT:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The root URL of the running server."""
        if self._server is None:
            raise MockGPTError("the mock is not serving: call start() or use it in a with block")
        return self._server.url

    @property
    def backend_url(self) -> str:
        return f"{self.url}/backend-api/"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def client(self, **options: Any) -> Any:
        """An httpx client on the live server."""
        import httpx

        return httpx.Client(base_url=self.url, **options)

    def test_client(self) -> TestClient:
        """A client that calls the app in-process, with no socket (the fastest tests)."""
        return TestClient(self)

    # -- scripting -----------------------------------------------------------------

    def reply(self, text: str | None = None, **fields: Any) -> Script:
        """Queue the next turn's answer (web or `/v1`); fields as in a script file."""
        script = Script.from_dict({"text": text, **fields} if text is not None else fields)
        self.app.conversations.book.queue(script)
        return script

    def queue(self, *scripts: Script) -> None:
        self.app.conversations.book.queue(*scripts)

    def match(self, script: Script, **rules: Any) -> None:
        """Answer turns whose prompt (substring or regex) or model match, with `script`."""
        self.app.conversations.book.match(script, **rules)

    def load(self, source: str | Path) -> list[Script]:
        """Queue every script of a script file."""
        scripts = load_script(source)
        self.queue(*scripts)
        return scripts

    def on(self, key: str) -> RouteControl:
        """Overrides for the catalogue route `key` ("METHOD /path/template") or "*"."""
        if key != "*":
            known = [route.key for route in self.app.catalogue]
            if key not in known:
                close = ", ".join(nearest(key, known)) or "none"
                raise KeyError(f"no catalogue route {key!r}; nearest: {close}")
        return RouteControl(self, key)

    # -- the journal -----------------------------------------------------------------

    def calls(self, key: str | None = None) -> list[Entry]:
        """Requests received, all of them or those of one route."""
        return self.app.journal.calls(key)

    def last(self, key: str | None = None) -> Entry:
        found = self.calls(key)
        if not found:
            raise AssertionError(self._journal_message(key, "no request", None))
        return found[-1]

    def assert_called(self, key: str, times: int | None = None) -> list[Entry]:
        """Fail, listing what was received, unless `key` was called (exactly `times` times)."""
        found = self.calls(key)
        if (times is None and not found) or (times is not None and len(found) != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(self._journal_message(key, f"expected {wanted}", len(found)))
        return found

    def _journal_message(self, key: str | None, wanted: str, got: int | None) -> str:
        lines = [f"{key or 'any route'}: {wanted}, got {got if got is not None else 0}"]
        lines.append("received:")
        for entry in self.app.journal:
            lines.append(f"  {entry.key} -> {entry.status} ({entry.route or 'no route'})")
        if key is not None:
            close = nearest(key, [route.key for route in self.app.catalogue])
            lines.append(f"nearest documented routes: {', '.join(close) or 'none'}")
        return "\n".join(lines)

    # -- state -----------------------------------------------------------------------

    def reset(self, config: Config | None = None) -> None:
        """Back to the state of a fresh app (optionally with other settings)."""
        if config is not None:
            self.config = config
        self.app = create_app(self.config)

    def with_settings(self, **changes: Any) -> Config:
        """This mock's config with some fields changed (for `reset`)."""
        return dataclasses.replace(self.config, **changes)

    def advance(self, seconds: float) -> None:
        """Move the mock's clock forward (virtual clock only)."""
        clock = self.app.clock
        if not isinstance(clock, VirtualClock):
            raise MockGPTError("advance() needs Config(clock='virtual')")
        clock.advance(seconds)

    def failures(self) -> list[str]:
        """Tracebacks of errors raised inside the mock since the last reset."""
        return list(self.app.failures)

    def raise_failures(self) -> None:
        found = self.failures()
        if found:
            raise MockFailure("the mock failed while handling a request:\n" + "\n".join(found))
