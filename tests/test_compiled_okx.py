"""The compiled OKX parser against the reference parser (the oracle), frame for frame.

Every corpus frame goes through both parsers: same status per frame, same stats, and the same
records, every column (hidden ``price_text``/``amount_text`` too) compared exactly (floats bit
for bit, NaN equal to NaN). Damaged frames (every prefix of real frames; random byte edits)
must never raise, never leave a row behind unless the frame parsed, and whenever orjson calls
the text invalid JSON, must be malformed. The helpers here serve test_compiled_deribit.py too.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import compiled_available, make_parser
from marketprism_fast.parser import FrameStatus, Parser
from marketprism_fast.refdata import load_metadata_files
from marketprism_fast.symbols import SymbolMetadata
from tests.helpers import CORPUS, corpus_dir, read_lines

VENUE = "okx"
TS = 1_650_000_000_000_000_000
DAMAGE = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TRUNCATED_FRAMES_MAX_BYTES = 1500

pytestmark = pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built")


# ---- shared machinery (test_compiled_deribit.py imports these) ---------------------------------


def sessions(venue: str) -> list[str]:
    """Session names of a venue in the corpus (empty when the corpus is absent)."""
    if not (CORPUS / "README.md").exists():
        return []
    suffix = ".frames.jsonl.zst"
    return sorted(p.name[len(venue) + 1 : -len(suffix)] for p in (CORPUS / venue).glob(f"{venue}.*{suffix}"))


def session_params(venue: str) -> list:
    found = sessions(venue)
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    return found


@cache
def session_data(venue: str, session: str) -> tuple[tuple[bytes, ...], tuple[int, ...], SymbolMetadata]:
    """Frames, their receive times (ns) and the session's reference data."""
    root = corpus_dir() / venue
    frames = tuple(read_lines(root / f"{venue}.{session}.frames.jsonl.zst"))
    meta = read_lines(root / f"{venue}.{session}.frames.meta.tsv.zst")
    ts = tuple(int(Decimal(line.split(b"\t")[0].decode()) * 10**9) for line in meta)
    assert len(ts) == len(frames)
    metadata = load_metadata_files(sorted(root.glob(f"{venue}.{session}.refdata.jsonl.zst")))
    return frames, ts, metadata


def new_parser(
    venue: str, implementation: str, metadata: SymbolMetadata | None = None, *, book_markers: bool = False
) -> Parser:
    registry = InstrumentRegistry(venue, metadata)
    # small buffers: most of these parsers see a frame or two (they grow when a frame needs it)
    return make_parser(venue, registry, implementation=implementation, book_markers=book_markers, capacity=256)


Columns = dict[str, dict[str, np.ndarray]]


def replay(parser: Parser, frames, ts_recvs) -> tuple[list[int], Columns]:
    """Per-frame statuses, then every record taken, per kind and column (hidden texts too)."""
    statuses = [int(parser.feed(frame, ts)) for frame, ts in zip(frames, ts_recvs)]
    parts: dict[str, dict[str, list[np.ndarray]]] = {}
    for batch in parser.take():
        names = (*batch.kind.column_names, "frame", *batch.kind.hidden_text)
        columns = parts.setdefault(batch.kind.name, {})
        for name in names:
            columns.setdefault(name, []).append(np.asarray(batch.column(name)))
    return statuses, {k: {c: np.concatenate(v) for c, v in cols.items()} for k, cols in parts.items()}


def column_difference(name: str, got: np.ndarray, want: np.ndarray) -> str | None:
    """None when equal: floats bit for bit (NaN equal to NaN), everything else by value."""
    if len(got) != len(want):
        return f"{name}: {len(got)} rows, reference {len(want)}"
    if want.dtype.kind == "f":
        got_f, want_f = got.astype(np.float64), want.astype(np.float64)
        same = (got_f.view(np.uint64) == want_f.view(np.uint64)) | (np.isnan(got_f) & np.isnan(want_f))
    else:
        same = np.array([a == b for a, b in zip(got.tolist(), want.tolist())], dtype=bool)
    if same.all():
        return None
    row = int(np.argmin(same))
    return f"{name}: row {row}: {got[row]!r}, reference {want[row]!r}"


