"""The pytest plugin, exercised in throwaway projects made with pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import httpx
import pytest

TURN = {
    "action": "next", "model": "auto", "parent_message_id": "client-created-root",
    "messages": [{"id": "aaa1b2c3-d4e5-4f60-8718-293a4b5c6d7e", "author": {"role": "user"},
                  "content": {"content_type": "text", "parts": ["hello"]}}],
}


def test_scripted_reply_and_journal(mockgpt):
    mockgpt.reply("Hi from the fixture")
    answer = httpx.post(mockgpt.url + "/backend-api/conversation", json=TURN,
                        headers={"Authorization": "Bearer t"})
    assert "Hi from the fixture" in answer.text
    mockgpt.assert_called("POST /backend-api/conversation", times=1)


def test_state_does_not_leak_between_tests(mockgpt):
    assert mockgpt.calls() == []
    assert mockgpt.app.conversations.book.pending == 0
    listing = httpx.get(mockgpt.url + "/backend-api/conversations",
                        headers={"Authorization": "Bearer t"}).json()
    assert listing["total"] == 0


def test_override(mockgpt):
    mockgpt.on("GET /backend-api/me").respond(503, json={"detail": "down"})
    answer = httpx.get(mockgpt.url + "/backend-api/me", headers={"Authorization": "Bearer t"})
    assert answer.status_code == 503


@pytest.mark.mockgpt(auth="strict", seed=9)
def test_marker_settings(mockgpt):
    assert mockgpt.app.authority.policy == "strict"
    assert mockgpt.config.seed == 9
    assert httpx.get(mockgpt.url + "/backend-api/me",
                     headers={"Authorization": "Bearer made-up"}).status_code == 401


def test_suite_config(mockgpt):
    assert mockgpt.config.sample_conversations == 2
"""

CONFTEST = """
import pytest
from mockgpt import Config


@pytest.fixture(scope="session")
def mockgpt_config():
    return Config(clock="virtual", sample_conversations=2)
"""


def test_a_project_uses_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_user=USER_TESTS.replace('assert listing["total"] == 0', 'assert listing["total"] == 2')
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_an_error_inside_the_mock_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_broken="""
import httpx

def test_mock_breaks(mockgpt):
    mockgpt.app.conversations.book = None
    answer = httpx.post(mockgpt.url + "/backend-api/conversation",
                        headers={"Authorization": "Bearer t"},
                        json={"action": "next", "model": "auto", "messages": []})
    assert answer.status_code == 500
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*MockFailure*", "*POST /backend-api/conversation*"])


def test_the_readme_example_runs(pytester: pytest.Pytester) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## From pytest", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_readme=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=example.count("\ndef test_"))
