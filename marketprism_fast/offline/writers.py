"""Output of the ``normalize`` command: JSON Lines, CSV or Parquet.

Records arrive as ``Chunk``s: the batches one stretch of frames produced, each batch in
frame order. JSON Lines interleaves them into frame order (data-model.md: records in frame
order; within a frame, by kind in the contract's order, then in message order); CSV and
Parquet write one file per kind, so each kind's rows simply follow each other.

Values (data-model.md, "Outside the process"): floats as ``repr(float)`` (the shortest text
that round-trips), NaN and ±inf as JSON ``null`` (an empty CSV field), integers as integers,
``f8[]`` columns as JSON arrays.

Text rows are built in C from the batches' columns (``_encode.pyx``): this module makes a
*plan* per batch (what each column becomes) and the encoder copies bytes, with no Python
object per value. Texts that repeat (the instrument columns) are encoded once per distinct
value; arena texts are copied as they are when they need no escaping (checked per batch,
vectorized), else encoded one by one by orjson / the csv module. Parquet goes through Arrow
from the same columns (copied out of the parser's buffers, so the buffers are reused), in
row groups written as rows arrive: memory is bounded by ``row_group_rows`` per kind,
whatever the input's length.

Files are written under a temporary name (``.NAME.partial``) and renamed on ``close``; an
interrupted run calls ``abort`` and leaves no file that looks complete.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import IO, Any, Iterable, Protocol, Sequence

import numpy as np
import orjson

from ..batch import Batch
from ..errors import ConfigurationError, OutputError
from ..records import INSTRUMENT_COLUMNS, KIND_ORDER, LOW_CARDINALITY_TEXT, Column, Kind, kind as kind_of

try:  # the compiled text encoder (absent when the core is not built: Python does the same)
    from . import _encode
except ImportError:  # pragma: no cover - exercised only without the build
    _encode = None  # type: ignore[assignment]

FORMATS = ("jsonl", "csv", "parquet")
FRAME_MODULUS = 2**32
JSON_NULL = "null"


class Chunk:
    """Batches of one stretch of frames, starting at frame sequence number ``first_frame``.

    Batches are kept in contract kind order (stable: batches of one kind keep their order).
    """

    __slots__ = ("batches", "first_frame")

    def __init__(self, batches: Sequence[Batch], first_frame: int) -> None:
        self.batches: tuple[Batch, ...] = tuple(
            sorted((b for b in batches if len(b)), key=lambda b: KIND_ORDER[b.kind.name])
        )
        self.first_frame = first_frame % FRAME_MODULUS

    def __len__(self) -> int:
        return sum(len(b) for b in self.batches)

    def frame_order(self) -> np.ndarray | None:
        """Permutation of the concatenated rows that puts them in frame order, or None if they are.

        Frame numbers wrap at 2**32; counting them from ``first_frame`` in uint32 arithmetic
        keeps the order right across the wrap. A stable sort keeps kind order, then row order,
        among the rows of one frame.
        """
        if len(self.batches) <= 1:
            return None
        start = np.uint32(self.first_frame)
        rel = np.concatenate([np.asarray(b.frame).astype(np.uint32, copy=False) - start for b in self.batches])
        if rel.size < 2 or bool(np.all(rel[1:] >= rel[:-1])):
            return None
        return np.argsort(rel, kind="stable")


class RecordWriter(Protocol):
    def write(self, chunk: Chunk) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


# ---- without the compiled encoder (the core not built): the same texts from Python ---------


class _JsonNull:
    """Stands for a NaN/±inf float in a ``%r`` slot of a JSON template."""

    __slots__ = ()

    def __repr__(self) -> str:
        return JSON_NULL


_NULL = _JsonNull()


def float_values(values: np.ndarray) -> list:
    """Python floats for ``%r`` (``repr(float)``), with NaN/±inf replaced by a JSON null."""
    out = values.tolist()
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        out[i] = _NULL
    return out


def float_texts(values: np.ndarray, null: str) -> list[str]:
    """``repr`` of each float; ``null`` for NaN and ±inf."""
    texts = list(map(float.__repr__, values.tolist()))
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        texts[i] = null
    return texts


def _nonfinite_to_null(text: str) -> str:
    # Safe on a list of float reprs only: no finite repr contains "inf" or "nan".
    return text.replace("-inf", JSON_NULL).replace("inf", JSON_NULL).replace("nan", JSON_NULL)


def float_array_texts(values: np.ndarray) -> list[str]:
    """Each row of an ``f8[]`` column as a JSON array (NaN padding -> null)."""
    rows = values.tolist() if values.dtype != object else [np.asarray(v, dtype=np.float64).tolist() for v in values]
    texts = ["[" + ",".join(map(float.__repr__, row)) + "]" for row in rows]
    if values.dtype == object or not bool(np.isfinite(values).all()):
        texts = [_nonfinite_to_null(t) for t in texts]
    return texts


def _json_string(text: str) -> str:
    return orjson.dumps(text).decode()


def json_string_texts(values: np.ndarray, memo: dict[str, str] | None = None) -> list[str]:
    """JSON string literals. With ``memo`` (for columns whose values repeat, such as
    symbols) each distinct text is encoded once."""
    items = values.tolist()
    if memo is None:
        return list(map(_json_string, items))
    for v in set(items) - memo.keys():
        memo[v] = _json_string(v)
    return list(map(memo.__getitem__, items))


def csv_column(column: Column, values: np.ndarray) -> list:
    """CSV field values: text as is, floats as ``repr`` (NaN empty), ``f8[]`` as JSON arrays."""
    if column.type == "f8":
        return float_texts(values, "")
    if column.type == "f8[]":
        return float_array_texts(values)
    return values.tolist()


class _PythonJsonLines:
    """Turns batches into JSON object texts, one per row: ``kind``, the common columns, then
    the kind's columns. Each column is converted once, as a whole; a ``%``-template per kind
    puts the row together (``%r`` gives ``repr(float)``, ``%d`` integers)."""

    def __init__(self) -> None:
        self._templates: dict[str, str] = {}
        self._memos: dict[str, dict[str, str]] = {name: {} for name in LOW_CARDINALITY_TEXT}

    def lines(self, batch: Batch) -> list[str]:
        cols = [self._values(c, batch.column(c.name)) for c in batch.kind.columns]
        template = self._template(batch.kind)
        return [template % row for row in zip(*cols)]

    def _values(self, column: Column, values: np.ndarray) -> list:
        if column.type == "f8":
            return float_values(values)
        if column.type == "f8[]":
            return float_array_texts(values)
        if column.is_text:
            return json_string_texts(values, self._memos.get(column.name))
        return values.tolist()

    def _template(self, kind: Kind) -> str:
        template = self._templates.get(kind.name)
        if template is None:
            slots = [f'"kind":{_json_string(kind.name)}'] + [f'"{c.name}":{_SLOT[c.type]}' for c in kind.columns]
            template = self._templates[kind.name] = "{" + ",".join(slots) + "}"
        return template


_SLOT = {"f8": "%r", "f8[]": "%s", "str": "%s", "ts": "%d", "i8": "%d", "u8": "%d", "i1": "%d", "u1": "%d", "u2": "%d", "u4": "%d"}


def json_lines(batch: Batch) -> list[str]:
    """One JSON object text per row of ``batch``."""
    return JsonLines().lines(batch)


# ---- plans for the compiled encoder ----------------------------------------------------------

# Bytes that a text may contain and still be copied into the output as it is: printable
# ASCII without the characters each format escapes or quotes.
_JSON_DIRTY = np.zeros(256, dtype=bool)
_JSON_DIRTY[:0x20] = _JSON_DIRTY[0x80:] = True
_JSON_DIRTY[[ord('"'), ord("\\")]] = True
_CSV_DIRTY = np.zeros(256, dtype=bool)
_CSV_DIRTY[:0x20] = _CSV_DIRTY[0x80:] = True
_CSV_DIRTY[[ord(","), ord('"')]] = True


def _csv_field(text: str) -> bytes:
    """One CSV field exactly as the csv module writes it inside a row (quoted if needed)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([text, ""])
    return buf.getvalue()[:-2].encode("utf-8")


