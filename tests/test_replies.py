"""Scripts: the data form, its validation, the book that picks them, generated answers."""

from __future__ import annotations

import ast
import re

import pytest

from mockgpt.replies import detect_locale, generate_reply, generate_title

_CJK = re.compile(r"[\u4e00-\u9fff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_CODE = re.compile(r"```python\n(.*?)\n```", re.DOTALL)


def test_reply_is_deterministic() -> None:
    prompt = "What should I cook tonight?"
    reply = generate_reply(7, prompt, "gpt-4o")
    assert reply == generate_reply(7, prompt, "gpt-4o")
    assert reply != generate_reply(7, "Explain how tides work.", "gpt-4o")
    # The seed and the model choose between equally close answers.
    assert len({generate_reply(seed, prompt, "gpt-4o") for seed in range(10)}) > 1
    assert len({generate_reply(7, prompt, f"gpt-{n}") for n in range(10)}) > 1
    # A title names the prompt's topic, so it depends on the prompt alone.
    assert generate_title(7, prompt) == generate_title(8, prompt) == "Cook Tonight Chat"


def test_reply_has_a_realistic_length() -> None:
    for seed in range(10):
        plain = generate_reply(seed, "Tell me something nice.", "gpt-4o")
        assert plain.count(".") >= 2
        assert len(plain) < 3000
        long = generate_reply(seed, "Explain how rainbows form.", "gpt-4o")
        assert long.count("\n\n") >= 2


def test_reply_language_follows_the_prompt() -> None:
    chinese = generate_reply(1, "请介绍一下长城的历史", "gpt-4o")
    assert len(_CJK.findall(chinese)) > 20
    russian = generate_reply(1, "Расскажи мне про Москву", "gpt-4o")
    assert len(_CYRILLIC.findall(russian)) > 20
    assert not _CJK.search(russian)
    english = generate_reply(1, "Tell me about London", "gpt-4o")
    assert re.search(r"[A-Za-z]{3,}", english)
    assert not _CJK.search(english)
    assert not _CYRILLIC.search(english)
    assert all(ch.isascii() for ch in english)


@pytest.mark.parametrize(
    ("prompt", "locale", "letters"),
    [
        ("你好，今天天气怎么样？", "zh_CN", r"[\u4e00-\u9fff]"),  # noqa: RUF001 (the prompt's own punctuation)
        ("こんにちは、元気ですか？", "ja_JP", r"[\u3040-\u30ff\u4e00-\u9fff]"),  # noqa: RUF001 (the prompt's own punctuation)
        ("안녕하세요, 잘 지내요?", "ko_KR", r"[\uac00-\ud7af]"),
        ("Привет, как дела?", "ru_RU", r"[\u0400-\u04ff]"),
        ("مرحبا كيف حالك؟", "ar_AA", r"[\u0600-\u06ff]"),
        ("Γεια σου, τι κάνεις;", "el_GR", r"[\u0370-\u03ff]"),  # noqa: RUF001 (the prompt's own punctuation)
        ("שלום, מה שלומך?", "he_IL", r"[\u0590-\u05ff]"),
        ("नमस्ते, आप कैसे हैं?", "hi_IN", r"[\u0900-\u097f]"),
        ("สวัสดีครับ สบายดีไหม", "th_TH", r"[\u0e00-\u0e7f]"),
        ("¿Puedes explicarme cómo funciona la recursión?", "es_ES", r"[a-z]"),
        ("Bonjour, peux-tu m'expliquer comment fonctionne la récursivité ?", "fr_FR", r"[a-z]"),
        ("Kannst du mir bitte erklären, wie Rekursion funktioniert?", "de_DE", r"[a-z]"),
        ("Puoi spiegarmi come funziona la ricorsione?", "it_IT", r"[a-z]"),
        ("Você pode me explicar como funciona a recursão?", "pt_BR", r"[a-z]"),
        ("Can you explain how recursion works?", "en_US", r"[a-z]"),
        ("用Python写一个快速排序", "zh_CN", r"[\u4e00-\u9fff]"),
        ("What does 你好 mean?", "en_US", r"[a-z]"),
    ],
)
def test_detect_locale(prompt: str, locale: str, letters: str) -> None:
    assert detect_locale(prompt) == locale
    assert len(re.findall(letters, generate_reply(3, prompt, "gpt-4o"))) > 10
    title = generate_title(3, prompt)
    assert re.search(letters, title)
    if locale not in ("zh_CN", "ja_JP", "th_TH"):
        assert 2 <= len(title.split()) <= 6


@pytest.mark.parametrize(
    "prompt",
    [
        "Write a Python function that sorts a list",
        "Can you show me a code example of a decorator?",
        "用 Python 写一个排序函数的示例代码",
        "Напиши функцию на Python для сортировки",
    ],
)
def test_code_prompt_gets_a_python_block(prompt: str) -> None:
    for seed in range(6):
        reply = generate_reply(seed, prompt, "gpt-4o")
        blocks = _CODE.findall(reply)
        assert len(blocks) == 1, reply
        ast.parse(blocks[0])
        assert reply.index("```") > 0


def test_plain_prompt_gets_no_code() -> None:
    for seed in range(6):
        assert "```" not in generate_reply(seed, "Tell me a fun fact about otters", "gpt-4o")
        assert "```" not in generate_reply(seed, "Comment fonctionne la photosynthèse ?", "m")


def test_no_answer_says_its_lead_in_twice() -> None:
    """A generic answer gets a lead-in ("Happy to help.") unless its text already opens
    with one, whatever the lead-in's closing punctuation."""
    import json
    from importlib import resources

    languages = json.loads(resources.files("mockgpt.corpus").joinpath("languages.json").read_text())
    leads = [
        lead for key, data in languages.items() if not key.startswith("_")
        for lead in data.get("openers", [])
    ]  # fmt: skip
    greetings = ["Hello", "hi", "Hola", "Bonjour", "Hallo", "Ciao", "Olá", "Привет", "你好"]
    answers = [generate_reply(seed, text, "gpt-4o") for seed in range(60) for text in greetings]
    doubled = [
        answer[:60]
        for answer in answers
        for lead in leads
        if answer.startswith(lead)
        and answer[len(lead) :].lstrip().startswith(lead.rstrip(".!\u3002\uff01"))
    ]
    assert doubled == []
    assert any(answer.startswith(tuple(leads)) for answer in answers)  # lead-ins still appear
