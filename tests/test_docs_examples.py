"""Every example on the doc pages runs, parses, or says in the page why it cannot.

An example is a fenced block of Python, shell (`sh`, `bash`, `shell`, `console`)
or JSON in README.md or docs/*.md, or a bare block that starts with `mockgpt `
(a command's synopsis). Here:

- a Python block is executed in a temporary folder (a block of pytest tests
  runs under pytester, a record marker's against a local upstream);
- every `mockgpt ...` command line of a shell block is parsed by the CLI's
  own parser, and a shell block with any other command must be marked;
- a JSON block of docs/scripts.md loads with the script loader (elsewhere it
  must at least be JSON);
- a synopsis's flags, shown values and choices are checked against the parser.

A block this module does not run has an HTML comment on the line before it:
`<!-- not run: why -->`, or `<!-- run by: tests/FILE.py::TEST -->` when another
test runs it; the named test must exist and its file must read the page.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import re
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_docs import DOCS, README, ROOT

from mockgpt import Config, MockGPT
from mockgpt.cli import _parser
from mockgpt.scripts import load_script

pytest_plugins = ["pytester"]

SHELL = frozenset({"sh", "bash", "shell", "console"})
LANGUAGES = SHELL | {"python", "json"}

_MARKER = re.compile(r"<!-- (not run|run by): (\S.*?) -->")
_RUN_BY = re.compile(r"((?:tests|contracts)/[\w/]+\.py)::(test_\w+)")
_OPERATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")", ";;"})
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_.-]*")
_GROUP = re.compile(r"\[([^\]]*)\](?:\.\.\.)?")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced block of a page: its language, text and the marker before it."""

    page: str  # from the repository's top, e.g. docs/record.md
    line: int  # of the opening fence, counted from 1
    language: str
    text: str
    marker: tuple[str, str] | None  # ("not run", why) or ("run by", test)

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def synopsis(self) -> bool:
        return self.language in ("", "text") and self.text.startswith("mockgpt ")

    @property
    def example(self) -> bool:
        return self.language in LANGUAGES or self.synopsis


def blocks_of(page: str, text: str) -> list[Block]:
    """The fenced blocks of a page, with the HTML comment (if any) on the line before each."""
    found: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = lines[index]
        if not opening.startswith("```"):
            index += 1
            continue
        end = next(
            (n for n in range(index + 1, len(lines)) if lines[n].startswith("```")), len(lines)
        )
        before = lines[index - 1].strip() if index else ""
        marked = _MARKER.fullmatch(before)
        found.append(
            Block(
                page=page,
                line=index + 1,
                language=opening[3:].strip(),
                text="".join(line + "\n" for line in lines[index + 1 : end]),
                marker=(marked[1], marked[2]) if marked else None,
            )
        )
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    pages = [README, *sorted(DOCS.glob("*.md"))]
    found = []
    for path in pages:
        page = path.relative_to(ROOT).as_posix()
        found += [block for block in blocks_of(page, path.read_text()) if block.example]
    return found


BLOCKS = all_blocks()


def _ids(blocks: list[Block]) -> list[str]:
    return [block.name for block in blocks]


# -- shell lines ---------------------------------------------------------------------------


def commands(block: Block) -> list[list[str]]:
    """Each simple command of a shell block as words, with leading `NAME=value`s dropped."""
    lines = block.text.replace("\\\n", " ").splitlines()
    if block.language == "console":  # prompts start commands, the rest is output
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    found: list[list[str]] = []
    for line in lines:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token not in _OPERATORS:
                words.append(token)
                continue
            while words and re.fullmatch(r"\w+=\S*", words[0]):
                words.pop(0)
            if words:
                found.append(words)
            words = []
    return found


def mockgpt_argv(words: list[str]) -> list[str] | None:
    """The arguments of `mockgpt` (`.venv/bin/mockgpt`, `python -m mockgpt`); None for others."""
    if Path(words[0]).name == "mockgpt":
        return words[1:]
    if Path(words[0]).name.startswith("python") and words[1:3] == ["-m", "mockgpt"]:
        return words[3:]
    return None


def parse(argv: list[str]) -> argparse.Namespace:
    """`argv` through the real parser; an AssertionError with argparse's complaint if refused."""
    complaint = io.StringIO()
    try:
        with contextlib.redirect_stderr(complaint), contextlib.redirect_stdout(io.StringIO()):
            return _parser().parse_args(argv)
    except SystemExit as stop:
        if stop.code == 0:  # --help or --version: accepted
            return argparse.Namespace()
        raise AssertionError(f"mockgpt {shlex.join(argv)}: {complaint.getvalue()}") from None


# -- synopses ------------------------------------------------------------------------------