class _Format:
    """What a text format does with each kind of value."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.json = name == "jsonl"
        self.null = b"null" if self.json else b""
        self.dirty = _JSON_DIRTY if self.json else _CSV_DIRTY
        self.text = (lambda t: orjson.dumps(t)) if self.json else _csv_field
        self._tables: dict[tuple[int, str, int], list[bytes]] = {}
        self._plans: dict[str, list[bytes]] = {}

    def prefixes(self, kind: Kind) -> list[bytes]:
        out = self._plans.get(kind.name)
        if out is None:
            if self.json:
                out = [b'{"kind":' + orjson.dumps(kind.name) + b',"' + kind.columns[0].name.encode() + b'":']
                out += [b',"' + c.name.encode() + b'":' for c in kind.columns[1:]]
            else:
                out = [b""] + [b","] * (len(kind.columns) - 1)
            self._plans[kind.name] = out
        return out

    @property
    def end(self) -> bytes:
        return b"}\n" if self.json else b"\n"

    def instrument_texts(self, registry, name: str) -> list[bytes]:
        """The encoded text of every instrument's ``name`` column, encoded once (the table
        only grows, so a longer table extends the cached one)."""
        table = registry.tables()[name]
        key = (id(registry), name)
        cached = self._tables.get(key)  # type: ignore[arg-type]
        if cached is None or len(cached[1]) != len(table):
            done = cached[1] if cached is not None else []
            texts = done + [self.text(v) for v in table[len(done):].tolist()]
            cached = self._tables[key] = (registry, texts)  # type: ignore[index]
        return cached[1]

    def dictionary(self, values: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        """Distinct texts encoded once, and a code per row."""
        memo: dict[str, int] = {}
        texts: list[bytes] = []
        codes = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values.tolist()):
            code = memo.get(v)
            if code is None:
                code = memo[v] = len(texts)
                texts.append(self.text(v))
            codes[i] = code
        return texts, codes


def _plan_column(fmt: _Format, batch: Batch, column: Column, prefix: bytes) -> tuple:
    E = _encode
    if column.is_text:
        codes = batch.instrument_codes() if column.name in LOW_CARDINALITY_TEXT else None
        if codes is not None and column.name in INSTRUMENT_COLUMNS:
            inst, registry = codes
            return (prefix, E.DICT, fmt.instrument_texts(registry, column.name), inst.astype(np.int64), None, False, b"")
        refs = batch.texts(column.name)
        if refs is not None:
            arena, off, length = refs
            off64 = off.astype(np.int64)
            len64 = length.astype(np.int64)
            end = int((off64 + len64).max()) if len(off64) else 0
            if end <= len(arena) and not fmt.dirty[np.asarray(arena[:end])].any():
                return (prefix, E.ARENA, np.ascontiguousarray(arena, dtype=np.uint8), off64, len64, fmt.json, b"")
        texts, codes_ = fmt.dictionary(batch.column(column.name))
        return (prefix, E.DICT, texts, codes_, None, False, b"")
    values = batch.column(column.name)
    if column.type == "f8":
        return (prefix, E.F64, np.ascontiguousarray(values, dtype=np.float64), None, None, False, fmt.null)
    if column.type == "f8[]":
        if values.dtype != object and values.ndim == 2:
            rows = np.ascontiguousarray(values, dtype=np.float64)
            return (prefix, E.F64_ROWS, rows, None, None, (not fmt.json) and rows.shape[1] > 1, b"null")
        texts = [t.encode() for t in float_array_texts(values)]
        if not fmt.json:
            texts = [_csv_field(t.decode()) for t in texts]
        return (prefix, E.DICT, texts, np.arange(len(texts), dtype=np.int64), None, False, b"")
    if column.type == "u8":
        return (prefix, E.U64, np.ascontiguousarray(values, dtype=np.uint64), None, None, False, b"")
    return (prefix, E.I64, np.ascontiguousarray(values, dtype=np.int64), None, None, False, b"")


def encode_batch(fmt: _Format, batch: Batch) -> tuple[bytes, np.ndarray]:
    """``(data, ends)``: the batch's rows as text, row i ending at ``ends[i]``."""
    kind = batch.kind
    plan = [_plan_column(fmt, batch, c, p) for c, p in zip(kind.columns, fmt.prefixes(kind))]
    return _encode.encode_rows(plan, len(batch), fmt.end)


