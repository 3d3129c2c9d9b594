"""`MockGPT`: one mock, controlled from Python.

    with MockGPT() as mock:                          # a live server on a free port
        mock.reply("Hello from the mock!")             # the next turn's answer
        mock.on("GET /backend-api/me").respond(status=500, json={"detail": "boom"})
        ...run the client against mock.url...
        mock.assert_called("POST /backend-api/conversation", times=1)

The controller is itself the ASGI app the server runs and forwards to its
current `MockApp`, so `reset()` swaps in a fresh app (exactly the state of a
new one) and `restore()` a copied one, without restarting the server. Requests
under `/__mockgpt__/` go to the admin API, which calls these same methods.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from starlette.types import Receive, Scope, Send

from mockgpt.admin import PREFIX as ADMIN_PREFIX
from mockgpt.admin import AdminAPI
from mockgpt.app import MockApp, create_app
from mockgpt.clock import VirtualClock
from mockgpt.config import Config
from mockgpt.errors import InvalidValue, MockFailure, MockGPTError, NotFound, UnmetExpectation
from mockgpt.journal import Entry, FaultName, Latency, Override, contains, json_diff, nearest
from mockgpt.scripts import Script, load_script
from mockgpt.server import LiveServer
from mockgpt.stubs import Lifetime

if TYPE_CHECKING:  # httpx is imported when a client is asked for, not at start-up
    import httpx

__all__ = [
    "ADMIN_PREFIX",
    "MockFailure",
    "MockGPT",
    "RouteControl",
    "Snapshot",
    "Usage",
    "settings_json",
]


class RouteControl:
    """One catalogue route (or `"*"` for all), respx-style: stubs that replace its
    answers, and the requests that reached it.

    Stubs follow one lifetime rule (`mockgpt.stubs`): each answers `times`
    requests (None: until reset), in the order they were registered.
    """

    def __init__(self, mock: MockGPT, key: str) -> None:
        self._mock = mock
        self.key = key

    @property
    def calls(self) -> list[Entry]:
        """The journal's entries for this route (every entry for `"*"`), oldest first."""
        return self._mock.calls(None if self.key == "*" else self.key)

    @property
    def call_count(self) -> int:
        """How many requests reached this route (as far as the journal keeps them)."""
        return len(self.calls)

    @property
    def called(self) -> bool:
        """Whether any request reached this route."""
        return self.call_count > 0

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
        lifetime = Lifetime(times)
        answer = Override.of(status=status, json=json, text=text, headers=headers, delay=delay)
        self._mock.app.overrides.add(self.key, answer, lifetime)
        return self

    def sequence(self, *answers: dict[str, Any]) -> RouteControl:
        """Answer the next requests with these, in order (each a `respond` keyword dict)."""
        for answer in answers:
            self.respond(**answer)
        return self

    def fail(self, fault: FaultName, *, times: int | None = 1, delay: float = 0.0) -> RouteControl:
        """Break the next requests: `reset` (no answer), `empty` or `malformed` body."""
        lifetime = Lifetime(times)
        self._mock.app.overrides.add(self.key, Override.of(fault=fault, delay=delay), lifetime)
        return self

    def latency(
        self, seconds: float | tuple[float, float] | None, *, spread: str = "uniform"
    ) -> RouteControl:
        """Delay every answer of this route by `seconds`, or by a draw between two bounds
        (`spread` "uniform" or "normal"); None removes the delay. The answer is unchanged."""
        if seconds is None:
            self._mock.app.latencies.pop(self.key, None)
        else:
            self._mock.app.latencies[self.key] = Latency.of(seconds, spread)
        return self


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole state of a mock at one moment, for `MockGPT.restore`."""

    name: str
    app: MockApp
    time: float


@dataclass(frozen=True, slots=True)
class Usage:
    """What the bounded stores hold now, each beside the `Config` limit it counts
    against, so a test (or a long-running server's watcher) can check the bounds."""

    #: Requests the journal keeps (`journal_entries`) and roughly their bytes (`journal_bytes`).
    journal_entries: int
    journal_bytes: int
    #: Conversations kept, deleted ones not yet forgotten too (`max_conversations`), and
    #: the bytes of client messages they hold (`conversation_bytes`).
    conversations: int
    conversation_bytes: int
    #: Uploaded files (`max_files`) and their bytes (`file_bytes`).
    files: int
    file_bytes: int


class MockGPT:
    """The Python control surface over one mock app."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        app: MockApp | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.config = config or (app.config if app is not None else Config(clock="virtual"))
        self.app = app or create_app(self.config)
        self._server: LiveServer | None = None
        #: Named snapshots, kept across `reset()` (the admin API restores them by name).
        self.snapshots: dict[str, Snapshot] = {}
        self.admin = AdminAPI(self, token=admin_token)

    # -- serving -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith(ADMIN_PREFIX):
                await self.admin(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> MockGPT:
        if self._server is None:
            self.admin.listen_on(host)
            self._server = LiveServer(
                self,
                host=host,
                port=port,
                header_timeout=self.config.header_timeout,
                body_timeout=self.config.body_timeout,
            ).start()
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

    def client(self, *, in_process: bool = False, **options: Any) -> httpx.Client:
        """An httpx client on the live server, or (`in_process=True`) one that calls the
        app directly with no socket, for the fastest tests; options go to `httpx.Client`."""
        import httpx

        from mockgpt.transport import InProcessTransport  # lazy: it loads httpx

        if in_process:
            options.setdefault("base_url", "http://mockgpt.test")
            return httpx.Client(transport=InProcessTransport(self), **options)
        return httpx.Client(base_url=self.url, **options)

    def async_client(self, *, in_process: bool = False, **options: Any) -> httpx.AsyncClient:
        """The same as `client`, for async tests (anyio or pytest-asyncio)."""
        import httpx

        if in_process:
            options.setdefault("base_url", "http://mockgpt.test")
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=self), **options)
        return httpx.AsyncClient(base_url=self.url, **options)

    def test_client(self, **options: Any) -> httpx.Client:
        """`client(in_process=True)`: calls the app in-process, with no socket."""
        return self.client(in_process=True, **options)

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

    def load(self, source: str | Path | dict[str, Any] | list[Any]) -> list[Script]:
        """Queue every script of a script file (or of its parsed JSON)."""
        scripts = load_script(source)
        self.queue(*scripts)
        return scripts

    def pending_scripts(self) -> int:
        """How many queued scripts still wait for a turn."""
        return self.app.conversations.book.pending

    def clear_scripts(self) -> None:
        """Forget every queued and matching script."""
        self.app.conversations.book.reset()

    def on(self, key: str) -> RouteControl:
        """Overrides for the catalogue route `key` ("METHOD /path/template") or "*"."""
        if key != "*":
            known = [route.key for route in self.app.catalogue]
            if key not in known:
                close = ", ".join(nearest(key, known)) or "none"
                raise NotFound(f"no catalogue route {key!r}; nearest: {close}")
        return RouteControl(self, key)

    def overrides(self) -> list[dict[str, Any]]:
        """The overrides still queued, and the latencies, route by route."""
        answers = self.app.overrides.listing()
        delays = [
            {"route": key, "latency": rule.to_json()} for key, rule in self.app.latencies.items()
        ]
        return answers + delays

    def clear_overrides(self) -> None:
        """Drop every override, fault and latency (the routes answer as documented again)."""
        self.app.overrides.clear()
        self.app.latencies.clear()

    # -- the journal -----------------------------------------------------------------

    def calls(
        self,
        key: str | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        since: int = 0,
    ) -> list[Entry]:
        """Requests received, oldest first: all, or by route key ("METHOD /template" or
        "METHOD /actual/path"), method, exact path, answer status, journal index."""
        return self.app.journal.select(key, method=method, path=path, status=status, since=since)

    def unmatched(self) -> list[Entry]:
        """Requests that matched no documented route."""
        return self.app.journal.unmatched()

    def clear_journal(self) -> None:
        self.app.journal.clear()

    def last(self, key: str | None = None) -> Entry:
        found = self.calls(key)
        if not found:
            raise UnmetExpectation(self._journal_message(key, "no request", None))
        return found[-1]

    def assert_called(self, key: str, times: int | None = None, *, json: Any = None) -> list[Entry]:
        """Fail, listing what was received, unless `key` was called (exactly `times` times).

        With `json`, the last call's JSON body must hold it (every key of an expected
        object, recursively; other values equal); a failure shows the diff.
        """
        found = self.calls(key)
        if (times is None and not found) or (times is not None and len(found) != times):
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise UnmetExpectation(self._journal_message(key, f"expected {wanted}", len(found)))
        if json is not None:
            if not found:
                raise UnmetExpectation(f"{key}: no call whose body could hold the expected JSON")
            body = found[-1].json()
            if not contains(json, body):
                raise UnmetExpectation(
                    f"{key}: the last call's body does not hold the expected JSON\n"
                    + json_diff(json, body)
                )
        return found

    def assert_not_called(self, key: str) -> None:
        self.assert_called(key, times=0)

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

    def conversations(self) -> list[dict[str, Any]]:
        """The stored conversations, most recent first, as the history list shows them."""
        service = self.app.conversations
        service.sync_live()
        return [service.store.item(c) for c in service.store.visible()]

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        """One stored conversation with its whole message tree (the detail body)."""
        service = self.app.conversations
        found = service.store.get(conversation_id)
        if found is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return service.store.detail(service.sync(found))

    def responses(self) -> list[dict[str, Any]]:
        """The stored `/v1/responses` responses, newest first: id, status, model, thread."""
        return self.app.responses_api.summaries()

    def response(self, response_id: str) -> dict[str, Any]:
        """One stored response as a GET sees it now, with its input items."""
        if self.app.responses_api.find(response_id) is None:
            raise NotFound(f"no response {response_id!r}")
        return self.app.responses_api.snapshot(response_id)

    def turns(self) -> list[dict[str, Any]]:
        """The latest turn of each conversation the mock keeps events for, oldest first.

        A turn whose client left is still `live` until it is done (`unread`
        while nobody reads it); `sent` of `made` events count what exists so far.
        """
        return self.app.conversations.turn_states()

    def sockets(self) -> list[dict[str, Any]]:
        """The open WebSockets: their user, subscribed topics, presence and unsent frames."""
        return self.app.celsius.state()

    def quotas(self) -> dict[str, Any]:
        """Feature quotas and the model message cap, on the mock's clock."""
        cap = self.app.authority.message_cap()
        return {
            "features": self.app.authority.limits_progress(),
            "message_cap": {
                "limit": cap.limit,
                "remaining": cap.remaining,
                "reset_interval_minutes": cap.reset_interval_minutes,
            },
        }

    def tokens(self) -> dict[str, list[str]]:
        """Access tokens and sentinel tokens this mock has issued, oldest first."""
        authority = self.app.authority
        return {
            "access_tokens": list(authority.issued),
            "sentinel_tokens": [*authority.grants, *authority.prepared],
        }

    def now(self) -> float:
        """The mock's time, in seconds since the epoch."""
        return self.app.clock.now()

    def clock(self) -> dict[str, Any]:
        """The mock's clock: its kind, its time in epoch seconds and in ISO 8601."""
        now = self.now()
        return {
            "kind": "virtual" if isinstance(self.app.clock, VirtualClock) else "system",
            "now": now,
            "iso": datetime.fromtimestamp(now, UTC).isoformat(),
        }

    def usage(self) -> Usage:
        """How much the journal, the conversation store and the file store hold now;
        `state()` reports the same figures under `"usage"`."""
        journal, store, files = self.app.journal, self.app.conversations.store, self.app.files
        return Usage(
            journal_entries=len(journal),
            journal_bytes=journal.bytes,
            conversations=store.kept,
            conversation_bytes=store.kept_bytes,
            files=len(files),
            file_bytes=files.stored_bytes,
        )

    def kept_snapshots(self) -> list[dict[str, Any]]:
        """The named snapshots, oldest first: name and the mock's time when taken."""
        return [{"name": name, "time": kept.time} for name, kept in self.snapshots.items()]

    def state(self) -> dict[str, Any]:
        """A summary of everything the mock holds."""
        return {
            "seed": self.config.seed,
            "clock": self.clock(),
            "settings": settings_json(self.config),
            "conversations": len(self.app.conversations.store),
            "responses": len(self.app.responses_api.stored),
            "files": {"count": len(self.app.files), "bytes": self.app.files.stored_bytes},
            "pending_scripts": self.pending_scripts(),
            "overrides": self.overrides(),
            "journal": len(self.app.journal),
            "quotas": self.quotas(),
            # Counts only: the tokens themselves are at `tokens()`, so the summary stays small.
            "tokens": {
                "access_tokens": len(self.app.authority.issued),
                "sentinel_tokens": len(self.app.authority.grants)
                + len(self.app.authority.prepared),
            },
            "snapshots": sorted(self.snapshots),
            "failures": len(self.app.failures),
            "usage": dataclasses.asdict(self.usage()),
        }

    def reset(self, config: Config | None = None) -> None:
        """Back to the state of a fresh app (optionally with other settings)."""
        if config is not None:
            self.config = config
        self.app = create_app(self.config)

    def with_settings(self, **changes: Any) -> Config:
        """This mock's config with some fields changed (for `reset`)."""
        return dataclasses.replace(self.config, **changes)

    def snapshot(self, name: str | None = None) -> Snapshot:
        """The whole state now (conversations, scripts, overrides, journal, quotas,
        tokens, clock), kept under `name` when given; `restore` puts it back."""
        if self.app.conversations.turns and any(
            turn.live for turn in self.app.conversations.turns.values()
        ):
            raise MockGPTError("cannot take a snapshot while a stream is still running")
        if name and name not in self.snapshots and len(self.snapshots) >= self.config.max_snapshots:
            raise MockGPTError(
                f"{len(self.snapshots)} snapshots are kept already (max_snapshots); "
                "drop one before taking another"
            )
        taken = Snapshot(name or "", self.app.copy(), self.now())
        if name:
            self.snapshots[name] = taken
        return taken

    def restore(self, snapshot: Snapshot | str) -> None:
        """Go back to a snapshot (or a named one); it can be restored again later."""
        if isinstance(snapshot, str):
            if snapshot not in self.snapshots:
                raise NotFound(f"no snapshot named {snapshot!r}")
            snapshot = self.snapshots[snapshot]
        self.app = snapshot.app.copy()
        self.config = self.app.config

    def advance(self, seconds: float) -> None:
        """Move the mock's clock forward (virtual clock only)."""
        clock = self.app.clock
        if not isinstance(clock, VirtualClock):
            raise MockGPTError("advance() needs Config(clock='virtual')")
        if not 0 <= seconds <= 100 * 365 * 86400:
            raise InvalidValue("advance() takes 0 to 100 years of seconds")
        clock.advance(seconds)

    def files(self) -> list[dict[str, Any]]:
        """The uploaded files, oldest first: id, name, type, sizes, whether the bytes are in."""
        return self.app.files.summaries()

    def failures(self) -> list[str]:
        """Tracebacks of errors raised inside the mock since the last reset."""
        return list(self.app.failures)

    def raise_failures(self) -> None:
        found = self.failures()
        if found:
            raise MockFailure("the mock failed while handling a request:\n" + "\n".join(found))

    def set_session(self, state: Literal["active", "logged_out", "expired"]) -> None:
        """What `/api/auth/session` answers until the next reset: the signed-in session
        (`active`), `{}` as after a sign-out, or the expired-session error, so a test can
        walk a client through its sign-in paths without a real login."""
        if state not in ("active", "logged_out", "expired"):
            raise ValueError(f"no session state {state!r}: active, logged_out or expired")
        self.app.authority.session_state = state


def settings_json(config: Config) -> dict[str, Any]:
    """A config as JSON (tuples as lists), the shape the admin API's reset takes."""
    return {
        field.name: list(value) if isinstance(value, tuple) else value
        for field in dataclasses.fields(config)
        for value in [getattr(config, field.name)]
    }
