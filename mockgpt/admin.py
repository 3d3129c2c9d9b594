"""The admin API: the controller's methods over HTTP, under `/__mockgpt__/`.

Every endpoint calls the `MockGPT` method of the same name, so a test written
in any language gets exactly what a Python test gets. `ENDPOINTS` is the one
table from method and path to handler: the router, the OpenAPI document and the
tests all read it. Bodies are JSON, checked against `schemas/admin/*.json`;
errors are FastAPI-shaped (`{"detail": ...}`) and chosen by the mock's own
exception types (see `mockgpt.errors`): 422 for a body that breaks its schema or
a value the mock refuses, 404 for an unknown conversation, response or snapshot,
417 for a failed journal assertion. Any other exception is a bug in the mock: a
500, with its traceback in `failures()`.

Who may call it is decided in `mockgpt.admin_access`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from mockgpt import errors
from mockgpt.admin_access import AdminAccess, json_media
from mockgpt.app import BodyTooLarge, read_body
from mockgpt.errors import InvalidValue, MockGPTError, NotFound, UnmetExpectation
from mockgpt.inspector import inspector_page
from mockgpt.journal import FAULTS
from mockgpt.openapi import document_answer
from mockgpt.patterns import PatternError, PromptPattern
from mockgpt.responses import Prepared, json_response
from mockgpt.scripts import ScriptError, load_script
from mockgpt.validation import Problem, body_problems, fastapi_detail

if TYPE_CHECKING:
    from mockgpt.controls import Controls, RouteControls

PREFIX = "/__mockgpt__"
error_log = logging.getLogger("mockgpt.error")
#: Admin bodies are small; anything bigger is a mistake.
MAX_BODY = 4 * 1024 * 1024
_NOT_JSON = json_response(
    415,
    errors.detail(
        "Unsupported Media Type: admin request bodies must be sent with "
        "Content-Type: application/json."
    ),
)


@dataclass(slots=True)
class AdminRequest:
    params: dict[str, str]
    query: dict[str, str]
    body: Any


#: A handler takes the checked request and gives the JSON document of a success (sent
#: with the endpoint's status), or a whole answer.
Handler = Callable[["AdminAPI", AdminRequest], Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One admin operation: what it does, where, the schema of its body, and the
    handler that serves it (named here, so that every handler has a visible caller)."""

    method: str
    path: str
    handler: Handler
    summary: str
    body: str | None = None
    body_optional: bool = False
    query: tuple[str, ...] = ()
    status: int = 200
    #: Where the body holds scripts ("": the body is a script file's content).
    scripts: str | None = None

    @property
    def name(self) -> str:
        """The operation's name (its OpenAPI operationId ends with it)."""
        return self.handler.__name__.lstrip("_")

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


