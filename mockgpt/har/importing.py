"""Importing a capture: its entries as fixtures and its streams as scripts, all sanitised."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mockgpt.catalogue import Catalogue, Route, load_catalogue
from mockgpt.har.reading import (
    Exchange,
    HarError,
    is_stream,
    is_text_media,
    media_of,
    read_har,
    unknown_key,
)
from mockgpt.har.sanitise import Sanitiser
from mockgpt.har.streams import script_from_stream, streamed_text
from mockgpt.schemas import schema_errors
from mockgpt.scripts import Script, ScriptError


@dataclass(slots=True)
class ImportResult:
    """What `import_har` wrote (paths relative to the output folder) and what it skipped."""

    out: Path
    written: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unknown: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    replaced: int = 0

    def render(self) -> str:
        lines = [f"wrote {len(self.written)} files to {self.out}"]
        lines.extend(f"  {path}  <- {source}" for path, source in self.written)
        if self.unknown:
            lines.append("unknown routes (skipped):")
            lines.extend(f"  {key}: {n}" for key, n in self.unknown.items())
        lines.extend(f"skipped: {note}" for note in self.skipped)
        lines.extend(f"warning: {note}" for note in self.warnings)
        lines.append(f"{self.replaced} distinct values replaced by fakes")
        scripts = [path for path, _ in self.written if path.startswith("scripts/")]
        hint = f"serve them with: mockgpt serve --fixtures {self.out}"
        if any(path == "scripts/turns.json" for path in scripts):
            hint += f" --script {self.out / 'scripts' / 'turns.json'}"
        lines.append(hint)
        return "\n".join(lines)


def _inside(root: Path, relative: str) -> Path:
    """`root / relative`, refusing anything that would land outside `root`."""
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        raise HarError(f"refusing to write {relative!r} outside {root}")
    return target


def _write(root: Path, relative: str, data: bytes) -> None:
    target = _inside(root, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    _inside(root, relative)  # again, now that the folders exist (a symlink in between)
    target.write_bytes(data)


def _pretty(value: Any) -> bytes:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace")  # a lone surrogate stays an escape


def _sanitised_script(script: dict[str, Any], sanitiser: Sanitiser) -> dict[str, Any]:
    """The script with secrets replaced; chunks are kept only if they still join to the text."""
    chunks = script.pop("chunks", None)
    clean: dict[str, Any] = sanitiser.json(script)
    streamed = clean.get("text")
    if streamed is None:
        streamed = streamed_text(clean.get("content"))
    if chunks is not None and streamed is not None:
        pieces = [sanitiser.text(piece) for piece in chunks]
        if "".join(pieces) == streamed and all(pieces):
            clean["chunks"] = pieces
    return clean


class _Importer:
    """Writes one capture's fixtures and scripts into a folder."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.result = ImportResult(root)
        self.sanitiser = Sanitiser(seed)
        self.done: set[str] = set()
        self.scripts: list[dict[str, Any]] = []

    def write(self, relative: str, data: bytes, source: str) -> None:
        _write(self.root, relative, data)
        self.result.written.append((relative, source))

    def exchange(self, exchange: Exchange, route: Route, source: str) -> str | None:
        """Import one entry; the reason when it is skipped."""
        try:
            spec = route.response(exchange.status)
        except KeyError:
            return "status not documented"
        if is_stream(exchange, spec):
            return self.stream(exchange, route, source)
        if spec.fixture is None or spec.fixture in self.done:
            return None
        if spec.is_json:
            if exchange.response_text is None:
                return "no response text in the capture"
            try:
                document = self.sanitiser.json(json.loads(exchange.response_text))
            except json.JSONDecodeError:
                return "the body is not JSON"
            problems = [] if spec.schema is None else schema_errors(spec.schema, document)
            if problems:
                where = "/".join(map(str, problems[0].absolute_path)) or "the top"
                message = problems[0].message
                message = message if len(message) <= 160 else message[:160] + "..."
                self.result.warnings.append(
                    f"{route.key} {exchange.status}: the captured body written to "
                    f"fixtures/{spec.fixture} breaks the route's schema schemas/{spec.schema} "
                    f"at {where}: {message} (see `mockgpt har check`; "
                    "validate_responses would refuse it)"
                )
            data = _pretty(document)
        elif exchange.response_text is not None and is_text_media(media_of(spec.media)):
            data = self.sanitiser.text(exchange.response_text).encode("utf-8", "backslashreplace")
        else:
            return "binary body not imported"
        self.write(spec.fixture, data, source)
        self.done.add(spec.fixture)
        return None

    def stream(self, exchange: Exchange, route: Route, source: str) -> str | None:

        if route.kind == "conversation_resume":
            return "a resumed stream replays an earlier turn"
        if exchange.response_text is None:
            return "no stream text in the capture"
        script = script_from_stream(
            exchange.response_text,
            wait_ms=exchange.wait_ms,
            receive_ms=exchange.receive_ms,
            openai=route.platform,
        )
        if script is None:
            return "no answer a script can replay"
        try:
            clean = Script.from_dict(_sanitised_script(script, self.sanitiser)).to_dict()
        except ScriptError as error:
            return str(error)
        self.scripts.append(clean)
        self.write(f"scripts/turn-{len(self.scripts):03d}.json", _pretty(clean), source)
        return None


def import_exchanges(
    exchanges: Sequence[Exchange],
    out: str | Path,
    *,
    seed: int = 0,
    catalogue: Catalogue | None = None,
) -> ImportResult:
    """Write sanitised fixtures and scripts for the exchanges a catalogue route matches."""
    router = (catalogue or load_catalogue()).router
    try:
        root = Path(out)
        root.mkdir(parents=True, exist_ok=True)
        root = root.resolve()
    except OSError as error:
        raise HarError(f"cannot create {out}: {error.strerror or error}") from None
    importer = _Importer(root, seed)
    result = importer.result
    routed: list[tuple[Exchange, Route]] = []
    for exchange in exchanges:
        route = router.route(exchange.method, exchange.path)
        if route is None:
            key = unknown_key(exchange.method, exchange.path)
            result.unknown[key] = result.unknown.get(key, 0) + 1
            continue
        try:
            importer.sanitiser.learn_exchange(exchange)
        except RecursionError:
            result.skipped.append(f"{exchange.label}: nested too deeply to sanitise")
            continue
        routed.append((exchange, route))
    for exchange, route in routed:
        source = f"{route.key} ({exchange.status}, entry {exchange.index + 1})"
        try:
            skipped = importer.exchange(exchange, route, source)
        except RecursionError:
            skipped = "nested too deeply to sanitise"
        if skipped is not None:
            result.skipped.append(f"{source}: {skipped}")
    if importer.scripts:
        count = len(importer.scripts)
        importer.write(
            "scripts/turns.json", _pretty(importer.scripts), f"all {count} turns, in order"
        )
    result.replaced = importer.sanitiser.replaced
    return result


def import_har(
    path: str | Path, out: str | Path, *, seed: int = 0, catalogue: Catalogue | None = None
) -> ImportResult:
    """Write sanitised fixtures and scripts for the routes a HAR capture shows."""
    exchanges, notes = read_har(path)
    result = import_exchanges(exchanges, out, seed=seed, catalogue=catalogue)
    result.skipped[:0] = notes
    return result
