"""Which language a prompt is written in, from its letters alone.

Cheap enough to run on every turn and ready at import: a few Unicode ranges
and, for Latin text, counts of common words. Answers in the prompt's language
depend on it, so a new language never stalls a first turn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

__all__ = ["LOCALES", "detect_locale"]


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


@cache
def _script_patterns() -> Mapping[str, re.Pattern[str]]:
    """Compiled at first use: these classes take milliseconds to compile, which a server's
    start-up need not pay before its first answer."""
    return MappingProxyType(
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
                "al unos esto una para dame mejor consejos"
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

#: Every locale `detect_locale` can answer.
LOCALES = (
    "en_US",
    "es_ES",
    "fr_FR",
    "de_DE",
    "it_IT",
    "pt_BR",
    "ru_RU",
    "zh_CN",
    "ja_JP",
    "ko_KR",
    "ar_AA",
    "el_GR",
    "he_IL",
    "hi_IN",
    "th_TH",
)


def detect_locale(text: str) -> str:
    """The Faker locale of the language `text` is written in, from its letters.

    Non-Latin scripts are told apart by Unicode ranges (Han with kana is
    Japanese); Latin text by common words of Spanish, French, German, Italian
    and Portuguese, else English.
    """
    counts = {name: len(pattern.findall(text)) for name, pattern in _script_patterns().items()}
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
