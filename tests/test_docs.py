"""The README and the pages under docs/: short, linked, and true to the code.

Other tests check the rest against the code where it lives: the route table
(test_cli), the `Config` fields (test_limits), the pytest examples
(test_pytest_plugin, test_packaging), the admin curl examples
(test_pytest_plugin) and the stream-parser example (test_strategies); every
other example runs or is parsed in test_docs_examples.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from mockgpt import MockGPT
from mockgpt.admin import ENDPOINTS, PREFIX
from mockgpt.controller import RouteControl
from mockgpt.openapi import admin_paths
from mockgpt.scripts import FAULT_KINDS, FRAME_NAMES, HTTP_ERROR_KINDS, Script

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

#: A newcomer reads the README in five minutes; the reference lives under docs/.
README_LIMIT_BYTES = 25 * 1024

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def page_text(name: str) -> str:
    """A page by its path from the repository's top, e.g. `docs/admin.md`."""
    return (ROOT / name).read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The text under `heading` (a whole heading line), up to the next heading of its level."""
    level = heading.split(" ", 1)[0]
    lines = text.splitlines(keepends=True)
    start = lines.index(heading + "\n") + 1
    body = []
    for line in lines[start:]:
        if line.startswith("#") and line.split(" ", 1)[0] in {
            "#" * n for n in range(1, len(level) + 1)
        }:
            break
        body.append(line)
    return "".join(body)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    found: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        base = anchor(heading)
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def test_the_readme_stays_short() -> None:
    size = len(README.read_bytes())
    assert size < README_LIMIT_BYTES, f"README.md is {size} bytes: move reference to docs/"


def test_anchor_follows_github() -> None:
    assert anchor("4. Test your client with pytest") == "4-test-your-client-with-pytest"
    assert anchor("Running mockgpt's own tests") == "running-mockgpts-own-tests"
    assert anchor("`MockGPT`: the same controls") == "mockgpt-the-same-controls"
    assert anchors("# A\n```sh\n# not a heading\n```\n## A\n") == {"a", "a-1"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_leads_somewhere(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in _LINK.findall(_FENCE.sub("", text)):
        if re.match(r"[a-z]+:", target):
            continue  # http(s) and mailto links leave the repository
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and fragment not in anchors(linked.read_text(encoding="utf-8")):
            broken.append(f"{target}: no such heading in {linked.name}")
    assert broken == []


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    unlinked = [page.name for page in DOCS.glob("*.md") if f"(docs/{page.name})" not in readme]
    assert unlinked == []


def test_the_quick_start_curl_lines_run() -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("needs curl on PATH to run the README's quick start")
    block = code_blocks(section(page_text("README.md"), "### 2. Try it with curl"), "sh")[0]
    lines = [line for line in block.replace("\\\n", " ").splitlines() if line.startswith("curl ")]
    assert len(lines) == 3
    with MockGPT() as mock:
        mock.reply("Hello from the quick start")
        for line in lines:
            args = shlex.split(line.replace("http://127.0.0.1:8000", mock.url))[1:]
            done = subprocess.run(
                [curl, "--fail-with-body", *args], capture_output=True, text=True, timeout=30
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
            assert done.stdout.strip(), line
        assert "Hello from the quick start" in done.stdout  # the last one streams a turn
        paths = [call.path for call in mock.calls()]
    assert paths == ["/api/auth/session", "/backend-api/me", "/backend-api/conversation"]


def test_the_quick_start_sdk_snippet_runs() -> None:
    pytest.importorskip("openai", reason="needs the openai SDK (the test extra) for this example")
    snippet = code_blocks(
        section(page_text("README.md"), "### 3. Try it with the OpenAI SDK"), "python"
    )[0]
    assert 'base_url="http://127.0.0.1:8000/v1"' in snippet
    with MockGPT() as mock:
        mock.reply("Hi from the quick start")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(
                compile(
                    snippet.replace("http://127.0.0.1:8000/v1", mock.openai_url), "README", "exec"
                ),
                {},
            )
        assert mock.last("POST /v1/chat/completions").json()["model"] == "gpt-4o"
    assert printed.getvalue() == "Hi from the quick start\n"


def test_the_mockgpt_table_names_real_calls() -> None:
    table = section(page_text("docs/pytest.md"), "## `MockGPT`: the same controls without pytest")
    calls = set(re.findall(r"\.(\w+)\(", table))
    assert {"reply", "kept_snapshots", "assert_called", "respond"} <= calls
    # `.on(...)` returns a RouteControl: `.respond`, `.fail`, ... are its calls
    missing = sorted(
        name for name in calls if not hasattr(MockGPT, name) and not hasattr(RouteControl, name)
    )
    assert missing == []


def test_the_admin_page_lists_every_endpoint() -> None:
    table = section(page_text("docs/admin.md"), "## Endpoints")
    rows = [row for row in table.splitlines() if row.startswith("| `")]
    missing = []
    for path, operations in admin_paths(ENDPOINTS, PREFIX).items():
        short = "/" + path.removeprefix("/__mockgpt__/")
        for method in operations:
            pattern = re.compile(rf"\b{method.upper()}\b.*{re.escape(short)}(?![\w/{{])")
            if not any(pattern.search(row) for row in rows):
                missing.append(f"{method.upper()} {short}")
    assert missing == []


def test_the_cli_page_names_every_serve_option() -> None:
    from mockgpt.cli import _parser

    commands = next(
        action for action in _parser()._actions if isinstance(action, argparse._SubParsersAction)
    )
    serve = commands.choices["serve"]
    options = [flag for action in serve._actions for flag in action.option_strings]
    page = page_text("docs/cli.md")
    missing = [
        flag for flag in options if flag.startswith("--") and flag != "--help" and flag not in page
    ]
    assert missing == []
    for command in ("routes", "openapi", "har"):
        assert f"`mockgpt {command}" in page


def test_the_scripts_page_names_every_field_fault_frame_and_refusal() -> None:
    page = page_text("docs/scripts.md")
    names = [field.name for field in dataclasses.fields(Script)]
    names += [*FAULT_KINDS, *FRAME_NAMES, *HTTP_ERROR_KINDS]
    missing = [name for name in names if f"`{name}`" not in page]
    assert missing == []