def encode_chunk(fmt: _Format, chunk: Chunk, *, frame_order: bool) -> bytes:
    """Every row of ``chunk`` as text; in frame order across kinds when asked."""
    parts = [encode_batch(fmt, b) for b in chunk.batches]
    order = chunk.frame_order() if frame_order else None
    if order is None:
        return b"".join(data for data, _ in parts)
    return _encode.gather_rows(parts, np.ascontiguousarray(order, dtype=np.int64))


class JsonLines:
    """JSON object texts of a batch's rows, as ``normalize`` writes them (the sinks use it
    too): built by the compiled encoder, or by Python where the core is not built."""

    def __init__(self) -> None:
        self._python = _PythonJsonLines() if _encode is None else None
        self._format = _Format("jsonl")

    def lines(self, batch: Batch) -> list[str]:
        if self._python is not None:
            return self._python.lines(batch)
        data, _ = encode_batch(self._format, batch)
        # JSON text has no raw "\n" inside a line (strings escape it); other line
        # separators (U+2028) may be there, so no splitlines()
        return data.decode().split("\n")[:-1]

    def encode(self, batch: Batch) -> bytes:
        """Every row of ``batch`` as one text, each line ending in ``\n``."""
        if self._python is not None:
            return "".join(line + "\n" for line in self._python.lines(batch)).encode()
        return encode_batch(self._format, batch)[0]