def differences(got: Columns, want: Columns) -> list[str]:
    problems = []
    if set(got) != set(want):
        problems.append(f"kinds {sorted(got)}, reference {sorted(want)}")
    for kind_name in sorted(set(got) & set(want)):
        for name, expected in want[kind_name].items():
            problem = column_difference(f"{kind_name}.{name}", got[kind_name][name], expected)
            if problem:
                problems.append(problem)
    return problems


def assert_same_as_reference(
    venue: str, frames, ts_recvs, metadata: SymbolMetadata | None = None, *, book_markers: bool = False
) -> dict:
    """Both implementations over the same frames: statuses, stats and records (and book
    marker rows, when asked for) equal."""
    compiled = new_parser(venue, "compiled", metadata, book_markers=book_markers)
    reference = new_parser(venue, "reference", metadata, book_markers=book_markers)
    got_status, got = replay(compiled, frames, ts_recvs)
    want_status, want = replay(reference, frames, ts_recvs)
    mismatched = [i for i, (a, b) in enumerate(zip(got_status, want_status)) if a != b]
    assert not mismatched, (
        f"{len(mismatched)} frames differ in status; first: frame {mismatched[0]} compiled "
        f"{got_status[mismatched[0]]}, reference {want_status[mismatched[0]]}: {frames[mismatched[0]][:300]!r}"
    )
    assert compiled.stats() == reference.stats()
    problems = differences(got, want)
    assert not problems, "\n".join(problems[:20])
    return compiled.stats()


@cache
def data_frames(venue: str, per_session: int = 400) -> tuple[bytes, ...]:
    """Frames the reference parser turns into records (the first ones of each session)."""
    found = []
    for session in sessions(venue):
        frames, _, _ = session_data(venue, session)
        parser = new_parser(venue, "reference")
        for frame in frames[:per_session]:
            if parser.feed(frame, TS) == FrameStatus.PARSED and parser.take():
                found.append(frame)
    if not found:
        pytest.skip(f"corpus not found at {CORPUS}")
    return tuple(found)


def feed_one(venue: str, implementation: str, frame: bytes) -> tuple[int, int, dict]:
    """(status, rows taken, stats) of one frame fed to a fresh parser."""
    parser = new_parser(venue, implementation)
    status = int(parser.feed(frame, TS))
    return status, sum(len(b) for b in parser.take()), parser.stats()


def is_json(frame: bytes) -> bool:
    try:
        orjson.loads(frame)
    except orjson.JSONDecodeError:
        return False
    return True


def assert_every_prefix_malformed(venue: str, frames) -> int:
    parser = new_parser(venue, "compiled")
    checked = 0
    for frame in frames:
        for cut in range(len(frame)):
            assert parser.feed(frame[:cut], TS) == FrameStatus.MALFORMED, frame[:cut]
            checked += 1
    assert not parser.take()
    stats = parser.stats()
    assert stats["malformed"] == checked and sum(stats["records"].values()) == 0
    return checked


def damaged(data: st.DataObject, frame: bytes) -> bytes:
    """One to three random byte replacements, deletions or insertions."""
    out = bytearray(frame)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        at = data.draw(st.integers(0, max(len(out) - 1, 0)), label="at")
        byte = data.draw(st.integers(0, 255), label="byte")
        edit = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="edit")
        if edit == "replace" and out:
            out[at] = byte
        elif edit == "delete" and out:
            del out[at]
        else:
            out.insert(at, byte)
    return bytes(out)


def assert_damage_handled_like_reference(venue: str, frame: bytes) -> None:
    """Never raises; malformed whenever orjson rejects the text; else exactly the reference."""
    status, rows, stats = feed_one(venue, "compiled", frame)
    assert stats["frames"] == 1 and rows == sum(stats["records"].values())
    if not is_json(frame) and frame != b"pong":
        assert status == FrameStatus.MALFORMED and rows == 0, frame
    assert_same_as_reference(venue, [frame], [TS], book_markers=True)


