"""The inspector page, driven in headless Chromium against a live mock."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as connect_socket

from mockgpt import Config, MockGPT, load_catalogue

CHROMIUM = "/usr/bin/chromium"
SKIP_REASON = "needs Debian's chromium (apt install chromium) for the browser test"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright Python package for the browser test"
)
if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

expect = sync_api.expect
AUTH = {"authorization": "Bearer inspector-test"}
PROMPT = "Hello from the inspector test"
ANSWER = "Scripted answer for the inspector"


@dataclass
class Inspector:
    mock: MockGPT
    page: sync_api.Page
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def inspector() -> Iterator[Inspector]:
    with (
        MockGPT(Config(clock="system", sample_conversations=2)) as mock,
        sync_api.sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            found = Inspector(mock, page)
            page.on("pageerror", lambda error: found.errors.append(f"pageerror: {error}"))
            page.on(
                "console",
                lambda message: (
                    found.errors.append(f"console: {message.text}")
                    if message.type == "error"
                    else None
                ),
            )
            page.goto(mock.url + "/__mockgpt__/")
            yield found
            page.close()
        finally:
            browser.close()


@pytest.fixture
def page(inspector: Inspector) -> Iterator[sync_api.Page]:
    """The shared page; every test also checks that it raised no JavaScript error."""
    yield inspector.page
    errors, inspector.errors[:] = list(inspector.errors), []
    assert errors == []


def test_routes_are_listed_and_filtered(inspector: Inspector, page: sync_api.Page) -> None:
    rows = page.locator("#routes tbody tr")
    expect(rows).to_have_count(len(load_catalogue()))
    expect(page.locator("#state")).to_contain_text("system clock")
    expect(page.locator("#state")).to_contain_text("1 stored response ·")

    page.fill("#route-filter", "backend-api/me")
    expect(rows.first).to_contain_text("/backend-api/me")
    assert 0 < rows.count() < len(load_catalogue())

    page.fill("#route-filter", "no-such-route-anywhere")
    expect(rows).to_have_count(0)
    page.fill("#route-filter", "")
    expect(rows).to_have_count(len(load_catalogue()))


def test_journal_shows_requests_live(inspector: Inspector, page: sync_api.Page) -> None:
    url = inspector.mock.url
    httpx.get(url + "/backend-api/me", headers=AUTH)
    httpx.get(url + "/no/such/path", params={"q": "1"})

    rows = page.locator("#journal tbody tr")
    newest = rows.filter(has_text="/no/such/path?q=1")
    expect(newest).to_have_count(1)
    expect(newest).to_contain_text("404")
    expect(newest).to_contain_text("no route")
    expect(rows.first).to_contain_text("/no/such/path")  # newest at the top

    me = rows.filter(has_text="/backend-api/me")
    expect(me).to_contain_text("GET /backend-api/me")
    expect(me).to_contain_text("200")
    me.click()
    detail = page.locator("#journal-detail")
    expect(detail).to_contain_text("authorization: Bearer …(14 chars)")  # masked
    expect(detail).not_to_contain_text("inspector-test")
    expect(detail).to_contain_text("GET /backend-api/me")


def test_conversation_turn_is_readable(inspector: Inspector, page: sync_api.Page) -> None:
    mock = inspector.mock
    mock.reply(ANSWER)
    message = {
        "id": "aaa5e6f7-0a1b-4c2d-8e3f-405162738495",
        "author": {"role": "user"},
        "content": {"content_type": "text", "parts": [PROMPT]},
    }
    answer = httpx.post(
        mock.url + "/backend-api/conversation",
        headers=AUTH,
        json={
            "action": "next",
            "model": "auto",
            "messages": [message],
            "parent_message_id": "client-created-root",
        },
    )
    assert answer.status_code == 200
    [conversation] = [c for c in mock.conversations() if c["snippet"] == ANSWER]

    item = page.locator(f'#conversations li[data-id="{conversation["id"]}"]')
    expect(page.locator("#conversations li")).to_have_count(len(mock.conversations()))
    item.click()
    messages = page.locator("#messages .message")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_contain_text("user")
    expect(messages.nth(0)).to_contain_text(PROMPT)
    expect(messages.nth(1)).to_contain_text("assistant")
    expect(messages.nth(1)).to_contain_text(ANSWER)
    expect(item).to_have_class("picked")
    expect(page.locator("#journal tbody tr").first).to_contain_text("POST")


def test_a_stored_response_is_readable(inspector: Inspector, page: sync_api.Page) -> None:
    mock = inspector.mock
    mock.reply("A scripted Responses answer")
    made = httpx.post(
        mock.url + "/v1/responses",
        headers={"authorization": "Bearer sk-inspector"},
        json={"model": "gpt-4.1", "input": "What does the inspector show?"},
    )
    assert made.status_code == 200
    item = page.locator(f'#responses li[data-id="{made.json()["id"]}"]')
    expect(page.locator("#responses li")).to_have_count(len(mock.responses()))
    expect(page.locator("#responses-count")).to_have_text(str(len(mock.responses())))
    item.click()
    messages = page.locator("#messages .message")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_contain_text("user")
    expect(messages.nth(0)).to_contain_text("What does the inspector show?")
    expect(messages.nth(1)).to_contain_text("assistant")
    expect(messages.nth(1)).to_contain_text("A scripted Responses answer")
    expect(item).to_have_class("picked")


def test_the_page_has_a_sockets_panel(inspector: Inspector) -> None:
    page = httpx.get(inspector.mock.url + "/__mockgpt__/")
    assert page.status_code == 200
    assert '<ul id="sockets" data-testid="sockets">' in page.text
    assert 'id="sockets-count"' in page.text


#: A topic a client may subscribe to, which the page must show as text, never as markup.
ODD_TOPIC = 'x<b class="injected">bold</b>&amp;"\''


def test_an_open_socket_is_listed_until_it_closes(
    inspector: Inspector, page: sync_api.Page
) -> None:
    mock = inspector.mock
    sockets = page.locator("#sockets li.socket")
    expect(sockets).to_have_count(0)
    expect(page.locator("#sockets")).to_have_text("No open sockets.")
    expect(page.locator("#sockets-count")).to_have_text("0")

    url = httpx.get(mock.url + "/backend-api/celsius/ws/user", headers=AUTH).json()
    with connect_socket(url["websocket_url"], open_timeout=10) as socket:
        for ident, topic in enumerate(["conversations", ODD_TOPIC], 1):
            command = {"type": "subscribe", "topic_id": topic, "offset": "0"}
            socket.send(json.dumps([{"id": ident, "command": command}]))
            [reply] = json.loads(socket.recv(timeout=10))
            assert reply["reply"]["topic_id"] == topic
        [opened] = mock.sockets()

        expect(sockets).to_have_count(1)
        expect(page.locator("#sockets-count")).to_have_text("1")
        item = sockets.first
        expect(item).to_contain_text(f"{opened['user']} · background")
        expect(item).to_contain_text("2 topics · 0 unsent frames")
        expect(item.locator(".topic")).to_have_text(["conversations", ODD_TOPIC])
        expect(page.locator("#sockets .injected")).to_have_count(0)

        socket.send(
            json.dumps([{"id": 3, "command": {"type": "unsubscribe", "topic_id": ODD_TOPIC}}])
        )
        socket.recv(timeout=10)
        expect(item).to_contain_text("1 topic · 0 unsent frames")

    expect(sockets).to_have_count(0)
    expect(page.locator("#sockets-count")).to_have_text("0")
    expect(page.locator("#sockets")).to_have_text("No open sockets.")
    assert mock.sockets() == []


def test_clear_empties_the_journal(inspector: Inspector, page: sync_api.Page) -> None:
    httpx.get(inspector.mock.url + "/backend-api/me", headers=AUTH)
    rows = page.locator("#journal tbody tr")
    expect(rows.first).to_contain_text("/backend-api/me")

    page.click("#clear")
    expect(rows).to_have_count(0)
    assert inspector.mock.calls() == []  # the page's own polling is not journaled

    httpx.get(inspector.mock.url + "/backend-api/me", headers=AUTH)
    expect(rows).to_have_count(1)
    assert len(inspector.mock.calls()) == 1


def _browser(page: sync_api.Page) -> sync_api.Browser:
    browser = page.context.browser
    assert browser is not None
    return browser


def test_another_origin_cannot_drive_the_admin_api(
    inspector: Inspector, page: sync_api.Page
) -> None:
    """A page on another origin (here `localhost` against `127.0.0.1`) posts the repro's
    text/plain reset; the inspector's own origin may post JSON."""
    mock = inspector.mock
    port = mock.url.rsplit(":", 1)[1]
    other = _browser(page).new_page()
    try:
        other.goto(f"http://localhost:{port}/__mockgpt__/")
        other.evaluate(
            """url => fetch(url, {method: "POST", mode: "no-cors",
                headers: {"content-type": "text/plain"},
                body: JSON.stringify({settings: {sample_conversations: 7}})})""",
            mock.url + "/__mockgpt__/reset",
        )
        assert mock.config.sample_conversations == 2
        status = page.evaluate(
            """() => fetch("/__mockgpt__/snapshots", {method: "POST",
                headers: {"content-type": "application/json"},
                body: JSON.stringify({name: "from-the-page"})}).then(r => r.status)"""
        )
        assert status == 201
        assert "from-the-page" in [kept["name"] for kept in mock.kept_snapshots()]
    finally:
        other.close()


