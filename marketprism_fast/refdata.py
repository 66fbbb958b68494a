"""Reference data (instrument metadata) loading: venue REST bodies -> ``SymbolMetadata``.

Each line is one response body, raw or wrapped as ``{"recv_ts","url","body"}`` (the corpus
layout; ``body`` is the verbatim response text). Several bodies merge into one metadata set.
A body's venue is told by its shape (normalize-cli.md):

* Binance ``exchangeInfo``: ``symbols[]``. Spot, USD-M and COIN-M entries are told apart per
  entry: futures entries carry ``contractType``; COIN-M ones also ``contractSize`` /
  ``contractStatus`` (a body's ``futuresType`` overrides when present).
* OKX ``/api/v5/public/instruments``: ``data[].instId``.
* Deribit ``public/get_instruments``: ``result[].instrument_name``.

Anything else, and a venue error response, is a ``ParseError`` naming the line.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO, Iterable, Iterator, Mapping

import orjson
import zstandard

from .errors import InputError, ParseError
from .symbols import SymbolMetadata

_FUTURES_TYPE_VENUE = {"U_MARGINED": "binance_usdm", "COIN_MARGINED": "binance_coinm"}


def load_metadata(
    lines: Iterable[bytes | str | Mapping], metadata: SymbolMetadata | None = None, *, source: str = "refdata"
) -> SymbolMetadata:
    """Merge every body of ``lines`` into ``metadata`` (a new one when None) and return it.

    Blank lines are ignored. ``source`` names the input in error messages.
    """
    metadata = metadata if metadata is not None else SymbolMetadata()
    for number, line in enumerate(lines, start=1):
        if isinstance(line, (bytes, bytearray, memoryview, str)) and not _as_text(line).strip():
            continue
        add_body(metadata, _body_of(line, f"{source} line {number}"), where=f"{source} line {number}")
    return metadata


def load_metadata_files(paths: Iterable[str | Path], metadata: SymbolMetadata | None = None) -> SymbolMetadata:
    """``load_metadata`` over files read line by line; ``.zst`` and ``.gz`` are decompressed."""
    metadata = metadata if metadata is not None else SymbolMetadata()
    for path in paths:
        load_metadata(iter_lines(path), metadata, source=str(path))
    return metadata


def add_body(metadata: SymbolMetadata, body: Mapping, *, where: str = "body") -> str:
    """Add one decoded response body; returns its venue family ("binance", "okx", "deribit")."""
    if not isinstance(body, Mapping):
        raise ParseError(f"{where}: a reference-data body must be a JSON object, got {type(body).__name__}")
    if isinstance(body.get("symbols"), list):
        _add_binance(metadata, body, where)
        return "binance"
    if isinstance(body.get("data"), list) and _listed_by(body["data"], "instId", empty_ok="code" in body):
        _raise_on_okx_error(body, where)
        _add_entries(metadata, "okx", body["data"], "instId", where)
        return "okx"
    if isinstance(body.get("result"), list) and _listed_by(body["result"], "instrument_name", empty_ok="jsonrpc" in body):
        _add_entries(metadata, "deribit", body["result"], "instrument_name", where)
        return "deribit"
    raise ParseError(
        f"{where}: not an instrument list of a known venue (expected Binance exchangeInfo "
        f"'symbols', OKX instruments 'data[].instId' or Deribit get_instruments "
        f"'result[].instrument_name'){_error_hint(body)}; top-level keys: {sorted(body)[:12]}"
    )


def _as_text(line: bytes | bytearray | memoryview | str) -> bytes | str:
    return bytes(line) if isinstance(line, (bytearray, memoryview)) else line


def _body_of(line: bytes | str | Mapping, where: str) -> Mapping:
    """The decoded body of one line, unwrapping a ``{"recv_ts","url","body"}`` wrapper."""
    doc = line if isinstance(line, Mapping) else _loads(_as_text(line), where)
    if isinstance(doc, Mapping) and "body" in doc and ("url" in doc or "recv_ts" in doc):
        inner = doc["body"]
        doc = inner if isinstance(inner, Mapping) else _loads(inner, f"{where} (wrapped body of {doc.get('url', '?')})")
    if not isinstance(doc, Mapping):
        raise ParseError(f"{where}: a reference-data body must be a JSON object, got {type(doc).__name__}")
    return doc


def _loads(text: object, where: str) -> object:
    if not isinstance(text, (bytes, str)):
        raise ParseError(f"{where}: expected JSON text, got {type(text).__name__}")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        excerpt = text.encode() if isinstance(text, str) else text
        raise ParseError(f"{where}: not valid JSON ({exc})", excerpt=excerpt) from exc


def _listed_by(items: list, key: str, *, empty_ok: bool) -> bool:
    if not items:
        return empty_ok
    return all(isinstance(i, Mapping) and isinstance(i.get(key), str) for i in items)


def _error_hint(body: Mapping) -> str:
    if "code" in body and "msg" in body:
        return f"; the venue answered an error: code {body['code']!r}, {body['msg']!r}"
    if isinstance(body.get("error"), Mapping):
        return f"; the venue answered an error: {dict(body['error'])!r}"
    return ""


def _raise_on_okx_error(body: Mapping, where: str) -> None:
    code = body.get("code", "0")
    if str(code) != "0":
        raise ParseError(f"{where}: OKX answered an error: code {code!r}, {body.get('msg', '')!r}", venue="okx")


def _add_entries(metadata: SymbolMetadata, venue: str, items: list, key: str, where: str) -> None:
    for item in items:
        metadata.add(venue, item[key], item)


def _binance_venue(entry: Mapping, futures_type: str) -> str:
    if "contractType" not in entry:
        return "binance_spot"
    if futures_type in _FUTURES_TYPE_VENUE:
        return _FUTURES_TYPE_VENUE[futures_type]
    return "binance_coinm" if ("contractSize" in entry or "contractStatus" in entry) else "binance_usdm"


def _add_binance(metadata: SymbolMetadata, body: Mapping, where: str) -> None:
    futures_type = str(body.get("futuresType") or "")
    for i, entry in enumerate(body["symbols"]):
        if not (isinstance(entry, Mapping) and isinstance(entry.get("symbol"), str)):
            raise ParseError(f"{where}: Binance exchangeInfo symbols[{i}] has no 'symbol' text", venue="binance")
        metadata.add(_binance_venue(entry, futures_type), entry["symbol"], entry)


def _open_text_lines(path: Path) -> IO[bytes]:
    """A binary line iterator over a plain, ``.gz`` or ``.zst`` file."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".zst":
        raw = path.open("rb")
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return path.open("rb")


def iter_lines(path: str | Path) -> Iterator[bytes]:
    """Lines of a plain, ``.gz`` or ``.zst`` file without their terminators."""
    path = Path(path)
    try:
        with _open_text_lines(path) as stream:
            for line in stream:
                yield line.rstrip(b"\r\n")
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise InputError(f"cannot read {path}: {exc}", path=str(path)) from exc
