"""Reading capture files: received frames, one per line, with their receive times.

A capture is a text file with one item per line (a WS frame or a REST body) exactly as
received; ``.zst`` and ``.gz`` files are decompressed on the fly and ``-`` is standard
input. Files are streamed, never read whole: line by line (``iter_lines``), or in blocks of
whole lines (``iter_blocks``, ``FrameReader.blocks``) that the compiled core splits and feeds
without a Python object per line. (Reading ahead in a thread was measured and does not pay:
decompression is under a tenth of the run, and the hand-off costs what it saves.)

Receive times come from a meta file beside the capture (normalize-cli.md, "Meta pairing"):
``X.frames.jsonl[.zst|.gz]`` pairs with ``X.frames.meta.tsv[.zst|.gz]``, line i of the meta
file describing line i of the capture, its first column the receive time in seconds as a
decimal (``ts_recv = int(Decimal(first_column) * 10**9)``). Lines without a meta line (no
meta file, stdin, or past the meta file's end) take the time they were read.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Sequence

import numpy as np
import zstandard

from ..errors import InputError

try:  # the compiled line reader (absent when the core is not built: Python does the same)
    from ._lines import count_lines
    from ._lines import meta_times as _meta_times
except ImportError:  # pragma: no cover - exercised only without the build
    _meta_times = None

    def count_lines(block: bytes) -> int:
        return block.count(b"\n")

STDIN = "-"
COMPRESSED_SUFFIXES = (".zst", ".gz")
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 1 << 16
# Decompressed bytes per block of whole lines: large enough that the per-block Python work
# vanishes, small enough to stay in cache and bound memory.
BLOCK_BYTES = 1 << 20
# Compressed bytes read and decompressed at once (about 160 KB of text: still in the CPU cache
# when the parser reads it; measured about a tenth faster than 128 KiB reads).
_PIECE_BYTES = 1 << 14

Clock = Callable[[], int]  # wall-clock time in ns since the epoch


def _display(path: str) -> str:
    return "standard input" if path == STDIN else path


def _compression_of(path: str) -> str:
    for suffix in COMPRESSED_SUFFIXES:
        if path.endswith(suffix):
            return suffix
    return ""


class _ZstdReader(io.RawIOBase):
    """Decompressed bytes of a zstd file of one or more frames (``cat a.zst b.zst`` is valid).

    Unlike ``zstandard``'s stream reader it notices a file that ends inside a frame
    (a truncated copy) and raises instead of ending quietly.
    """

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = None  # the decompressor of the current frame
        self._out = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while self._pos >= len(self._out):
            chunk = self._raw.read(_SNIFF_BYTES)
            if not chunk:
                if self._frame is not None and not self._frame.eof:
                    raise zstandard.ZstdError("the file ends inside a zstd frame (truncated?)")
                return 0
            self._decompress(chunk)
        n = min(len(buffer), len(self._out) - self._pos)
        buffer[:n] = memoryview(self._out)[self._pos : self._pos + n]
        self._pos += n
        return n

    def read_piece(self) -> bytes:
        """What is left of the decompressed buffer, else the next piece decompressed from
        one large read; b"" at the end."""
        if self._pos < len(self._out):
            piece = self._out[self._pos :] if self._pos else self._out
            self._out, self._pos = b"", 0
            return piece
        while True:
            chunk = self._raw.read(_PIECE_BYTES)
            if not chunk:
                if self._frame is not None and not self._frame.eof:
                    raise zstandard.ZstdError("the file ends inside a zstd frame (truncated?)")
                return b""
            self._decompress(chunk)
            if self._out:
                piece, self._out, self._pos = self._out, b"", 0
                return piece

    def _decompress(self, data: bytes) -> None:
        parts = []
        while data:
            if self._frame is None or self._frame.eof:
                self._frame = self._dctx.decompressobj()
            parts.append(self._frame.decompress(data))
            data = self._frame.unused_data if self._frame.eof else b""
        self._out, self._pos = b"".join(parts), 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_stream(path: str) -> BinaryIO:
    """A buffered binary stream of the decompressed content (it has ``peek``)."""
    if path == STDIN:
        return sys.stdin.buffer
    compression = _compression_of(path)
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file", path=path) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a capture file", path=path) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror or exc})", path=path) from None
    if compression == ".zst":
        return io.BufferedReader(_ZstdReader(raw), buffer_size=_SNIFF_BYTES)
    if compression == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return io.BufferedReader(raw, buffer_size=_SNIFF_BYTES)  # type: ignore[arg-type]


def _unreadable(path: str, exc: BaseException) -> InputError:
    what = {".zst": "zstd", ".gz": "gzip"}.get(_compression_of(path), "")
    detail = str(exc) or type(exc).__name__
    if what:
        return InputError(f"{_display(path)}: not a readable {what} file ({detail})", path=path)
    return InputError(f"{_display(path)}: cannot read ({detail})", path=path)


def _check_text(path: str, head: bytes) -> None:
    """Refuse content that is not text: NUL bytes or invalid UTF-8 in the first 64 KiB."""
    problem = ""
    nul = head.find(b"\0")
    if nul >= 0:
        problem = f"NUL byte at offset {nul}"
    else:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError as exc:
            problem = f"invalid UTF-8 at offset {exc.start}"
    if not problem:
        return
    hint = ""
    if head.startswith(_ZSTD_MAGIC):
        hint = "; it looks zstd-compressed: name it *.zst"
    elif head.startswith(_GZIP_MAGIC):
        hint = "; it looks gzip-compressed: name it *.gz"
    raise InputError(
        f"{_display(path)}: not a text file ({problem}){hint}; expected one item per line", path=path
    )


def open_lines(path: str) -> BinaryIO:
    """Open a capture for line reading, after checking that it is text.

    Raises ``InputError`` for a missing, unreadable, corrupt-compressed or binary file.
    """
    stream = _open_stream(path)
    try:
        head = stream.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]  # type: ignore[attr-defined]
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        if path != STDIN:
            stream.close()
        raise _unreadable(path, exc) from None
    try:
        _check_text(path, head)
    except InputError:
        if path != STDIN:
            stream.close()
        raise
    return stream


def check_readable(path: str) -> None:
    """Fail early, before any output, on an input that cannot be read as text."""
    if path == STDIN:
        return  # standard input can be read once only; it is checked when it is read
    open_lines(path).close()


def iter_lines(path: str) -> Iterator[bytes]:
    """Lines of a capture without their ``\\n`` terminator (a ``\\r`` is kept: it is received text)."""
    stream = open_lines(path)
    try:
        for line in stream:
            yield line[:-1] if line.endswith(b"\n") else line
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise _unreadable(path, exc) from None
    finally:
        if path != STDIN:
            stream.close()


def _raw_position(stream: BinaryIO) -> int | None:
    """How far into the file on disk (compressed bytes) reading has gone, if it can tell."""
    inner = getattr(stream, "raw", None)
    if isinstance(inner, _ZstdReader):
        target = inner._raw
    elif isinstance(stream, gzip.GzipFile):
        target = stream.fileobj  # type: ignore[assignment]
    else:
        target = stream
    try:
        return target.tell()  # type: ignore[union-attr]
    except (OSError, AttributeError, ValueError):
        return None


def iter_blocks(
    path: str, block_bytes: int = BLOCK_BYTES, *, on_read: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """The capture's lines, many at a time: each block is whole lines, each ending in ``\n``
    (a last line without one gets it: it is the same line for ``iter_lines``).

    ``on_read`` is told, before each block, how many bytes of the file on disk were read
    (compressed bytes; decompressed ones where the position is unknown, as on a pipe).
    """
    stream = open_lines(path)
    read = _block_source(stream, block_bytes)
    rest = b""
    plain = 0
    try:
        while True:
            data = read()
            if not data:
                break
            plain += len(data)
            cut = data.rfind(b"\n")
            if cut < 0:
                rest += data
                continue
            if on_read is not None:
                at = _raw_position(stream)
                on_read(plain if at is None else at)
            # one copy of the piece's whole lines (with the line begun in the previous piece)
            yield b"".join((rest, memoryview(data)[: cut + 1]))
            rest = data[cut + 1 :]
        if rest:
            yield rest + b"\n"
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise _unreadable(path, exc) from None
    finally:
        if path != STDIN:
            stream.close()


def _block_source(stream: BinaryIO, block_bytes: int) -> Callable[[], bytes]:
    """A function returning the next piece of decompressed content (b"" at the end).

    A zstd file is decompressed straight from large reads of the file (one step per piece,
    not per 64 KiB); anything else reads what its stream has, without waiting for a full
    block (standard input stays live).
    """
    raw = getattr(stream, "raw", None)
    if isinstance(raw, _ZstdReader):
        buffered = [stream.read1(block_bytes)]  # what the stream holds already (the sniffed head)

        def piece() -> bytes:
            return buffered.pop() if buffered else raw.read_piece()

        return piece
    read = getattr(stream, "read1", stream.read)
    return lambda: read(block_bytes)


def meta_path_for(path: str) -> str | None:
    """The existing meta file of a capture ``X.jsonl[.zst|.gz]`` -> ``X.meta.tsv[.zst|.gz]``.

    A meta file compressed like the capture is preferred; any of the three forms is accepted.
    """
    if path == STDIN:
        return None
    compression = _compression_of(path)
    stem = path[: len(path) - len(compression)]
    if not stem.endswith(".jsonl"):
        return None
    base = stem[: -len(".jsonl")] + ".meta.tsv"
    for suffix in dict.fromkeys((compression, "", *COMPRESSED_SUFFIXES)):
        candidate = base + suffix
        if Path(candidate).is_file():
            return candidate
    return None


_DIGITS = frozenset(b"0123456789")
# Decimal's default context keeps 28 significant digits: up to that, Decimal(s) * 10**9 is
# exact and the integer arithmetic below gives the same value as the contract's formula.
_EXACT_DIGITS = 28


def parse_recv_time(line: bytes, *, where: str = "meta") -> int:
    """Receive time (ns) of a meta line: ``int(Decimal(first_column) * 10**9)``."""
    first = line.split(b"\t", 1)[0].strip()
    whole, dot, frac = first.partition(b".")
    if whole and len(whole) + len(frac) <= _EXACT_DIGITS and _DIGITS.issuperset(whole) and _DIGITS.issuperset(frac):
        return int(whole) * 1_000_000_000 + int(frac[:9].ljust(9, b"0"))
    try:
        seconds = Decimal(first.decode("ascii"))
        if not seconds.is_finite():
            raise InvalidOperation
        return int(seconds * 10**9)
    except (InvalidOperation, UnicodeDecodeError, ValueError):
        raise InputError(
            f"{where}: first column {first[:40]!r} is not a receive time in seconds", path=where
        ) from None


def iter_meta_times(path: str) -> Iterator[int]:
    """The receive time (ns) of every line of a meta file."""
    for number, line in enumerate(iter_lines(path), start=1):
        try:
            yield parse_recv_time(line)
        except InputError:
            raise InputError(
                f"{path} line {number}: first column {line[:40]!r} is not a receive time in seconds", path=path
            ) from None


def meta_block_times(block: bytes, path: str, first_line: int) -> np.ndarray:
    """Receive times (ns) of the lines of a meta block (whole lines) whose first line is
    line ``first_line`` of ``path``."""
    n = count_lines(block)
    out = np.empty(n, dtype=np.int64)
    at = pos = 0
    while at < n:
        if _meta_times is not None:
            k, pos = _meta_times(block, pos, out, at)
            at += k
            if at >= n:
                break
        end = block.index(b"\n", pos)
        line = block[pos:end]
        try:
            out[at] = parse_recv_time(line)
        except InputError:
            raise InputError(
                f"{path} line {first_line + at}: first column {line[:40]!r} is not a receive time in seconds",
                path=path,
            ) from None
        at += 1
        pos = end + 1
    return out


class MetaTimes:
    """The receive times of a meta file, handed out in runs of any length."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._blocks = iter_blocks(path)
        self._times = np.empty(0, dtype=np.int64)
        self._at = 0
        self._lines = 0  # lines read so far
        self.exhausted = False

    def take(self, n: int) -> np.ndarray:
        """The next (up to) ``n`` times; fewer only at the end of the file."""
        parts = []
        while n > 0:
            if self._at >= len(self._times):
                block = next(self._blocks, None)
                if block is None:
                    self.exhausted = True
                    break
                self._times = meta_block_times(block, self.path, self._lines + 1)
                self._lines += len(self._times)
                self._at = 0
                continue
            piece = self._times[self._at : self._at + n]
            self._at += len(piece)
            n -= len(piece)
            parts.append(piece)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def remaining(self) -> int:
        """Lines left (reads the rest of the file)."""
        left = len(self._times) - self._at
        for block in self._blocks:
            left += block.count(b"\n")
        self._at = len(self._times)
        self.exhausted = True
        return left


