"""The script format is defined once: the schema files are written from it, and the
loader and the schema agree on every document but the one rule no schema can state.

That rule (`LOADER_ONLY`): explicit chunks must join to the text. Every other rule
across keys is in the schema too, so a document the schema allows must load, and a
document the loader takes must pass the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from mockgpt import MockGPT
from mockgpt._resources import schemas_dir
from mockgpt.schemas import resolved_schema, schema_errors
from mockgpt.scripts import FAULT_KINDS, FRAME_NAMES, HTTP_ERROR_KINDS, ScriptError, load_script
from mockgpt.scripts.format import FILED, SCRIPT, schema_text, streamed_text, write_schema_files
from mockgpt.scripts.keys import WHITESPACE, is_visible

SCHEMA = "admin/script.json"
#: The rules only the loader applies, by what they say.
LOADER_ONLY = [rule.says for rule in SCRIPT.rules if rule.schema is None]


def test_the_loader_only_rule_is_the_one_the_tests_name() -> None:
    assert LOADER_ONLY == ["chunks must join to the text exactly"]


class _Document:
    """Attribute access to a script document, for `streamed_text`."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.text = document.get("text")
        self.content = document.get("content")


def _chunks_join(document: dict[str, Any]) -> bool:
    """False when the document breaks the loader-only rule: chunks that do not join to a
    text there is (without a text, the schema's own rule refuses the chunks)."""
    chunks = document.get("chunks")
    if not isinstance(chunks, list) or not all(isinstance(chunk, str) for chunk in chunks):
        return True
    text = document.get("text")
    content = document.get("content")
    if not isinstance(text, str) and text is not None:
        return True
    if content is not None and not isinstance(content, dict):
        return True
    streamed = streamed_text(_Document(document))
    return streamed is None or "".join(chunks) == streamed


def _loads(document: dict[str, Any]) -> bool:
    try:
        load_script(document)
    except ScriptError:
        return False
    return True


def _agree(document: dict[str, Any]) -> None:
    allowed = not schema_errors(SCHEMA, document)
    if not _chunks_join(document):
        assert not _loads(document), document
        return
    assert _loads(document) == allowed, (
        document,
        [e.message for e in schema_errors(SCHEMA, document)],
    )


# --------------------------------------------------------------------------- one definition


@pytest.mark.parametrize("shape", FILED, ids=lambda shape: shape.file)
def test_the_schema_files_are_written_from_the_format(shape: Any) -> None:
    committed = (schemas_dir() / shape.file).read_text(encoding="utf-8")
    assert committed == schema_text(shape), "stale; regenerate with: python -m mockgpt.scripts"


def test_the_command_writes_every_file_of_the_format(tmp_path: Path) -> None:
    (tmp_path / "admin").mkdir()
    written = write_schema_files(tmp_path)
    assert sorted(path.name for path in written) == [
        "fault_in_stream.json",
        "http_error.json",
        "script.json",
    ]
    for shape, path in zip(FILED, written, strict=True):
        assert path.read_text(encoding="utf-8") == schema_text(shape)


def test_the_vocabulary_is_the_schema_s() -> None:
    schema = resolved_schema(SCHEMA)
    assert schema["properties"]["fault"]["anyOf"][1]["properties"]["kind"]["enum"] == list(
        FAULT_KINDS
    )
    assert schema["properties"]["frames"]["propertyNames"]["enum"] == list(FRAME_NAMES)
    named = schema["properties"]["http_error"]["anyOf"][1]["oneOf"][1:]
    kinds = [kind for shape in named for kind in shape["properties"]["kind"].get("enum", [])]
    kinds += [
        shape["properties"]["kind"]["const"]
        for shape in named
        if "const" in shape["properties"]["kind"]
    ]
    assert sorted(kinds) == sorted(HTTP_ERROR_KINDS)


# --------------------------------------------------------------------------- blank strings


def test_blank_is_what_strip_removes_for_every_character() -> None:
    """The schema's pattern spells out the whitespace `str.strip()` removes, so a
    blank string is blank to both (and to an ECMA-262 validator, whose `\\s` differs)."""
    for code in range(0x110000):
        character = chr(code)
        assert is_visible(character) == bool(character.strip()), hex(code)
    assert "\\s" not in WHITESPACE


@pytest.mark.parametrize(
    "document",
    [
        {"title": " "},
        {"title": ""},
        {"model_slug": "\u3000"},
        {"reasoning_channel": "\x1f"},
        {"fault": {"kind": "error_envelope", "message": "\t\n"}},
        {"tool_messages": [{"recipient": "\u2028", "author_name": "bio", "text": ""}]},
        {"tool_messages": [{"recipient": "bio", "author_name": "\xa0", "text": ""}]},
        {"http_error": {"kind": "bad_payload", "field": "\x85"}},
    ],
)
def test_a_blank_name_is_refused_by_the_schema_and_the_loader(document: dict[str, Any]) -> None:
    assert schema_errors(SCHEMA, document)
    with pytest.raises(ScriptError, match="empty"):
        load_script(document)


@pytest.mark.parametrize(
    "document",
    [{"title": " a "}, {"model_slug": "\x00"}, {"text": " "}, {"chunks": [" "], "text": " "}],
)
def test_a_string_with_something_in_it_passes_both(document: dict[str, Any]) -> None:
    assert not schema_errors(SCHEMA, document)
    assert load_script(document)


# --------------------------------------------------------------------------- agreement