def _command_parser(words: list[str]) -> tuple[argparse.ArgumentParser, list[str], list[str]]:
    """The (sub)parser a synopsis's leading words name, those words, and the words after."""
    parser, path = _parser(), []
    while words:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or words[0] not in sub.choices:
            break
        parser = sub.choices[words[0]]
        path.append(words.pop(0))
    return parser, path, words


def _sample(action: argparse.Action, value: str) -> str:
    """A value for a placeholder (FILE, MS, ...): itself for text, `1` for a typed option."""
    if _PLACEHOLDER.fullmatch(value) and action.type is not None:
        return "1"
    return value


def synopsis_problems(text: str) -> list[str]:
    """What in a synopsis the parser disagrees with; empty when it agrees.

    Every flag must exist, take a value exactly when one is shown, accept each
    shown value (`a|b` lists the choices, all of them; a concrete value in
    brackets is the default) and parse with the command's fixed words.
    """
    one_line = " ".join(text.split())
    parser, path, fixed = _command_parser(_GROUP.sub(" ", one_line).split()[1:])
    problems: list[str] = []
    for group in _GROUP.findall(one_line):
        for alternative in re.split(r"\s\|\s", group):
            words = alternative.split()
            variants: list[list[str]] = [[]]
            while words:
                flag = words.pop(0)
                value = words.pop(0) if words and not words[0].startswith("-") else None
                action = parser._option_string_actions.get(flag)
                if action is None:
                    problems.append(f"{flag}: no such option of mockgpt {' '.join(path)}")
                    continue
                wrong, shown = _shown_values(action, flag, value)
                problems += wrong
                variants = [[*v, *shown_one] for v in variants for shown_one in shown]
            for variant in variants:
                try:
                    parse([*path, *fixed, *variant])
                except AssertionError as refused:
                    problems.append(str(refused).strip())
    return problems


def _shown_values(
    action: argparse.Action, flag: str, value: str | None
) -> tuple[list[str], list[list[str]]]:
    """What is wrong with `flag value` as shown, and the words to parse for each shown value."""
    if (value is None) != (action.nargs == 0):
        return [f"{flag}: shown {'without' if value is None else 'with'} a value"], [[]]
    if value is None:
        return [], [[flag]]
    shown = value.split("|")
    wrong = []
    choices = list(action.choices) if action.choices is not None else None
    if choices is not None and len(shown) > 1 and set(shown) != set(choices):
        wrong.append(f"{flag}: shows {shown}, takes {choices}")
    if len(shown) == 1 and not _PLACEHOLDER.fullmatch(value) and action.default is not None:
        parsed = action.type(value) if callable(action.type) else value
        if parsed != action.default:
            wrong.append(f"{flag} {value}: the default is {action.default!r}")
    return wrong, [[flag, _sample(action, one)] for one in shown]


# -- what each block is ----------------------------------------------------------------------


def kind(block: Block) -> str:
    """`executed`, `parsed`, `elsewhere` (run by another test), `marked` or `unchecked`."""
    if block.marker is not None:
        return "elsewhere" if block.marker[0] == "run by" else "marked"
    if block.language == "python":
        return "executed"
    if block.language in SHELL:
        found = commands(block)
        mine = [words for words in found if mockgpt_argv(words) is not None]
        return "parsed" if found and len(mine) == len(found) else "unchecked"
    if block.language == "json":
        return "executed" if block.page == "docs/scripts.md" else "parsed"
    return "parsed"  # a synopsis


def inventory() -> dict[str, Counter[str]]:
    """Per page, how many example blocks are executed, parsed, run elsewhere or marked."""
    counts: dict[str, Counter[str]] = {}
    for block in BLOCKS:
        counts.setdefault(block.page, Counter())[kind(block)] += 1
    return counts


def test_every_example_is_run_parsed_or_marked() -> None:
    unchecked = [block.name for block in BLOCKS if kind(block) == "unchecked"]
    assert unchecked == [], "run these here, or mark them <!-- not run: why -->"