def json_lines(batch: Batch) -> list[str]:
    """One JSON object text per row of ``batch``."""
    return JsonLines().lines(batch)


# ---- output files: a temporary name until the run completes ---------------------------------


class _OutputFile:
    """A file written as ``.NAME.partial`` beside its final path, renamed on ``commit``."""

    def __init__(self, path: Path, mode: str = "wb") -> None:
        self.path = path
        # A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written as it is: it cannot
        # be replaced by a rename, and nothing there looks like a complete file.
        special = path.exists() and not path.is_file()
        self.partial = path if special else path.with_name(f".{path.name}.partial")
        try:
            self.stream = open(self.partial, mode)
        except OSError as exc:
            raise OutputError(f"{path}: cannot create ({exc.strerror or exc})", path=str(path)) from None

    def write(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except OSError as exc:
            raise OutputError(f"{self.path}: write failed ({exc.strerror or exc})", path=str(self.path)) from None

    def commit(self) -> None:
        try:
            self.stream.close()
            if self.partial != self.path:
                os.replace(self.partial, self.path)
        except OSError as exc:
            self.discard()
            raise OutputError(f"{self.path}: write failed ({exc.strerror or exc})", path=str(self.path)) from None

    def discard(self) -> None:
        try:
            self.stream.close()
        except OSError:
            pass
        if self.partial == self.path:
            return
        try:
            os.unlink(self.partial)
        except OSError:
            pass


# ---- JSON Lines -----------------------------------------------------------------------------


class JsonlWriter:
    """One JSON object per line, in frame order, to a binary stream (stdout or a file)."""

    def __init__(self, stream: IO[bytes], *, close_stream: bool = False, name: str = "standard output") -> None:
        self.stream = stream
        self.name = name
        self._close_stream = close_stream
        self._file: _OutputFile | None = None
        self._format = _Format("jsonl")
        self._json = _PythonJsonLines() if _encode is None else None

    @classmethod
    def to_path(cls, path: str) -> "JsonlWriter":
        try:
            out = _OutputFile(Path(path))
        except OutputError as exc:
            raise ConfigurationError(f"--out {exc}", field="out") from None
        writer = cls(out.stream, name=path)
        writer._file = out
        return writer

    def write(self, chunk: Chunk) -> None:
        if not chunk.batches:
            return
        if self._json is not None:  # without the compiled encoder
            lines: list[str] = []
            for batch in chunk.batches:
                lines += self._json.lines(batch)
            order = chunk.frame_order()
            if order is not None:
                lines = [lines[i] for i in order.tolist()]
            lines.append("")
            data = "\n".join(lines).encode()
        else:
            data = encode_chunk(self._format, chunk, frame_order=True)
        self._write(data)

    def _write(self, data: bytes) -> None:
        if self._file is not None:
            self._file.write(data)
            return
        try:
            self.stream.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"{self.name}: write failed ({exc.strerror or exc})", path=self.name) from None

    def close(self) -> None:
        if self._file is not None:
            self._file.commit()
            return
        try:
            self.stream.flush()
            if self._close_stream:
                self.stream.close()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"{self.name}: write failed ({exc.strerror or exc})", path=self.name) from None

    def abort(self) -> None:
        if self._file is not None:
            self._file.discard()