_SCHEMA_DRAWS = from_schema(resolved_schema(SCHEMA))
_EXAMPLES = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


def _without_rules(node: Any) -> Any:
    """The schema with its rules across keys (the `allOf`s) left out."""
    if isinstance(node, dict):
        return {key: _without_rules(value) for key, value in node.items() if key != "allOf"}
    if isinstance(node, list):
        return [_without_rules(value) for value in node]
    return node


def _loads_unless_the_chunks_do_not_join(document: dict[str, Any]) -> None:
    if _chunks_join(document):
        load_script(document)
    else:
        with pytest.raises(ScriptError, match="chunks must join"):
            load_script(document)


@_EXAMPLES
@given(_SCHEMA_DRAWS)
def test_every_script_the_schema_allows_loads(document: dict[str, Any]) -> None:
    _loads_unless_the_chunks_do_not_join(document)


@settings(_EXAMPLES, derandomize=True)
@given(_SCHEMA_DRAWS)
def test_every_script_the_schema_allows_loads_pinned(document: dict[str, Any]) -> None:
    _loads_unless_the_chunks_do_not_join(document)


@_EXAMPLES
@given(from_schema(_without_rules(resolved_schema(SCHEMA))))
def test_the_loader_and_the_schema_keep_the_same_rules(document: dict[str, Any]) -> None:
    """Documents whose every value is right but whose keys may break a rule across
    them: the loader takes exactly those the schema allows."""
    _agree(document)


_NAMES = sorted(
    {name for shape in (SCRIPT,) for name in shape.names}
    | {"kind", "after", "message", "seconds", "status", "body", "headers", "clears_in", "field"}
    | {"ttft_ms", "tokens_per_second", "jitter", "padding", "pings", "crlf", "content_type"}
    | {"recipient", "author_name", "result", "Content-Length", "x-a", "bad name"}
    | set(FRAME_NAMES)
)
_WORDS = st.sampled_from(
    [
        "",
        " ",
        "\x1f",
        "\u3000",
        "\t\n",
        "all",
        "stall",
        "stop",
        "max_tokens",
        "text",
        *FAULT_KINDS,
        *HTTP_ERROR_KINDS,
    ]
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 700)
    | st.floats(-2, 2, allow_nan=False)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _WORDS
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(_NAMES) | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=10,
)


#: Each key with a value its own schema allows, a tricky word, or any JSON value at all.
_KEYS = [
    st.tuples(st.just(name), from_schema(schema) | _JSON | _WORDS)
    for name, schema in resolved_schema(SCHEMA)["properties"].items()
]
_DOCUMENTS = st.lists(st.one_of(_KEYS), max_size=4).map(dict)


@settings(_EXAMPLES, max_examples=400)
@given(_DOCUMENTS)
def test_the_loader_and_the_schema_agree_on_any_document(document: dict[str, Any]) -> None:
    _agree(document)


@settings(_EXAMPLES, max_examples=400, derandomize=True)
@given(_DOCUMENTS)
def test_the_loader_and_the_schema_agree_on_any_document_pinned(document: dict[str, Any]) -> None:
    _agree(document)


# --------------------------------------------------------------------------- the admin API


@pytest.mark.parametrize(
    ("body", "path", "loc", "msg"),
    [
        ({"txet": "hi"}, "/scripts", ["txet"], "unknown key 'txet'; did you mean 'text'?"),
        ([{}, {"pacing": {"jitter": 3}}], "/scripts", [1, "pacing", "jitter"], "between 0 and 1"),
        ({"fault": {"kind": "stall"}}, "/scripts", ["fault", "seconds"], "a stall needs seconds"),
        ({"title": " "}, "/scripts", ["title"], "must not be empty or only whitespace"),
        ({"http_error": {"kind": "model_cap"}}, "/scripts", ["http_error"], "'clears_in'"),
        ({"text": "ab", "chunks": ["a"]}, "/scripts", ["chunks"], "chunks must join"),
        (
            {"script": {"tool_messages": [{"recipient": "all", "author_name": "x", "text": ""}]}},
            "/scripts/match",
            ["script", "tool_messages", 0, "recipient"],
            "not addressed to 'all'",
        ),
    ],
)
def test_the_admin_api_words_a_bad_script_as_the_loader_does(
    body: Any, path: str, loc: list[Any], msg: str
) -> None:
    mock = MockGPT()
    with mock.client(in_process=True) as client:
        answer = client.post(f"/__mockgpt__{path}", json=body)
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", *loc]
    assert msg in problem["msg"]
    assert problem["type"] == "value_error"
    assert mock.pending_scripts() == 0


def test_the_admin_api_keeps_the_schema_s_words_for_the_rest_of_a_body() -> None:
    mock = MockGPT()
    with mock.client(in_process=True) as client:
        answer = client.post("/__mockgpt__/scripts/match", json={"script": {}, "times": -1})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "times"]
    assert answer.json()["detail"][0]["type"] == "value_error.number.not_ge"


@pytest.mark.parametrize("body", ["pyproject.toml", 7, None, {"script": "pyproject.toml"}])
def test_a_script_body_that_is_no_script_is_never_read_as_a_path(body: Any) -> None:
    mock = MockGPT()
    path = "/scripts/match" if isinstance(body, dict) else "/scripts"
    with mock.client(in_process=True) as client:
        answer = client.post(f"/__mockgpt__{path}", json=body)
    assert answer.status_code == 422
    assert "read" not in answer.text
    assert answer.json()["detail"][0]["type"].startswith(("type_error", "value_error.missing"))