class AdminAPI(AdminAccess):
    """Serves `ENDPOINTS` for one controller."""

    def __init__(self, mock: Controls, *, token: str | None = None) -> None:
        super().__init__(token)
        self.mock = mock
        self._table = [(endpoint, endpoint.pattern) for endpoint in ENDPOINTS]

    # -- dispatch ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._respond(scope, receive)
        await response(scope, receive, send)

    async def _respond(self, scope: Scope, receive: Receive) -> Prepared:
        path = scope["path"][len(PREFIX) :] or "/"
        method = scope["method"]
        # The inspector page holds no state: it loads without the token, then sends it.
        refused = self.refusal(scope, needs_token=not (path == "/" and method == "GET"))
        if refused is not None:
            return refused
        allowed: set[str] = set()
        for endpoint, pattern in self._table:
            found = pattern.match(path)
            if found is None:
                continue
            if endpoint.method != method:
                allowed.add(endpoint.method)
                continue
            try:
                body = await read_body(scope, receive, MAX_BODY)
            except BodyTooLarge:
                return json_response(413, errors.PAYLOAD_TOO_LARGE)
            if body and not json_media(scope):
                return _NOT_JSON
            return self._dispatch(endpoint, found.groupdict(), scope, body)
        if allowed:
            return json_response(
                405, errors.METHOD_NOT_ALLOWED, [("allow", ", ".join(sorted(allowed)))]
            )
        return json_response(404, errors.NOT_FOUND)

    def _dispatch(
        self, endpoint: Endpoint, params: dict[str, str], scope: Scope, raw: bytes
    ) -> Prepared:
        parsed: Any = None
        if endpoint.body is not None:
            parsed, problems = body_problems(endpoint.body, raw, optional=endpoint.body_optional)
            if problems:
                return json_response(
                    422, fastapi_detail(_scripts_say(endpoint, parsed) or problems)
                )
            parsed = _whole_numbers(parsed)
        query_string = scope.get("query_string", b"").decode("latin-1")
        query = {
            key: values[-1]
            for key, values in parse_qs(query_string, keep_blank_values=True).items()
        }
        try:
            document = endpoint.handler(self, AdminRequest(params, query, parsed))
        except NotFound as error:
            return json_response(404, errors.detail(str(error)))
        except UnmetExpectation as error:
            return json_response(417, errors.detail(str(error)))
        except MockGPTError as error:
            said = _scripts_say(endpoint, parsed) if isinstance(error, ScriptError) else []
            return json_response(422, fastapi_detail(said or [_value_problem(error)]))
        except Exception:
            # A bug in the mock, not in the request: never dressed up as a 404 or 422.
            error_log.exception("admin %s %s failed", endpoint.method, endpoint.path)
            self.mock.app.failures.append(f"admin {endpoint.name}:\n{traceback.format_exc()}")
            return json_response(500, errors.INTERNAL_ERROR)
        if isinstance(document, Prepared):
            return document
        return json_response(endpoint.status, document)

    # -- handlers: each calls the controller method of the same meaning -------------------

    def _inspector(self, request: AdminRequest) -> Any:
        return inspector_page()

    def _state(self, request: AdminRequest) -> Any:
        return self.mock.state()

    def _reset(self, request: AdminRequest) -> Any:
        settings = dict((request.body or {}).get("settings", {}))
        if isinstance(settings.get("latency"), list):
            settings["latency"] = tuple(settings["latency"])
        if isinstance(settings.get("models"), list):
            settings["models"] = tuple(settings["models"])
        self.mock.reset(self.mock.with_settings(**settings))
        _give_back_freed_memory()
        return self.mock.state()

    def _routes(self, request: AdminRequest) -> Any:
        return [
            {
                "key": route.key,
                "method": route.method,
                "path": route.path,
                "status": route.status,
                "group": route.group,
                "kind": route.kind,
                "auth": route.auth,
                "description": route.description,
            }
            for route in self.mock.app.catalogue
        ]

    def _pending_scripts(self, request: AdminRequest) -> Any:
        return {"pending": self.mock.pending_scripts()}

    def _queue_scripts(self, request: AdminRequest) -> Any:
        scripts = self.mock.load(request.body)
        return {"queued": len(scripts), "pending": self.mock.pending_scripts()}

    def _match_script(self, request: AdminRequest) -> Any:
        body = request.body
        [script] = load_script(body["script"])
        prompt: str | PromptPattern | None = body.get("prompt")
        if body.get("prompt_pattern") is not None:
            if prompt is not None:
                raise InvalidValue("give prompt or prompt_pattern, not both")
            try:
                prompt = PromptPattern(body["prompt_pattern"])
            except PatternError as error:
                raise ScriptError(str(error), "prompt_pattern") from None
        self.mock.match(script, prompt=prompt, model=body.get("model"), times=body.get("times"))
        return {"matching": True}

    def _clear_scripts(self, request: AdminRequest) -> Any:
        self.mock.clear_scripts()
        return {"pending": 0}

    def _overrides(self, request: AdminRequest) -> Any:
        return self.mock.overrides()

    def _add_override(self, request: AdminRequest) -> Any:
        body = dict(request.body)
        control = self._control(body.pop("route"))
        sequence = body.pop("sequence", None) or None
        if sequence is not None:
            if body:
                raise InvalidValue("give the answer's fields or a sequence, not both")
            control.sequence(*sequence)
        else:
            if "json" in body and "text" in body:
                raise InvalidValue("give json or text, not both")
            control.respond(**body)
        return self.mock.overrides()

    def _add_fault(self, request: AdminRequest) -> Any:
        body = dict(request.body)
        fault = body.pop("fault")
        if fault not in FAULTS:  # the schema says so too; this keeps mypy's Literal honest
            raise InvalidValue(f"fault must be one of {', '.join(FAULTS)}")
        self._control(body.pop("route", "*")).fail(fault, **body)
        return self.mock.overrides()

    def _set_latency(self, request: AdminRequest) -> Any:
        body = request.body
        seconds: float | tuple[float, float] | None
        if "between" in body:
            if "seconds" in body:
                raise InvalidValue("give seconds or between, not both")
            low, high = sorted(body["between"])
            seconds = (low, high)
        elif "seconds" in body:
            seconds = body["seconds"]
        else:
            raise InvalidValue("give seconds (null removes the delay) or between")
        control = self._control(body.get("route", "*"))
        control.latency(seconds, spread=body.get("spread", "uniform"))
        return self.mock.overrides()

    def _control(self, route: str) -> RouteControls:
        """The controller's `on(route)`; an unknown route is a value error of the body."""
        try:
            return self.mock.on(route)
        except NotFound as error:
            raise InvalidValue(str(error)) from None

    def _clear_overrides(self, request: AdminRequest) -> Any:
        self.mock.clear_overrides()
        return []

    def _journal(self, request: AdminRequest) -> Any:
        query = request.query
        if query.get("unmatched", "").lower() in ("1", "true", "yes"):
            entries = self.mock.unmatched()
        else:
            entries = self.mock.calls(
                query.get("route"),
                method=query.get("method"),
                path=query.get("path"),
                status=_int(query, "status"),
                since=_int(query, "since") or 0,
            )
        reveal = query.get("reveal", "").lower() in ("1", "true", "yes")
        return {
            "entries": [entry.to_json(reveal=reveal) for entry in entries],
            "next": self.mock.app.journal.next_index,
        }

    def _clear_journal(self, request: AdminRequest) -> Any:
        self.mock.clear_journal()
        return {"entries": [], "next": self.mock.app.journal.next_index}

    def _assert_called(self, request: AdminRequest) -> Any:
        body = request.body
        found = self.mock.assert_called(body["route"], body.get("times"), json=body.get("json"))
        return {"passed": True, "calls": len(found)}

    def _conversations(self, request: AdminRequest) -> Any:
        return self.mock.conversations()

    def _conversation(self, request: AdminRequest) -> Any:
        return self.mock.conversation(request.params["conversation_id"])

    def _responses(self, request: AdminRequest) -> Any:
        return self.mock.responses()

    def _response(self, request: AdminRequest) -> Any:
        return self.mock.response(request.params["response_id"])

    def _files(self, request: AdminRequest) -> Any:
        return self.mock.files()

    def _quotas(self, request: AdminRequest) -> Any:
        return self.mock.quotas()

    def _turns(self, request: AdminRequest) -> Any:
        return self.mock.turns()

    def _sockets(self, request: AdminRequest) -> Any:
        return self.mock.sockets()

    def _tokens(self, request: AdminRequest) -> Any:
        return self.mock.tokens()

    def _clock(self, request: AdminRequest) -> Any:
        return self.mock.clock()

    def _advance(self, request: AdminRequest) -> Any:
        self.mock.advance(request.body["advance"])
        return self.mock.clock()

    def _snapshots(self, request: AdminRequest) -> Any:
        return self.mock.kept_snapshots()

    def _snapshot(self, request: AdminRequest) -> Any:
        taken = self.mock.snapshot(request.body["name"])
        return {"name": taken.name, "time": taken.time}

    def _restore(self, request: AdminRequest) -> Any:
        self.mock.restore(request.params["name"])
        return self.mock.state()

    def _drop_snapshot(self, request: AdminRequest) -> Any:
        name = request.params["name"]
        if self.mock.snapshots.pop(name, None) is None:
            raise NotFound(f"no snapshot named {name!r}")
        return self.mock.kept_snapshots()

    def _failures(self, request: AdminRequest) -> Any:
        return {"failures": self.mock.failures()}

    def _openapi(self, request: AdminRequest) -> Any:
        return document_answer(None, endpoints=ENDPOINTS, prefix=PREFIX)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET", "/", AdminAPI._inspector, "The inspector page: routes, live journal, conversations."
    ),
    Endpoint("GET", "/state", AdminAPI._state, "A summary of everything the mock holds."),
    Endpoint(
        "POST",
        "/reset",
        AdminAPI._reset,
        "Back to a fresh app, optionally with some settings changed.",
        "admin/reset.json",
        body_optional=True,
    ),
    Endpoint("GET", "/routes", AdminAPI._routes, "Every catalogue route."),
    Endpoint(
        "GET", "/scripts", AdminAPI._pending_scripts, "How many queued scripts wait for a turn."
    ),
    Endpoint(
        "POST",
        "/scripts",
        AdminAPI._queue_scripts,
        "Queue scripts (a script file's content) for the next turns.",
        "admin/scripts.json",
        scripts="",
    ),
    Endpoint(
        "POST",
        "/scripts/match",
        AdminAPI._match_script,
        "Answer turns that match a prompt or model with a script.",
        "admin/match.json",
        scripts="script",
    ),
    Endpoint(
        "DELETE", "/scripts", AdminAPI._clear_scripts, "Forget every queued and matching script."
    ),
    Endpoint("GET", "/overrides", AdminAPI._overrides, "Overrides still queued, and latencies."),
    Endpoint(
        "POST",
        "/overrides",
        AdminAPI._add_override,
        "Answer a route's next requests with a status, body and headers.",
        "admin/override.json",
    ),
    Endpoint(
        "DELETE", "/overrides", AdminAPI._clear_overrides, "Drop every override, fault and latency."
    ),
    Endpoint(
        "POST",
        "/faults",
        AdminAPI._add_fault,
        "Break a route's next requests: reset, empty or malformed.",
        "admin/fault.json",
    ),
    Endpoint(
        "POST",
        "/latency",
        AdminAPI._set_latency,
        "Delay every answer of a route (fixed or drawn between bounds).",
        "admin/latency.json",
    ),
    Endpoint(
        "GET",
        "/journal",
        AdminAPI._journal,
        "Requests received, oldest first, with filters.",
        query=("route", "method", "path", "status", "since", "unmatched", "reveal"),
    ),
    Endpoint("DELETE", "/journal", AdminAPI._clear_journal, "Forget the requests received."),
    Endpoint(
        "POST",
        "/journal/assert",
        AdminAPI._assert_called,
        "Check that a route was called (so many times, with such a body).",
        "admin/assertion.json",
    ),
    Endpoint(
        "GET", "/conversations", AdminAPI._conversations, "Stored conversations, newest first."
    ),
    Endpoint(
        "GET",
        "/conversations/{conversation_id}",
        AdminAPI._conversation,
        "One stored conversation.",
    ),
    Endpoint(
        "GET", "/responses", AdminAPI._responses, "Stored Responses API responses, newest first."
    ),
    Endpoint(
        "GET", "/responses/{response_id}", AdminAPI._response, "One stored response and its input."
    ),
    Endpoint(
        "GET",
        "/files",
        AdminAPI._files,
        "Uploaded files, oldest first (names and sizes, not bytes).",
    ),
    Endpoint("GET", "/quotas", AdminAPI._quotas, "Feature quotas and the model message cap."),
    Endpoint(
        "GET",
        "/turns",
        AdminAPI._turns,
        "The latest turn of each conversation: live, unread, how far.",
    ),
    Endpoint("GET", "/tokens", AdminAPI._tokens, "Access and sentinel tokens the mock issued."),
    Endpoint(
        "GET",
        "/sockets",
        AdminAPI._sockets,
        "Open WebSockets: their user, topics, presence and unsent frames.",
    ),
    Endpoint("GET", "/clock", AdminAPI._clock, "The mock's time."),
    Endpoint(
        "POST", "/clock", AdminAPI._advance, "Move the virtual clock forward.", "admin/clock.json"
    ),
    Endpoint("GET", "/snapshots", AdminAPI._snapshots, "The names of the kept snapshots."),
    Endpoint(
        "POST",
        "/snapshots",
        AdminAPI._snapshot,
        "Keep the whole state under a name.",
        "admin/snapshot.json",
        status=201,
    ),
    Endpoint("POST", "/snapshots/{name}/restore", AdminAPI._restore, "Go back to a kept snapshot."),
    Endpoint("DELETE", "/snapshots/{name}", AdminAPI._drop_snapshot, "Forget a kept snapshot."),
    Endpoint(
        "GET", "/failures", AdminAPI._failures, "Errors raised inside the mock since the reset."
    ),
    Endpoint("GET", "/openapi.json", AdminAPI._openapi, "This API's OpenAPI 3.2 document."),
)


