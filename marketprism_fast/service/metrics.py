"""Prometheus metrics, read from ``Node.status()`` at scrape time.

Nothing here runs per frame: the parsers and the transport count in C fields, the sinks in
their counters, and this collector turns one status dict (seams.md §3) into metric families
when Prometheus scrapes. ``FAMILIES`` is the one list of every family (name, type, labels,
help): the collector emits each of them on every scrape (the docs and the tests read it).

Names follow Prometheus conventions: the ``marketprism_`` prefix, ``_total`` on counters,
base units (seconds, bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

PREFIX = "marketprism_"
CONNECTION_STATES = ("connecting", "open", "closed", "backoff")
SINK_STATES = ("ok", "degraded", "down")


@dataclass(frozen=True)
class Family:
    name: str  # without the _total of a counter
    type: str  # counter | gauge | histogram
    labels: tuple[str, ...]
    help: str

    @property
    def exposed(self) -> str:
        """The name as a scrape shows it (counters end in _total)."""
        return self.name + "_total" if self.type == "counter" else self.name


def _f(name: str, type_: str, labels: str, help_: str) -> Family:
    return Family(PREFIX + name, type_, tuple(labels.split()) if labels else (), help_)


FAMILIES: tuple[Family, ...] = (
    # node and process
    _f("build_info", "gauge", "version config_digest node", "Always 1; the version, config digest and node name as labels."),
    _f("start_time_seconds", "gauge", "", "Unix time the node started."),
    _f("uptime_seconds", "gauge", "", "Seconds since the node started."),
    _f("process_resident_memory_bytes", "gauge", "", "Resident set size of the node's process."),
    _f("process_cpu_seconds", "counter", "", "User plus system CPU time of the node's process."),
    # parsers, per venue
    _f("frames", "counter", "venue", "WebSocket frames fed to the venue's parser."),
    _f("frames_parsed", "counter", "venue", "Frames that were data frames (their records written)."),
    _f("malformed_frames", "counter", "venue reason", "Frames not valid for their venue (no record written), by reason."),
    _f("skipped_frames", "counter", "venue reason", "Frames knowingly skipped (acks, events, heartbeats, pongs, ...), by reason."),
    _f("records", "counter", "venue kind", "Records written into buffers, by venue and kind."),
    _f("input_limit_refusals", "counter", "venue limit", "Frames refused by an input limit (counted as malformed too), by limit."),
    _f("parse_seconds", "counter", "venue", "Time spent in the parser, estimated in C: one fed frame in 64 is timed, scaled to every frame fed."),
    _f("batch_rows", "histogram", "venue kind", "Rows per batch leaving the node for the sinks."),
    # books
    _f("book_symbols", "gauge", "venue", "Symbols with a maintained order book."),
    _f("book_out_of_sync_symbols", "gauge", "venue", "Symbols whose book waits for a snapshot."),
    _f("book_gaps", "counter", "venue", "Sequence gaps detected in book updates."),
    _f("book_resyncs", "counter", "venue", "Books brought back in sync after a gap or reconnect."),
    _f("book_snapshot_requests", "counter", "venue", "Snapshots requested to (re)sync books (REST or resubscription)."),
    _f("book_checksum_failures", "counter", "venue", "Order-book checksum mismatches (OKX)."),
    # connections
    _f("symbol_last_record_age_seconds", "gauge", "venue symbol", "Seconds since the symbol's last record of any kind (NaN before the first); one series per configured symbol."),
    _f("connection_state", "gauge", "venue connection state", "1 for the connection's current state, 0 for the others."),
    _f("connection_subscriptions", "gauge", "venue connection", "Streams subscribed on the connection."),
    _f("connection_frames", "counter", "venue connection", "Frames received on the connection."),
    _f("connection_received_bytes", "counter", "venue connection", "Payload bytes received on the connection."),
    _f("connection_reconnects", "counter", "venue connection", "Times the connection was re-established."),
    _f("connection_last_frame_age_seconds", "gauge", "venue connection", "Seconds since the connection's last frame (NaN before the first)."),
    _f("connection_connect_errors", "counter", "venue connection", "Connection attempts that failed."),
    _f("connection_watchdog_trips", "counter", "venue connection", "Times the connection was dropped for silence (watchdog)."),
    _f("connection_rollovers", "counter", "venue connection", "Replacements opened before the venue's connection age limit."),
    _f("connection_duplicates_dropped", "counter", "venue connection", "Frames dropped as duplicates while a replacement overlapped."),
    # REST
    _f("rest_requests", "counter", "venue", "REST requests sent."),
    _f("rest_errors", "counter", "venue", "REST requests that failed (after their retries)."),
    _f("rest_throttled", "counter", "venue", "REST responses 429/418 (rate limited)."),
    _f("rest_used_weight", "gauge", "venue", "Request weight used in the venue's current window (from its headers)."),
    # sinks
    _f("sink_state", "gauge", "sink state", "1 for the sink's current state (ok, degraded, down), 0 for the others."),
    _f("sink_backlog_batches", "gauge", "sink", "Batches queued for the sink."),
    _f("sink_backlog_rows", "gauge", "sink", "Rows queued for the sink."),
    _f("sink_spool_bytes", "gauge", "sink", "Bytes in the sink's on-disk spool."),
    _f("sink_spool_files", "gauge", "sink", "Files in the sink's on-disk spool."),
    _f("sink_errors", "counter", "sink", "Failed writes (retried or spooled)."),
    _f("sink_dropped_batches", "counter", "sink", "Batches dropped by the overflow policy."),
    _f("sink_overflow_spooled_batches", "counter", "sink", "Batches sent to the spool because the sink's queue overflowed."),
    _f("sink_rows_written", "counter", "sink kind", "Rows the sink wrote, by kind."),
    _f("sink_batches_written", "counter", "sink", "Batches the sink wrote."),
    _f("sink_last_success_timestamp_seconds", "gauge", "sink", "Unix time of the sink's last successful write (NaN before the first)."),
    _f("sink_flush_seconds", "histogram", "sink", "Time to write one batch to the sink."),
)

FAMILY_BY_NAME = {f.name: f for f in FAMILIES}


def _num(value, default: float = 0.0) -> float:
    if value is None:
        return math.nan if default is math.nan else default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class _Families:
    """One metric-family object per entry of FAMILIES, filled from the status."""

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        for f in FAMILIES:
            if f.type == "counter":
                m: Metric = CounterMetricFamily(f.name, f.help, labels=f.labels)
            elif f.type == "gauge":
                m = GaugeMetricFamily(f.name, f.help, labels=f.labels)
            else:
                m = HistogramMetricFamily(f.name, f.help, labels=f.labels)
            self.metrics[f.name] = m

    def add(self, name: str, labels: tuple[str, ...], value) -> None:
        self.metrics[PREFIX + name].add_metric(list(labels), value)

    def histogram(self, name: str, labels: tuple[str, ...], hist: dict | None) -> None:
        hist = hist or {}
        buckets = sorted(
            ((k, int(v)) for k, v in (hist.get("buckets") or {}).items() if k != "+Inf"), key=lambda kv: float(kv[0])
        )
        count = int(hist.get("count", 0))
        shown = [(_le(k), v) for k, v in buckets] + [("+Inf", count)]
        self.metrics[PREFIX + name].add_metric(list(labels), shown, _num(hist.get("sum")))


def _le(key) -> str:
    return repr(float(key))


def collect_status(status: dict) -> list[Metric]:
    """Metric families for one status dict (seams.md §3)."""
    fam = _Families()
    fam.add("build_info", (str(status.get("version", "")), str(status.get("config_digest", "")), str(status.get("node", ""))), 1)
    fam.add("start_time_seconds", (), _num(status.get("started_at")))
    fam.add("uptime_seconds", (), _num(status.get("uptime_seconds")))
    process = status.get("process") or {}
    fam.add("process_resident_memory_bytes", (), _num(process.get("rss_bytes")))
    fam.add("process_cpu_seconds", (), _num(process.get("cpu_seconds")))

    for venue, v in sorted((status.get("venues") or {}).items()):
        parser = v.get("parser") or {}
        fam.add("frames", (venue,), _num(parser.get("frames")))
        fam.add("frames_parsed", (venue,), _num(parser.get("parsed")))
        malformed = parser.get("malformed", 0)
        if isinstance(malformed, dict):
            for reason, n in sorted(malformed.items()):
                fam.add("malformed_frames", (venue, reason), _num(n))
        else:
            fam.add("malformed_frames", (venue, "any"), _num(malformed))
        for reason, n in sorted((parser.get("skipped") or {}).items()):
            fam.add("skipped_frames", (venue, reason), _num(n))
        for kind, n in sorted((parser.get("records") or {}).items()):
            fam.add("records", (venue, kind), _num(n))
        for limit, n in sorted((parser.get("limits") or {}).items()):
            fam.add("input_limit_refusals", (venue, limit), _num(n))
        if "parse_seconds" in parser:  # timed by the connections feeding it (none yet: no sample, not a made-up zero)
            fam.add("parse_seconds", (venue,), _num(parser["parse_seconds"]))
        for kind, hist in sorted((v.get("batch_rows") or {}).items()):
            fam.histogram("batch_rows", (venue, kind), hist)

        books = v.get("books") or {}
        fam.add("book_symbols", (venue,), _num(books.get("symbols")))
        fam.add("book_out_of_sync_symbols", (venue,), float(len(books.get("out_of_sync") or ())))
        for key in ("gaps", "resyncs", "snapshot_requests", "checksum_failures"):
            fam.add(f"book_{key}", (venue,), _num(books.get(key)))

        for symbol, sv in sorted((v.get("symbols") or {}).items()):
            fam.add("symbol_last_record_age_seconds", (venue, symbol), _num(sv.get("last_record_age_seconds"), math.nan))

        for conn in v.get("connections") or ():
            labels = (venue, str(conn.get("id", "")))
            state = conn.get("state")
            for s in CONNECTION_STATES:
                fam.add("connection_state", (*labels, s), 1.0 if s == state else 0.0)
            fam.add("connection_subscriptions", labels, float(len(conn.get("subscriptions") or ())))
            fam.add("connection_frames", labels, _num(conn.get("frames")))
            fam.add("connection_received_bytes", labels, _num(conn.get("bytes")))
            fam.add("connection_reconnects", labels, _num(conn.get("reconnects")))
            fam.add("connection_last_frame_age_seconds", labels, _num(conn.get("last_frame_age_seconds"), math.nan))
            for key in ("connect_errors", "watchdog_trips", "rollovers", "duplicates_dropped"):
                fam.add(f"connection_{key}", labels, _num(conn.get(key)))

        rest = v.get("rest") or {}
        for key in ("requests", "errors", "throttled"):
            fam.add(f"rest_{key}", (venue,), _num(rest.get(key)))
        fam.add("rest_used_weight", (venue,), _num(rest.get("used_weight")))

    for sink, s in sorted((status.get("sinks") or {}).items()):
        state = s.get("state")
        for st in SINK_STATES:
            fam.add("sink_state", (sink, st), 1.0 if st == state else 0.0)
        for key in ("backlog_batches", "backlog_rows", "spool_bytes", "spool_files", "errors", "dropped_batches", "overflow_spooled_batches", "batches_written"):
            fam.add(f"sink_{key}", (sink,), _num(s.get(key)))
        for kind, n in sorted((s.get("rows_written") or {}).items()):
            fam.add("sink_rows_written", (sink, kind), _num(n))
        fam.add("sink_last_success_timestamp_seconds", (sink,), _num(s.get("last_success"), math.nan))
        fam.histogram("sink_flush_seconds", (sink,), s.get("flush_seconds"))
    return list(fam.metrics.values())


class StatusCollector(Collector):
    """A prometheus-client collector that asks ``status()`` once per scrape."""

    def __init__(self, status: Callable[[], dict]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        yield from collect_status(self._status())


def make_registry(status: Callable[[], dict]) -> CollectorRegistry:
    """A registry holding only the node's collector (no default process/gc collectors:
    the node reports its own process figures under the marketprism_ prefix)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition format (0.0.4) of a scrape."""
    return generate_latest(registry)


def reference() -> str:
    """docs/metrics.md: every family, generated from FAMILIES."""
    lines = [
        "# Metrics reference",
        "",
        "Served by the node at `/metrics` (Prometheus text format), read from the node's status at scrape",
        "time: nothing is counted per frame in Python. Generated from `marketprism_fast/service/metrics.py`",
        "(`FAMILIES`) by `python -m marketprism_fast.service.metrics --write`; a test keeps it current and",
        "checks that a scrape of a running node holds every family below.",
        "",
        "| metric | type | labels | meaning |",
        "|---|---|---|---|",
    ]
    for f in FAMILIES:
        lines.append(f"| `{f.exposed}` | {f.type} | {', '.join(f'`{x}`' for x in f.labels)} | {f.help} |")
    lines += [
        "",
        "Histograms (`_bucket`, `_sum`, `_count`): `marketprism_batch_rows` per venue and kind (rows per batch",
        "handed to the sinks), `marketprism_sink_flush_seconds` per sink (time to write one batch).",
        "A connection's `connection` label is `<venue>.<shard>`; `state` takes the values",
        f"{', '.join(f'`{s}`' for s in CONNECTION_STATES)} (connections) and {', '.join(f'`{s}`' for s in SINK_STATES)} (sinks).",
    ]
    return "\n".join(lines) + "\n"


REFERENCE_PATH = "docs/metrics.md"


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if sys.argv[1:] != ["--write"]:
        print("usage: python -m marketprism_fast.service.metrics --write", file=sys.stderr)
        raise SystemExit(2)
    (Path(__file__).resolve().parents[2] / REFERENCE_PATH).write_text(reference())
