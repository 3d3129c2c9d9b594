from __future__ import annotations

import pytest

from mockgpt.catalogue import Param
from mockgpt.schemas import FORMAT_CHECKER
from mockgpt.validation import (
    body_problems,
    fastapi_detail,
    openai_error_body,
    path_problems,
    query_problems,
)

REQUEST = "conversation/request.json"


@pytest.mark.parametrize(
    ("value", "fmt", "ok"),
    [
        ("4c6f6361-6c41-4d6f-8b63-6b4163637431", "uuid", True),
        ("4c6f63616c414d6f8b636b4163637431", "uuid", False),
        ("null,null", "uuid", False),
        ("2025-11-03T14:22:41.767145Z", "date-time", True),
        ("2025-11-03T14:22:41+00:00", "date-time", True),
        ("2025-11-03", "date-time", False),
        ("2025-13-03T14:22:41Z", "date-time", False),
        ("https://chatgpt.com/c/1", "uri", True),
        ("not a uri", "uri", False),
    ],
)
def test_format_checks(value: str, fmt: str, ok: bool) -> None:
    assert FORMAT_CHECKER.conforms(value, fmt) is ok


def test_missing_fields_are_listed_one_by_one() -> None:
    _, problems = body_problems(REQUEST, b"{}")
    detail = fastapi_detail(problems)["detail"]
    assert {
        "loc": ["body", "model"],
        "msg": "field required",
        "type": "value_error.missing",
    } in detail
    assert all(item["type"] == "value_error.missing" for item in detail)


def test_empty_body_is_missing_unless_optional() -> None:
    assert body_problems(REQUEST, b"")[1][0].loc == ("body",)
    assert body_problems(REQUEST, b"  ", optional=True) == (None, [])


def test_non_utf8_body_is_rejected_without_crashing() -> None:
    _, problems = body_problems(REQUEST, b"\xff\xfe{")
    assert problems[0].type == "value_error.jsondecode"


def test_nested_type_error_is_located() -> None:
    body = b'{"action": "next", "model": "auto", "messages": [{"author": 5}]}'
    _, problems = body_problems(REQUEST, body)
    assert problems
    assert problems[0].loc[:3] == ("body", "messages", 0)


def test_query_values_are_coerced_like_fastapi() -> None:
    params = (
        Param("limit", {"type": "integer", "minimum": 0}, 28, False),
        Param("is_archived", {"type": "boolean"}, False, False),
        Param("order", {"type": "string", "enum": ["updated", "created"]}, "updated", True),
    )
    assert (
        query_problems(params, {"limit": ["5"], "is_archived": ["true"], "order": ["created"]})
        == []
    )
    problems = query_problems(params, {"limit": ["-1"], "is_archived": ["maybe"]})
    kinds = {(p.loc, p.type) for p in problems}
    assert (("query", "limit"), "value_error.number.not_ge") in kinds
    assert (("query", "is_archived"), "type_error.bool") in kinds
    assert (("query", "order"), "value_error.missing") in kinds


def test_path_parameters_are_checked() -> None:
    params = (Param("conversation_id", {"type": "string", "format": "uuid"}, None, True),)
    assert path_problems(params, {"conversation_id": "4c6f6361-6c41-4d6f-8b63-6b4163637431"}) == []
    [problem] = path_problems(params, {"conversation_id": "abc"})
    assert problem.loc == ("path", "conversation_id")
    assert problem.type == "type_error.uuid"


def test_openai_wording() -> None:
    schema = "openai/chat_completions_request.json"
    _, problems = body_problems(
        schema, b'{"model": "m", "messages": [{"role": "bogus", "content": "x"}]}'
    )
    error = openai_error_body(problems[0])["error"]
    assert error["param"] == "messages[0].role"
    assert error["code"] == "invalid_value"
    assert error["message"].startswith("Invalid value: 'bogus'. Supported values are: ")
    _, problems = body_problems(
        schema, b'{"model": 3, "messages": [{"role": "user", "content": "x"}]}'
    )
    error = openai_error_body(problems[0])["error"]
    assert error == {
        "message": "Invalid type for 'model': expected a string, but got an integer instead.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "invalid_type",
    }
    _, problems = body_problems(schema, b'{"model": "m", "messages": []}')
    error = openai_error_body(problems[0])["error"]
    assert error["code"] == "empty_array"
    assert error["param"] == "messages"