def _whole_numbers(value: Any) -> Any:
    """The body with whole floats as ints: for JSON Schema 270.0 is an integer, and the
    controls take it as 270. An override's `json` is served as given, so it is left alone."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: item if key == "json" else _whole_numbers(item) for key, item in value.items()}
    return value


class _QueryError(InvalidValue):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _int(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise _QueryError(name, "value is not a valid integer") from None
    if number < 0:
        raise _QueryError(name, "ensure this value is greater than or equal to 0")
    return number


def _value_problem(error: BaseException) -> Problem:
    if isinstance(error, _QueryError):
        kind = "type_error.integer" if "integer" in str(error) else "value_error.number.not_ge"
        return Problem(("query", error.name), str(error), kind)
    message = str(error) or type(error).__name__
    if isinstance(error, KeyError | TypeError) and error.args:
        message = str(error.args[0])
    return Problem(("body",), message, "value_error")


_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _scripts_say(endpoint: Endpoint, body: Any) -> list[Problem]:
    """The loader's word on a refused body's scripts: it refuses what their schema
    refuses (the format is defined once), and names what the bad key takes, where
    a schema error can only say which keyword failed."""
    if endpoint.scripts is None:
        return []
    held = body.get(endpoint.scripts) if endpoint.scripts and isinstance(body, dict) else body
    if not isinstance(held, dict | list) or (endpoint.scripts and held is body):
        return []  # only parsed JSON: a string would be read as a file's path
    try:
        load_script(held)
    except ScriptError as error:
        # `script.pacing.jitter`, `script[1].fault`: the loader's path, from the script
        steps = _STEP.findall(error.path.removeprefix("script"))
        loc = [int(index) if index else name for name, index in steps]
        where = [endpoint.scripts] if endpoint.scripts else []
        return [Problem(("body", *where, *loc), error.problem, "value_error")]
    return []


def _give_back_freed_memory() -> None:
    """Return to the system the memory a reset of a long-running server freed.

    Over a long streaming session the Python heap stays flat (tracemalloc shows
    it), but glibc's allocator keeps freed pages resident, so a server's RSS
    would not drop after the reset that dropped its state. Only the admin API's
    reset does this (a few ms): the pytest fixture's per-test reset does not.
    Elsewhere than glibc (macOS, musl) it does nothing.
    """
    import ctypes  # lazy: only a served reset gives memory back

    gc.collect()  # the old app's cycles, so their pages are free to give back
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
