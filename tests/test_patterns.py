"""Prompt patterns run on RE2: no pattern a user sends can stall the server."""

from __future__ import annotations

import re

import httpx
import pytest
from support import user_turn

from mockgpt import MockGPT
from mockgpt.patterns import PatternError, PromptPattern
from mockgpt.scripts import Script, ScriptError

ADMIN = "/__mockgpt__"
AUTH = {"authorization": "Bearer t"}


@pytest.fixture
def client(mock_client: httpx.Client) -> httpx.Client:
    return mock_client


def test_a_catastrophic_pattern_answers_a_long_prompt(client: httpx.Client) -> None:
    answer = client.post(
        f"{ADMIN}/scripts/match",
        json={"script": {"text": "all a's"}, "prompt_pattern": "^(a+)+$"},
    )
    assert answer.status_code == 200
    # RE2 alone refuses a backreference: on `re` this test fails here instead of hanging below
    with pytest.raises(PatternError):
        PromptPattern(r"(a)\1")
    # linear by construction: the backtracking case for `re` is one pass for RE2
    turn = client.post("/backend-api/conversation", json=user_turn("a" * 5000 + "b"), headers=AUTH)
    assert turn.status_code == 200
    assert "all a's" not in turn.text
    turn = client.post("/backend-api/conversation", json=user_turn("a" * 5000), headers=AUTH)
    assert "all a's" in turn.text


def test_python_patterns_keep_their_flags() -> None:
    pattern = PromptPattern(re.compile(r"^translate\b", re.IGNORECASE))
    assert pattern.search("TRANSLATE this")
    assert not pattern.search("please translate")
    assert PromptPattern(re.compile(r"a.b", re.DOTALL)).search("a\nb")
    assert PromptPattern(re.compile(r"^b", re.MULTILINE)).search("a\nb")
    assert PromptPattern("caf\u00e9").search("un caf\u00e9 \udfff")  # a lone surrogate is no crash


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<=a)b", r"a(?!b)", r"a++"])
def test_unsupported_syntax_is_a_clear_error(client: httpx.Client, pattern: str) -> None:
    answer = client.post(
        f"{ADMIN}/scripts/match", json={"script": {"text": "x"}, "prompt_pattern": pattern}
    )
    assert answer.status_code == 422
    [problem] = answer.json()["detail"]
    assert "RE2" in problem["msg"]
    assert problem["loc"] == ["body"]
    with pytest.raises(ScriptError, match="not supported by the RE2 engine"):
        MockGPT().match(Script(text="x"), prompt=re.compile(pattern))


def test_unsupported_flags_are_refused() -> None:
    with pytest.raises(ScriptError, match="VERBOSE"):
        MockGPT().match(Script(text="x"), prompt=re.compile("a b", re.VERBOSE))
