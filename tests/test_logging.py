"""Malformed-frame log lines (marketprism_fast/log.py): the first few of each source are
logged with their reason and an excerpt, then at most one line per interval, which reports
how many lines were suppressed since the last one; every source has its own budget.

The sampler reads the time through its module's ``time``; a stand-in clock there makes the
rate limit testable without sleeping. The parser tests feed real corpus frames, damaged.
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import types

import pytest

from marketprism_fast import log as log_module
from marketprism_fast.log import MalformedSampler
from marketprism_fast.parser import compiled_available, make_parser
from marketprism_fast.parser import FrameStatus
from tests.helpers import corpus_dir, read_lines

DEFAULTS = inspect.signature(MalformedSampler).parameters
BURST = DEFAULTS["burst"].default  # what every parser's sampler uses
INTERVAL = DEFAULTS["interval"].default
SUPPRESSED = re.compile(r"\((\d+) more suppressed\)$")
EXCERPT = re.compile(r"excerpt (b'.*'|b\".*\")")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(log_module, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="marketprism_fast")
    return caplog


def malformed_lines(caplog: pytest.LogCaptureFixture, source: str) -> list[str]:
    """Lines of one source (a venue; the reference parsers add "(reference parser)")."""
    own = re.compile(rf"{re.escape(source)}( \(reference parser\))?: malformed frame")
    return [r.getMessage() for r in caplog.records if own.match(r.getMessage())]


def suppressed(line: str) -> int:
    found = SUPPRESSED.search(line)
    return int(found.group(1)) if found else 0


def excerpt_of(line: str) -> bytes:
    found = EXCERPT.search(SUPPRESSED.sub("", line).rstrip())
    assert found, f"no excerpt in {line!r}"
    return ast.literal_eval(found.group(1))


def accounted(lines: list[str]) -> int:
    """Reports a list of lines stands for: each line itself and the ones it says it suppressed."""
    return sum(1 + suppressed(line) for line in lines)


# ---------------------------------------------------------------- the sampler

def test_the_first_burst_is_logged_line_by_line_with_reason_and_excerpt(clock: Clock, warnings) -> None:
    sampler = MalformedSampler("okx", burst=3, interval=10.0)
    frames = [b'{"arg":1}', b'{"data":[', b"pong?"]
    for i, frame in enumerate(frames):
        sampler.report(f"reason {i}", frame)
    lines = malformed_lines(warnings, "okx")
    assert len(lines) == 3
    for i, (line, frame) in enumerate(zip(lines, frames)):
        assert f"reason {i}" in line and excerpt_of(line) == frame and suppressed(line) == 0
    assert all(r.levelno == logging.WARNING and r.name.startswith("marketprism_fast") for r in warnings.records)


def test_an_excerpt_is_the_start_of_the_frame_not_all_of_it(clock: Clock, warnings) -> None:
    frame = b'{"data":[' + b'["1.5","2"],' * 1000 + b"]"
    sampler = MalformedSampler("binance_spot")
    sampler.report("truncated frame", frame)
    sampler.report("truncated frame", memoryview(frame))
    sampler.report("truncated frame", frame.decode())
    lines = malformed_lines(warnings, "binance_spot")
    assert len(lines) == 3
    for line in lines:
        excerpt = excerpt_of(line)
        assert excerpt and frame.startswith(excerpt) and len(excerpt) <= 256
        assert len(line) < 512  # a line, not a dump of the frame


def test_a_known_position_is_reported(clock: Clock, warnings) -> None:
    MalformedSampler("deribit").report("bad number", b'{"price":1e}', position=10)
    (line,) = malformed_lines(warnings, "deribit")
    assert "at byte 10" in line


def test_after_the_burst_at_most_one_line_per_interval(clock: Clock, warnings) -> None:
    sampler = MalformedSampler("okx", burst=4, interval=10.0)
    logged_at: list[float] = []
    reports = 0
    for _ in range(120):  # 60 s of a feed gone bad: 20 malformed frames every 0.5 s
        for _ in range(20):
            before = len(malformed_lines(warnings, "okx"))
            sampler.report("JSON syntax error", b"{")
            reports += 1
            if len(malformed_lines(warnings, "okx")) > before:
                logged_at.append(clock.now)
        clock.now += 0.5
    after_burst = logged_at[4:]
    assert logged_at[:4] == [logged_at[0]] * 4  # the burst went out at once
    gaps = [b - a for a, b in zip(after_burst, after_burst[1:])]
    assert gaps and all(gap >= 10.0 for gap in gaps)
    # ... and the limit never silences a source for good: one line in every interval
    assert len(after_burst) >= 60 // 10
    lines = malformed_lines(warnings, "okx")
    assert len(lines) == len(logged_at)
    pending = reports - accounted(lines)  # suppressed since the last line, reported with the next
    assert 0 <= pending < 20 * 10 / 0.5


def test_every_suppressed_line_is_counted_in_the_next_line(clock: Clock, warnings) -> None:
    sampler = MalformedSampler("binance_usdm", burst=2, interval=5.0)
    for _ in range(37):
        sampler.report("bad number", b'{"p":"x"}')
    clock.now += 5.0
    sampler.report("bad number", b'{"p":"y"}')
    lines = malformed_lines(warnings, "binance_usdm")
    assert accounted(lines) == 38
    assert suppressed(lines[-1]) > 0 and excerpt_of(lines[-1]) == b'{"p":"y"}'


def test_each_source_has_its_own_budget(clock: Clock, warnings) -> None:
    flooded = MalformedSampler("binance_spot", burst=3, interval=10.0)
    quiet = MalformedSampler("okx", burst=3, interval=10.0)
    for _ in range(50):
        flooded.report("truncated frame", b"{")
    for _ in range(3):
        quiet.report("truncated frame", b"[")
    assert len(malformed_lines(warnings, "okx")) == 3
    assert 3 <= len(malformed_lines(warnings, "binance_spot")) <= 4


# ---------------------------------------------------------------- parsers

def first_data_frame(venue: str, session: str, marker: bytes) -> bytes:
    frames = read_lines(corpus_dir() / venue / f"{venue}.{session}.frames.jsonl.zst")
    return next(f for f in frames if marker in f)


# A real frame of each venue, longer than an excerpt, and the reason each damage must give.
REAL_FRAMES = [
    pytest.param("binance_spot", "cf_2021-10-11", b'"depthUpdate"', id="binance_spot-depth"),
    pytest.param("okx", "cf_2022-05-13", b'"action":"update"', id="okx-books"),
    pytest.param("deribit", "cf_2021-04-17", b'"channel":"ticker.', id="deribit-ticker"),
]
DAMAGE = [
    pytest.param(lambda f: f[:-1], "truncated frame", id="last-byte-cut"),
    pytest.param(lambda f: f + b"}", "JSON syntax error", id="trailing-brace"),
]


@pytest.mark.corpus
@pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built")
@pytest.mark.parametrize("damage,reason", DAMAGE)
@pytest.mark.parametrize("venue,session,marker", REAL_FRAMES)
def test_compiled_parser_logs_a_malformed_frame_with_reason_and_excerpt(
    venue: str, session: str, marker: bytes, damage, reason: str, clock: Clock, warnings
) -> None:
    from marketprism_fast._parse import ERROR_TEXT

    frame = damage(first_data_frame(venue, session, marker))
    parser = make_parser(venue, implementation="compiled")
    assert parser.feed(frame, 1) == FrameStatus.MALFORMED
    (line,) = malformed_lines(warnings, venue)
    assert reason in ERROR_TEXT and f"malformed frame: {reason};" in line
    excerpt = excerpt_of(line)
    assert len(excerpt) >= 100 and frame.startswith(excerpt) and len(excerpt) < len(frame)


def test_a_parser_flood_is_rate_limited_per_venue(implementation: str, clock: Clock, warnings) -> None:
    binance = make_parser("binance_spot", implementation=implementation)
    okx = make_parser("okx", implementation=implementation)
    frames = [b'{"e":"trade","E":1,"s":"BTCUSDT","t":' + str(i).encode() for i in range(3 * BURST)]
    assert {binance.feed(f, 1) for f in frames} == {FrameStatus.MALFORMED}
    assert okx.feed(b'{"arg":{"channel":"trades"', 1) == FrameStatus.MALFORMED
    flooded = malformed_lines(warnings, "binance_spot")
    assert BURST <= len(flooded) <= BURST + 1
    assert [excerpt_of(line) for line in flooded[:BURST]] == frames[:BURST]
    assert len(malformed_lines(warnings, "okx")) == 1  # its own budget, untouched by the flood
    clock.now += INTERVAL
    assert binance.feed(b"{", 2) == FrameStatus.MALFORMED
    flooded = malformed_lines(warnings, "binance_spot")
    assert accounted(flooded) == len(frames) + 1 and excerpt_of(flooded[-1]) == b"{"
    assert binance.stats()["malformed"] == len(frames) + 1  # the counter is exact whatever is logged
