"""Frames that carry no market data but matter to whoever runs the connection, through both
parser implementations: an OKX error event (a refused subscription must not pass silently)
and Deribit ``test_request`` heartbeats (the transport must answer each one, so it has to
learn of each as it arrives, from the parser's counter)."""

from __future__ import annotations

import logging

import pytest

from marketprism_fast.parser import make_parser
from marketprism_fast.parser import FrameStatus
from tests.helpers import FIXTURES, corpus_dir, read_lines

TS = 1_700_000_000_000_000_000

# ---------------------------------------------------------------- OKX error events

# Error events as OKX v5 sends them ("WebSocket / Overview": subscribe failures).
OKX_ERRORS = [
    pytest.param("60012", "Invalid request: op subscribe, argss", id="invalid-request"),
    pytest.param("60018", "Wrong URL or channel:books-l2-tbt,instId:BTC-XYZ doesn't exist", id="no-such-channel"),
]


@pytest.mark.parametrize("code,message", OKX_ERRORS)
def test_okx_error_event_is_skipped_as_error_event_and_logged(
    implementation: str, code: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    parser = make_parser("okx", implementation=implementation)
    frame = f'{{"event":"error","code":"{code}","msg":"{message}","connId":"a4d3ae55"}}'.encode()
    with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
        assert parser.feed(frame, TS) == FrameStatus.SKIPPED
    stats = parser.stats()
    assert stats["skipped"]["error_event"] == 1 and sum(stats["skipped"].values()) == 1
    assert (stats["parsed"], stats["malformed"]) == (0, 0) and parser.take() == []
    (record,) = [r for r in caplog.records if code in r.getMessage()]
    assert record.levelno == logging.WARNING and record.name.startswith("marketprism_fast")
    assert message in record.getMessage() and "okx" in record.getMessage()


# Error messages with JSON escapes (OKX echoes the request it refused; the texts of the venues'
# docs), one per venue: the log shows them decoded, as the venue meant them.
ESCAPED_ERRORS = [
    pytest.param(
        "okx",
        b'{"event":"error","code":"60012","msg":"Invalid request: {\\"op\\": \\"subscribe\\", \\"argss\\": [{ \\"channel\\" : \\"index-candle1D\\", \\"instId\\" : \\"BTC-USD\\"}]}"}',
        ("60012", 'Invalid request: {"op": "subscribe", "argss": [{ "channel" : "index-candle1D", "instId" : "BTC-USD"}]}'),
        id="okx",
    ),
    pytest.param(
        "deribit",
        b'{"jsonrpc":"2.0","id":8,"error":{"message":"bad \\"x\\" caf\\u00e9","code":-32602}}',
        ("-32602", 'bad "x" caf\u00e9'),
        id="deribit",
    ),
    pytest.param(
        "binance_spot",
        b'{"error":{"code":2,"msg":"Invalid request: unknown variant \\u0060SUBSCRIB\\u0060"},"id":1}',
        ("2", "Invalid request: unknown variant `SUBSCRIB`"),
        id="binance",
    ),
]


@pytest.mark.parametrize("venue,frame,expected", ESCAPED_ERRORS)
def test_error_messages_are_logged_decoded(
    implementation: str, venue: str, frame: bytes, expected: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    code, message = expected
    parser = make_parser(venue, implementation=implementation)
    with caplog.at_level(logging.WARNING, logger="marketprism_fast"):
        assert parser.feed(frame, TS) == FrameStatus.SKIPPED
    assert parser.stats()["skipped"]["error_event"] == 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"code {code}: {message}" in line and venue in line


@pytest.mark.corpus
def test_okx_error_event_does_not_disturb_the_frames_around_it(implementation: str) -> None:
    """In a real session, an error event in the middle changes nothing else the parser does."""
    frames = read_lines(corpus_dir() / "okx" / "okx.cf_2022-05-13.frames.jsonl.zst")
    error = b'{"event":"error","code":"60012","msg":"Invalid request","connId":"a4d3ae55"}'
    intact, mixed = (make_parser("okx", implementation=implementation) for _ in range(2))
    for frame in frames:
        intact.feed(frame, TS)
    half = len(frames) // 2
    for frame in frames[:half] + [error] + frames[half:]:
        mixed.feed(frame, TS)
    want, got = intact.stats(), mixed.stats()
    assert got["skipped"] == dict(want["skipped"], error_event=want["skipped"]["error_event"] + 1)
    assert (got["records"], got["parsed"], got["malformed"]) == (want["records"], want["parsed"], want["malformed"])


# ---------------------------------------------------------------- Deribit test_request

TEST_REQUEST = b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}'
HEARTBEAT = b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}'

# Other spellings of the same notification (member order, whitespace, an escape, an extra
# member): each is one test_request.
TEST_REQUEST_FORMS = [
    TEST_REQUEST,
    b'{"params":{"type":"test_request"},"method":"heartbeat","jsonrpc":"2.0"}',
    b' { "jsonrpc" : "2.0" , "method" : "heartbeat" , "params" : { "type" : "test_request" } } ',
    b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_\\u0072equest"}}',
    b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request","usIn":1700000021000101}}',
]
# Frames that mention test_request without being one, or are not whole.
NOT_TEST_REQUESTS = [
    HEARTBEAT,
    b'{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat","note":"test_request"}}',
    b'{"jsonrpc":"2.0","id":8212,"result":"test_request","usIn":1,"usOut":2,"usDiff":1}',
    TEST_REQUEST[:-1],
]


def counted(parser, frame: bytes) -> int:
    """How much one frame moves the test_request counter (what a transport polling it sees)."""
    before = parser.stats()["test_requests"]
    parser.feed(frame, TS)
    return parser.stats()["test_requests"] - before


@pytest.mark.parametrize("frame", TEST_REQUEST_FORMS)
def test_each_test_request_moves_the_counter_by_one(implementation: str, frame: bytes) -> None:
    parser = make_parser("deribit", implementation=implementation)
    assert [counted(parser, frame) for _ in range(3)] == [1, 1, 1]
    assert parser.stats()["skipped"]["heartbeat"] == 3 and parser.take() == []


@pytest.mark.parametrize("frame", NOT_TEST_REQUESTS)
def test_other_frames_leave_the_counter_alone(implementation: str, frame: bytes) -> None:
    parser = make_parser("deribit", implementation=implementation)
    assert counted(parser, frame) == 0


@pytest.mark.corpus
def test_test_requests_are_seen_as_they_arrive_in_a_real_stream(implementation: str) -> None:
    """A recorded session with heartbeats of both kinds spread through it (and the documented
    RPC/heartbeat fixture frames): after every frame, the counter has moved exactly when that
    frame was a test_request."""
    frames = list(read_lines(corpus_dir() / "deribit" / "deribit.cf_2021-04-17.frames.jsonl.zst"))
    frames += read_lines(FIXTURES / "deribit" / "rpc_and_heartbeats.frames.jsonl")
    stream: list[bytes] = []
    for i, frame in enumerate(frames):
        stream.append(frame)
        if i % 7 == 3:
            stream.append(TEST_REQUEST)
        if i % 5 == 1:
            stream.append(HEARTBEAT)
    parser = make_parser("deribit", implementation=implementation)
    moves = [counted(parser, frame) for frame in stream]
    assert moves == [int(b'"type":"test_request"' in frame) for frame in stream]
    expected = sum(moves)
    assert expected > 20 and parser.stats()["test_requests"] == expected
    assert parser.stats()["malformed"] == 0
