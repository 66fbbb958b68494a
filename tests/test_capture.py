"""Reading capture files: compression, stdin, meta pairing, receive times, refusing binary input."""

from __future__ import annotations

import gzip
import io
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from marketprism_fast.offline.capture import (
    FrameReader,
    check_readable,
    iter_bodies,
    iter_lines,
    meta_path_for,
    parse_recv_time,
)
from marketprism_fast.errors import InputError
from tests.helpers import corpus_dir, read_lines

SESSION = "deribit/deribit.cf_2021-04-17"


def corpus_file(suffix: str) -> Path:
    return corpus_dir() / f"{SESSION}.{suffix}"


def contract_ns(first_column: str) -> int:
    return int(Decimal(first_column) * 10**9)


def write(path: Path, lines: list[bytes], compression: str = "") -> Path:
    data = b"".join(line + b"\n" for line in lines)
    if compression == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    elif compression == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


class Ticks:
    """A wall clock for lines without a meta line: ``start``, ``start + 1``, ... ns."""

    def __init__(self, start: int = 1) -> None:
        self.now = start - 1

    def __call__(self) -> int:
        self.now += 1
        return self.now


# ---- reading --------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["", ".gz", ".zst"])
def test_plain_gz_and_zst_read_the_same_lines(tmp_path: Path, compression: str) -> None:
    frames = read_lines(corpus_file("frames.jsonl.zst"))
    path = write(tmp_path / f"x.frames.jsonl{compression}", frames, compression)
    assert list(iter_lines(str(path))) == frames


def test_zst_of_several_frames_is_read_across_frames(tmp_path: Path) -> None:
    frames = read_lines(corpus_file("frames.jsonl.zst"))
    half = len(frames) // 2
    c = zstandard.ZstdCompressor()
    data = c.compress(b"".join(f + b"\n" for f in frames[:half])) + c.compress(b"".join(f + b"\n" for f in frames[half:]))
    (tmp_path / "cat.jsonl.zst").write_bytes(data)
    assert list(iter_lines(str(tmp_path / "cat.jsonl.zst"))) == frames


def test_stdin_is_read_with_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = read_lines(corpus_file("frames.jsonl.zst"))[:20]
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(b"\n".join(frames) + b"\n")))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert list(iter_lines("-")) == frames


def test_empty_lines_and_carriage_returns_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a":1}\r\n\n{"b":2}')  # no newline at the end either
    assert list(iter_lines(str(path))) == [b'{"a":1}\r', b"", b'{"b":2}']


def test_missing_file_and_directory_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        check_readable(str(tmp_path / "absent.jsonl"))
    with pytest.raises(InputError, match="is a directory"):
        check_readable(str(tmp_path))


def _zst_corpus_bytes() -> bytes:
    return corpus_file("frames.jsonl.zst").read_bytes()


