"""The upload flow a web client runs, end to end over httpx: announce a file, PUT its
bytes to the URL as given, finish, download; then attach it to a message and find it
in the stored conversation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from support import BEARER, make_config

from mockgpt import MockGPT
from mockgpt.delta import StreamDecoder
from mockgpt.files import FileStore, StoredFile

AUTH = {"authorization": BEARER}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
BLOB_HEADERS = {
    "x-ms-blob-type": "BlockBlob",
    "x-ms-version": "2020-04-08",
    "content-type": "image/png",
    "origin": "https://chatgpt.com",
}


@pytest.fixture
def mock() -> MockGPT:
    return MockGPT(make_config(sample_conversations=0))


@pytest.fixture
def client(mock: MockGPT) -> Iterator[httpx.Client]:
    with mock.client(in_process=True, headers=AUTH) as client:
        yield client


def announce(client: httpx.Client, name: str = "photo.png", size: int = len(PNG)) -> Any:
    body = {"file_name": name, "file_size": size, "use_case": "multimodal"}
    answer = client.post("/backend-api/files", json={**body, "timezone_offset_min": -60})
    assert answer.status_code == 200, answer.text
    return answer.json()


def upload(client: httpx.Client, data: bytes = PNG, name: str = "photo.png") -> str:
    """The whole flow up to the finish step; the new file's id."""
    created = announce(client, name, len(data))
    put = client.put(created["upload_url"], content=data, headers=BLOB_HEADERS)
    assert put.status_code == 201, put.text
    assert put.content == b""
    finished = client.post(f"/backend-api/files/{created['file_id']}/uploaded", json={})
    assert finished.status_code == 200, finished.text
    return str(created["file_id"])


def test_the_whole_upload_flow_gives_the_bytes_back(client: httpx.Client) -> None:
    created = announce(client)
    assert created["status"] == "success"
    assert created["file_id"].startswith("file_")
    assert len(created["file_id"]) == 37
    url = urlsplit(created["upload_url"])
    assert (url.scheme, url.netloc) == ("http", "mockgpt.test")
    assert {"se", "sp", "sv", "sr", "sig"} <= parse_qs(url.query).keys()
    # before the bytes arrive there is nothing to download
    for early in (
        client.get(f"/backend-api/files/{created['file_id']}/download"),
        client.post(f"/backend-api/files/{created['file_id']}/uploaded", json={}),
    ):
        assert early.status_code == 409
        assert early.json() == {"detail": "File upload has not completed"}

    put = client.put(created["upload_url"], content=PNG, headers=BLOB_HEADERS)
    assert put.status_code == 201
    finished = client.post(f"/backend-api/files/{created['file_id']}/uploaded", json={})
    assert finished.status_code == 200
    done = finished.json()
    assert done["status"] == "success"
    assert done["metadata"] is None
    assert done["file_name"] == "photo.png"
    assert done["file_size_bytes"] == len(PNG)

    download = client.get(f"/backend-api/files/{created['file_id']}/download")
    assert download.status_code == 200
    found = download.json()
    assert found["status"] == "success"
    assert found["mime_type"] == "image/png"
    blob = client.get(found["download_url"])
    assert blob.status_code == 200
    assert blob.content == PNG
    assert blob.headers["content-type"] == "image/png"


def test_finish_without_a_body_and_poll_the_record(client: httpx.Client) -> None:
    created = announce(client, "notes.txt", 5)
    record = client.get(f"/backend-api/files/{created['file_id']}").json()
    assert record["state"] == "uploading"
    client.put(created["upload_url"], content=b"hello", headers={"x-ms-blob-type": "BlockBlob"})
    # some clients send no body at all on the finish step
    assert client.post(f"/backend-api/files/{created['file_id']}/uploaded").status_code == 200
    record = client.get(f"/backend-api/files/{created['file_id']}").json()
    assert (record["state"], record["size"], record["name"]) == ("ready", 5, "notes.txt")


def test_a_bad_signature_an_expired_url_or_a_wrong_blob_type_store_nothing(
    mock: MockGPT, client: httpx.Client
) -> None:
    created = announce(client)
    url = urlsplit(created["upload_url"])
    query = parse_qs(url.query)
    path = url.path
    forged = {**{k: v[-1] for k, v in query.items()}, "sig": "AAAA"}
    assert client.put(path, params=forged, content=b"x").status_code == 403
    expired = {**{k: v[-1] for k, v in query.items()}, "se": "2001-01-01T00:00:00Z"}
    assert client.put(path, params=expired, content=b"x").status_code == 403
    page = {**BLOB_HEADERS, "x-ms-blob-type": "AppendBlob"}
    wrong = client.put(created["upload_url"], content=b"x", headers=page)
    assert wrong.status_code == 400
    assert "detail" in wrong.json()
    assert client.put("/blob/file_unknown?se=x&sig=y", content=b"x").status_code == 404
    assert mock.files()[0]["uploaded"] is False
    mock.advance(3601)
    late = client.put(created["upload_url"], content=PNG, headers=BLOB_HEADERS)
    assert late.status_code == 403