class CompiledParity:
    """The corpus and damage checks of a venue's compiled parser (subclassed per venue)."""

    venue: str
    extra_frames: tuple[bytes, ...] = ()  # documented message types the corpus lacks
    valid_frames: tuple[bytes, ...] = ()  # documented and unusual but valid frames
    invalid_frames: tuple[bytes, ...] = ()  # bad values and invalid JSON: malformed

    @pytest.mark.parametrize("book_markers", [False, True], ids=["records", "with-markers"])
    def test_documented_and_unusual_valid_frames_match_the_reference(self, valid_frame: bytes, book_markers: bool) -> None:
        assert is_json(valid_frame) or valid_frame == b"pong"
        stats = assert_same_as_reference(self.venue, [valid_frame], [TS], book_markers=book_markers)
        assert stats["malformed"] == 0

    def test_invalid_values_and_invalid_json_are_malformed(self, invalid_frame: bytes) -> None:
        status, rows, _ = feed_one(self.venue, "compiled", invalid_frame)
        assert status == FrameStatus.MALFORMED and rows == 0
        assert_same_as_reference(self.venue, [invalid_frame], [TS])

    @pytest.mark.corpus
    @pytest.mark.parametrize("book_markers", [False, True], ids=["records", "with-markers"])
    def test_every_corpus_frame_parses_as_the_reference_does(self, session: str, book_markers: bool) -> None:
        frames, ts, metadata = session_data(self.venue, session)
        stats = assert_same_as_reference(self.venue, frames, ts, metadata, book_markers=book_markers)
        assert stats["parsed"] > 0 and stats["records"]["book_delta"] > 0

    @pytest.mark.corpus
    def test_without_metadata_symbols_come_out_as_the_reference_names_them(self, session: str) -> None:
        frames, ts, _ = session_data(self.venue, session)
        assert_same_as_reference(self.venue, frames[:600], ts[:600])

    @pytest.mark.corpus
    def test_every_prefix_of_real_frames_is_malformed_and_writes_nothing(self) -> None:
        frames = [f for f in data_frames(self.venue, 200) if len(f) <= TRUNCATED_FRAMES_MAX_BYTES][::5]
        assert assert_every_prefix_malformed(self.venue, frames) > 1000

    @pytest.mark.corpus
    def test_a_damaged_frame_is_handled_exactly_as_the_reference_handles_it(self) -> None:
        venue, frames = self.venue, data_frames(self.venue) + self.extra_frames

        @DAMAGE
        @given(data=st.data())
        def damaged_like_reference(data: st.DataObject) -> None:  # one function per venue
            assert_damage_handled_like_reference(venue, damaged(data, data.draw(st.sampled_from(frames))))

        damaged_like_reference()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``session``: every corpus session of the test class's venue; ``valid_frame`` and
    ``invalid_frame``: its tables."""
    if "session" in metafunc.fixturenames:
        metafunc.parametrize("session", session_params(metafunc.cls.venue))
    for name in ("valid_frame", "invalid_frame"):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, getattr(metafunc.cls, f"{name}s"))


# ---- OKX ------------------------------------------------------------------------------------------


TRADE = (
    b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
    b'"tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897"}]}'
)
BOOK = (
    b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":'
    b'[["42220.1","0.5","0","2"]],"bids":[["42219.9","1.25","0","3"],["42219.8","0","0","0"]],'
    b'"ts":"1630048897897","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}'
)


VALID = (
    TRADE,
    BOOK,
    # JSON the fast paths do not expect: whitespace, reordered members, escapes, UTF-8
    b'{ "data" : [ {"tradeId":"1","px":"1.5","sz":"2","side":"sell","ts":"1"} ] ,'
    b' "arg" : {"instId":"ETH-USDT","channel":"trades"} }',
    TRADE.replace(b'"130639474"', b'"13\\u00e9x\\n"').replace(b'"buy"', b'"b\\u0075y"'),
    TRADE.replace(b'"130639474"', "\"é🙂\"".encode()),
    TRADE.replace(b'"px":"42219.9"', b'"px":"4.22199e4"'),
    TRADE.replace(b'"BTC-USDT"}]', b'"BTC-USDT","count":[1,{"a":null}]}]'),
    TRADE.replace(b"}]}", b"},{\"tradeId\":\"2\",\"px\":\"1\",\"sz\":\"1\",\"side\":\"sell\",\"ts\":\"2\"}]}"),
    BOOK.replace(b'"prevSeqId":-1', b'"prevSeqId":-1.0'),
    BOOK.replace(b'"prevSeqId":-1', b'"prevSeqId":-1e0'),
    BOOK.replace(b'"prevSeqId":-1', b'"prevSeqId":null'),
    BOOK.replace(b'"checksum":-855196043,', b""),
    # one-digit negative checksums are integers (only -0 is not)
    *(BOOK.replace(b'"checksum":-855196043', b'"checksum":-%d' % d) for d in (1, 5, 9)),
    BOOK.replace(b'"checksum":-855196043', b'"checksum":0'),
    BOOK.replace(b'"0","2"]', b'"0","2",{"x":[1]}]'),  # a level holding a container
    BOOK.replace(b'"0","2"]', b'"0","2",7,"x"]'),  # more elements than captured
    BOOK.replace(b'"channel":"books"', b'"channel":"books5"').replace(b'"action":"update",', b""),
    BOOK.replace(b'"channel":"books"', b'"channel":"bbo-tbt"'),
    BOOK.replace(b'"channel":"books"', b'"channel":"bbo-tbt"').replace(b'[["42220.1","0.5","0","2"]]', b"[]"),
    BOOK.replace(b'"channel":"books"', b'"channel":"books-l2-tbt"').replace(b'"action":"update"', b'"action":"snapshot"'),
    BOOK.replace(b'[["42220.1","0.5","0","2"]]', b"[]").replace(
        b'[["42219.9","1.25","0","3"],["42219.8","0","0","0"]]', b"[ ]"
    ),  # nothing changed: a marker row when asked for
    BOOK.replace(b'"channel":"books"', b'"channel":"mark-price"'),
    BOOK.replace(b'"channel":"books"', b'"channel":"not-a-channel"'),
    b'{"event":"error","code":"60012","msg":"Invalid request"}',
    b'{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"}}',
    b"pong",
)


TICKER = (
    b'{"arg":{"channel":"tickers","instId":"BTC-USD-SWAP"},"data":[{"instType":"SWAP",'
    b'"instId":"BTC-USD-SWAP","last":"9999.99","lastSz":"0.1","askPx":"9999.99","askSz":"11",'
    b'"bidPx":"8888.88","bidSz":"5","open24h":"9000","high24h":"10000","low24h":"8888.88",'
    b'"volCcy24h":"2222","vol24h":"2222","sodUtc0":"2222","sodUtc8":"2222","ts":"1597026383085"}]}'
)


OTHER_CHANNELS = (
    TICKER,
    TICKER.replace(b'"instType":"SWAP",', b""),  # no instType: the id's shape decides
    TICKER.replace(b'"instType":"SWAP"', b'"instType":""'),
    TICKER.replace(b'"instType":"SWAP"', b'"instType":"MARGIN"'),
    TICKER.replace(b'"instType":"SWAP"', b'"instType":0'),
    TICKER.replace(b'"vol24h":"2222"', b'"vol24h":5'),  # not read for derivatives
    TICKER.replace(b'"bidPx":"8888.88"', b'"bidPx":""'),
    b'{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1597026383085","8533.02",'
    b'"8553.74","8527.17","8548.26","45247","529.5858061","5062.5","0"]]}',
    b'{"arg":{"channel":"candle1H","instId":"BTC-USD-SWAP"},"data":[["1597026383085","1","2",'
    b'"0.5","1.5","10","0.1"],["1597026443085","1","2","0.5","1.5","10","0.1","2","1"]]}',
    b'{"arg":{"channel":"funding-rate","instId":"BTC-USD-SWAP"},"data":[{"fundingRate":"0.0001",'
    b'"fundingTime":"1703059200000","instId":"BTC-USD-SWAP","nextFundingRate":"","ts":""}]}',
    b'{"arg":{"channel":"open-interest","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP",'
    b'"oi":"5000","oiCcy":"555.55","oiUsd":"50000","ts":"1597026383085"}]}',
    b'{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"instId":"BTC-USDT-SWAP",'
    b'"details":[{"bkPx":"0.02","side":"sell","sz":"1","ts":"1"},{"bkPx":"3","side":"buy","sz":"2",'
    b'"ts":"2"}]},{"instId":"ETH-USDT-SWAP","details":[]}]}',
)


INVALID = (
    TRADE.replace(b'"side":"buy"', b'"side":"b\x01y"'),  # a control character in a string
    TRADE.replace(b'"side":"buy"', b'"side":"b\\qy"'),  # an invalid escape
    TRADE.replace(b'"side":"buy"', b'"side":"b\\ud800y"'),  # a lone surrogate
    TRADE.replace(b'"side":"buy"', b'"side":"b\xffy"'),  # not UTF-8
    TRADE.replace(b'"side":"buy"', b'"side":"buy","n":1-2'),  # number grammar, unread field
    TRADE.replace(b'"side":"buy"', b'"side":"buy","n":[01]'),
    TRADE.replace(b'"side":"buy"', b'"side":"buy","n":{"m":+1}'),
    TRADE.replace(b'"side":"buy"', b'"side":"buy","n":1e400'),  # beyond the double range
    TRADE.replace(b'"sz":"0.12060306"', b'"sz":"1e400"'),  # a decimal text beyond double: no size a venue sends
    BOOK.replace(b'"0","2"]', b'"0",2.]'),  # in a level element nobody converts
    BOOK.replace(b'"0","2"]', b'"0","2",1.5.1]'),  # beyond the captured width
    BOOK.replace(b'"0","2"]', b'"0","2",]'),
    BOOK.replace(b'"0","2"]', b'"0","2",7,]'),
    BOOK.replace(b'"0","2"]', b'"0",]'),
    BOOK.replace(b'["42219.8","0","0","0"]', b'[2.]'),
    BOOK.replace(b'"checksum":', b'"checksum\\":'),  # an escaped quote: the string never ends
    BOOK.replace(b'"checksum":-855196043', b'"checksum":-0'),  # -0 decodes to a float
    BOOK.replace(b'"checksum":-855196043', b'"checksum":2147483648'),
    BOOK.replace(b'"seqId":123456', b'"seqId":"123456"'),
    BOOK.replace(b'"ts":"1630048897897"', b'"ts":"01630048897897"'),
    BOOK.replace(b'"action":"update"', b'"action":"partial"'),
    BOOK.replace(b'"42219.8"', b'"42219.8e"'),
    BOOK.replace(b'"42219.8"', b"42219.8"),  # a level price must be a text
    TRADE.replace(b'"px":"42219.9"', b'"px":" 42219.9"'),
    TRADE + b" x",
    b'{"event":"subscribe","arg":{"channel":"trades"},"x":[1,]}',
    TICKER.replace(b'"instType":"SWAP"', b'"instType":"SPOT"').replace(b'"vol24h":"2222"', b'"vol24h":5'),
    b'{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1597026383085","1","2","0.5",'
    b'"1.5","10","0.1","2","2"]]}',  # confirm is "0" or "1"
)


class TestOkx(CompiledParity):
    venue = VENUE
    extra_frames = OTHER_CHANNELS
    valid_frames = VALID + OTHER_CHANNELS
    invalid_frames = INVALID


def test_rest_open_interest_body_matches_the_reference() -> None:
    bodies = [
        b'{"code":"0","msg":"","data":[{"instType":"SWAP","instId":"BTC-USDT-SWAP","oi":"5000",'
        b'"oiCcy":"555.55","oiUsd":"50000","ts":"1597026383085"}]}',
        b'{"code":"50011","msg":"Too Many Requests","data":[]}',
        b'{"code":"0","data":[{"oi":"1","ts":"1"}]}',
    ]
    compiled, reference = new_parser(VENUE, "compiled"), new_parser(VENUE, "reference")
    got = [int(compiled.feed_open_interest(body, TS)) for body in bodies]
    want = [int(reference.feed_open_interest(body, TS)) for body in bodies]
    assert got == want == [FrameStatus.PARSED, FrameStatus.MALFORMED, FrameStatus.MALFORMED]
    assert not differences(replay(compiled, [], [])[1], replay(reference, [], [])[1])
    assert compiled.stats() == reference.stats()


def test_a_new_instrument_is_resolved_once_and_reused() -> None:
    registry = InstrumentRegistry(VENUE)
    parser = make_parser(VENUE, registry, implementation="compiled")
    parser.feed(TRADE, TS)
    parser.feed(BOOK, TS)
    parser.feed(TRADE.replace(b"BTC-USDT", b"ETH-USDT"), TS)
    assert len(registry) == 2
    (trades,) = [b for b in parser.take() if b.kind.name == "trade"]
    assert trades.column("symbol").tolist() == ["BTC-USDT", "ETH-USDT"]


# A ticker as OKX sends it (members in its order, a 17-digit volCcy24h): the one-pass reader
# (ticker_fast) takes it; every variant below leaves that reader for the general path, or takes
# it with other values. Each must decode as the reference does, and a variant that only moves
# members must give the very records of the original (fast path against general path).
OKX_ORDER_TICKER = (
    b'{"arg":{"channel":"tickers","instId":"ZEN-USDT"},"data":[{"instType":"SPOT","instId":"ZEN-USDT",'
    b'"last":"32.49","lastSz":"0.389464","askPx":"32.51","askSz":"1.162404","bidPx":"32.47",'
    b'"bidSz":"0.330857","open24h":"33.34","high24h":"35.26","low24h":"31.91","sodUtc0":"33.36",'
    b'"sodUtc8":"34.26","volCcy24h":"525802090.62716611","vol24h":"44403.764157","ts":"1646003697243"}]}'
)
SAME_TICKER = (
    OKX_ORDER_TICKER,
    OKX_ORDER_TICKER.replace(b'"instType":"SPOT",', b"").replace(b'"ts"', b'"instType":"SPOT","ts"'),
    OKX_ORDER_TICKER.replace(b'"last":"32.49",', b"").replace(b'"ts"', b'"last":"32.49","ts"'),
    OKX_ORDER_TICKER.replace(b'"sodUtc0":"33.36",', b""),  # not read
    OKX_ORDER_TICKER.replace(b'"ts"', b'"extra":"1","ts"'),
    OKX_ORDER_TICKER.replace(b'"ts"', b'"extra":[1],"ts"'),
    OKX_ORDER_TICKER.replace(b'"askPx"', b'"ask\\u0050x"'),  # an escaped name
    OKX_ORDER_TICKER.replace(b'"32.51"', b'"3\\u0032.51"'),  # an escaped value
    OKX_ORDER_TICKER.replace(b'"last":', b'"last" : '),
)
OTHER_TICKER = (
    OKX_ORDER_TICKER.replace(b'"instType":"SPOT"', b'"instType":"SWAP"'),  # vol24h not read
    OKX_ORDER_TICKER.replace(b'"instType":"SPOT"', b'"instType":"SWAP"').replace(b'"44403.764157"', b'"x"'),
    OKX_ORDER_TICKER.replace(b'"instType":"SPOT"', b'"instType":"MARGIN"'),
    OKX_ORDER_TICKER.replace(b'"instType":"SPOT"', b'"instType":""'),
    OKX_ORDER_TICKER.replace(b'"32.47"', b'""'),
    OKX_ORDER_TICKER.replace(b'"32.47"', b'"3.247e1"'),
    OKX_ORDER_TICKER.replace(b'"32.47"', b'"1e400"'),  # malformed
    OKX_ORDER_TICKER.replace(b'"32.47"', b"32.47"),  # malformed
    OKX_ORDER_TICKER.replace(b'"1646003697243"', b'"-1"'),  # malformed
    OKX_ORDER_TICKER.replace(b'"instId":"ZEN-USDT",', b""),  # the arg's instId
    OKX_ORDER_TICKER.replace(b'"instId":"ZEN-USDT",', b'"instId":"",'),  # malformed
    OKX_ORDER_TICKER.replace(b'"last":"32.49"', b'"last":"32.49","last":"1"'),  # the last one counts
    OKX_ORDER_TICKER.replace(b"}]}", b"},{\"instId\":\"ETH-USDT\",\"last\":\"1\",\"ts\":\"2\"}]}"),
)


@pytest.mark.parametrize("frame", SAME_TICKER + OTHER_TICKER)
def test_a_ticker_decodes_as_the_reference_whatever_its_member_order(frame: bytes) -> None:
    assert_same_as_reference(VENUE, [frame], [TS])


@pytest.mark.parametrize("frame", SAME_TICKER[1:])
def test_a_ticker_off_the_one_pass_reader_gives_the_same_records(frame: bytes) -> None:
    assert feed_one(VENUE, "compiled", frame)[0] == FrameStatus.PARSED
    got = replay(new_parser(VENUE, "compiled"), [frame], [TS])[1]
    want = replay(new_parser(VENUE, "compiled"), [OKX_ORDER_TICKER], [TS])[1]
    assert not differences(got, want)
