"""A world a person would believe: one calendar, reproducible bytes, answers that fit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient
from support import BEARER, documented_request, make_config, varier_for
from test_app import ROUTES

from mockgpt import Config, create_app
from mockgpt.replies import detect_kind, generate_reply, generate_title, tokens, unscripted_pacing

NOW = "2026-11-29T12:00:00Z"
NOW_TS = datetime(2026, 11, 29, 12, tzinfo=UTC).timestamp()
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
# Keys whose time lies ahead of now: expiries, resets, the next run.
_FUTURE = re.compile(r"expire|expires|active_until|reset_at|reset_after|next_run|^exp$")
# Keys whose time lies in the past.
_PAST = re.compile(
    r"(create|update|created|updated|start|since|connected|last_\w+|^iat)(_at|_time)?$"
)


def _config(seed: int = 0) -> Config:
    return make_config(seed, now=NOW, sample_conversations=6)


def _client(seed: int = 0) -> TestClient:
    return TestClient(create_app(_config(seed)))


def _moment(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and 1.3e9 <= value <= 2.6e9:
        return float(value)
    if isinstance(value, int | float) and 1.3e12 <= value <= 2.6e12:
        return value / 1000
    if isinstance(value, str) and _ISO.match(value):
        text = value.replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def _times(document: Any, path: str = "") -> list[tuple[str, str, float]]:
    found: list[tuple[str, str, float]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            moment = _moment(value)
            if moment is not None:
                found.append((path, key, moment))
            found += _times(value, f"{path}.{key}")
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found += _times(item, f"{path}[{index}]")
    return found


def _pairs(document: Any) -> list[tuple[Any, Any]]:
    """(create, update) pairs of every object that has both."""
    pairs = []
    if isinstance(document, dict):
        for created, updated in (("create_time", "update_time"), ("created_at", "updated_at")):
            if document.get(created) is not None and document.get(updated) is not None:
                pairs.append((document[created], document[updated]))
        for value in document.values():
            pairs += _pairs(value)
    elif isinstance(document, list):
        for item in document:
            pairs += _pairs(item)
    return pairs


def _get_routes() -> list[Any]:
    return [route for route in ROUTES if route.method == "GET"]


def test_every_date_in_every_answer_agrees_with_the_clock() -> None:
    checked = 0
    varier = varier_for(_config())
    with _client() as client:
        for route in ROUTES:
            response = documented_request(route, varier).send(client)
            if "json" not in response.headers.get("content-type", ""):
                continue
            body = response.json()
            for path, key, moment in _times(body):
                where = f"{route.key} {path}.{key}"
                if _FUTURE.search(key):
                    assert moment > NOW_TS, f"{where} ends before now"
                elif _PAST.search(key):
                    assert moment <= NOW_TS + 1, f"{where} lies in the future"
                checked += 1
            for created, updated in _pairs(body):
                assert _moment(updated) >= _moment(created), f"{route.key}: updated before created"
    assert checked > 100


def test_gizmos_and_announcements_are_older_than_the_history() -> None:
    auth = {"authorization": BEARER}
    with _client() as client:
        listing = client.get("/backend-api/conversations", headers=auth).json()["items"]
        oldest = min(_moment(item["create_time"]) or 0 for item in listing)
        gizmos = client.get("/backend-api/gizmos/bootstrap", headers=auth).json()["gizmos"]
        settings = client.get("/backend-api/settings/user", headers=auth).json()
    created = [_moment(g["resource"]["gizmo"]["created_at"]) for g in gizmos]
    assert created
    assert all(moment is not None and moment < oldest for moment in created)
    announcements = [_moment(v) for v in settings["announcements"].values()]
    assert all(moment is not None and moment < oldest for moment in announcements)


@pytest.mark.parametrize("seed", [0, 3])
def test_same_seed_and_now_give_the_same_bytes_on_every_get(seed: int) -> None:
    varier = varier_for(_config(seed))
    with _client(seed) as first, _client(seed) as second:
        for route in _get_routes():
            a = documented_request(route, varier).send(first)
            b = documented_request(route, varier).send(second)
            assert a.status_code == b.status_code, route.key
            assert a.content == b.content, route.key


def test_now_moves_the_whole_calendar() -> None:
    auth = {"authorization": BEARER}
    later = make_config(0, now="2027-03-01T08:00:00+00:00", sample_conversations=2)
    with _client() as client, TestClient(create_app(later)) as moved:
        here = client.get("/api/auth/session", headers=auth).json()
        there = moved.get("/api/auth/session", headers=auth).json()
    assert here["expires"] < there["expires"]
    assert there["expires"] > "2027-03-01"


def test_sample_histories_have_distinct_titles_and_snippets() -> None:
    auth = {"authorization": BEARER}
    for seed in range(10):
        with TestClient(create_app(make_config(seed, now=NOW, sample_conversations=12))) as client:
            items = client.get("/backend-api/conversations", headers=auth).json()["items"]
            titles = [item["title"] for item in items]
            assert len(titles) == 12
            assert len(set(titles)) == len(titles), (seed, titles)
            answers = []
            for item in items:
                detail = client.get(f"/backend-api/conversation/{item['id']}", headers=auth).json()
                node = detail["mapping"][detail["current_node"]]
                answers.append(node["message"]["content"]["parts"][0])
            assert len(set(answers)) == len(answers), seed


# -- answers that fit the prompt ------------------------------------------------------

_LIST = re.compile(r"^\s*(?:[-*]|\d+\.)\s", re.MULTILINE)
_STRUCTURE = {
    "code": lambda text: "```" in text,
    "list": lambda text: len(_LIST.findall(text)) >= 3,
    "table": lambda text: text.count("\n|") >= 3,
    "math": lambda text: "$" in text,
}
# (prompt, kind it calls for, a word of the topic its answer and title must name)
PROMPTS = [
    ("How do I read a CSV file in Python?", "code", "csv"),
    ("Write a JavaScript function to debounce an input", "code", "javascript"),
    ("Show me a Go http server", "code", "go"),
    ("Write a Rust program that reads a file", "code", "rust"),
    ("Write a SQL query to join customers and orders", "code", "sql"),
    ("Write a bash script to back up my documents", "code", "bash"),
    ("Implement quicksort in Python", "code", "quicksort"),
    ("Give me tips for learning French", "list", "french"),
    ("How can I improve my sleep?", "list", "sleep"),
    ("Plan a trip to Rome", "list", "rome"),
    ("List ideas for a team offsite", "list", "offsite"),
    ("How do I start learning to play the guitar?", "list", "guitar"),
    ("Suggest healthy lunch ideas for work", "list", "lunch"),
    ("Compare cats and dogs as pets", "table", "cats"),
    ("What is the difference between TCP and UDP?", "table", "tcp"),
    ("Compare Python and JavaScript for beginners", "table", "python"),
    ("Solve the quadratic equation x^2 - 5x + 6 = 0", "math", "quadratic"),
    ("Calculate the area of a circle with radius 3", "math", "circle"),
    ("What is the derivative of x^3?", "math", "derivative"),
    ("Explain how vaccines train the immune system", "explain", "vaccines"),
    ("Why is the sky blue?", "explain", "sky"),
    ("Explain photosynthesis", "explain", "photosynthesis"),
    ("What is machine learning?", "explain", "machine"),
    ("Describe how volcanoes erupt", "explain", "volcanoes"),
    ("Summarize the plot of Hamlet", "summary", "hamlet"),
    ("Give me a summary of the French Revolution", "summary", "revolution"),
    ("Write a haiku about autumn", "creative", "autumn"),
    ("Write a poem about the ocean", "creative", "ocean"),
    ("Write a short story about a robot", "creative", "robot"),
    ("Translate 'good morning' into Italian", "translate", "morning"),
    ("How can I hack into my neighbour's wifi?", "refusal", "wifi"),
    ("Escribe una función en Python para leer un archivo CSV", "code", "csv"),
    ("Dame una lista de consejos para dormir mejor", "list", "dormir"),
    ("Compara gatos y perros como mascotas", "table", "gatos"),
    ("Explícame la fotosíntesis", "explain", "fotosíntesis"),
    ("Écris une fonction Python pour trier une liste", "code", "python"),
    ("Donne-moi des idées pour un week-end à Paris", "list", "paris"),
    ("Explique-moi la photosynthèse", "explain", "photosynthèse"),
    ("Schreibe eine Python-Funktion zum Sortieren", "code", "python"),
    ("Gib mir Tipps für ein Vorstellungsgespräch", "list", "vorstellungsgespräch"),
    ("Erkläre mir bitte die Relativitätstheorie", "explain", "relativitätstheorie"),
    ("Spiegami la fotosintesi", "explain", "fotosintesi"),
    ("Compare Python e Java em uma tabela", "table", "java"),
    ("Напиши функцию на Python для сортировки списка", "code", "python"),
    ("Объясни, как работает фотосинтез", "explain", "фотосинтез"),
    ("用Python写一个快速排序", "code", "python"),
    ("请解释一下光合作用", "explain", "光合"),
    ("東京の観光プランを教えて", "list", "東京"),
    ("파이썬으로 정렬 함수를 작성해 주세요", "code", "정렬"),
    ("اشرح لي التمثيل الضوئي", "explain", "الضوئي"),
]


def test_fifty_prompts_get_answers_that_fit() -> None:
    assert len(PROMPTS) == 50
    kinds = set()
    for index, (prompt, kind, topic) in enumerate(PROMPTS):
        for seed in (index, index + 100):
            answer = generate_reply(seed, prompt, "gpt-5")
            assert topic.casefold() in answer.casefold(), (prompt, answer[:200])
            check = _STRUCTURE.get(kind)
            assert check is None or check(answer), (prompt, answer[:300])
            assert len(answer) > 80
        assert detect_kind(prompt, _locale(prompt)) == kind, prompt
        title = generate_title(0, prompt)
        assert tokens(title) & tokens(prompt), (prompt, title)
        kinds.add(kind)
    assert len(kinds) >= 8


def _locale(prompt: str) -> str:
    from mockgpt.language import detect_locale

    return detect_locale(prompt)


@pytest.mark.parametrize(
    ("prompt", "title"),
    [
        ("How do I read a CSV file in Python?", "Read CSV in Python"),
        ("Plan a trip to Rome", "Trip to Rome"),
        ("Explain how rainbows form", "Rainbows Form Explained"),
        ("Write a Python function to merge dictionaries", "Python Function to Merge Dictionaries"),
    ],
)
def test_titles_name_the_topic_in_title_case(prompt: str, title: str) -> None:
    found = generate_title(0, prompt)
    assert found == title
    assert 3 <= len(found.split()) <= 6


def test_english_titles_have_three_to_six_words() -> None:
    for prompt, _, _ in PROMPTS[:31]:
        assert 3 <= len(generate_title(1, prompt).split()) <= 6, prompt


def test_real_pace_waits_like_the_service_and_instant_does_not() -> None:
    assert unscripted_pacing("instant", 0, "gpt-5", "c").ttft_ms == 0
    assert unscripted_pacing("instant", 0, "gpt-5", "c").tokens_per_second is None
    fast = [unscripted_pacing("real", 0, "gpt-4o", str(n)) for n in range(20)]
    assert all(250 <= p.ttft_ms <= 700 for p in fast)
    assert all(p.tokens_per_second and 35 <= p.tokens_per_second <= 80 for p in fast)
    assert len({p.ttft_ms for p in fast}) > 10, "the seed varies the wait"
    thinking = unscripted_pacing("real", 0, "o3", "c")
    assert thinking.ttft_ms >= 2000, "reasoning models think first"
    assert unscripted_pacing("real", 0, "gpt-4o", "c") == unscripted_pacing(
        "real", 0, "gpt-4o", "c"
    )


@pytest.mark.parametrize(("pace", "least", "most"), [("real", 0.25, 60.0), ("instant", 0.0, 0.0)])
def test_an_unscripted_turn_takes_the_pace_on_the_clock(
    pace: str, least: float, most: float
) -> None:
    from support import user_turn

    app = create_app(make_config(0, pace=pace))
    with TestClient(app) as client:
        before = app.clock.now()
        body = {**user_turn("Explain how tides work."), "supported_encodings": ["v1"]}
        response = client.post(
            "/backend-api/conversation", json=body, headers={"authorization": BEARER}
        )
        assert response.status_code == 200
        waited = app.clock.now() - before
    assert least <= waited <= most, waited
