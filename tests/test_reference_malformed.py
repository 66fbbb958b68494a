"""Damaged real frames: the reference parsers never raise and never keep a row of a bad frame.

Frames are drawn from every corpus session. A truncated frame is never valid JSON, so it must
be counted malformed with no row. A frame with one byte changed, dropped or added may still be
valid (a digit changed in a price), so for those the invariant is: no exception, a known
status, and no row unless the frame parsed. A level text replaced by a non-decimal must spoil
the whole frame even though its other levels are fine.
"""

from __future__ import annotations

import math
import re
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from marketprism_fast.parser import FrameStatus
from marketprism_fast.records import VENUES
from marketprism_fast.parser import reference_parser as make_parser
from marketprism_fast.errors import ParseError
from marketprism_fast.reference.base import decode_json
from marketprism_fast.reference.fields import decimal_text_value, number_value
from tests.helpers import CORPUS, read_lines

TS = 1_650_000_000_000_000_000
FRAMES_PER_SESSION = 400
HYPOTHESIS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def sample_frames(venue: str) -> tuple[bytes, ...]:
    """The first frames of every session of ``venue`` that the parser accepts as data."""
    if not (CORPUS / "README.md").exists():
        pytest.skip(f"corpus not found at {CORPUS} (set MPF_CORPUS to its location)")
    parser = make_parser(venue)
    frames = []
    for path in sorted((CORPUS / venue).glob(f"{venue}.*.frames.jsonl.zst")):
        for frame in read_lines(path)[:FRAMES_PER_SESSION]:
            if parser.feed(frame, TS) == FrameStatus.PARSED and parser.take():
                frames.append(frame)
    return tuple(frames)


def feed_and_take(venue: str, frame: bytes) -> tuple[int, int, dict]:
    """(status, rows written, stats) of one frame fed to a fresh parser."""
    parser = make_parser(venue)
    status = parser.feed(frame, TS)
    rows = sum(len(b) for b in parser.take())
    return status, rows, parser.stats()


venues = st.sampled_from(VENUES)


@pytest.mark.corpus
@HYPOTHESIS
@given(venue=venues, data=st.data())
def test_a_truncated_frame_is_malformed_and_writes_nothing(venue: str, data: st.DataObject) -> None:
    frame = data.draw(st.sampled_from(sample_frames(venue)), label="frame")
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1), label="cut")
    status, rows, stats = feed_and_take(venue, frame[:cut])
    assert status == FrameStatus.MALFORMED
    assert rows == 0 and stats["malformed"] == 1 and sum(stats["records"].values()) == 0


@pytest.mark.corpus
@HYPOTHESIS
@given(venue=venues, data=st.data())
def test_a_corrupted_frame_never_raises_and_writes_only_if_parsed(venue: str, data: st.DataObject) -> None:
    frame = bytearray(data.draw(st.sampled_from(sample_frames(venue)), label="frame"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="edits")):
        at = data.draw(st.integers(min_value=0, max_value=max(len(frame) - 1, 0)), label="at")
        byte = data.draw(st.integers(min_value=0, max_value=255), label="byte")
        edit = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="edit")
        if edit == "replace" and frame:
            frame[at] = byte
        elif edit == "delete" and frame:
            del frame[at]
        else:
            frame.insert(at, byte)
    status, rows, stats = feed_and_take(venue, bytes(frame))
    assert status in (FrameStatus.PARSED, FrameStatus.SKIPPED, FrameStatus.MALFORMED)
    assert stats["frames"] == 1
    if status != FrameStatus.PARSED:
        assert rows == 0 and sum(stats["records"].values()) == 0
    assert rows == sum(stats["records"].values())


# A quoted decimal with a fraction: in these venues' book frames, always a level price or amount.
_QUOTED_DECIMAL = re.compile(rb'"(-?[0-9]+\.[0-9]+)"')


def _book_frames(venue: str) -> list[bytes]:
    marker = {"okx": b'"channel":"books', "deribit": b'"channel":"book.'}.get(venue, b'"depthUpdate"')
    return [f for f in sample_frames(venue) if marker in f]


@pytest.mark.corpus
@HYPOTHESIS
@given(
    venue=venues,
    data=st.data(),
    junk=st.sampled_from([b'"1.2.3"', b'""', b'"abc"', b'"NaN"', b'" 1.5"', b"null", b"true", b'"1e"', b"[1]"]),
)
def test_one_bad_level_spoils_the_whole_book_frame(venue: str, data: st.DataObject, junk: bytes) -> None:
    frames = _book_frames(venue)
    if venue == "deribit":  # numbers there are JSON numbers: spoil one level's amount token
        pattern = re.compile(rb'\["(?:new|change|delete)",[-0-9.eE+]+,([-0-9.eE+]+)\]')
    else:
        pattern = _QUOTED_DECIMAL
    frames = [f for f in frames if pattern.search(f)]
    frame = data.draw(st.sampled_from(frames), label="frame")
    spans = [m.span(1 if venue == "deribit" else 0) for m in pattern.finditer(frame)]
    start, end = data.draw(st.sampled_from(spans), label="level value")
    status, rows, _ = feed_and_take(venue, frame[:start] + junk + frame[end:])
    assert status == FrameStatus.MALFORMED
    assert rows == 0


_DECIMAL_TEXTS = st.from_regex(r"\A-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?\Z", fullmatch=True)


@HYPOTHESIS
@given(text=_DECIMAL_TEXTS)
def test_decimal_texts_and_json_number_tokens_both_give_float_of_the_text(text: str) -> None:
    expected = float(text)
    assert decimal_text_value(text, "t").hex() == expected.hex()
    token = f'{{"v":{text}}}'.encode()
    if math.isfinite(expected):
        assert number_value(decode_json(token)["v"], "t").hex() == expected.hex()
    else:  # a token beyond the double range is not accepted as JSON
        with pytest.raises(ParseError):
            decode_json(token)
