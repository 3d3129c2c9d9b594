"""The public API, pinned: an accidental rename, removal or new argument fails here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

import pytest

import mockgpt
from mockgpt import MockGPT
from mockgpt.controller import RouteControl

PUBLIC_NAMES = [
    "Catalogue",
    "Config",
    "ConfigError",
    "LiveServer",
    "MockApp",
    "MockGPT",
    "MockGPTError",
    "Route",
    "__version__",
    "create_app",
    "load_catalogue",
]

#: Public members of a `MockGPT`: methods with their parameters, None for attributes.
MOCKGPT_API: dict[str, str | None] = {
    "admin": None,
    "advance": "(seconds)",
    "app": None,
    "assert_called": "(key, times=None, *, json=None)",
    "assert_not_called": "(key)",
    "async_client": "(*, in_process=False, **options)",
    "backend_url": None,
    "calls": "(key=None, *, method=None, path=None, status=None, since=0)",
    "clear_journal": "()",
    "clear_overrides": "()",
    "clear_scripts": "()",
    "client": "(*, in_process=False, **options)",
    "clock": "()",
    "config": None,
    "conversation": "(conversation_id)",
    "conversations": "()",
    "failures": "()",
    "files": "()",
    "kept_snapshots": "()",
    "last": "(key=None)",
    "load": "(source)",
    "match": "(script, **rules)",
    "now": "()",
    "on": "(key)",
    "openai_url": None,
    "overrides": "()",
    "pending_scripts": "()",
    "queue": "(*scripts)",
    "quotas": "()",
    "raise_failures": "()",
    "reply": "(text=None, **fields)",
    "reset": "(config=None)",
    "response": "(response_id)",
    "responses": "()",
    "restore": "(snapshot)",
    "set_session": "(state)",
    "snapshot": "(name=None)",
    "sockets": "()",
    "snapshots": None,
    "start": "(*, host='127.0.0.1', port=0)",
    "state": "()",
    "stop": "()",
    "test_client": "(**options)",
    "tokens": "()",
    "turns": "()",
    "unmatched": "()",
    "url": None,
    "usage": "()",
    "with_settings": "(**changes)",
}

#: Public members of the route object `MockGPT.on(key)` returns.
ROUTE_API: dict[str, str | None] = {
    "call_count": None,
    "called": None,
    "calls": None,
    "fail": "(fault, *, times=1, delay=0.0)",
    "key": None,
    "latency": "(seconds, *, spread='uniform')",
    "respond": "(status=200, *, json=None, text=None, headers=None, delay=0.0, times=1)",
    "sequence": "(*answers)",
}


def parameters(method: Any) -> str:
    """A method's parameters after `self`, as written in a call (no annotations)."""
    written: list[str] = []
    keyword_only = False
    for parameter in list(inspect.signature(method).parameters.values())[1:]:
        if parameter.kind is parameter.VAR_POSITIONAL:
            written.append(f"*{parameter.name}")
            keyword_only = True
            continue
        if parameter.kind is parameter.VAR_KEYWORD:
            written.append(f"**{parameter.name}")
            continue
        if parameter.kind is parameter.KEYWORD_ONLY and not keyword_only:
            written.append("*")
            keyword_only = True
        default = "" if parameter.default is parameter.empty else f"={parameter.default!r}"
        written.append(parameter.name + default)
    return f"({', '.join(written)})"


def surface(instance: object) -> dict[str, str | None]:
    """The public members of an object: methods with their parameters, else None."""
    kind = type(instance)
    members: dict[str, str | None] = {}
    for name in dir(instance):
        if name.startswith("_"):
            continue
        static = inspect.getattr_static(kind, name, None)
        is_method = callable(static) and not isinstance(static, property)
        members[name] = parameters(getattr(kind, name)) if is_method else None
    return members


def test_all_is_pinned_sorted_and_importable() -> None:
    assert list(mockgpt.__all__) == PUBLIC_NAMES
    for name in mockgpt.__all__:
        assert hasattr(mockgpt, name), name


def test_the_controller_is_pinned() -> None:
    assert surface(MockGPT()) == MOCKGPT_API


def test_the_route_object_is_pinned() -> None:
    route = MockGPT().on("GET /backend-api/me")
    assert isinstance(route, RouteControl)
    assert surface(route) == ROUTE_API


def test_the_pin_notices_a_change() -> None:
    class Changed(MockGPT):
        def on(self, key: str, *, strict: bool = True) -> RouteControl:
            return super().on(key)

    assert surface(Changed())["on"] == "(key, *, strict=True)" != MOCKGPT_API["on"]


def test_errors_share_one_base() -> None:
    from mockgpt import errors
    from mockgpt.catalogue import CatalogueError
    from mockgpt.har import HarError

    for error in (CatalogueError, HarError, mockgpt.ConfigError, errors.MockFailure):
        assert issubclass(error, mockgpt.MockGPTError)
    assert issubclass(errors.NotFound, KeyError)
    assert issubclass(errors.UnmetExpectation, AssertionError)
    assert issubclass(errors.InvalidValue, ValueError)


def subclasses(kind: type) -> set[type]:
    found: set[type] = set()
    for child in kind.__subclasses__():
        found |= {child} | subclasses(child)
    return found


def test_the_error_tree_names_every_public_error() -> None:
    from mockgpt import errors

    for module in pkgutil.walk_packages(mockgpt.__path__, "mockgpt."):
        if not module.name.endswith("__main__"):  # running it starts the command line
            importlib.import_module(module.name)
    tree = (errors.__doc__ or "").split("Exception hierarchy::", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"^[\s├└│─]*(\w+)\s{2,}", tree, re.M))
    public = {kind.__name__ for kind in subclasses(mockgpt.MockGPTError)}
    public = {name for name in public if not name.startswith("_")} | {"MockGPTError"}
    assert listed == public


def test_config_refuses_bad_values() -> None:
    with pytest.raises(mockgpt.ConfigError):
        mockgpt.Config(seed=-1)
    with pytest.raises(mockgpt.ConfigError):
        mockgpt.Config(max_body_bytes=10)


def test_two_apps_share_no_state() -> None:
    pinned = mockgpt.Config(now="2026-11-29T12:00:00Z")
    first, second = mockgpt.create_app(pinned), mockgpt.create_app(pinned)
    # What the seed and the clock's start alone determine is rendered once per
    # process and shared...
    assert first.renderer is second.renderer
    assert mockgpt.create_app(mockgpt.Config(seed=1)).renderer is not first.renderer
    # ...as on the fixture's virtual clock; a system clock without `now` starts at
    # the wall time, so its world is its own
    virtual = mockgpt.Config(clock="virtual")
    assert mockgpt.create_app(virtual).renderer is mockgpt.create_app(virtual).renderer
    assert mockgpt.create_app().renderer is not mockgpt.create_app().renderer
    # ...and what a request or a control changes in one app stays out of the other.
    one, other = MockGPT(app=first), MockGPT(app=second)
    one.reply("Only for the first app.")
    one.on("GET /backend-api/me").respond(503)
    with one.test_client(headers={"authorization": "Bearer t"}) as client:
        client.get("/backend-api/models")
    assert (one.pending_scripts(), other.pending_scripts()) == (1, 0)
    assert len(one.overrides()) == 1
    assert other.overrides() == []
    assert len(one.calls()) == 1
    assert other.calls() == []
    with other.test_client(headers={"authorization": "Bearer t"}) as client:
        assert client.get("/backend-api/me").status_code == 200
