"""The ASGI app: routing built from the catalogue, checks, and dispatch by kind.

`create_app(config)` builds one app; everything a request can change (the
store, clock, journal, overrides) hangs off the app, so two apps in one process
share no state. What the seed alone determines (its world and the rendered
answers) is built once per process and shared, so a new app costs well under
a millisecond.

A request goes: read the body (413 past the limit) → find the route (404, or
405 when only the method is wrong) → auth rule → query and body checks (422 on
the web backend, 400 on `/v1`) → the handler of the route's kind. Anything a
handler raises becomes a plain 500 body; no traceback reaches the client.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import random
import time
import traceback
from collections.abc import Awaitable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from mockgpt import errors
from mockgpt._resources import fixture_path
from mockgpt.accesslog import log_access
from mockgpt.auth import Authority
from mockgpt.catalogue import Catalogue, Route, load_catalogue
from mockgpt.celsius import Celsius, socket_path
from mockgpt.clock import Clock, SystemClock, VirtualClock
from mockgpt.config import Config
from mockgpt.errors import openai_error
from mockgpt.fakedata import Varier, world_now
from mockgpt.files import FileStore, StoredFile
from mockgpt.handlers import HANDLERS, auth_failure
from mockgpt.journal import Entry, Failures, Journal, Latency, Overrides, pause
from mockgpt.jsonparse import JsonLimits
from mockgpt.masking import mask_query
from mockgpt.openapi import document_answer
from mockgpt.platform import Platform
from mockgpt.render import Renderer
from mockgpt.replies import sample_texts
from mockgpt.responses import Prepared, json_response
from mockgpt.service import CONVERSATION_NOT_FOUND, ConversationService, IdFactory
from mockgpt.state import Call
from mockgpt.store import ConversationNotFound, ConversationStore
from mockgpt.validation import (
    Problem,
    body_problems,
    fastapi_detail,
    openai_error_body,
    path_problems,
    query_problems,
)

if TYPE_CHECKING:
    from mockgpt.replay import Recording
    from mockgpt.responses_api.service import ResponsesAPI

access_log = logging.getLogger("mockgpt.access")
error_log = logging.getLogger("mockgpt.error")

_NOT_FOUND = json_response(404, errors.NOT_FOUND)
SAMPLE_FIXTURE = "conversation/detail.json"
#: The sample file: the id and blob signature the catalogue's examples use, and its bytes.
SAMPLE_FILE_ID = "file-AbCdEf0123456789AbCdEf01"
SAMPLE_FILE_SIGNATURE = "bW9ja2dwdC1zYW1wbGUtZmlsZQ=="
SAMPLE_FILE_FIXTURE = "files/download.png"
#: Statsig's endpoints live under /v1 too but answer like the web backend.
_STATSIG_PATHS = frozenset({"/v1/rgstr", "/v1/initialize"})
_TOO_LARGE = json_response(413, errors.PAYLOAD_TOO_LARGE)
_INTERNAL = json_response(500, errors.INTERNAL_ERROR)
#: What a route about one conversation answers when the service finds none.
_CONVERSATION_NOT_FOUND = json_response(404, CONVERSATION_NOT_FOUND)


#: HTTP versions whose requests carry a body only when a header announces it.
_UNFRAMED_EMPTY = frozenset({"1.1", "1.0"})
#: Methods whose HTTP/1 requests are read only when they announce a body.
_BODILESS_METHODS = frozenset({"GET", "HEAD"})


class BodyTooLarge(Exception):
    """A request body is longer than the limit."""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; `BodyTooLarge` as soon as it is known to pass `limit`.

    An HTTP/1 GET or HEAD that announces neither a length nor chunks has no body, so
    it is not asked for (a round trip into the server per request); HTTP/2 frames a
    body without announcing it, so there (and for other methods, which a hand-built
    scope may send unannounced) the body is always read.
    """
    framed = (
        scope.get("http_version") not in _UNFRAMED_EMPTY
        or scope.get("method") not in _BODILESS_METHODS
    )
    for key, value in scope["headers"]:
        if key == b"content-length":
            framed = True
            try:
                if int(value) > limit:
                    raise BodyTooLarge
            except ValueError:
                pass
        elif key == b"transfer-encoding":
            framed = True
    if not framed:
        return b""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class MockApp:
    """The mockgpt ASGI application. Build it with `create_app`."""

    def __init__(self, config: Config, catalogue: Catalogue, clock: Clock | None = None) -> None:
        self.config = config
        self.catalogue = catalogue
        self.varier, self.renderer = _seed_world(config)
        self.clock: Clock = clock or (
            VirtualClock(self.varier.now().timestamp())
            if config.clock == "virtual"
            else SystemClock(self.varier.now().timestamp())
        )
        ident = self.varier.identity
        self.authority = Authority(
            seed=config.seed,
            clock=self.clock,
            user_id=self.varier.text(ident["user_id"]),
            email=lambda: self.varier.person.email,
            account_id=self.varier.text(ident["account_id"]),
            policy=config.auth,
            sentinel=config.sentinel,
            difficulty=config.pow_difficulty,
            account=config.account,
            kept_tokens=config.kept_tokens,
        )
        self.conversations = ConversationService(
            seed=config.seed,
            clock=self.clock,
            new_id=IdFactory(config.seed),
            authority=self.authority,
            pace=config.pace,
            id_version=config.id_version,
        )
        self.conversations.store.bound(config.max_conversations, config.conversation_bytes)
        self.files = FileStore(
            seed=config.seed, max_files=config.max_files, max_bytes=config.file_bytes
        )
        self.platform = Platform(
            config=config,
            clock=self.clock,
            authority=self.authority,
            conversations=self.conversations,
            renderer=self.renderer,
            created=self.varier.now().timestamp(),
        )
        self._responses_api: ResponsesAPI | None = None
        self.journal = Journal(
            config.journal_entries,
            max_bytes=config.journal_bytes,
            body_bytes=config.journal_body_bytes,
        )
        #: Tracebacks of errors raised inside handlers (the pytest plugin fails the test).
        self.failures = Failures(config.kept_failures)
        self.json_limits = JsonLimits(config.json_max_depth, config.json_max_int_digits)
        self.celsius = Celsius(
            seed=config.seed,
            clock=self.clock,
            authority=self.authority,
            conversations=self.conversations,
            json_limits=self.json_limits,
        )
        self.overrides = Overrides()
        #: Extra time before answers, by route key or `"*"` for every request.
        self.latencies: dict[str, Latency] = {}
        if config.latency is not None:
            self.latencies["*"] = Latency.of(config.latency)
        self._latency_rng = random.Random(f"{config.seed}\x1flatency")
        if config.sample_conversations:
            self._load_samples(config.sample_conversations)
        #: Methods of the paths served outside the catalogue (`add_meta`).
        self._fixed: dict[str, frozenset[str]] = {}
        self._meta: dict[tuple[str, str], Prepared] = {}
        #: The answers of a recording in the fixtures folder (`mockgpt record`), if any.
        self.recording: Recording | None = None
        if config.fixtures is not None:
            from mockgpt.replay import load_recording  # lazy: only a fixtures folder has one

            self.recording = load_recording(config.fixtures)
        missing = catalogue.kinds - HANDLERS.keys()
        if missing:
            raise errors.MockGPTError(f"no handler for route kinds {sorted(missing)}")

    def _load_samples(self, count: int) -> None:
        """The sample file now; the sample conversations when the store is first looked
        at (their titles and answers come from the reply corpus, which a start and a GET
        of anything else need not wait for)."""
        self._load_sample_file()
        fill = partial(_fill_samples, self.renderer, self.varier, self.config.seed, count)
        self.conversations.fill_later(fill)

    def _load_sample_file(self) -> None:
        """The image the catalogue's file examples name, uploaded, so they answer as documented."""
        now = self.varier.now().timestamp()
        sample = StoredFile(
            id=self.varier.text(SAMPLE_FILE_ID),
            name="image.png",
            declared_size=0,
            use_case="multimodal",
            created=now - 3600,
            signature=SAMPLE_FILE_SIGNATURE,
            mime_type="image/png",
            data=fixture_path(SAMPLE_FILE_FIXTURE, self.config.fixtures).read_bytes(),
        )
        sample.declared_size = len(sample.data or b"")
        self.files.add(sample)

    def copy(self) -> MockApp:
        """An independent app in this one's exact state (for snapshots).

        The parts that never change after start (catalogue, routing tables, the
        seeded renderer) are shared; everything a request can change is copied.
        """
        shared = (
            self.catalogue,
            self.config,
            self.varier,
            self.renderer,
            self._fixed,
            self._meta,
        )
        return copy.deepcopy(self, {id(part): part for part in shared})

    @property
    def responses_api(self) -> ResponsesAPI:
        """The Responses API, built by the first call that uses it: its encoding and
        the stream engine are then loaded, not at start for a GET that needs neither."""
        if self._responses_api is None:
            from mockgpt.responses_api.service import ResponsesAPI  # lazy: as the property says

            self._responses_api = ResponsesAPI(
                config=self.config,
                clock=self.clock,
                authority=self.authority,
                conversations=self.conversations,
                renderer=self.renderer,
                platform=self.platform,
            )
        return self._responses_api

    def add_meta(self, method: str, path: str, response: Prepared) -> None:
        """Serve a fixed answer on a path outside the catalogue (`/openapi.json`)."""
        self._meta[(method, path)] = response
        self._fixed[path] = self._fixed.get(path, frozenset()) | {method}

    # -- routing ----------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], set[str]]:
        """The route for a request, its path parameters, and the methods the path allows."""
        return self.catalogue.router.match(method, path, self._fixed)

    # -- ASGI -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if not self.config.log_requests:
                await self._http(scope, receive, send)
                return
            # The access line, written here rather than in a wrapper: one coroutine less.
            started = time.perf_counter()
            noted: list[Entry] = []
            status = 0
            try:
                status = await self._http(scope, receive, send, noted)
            finally:
                if not status and noted:
                    status = noted[0].status  # cut short: the status sent, if any
                query = scope.get("query_string", b"")
                target = scope["path"] + (
                    f"?{mask_query(query.decode('latin-1'))}" if query else ""
                )
                log_access(scope["method"], target, status, (time.perf_counter() - started) * 1000)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            if socket_path(scope["path"]) is None:
                await send({"type": "websocket.close", "code": 1008})
            else:
                await self.celsius.serve(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.conversations.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, noted: list[Entry] | None = None
    ) -> int:
        """Answer one request; the status sent (0: none). `noted` gets the journal entry."""
        method, path = scope["method"], scope["path"]
        platform = path.startswith("/v1/") and path not in _STATSIG_PATHS
        try:
            body = await read_body(scope, receive, self.config.max_body_bytes)
        except BodyTooLarge:
            too_large = (
                self.platform.error(413, openai_error("Request too large."))
                if platform
                else _TOO_LARGE
            )
            await too_large(scope, receive, send)
            return too_large.status
        meta = self._meta.get((method, path))
        if meta is not None:
            await meta(scope, receive, send)
            return meta.status
        route, params, allowed = self.match(method, path)
        entry = Entry(
            method,
            path,
            scope.get("query_string", b"").decode("latin-1"),
            {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body,
            self.clock.now(),
            route.key if route is not None else None,
        )
        self.journal.record(entry)
        if noted is not None:
            noted.append(entry)
        send = _watching(send, entry)
        if self.latencies:
            rule = self.latencies.get(entry.route or "") or self.latencies.get("*")
            wait = rule.draw(self._latency_rng) if rule is not None else 0.0
            if not await pause(self.clock, wait, receive):
                return 0  # the client left while waiting: nobody to answer
        if route is not None:
            override = self.overrides.take(route.key)
            if override is not None:
                await override.respond(self.clock, scope, receive, send)
                return entry.status
        if self.recording is not None and await self._replayed(entry, scope, receive, send):
            return entry.status
        if route is None:
            allow = [("allow", ", ".join(sorted(allowed)))]
            if platform:
                # The platform names the request it could not route, in its own error shape.
                miss = self.platform.invalid_url(method, path, 405 if allowed else 404)
                miss.headers.extend((k.encode(), v.encode()) for k, v in allow if allowed)
                await miss(scope, receive, send)
            elif allowed:
                await json_response(405, errors.METHOD_NOT_ALLOWED, allow)(scope, receive, send)
            else:
                await _NOT_FOUND(scope, receive, send)
            return entry.status
        try:
            response = await self._answer(route, scope, params, body)
        except ConversationNotFound:
            response = _CONVERSATION_NOT_FOUND
        except Exception:
            error_log.exception("handler for %s failed", route.key)
            self.failures.append(f"{route.key}:\n{traceback.format_exc()}")
            response = (
                self.platform.error(
                    500,
                    openai_error(
                        "The server had an error while processing your request. Sorry about that!",
                        type_="server_error",
                    ),
                )
                if route.platform
                else _INTERNAL
            )
        try:
            await response(scope, receive, send)
        except OSError:
            pass  # the client went away mid-answer
        except Exception:
            # The answer had started: all that can be done is to cut it and report.
            error_log.exception("answer of %s failed", route.key)
            self.failures.append(f"{route.key}:\n{traceback.format_exc()}")
        return entry.status

    async def _replayed(self, entry: Entry, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer from the recording; False to leave the request to the catalogue."""
        assert self.recording is not None
        take = self.recording.take(entry.method, entry.path, entry.query)
        if take is None:
            if not self.config.replay_strict:
                return False
            platform = entry.path.startswith("/v1/") and entry.path not in _STATSIG_PATHS
            missing = (
                self.platform.invalid_url(entry.method, entry.path, 404) if platform else _NOT_FOUND
            )
            await missing(scope, receive, send)
            return True
        entry.recorded = True
        with contextlib.suppress(OSError):  # the client went away mid-answer
            await take.answer(self.clock, self.config.replay_speed, receive, send)
        return True

    async def _answer(self, route: Route, scope: Scope, params: dict[str, str], body: bytes) -> Any:
        headers = Headers(scope=scope)
        denied = auth_failure(self, route, headers)
        if denied is not None:
            return denied
        raw_query = scope.get("query_string", b"")
        query = parse_qs(raw_query.decode("latin-1"), keep_blank_values=True) if raw_query else {}
        problems: list[Problem] = path_problems(route.params, params) if params else []
        if route.query:
            problems += query_problems(route.query, query)
        parsed: Any = None
        if route.request is not None and not problems:
            parsed, problems = body_problems(
                route.request, body, optional=route.request_optional, limits=self.json_limits
            )
        if problems:
            if route.platform:
                return self.platform.error(400, openai_error_body(problems[0]))
            return json_response(422, fastapi_detail(problems))
        call = Call(self, route, scope, params, query, headers, body, parsed)
        return await HANDLERS[route.kind](call)


def _watching(send: Send, entry: Entry) -> Send:
    """A `send` that notes the answer's status in the journal entry."""

    def watched(message: Message) -> Awaitable[None]:
        # A plain function handing back send's awaitable: no extra coroutine per event.
        if message["type"] == "http.response.start":
            entry.status = message["status"]
        return send(message)

    return watched


def _seed_world(config: Config) -> tuple[Varier, Renderer]:
    """The seed's varier and renderer: built once per process and shared by every app
    on the same settings (both only ever cache what the seed determines), so that a
    reset costs no Faker set-up and no re-rendering. A fixtures folder may change
    between resets, so apps reading one get their own."""
    now = world_now(config)
    if config.fixtures is not None or (config.now is None and config.clock == "system"):
        # a folder's files, or the wall time at start, make this world its own
        varier = Varier(config.seed, now=now)
        return varier, Renderer(
            varier, validate=config.validate_responses, fixtures=config.fixtures
        )
    return _shared_world(config.seed, config.validate_responses, now)


@functools.lru_cache(maxsize=16)
def _shared_world(seed: int, validate: bool, now: datetime | None) -> tuple[Varier, Renderer]:
    varier = Varier(seed, now=now)
    return varier, Renderer(varier, validate=validate)


def _fill_samples(
    renderer: Renderer, varier: Varier, seed: int, count: int, store: ConversationStore
) -> None:
    """The canonical fixture conversation, then generated ones, for a realistic sidebar."""
    store.load_detail(renderer.document(SAMPLE_FIXTURE))
    if count > 1:
        texts = sample_texts(seed, skip=len(varier.identity["titles"]))
        store.seed_samples(
            count - 1,
            rng=random.Random(f"{seed}\x1fsamples"),
            texts=texts,
            now=varier.now().timestamp(),
        )


def create_app(
    config: Config | None = None,
    *,
    catalogue: Catalogue | None = None,
    clock: Clock | None = None,
) -> MockApp:
    """Build a mockgpt app. Each call gives an independent app with its own state."""
    app = MockApp(config or Config(), catalogue or load_catalogue(), clock)
    app.add_meta("GET", "/openapi.json", _OpenAPIAnswer(app.catalogue))
    return app


class _OpenAPIAnswer(Prepared):
    """`GET /openapi.json` of a bare app: the answer `mockgpt.openapi.document_answer`
    renders and keeps, looked up at the first request so that start-up stays short."""

    __slots__ = ("catalogue",)

    def __init__(self, catalogue: Catalogue) -> None:
        super().__init__(200)
        self.catalogue = catalogue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await document_answer(self.catalogue)(scope, receive, send)