# ---- one file per kind ----------------------------------------------------------------------


def _output_dir(path: str | None, fmt: str) -> Path:
    if not path or path == "-":
        raise ConfigurationError(f"--format {fmt} writes one file per kind: give a directory with --out", field="out")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"--out {path}: exists and is not a directory (--format {fmt})", field="out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"--out {path}: cannot create directory ({exc.strerror or exc})", field="out") from None
    return out


def _kinds(kinds: Iterable[str] | None) -> tuple[Kind, ...]:
    return tuple(sorted((kind_of(k) for k in kinds or ()), key=lambda k: KIND_ORDER[k.name]))


class CsvWriter:
    """``<out>/<kind>.csv`` per kind: a header row, then one row per record.

    NaN is an empty field; ``f8[]`` values are JSON arrays in one field. Every kind of
    ``kinds`` gets its file, a header alone when it has no records; other kinds get one
    when they have records.
    """

    def __init__(self, directory: str | None, *, kinds: Iterable[str] | None = None) -> None:
        self.directory = _output_dir(directory, "csv")
        self.kinds = _kinds(kinds)
        self._files: dict[str, _OutputFile] = {}
        self._format = _Format("csv")
        self._python: dict[str, Any] = {}  # csv.writer per kind, without the compiled encoder

    def path_of(self, kind: str) -> Path:
        return self.directory / f"{kind}.csv"

    def write(self, chunk: Chunk) -> None:
        for batch in chunk.batches:
            out = self._file(batch.kind)
            if _encode is None:
                cols = [csv_column(c, batch.column(c.name)) for c in batch.kind.columns]
                buf = io.StringIO()
                csv.writer(buf, lineterminator="\n").writerows(zip(*cols))
                out.write(buf.getvalue().encode("utf-8"))
            else:
                out.write(encode_batch(self._format, batch)[0])

    def _file(self, kind: Kind) -> _OutputFile:
        out = self._files.get(kind.name)
        if out is None:
            out = self._files[kind.name] = _OutputFile(self.path_of(kind.name))
            out.write((",".join(kind.column_names) + "\n").encode())
        return out

    def close(self) -> None:
        for kind in self.kinds:
            self._file(kind)
        for out in self._files.values():
            out.commit()

    def abort(self) -> None:
        for out in self._files.values():
            out.discard()


# Rows gathered per Parquet row group (per kind): the bound on the writer's memory.
DEFAULT_ROW_GROUP_ROWS = 1 << 17