@dataclass
class FrameBlock:
    """Whole lines of a capture (each ending in ``\n``) and each line's receive time."""

    data: bytes
    ts: np.ndarray  # int64 ns, one per line
    path: str

    def __len__(self) -> int:
        return len(self.ts)


@dataclass
class MetaLine:
    ts_recv: int
    note: str  # the rest of the line (a connection name, a URL)


def iter_meta(path: str) -> Iterator[MetaLine]:
    for number, line in enumerate(iter_lines(path), start=1):
        parts = line.rstrip(b"\r").split(b"\t", 1)
        note = parts[1].decode("utf-8", "replace") if len(parts) > 1 else ""
        yield MetaLine(parse_recv_time(line, where=f"{path} line {number}"), note)


@dataclass
class CaptureStats:
    files: int = 0
    lines: int = 0
    timed_by_meta: int = 0
    timed_by_clock: int = 0
    bytes_read: int = 0  # bytes of the files on disk read so far (FrameReader.blocks)
    warnings: list[str] = field(default_factory=list)


def iter_timed_lines(path: str, clock: Clock, stats: CaptureStats) -> Iterator[tuple[bytes, int]]:
    """(line, ts_recv ns) for every line of one capture, timed by its meta file."""
    meta_path = meta_path_for(path)
    meta = iter_meta_times(meta_path) if meta_path else iter(())
    stats.files += 1
    meta_left = meta_path is not None
    for line in iter_lines(path):
        stats.lines += 1
        if meta_left:
            ts = next(meta, None)
            if ts is not None:
                stats.timed_by_meta += 1
                yield line, ts
                continue
            meta_left = False
            stats.warnings.append(
                f"{meta_path} ends at line {stats.timed_by_meta}: later lines of {path} are timed at reading"
            )
        stats.timed_by_clock += 1
        yield line, clock()
    if meta_left:
        extra = sum(1 for _ in meta)
        if extra:
            stats.warnings.append(f"{meta_path} has {extra} more line(s) than {path}; they were ignored")