def test_unknown_files_answer_404_with_the_detail(client: httpx.Client) -> None:
    for path in (
        "/backend-api/files/file_00000000000000000000000000000000/download",
        "/backend-api/files/file_00000000000000000000000000000000",
    ):
        answer = client.get(path)
        assert (answer.status_code, answer.json()) == (404, {"detail": "File not found"})
    missing = client.post("/backend-api/files/file_0/uploaded", json={})
    assert missing.status_code == 404


def test_the_store_is_bounded_by_count_and_bytes() -> None:
    store = FileStore(seed=0, max_files=3, max_bytes=10)
    made = [store.create(f"f{n}", 1, "multimodal", 0.0) for n in range(5)]
    assert len(store) == 3
    assert [item["name"] for item in store.summaries()] == ["f2", "f3", "f4"]
    assert store.put(made[3].id, b"123456", None)
    assert store.put(made[4].id, b"123456", None)  # 12 bytes: the older upload goes
    assert made[3].id not in store
    assert store.stored_bytes == 6
    assert not store.put(made[4].id, b"x" * 11, None)  # alone past the bound: refused
    assert store.get(made[4].id) == made[4]
    assert made[4].data == b"123456"
    assert isinstance(store.get(made[4].id), StoredFile)


def test_an_upload_past_the_byte_bound_gets_413_and_keeps_the_rest() -> None:
    mock = MockGPT(make_config(sample_conversations=0, file_bytes=1024))
    with mock.client(in_process=True, headers=AUTH) as client:
        kept = upload(client, b"small")
        created = announce(client, size=2048)
        big = client.put(created["upload_url"], content=b"x" * 2048, headers=BLOB_HEADERS)
        assert big.status_code == 413
        assert client.get(f"/backend-api/files/{kept}/download").status_code == 200
        state = mock.state()["files"]
        assert state == {"count": 2, "bytes": 5}


def test_the_admin_api_lists_the_files(mock: MockGPT, client: httpx.Client) -> None:
    file_id = upload(client, b"abc", "a.txt")
    listed = client.get("/__mockgpt__/files").json()
    assert [(item["id"], item["name"], item["size"]) for item in listed] == [(file_id, "a.txt", 3)]
    assert "data" not in listed[0]


def _attach_turn(file_id: str, pointer: str, mime_key: str) -> dict[str, Any]:
    return {
        "action": "next",
        "model": "auto",
        "parent_message_id": "client-created-root",
        "messages": [
            {
                "id": "aaa5e6f7-0a1b-4c2d-8e3f-405162738495",
                "author": {"role": "user"},
                "content": {
                    "content_type": "multimodal_text",
                    "parts": [
                        {
                            "content_type": "image_asset_pointer",
                            "asset_pointer": f"{pointer}{file_id}",
                            "size_bytes": len(PNG),
                            "width": 16,
                            "height": 16,
                        },
                        "what is in this picture?",
                    ],
                },
                "metadata": {
                    "attachments": [
                        {
                            "id": file_id,
                            "size": len(PNG),
                            "name": "photo.png",
                            mime_key: "image/png",
                            "width": 16,
                            "height": 16,
                        }
                    ]
                },
            }
        ],
    }


@pytest.mark.parametrize(
    ("pointer", "mime_key"), [("sediment://", "mime_type"), ("file-service://", "mimeType")]
)
def test_an_attached_image_is_kept_in_the_stored_conversation(
    client: httpx.Client, pointer: str, mime_key: str
) -> None:
    file_id = upload(client)
    with client.stream(
        "POST", "/backend-api/conversation", json=_attach_turn(file_id, pointer, mime_key)
    ) as answer:
        assert answer.status_code == 200
        reader = StreamDecoder()
        for chunk in answer.iter_bytes():
            reader.feed(chunk)
        reader.close()
    cid = reader.conversation_id
    assert cid is not None
    stored = client.get(f"/backend-api/conversation/{cid}").json()
    users = [
        node["message"]
        for node in stored["mapping"].values()
        if node["message"] and node["message"]["author"]["role"] == "user"
    ]
    assert len(users) == 1
    image, text = users[0]["content"]["parts"]
    assert users[0]["content"]["content_type"] == "multimodal_text"
    assert text == "what is in this picture?"
    assert image["asset_pointer"] == f"{pointer}{file_id}"
    assert image["fovea"] is None
    assert image["metadata"]["sanitized"] is True
    attachment = users[0]["metadata"]["attachments"][0]
    assert attachment["id"] == file_id
    assert attachment["mime_type"] == "image/png"
    assert "mimeType" not in attachment
    # the attachment resolves through the conversation, and 404s for a file not there
    found = client.get(f"/backend-api/conversation/{cid}/attachment/{file_id}/download")
    assert found.status_code == 200
    assert client.get(found.json()["download_url"]).content == PNG
    pending = client.get(f"/backend-api/conversation/{cid}/attachment/file_0/download")
    assert pending.status_code == 404
    unknown = "00000000-0000-4000-8000-000000000000"
    gone = client.get(f"/backend-api/conversation/{unknown}/attachment/{file_id}/download")
    assert gone.status_code == 404
