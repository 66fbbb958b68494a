"""Reference-data loading: raw and wrapped bodies, shape detection, merging, files, errors."""

from __future__ import annotations

import gzip
import json

import pytest
import zstandard

from marketprism_fast.errors import InputError, ParseError
from marketprism_fast.refdata import add_body, load_metadata, load_metadata_files
from marketprism_fast.symbols import SymbolMetadata
from marketprism_fast.venues import normalize_symbol as normalize

from .helpers import FIXTURES, corpus_dir, read_lines

SPOT = FIXTURES / "binance_spot" / "exchangeInfo.json"
USDM = FIXTURES / "binance_usdm" / "exchangeInfo.json"
COINM = FIXTURES / "binance_coinm" / "exchangeInfo.json"
OKX = FIXTURES / "okx" / "instruments.refdata.jsonl"
DERIBIT = FIXTURES / "deribit" / "get_instruments.refdata.jsonl"


def _listed(path) -> list[str]:
    """Instrument names a fixture file lists, read independently of the loader."""
    names = []
    for line in read_lines(path):
        body = json.loads(line)
        items = body.get("symbols") or body.get("data") or body.get("result")
        names += [i.get("symbol") or i.get("instId") or i.get("instrument_name") for i in items]
    return names


def test_each_body_goes_to_the_venue_its_shape_tells() -> None:
    metadata = load_metadata_files([SPOT, USDM, COINM, OKX, DERIBIT])
    assert sorted(metadata.symbols("binance_spot")) == sorted(_listed(SPOT))
    assert sorted(metadata.symbols("binance_usdm")) == sorted(_listed(USDM))
    assert sorted(metadata.symbols("binance_coinm")) == sorted(_listed(COINM))
    assert sorted(metadata.symbols("okx")) == sorted(_listed(OKX))
    assert sorted(metadata.symbols("deribit")) == sorted(_listed(DERIBIT))
    assert len(metadata) == sum(len(_listed(p)) for p in (SPOT, USDM, COINM, OKX, DERIBIT))
    assert metadata.entry("binance_coinm", "BTCUSD_PERP")["contractSize"] == 100


def test_coin_margined_entries_are_told_by_shape_without_futures_type() -> None:
    body = json.loads(read_lines(USDM)[0])
    del body["futuresType"]
    metadata = load_metadata([json.dumps(body).encode(), read_lines(COINM)[0]])
    assert sorted(metadata.symbols("binance_usdm")) == sorted(_listed(USDM))
    assert sorted(metadata.symbols("binance_coinm")) == sorted(_listed(COINM))


def test_wrapped_and_raw_bodies_merge_and_blank_lines_are_ignored() -> None:
    okx_lines = read_lines(OKX)
    wrapped = json.dumps({"recv_ts": "1700000000.5", "url": "https://www.okx.com/api/v5/public/instruments?instType=SPOT",
                          "body": okx_lines[0].decode()}).encode()
    metadata = load_metadata([wrapped, b"", b"  \r", *okx_lines[1:], read_lines(DERIBIT)[0]])
    assert sorted(metadata.symbols("okx")) == sorted(_listed(OKX))
    assert "BTC-PERPETUAL" in metadata.symbols("deribit")
    later = load_metadata([read_lines(SPOT)[0].decode()], metadata)  # str lines, added to the same set
    assert later is metadata and metadata.count("binance_spot") == len(_listed(SPOT))


def test_from_bodies_and_decoded_bodies() -> None:
    metadata = load_metadata([json.loads(line) for line in read_lines(DERIBIT)])
    assert normalize("deribit", "SOL_USDC-PERPETUAL", metadata).symbol == "SOL-USDC-PERP"
    assert add_body(SymbolMetadata(), json.loads(read_lines(OKX)[0])) == "okx"


def test_empty_lists_are_valid_bodies() -> None:
    metadata = load_metadata([b'{"code":"0","msg":"","data":[]}', b'{"jsonrpc":"2.0","result":[]}',
                              b'{"timezone":"UTC","symbols":[]}'])
    assert len(metadata) == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", r"refdata line 2: not valid JSON"),
        (b"[1,2]", r"refdata line 2: a reference-data body must be a JSON object, got list"),
        (b'{"serverTime":1}', r"refdata line 2: not an instrument list of a known venue.*serverTime"),
        (b'{"code":-1121,"msg":"Invalid symbol."}', r"line 2: .*the venue answered an error: code -1121, 'Invalid symbol.'"),
        (b'{"code":"51001","msg":"Instrument ID does not exist","data":[]}', r"line 2: OKX answered an error: code '51001'"),
        (b'{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params"}}', r"line 2: .*Invalid params"),
        (b'{"data":[{"id":1}]}', r"line 2: not an instrument list"),
        (b'{"symbols":[{"baseAsset":"BTC"}]}', r"line 2: Binance exchangeInfo symbols\[0\] has no 'symbol' text"),
        (b'{"recv_ts":"1","url":"u","body":"{oops"}', r"line 2 \(wrapped body of u\): not valid JSON"),
        (b'{"recv_ts":"1","url":"u","body":7}', r"line 2 \(wrapped body of u\): expected JSON text, got int"),
    ],
)
def test_bodies_that_are_no_instrument_list_name_their_line(line: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        load_metadata([read_lines(OKX)[0], line])


def test_files_plain_gzip_and_zstd(tmp_path) -> None:
    text = b"\n".join(read_lines(OKX)) + b"\n"
    (tmp_path / "r.jsonl").write_bytes(text)
    (tmp_path / "r.jsonl.gz").write_bytes(gzip.compress(text))
    (tmp_path / "r.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(text))
    for name in ("r.jsonl", "r.jsonl.gz", "r.jsonl.zst"):
        assert sorted(load_metadata_files([tmp_path / name]).symbols("okx")) == sorted(_listed(OKX))


def test_file_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(InputError, match="cannot read .*missing.jsonl") as info:
        load_metadata_files([tmp_path / "missing.jsonl"])
    assert info.value.path.endswith("missing.jsonl")
    (tmp_path / "bad.zst").write_bytes(b"this is not zstd")
    with pytest.raises(InputError, match="bad.zst"):
        load_metadata_files([tmp_path / "bad.zst"])
    (tmp_path / "odd.jsonl").write_bytes(read_lines(OKX)[0] + b"\n{}\n")
    with pytest.raises(ParseError, match=r"odd.jsonl line 2: not an instrument list"):
        load_metadata_files([tmp_path / "odd.jsonl"])


@pytest.mark.corpus
def test_every_corpus_refdata_file_loads() -> None:
    root = corpus_dir()
    files = sorted(root.glob("*/*.refdata.jsonl.zst"))
    assert files
    for path in files:
        venue = path.parent.name
        metadata = load_metadata_files([path])
        assert metadata.count(venue) == len(metadata) > 0, path.name
        for line in read_lines(path):
            wrapper = json.loads(line)
            body = json.loads(wrapper["body"])
            items = body.get("symbols") or body.get("data") or body.get("result")
            for item in items:
                raw = item.get("symbol") or item.get("instId") or item.get("instrument_name")
                assert metadata.entry(venue, raw) is not None