class FrameReader:
    """Received frames of several capture files, read in order as one continuous stream.

    Iterating yields ``(frame, ts_recv)``; ``stats`` counts lines and how they were timed.
    """

    def __init__(self, paths: Sequence[str], *, clock: Clock = time.time_ns) -> None:
        self.paths = list(paths)
        self.clock = clock
        self.stats = CaptureStats()

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        for path in self.paths:
            yield from iter_timed_lines(path, self.clock, self.stats)

    def blocks(self) -> Iterator[FrameBlock]:
        """The same frames as iteration, in blocks of whole lines with their receive times.

        Lines without a meta line are timed by the clock, once per line, as their block is
        handed out.
        """
        for path in self.paths:
            yield from self._timed_blocks(path)

    def _timed_blocks(self, path: str) -> Iterator[FrameBlock]:
        stats = self.stats
        meta_path = meta_path_for(path)
        meta = MetaTimes(meta_path) if meta_path else None
        stats.files += 1
        done = stats.bytes_read  # bytes of the files before this one

        def read_to(position: int) -> None:
            stats.bytes_read = done + position

        source = iter_blocks(path, on_read=read_to)
        warned = False
        try:
            for data in source:
                n = count_lines(data)
                stats.lines += n
                ts = meta.take(n) if meta is not None and not meta.exhausted else np.empty(0, dtype=np.int64)
                stats.timed_by_meta += len(ts)
                if len(ts) < n:
                    if meta is not None and not warned:
                        warned = True
                        stats.warnings.append(
                            f"{meta_path} ends at line {stats.timed_by_meta}: later lines of {path} are timed at reading"
                        )
                    clocked = np.fromiter((self.clock() for _ in range(n - len(ts))), dtype=np.int64, count=n - len(ts))
                    stats.timed_by_clock += len(clocked)
                    ts = np.concatenate([ts, clocked]) if len(ts) else clocked
                yield FrameBlock(data, ts, path)
        finally:
            source.close()
        try:
            stats.bytes_read = done + os.stat(path).st_size if path != STDIN else stats.bytes_read
        except OSError:
            pass
        if meta is not None and not meta.exhausted:
            extra = meta.remaining()
            if extra:
                stats.warnings.append(f"{meta_path} has {extra} more line(s) than {path}; they were ignored")


@dataclass(frozen=True)
class Body:
    """One REST body (a depth snapshot) with its receive time and meta note (its URL)."""

    body: bytes
    ts_recv: int | None  # None without a meta line: it takes effect at the start
    note: str
    line: int


def iter_bodies(path: str) -> Iterator[Body]:
    """REST bodies, one per line, timed by the meta file beside them when there is one."""
    meta_path = meta_path_for(path)
    meta = iter_meta(meta_path) if meta_path else iter(())
    for number, line in enumerate(iter_lines(path), start=1):
        m = next(meta, None)
        yield Body(line, m.ts_recv if m else None, m.note if m else "", number)
