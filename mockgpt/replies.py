"""Answers nobody scripted: picked from a corpus we wrote, in the prompt's language.

The corpus (`mockgpt/corpus/*.json`) holds prompt/answer pairs of the kinds
people ask for (code, explanations, steps, tables, summaries, creative writing,
translations, math, refusals, follow-ups) in every language `detect_locale`
knows, plus language-neutral code and math snippets. A turn's answer is the
entry of the prompt's language and kind that shares the most words with the
prompt (ties broken by the seed); a generic entry of that kind names the
prompt's topic when nothing shares a word. Same seed, prompt and model: same
answer. Everything is loaded at import, so no language stalls its first turn.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

from mockgpt._resources import fixture_path
from mockgpt.language import LOCALES, detect_locale
from mockgpt.scripts import Pacing

__all__ = [
    "detect_locale",
    "generate_reply",
    "generate_title",
    "is_pro_model",
    "is_reasoning_model",
    "sample_texts",
    "suggestions",
    "unscripted_pacing",
]

_CORPUS = Path(__file__).resolve().parent / "corpus"
# Letters, with the combining marks of Devanagari and Thai that `\w` leaves out.
_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f\u0900-\u097f\u0e00-\u0e7f])+(?:[+#]+)?")
_UNSPACED = frozenset({"zh_CN", "ja_JP", "th_TH"})
#: Kinds in the order they win when a prompt has cues of several.
KINDS = (
    "refusal",
    "translate",
    "table",
    "code",
    "math",
    "summary",
    "creative",
    "list",
    "followup",
    "explain",
    "chat",
)


#: Kinds whose cue words say how to answer, not what about (left out of matching).
_VERB_KINDS = frozenset({"list", "explain", "followup", "table", "summary", "creative"})


@dataclass(frozen=True, slots=True)
class Entry:
    """One answer of the corpus; `text` may hold `{topic}`, `{code}` and `{math}`."""

    locale: str
    kind: str
    prompt: str
    title: str
    text: str
    keys: frozenset[str]


@dataclass(frozen=True, slots=True)
class Snippet:
    """A language-neutral block: a fenced code sample or LaTeX lines."""

    lang: str
    text: str
    keys: frozenset[str]


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 and word.isalpha() else word


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


@cache
def _dense() -> re.Pattern[str]:
    """Characters of scripts written without spaces (matched as bigrams), compiled at
    first use: the class takes milliseconds to compile, which start-up need not pay."""
    return re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")


def tokens(text: str, stop: frozenset[str] = frozenset()) -> frozenset[str]:
    """Stems of the content words of `text`; character pairs in unspaced scripts."""
    found: set[str] = set()
    unspaced = _dense()
    for word in _words(text):
        if unspaced.search(word):
            dense = "".join(ch for ch in word if unspaced.match(ch))
            found.update(dense[i : i + 2] for i in range(max(1, len(dense) - 1)))
        elif word not in stop and (len(word) > 1 or word.isdigit()):
            found.add(_stem(word))
    return frozenset(found)


class Corpus:
    """The shipped answers, indexed by language and kind."""

    def __init__(self, folder: Path) -> None:
        languages: dict[str, Any] = {
            loc: data for loc, data in _read(folder / "languages.json").items() if loc in LOCALES
        }
        self.stop = {loc: frozenset(_words(data["stop"])) for loc, data in languages.items()}
        self.cues: dict[str, dict[str, tuple[str, ...]]] = {
            loc: {kind: tuple(words.split("|")) for kind, words in data["cues"].items()}
            for loc, data in languages.items()
        }
        self.openers: dict[str, list[str]] = {
            loc: ["", *data.get("openers", [])] for loc, data in languages.items()
        }
        self.keep = {
            loc: frozenset(_words(data.get("keep", ""))) for loc, data in languages.items()
        }
        self.small = {
            loc: frozenset(_words(data.get("small", ""))) for loc, data in languages.items()
        }
        self.cue_keys = {
            loc: tokens(" ".join(w for k, ws in cues.items() if k in _VERB_KINDS for w in ws))
            for loc, cues in self.cues.items()
        }
        for loc in self.cue_keys:
            self.cue_keys[loc] |= self.cue_keys["en_US"]
        self.entries: dict[tuple[str, str], list[Entry]] = {}
        self.generic: dict[tuple[str, str], list[Entry]] = {}
        for path in sorted(folder.glob("answers_*.json")):
            for raw in _read(path)["entries"]:
                locale = raw["locale"]
                stop = self.stop[locale]
                entry = Entry(
                    locale=locale,
                    kind=raw["kind"],
                    prompt=raw.get("prompt", ""),
                    title=raw.get("title", ""),
                    text=raw["text"],
                    keys=tokens(
                        raw.get("prompt", "") + " " + raw.get("keys", ""),
                        stop | self.keep[locale],
                    ),
                )
                shelf = self.entries if entry.prompt else self.generic
                shelf.setdefault((locale, entry.kind), []).append(entry)
        snippets: dict[str, Any] = _read(folder / "snippets.json")
        self.code = [
            Snippet(s["lang"], s["text"], tokens(s["keys"] + " " + s["lang"]))
            for s in snippets["code"]
        ]
        self.math = [Snippet("tex", s["text"], tokens(s["keys"])) for s in snippets["math"]]
        self.code_names: dict[str, str] = snippets["code_names"]
        #: Words every code request shares; a code answer must share more than these.
        self.code_words = tokens(
            " ".join(self.code_names) + " code function script snippet program example "
            "implement write show class"
        )
        self.samples = [
            entry
            for (locale, kind), entries in sorted(self.entries.items())
            for entry in entries
            if locale == "en_US" and kind not in ("followup", "refusal")
        ]
        self.by_prompt = {e.prompt: e for es in self.entries.values() for e in es}


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


@cache
def corpus() -> Corpus:
    """The corpus, read once, at first use (`mockgpt serve` reads it on a thread of its
    own as soon as it listens, so neither its start nor its first turn waits for it)."""
    return Corpus(_CORPUS)


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def _has_cue(prompt: str, cues: Sequence[str]) -> bool:
    lowered = " " + " ".join(_WORD.findall(prompt.casefold())) + " "
    raw = prompt.casefold()
    for cue in cues:
        if _dense().search(cue) or not cue[:1].isalnum():
            if cue in raw:
                return True
        elif cue.endswith("*"):
            if " " + cue[:-1] in lowered:
                return True
        elif f" {cue} " in lowered:
            return True
    return False


def detect_kind(prompt: str, locale: str) -> str:
    """What the prompt asks for (`KINDS`), from cue words of its language and English."""
    data = corpus()
    for kind in KINDS[:-1]:
        cues = data.cues[locale].get(kind, ()) + data.cues["en_US"].get(kind, ())
        if kind == "followup" and len(_words(prompt)) > 8:
            continue
        if _has_cue(prompt, cues):
            return kind
    return "chat"


def _pick(items: Sequence[Any], prompt_keys: frozenset[str], rng: random.Random) -> Any:
    """The item sharing the most keys with the prompt; the seed breaks ties."""
    scored = [(len(item.keys & prompt_keys), index) for index, item in enumerate(items)]
    best = max(score for score, _ in scored)
    return items[rng.choice([index for score, index in scored if score == best])], best


def _code_language(prompt: str) -> str:
    names = corpus().code_names
    for word in _words(prompt):
        if word in names:
            return names[word]
    return "python"


def _other_lead_in(opener: str, text: str, leads: list[str]) -> str:
    """`opener`, or where the answer already opens with its words ("Happy to help with
    ...") the next lead-in that does not: never "Happy to help. Happy to help with".
    Chosen without another draw, so every other answer keeps its bytes."""

    def says(lead: str) -> bool:
        return text.startswith(lead.rstrip(".!\u3002\uff01"))

    if not says(opener):
        return opener
    at = leads.index(opener)
    return next((lead for lead in leads[at + 1 :] + leads[:at] if not says(lead)), "")


def _fill(entry: Entry, prompt: str, topic: str, rng: random.Random) -> str:
    data = corpus()
    # A written-out answer keeps the snippet its prose describes.
    keys = entry.keys if entry.prompt else tokens(prompt)
    text = entry.text
    if "{code}" in text:
        lang = _code_language(prompt)
        shelf = [s for s in data.code if s.lang == lang] or [
            s for s in data.code if s.lang == "python"
        ]
        snippet, _ = _pick(shelf, keys, rng)
        text = text.replace("{code}", f"```{lang}\n{snippet.text}\n```")
        text = text.replace("{lang}", _display(lang))
    if "{math}" in text:
        snippet, _ = _pick(data.math, keys, rng)
        text = text.replace("{math}", snippet.text)
    return text.replace("{topic}", topic)


_DISPLAY = {"javascript": "JavaScript", "typescript": "TypeScript", "cpp": "C++", "csharp": "C#"}


def _display(lang: str) -> str:
    return _DISPLAY.get(lang, lang.upper() if lang == "sql" else lang.capitalize())


def generate_reply(seed: int, prompt: str, model: str) -> str:
    """The answer when no script applies: deterministic in (seed, prompt, model).

    The corpus entry of the prompt's language and kind sharing the most words
    with it; code and math answers carry the closest snippet (in the
    programming language the prompt names, Python by default).
    """
    data = corpus()
    locale = detect_locale(prompt)
    kind = detect_kind(prompt, locale)
    rng = random.Random(_seed("reply", seed, model, prompt))
    keys = tokens(prompt, data.stop[locale] | data.keep[locale]) - data.cue_keys[locale]
    exact = data.by_prompt.get(prompt.strip())
    if exact is not None:
        return _fill(exact, prompt, topic_of(prompt), rng)
    entry, shared = None, 0
    if kind == "code":
        keys -= data.code_words
    specific = data.entries.get((locale, kind), [])
    if specific:
        entry, shared = _pick(specific, keys, rng)
    if entry is None or shared < min(2, len(keys)) or not keys:
        generic = data.generic.get((locale, kind)) or data.generic[(locale, "explain")]
        entry = rng.choice(generic)
        opener = rng.choice(data.openers[locale]) if kind not in ("refusal", "code") else ""
        text = _fill(entry, prompt, topic_of(prompt), rng)
        if not opener or text.startswith(tuple(data.openers[locale][1:])):
            return text
        opener = _other_lead_in(opener, text, data.openers[locale][1:])
        return opener + ("" if locale in _UNSPACED else " ") + text
    return _fill(entry, prompt, topic_of(prompt), rng)


#: What an English title adds when the prompt names fewer than three words of topic.
_KIND_NOUNS = {
    "explain": "Explained",
    "list": "Tips",
    "code": "Code Example",
    "table": "Comparison",
    "summary": "Summary",
    "creative": "Writing",
    "math": "Solution",
    "translate": "Translation",
    "refusal": "Request",
    "followup": "Follow-up",
    "chat": "Chat",
}


#: For a topic of one word, so that a title still has three.
_LONG_NOUNS = {
    "Explained": "Basics Explained",
    "Tips": "Tips and Ideas",
    "Comparison": "Side-by-Side Comparison",
    "Summary": "Quick Summary",
    "Writing": "Creative Writing",
    "Solution": "Step-by-Step Solution",
    "Translation": "Translation Help",
    "Request": "Request Declined",
    "Chat": "Quick Chat",
}


def _topic(prompt: str, locale: str) -> list[str]:
    """Up to six words naming the prompt's topic, in the prompt's order and spelling."""
    data = corpus()
    stop, keep = data.stop[locale], data.keep[locale]
    picked: list[str] = []
    pending: list[str] = []
    for raw in _WORD.findall(prompt):
        word = raw.casefold()
        if not picked and _stem(word) in data.cue_keys[locale]:
            continue
        if word in keep:
            if picked:
                pending.append(raw)
            continue
        if word in stop:
            pending = []
            continue
        picked += pending
        pending = []
        picked.append(raw)
        if len(picked) >= 6:
            break
    return picked


def topic_of(prompt: str) -> str:
    """The prompt's topic as a short phrase (what generic answers name)."""
    locale = detect_locale(prompt)
    if _is_dense(prompt, locale):
        return _dense_title(prompt, locale)
    words = _topic(prompt, locale) or [prompt.strip()[:40]]
    return " ".join(words)


def _is_dense(prompt: str, locale: str) -> bool:
    return locale in _UNSPACED or (locale == "ko_KR" and not prompt.isascii())


def generate_title(seed: int, prompt: str) -> str:
    """A title naming the prompt's topic, as the real title generator writes one.

    Three to six words in title case for English ("How do I read a CSV file
    in Python?" gives "Read CSV File in Python"), sentence case for other
    spaced languages, a short phrase for unspaced ones. Depends on the prompt
    alone: the seed is accepted for symmetry with `generate_reply`.
    """
    return _title_of(prompt)


@lru_cache(maxsize=1024)
def _title_of(prompt: str) -> str:
    """`generate_title`, remembered per prompt: tests and clients repeat their prompts,
    and working a title out (locale, topic words, kind cues) costs more than the rest
    of a turn's set-up before its first byte."""
    data = corpus()
    known = data.by_prompt.get(prompt.strip())
    if known is not None and known.title:
        return known.title
    locale = detect_locale(prompt)
    if _is_dense(prompt, locale):
        return _dense_title(prompt, locale)
    words = (_topic(prompt, locale) or _WORD.findall(prompt))[:6]
    if len(words) < 3:
        if locale == "en_US":
            noun = _KIND_NOUNS[detect_kind(prompt, locale)]
            words += (noun if len(words) == 2 else _LONG_NOUNS.get(noun, noun)).split()
        elif len(words) < 2:
            words.append(data.cues[locale].get("_title", ("",))[0])
    words = [w for w in words if w][:6]
    if locale == "en_US":
        return " ".join(_title_case(w, i, data.keep[locale]) for i, w in enumerate(words))
    title = " ".join(words)
    return title[:1].upper() + title[1:]


def _title_case(word: str, index: int, small: frozenset[str]) -> str:
    if any(ch.isupper() for ch in word[1:]) or (word.isupper() and len(word) > 1):
        return word
    if index and word.casefold() in small:
        return word.casefold()
    return word[:1].upper() + word[1:]


# Full-width punctuation and the ideographic space, written as escapes.
_TRAILING = re.compile("[\\s?!.,:\uff1f\uff01\u3002\uff0c\u3001\uff1a]+$")
_EDGES = " \u3000,\uff0c\u3001"


def _dense_title(prompt: str, locale: str) -> str:
    text = prompt.strip()
    for cue in corpus().cues[locale].get("_strip", ()):
        text = text.replace(cue, "")
    text = _TRAILING.sub("", text).strip(_EDGES)
    limit = 16 if locale != "th_TH" else 24
    return text[:limit] or prompt.strip()[:limit]


def sample_texts(seed: int, skip: int = 0) -> Callable[[random.Random], tuple[str, str, str]]:
    """(title, prompt, answer) triples for a sample history, none repeated.

    The corpus's English entries in a seeded order; the first `skip` are left
    to the fixture conversations. Past the end of the corpus, the order
    starts again.
    """
    items = list(corpus().samples)
    random.Random(_seed("samples", seed)).shuffle(items)
    position = [skip]

    def texts(rng: random.Random) -> tuple[str, str, str]:
        entry = items[position[0] % len(items)]
        position[0] += 1
        return entry.title, entry.prompt, generate_reply(seed, entry.prompt, "gpt-5")

    return texts


def suggestions(seed: int, context: str, count: int) -> list[str]:
    """`count` distinct prompts a person might type next (autocompletions), seeded by context."""
    prompts = [entry.prompt for entry in corpus().samples]
    random.Random(_seed("suggest", seed, context)).shuffle(prompts)
    return [prompts[n % len(prompts)] + " " * (n // len(prompts)) for n in range(count)]


def sample_item(seed: int, index: int) -> tuple[str, str, str]:
    """The `index`-th (title, prompt, answer) of the seed's sample order."""
    return sample_texts(seed, index)(random.Random(0))


_REASONING = re.compile(r"(^|[-_])(o\d|thinking|reasoning|pro)($|[-_])|^o\d")


_PRO = re.compile(r"(^|[-_])pro($|[-_])")


@cache
def _listed_reasoning() -> dict[str, str]:
    """The `reasoning_type` of each model in the models list, by slug."""
    listed = json.loads(fixture_path("models/models.json").read_text(encoding="utf-8"))
    return {
        model["slug"]: model["reasoning_type"]
        for model in listed.get("models", [])
        if isinstance(model.get("reasoning_type"), str)
    }


def is_reasoning_model(model: str) -> bool:
    """Whether `model` thinks before it answers (`o3`, `gpt-5-thinking`, `gpt-5-pro`, ...).

    The models list's `reasoning_type` decides for the slugs it lists (a new
    thinking model is one entry there); other slugs are judged by their name.
    """
    listed = _listed_reasoning().get(model)
    if listed is not None:
        return listed in ("reasoning", "pro")
    return bool(_REASONING.search(model))


def is_pro_model(model: str) -> bool:
    """Whether `model` is a Pro model (`reasoning_type` `pro`, or `pro` in its name):
    its long turns hand their stream off on the real service."""
    listed = _listed_reasoning().get(model)
    if listed is not None:
        return listed == "pro"
    return bool(_PRO.search(model))


def unscripted_pacing(pace: Literal["real", "instant"], seed: int, model: str, turn: str) -> Pacing:
    """How fast an unscripted turn streams: `Pacing` in the terms scripts use.

    `"real"`: a seeded time to first token of 250-700 ms (a few seconds for
    reasoning models, which think first), then 35-80 tokens per second with
    jitter, like the real service; `"instant"`: no waits.
    """
    if pace == "instant":
        return Pacing()
    rng = random.Random(_seed("pace", seed, model, turn))
    thinking = is_reasoning_model(model)
    ttft = rng.uniform(2000.0, 6000.0) if thinking else rng.uniform(250.0, 700.0)
    return Pacing(
        ttft_ms=round(ttft, 1), tokens_per_second=round(rng.uniform(35.0, 80.0), 1), jitter=0.35
    )