class ParquetWriter:
    """``<out>/<kind>.parquet`` per kind (every kind of ``kinds``, empty when it has no records).

    Types follow records.py: text as string, ``ts`` as int64 ns, integers at their width,
    floats as float64 (NaN kept as NaN), ``f8[]`` as list<float64>. Each kind's rows are
    written as a row group once ``row_group_rows`` of them have arrived, so memory stays
    bounded by that whatever the input's length.
    """

    def __init__(
        self, directory: str | None, *, row_group_rows: int = DEFAULT_ROW_GROUP_ROWS, kinds: Iterable[str] | None = None
    ) -> None:
        try:
            import pyarrow  # noqa: F401
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                "--format parquet needs pyarrow (pip install 'marketprism_fast[parquet]')", field="format"
            ) from None
        if row_group_rows < 1:
            raise ConfigurationError(f"row group rows must be at least 1, got {row_group_rows}", field="row_group_rows")
        self.directory = _output_dir(directory, "parquet")
        self.row_group_rows = row_group_rows
        self.kinds = _kinds(kinds)
        self._pending: dict[str, list] = {}
        self._pending_rows: dict[str, int] = {}
        self._writers: dict[str, tuple[_OutputFile, Any]] = {}
        self._arrow = _ArrowColumns()
        self._executor = None
        self._in_flight: tuple[_OutputFile, Any] | None = None

    def path_of(self, kind: str) -> Path:
        return self.directory / f"{kind}.parquet"

    def write(self, chunk: Chunk) -> None:
        for batch in chunk.batches:
            name = batch.kind.name
            self._pending.setdefault(name, []).append(self._arrow.batch(batch))
            self._pending_rows[name] = self._pending_rows.get(name, 0) + len(batch)
            if self._pending_rows[name] >= self.row_group_rows:
                self._flush(name)

    def _writer(self, kind: Kind):
        entry = self._writers.get(kind.name)
        if entry is None:
            import pyarrow.parquet as pq

            out = _OutputFile(self.path_of(kind.name))
            out.stream.close()  # Arrow writes the file itself, natively
            text = [c.name for c in kind.columns if c.is_text and c.name in LOW_CARDINALITY_TEXT]
            try:
                # Dictionary pages for the texts that repeat (not trade or order ids), min/max
                # statistics for the times only: on every column they cost more than half of
                # the write time, for a file about half the size (docs/benchmarks.md).
                writer = pq.ParquetWriter(
                    str(out.partial),
                    self._arrow.schema(kind),
                    store_schema=False,  # the file's own types: instrument columns read as strings
                    use_dictionary=text,
                    write_statistics=[c.name for c in kind.columns if c.type == "ts"],
                )
            except OSError as exc:
                out.discard()
                raise OutputError(f"{out.path}: write failed ({exc.strerror or exc})", path=str(out.path)) from None
            entry = self._writers[kind.name] = (out, writer)
        return entry

    def _flush(self, name: str) -> None:
        import pyarrow as pa

        batches = self._pending.pop(name, [])
        self._pending_rows.pop(name, None)
        if not batches:
            return
        out, writer = self._writer(kind_of(name))
        table = pa.Table.from_batches(batches)
        # Arrow encodes and compresses without the GIL: one row group is written by a
        # thread while the parser fills the next (at most one in flight: memory stays
        # bounded by two row groups per kind).
        self._wait()
        self._in_flight = (out, self._pool().submit(writer.write_table, table, row_group_size=self.row_group_rows))

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-write")
        return self._executor

    def _wait(self) -> None:
        """Wait for the row group in flight; its error, if any, is raised here."""
        if self._in_flight is None:
            return
        out, future = self._in_flight
        self._in_flight = None
        try:
            future.result()
        except OSError as exc:
            raise OutputError(f"{out.path}: write failed ({exc.strerror or exc})", path=str(out.path)) from None

    def close(self) -> None:
        for name in list(self._pending):
            self._flush(name)
        try:
            self._wait()
        finally:
            self._shutdown()
        for kind in self.kinds:
            self._writer(kind)
        for out, writer in self._writers.values():
            try:
                writer.close()
            except OSError as exc:
                out.discard()
                raise OutputError(f"{out.path}: write failed ({exc.strerror or exc})", path=str(out.path)) from None
            out.commit()

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def abort(self) -> None:
        self._pending.clear()
        try:
            self._wait()
        except Exception:  # noqa: BLE001 - the files are discarded anyway
            pass
        self._shutdown()
        for out, writer in self._writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the file is discarded anyway
                pass
            out.discard()


def arrow_schema(kind: Kind, *, dictionary_text: bool = False):
    """The kind's Arrow schema. With ``dictionary_text`` the instrument columns are
    dictionary<int32, string>: written so, Parquet gets their dictionary pages as they are
    instead of hashing every value (the file's column is a string column either way)."""
    import pyarrow as pa

    types = {
        "str": pa.string(),
        "ts": pa.int64(),
        "i8": pa.int64(),
        "u8": pa.uint64(),
        "i1": pa.int8(),
        "u1": pa.uint8(),
        "u2": pa.uint16(),
        "u4": pa.uint32(),
        "f8": pa.float64(),
        "f8[]": pa.list_(pa.float64()),
    }
    coded = pa.dictionary(pa.int32(), pa.string())
    return pa.schema(
        [
            pa.field(c.name, coded if dictionary_text and c.name in INSTRUMENT_COLUMNS else types[c.type], nullable=c.is_text)
            for c in kind.columns
        ]
    )


_ASCII_ONLY = np.zeros(256, dtype=bool)
_ASCII_ONLY[0x80:] = True


