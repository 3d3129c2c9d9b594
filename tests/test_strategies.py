"""mockgpt.strategies: bodies valid against their schemas, streams that decode, replay."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from mockgpt import Config, MockGPT
from mockgpt.delta import StreamDecoder
from mockgpt.schemas import schema_errors
from mockgpt.scripts import Script
from mockgpt.strategies import (
    DrawnStream,
    StreamReplay,
    response_body,
    response_routes,
    scripts,
    serve_stream,
    streams,
)

pytest_plugins = ["pytester"]

ROUTES = response_routes()
#: A few routes with bodies of different shapes; tests/test_schemas.py already has
#: hypothesis-jsonschema draw from every schema file.
SAMPLED = ["GET /backend-api/me", "GET /backend-api/conversations", "GET /v1/models"]
QUICK = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
STREAMS = settings(QUICK, max_examples=60)
SEARCH = settings(QUICK, max_examples=400, phases=[Phase.generate])


def decode(stream: DrawnStream) -> StreamDecoder:
    decoder = StreamDecoder()
    for write in stream.writes:
        decoder.feed(write)
    decoder.close()
    return decoder


def test_every_route_with_a_json_answer_has_a_strategy() -> None:
    assert len(ROUTES) > 60
    with pytest.raises(KeyError, match="no catalogue route"):
        response_body("GET /nowhere")
    with pytest.raises(KeyError, match="no JSON body for status 599"):
        response_body(ROUTES[0], 599)


@pytest.mark.parametrize("key", SAMPLED)
def test_drawn_bodies_are_valid_against_the_route_schema(key: str) -> None:
    from mockgpt.catalogue import load_catalogue

    route = next(route for route in load_catalogue() if route.key == key)
    spec = next(spec for spec in route.responses if spec.status == route.status)
    assert spec.schema is not None

    @QUICK
    @given(response_body(key))
    def check(body: object) -> None:
        assert schema_errors(spec.schema, body) == []

    check()


@STREAMS
@given(streams())
def test_every_drawn_stream_decodes_to_the_scripted_message(stream: DrawnStream) -> None:
    decoded = decode(stream)
    message = decoded.message
    assert message is not None
    assert schema_errors("parts/message.json", message) == []
    assert message["author"]["role"] == "assistant"
    assert message["status"] == "finished_successfully"
    assert "".join(message["content"]["parts"]) == stream.text
    assert decoded.done
    assert decoded.conversation == stream.conversation_id
    titles = [f["title"] for f in decoded.frames if isinstance(f, dict) and "title" in f]
    assert titles == ([] if stream.title is None else [stream.title])
    assert (decoded.delta is not None) == (stream.encoding == "v1")


@QUICK
@given(scripts())
def test_drawn_scripts_round_trip_through_their_json_form(script: Script) -> None:
    assert Script.from_dict(json.loads(json.dumps(script.to_dict()))) == script


def _features(stream: DrawnStream) -> set[str]:
    body = stream.body
    found = set()
    if b"\r\n" in body:
        found.add("crlf")
    if b": ping" in body:
        found.add("ping")
    if re.search(rb"\} +\r?\n", body):
        found.add("padding")
    if b'data: {"v": ""}' in body:
        found.add("empty delta")
    for before, after in zip(stream.writes, stream.writes[1:], strict=False):
        if after[:1] and 0x80 <= after[0] <= 0xBF:
            found.add("character split")
        if before.endswith(b"\r") and after.startswith(b"\n"):
            found.add("crlf split")
    if stream.encoding == "v1":
        types = [f.get("type") for f in decode(stream).frames if isinstance(f, dict)]
        if "title_generation" in types and "message_stream_complete" in types:
            title, done = types.index("title_generation"), types.index("message_stream_complete")
            found.add("title before complete" if title < done else "title after complete")
        lines = body.replace(b"\r\n", b"\n").split(b"\n\n")
        titled = [i for i, e in enumerate(lines) if b"title_generation" in e]
        deltas = [i for i, e in enumerate(lines) if e.startswith(b'event: delta\ndata: {"v": "')]
        if titled and deltas and deltas[0] < titled[0] < deltas[-1]:
            found.add("title among deltas")
    return found


@pytest.mark.parametrize(
    "feature",
    [
        "crlf",
        "ping",
        "padding",
        "empty delta",
        "character split",
        "crlf split",
        "title before complete",
        "title after complete",
        "title among deltas",
    ],
)
def test_the_stream_strategy_reaches(feature: str) -> None:
    found = find(streams(), lambda stream: feature in _features(stream), settings=SEARCH)
    assert feature in _features(found)


def test_a_replayed_stream_arrives_whole_over_http() -> None:
    stream = find(streams("v1"), lambda s: len(s.writes) > 3, settings=SEARCH)
    with (
        serve_stream(stream) as url,
        httpx.stream("POST", url + "/backend-api/conversation") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        received = b"".join(response.iter_raw())
    assert received == stream.body
    with StreamReplay() as replay:
        for writes in ([b"data: one\n\n"], [b"data: tw", b"o\n\n"]):
            got = httpx.get(replay.play(writes) + "/anything").content
            assert got == b"".join(writes)


PARSER_EXAMPLE_HEADING = "# Testing your own stream parser"


def _parser_example() -> str:
    page = (Path(__file__).resolve().parent.parent / "docs" / "strategies.md").read_text()
    section = page.split(PARSER_EXAMPLE_HEADING, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_parser_example_passes_and_catches_a_naive_parser(
    pytester: pytest.Pytester,
) -> None:
    example = _parser_example()
    naive = example.replace('.replace("\\r\\n", "\\n")', "")
    assert naive != example  # the variant below really differs: it ignores CRLF framing
    pytester.makepyfile(test_parser=example, test_naive=naive)
    # A fixed Hypothesis seed: both runs draw the same streams on every machine.
    fixed = ("-p", "no:cacheprovider", "--hypothesis-seed=0")
    result = pytester.runpytest_subprocess(*fixed, "test_parser.py")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess(*fixed, "test_naive.py")
    result.assert_outcomes(failed=1)


#: Fresh random seeds per run: the example must pass on any of them, not just on one.
UNPINNED_RUNS = 3


@pytest.mark.slow
@pytest.mark.parametrize("run", range(UNPINNED_RUNS))
def test_the_parser_example_passes_on_random_seeds(run: int, pytester: pytest.Pytester) -> None:
    # pytester gives each run a fresh folder, so a fresh Hypothesis database too:
    # no failure found by an earlier run is replayed, and none hides.
    seed = random.SystemRandom().randrange(2**32)
    pytester.makepyfile(test_parser=_parser_example())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--hypothesis-seed={seed}")
    outcomes = result.parseoutcomes()
    report = f"the docs example failed with --hypothesis-seed={seed}:\n"
    report += result.stdout.str()[-4000:]
    assert outcomes.get("failed", 0) == 0, report
    assert outcomes.get("passed") == 1, report


@settings(QUICK, derandomize=False, max_examples=200)
@given(scripts())
def test_every_drawn_script_is_one_the_mock_accepts(script: Script) -> None:
    # Unpinned on purpose: a script the mock refuses must not hide behind a fixed seed.
    assert Script.from_dict(script.to_dict()) == script
    mock = MockGPT(Config(clock="virtual", sample_conversations=0))
    with mock.test_client() as client:
        answer = client.post("/__mockgpt__/scripts", json=script.to_dict())
    assert answer.status_code == 200, answer.text


def test_a_blank_drawn_title_becomes_a_title_the_mock_accepts() -> None:
    # Whitespace-only titles (a newline, U+2028) were drawn and refused by Script.
    def blank_then_fixed(script: Script) -> bool:
        title = script.title or ""
        return title.endswith("T") and len(title) > 1 and not title[:-1].strip()

    found = find(scripts(), blank_then_fixed, settings=SEARCH)
    assert found.title is not None
    assert found.title.strip() == "T"


@given(st.data())
@settings(QUICK, max_examples=3)
def test_streams_take_a_script_strategy(data: st.DataObject) -> None:
    fixed = Script(text="Only this.")
    stream = data.draw(streams("legacy", script=st.just(fixed)))
    assert stream.script is fixed
    assert "".join(decode(stream).message["content"]["parts"]) == "Only this."
