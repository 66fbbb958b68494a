"""The side-by-side tables and the target check, from the benchmarks' ``extra_info`` rows.

Decode and memory benchmarks put one flat dict each into ``extra_info`` (``suite`` says
which); the order-book benchmarks are recognised by their ``messages_per_s``. Ratios are
computed between contenders of the same workload, so they always come from one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

CONTENDER_ORDER = ("compiled", "msgspec", "orjson", "pysimdjson", "cryptofeed", "legacy", "reference")

# performance.md, "Targets"
TRADE_FRAMES_PER_S = 4_000_000
DEPTH30_FRAMES_PER_S = 650_000
MIXED_FRAMES_PER_S = 2_000_000
TIMES_MSGSPEC = 4.0
TIMES_LEGACY = 50.0
TRADE_BYTES_HELD = 64.0
BOOK_MESSAGES_PER_S = 2_000_000
# OKX and Deribit decode targets, per frame on one core
VENUE_TRADE_NS_PER_FRAME = 250
VENUE_BOOK30_NS_PER_FRAME = 1_500

Row = dict


@dataclass(frozen=True)
class Check:
    what: str
    measured: str
    target: str
    met: bool

    def line(self) -> str:
        return f"{'met ' if self.met else 'MISS'}  {self.what}: {self.measured} (target {self.target})"


def rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f} M/s"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k/s"
    return f"{value:.0f} /s"


def by_workload(rows: Iterable[Row]) -> dict[str, dict[str, Row]]:
    """{workload: {contender: row}} of the decode rows, workloads in first-seen order."""
    out: dict[str, dict[str, Row]] = {}
    for row in rows:
        if row.get("suite") == "decode":
            out.setdefault(row["workload"], {})[row["contender"]] = row
    return out


def ratios(contenders: dict[str, Row]) -> dict[str, float]:
    """compiled frames/s over each other contender's, keys ``x_<contender>``."""
    compiled = contenders.get("compiled")
    if compiled is None:
        return {}
    return {
        f"x_{name}": compiled["frames_per_s"] / row["frames_per_s"]
        for name, row in contenders.items()
        if name != "compiled"
    }


def _cell(row: Row | None) -> str:
    return rate(row["frames_per_s"]) if row else "–"


def _times(value: float | None) -> str:
    return f"{value:.1f}×" if value is not None else "–"


def decode_table(rows: Iterable[Row]) -> list[str]:
    lines = [
        "| workload | frames | B/frame | rows/frame | compiled | ns/frame | msgspec | legacy | reference "
        "| × msgspec | × legacy | × reference |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for workload, contenders in by_workload(rows).items():
        any_row = next(iter(contenders.values()))
        compiled = contenders.get("compiled")
        x = ratios(contenders)
        compiled_cells = f"{_cell(compiled)} | {compiled['ns_per_frame']:.0f}" if compiled else "– | –"
        lines.append(
            f"| {workload} | {any_row['frames']:,} | {any_row['mean_bytes']:.0f} | {any_row['rows_per_frame']:.1f} "
            f"| {compiled_cells} | {_cell(contenders.get('msgspec'))} | {_cell(contenders.get('legacy'))} "
            f"| {_cell(contenders.get('reference'))} | {_times(x.get('x_msgspec'))} | {_times(x.get('x_legacy'))} "
            f"| {_times(x.get('x_reference'))} |"
        )
    return lines


def memory_table(rows: Iterable[Row]) -> list[str]:
    memory = sorted(
        (r for r in rows if r.get("suite") == "memory"),
        key=lambda r: CONTENDER_ORDER.index(r["contender"]),
    )
    if not memory:
        return []
    lines = ["| contender | trade records held | bytes per record | how |", "|---|---:|---:|---|"]
    for r in memory:
        lines.append(f"| {r['contender']} | {r['records']:,} | {r['bytes_per_record']:.1f} | {r['method']} |")
    return lines


def book_table(rows: Iterable[Row]) -> list[str]:
    book = [r for r in rows if "messages_per_s" in r]
    if not book:
        return []
    lines = ["| book benchmark | messages/s | levels/s |", "|---|---:|---:|"]
    for r in book:
        lines.append(f"| {r['name']} | {rate(r['messages_per_s'])} | {rate(r['levels_per_s'])} |")
    return lines


def checks(rows: list[Row]) -> list[Check]:
    """Every performance.md target the rows can speak to."""
    found: list[Check] = []
    for workload, contenders in by_workload(rows).items():
        compiled = contenders.get("compiled")
        if compiled is None:
            continue
        tags = compiled.get("tags", ())
        for tag, floor in (("trade", TRADE_FRAMES_PER_S), ("depth30", DEPTH30_FRAMES_PER_S),
                           ("mixed", MIXED_FRAMES_PER_S)):
            if tag in tags:
                found.append(Check(f"{workload} compiled", rate(compiled["frames_per_s"]), f">= {rate(floor)}",
                                   compiled["frames_per_s"] >= floor))
        for tag, ceiling in (("venue_trade", VENUE_TRADE_NS_PER_FRAME), ("venue_book30", VENUE_BOOK30_NS_PER_FRAME)):
            if tag in tags:
                found.append(Check(f"{workload} compiled", f"{compiled['ns_per_frame']:.0f} ns/frame",
                                   f"<= {ceiling} ns/frame", compiled["ns_per_frame"] <= ceiling))
        x = ratios(contenders)
        for name, floor in (("msgspec", TIMES_MSGSPEC), ("legacy", TIMES_LEGACY)):
            if f"x_{name}" in x:
                found.append(Check(f"{workload} compiled / {name}", _times(x[f"x_{name}"]), f">= {floor:.0f}×",
                                   x[f"x_{name}"] >= floor))
    for r in rows:
        if r.get("suite") == "memory" and r["contender"] == "compiled":
            found.append(Check("bytes per trade held (compiled)", f"{r['bytes_per_record']:.1f} B",
                               f"<= {TRADE_BYTES_HELD:.0f} B", r["bytes_per_record"] <= TRADE_BYTES_HELD))
        if r.get("name", "").startswith("test_engine_synthetic") and "messages_per_s" in r:
            found.append(Check("book 20-level updates (engine, synthetic)", rate(r["messages_per_s"]),
                               f">= {rate(BOOK_MESSAGES_PER_S)}", r["messages_per_s"] >= BOOK_MESSAGES_PER_S))
    return found


def report(rows: list[Row]) -> list[str]:
    """All tables and the target check, as markdown lines."""
    lines: list[str] = ["### Decode (frames/s, median of rounds)", "", *decode_table(rows), ""]
    for title, table in (("### Memory per held trade", memory_table(rows)), ("### Order book", book_table(rows))):
        if table:
            lines += [title, "", *table, ""]
    found = checks(rows)
    if found:
        lines += ["### Targets", "", "```", *(c.line() for c in found), "```", ""]
    return lines
