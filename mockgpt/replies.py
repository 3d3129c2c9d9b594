"""Answers nobody scripted: generated from the seed and the prompt, in its language.

The same seed, prompt and model always give the same text; the locale is
detected from the prompt's script (and, for Latin, its common words), and
faker's providers of that locale write the sentences.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
import re
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from faker import Faker

from mockgpt.scripts import NO_SPACE_CHARS

__all__ = ["detect_locale", "generate_reply", "generate_title"]


def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split())


_SCRIPT_RANGES: Mapping[str, str] = MappingProxyType(
    {
        "han": "\u2e80-\u2fdf\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
        "\U00020000-\U0003134f",
        "kana": "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f",
        "hangul": "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af",
        "cyrillic": "\u0400-\u052f",
        "arabic": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
        "greek": "\u0370-\u03ff\u1f00-\u1fff",
        "hebrew": "\u0590-\u05ff\ufb1d-\ufb4f",
        "devanagari": "\u0900-\u097f",
        "thai": "\u0e00-\u0e7f",
    }
)
_SCRIPT_PATTERNS = MappingProxyType(
    {name: re.compile(f"[{chars}]") for name, chars in _SCRIPT_RANGES.items()}
)
_SCRIPT_LOCALES: Mapping[str, str] = MappingProxyType(
    {
        "cyrillic": "ru_RU",
        "arabic": "ar_AA",
        "greek": "el_GR",
        "hebrew": "he_IL",
        "devanagari": "hi_IN",
        "thai": "th_TH",
    }
)
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LATIN_WORD = re.compile(r"[^\W\d_]+")
# A Han, kana or Hangul character carries about as much as three Latin letters.
_DENSE_WEIGHT = 3

_COMMON_WORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "en_US": frozenset(
            _split(
                "the and is are what how why you can please write explain to of in for with this "
                "that a an my me i it do does be give show"
            )
        ),
        "es_ES": frozenset(
            _split(
                "el los las es por qué cómo está puedes hola explica explícame escribe gracias y "
                "pero muy también dónde cuál necesito quiero hacer ejemplo código función lo se "
                "al unos esto"
            )
        ),
        "fr_FR": frozenset(
            _split(
                "le les est des une du pour avec dans qui pas sur bonjour comment pourquoi écris "
                "merci je vous et mais très aussi où quel quelle ce cette fonction exemple peux "
                "au aux"
            )
        ),
        "de_DE": frozenset(
            _split(
                "der die das und ist nicht ein eine mit für auf wie warum was ich du sie bitte "
                "erkläre erklären schreibe hallo danke auch sehr wo welche kannst dem den zu von "
                "funktion beispiel mir"
            )
        ),
        "it_IT": frozenset(
            _split(
                "il gli è per della che come perché ciao spiega spiegami scrivi grazie ma molto "
                "anche dove quale puoi sono questo questa funzione esempio non"
            )
        ),
        "pt_BR": frozenset(
            _split(
                "o os as é com uma do da dos das não como olá explique escreva obrigado obrigada "
                "mas muito também onde qual você pode meu minha em no na função exemplo"
            )
        ),
    }
)
_LETTER_HINTS: Mapping[str, str] = MappingProxyType(
    {"ñ¿¡": "es_ES", "ãõ": "pt_BR", "ßäöü": "de_DE", "œêëîûù": "fr_FR", "òì": "it_IT"}
)

# Faker has no word list for these locales (it falls back to Latin lorem), so
# mockgpt brings short lists of common words written in the locale's script.
_WORD_LISTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "ko_KR": _split(
            "데이터 사용자 방법 경우 문제 결과 시스템 정보 중요한 다양한 있습니다 합니다 하지만 "
            "그리고 따라서 예를 들어 기능 설정 변경 확인 필요한 가능한 과정 단계 이해 설명 코드 "
            "함수 값 목록 처리 요청 응답 서버 파일 구조 간단한 일반적으로 먼저 다음 마지막으로 "
            "좋은 새로운 방식 질문 답변 내용 부분 전체 시간 작업 성능 보안 환경 도구 사례"
        ),
        "hi_IN": _split(
            "डेटा उपयोगकर्ता तरीका समस्या परिणाम प्रणाली जानकारी महत्वपूर्ण विभिन्न है हैं और "
            "लेकिन इसलिए उदाहरण के लिए सुविधा सेटिंग बदलाव जांच आवश्यक संभव प्रक्रिया चरण समझ "
            "व्याख्या कोड फ़ंक्शन मान सूची अनुरोध उत्तर सर्वर फ़ाइल संरचना सरल आमतौर पहले बाद "
            "अंत अच्छा नया प्रश्न विषय भाग समय काम प्रदर्शन सुरक्षा वातावरण उपकरण यह वह कि "
            "में से पर को कर सकते होता"
        ),
        "pt_BR": _split(
            "dados usuário forma problema resultado sistema informação importante diferentes "
            "é são mas portanto exemplo para recurso configuração mudança verificar necessário "
            "possível processo etapa entender explicar código função valor lista pedido "
            "resposta servidor arquivo estrutura simples geralmente primeiro depois finalmente "
            "bom novo pergunta assunto parte tempo trabalho desempenho segurança ambiente "
            "ferramenta você pode também quando como com uma muito sempre então"
        ),
    }
)
# Locales that write sentences without spaces between words.
_UNSPACED = frozenset({"zh_CN", "ja_JP", "th_TH"})
_FULL_STOP: Mapping[str, str] = MappingProxyType({"zh_CN": "。", "hi_IN": "।"})

# A trailing * matches any ending; other words match whole (or with a plural s/es).
_CODE_WORDS = _split(
    "code python function example script snippet 代码 示例 函数 コード 코드 код* функци* пример* "
    "código ejemplo función exemple fonction beispiel funktion esempio funzione exemplo função"
)
_EXPLAIN_WORDS = _split(
    "explain* why describe* write 解释 为什么 如何 怎么 说明 説明 なぜ 설명 왜 объясн* почему "
    "расскаж* напиш* explica* explíca* expliqu* pourquoi écri* erklär* warum schreib* spieg* "
    "perché scriv* escrib* escrev* اشرح لماذا εξήγησ* γιατί הסבר למה समझा* क्यों อธิบาย ทำไม"
)
# Words in these scripts are matched anywhere, since they are not set off by spaces.
_UNSPACED_WORD = re.compile(f"[{NO_SPACE_CHARS}\uac00-\ud7af]")

# Faker instances are costly to build; they are re-seeded on every call, and the
# lock keeps two threads from interleaving draws on one instance.
_FAKERS: dict[str, Faker] = {}
_FAKER_LOCK = threading.Lock()


def _faker(locale: str) -> Faker:
    fake = _FAKERS.get(locale)
    if fake is None:
        fake = _FAKERS[locale] = Faker(locale)
    return fake


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def detect_locale(text: str) -> str:
    """The Faker locale of the language `text` is written in, from its letters.

    Non-Latin scripts are told apart by Unicode ranges (Han with kana is
    Japanese); Latin text by common words of Spanish, French, German, Italian
    and Portuguese, else English.
    """
    counts = {name: len(pattern.findall(text)) for name, pattern in _SCRIPT_PATTERNS.items()}
    dense = counts["han"] + counts["kana"] + counts["hangul"]
    others = {name: n for name, n in counts.items() if name in _SCRIPT_LOCALES}
    best = max(others, key=lambda name: others[name])
    latin = len(_LATIN.findall(text))
    if dense and dense * _DENSE_WEIGHT >= max(latin, others[best]):
        if counts["kana"]:
            return "ja_JP"
        return "ko_KR" if counts["hangul"] >= counts["han"] else "zh_CN"
    if others[best] and others[best] >= latin:
        return _SCRIPT_LOCALES[best]
    lowered = text.casefold()
    words = _LATIN_WORD.findall(lowered)
    scores = {
        locale: sum(word in common for word in words) for locale, common in _COMMON_WORDS.items()
    }
    for letters, locale in _LETTER_HINTS.items():
        scores[locale] += 2 * sum(lowered.count(ch) for ch in letters)
    winner = max(scores, key=lambda locale: scores[locale])
    if scores[winner] == 0 or scores["en_US"] >= scores[winner]:
        return "en_US"
    return winner


def _mentions(prompt: str, words: Sequence[str]) -> bool:
    lowered = prompt.casefold()
    for word in words:
        if _UNSPACED_WORD.match(word):
            pattern = re.escape(word)
        elif word.endswith("*"):
            pattern = rf"(?<!\w){re.escape(word[:-1])}"
        else:
            pattern = rf"(?<!\w){re.escape(word)}(?:e?s)?(?!\w)"
        if re.search(pattern, lowered):
            return True
    return False


class _Writer:
    """Sentences and paragraphs in one locale, from a seeded Faker."""

    def __init__(self, fake: Faker, locale: str) -> None:
        self.fake = fake
        self.locale = locale
        words = _WORD_LISTS.get(locale)
        self.words = None if words is None else list(words)

    def _fix(self, text: str) -> str:
        text = text.strip()
        stop = _FULL_STOP.get(self.locale)
        return text.replace(".", stop) if stop else text

    def sentence(self) -> str:
        nb = self.fake.random_int(6, 14)
        return self._fix(self.fake.sentence(nb_words=nb, ext_word_list=self.words))

    def paragraph(self, low: int = 2, high: int = 4) -> str:
        joiner = "" if self.locale in ("zh_CN", "ja_JP") else " "
        return joiner.join(self.sentence() for _ in range(self.fake.random_int(low, high)))

    def bullets(self) -> str:
        return "\n".join(f"- {self.sentence()}" for _ in range(self.fake.random_int(3, 5)))


def _identifiers(fake: Faker, count: int) -> list[str]:
    """`count` distinct lowercase words usable as Python names."""
    names: list[str] = []
    for word in fake.words(nb=count * 4, unique=True):
        word = word.lower()
        if (
            word.isascii()
            and word.isidentifier()
            and not keyword.iskeyword(word)
            and not keyword.issoftkeyword(word)
            and not hasattr(builtins, word)
            and word not in names
        ):
            names.append(word)
    fallback = iter(("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta"))
    while len(names) < count:
        name = next(fallback)
        if name not in names:
            names.append(name)
    return names[:count]


def _docstring(writer: _Writer) -> str:
    return writer.sentence().replace("\\", "").replace('"', "")


def _code_block(writer: _Writer, fake_en: Faker) -> str:
    a, b, c, d = _identifiers(fake_en, 4)
    doc = _docstring(writer)
    template = fake_en.random_int(0, 2)
    if template == 0:
        sample = [a, b, a, c, d, a]
        lines = [
            "from collections import Counter",
            "",
            "",
            f"def count_{a}_{b}(items: list[str]) -> Counter[str]:",
            f'    """{doc}"""',
            "    return Counter(item.strip().lower() for item in items if item.strip())",
            "",
            "",
            'if __name__ == "__main__":',
            f"    {c}_items = {sample!r}",
            f"    for word, total in count_{a}_{b}({c}_items).most_common():",
            '        print(f"{word}: {total}")',
        ]
    elif template == 1:
        cls = a.capitalize() + b.capitalize()
        lines = [
            "from dataclasses import dataclass, field",
            "",
            "",
            "@dataclass",
            f"class {cls}:",
            f'    """{doc}"""',
            "",
            "    name: str",
            f"    {c}_items: list[str] = field(default_factory=list)",
            "",
            f"    def add_{d}(self, value: str) -> None:",
            f"        self.{c}_items.append(value)",
            "",
            "    def summary(self) -> str:",
            f'        return f"{{self.name}}: {{len(self.{c}_items)}} items"',
            "",
            "",
            f"{d}_{c} = {cls}({a!r})",
            f"{d}_{c}.add_{d}({b!r})",
            f"print({d}_{c}.summary())",
        ]
    else:
        limit = fake_en.random_int(2, 20)
        numbers = [fake_en.random_int(0, 40) for _ in range(fake_en.random_int(4, 7))]
        lines = [
            f"def {a}_{b}(values: list[int], limit: int = {limit}) -> list[int]:",
            f'    """{doc}"""',
            f"    {c} = []",
            "    for value in values:",
            "        if value > limit:",
            f"            {c}.append(value * 2)",
            f"    return {c}",
            "",
            "",
            f"print({a}_{b}({numbers!r}))",
        ]
    return "```python\n" + "\n".join(lines) + "\n```"


def generate_reply(seed: int, prompt: str, model: str) -> str:
    """The answer when no script applies: deterministic in (seed, prompt, model).

    Written in the prompt's language (`detect_locale`) with Faker's lorem
    providers; a few sentences to a few short paragraphs, longer when the
    prompt asks for an explanation, and with a fenced Python block when it
    asks for code.
    """
    locale = detect_locale(prompt)
    wants_code = _mentions(prompt, _CODE_WORDS)
    wants_more = wants_code or _mentions(prompt, _EXPLAIN_WORDS)
    with _FAKER_LOCK:
        fake = _faker(locale)
        fake.seed_instance(_seed("reply", seed, model, prompt))
        writer = _Writer(fake, locale)
        if wants_code:
            fake_en = _faker("en_US")
            fake_en.seed_instance(_seed("code", seed, model, prompt))
            parts = [writer.paragraph(1, 2), _code_block(writer, fake_en), writer.paragraph()]
            if fake.random_int(0, 1):
                parts.append(writer.bullets())
        elif wants_more:
            parts = [writer.paragraph(2, 3), writer.bullets(), writer.paragraph()]
            parts += [writer.paragraph() for _ in range(fake.random_int(0, 2))]
        else:
            parts = [writer.paragraph(2, 4) for _ in range(fake.random_int(1, 3))]
    return "\n\n".join(parts)


def generate_title(seed: int, prompt: str) -> str:
    """A conversation title of 2-6 words in the prompt's language, deterministic."""
    locale = detect_locale(prompt)
    with _FAKER_LOCK:
        fake = _faker(locale)
        fake.seed_instance(_seed("title", seed, prompt))
        count = fake.random_int(2, 6)
        vocabulary = _WORD_LISTS.get(locale)
        word_list = None if vocabulary is None else list(vocabulary)
        words = fake.words(nb=count, ext_word_list=word_list, unique=True)
    if locale in _UNSPACED:
        return "".join(words)
    if locale == "en_US":
        return " ".join(word.capitalize() for word in words)
    title = " ".join(words)
    return title[:1].upper() + title[1:]
