"""Fixture folders are read without following links out of them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from mockgpt import Config, MockGPT
from mockgpt._resources import fixture_path, inside

ADMIN = "/__mockgpt__"
AUTH = {"authorization": "Bearer t"}


@pytest.fixture
def client(mock_client: httpx.Client) -> httpx.Client:
    return mock_client


@pytest.fixture
def linked_folder(tmp_path: Path) -> tuple[Path, bytes]:
    secret = tmp_path / "secret"
    secret.write_bytes(b"the user's private key\n")
    folder = tmp_path / "fixtures"
    (folder / "sentinel").mkdir(parents=True)
    (folder / "sentinel" / "sdk.js").symlink_to(secret)
    (folder / "me").symlink_to(tmp_path, target_is_directory=True)  # a linked folder too
    (tmp_path / "me.json").write_text('{"name": "leaked"}')
    return folder, secret.read_bytes()


def test_links_out_of_a_fixtures_folder_are_not_followed(
    linked_folder: tuple[Path, bytes],
) -> None:
    folder, secret = linked_folder
    built_in = MockGPT(Config(clock="virtual"))
    with built_in.client(in_process=True) as plain:
        expected = plain.get("/backend-api/sentinel/sdk.js").content
    mock = MockGPT(Config(clock="virtual", fixtures=str(folder)))
    with mock.client(in_process=True) as http:
        served = http.get("/backend-api/sentinel/sdk.js")
        me = http.get("/backend-api/me", headers=AUTH)
    assert served.status_code == 200
    assert secret not in served.content
    assert served.content == expected
    assert "leaked" not in me.text


def test_a_reset_naming_a_linked_folder_does_not_follow_links(
    linked_folder: tuple[Path, bytes], mock: MockGPT, client: httpx.Client
) -> None:
    folder, secret = linked_folder
    reset = client.post(f"{ADMIN}/reset", json={"settings": {"fixtures": str(folder)}})
    assert reset.status_code == 200
    assert mock.config.fixtures == str(folder)
    assert secret not in client.get("/backend-api/sentinel/sdk.js").content


def test_links_inside_the_folder_still_work(tmp_path: Path) -> None:
    folder = tmp_path / "fixtures"
    (folder / "sentinel").mkdir(parents=True)
    (folder / "real.js").write_text("// mine\n")
    (folder / "sentinel" / "sdk.js").symlink_to(folder / "real.js")
    mock = MockGPT(Config(clock="virtual", fixtures=str(folder)))
    with mock.client(in_process=True) as http:
        assert http.get("/backend-api/sentinel/sdk.js").text == "// mine\n"


def test_the_check_is_on_resolved_paths(tmp_path: Path) -> None:
    folder = tmp_path / "fixtures"
    folder.mkdir()
    (folder / "loop").symlink_to(folder / "loop")
    assert inside(folder, "../secret") is None
    assert inside(folder, "loop/x") is None
    assert inside(tmp_path / "missing", "a.json") is None
    assert inside(folder, "me/me.json") == folder.resolve() / "me" / "me.json"
    assert fixture_path("me/me.json", folder).parent.name == "me"  # the built-in one