def test_a_guarded_mock_s_inspector_takes_the_token_from_its_fragment(
    inspector: Inspector, page: sync_api.Page
) -> None:
    with MockGPT(Config(clock="virtual", sample_conversations=1), admin_token="tok-9") as guarded:
        other = _browser(page).new_page()
        try:
            other.goto(guarded.url + "/__mockgpt__/#token=tok-9")
            expect(other.locator("#conversations li")).to_have_count(1)
        finally:
            other.close()


def test_counts_agree_with_their_numbers(inspector: Inspector, page: sync_api.Page) -> None:
    state = page.locator("#state")
    inspector.mock.reply("one")
    expect(state).to_contain_text("· 1 pending script ·")
    inspector.mock.reply("two")
    expect(state).to_contain_text("· 2 pending scripts ·")
    inspector.mock.clear_scripts()
    expect(state).to_contain_text("· 0 pending scripts ·")


def test_sentinel_routes_share_one_group(page: sync_api.Page) -> None:
    page.fill("#route-filter", "sentinel/chat-requirements")
    rows = page.locator("#routes tbody tr")
    expect(rows).to_have_count(4)  # signed in, prepare, finalize, and the logged-out one
    groups = {row.locator("td").nth(3).inner_text() for row in rows.all()}
    page.fill("#route-filter", "")
    assert groups == {"Authentication & Session"}