UNREADABLE = [
    ("image.jsonl", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
    ("latin1.jsonl", lambda: '{"s":"caf\u00e9"}\n'.encode("latin-1"), "invalid UTF-8"),
    # compressed content under a plain name: the message says how to fix it
    ("frames.jsonl", _zst_corpus_bytes, r"zstd-compressed: name it \*\.zst"),
    ("frames2.jsonl", lambda: gzip.compress(b'{"a":1}\n'), r"gzip-compressed: name it \*\.gz"),
    ("bad.jsonl.zst", lambda: b'{"not":"zstd"}\n', "not a readable zstd file"),
    ("bad.jsonl.gz", lambda: b'{"not":"gzip"}\n', "not a readable gzip file"),
]


@pytest.mark.parametrize("name, content, message", UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_binary_or_corrupt_content_is_refused(tmp_path: Path, name: str, content, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content())
    with pytest.raises(InputError, match=message):
        check_readable(str(path))


def test_truncated_zst_fails_while_reading_with_an_input_error(tmp_path: Path) -> None:
    whole = corpus_file("frames.jsonl.zst").read_bytes()
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="cut.jsonl.zst"):
        list(iter_lines(str(path)))


# ---- meta pairing and receive times ---------------------------------------------------------


def test_meta_pairs_with_the_frames_file(tmp_path: Path) -> None:
    for compression in ("", ".gz", ".zst"):
        frames = tmp_path / f"s{compression or 'plain'}.frames.jsonl{compression}"
        meta = tmp_path / f"s{compression or 'plain'}.frames.meta.tsv{compression}"
        frames.touch()
        meta.touch()
        assert meta_path_for(str(frames)) == str(meta)


def test_meta_may_be_compressed_differently_and_same_compression_wins(tmp_path: Path) -> None:
    frames = tmp_path / "a.frames.jsonl.gz"
    frames.touch()
    (tmp_path / "a.frames.meta.tsv.zst").touch()
    assert meta_path_for(str(frames)) == str(tmp_path / "a.frames.meta.tsv.zst")
    (tmp_path / "a.frames.meta.tsv.gz").touch()
    assert meta_path_for(str(frames)) == str(tmp_path / "a.frames.meta.tsv.gz")


def test_no_meta_for_stdin_other_names_or_absent_files(tmp_path: Path) -> None:
    assert meta_path_for("-") is None
    (tmp_path / "a.txt").touch()
    (tmp_path / "a.meta.tsv").touch()
    assert meta_path_for(str(tmp_path / "a.txt")) is None
    assert meta_path_for(str(tmp_path / "b.frames.jsonl")) is None


def test_corpus_meta_times_follow_the_contract_formula() -> None:
    for meta in ("frames.meta.tsv.zst", "snapshots.meta.tsv.zst"):
        for path in sorted(corpus_dir().glob(f"*/*.{meta}"))[:6]:
            for line in read_lines(path):
                first = line.split(b"\t")[0].decode()
                assert parse_recv_time(line) == contract_ns(first), (path.name, first)


@given(
    whole=st.integers(min_value=0, max_value=10**12),
    frac=st.text(alphabet="0123456789", max_size=30),
    exponent=st.sampled_from(["", "e0", "E-3", "e+2"]),
)
def test_recv_time_equals_the_decimal_formula(whole: int, frac: str, exponent: str) -> None:
    text = f"{whole}.{frac}{exponent}" if frac else f"{whole}{exponent}"
    assert parse_recv_time(text.encode() + b"\tconn") == contract_ns(text)


@pytest.mark.parametrize("bad", [b"", b"abc\tx", b"nan", b"1.5.6", b"Infinity"])
def test_meta_line_that_is_not_a_time_is_an_input_error(bad: bytes) -> None:
    with pytest.raises(InputError, match="not a receive time"):
        parse_recv_time(bad)


def test_frames_take_their_meta_times(tmp_path: Path) -> None:
    frames = read_lines(corpus_file("frames.jsonl.zst"))
    meta = read_lines(corpus_file("frames.meta.tsv.zst"))
    write(tmp_path / "s.frames.jsonl.gz", frames, ".gz")
    write(tmp_path / "s.frames.meta.tsv", meta)
    reader = FrameReader([str(tmp_path / "s.frames.jsonl.gz")], clock=Ticks())
    got = list(reader)
    assert [f for f, _ in got] == frames
    assert [t for _, t in got] == [contract_ns(m.split(b"\t")[0].decode()) for m in meta]
    assert (reader.stats.timed_by_meta, reader.stats.timed_by_clock, reader.stats.warnings) == (len(frames), 0, [])


def test_lines_beyond_the_meta_end_are_timed_at_reading(tmp_path: Path) -> None:
    frames = read_lines(corpus_file("frames.jsonl.zst"))[:10]
    meta = read_lines(corpus_file("frames.meta.tsv.zst"))[:6]
    write(tmp_path / "s.frames.jsonl", frames)
    write(tmp_path / "s.frames.meta.tsv", meta)
    reader = FrameReader([str(tmp_path / "s.frames.jsonl")], clock=Ticks())
    times = [t for _, t in reader]
    assert times[:6] == [contract_ns(m.split(b"\t")[0].decode()) for m in meta]
    assert times[6:] == [1, 2, 3, 4]
    assert reader.stats.timed_by_clock == 4
    assert len(reader.stats.warnings) == 1 and "timed at reading" in reader.stats.warnings[0]


def test_a_longer_meta_file_is_reported(tmp_path: Path) -> None:
    frames = read_lines(corpus_file("frames.jsonl.zst"))[:5]
    meta = read_lines(corpus_file("frames.meta.tsv.zst"))[:8]
    write(tmp_path / "s.frames.jsonl", frames)
    write(tmp_path / "s.frames.meta.tsv", meta)
    reader = FrameReader([str(tmp_path / "s.frames.jsonl")])
    assert len(list(reader)) == 5
    assert reader.stats.warnings == [f"{tmp_path / 's.frames.meta.tsv'} has 3 more line(s) than {tmp_path / 's.frames.jsonl'}; they were ignored"]


def test_several_files_are_one_stream_each_with_its_own_meta(tmp_path: Path) -> None:
    frames = read_lines(corpus_file("frames.jsonl.zst"))
    meta = read_lines(corpus_file("frames.meta.tsv.zst"))
    write(tmp_path / "a.frames.jsonl", frames[:50])
    write(tmp_path / "a.frames.meta.tsv", meta[:50])
    write(tmp_path / "b.frames.jsonl.zst", frames[50:], ".zst")
    write(tmp_path / "b.frames.meta.tsv.gz", meta[50:], ".gz")
    reader = FrameReader([str(tmp_path / "a.frames.jsonl"), str(tmp_path / "b.frames.jsonl.zst")])
    got = list(reader)
    assert [f for f, _ in got] == frames
    assert [t for _, t in got] == [contract_ns(m.split(b"\t")[0].decode()) for m in meta]
    assert reader.stats.files == 2


def test_a_bad_meta_line_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path / "s.frames.jsonl", [b"{}", b"{}"])
    write(tmp_path / "s.frames.meta.tsv", [b"1618677372.5\tc", b"yesterday\tc"])
    with pytest.raises(InputError, match=r"s\.frames\.meta\.tsv line 2"):
        list(FrameReader([str(tmp_path / "s.frames.jsonl")]))


def test_bodies_carry_receive_time_and_url() -> None:
    path = corpus_dir() / "binance_spot" / "binance_spot.cf_2021-10-11.snapshots.jsonl.zst"
    meta = read_lines(corpus_dir() / "binance_spot" / "binance_spot.cf_2021-10-11.snapshots.meta.tsv.zst")
    bodies = list(iter_bodies(str(path)))
    assert [b.body for b in bodies] == read_lines(path)
    assert [b.ts_recv for b in bodies] == [contract_ns(m.split(b"\t")[0].decode()) for m in meta]
    assert bodies[0].note.startswith("https://") and "symbol=NKNUSDT" in bodies[0].note
    assert [b.line for b in bodies] == [1, 2, 3, 4]


def test_bodies_without_meta_have_no_receive_time(tmp_path: Path) -> None:
    path = write(tmp_path / "snaps.jsonl", [b'{"lastUpdateId":1,"bids":[],"asks":[]}'])
    (body,) = iter_bodies(str(path))
    assert (body.ts_recv, body.note) == (None, "")