class _ArrowColumns:
    """Arrow record batches from batches' columns, without a Python object per value."""

    def __init__(self) -> None:
        self._schemas: dict[str, Any] = {}
        self._tables: dict[tuple[int, str], tuple[Any, Any]] = {}  # (registry, arrow strings)
        self._last_codes: tuple[np.ndarray, Any] | None = None

    def schema(self, kind: Kind):
        schema = self._schemas.get(kind.name)
        if schema is None:
            schema = self._schemas[kind.name] = arrow_schema(kind, dictionary_text=True)
        return schema

    def _instrument_strings(self, registry, name: str):
        import pyarrow as pa

        table = registry.tables()[name]
        key = (id(registry), name)
        cached = self._tables.get(key)
        if cached is None or len(cached[1]) != len(table):
            cached = self._tables[key] = (registry, pa.array(table.tolist(), type=pa.string()))
        return cached[1]

    def _indices(self, inst: np.ndarray):
        """The batch's instrument codes as Arrow int32 indices, made once for its four columns."""
        import pyarrow as pa

        if self._last_codes is None or self._last_codes[0] is not inst:
            self._last_codes = (inst, pa.array(inst.astype(np.int32)))
        return self._last_codes[1]

    def text(self, batch: Batch, column: Column):
        import pyarrow as pa

        if column.name in INSTRUMENT_COLUMNS:
            codes = batch.instrument_codes()
            if codes is None:
                return pa.array(batch.column(column.name).tolist(), type=pa.string()).dictionary_encode()
            inst, registry = codes
            return pa.DictionaryArray.from_arrays(self._indices(inst), self._instrument_strings(registry, column.name))
        refs = batch.texts(column.name)
        if refs is not None and len(refs[1]):
            arena = refs[0]
            off = refs[1].astype(np.int64)
            length = refs[2].astype(np.int64)
            offsets = np.zeros(len(off) + 1, dtype=np.int64)
            np.cumsum(length, out=offsets[1:])
            total = int(offsets[-1])
            if total < 2**31 and int((off + length).max()) <= len(arena):
                # the referenced bytes, one text after the other (a gather, vectorized)
                index = np.repeat(off - offsets[:-1], length) + np.arange(total, dtype=np.int64)
                data = np.asarray(arena)[index]
                if not _ASCII_ONLY[data].any():  # ASCII is valid UTF-8 as it is
                    return pa.StringArray.from_buffers(
                        len(off), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data.tobytes())
                    )
        return pa.array(batch.column(column.name).tolist(), type=pa.string())

    def batch(self, batch: Batch):
        import pyarrow as pa

        schema = self.schema(batch.kind)
        arrays = []
        for c, field in zip(batch.kind.columns, schema):
            if c.is_text:
                arrays.append(self.text(batch, c))
                continue
            values = batch.column(c.name)
            if c.type == "f8[]":
                arrays.append(_arrow_list(values))
            else:
                # a copy: the parser's buffer is then free to be reused for the next rows
                arrays.append(pa.array(np.array(values, dtype=c.dtype, copy=True), type=field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


def arrow_batch(batch: Batch):
    """``batch`` as an Arrow record batch of the kind's schema."""
    return _ArrowColumns().batch(batch)


def _arrow_list(values: np.ndarray):
    import pyarrow as pa

    if values.dtype != object and values.ndim == 2:
        n, width = values.shape
        offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
        flat = np.array(values, dtype=np.float64, copy=True).reshape(-1)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float64()))
    rows = [np.asarray(v, dtype=np.float64) for v in values]
    lengths = np.array([len(r) for r in rows], dtype=np.int32)
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(rows) if rows else np.empty(0, dtype=np.float64)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float64()))


def make_writer(
    fmt: str,
    out: str | None,
    stdout: IO[bytes],
    *,
    kinds: Iterable[str] | None = None,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> RecordWriter:
    """The writer for ``--format`` / ``--out`` (JSON Lines to ``stdout`` unless ``--out``).

    ``kinds``: the kinds the run can produce; CSV and Parquet write a file for each of them
    even when it gets no records (downstream loaders see every table).
    """
    if fmt == "jsonl":
        if out is None or out == "-":
            return JsonlWriter(stdout)
        return JsonlWriter.to_path(out)
    if fmt == "csv":
        return CsvWriter(out, kinds=kinds)
    if fmt == "parquet":
        return ParquetWriter(out, kinds=kinds, row_group_rows=row_group_rows)
    raise ConfigurationError(f"unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}", field="format")


__all__ = [
    "Chunk",
    "CsvWriter",
    "FORMATS",
    "JsonlWriter",
    "DEFAULT_ROW_GROUP_ROWS",
    "ParquetWriter",
    "RecordWriter",
    "arrow_batch",
    "arrow_schema",
    "json_lines",
    "make_writer",
]
