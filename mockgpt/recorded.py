"""The files of a recording: each exchange the proxy saw, written through one `Sanitiser`.

`RecordingWriter.write` turns the exchanges kept so far into the folder that
`mockgpt serve --fixtures DIR` replays (see `mockgpt.record` for the proxy and
`mockgpt.replay` for the replay): `recording/NNN.json` per exchange, the
route's fixture file for the first JSON answer of each route, and the
conversation streams as scripts.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from mockgpt.catalogue import load_catalogue
from mockgpt.har import Exchange, Report, Sanitiser, check_exchanges, script_from_stream
from mockgpt.jsonfmt import dumpb
from mockgpt.replay import RECORDING, RecordingError, Take, frame_of, load_recording
from mockgpt.scripts import Script, ScriptError

#: Answer headers a recording keeps: what a client reads besides the body.
KEPT_HEADERS = ("content-type", "retry-after", "openai-model", "openai-processing-ms")
_KEPT_PREFIXES = ("x-ratelimit-",)
#: Request bodies longer than this are forwarded but not written (uploads).
KEPT_REQUEST_BYTES = 1024 * 1024
#: Answers longer than this are passed through but not written.
KEPT_ANSWER_BYTES = 16 * 1024 * 1024


@dataclass(slots=True)
class RecordedEvent:
    """One server-sent event and the milliseconds since the one before (or the request)."""

    gap_ms: float
    name: str | None
    data: str


@dataclass(slots=True)
class Recorded:
    """One exchange as the proxy saw it, before sanitising."""

    method: str
    path: str
    query: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    status: int = 0
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    events: list[RecordedEvent] | None = None
    #: Milliseconds from sending the request to the first byte, and from there to the last.
    wait_ms: float = 0.0
    receive_ms: float = 0.0
    complete: bool = False
    too_long: bool = False
    kept: bool = False
    #: The protocol the upstream answered in (`HTTP/1.1`, `HTTP/2`); not written.
    http_version: str = ""

    @property
    def media(self) -> str:
        for name, value in self.response_headers:
            if name == "content-type":
                return value.split(";", 1)[0].strip().lower()
        return ""

    def text(self) -> str | None:
        if self.too_long:
            return None
        try:
            return bytes(self.body).decode("utf-8")
        except UnicodeDecodeError:
            return None

    def exchange(self, index: int) -> Exchange:
        """The exchange as the HAR tools know it, for the sanitiser and the drift check."""
        request_text = None
        if self.request_body is not None:
            with contextlib.suppress(UnicodeDecodeError):
                request_text = self.request_body.decode("utf-8")
        request_mime = next(
            (
                v.split(";", 1)[0].strip().lower()
                for k, v in self.request_headers
                if k == "content-type"
            ),
            "",
        )
        return Exchange(
            index=index,
            method=self.method,
            url=self.path + (f"?{self.query}" if self.query else ""),
            path=self.path,
            query=tuple(parse_qsl(self.query, keep_blank_values=True)),
            request_headers=tuple(self.request_headers),
            request_cookies=(),
            request_mime=request_mime,
            request_text=request_text,
            status=self.status,
            response_headers=tuple(self.response_headers),
            response_cookies=(),
            response_mime=self.media,
            response_text=self.text(),
            wait_ms=self.wait_ms,
            receive_ms=self.receive_ms,
        )


def _kept_header(name: str) -> bool:
    return name in KEPT_HEADERS or name.startswith(_KEPT_PREFIXES)


def _pretty(value: Any) -> bytes:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace")


class RecordingWriter:
    """Writes a folder from the exchanges recorded so far, all sanitised with one `Sanitiser`."""

    def __init__(self, out: str | Path, *, seed: int = 0) -> None:
        self.root = Path(out)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.seed = seed
        self._written: set[str] = set()
        self._clear_previous()

    def _clear_previous(self) -> None:
        """A new recording replaces an older one in the same folder, file by file."""
        manifest = self.root / RECORDING / "files.json"
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            listed = []
        for relative in [*listed, f"{RECORDING}/files.json"] if isinstance(listed, list) else []:
            if isinstance(relative, str):
                target = (self.root / relative).resolve()
                if target.is_relative_to(self.root) and target.is_file():
                    target.unlink()

    def write(self, recorded: list[Recorded]) -> list[str]:
        """Rewrite the folder from `recorded`; the paths written, relative to the folder."""
        sanitiser = Sanitiser(self.seed)
        exchanges = [item.exchange(index) for index, item in enumerate(recorded)]
        for item, exchange in zip(recorded, exchanges, strict=True):
            sanitiser.learn_exchange(exchange)
            for event in item.events or ():
                for value in _json_values(event.data):
                    sanitiser.learn_json(value)
                sanitiser.learn_text(event.data)
        files: dict[str, bytes] = {}
        router = load_catalogue().router
        scripts: list[dict[str, Any]] = []
        for number, (item, exchange) in enumerate(zip(recorded, exchanges, strict=True), 1):
            route = router.route(item.method, item.path)
            document = _exchange_document(item, sanitiser)
            if route is not None:
                document["route"] = route.key
            files[f"{RECORDING}/{number:03d}.json"] = _pretty(document)
            if route is None or not 200 <= item.status < 300:
                continue
            if item.events is not None:
                if route.kind == "conversation_resume":
                    continue
                script = script_from_stream(
                    "".join(_sse(event) for event in item.events),
                    wait_ms=item.wait_ms,
                    receive_ms=item.receive_ms,
                    openai=route.platform,
                )
                if script is None:
                    continue
                try:
                    clean = Script.from_dict(_clean_script(script, sanitiser)).to_dict()
                except ScriptError:
                    continue
                scripts.append(clean)
                files[f"scripts/turn-{len(scripts):03d}.json"] = _pretty(clean)
                continue
            try:
                spec = route.response(item.status)
            except KeyError:
                continue
            text = exchange.response_text
            if spec.fixture is None or spec.fixture in files or text is None or not spec.is_json:
                continue
            try:
                files[spec.fixture] = _pretty(sanitiser.json(json.loads(text)))
            except (ValueError, RecursionError):
                continue
        if scripts:
            files["scripts/turns.json"] = _pretty(scripts)
        for relative, data in files.items():
            self._put(relative, data)
        for stale in self._written - files.keys():
            with contextlib.suppress(OSError):
                self._inside(stale).unlink()
        self._written = set(files)
        self._put(f"{RECORDING}/files.json", _pretty(sorted(files)))
        return sorted(files)

    def _inside(self, relative: str) -> Path:
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root):
            raise ValueError(f"refusing to write {relative!r} outside {self.root}")
        return target

    def _put(self, relative: str, data: bytes) -> None:
        target = self._inside(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._inside(relative)  # again, now that the folders exist
        temporary = target.with_name(target.name + ".part")
        temporary.write_bytes(data)
        temporary.replace(target)


def _json_values(text: str) -> list[Any]:
    try:
        return [json.loads(text)]
    except (ValueError, RecursionError):
        return []


def _sse(event: RecordedEvent) -> str:
    head = f"event: {event.name}\n" if event.name else ""
    lines = "".join(f"data: {line}\n" for line in event.data.split("\n"))
    return f"{head}{lines}\n"


def _clean_script(script: dict[str, Any], sanitiser: Sanitiser) -> dict[str, Any]:
    """The script with secrets replaced; chunks stay only if they still join to its text."""
    chunks = script.pop("chunks", None)
    clean: dict[str, Any] = sanitiser.json(script)
    text = clean.get("text")
    if isinstance(chunks, list) and isinstance(text, str):
        pieces = [sanitiser.text(piece) for piece in chunks]
        if "".join(pieces) == text and all(pieces):
            clean["chunks"] = pieces
    return clean


def _exchange_document(item: Recorded, sanitiser: Sanitiser) -> dict[str, Any]:
    """One exchange as `recording/NNN.json` holds it, every string sanitised."""
    request_text = None
    if item.request_body is not None:
        with contextlib.suppress(UnicodeDecodeError):
            request_text = item.request_body.decode("utf-8")
    document: dict[str, Any] = {
        "method": item.method,
        "path": sanitiser.text(item.path),
        "query": sanitiser.text(item.query),
        "request": _clean_body(request_text, sanitiser),
        "status": item.status,
        "headers": {
            name: sanitiser.text(value)
            for name, value in item.response_headers
            if _kept_header(name)
        },
        "complete": item.complete,
    }
    if item.events is not None:
        document["events"] = [
            {
                "gap_ms": round(event.gap_ms, 3),
                **({"event": event.name} if event.name else {}),
                "data": _clean_body(event.data, sanitiser),
            }
            for event in item.events
        ]
    else:
        document["body"] = _clean_body(item.text(), sanitiser)
    return document


def _clean_body(text: str | None, sanitiser: Sanitiser) -> str | None:
    """A body sanitised as JSON where it is JSON (keys name what to replace whole), else as text;
    written back in its own compact form, not re-indented."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return sanitiser.text(text)
    return dumpb(sanitiser.json(value)).decode("utf-8")


def take_exchange(take: Take) -> Exchange:
    """A recorded answer as the HAR drift check reads it."""
    text = take.body
    if take.events is not None:
        text = "".join(frame_of(event).decode("utf-8") for event in take.events)
    return Exchange(
        index=take.number - 1,
        method=take.method,
        url=take.path,
        path=take.path,
        query=tuple(parse_qsl(take.query, keep_blank_values=True)),
        request_headers=(),
        request_cookies=(),
        request_mime="application/json" if take.request else "",
        request_text=take.request,
        status=take.status,
        response_headers=take.headers,
        response_cookies=(),
        response_mime=take.media,
        response_text=text,
    )


def check_recording(folder: str | Path) -> Report:
    """Compare a recording folder with the catalogue and schemas (`mockgpt check DIR`)."""
    recording = load_recording(folder)
    if recording is None:
        raise RecordingError(f"{folder} holds no recording (no {RECORDING}/ folder)")
    return check_exchanges((take_exchange(take) for take in recording.takes), str(folder))