#: Where the layout test keeps its screenshot; unset, it goes under pytest's tmp_path.
SCREENSHOT_DIR = "MOCKGPT_SCREENSHOT_DIR"


def test_the_layout_has_one_scrollbar_per_list_and_unbroken_words(
    inspector: Inspector, page: sync_api.Page, tmp_path: Path
) -> None:
    """The page fits the window (each panel scrolls on its own, so there is no second,
    page-wide scrollbar), and a path wraps only between its parts, never inside one.
    The screenshot is kept as an artifact for a person to look at."""
    mock = inspector.mock
    long_query = "/backend-api/gizmos/snorlax/sidebar?conversations_per_gizmo=3&owned_only=true"
    for path in (
        "/backend-api/me",
        long_query,
        "/backend-api/settings/user_last_used_model_config",
    ):
        httpx.get(mock.url + path, headers=AUTH)
    expect(page.locator("#journal tbody tr").first).to_contain_text("user_last_used_model_config")
    page.locator("#conversations li").first.click()
    expect(page.locator("#messages .message").first).to_be_visible()

    size = page.evaluate(
        """() => ({height: document.scrollingElement.scrollHeight, width:
            document.scrollingElement.scrollWidth, innerHeight, innerWidth})"""
    )
    assert size["height"] <= size["innerHeight"], size
    assert size["width"] <= size["innerWidth"], size
    # Every part of every path sits on one line: breaks fall only between parts.
    split = page.evaluate(
        """() => [...document.querySelectorAll("td.path .part")]
            .filter((part) => part.getClientRects().length !== 1).map((part) => part.textContent)"""
    )
    assert split == []
    paths = page.locator("#routes td.path")
    expect(paths.first).to_be_visible()
    assert page.evaluate(
        """() => [...document.querySelectorAll("td.path")].every((cell) =>
            getComputedStyle(cell).overflowWrap === "normal")"""
    )
    folder = Path(os.environ.get(SCREENSHOT_DIR) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "inspector.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
