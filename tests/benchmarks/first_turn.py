"""First-turn time per language: does a new language stall its first answer?

For each language the mock detects, in one fresh process, it times

- `answer`: the language-dependent work of a turn (detect the language, pick
  and fill the answer, write the title) for the language's first prompt, then
  for a second prompt in the same language;
- `turn`: a whole first turn (`POST /backend-api/conversation`, delta encoding
  v1, in-process on a virtual clock, so pacing costs no wall time), then a
  second one.

A first-use stall (a locale's data loaded on demand) shows as a first time much
above the second; the target is a first answer under 5 ms. Whole turns include
the HTTP stack and are noisy on a busy machine; the answer columns isolate the
part that depends on the language.

Run it from the repository root: `python tests/benchmarks/first_turn.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import user_turn

from mockgpt import Config, create_app
from mockgpt.replies import corpus, generate_reply, generate_title

PROMPTS = {
    "en_US": ("How do I read a CSV file in Python?", "Explain how tides work."),
    "es_ES": ("¿Cómo funciona la fotosíntesis?", "Dame consejos para dormir mejor."),
    "fr_FR": ("Pourquoi le ciel est-il bleu ?", "Écris un poème sur la mer."),
    "de_DE": ("Wie kann ich besser schlafen?", "Erkläre mir bitte die Relativitätstheorie."),
    "it_IT": ("Spiegami la fotosintesi.", "Scrivi una funzione in Python."),
    "pt_BR": ("Você pode me explicar como funciona a recursão?", "Compare Python e Java."),
    "ru_RU": ("Расскажи мне про Москву", "Напиши функцию на Python"),
    "zh_CN": ("请介绍一下长城的历史", "用Python写一个快速排序"),
    "ja_JP": ("東京で一日観光するならどこがおすすめ？", "俳句とは何ですか？"),  # noqa: RUF001
    "ko_KR": ("파이썬으로 정렬 함수를 작성해 주세요", "광합성을 설명해 주세요"),
    "ar_AA": ("اشرح لي التمثيل الضوئي", "ما هو الذكاء الاصطناعي؟"),
    "el_GR": ("Εξήγησε τη φωτοσύνθεση", "Γράψε ένα ποίημα"),
    "he_IL": ("הסבר לי מה זה פוטוסינתזה", "כתוב שיר על הים"),
    "hi_IN": ("प्रकाश संश्लेषण समझाइए", "एक कविता लिखिए"),
    "th_TH": ("อธิบายการสังเคราะห์แสง", "ช่วยเขียนกลอนหน่อย"),
}
HEADERS = {"authorization": "Bearer benchmark", "accept": "text/event-stream"}


def _turn(client: TestClient, prompt: str) -> float:
    body = user_turn(prompt)
    body["supported_encodings"] = ["v1"]
    start = time.perf_counter()
    response = client.post("/backend-api/conversation", json=body, headers=HEADERS)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.text[:200]
    return elapsed * 1000


def _answer(prompt: str) -> float:
    start = time.perf_counter()
    generate_reply(0, prompt, "gpt-5")
    generate_title(0, prompt)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    started = time.perf_counter()
    app = create_app(Config(seed=0, clock="virtual", pace="real"))
    corpus()  # read at first use; `mockgpt serve` reads it as soon as it listens
    print(f"app ready in {(time.perf_counter() - started) * 1000:.0f} ms (corpus included)")
    with TestClient(app) as client:
        warm = _turn(client, "Hello there, what can you do?")
        print(f"{'baseline':10} first turn of the app {warm:7.2f} ms")
        print(
            f"{'locale':8} {'answer 1st':>11} {'answer 2nd':>11} {'turn 1st':>10} {'turn 2nd':>10}"
        )
        for locale, (first, second) in PROMPTS.items():
            a1, a2 = _answer(first), _answer(second)
            t1, t2 = _turn(client, first + " "), _turn(client, second + " ")
            print(f"{locale:8} {a1:9.3f}ms {a2:9.3f}ms {t1:8.2f}ms {t2:8.2f}ms")


if __name__ == "__main__":
    main()