def test_a_comment_meant_as_a_marker_is_one() -> None:
    # A misspelt marker would leave its block unmarked, or mark the wrong one.
    loose = []
    for path in [README, *DOCS.glob("*.md")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*<!--\s*(not run|run by)", line) and not _MARKER.fullmatch(line):
                loose.append(f"{path.name}:{number}")
    assert loose == []
    unmarkable = [b.name for b in BLOCKS if b.marker is not None and b.synopsis]
    assert unmarkable == []  # a synopsis is always checkable


def test_the_sweep_finds_and_sorts_blocks() -> None:
    page = (
        "Text.\n\n<!-- not run: needs a browser -->\n```sh\nopen http://x\n```\n\n"
        "```sh\ncurl -s x && mockgpt routes\n```\n```console\n$ mockgpt routes\noutput\n```\n"
        "```\nmockgpt routes [--format table|json|markdown]\n```\n```\na tree\n```\n"
    )
    found = [b for b in blocks_of("docs/x.md", page) if b.example]
    assert [(b.line, b.language, kind(b)) for b in found] == [
        (4, "sh", "marked"),
        (8, "sh", "unchecked"),
        (11, "console", "parsed"),
        (15, "", "parsed"),
    ]
    assert found[0].marker == ("not run", "needs a browser")
    assert commands(found[1]) == [["curl", "-s", "x"], ["mockgpt", "routes"]]
    python = Block("docs/x.md", 1, "sh", "A=1 .venv/bin/python -m mockgpt routes | head\n", None)
    assert [mockgpt_argv(words) for words in commands(python)] == [["routes"], None]


# -- python ----------------------------------------------------------------------------------

PYTHON = [b for b in BLOCKS if b.language == "python" and kind(b) == "executed"]
_TESTS = re.compile(r"^(?:async )?def test_\w+", re.MULTILINE)


@pytest.mark.parametrize("block", PYTHON, ids=_ids(PYTHON))
def test_a_python_example_runs(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    source = "\n" * block.line + block.text  # tracebacks give the page's line numbers
    if _TESTS.search(block.text):
        _run_as_tests(block, source, request.getfixturevalue("pytester"), monkeypatch)
        return
    monkeypatch.chdir(tmp_path)  # whatever the example writes lands here
    exec(compile(source, block.page, "exec"), {"__name__": "docs_example"})


def _run_as_tests(
    block: Block, source: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block of pytest tests, as a test module of a fresh project."""
    pytester.makepyfile(test_example=source)
    tests = len(_TESTS.findall(block.text))
    plain = ("-p", "no:cacheprovider", "-p", "no:asyncio")  # in-process: no stray plugin warnings
    monkeypatch.delenv("MOCKGPT_RECORD_UPSTREAM", raising=False)
    recorded = re.findall(r"record=\"([^\"]+)\"", block.text)
    if not recorded:
        pytester.runpytest_inprocess(*plain).assert_outcomes(passed=tests)
        return
    # A record marker: the first run records from an upstream (a local mock here),
    # the next replays the folder with no upstream at all.
    with MockGPT(Config(clock="system", pace="instant")) as upstream:
        first = pytester.runpytest_inprocess(*plain, f"--mockgpt-record-upstream={upstream.url}")
        first.assert_outcomes(passed=tests)
        assert upstream.calls(), "the recording run never reached the upstream"
    for folder in recorded:
        assert (pytester.path / folder / "recording" / "001.json").is_file(), folder
    replay = pytester.runpytest_inprocess(*plain, "--mockgpt-record=none")
    replay.assert_outcomes(passed=tests)


# -- shell -----------------------------------------------------------------------------------

COMMAND_LINES = [
    (block, argv)
    for block in BLOCKS
    if block.language in SHELL
    for argv in map(mockgpt_argv, commands(block))
    if argv is not None
]


@pytest.mark.parametrize(
    "argv",
    [argv for _, argv in COMMAND_LINES],
    ids=[f"{block.name}:{' '.join(argv[:2])}" for block, argv in COMMAND_LINES],
)
def test_a_mockgpt_command_line_parses(argv: list[str]) -> None:
    parse(argv)


def test_a_wrong_command_line_is_refused() -> None:
    parse(["serve", "--port", "0", "--pace", "instant"])
    for wrong in (["serve", "--no-such-flag"], ["serve", "--pace", "slow"], ["record"]):
        with pytest.raises(AssertionError, match="mockgpt"):
            parse(wrong)


SYNOPSES = [block for block in BLOCKS if block.synopsis]


@pytest.mark.parametrize("block", SYNOPSES, ids=_ids(SYNOPSES))
def test_a_synopsis_matches_the_parser(block: Block) -> None:
    assert synopsis_problems(block.text) == []


def test_a_wrong_synopsis_is_caught() -> None:
    assert synopsis_problems("mockgpt serve [--seed 0] [--pace real|instant] [--tls]") == []
    assert synopsis_problems("mockgpt serve [--seed 3]") == ["--seed 3: the default is 0"]
    assert synopsis_problems("mockgpt serve [--pace real]\n  [--speed X]") == [
        "--speed: no such option of mockgpt serve"
    ]
    assert synopsis_problems("mockgpt serve [--auth lenient|strict|none]")[0].startswith(
        "--auth: shows"
    )
    assert synopsis_problems("mockgpt serve [--quiet YES] [--port]") == [
        "--quiet: shown with a value",
        "--port: shown without a value",
    ]
    assert synopsis_problems("mockgpt record [--seed 0]")  # --upstream and --out are required


_INLINE = re.compile(r"`((?:\.venv/bin/)?mockgpt [^`\n]*)`")


def inline_commands() -> list[tuple[str, str]]:
    """`mockgpt ...` in inline code outside the blocks, as (page, text), e.g. in a table."""
    found = []
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        prose = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)
        for span in _INLINE.findall(prose):
            command = re.split(r" [|>] ", span.replace("\\|", "|"))[0]  # a pipe or redirect
            found.append((path.relative_to(ROOT).as_posix(), command))
    return sorted(set(found))


def inline_problems(command: str) -> list[str]:
    """A synopsis (with [...]) is checked whole; a mention, for options that exist."""
    command = command.replace(" [options]", "")  # stands for all of them
    if "[" in command:
        return synopsis_problems(command)
    parser, path, rest = _command_parser(command.split()[1:])
    return [
        f"{word}: no such option of mockgpt {' '.join(path)}"
        for word in rest
        if word.startswith("-") and word not in parser._option_string_actions
    ]


INLINE = inline_commands()


@pytest.mark.parametrize("command", [c for _, c in INLINE], ids=[f"{p}:{c}" for p, c in INLINE])
def test_an_inline_command_matches_the_parser(command: str) -> None:
    assert inline_problems(command) == []


def test_a_wrong_inline_command_is_caught() -> None:
    assert inline_problems("mockgpt routes --format markdown") == []
    assert inline_problems("mockgpt routes --colour") == [
        "--colour: no such option of mockgpt routes"
    ]
    assert inline_problems("mockgpt har check CAPTURE.har [--yaml]") == [
        "--yaml: no such option of mockgpt har check"
    ]


# -- json ------------------------------------------------------------------------------------

JSON = [block for block in BLOCKS if block.language == "json" and block.marker is None]


@pytest.mark.parametrize("block", JSON, ids=_ids(JSON))
def test_a_json_example_loads(block: Block, tmp_path: Path) -> None:
    data: Any = json.loads(block.text)
    if block.page == "docs/scripts.md":  # a script file, as `serve --script` reads it
        path = tmp_path / "example.json"
        path.write_text(block.text)
        scripts = load_script(path)
        assert len(scripts) == (len(data) if isinstance(data, list) else 1)


# -- markers naming another test -------------------------------------------------------------

ELSEWHERE = [block for block in BLOCKS if kind(block) == "elsewhere"]


@pytest.mark.parametrize("block", ELSEWHERE, ids=_ids(ELSEWHERE))
def test_a_block_run_elsewhere_names_a_test_that_reads_its_page(block: Block) -> None:
    assert block.marker is not None
    named = _RUN_BY.fullmatch(block.marker[1])
    assert named, f"{block.marker[1]}: give tests/FILE.py::TEST"
    source = ROOT / named[1]
    assert source.is_file(), named[1]
    text = source.read_text()
    assert re.search(rf"^def {named[2]}\(", text, re.MULTILINE), f"no {named[2]} in {named[1]}"
    assert Path(block.page).name in text, f"{named[1]} never reads {block.page}"


# -- the HAR page's commands, run in order -----------------------------------------------------


def test_the_har_page_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_har import entry_of, v1_turn, write_har
    from test_record_cli import _start, _stop

    from mockgpt.cli import main
    from mockgpt.delta import decode_sse

    block = next(b for b in BLOCKS if b.page == "docs/har.md" and b.language == "sh")
    lines = [argv for argv in map(mockgpt_argv, commands(block)) if argv is not None]
    assert [argv[:2] for argv in lines] == [
        ["har", "check"],
        ["har", "check"],
        ["har", "import"],
        ["serve", "--fixtures"],
    ]
    # The capture: a session with the mock itself, as a browser would save it.
    mock = MockGPT(Config(clock="virtual", sample_conversations=0))
    mock.reply("Answered in the capture", title="Captured")
    auth = {"Authorization": "Bearer captured"}
    with mock.test_client(headers=auth) as client:
        entries = [
            entry_of(client.get("/backend-api/me")),
            entry_of(client.post("/backend-api/f/conversation", json=v1_turn())),
        ]
    monkeypatch.chdir(tmp_path)
    write_har(tmp_path, entries, name="session.har")
    printed = []
    for argv in lines[:3]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(argv) == 0, out.getvalue()  # the mock's own answers: nothing drifted
        printed.append(out.getvalue())
    assert printed[0].startswith("session.har: 2 entries, 2 catalogue routes")
    assert json.loads(printed[1])["entries"] == 2
    server, base = _start([*lines[3], "--port", "0", "--ready-file", "ready"], tmp_path / "ready")
    try:
        answer = httpx.post(base + "/backend-api/f/conversation", json=v1_turn(), headers=auth)
    finally:
        _stop(server)
    message = decode_sse(answer.text).messages[-1]
    assert message["content"]["parts"] == ["Answered in the capture"]
