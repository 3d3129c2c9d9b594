"""Hostile bodies at every route: every answer is a status the route documents.

Hypothesis throws malformed, deeply nested, huge-number, surrogate and binary
bodies, under odd content types, at every catalogue route and every admin
endpoint, and mutates the routes' own example bodies with such values at any
place. The documented statuses come from the OpenAPI document the mock serves
(declared answers, plus the 401 of routes with an auth rule and the 422/400 of
routes that check their input). After each request the mock must still answer.

Each test runs `MOCKGPT_FUZZ_EXAMPLES` examples (1000 by default); one with a
pinned seed, so a failure replays, and one unpinned, so new inputs keep coming.
With `-s` each prints its figures: requests thrown, statuses seen, undocumented 5xx.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from support import example_request, make_config

from mockgpt import MockGPT, load_catalogue
from mockgpt.admin import ENDPOINTS, PREFIX
from mockgpt.openapi import admin_document, openapi_document

EXAMPLES = int(os.environ.get("MOCKGPT_FUZZ_EXAMPLES", "1000"))
CONTENT_TYPES = (
    "application/json",
    "text/plain",
    None,
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
)


@dataclass(frozen=True)
class Target:
    """One operation to throw bodies at, and the statuses it documents."""

    key: str
    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    example: Any
    documented: frozenset[int]
    admin: bool = False


@dataclass
class Figures:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    undocumented: list[str] = field(default_factory=list)

    def line(self) -> str:
        seen = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        fives = sum(1 for text in self.undocumented if text.startswith("5"))
        return f"{self.requests} requests; statuses {{{seen}}}; undocumented 5xx: {fives}"


def _documented(operation: dict[str, Any]) -> frozenset[int]:
    return frozenset(int(status) for status in operation["responses"])


def _targets() -> list[Target]:
    catalogue = load_catalogue()
    paths = {**openapi_document(catalogue)["paths"], **admin_document(ENDPOINTS, PREFIX)["paths"]}
    targets = []
    for route in catalogue:
        request = example_request(route)
        example = json.loads(request.body) if request.body else {}
        targets.append(
            Target(
                route.key,
                route.method,
                request.path,
                tuple(request.params),
                tuple(request.headers.items()),
                example,
                _documented(paths[route.path][route.method.lower()]),
            )
        )
    for endpoint in ENDPOINTS:
        operation = paths[PREFIX + endpoint.path][endpoint.method.lower()]
        targets.append(
            Target(
                f"admin {endpoint.method} {endpoint.path}",
                endpoint.method,
                PREFIX + re.sub(r"\{\w+\}", "x", endpoint.path),
                (),
                (),
                {},
                _documented(operation),
                admin=True,
            )
        )
    return targets


TARGETS = _targets()


def _nest(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


#: Values that once broke some handler: deep, endless numbers, lone surrogates, NaN.
odd_values = st.one_of(
    st.integers(1, 140).map(lambda depth: _nest(depth, 1)),
    st.integers(1, 1100).map(lambda digits: int("9" * digits)),
    st.integers(1, 1100).map(lambda digits: -int("7" * digits)),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 2**63, -(2**63) - 1]),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.text(max_size=40),
    st.sampled_from([None, True, False, "", [], {}, "\x00", "\U0001f680"]),
    st.lists(st.integers(), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.integers(1, 100_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 20_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(1, 6000).map(lambda n: b"9" * n),
    st.sampled_from(
        [
            b"NaN",
            b'{"a": NaN}',
            b"[Infinity, -Infinity]",
            b'{"x": 1e999}',
            b'"\\udfff"',
            b'{"\\ud800": 1}',
            b"",
            b"null",
            b"{}",
            b"[]",
            b'"text"',
            b"\xef\xbb\xbf{}",
            b"{'single': 'quotes'}",
            b'{"a": 1,}',
        ]
    ),
    st.text(max_size=80).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    places = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            places += _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            places += _places(item, (*path, index))
    return places


@st.composite
def mutated(draw: st.DrawFn, example: Any) -> bytes:
    """The example body with one place (or a new key) replaced by an odd value."""
    body = json.loads(json.dumps(example))
    place = draw(st.sampled_from(_places(body)))
    value = copy.deepcopy(draw(odd_values))
    if not place:
        body = value
    else:
        holder = body
        for step in place[:-1]:
            holder = holder[step]
        holder[place[-1]] = value
    if isinstance(body, dict) and draw(st.booleans()):
        body[draw(st.text(max_size=8))] = copy.deepcopy(draw(odd_values))
    return json.dumps(body).encode("ascii")


@st.composite
def throws(draw: st.DrawFn) -> tuple[Target, bytes, str | None]:
    target = draw(st.sampled_from(TARGETS))
    # Admin bodies stay malformed: a valid reset could switch the mock to a real clock.
    if target.admin or not draw(st.booleans()):
        body = draw(raw_bodies)
    else:
        body = draw(mutated(target.example))
    return target, body, draw(st.sampled_from(CONTENT_TYPES))


def _throw(client: TestClient, figures: Figures, thrown: tuple[Target, bytes, str | None]) -> None:
    target, body, content_type = thrown
    headers = {k: v for k, v in target.headers if k != "content-type"}
    if content_type is not None:
        headers["content-type"] = content_type
    answer: httpx.Response = client.request(
        target.method, target.path, params=list(target.params), headers=headers, content=body
    )
    figures.requests += 1
    figures.statuses[answer.status_code] += 1
    if answer.status_code not in target.documented:
        figures.undocumented.append(f"{answer.status_code} {target.key}")
    assert answer.status_code in target.documented, (
        f"{target.key} answered {answer.status_code} (documents {sorted(target.documented)}) "
        f"to {body[:200]!r} as {content_type}: {answer.text[:300]}"
    )
    assert client.get(f"{PREFIX}/state").status_code == 200


def _run(figures: Figures, pinned: int | None) -> None:
    with TestClient(MockGPT(make_config())) as client:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(throws())
        def attempt(thrown: tuple[Target, bytes, str | None]) -> None:
            _throw(client, figures, thrown)

        (attempt if pinned is None else seed(pinned)(attempt))()
        assert client.get(f"{PREFIX}/failures").json() == {"failures": []}
    print(f"\nfuzz: {figures.line()}")
    assert figures.requests >= EXAMPLES
    assert not figures.undocumented


def test_fuzz_every_route_with_a_pinned_seed() -> None:
    _run(Figures(), 20261129)


def test_fuzz_every_route_unpinned() -> None:
    _run(Figures(), None)
