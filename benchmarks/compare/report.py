"""The comparison's report: Markdown tables and PNG charts from one run's results.

``write(data, out)`` writes ``out/report.md`` and ``out/img/*.png``; with ``update_docs`` it
also replaces the first section of ``docs/benchmarks.md`` ("Migration comparison", kept as
the first section; everything after it stays) and copies the charts to ``docs/img/``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
from importlib import metadata
from pathlib import Path

SECTION_TITLE = "## Migration comparison"
IMAGE_DIR = "img"
# The project's promises for the migration (issue 10), reported as met or not.
TARGET_DECODE = 50.0
TARGET_E2E = 30.0
TARGET_MEMORY = 30.0
PACKAGES = ("numpy", "msgspec", "orjson", "pydantic", "cryptofeed", "clickhouse-driver", "nats-py", "redis",
            "picows", "websockets", "matplotlib", "Cython")
CONTENDER_LABELS = {
    "compiled": "new (compiled parser)", "new": "new node", "legacy": "old design", "msgspec": "msgspec",
    "cryptofeed": "cryptofeed",
}
COLORS = {"compiled": "#1f77b4", "new": "#1f77b4", "legacy": "#d62728", "msgspec": "#2ca02c", "cryptofeed": "#9467bd"}


# ---------------------------------------------------------------------------- facts


def _run(command: list[str], cwd: Path | None = None) -> str:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_facts(repo: Path) -> dict:
    facts: dict = {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count()}
    for line in _run(["lscpu"]).splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("Model name", "Hypervisor vendor", "L3 cache", "CPU MHz"):
            facts[key.strip()] = value.strip()
    try:
        with open("/proc/meminfo") as f:
            facts["memory_gb"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    revision = _run(["git", "rev-parse", "--short", "HEAD"], repo)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], repo)
    facts["git_revision"] = (revision + (" (with uncommitted changes)" if dirty else "")) or "unknown"
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    facts["packages"] = versions
    servers = {
        # 18.16's server has no --version; the client of the same package says it
        "clickhouse-server": "ClickHouse " + (_run(["clickhouse-client", "--version"]).rsplit(" ", 1)[-1] or "absent"),
        "nats-server": _run(["nats-server", "--version"]),
        "redis-server": _run(["redis-server", "--version"]),
    }
    facts["servers"] = {k: " ".join(v.split()[:6]) or "absent" for k, v in servers.items()}
    return facts


# ---------------------------------------------------------------------------- helpers


def _ok(results: list[dict], section: str) -> list[dict]:
    return [r for r in results if r.get("section") == section and r.get("status") == "ok"]


def _rate(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M/s"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k/s"
    return f"{value:.0f}/s"


def _times(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}×" if a and b else "–"


def _label(name: str) -> str:
    return CONTENDER_LABELS.get(name, name)


def _met(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return "**met**" if value >= target else "**not met**"


def ratios(results: list[dict]) -> dict:
    """The headline ratios against the old design, from this run's numbers."""
    decode = {}
    for r in _ok(results, "decode"):
        decode.setdefault(r["workload"], {})[r["contender"]] = r
    decode_ratios = [by["compiled"]["frames_per_s"] / by["legacy"]["frames_per_s"]
                     for by in decode.values() if "compiled" in by and "legacy" in by]
    e2e = {r["contender"]: r for r in _ok(results, "e2e")}
    memory = {r["contender"]: r for r in _ok(results, "memory")}
    out = {
        "decode_min": min(decode_ratios) if decode_ratios else None,
        "decode_median": statistics.median(decode_ratios) if decode_ratios else None,
        "e2e": (e2e["new"]["rows_per_s"] / e2e["legacy"]["rows_per_s"]
                if "new" in e2e and "legacy" in e2e and e2e["legacy"]["rows_per_s"] else None),
        "memory": (memory["legacy"]["rss_bytes_per_record"] / memory["compiled"]["rss_bytes_per_record"]
                   if "compiled" in memory and "legacy" in memory and memory["compiled"]["rss_bytes_per_record"] > 0 else None),
    }
    faults = {r["contender"]: r for r in _ok(results, "faults")}
    if "new" in faults:
        f = faults["new"]["faults"]
        out["faults_new_clean"] = all(f[k]["lost"] == 0 and f[k]["duplicated"] == 0 for k in f)
    return out


# ---------------------------------------------------------------------------- tables


def facts_lines(facts: dict) -> list[str]:
    pk = facts.get("packages", {})
    sv = facts.get("servers", {})
    lb, la = facts.get("load_before", (0, 0, 0)), facts.get("load_after", (0, 0, 0))
    return [
        f"- Run: `{facts.get('plan', '?')}` plan, {facts.get('seconds', 0):.0f} s, git revision `{facts.get('git_revision')}`",
        f"- Machine: {facts.get('Model name', 'unknown CPU')}, {facts.get('cores')} cores"
        f"{', ' + facts['Hypervisor vendor'] + ' guest' if facts.get('Hypervisor vendor') else ''}, "
        f"{facts.get('memory_gb', '?')} GB; {facts.get('platform')}; Python {facts.get('python')}",
        f"- Load average (1 min) before / after: {lb[0]:.2f} / {la[0]:.2f}. The machine is shared: other work ran "
        "beside this run, so absolute numbers are noisy; the ratios compare contenders measured one right after "
        "the other in the same run.",
        "- Packages: " + ", ".join(f"{k} {v}" for k, v in pk.items()),
        "- Servers: " + ", ".join(f"{v}".rstrip(".") for v in sv.values()),
    ]


def targets_lines(r: dict) -> list[str]:
    def x(v: float | None) -> str:
        return "–" if v is None else f"{v:.1f}×"

    clean = r.get("faults_new_clean")
    return [
        "| target | measured | |",
        "|---|---:|---|",
        f"| decode ≥ {TARGET_DECODE:.0f}× the old design (every workload it decodes) | min {x(r['decode_min'])}, "
        f"median {x(r['decode_median'])} | {_met(r['decode_min'], TARGET_DECODE)} |",
        f"| end to end ≥ {TARGET_E2E:.0f}× the old design (rows into ClickHouse + NATS + Redis per second) | {x(r['e2e'])} "
        f"| {_met(r['e2e'], TARGET_E2E)} |",
        f"| memory per held record ≤ 1/{TARGET_MEMORY:.0f} of the old design | 1/{r['memory']:.0f} |"
        f" {_met(r['memory'], TARGET_MEMORY)} |" if r["memory"] else f"| memory per held record ≤ 1/{TARGET_MEMORY:.0f} | – | not measured |",
        "| faults: 0 records lost or duplicated on the new path | "
        + ("0 / 0" if clean else "see the fault table" if clean is not None else "–")
        + f" | {'**met**' if clean else '**not met**' if clean is not None else 'not measured'} |",
    ]


def decode_lines(results: list[dict]) -> list[str]:
    by: dict[str, dict[str, dict]] = {}
    skipped: dict[str, set] = {}
    for r in results:
        if r.get("section") != "decode":
            continue
        if r.get("status") == "ok":
            by.setdefault(r["workload"], {})[r["contender"]] = r
        else:
            skipped.setdefault(f"{r['contender']}: {r.get('reason', r.get('status'))}", set()).add(r["workload"])
    lines = ["| workload | venue | frames | new µs/frame | new | old design | msgspec | cryptofeed "
             "| × old design | × msgspec | × cryptofeed |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for workload, c in by.items():
        new = c.get("compiled", {})
        rate = {k: v["frames_per_s"] for k, v in c.items()}
        lines.append(
            f"| {workload} | {new.get('venue', next(iter(c.values()))['venue'])} | {new.get('frames', 0):,} "
            f"| {new.get('us_per_frame', 0):.2f} | {_rate(rate.get('compiled'))} | {_rate(rate.get('legacy'))} "
            f"| {_rate(rate.get('msgspec'))} | {_rate(rate.get('cryptofeed'))} | {_times(rate.get('compiled'), rate.get('legacy'))} "
            f"| {_times(rate.get('compiled'), rate.get('msgspec'))} | {_times(rate.get('compiled'), rate.get('cryptofeed'))} |")
    if skipped:
        lines.append("")
        lines += [f"- Not run: {reason} ({', '.join(sorted(w))})" for reason, w in skipped.items()]
    return lines


def book_lines(results: list[dict]) -> list[str]:
    c = {r["contender"]: r for r in _ok(results, "book")}
    if not c:
        return ["(not measured: " + "; ".join(r.get("reason", "") for r in results if r.get("section") == "book") + ")"]
    lines = ["| contender | messages | level changes | messages/s | level changes/s | µs/message |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in c.items():
        lines.append(f"| {_label(name)} | {r['messages']:,} | {r['levels']:,} | {_rate(r['messages_per_s'])} "
                     f"| {_rate(r['levels_per_s'])} | {r['us_per_message']:.2f} |")
    if "compiled" in c and "legacy" in c:
        lines += ["", f"New book engine: {_times(c['compiled']['messages_per_s'], c['legacy']['messages_per_s'])} the old "
                  "dict-of-Decimal book (best bid/ask read after every message in both)."]
    return lines


def encode_lines(results: list[dict]) -> list[str]:
    by: dict[str, dict[str, dict]] = {}
    for r in _ok(results, "encode"):
        by.setdefault(r["sink"], {})[r["contender"]] = r
    what = {"clickhouse": ("numpy columns for the native INSERT", "one dict per row for the row-wise INSERT"),
            "nats": ("Arrow IPC messages per batch", "one JSON message per record"),
            "redis": ("latest value per key, JSON", "one JSON value per record")}
    lines = ["| sink | new: what | new records/s | new bytes/record | old: what | old records/s | old bytes/record | × |",
             "|---|---|---:|---:|---|---:|---:|---:|"]
    for sink, c in by.items():
        n, o = c.get("compiled", {}), c.get("legacy", {})
        b = lambda r: f"{r['bytes_per_record']:.1f}" if r.get("bytes_per_record") else "–"  # noqa: E731
        times = "different work" if sink == "redis" else _times(n.get("records_per_s"), o.get("records_per_s"))
        lines.append(f"| {sink} | {what[sink][0]} | {_rate(n.get('records_per_s'))} | {b(n)} | {what[sink][1]} "
                     f"| {_rate(o.get('records_per_s'))} | {b(o)} | {times} |")
    return lines


def memory_lines(results: list[dict]) -> list[str]:
    c = {r["contender"]: r for r in _ok(results, "memory")}
    lines = ["| contender | trades held | RSS bytes/record | own bytes/record | peak RSS |", "|---|---:|---:|---:|---:|"]
    for name, r in c.items():
        lines.append(f"| {_label(name)} | {r['records']:,} | {r['rss_bytes_per_record']:.1f} | {r['own_bytes_per_record']:.1f} "
                     f"| {r['peak_rss_bytes'] / 2**20:.0f} MB |")
    return lines


def sinks_lines(results: list[dict]) -> list[str]:
    rows = [x for r in _ok(results, "sinks") for x in r["results"]]
    if not rows:
        return ["(not in this plan: the full run measures it)"]
    lines = ["| sink | batch rows | contender | rows/s | × old path |", "|---|---:|---|---:|---:|"]
    for row in rows:
        base = next((b for b in rows if b["sink"] == row["sink"] and b["contender"] == row["baseline"]), None)
        lines.append(f"| {row['sink']} | {row['rows']:,} | {row['contender']} | {_rate(row['rows_per_s'])} "
                     f"| {_times(row['rows_per_s'], base['rows_per_s']) if base else '–'} |")
    return lines


def _not_run(r: dict) -> str:
    """What a run that gave no numbers says instead: skipped (and why) or failed (and why)."""
    return f"{'skipped' if r.get('status') == 'skipped' else 'failed'}: {r.get('reason', '')[:200]}"


def _counts(by_kind: dict) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in by_kind.items())


def e2e_lines(results: list[dict]) -> list[str]:
    lines = ["| contender | feed | frames read | frames/s | rows in ClickHouse | rows/s (feed start → drained) "
             "| CPU µs/row | peak RSS | exit |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.get("section") != "e2e":
            continue
        if r.get("status") != "ok":
            lines.append(f"| {_label(r['contender'])} | {_not_run(r)} | | | | | | | |")
            continue
        if r.get("sink", True):
            rows = sum(r["rows"].values())
            cpu = f"{r['cpu_us_per_row']:.1f}" if r.get("cpu_us_per_row") else "–"
            delivered, rate = f"{rows:,} ({_counts(r['rows'])})", _rate(r["rows_per_s"])
        else:  # no sink (cryptofeed): records its callbacks got, written nowhere
            records = sum(r["records"].values())
            cpu = f"{r['cpu_us_per_record']:.1f} per record" if r.get("cpu_us_per_record") else "–"
            delivered = f"no sink: {records:,} records to callbacks ({_counts(r['records'])})"
            rate = f"{_rate(r['records_per_s'])} records, written nowhere (upper bound)"
        lines.append(f"| {_label(r['contender'])} | {r['feed_seconds']:.0f} s | {r['counters'].get('frames', 0):,} "
                     f"| {_rate(r['frames_per_s'])} | {delivered} | {rate} | {cpu} | {r['peak_rss_bytes'] / 2**20:.0f} MB "
                     f"| {r['exit_status']} |")
    done = {r["contender"]: r for r in results if r.get("section") == "e2e" and r.get("status") == "ok"}
    if {"new", "legacy"} <= done.keys() and done["new"].get("cpu_us_per_row") and done["legacy"].get("cpu_us_per_row"):
        lines += ["", f"CPU per row, a measure the machine's load disturbs less than rates: the old design uses "
                  f"{done['legacy']['cpu_us_per_row'] / done['new']['cpu_us_per_row']:.0f}× the new node's "
                  "(the contender's process only; the servers' and the simulator's CPU are not counted). Busy share of "
                  "one core over the run: " + ", ".join(f"{_label(c)} {done[c]['cpu_seconds'] / done[c]['run_seconds']:.0%}"
                                                      for c in ("new", "legacy"))
                  + " — a node well below 100 % was waiting for frames: the feed, not the node, set its rate."]
    cf = done.get("cryptofeed")
    if cf is not None:
        lines += ["", "cryptofeed has no ClickHouse, NATS or Redis backend: its row counts what its own WS client, "
                  "`BinanceFutures` handlers and `Trade`/`Ticker` objects delivered to callbacks that only count — "
                  "written nowhere, so an upper bound for it, not a like-for-like figure with the two rows above. Its "
                  "TRADES channel is Binance's aggTrade stream (its handlers read no trade events), so it was sent "
                  "aggTrade frames where the others got trade frames; bookTicker is the same stream for all"
                  + (f". Busy share of one core: {cf['cpu_seconds'] / cf['run_seconds']:.0%}." if cf.get("run_seconds") else ".")]
    return lines


FAULT_KINDS = (("trade", "trades"), ("quote", "quotes"), ("book_delta", "book levels"))


def fault_lines(results: list[dict]) -> list[str]:
    runs = [r for r in results if r.get("section") == "faults"]
    if not runs:
        return ["(not in this plan)"]
    lines = ["| contender | records | sent | in ClickHouse (cryptofeed: in its callbacks, no sink) | lost | duplicated |",
             "|---|---|---:|---:|---:|---:|"]
    notes: list[str] = []
    events: list = []
    for r in runs:
        if r.get("status") != "ok":
            lines.append(f"| {_label(r['contender'])} | {_not_run(r)} | | | | |")
            continue
        f, c = r["faults"], r["counters"]
        sink = r.get("sink", True)
        for kind, title in FAULT_KINDS:
            k = f.get(kind)
            if k:
                held = f"{k['stored_rows']:,}" if sink else f"no sink: {k['stored_rows']:,}"
                lines.append(f"| {_label(r['contender'])} | {title} | {k['sent']:,} | {held} | {k['lost']:,} "
                             f"| {k['duplicated']:,} |")
        deaf = (f"; {r['unsubscribed_seconds']:.1f} s of the feed without its subscriptions"
                if r.get("unsubscribed_seconds") is not None else "")
        if r["contender"] == "legacy":
            notes.append(f"{_label('legacy')}: {max(0, c.get('connects', 1) - 1)} reconnects, {c.get('malformed', 0)} bad "
                         f"frames skipped, {c.get('dropped_rows', 0):,} rows dropped with failed inserts, "
                         f"{c.get('errors', 0):,} write errors{deaf}")
        elif not sink:
            log = c.get("log", {})
            restarts = sum(n for text, n in log.items() if text.startswith("encountered an exception"))
            issues = sum(n for text, n in log.items() if text.startswith("encountered connection issue"))
            connections = r.get("sim_connections")
            notes.append(f"{_label(r['contender'])}: {max(0, connections - 1) if connections else '?'} reconnects "
                         f"(the simulator's count): {restarts} after an exception in its handler (a bad frame ends its "
                         f"connection; it reconnects after 1 s), {issues} after the dropped connection; "
                         f"{c.get('snapshots', 0)} book snapshots over REST; no sink, so the ClickHouse and NATS "
                         f"outages do not apply{deaf}")
        else:
            parser = c.get("parser", {})
            sinks = ", ".join(f"{k} {v.get('errors', 0)} errors / {v.get('dropped_batches', 0)} batches dropped"
                              for k, v in c.get("sinks", {}).items())
            notes.append(f"{_label(r['contender'])}: {c.get('reconnects', 0)} reconnects, {parser.get('malformed', 0)} bad "
                         f"frames counted (parser), sinks: {sinks}{deaf}")
        events = events or r.get("events", [])
    lines += [""] + [f"- {n}" for n in notes]
    if events:
        lines += ["", "Faults injected, the same for each contender (seconds after the feed started): "
                  + "; ".join(f"{t:.1f} s {what}" for t, what in events) + "."]
    return lines


# ---------------------------------------------------------------------------- charts


def charts(results: list[dict], img: Path) -> list[tuple[str, str]]:
    """(file name, caption) per chart written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, str]] = []

    def bars(ax, groups: list[str], series: dict[str, list[float | None]], log: bool = True, fmt=None) -> None:
        n = max(len(series), 1)
        width = 0.8 / n
        for i, (name, values) in enumerate(series.items()):
            xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
            vals = [v if v is not None else 0 for v in values]
            drawn = ax.bar(xs, vals, width, label=_label(name), color=COLORS.get(name))
            if fmt and len(groups) * n <= 24:  # beyond that the numbers overlap; the tables hold them
                for rect, v in zip(drawn, values):
                    if v is not None:
                        ax.annotate(fmt(v), (rect.get_x() + rect.get_width() / 2, max(rect.get_height(), 0)),
                                    ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20, ha="right")
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    def save(fig, name: str, caption: str) -> None:
        fig.tight_layout()
        fig.savefig(img / name, dpi=110)
        plt.close(fig)
        written.append((name, caption))

    # 1. throughput per contender: decode (every workload it runs) and end to end
    decode: dict[str, dict[str, dict]] = {}
    for r in _ok(results, "decode"):
        decode.setdefault(r["workload"], {})[r["contender"]] = r
    e2e = {r["contender"]: r for r in _ok(results, "e2e")}
    if decode:
        workloads = list(decode)
        wide = max(13.0, 0.9 * len(workloads) + 6)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(wide, 5), gridspec_kw={"width_ratios": [wide - 4, 4]})
        names = [c for c in ("compiled", "legacy", "msgspec", "cryptofeed") if any(c in decode[w] for w in workloads)]
        bars(ax1, workloads, {c: [decode[w].get(c, {}).get("frames_per_s") for w in workloads] for c in names},
             fmt=lambda v: _rate(v).replace("/s", ""))
        ax1.set_title("Decode throughput per contender")
        ax1.set_xlabel("workload (venue and kind)")
        ax1.set_ylabel("frames per second (log scale)")
        if e2e:
            names2 = [c for c in ("new", "legacy") if c in e2e]
            bars(ax2, ["rows into sinks"], {c: [e2e[c]["rows_per_s"]] for c in names2}, fmt=lambda v: _rate(v).replace("/s", ""))
        ax2.set_title("End to end\n(WS → ClickHouse, NATS, Redis)", fontsize=10)
        ax2.set_xlabel("")
        ax2.set_ylabel("records per second (log scale)")
        save(fig, "compare_throughput.png", "Throughput per contender: decode per workload, and end to end")

        fig, ax = plt.subplots(figsize=(max(11.0, 0.9 * len(workloads) + 2), 4.8))
        bars(ax, workloads, {c: [decode[w][c]["us_per_frame"] if c in decode[w] else None for w in workloads] for c in names},
             fmt=lambda v: f"{v:.2f}" if v < 10 else f"{v:.0f}")
        ax.set_title("Decode cost per frame, per venue and kind")
        ax.set_xlabel("workload (venue and kind)")
        ax.set_ylabel("µs per frame (log scale)")
        save(fig, "compare_us_per_frame.png", "µs per frame per kind")

    # 3. bytes per record: held in memory, and per sink message
    memory = {r["contender"]: r for r in _ok(results, "memory")}
    encode: dict[str, dict[str, dict]] = {}
    for r in _ok(results, "encode"):
        encode.setdefault(r["sink"], {})[r["contender"]] = r
    if memory or encode:
        # Redis is left out: the new sink writes one latest value per key and batch, not one per record.
        groups = ["held in memory (RSS growth)", "held (own size)"] + (["NATS message bytes"] if "nats" in encode else [])
        series = {}
        for c in ("compiled", "legacy"):
            vals = [memory.get(c, {}).get("rss_bytes_per_record"), memory.get(c, {}).get("own_bytes_per_record")]
            vals += [encode["nats"].get(c, {}).get("bytes_per_record")] if "nats" in encode else []
            series[c] = vals
        fig, ax = plt.subplots(figsize=(9, 4.8))
        bars(ax, groups, series, fmt=lambda v: f"{v:.0f}")
        ax.set_title("Bytes per trade record")
        ax.set_xlabel("where the record is")
        ax.set_ylabel("bytes per record (log scale)")
        save(fig, "compare_bytes_per_record.png", "Bytes per record, held and per sink payload")

    # 4. RSS over time in the end-to-end run
    if e2e:
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for c, r in e2e.items():
            samples = r.get("rss_samples") or []
            if samples:
                ax.plot([t for t, _ in samples], [b / 2**20 for _, b in samples], label=_label(c), color=COLORS.get(c))
                ax.axvline(r["feed_seconds"], linestyle="--", linewidth=1, color=COLORS.get(c),
                           label=f"feed stopped ({_label(c)}); then drain and exit")
        ax.set_title("Resident memory of each contender during the end-to-end run")
        ax.set_xlabel("seconds since the feed started")
        ax.set_ylabel("RSS (MiB)")
        ax.set_ylim(bottom=0)
        ax.legend()
        ax.grid(alpha=0.3)
        save(fig, "compare_rss.png", "RSS over time, end to end")

    # 5. records lost under faults
    faults = {r["contender"]: r for r in _ok(results, "faults")}
    if faults:
        groups = [f"{title} {what}" for _, title in FAULT_KINDS for what in ("lost", "duplicated")]
        series = {c: [r["faults"].get(kind, {}).get(what) for kind, _ in FAULT_KINDS for what in ("lost", "duplicated")]
                  for c, r in faults.items()}
        fig, ax = plt.subplots(figsize=(9, 4.5))
        bars(ax, groups, series, log=False, fmt=lambda v: f"{v:,}")
        ax.set_title("Records lost and duplicated under the same injected faults")
        ax.set_xlabel("records (by key, in ClickHouse; cryptofeed: in its callbacks)")
        ax.set_ylabel("records")
        save(fig, "compare_faults.png", "Records lost and duplicated under faults")
    return written


# ---------------------------------------------------------------------------- document


def render(data: dict, image_prefix: str, written: list[tuple[str, str]]) -> str:
    results, facts = data["results"], data["facts"]
    r = ratios(results)
    images = {name: f"![{caption}]({image_prefix}{name})" for name, caption in written}
    parts = [
        SECTION_TITLE, "",
        "The new path against the old design (json + a pydantic model per record with Decimals, a dict book, "
        "one awaited JetStream publish per record, row-wise ClickHouse inserts of 1000 rows: "
        "`benchmarks/legacy/collector.py`), msgspec at its best and cryptofeed's own handlers, in one run, each "
        "contender in its own process. Regenerate: `python -m marketprism_fast bench --out DIR` "
        "(`--quick`: a subset under two minutes), or `.venv/bin/python benchmarks/compare/run.py --update-docs` "
        "to rewrite this section and `docs/img/compare_*.png`.", "",
        *facts_lines(facts), "",
        "### Targets", "", *targets_lines(r), "",
        "### Throughput", "", images.get("compare_throughput.png", ""), "",
        "### Decode per venue and kind", "",
        "Real recorded frames held in memory; each contender's records are the same columns (`benchmarks/test_bench_decode.py` checks them "
        "value for value). Rate: the fastest pass in CPU time of the contender's process "
        "(the same for book updates and encoding).", "",
        *decode_lines(results), "", images.get("compare_us_per_frame.png", ""), "",
        "### Book updates", "", *book_lines(results), "",
        "### Batch encoding per sink", "",
        "The same decoded trades turned into what each sink sends (decoding not timed; the ClickHouse driver's own "
        "wire encoding is not included for either). Redis: the new sink sends one latest value per key and batch, "
        "the old path one value per record, hence the bytes.", "",
        *encode_lines(results), "",
        "### Memory per held record", "",
        "Trades decoded and kept, as a sink keeps what it has not written yet: resident set growth per record, "
        "and the records' own size (array bytes; for Python objects, every reachable object once).", "",
        *memory_lines(results), "", images.get("compare_bytes_per_record.png", ""), "",
        "### Sink throughput", "", *sinks_lines(results), "",
        "### End to end", "",
        "The simulator (`marketprism_fast.sim`, binance_usdm: the trade and bookTicker streams of BTCUSDT and "
        "ETHUSDT; 60 k frames made by its generator beforehand, then sent over and over through its routing and "
        "framing as fast as the client reads) over loopback WebSocket into private ClickHouse, NATS JetStream and "
        "Redis servers (`tests/servers.py`). The new node: `python -m marketprism_fast run --config ...` with all "
        "three sinks; the old design: its collector on the same streams and servers; cryptofeed: its own FeedHandler "
        "and `BinanceFutures` feed (its WS client, handlers and REST calls for the symbol table and book snapshots), "
        "only its endpoints pointed at the simulator (`benchmarks/contenders/cryptofeed_live.py`), with callbacks that "
        "count. Rows/s counts every row in "
        "ClickHouse from the feed's start until the contender exited after SIGTERM (written and drained). The "
        "simulator runs in the driving process on the same two cores as the contender and the three servers "
        "(none are started for cryptofeed).",
        "", *e2e_lines(results), "", images.get("compare_rss.png", ""), "",
        "### Under faults", "",
        "The simulator's generator paced at a rate every contender keeps up with (trade, bookTicker and depth@100ms "
        "of two symbols), the same faults at the same moments; every data frame written to a connection is kept by "
        "the simulator, and the records it holds are compared key by key with the rows in ClickHouse (trades by "
        "symbol and trade id, quotes by symbol and update id, book levels by symbol, update id, side and price; "
        "cryptofeed: with the keys its callbacks got — aggregate trade ids, and the levels of each book delta it "
        "applied). Frames published while a contender is disconnected reach no connection and are not counted (a "
        "venue does not resend them either; the notes give how long each was without its subscriptions); frames "
        "written to a connection just before it dropped are.", "",
        *fault_lines(results), "", images.get("compare_faults.png", ""), "",
    ]
    return "\n".join(p for p in parts if p is not None) + "\n"


def splice(document: str, section: str) -> str:
    """``section`` as the first section of the document; an earlier one is replaced."""
    start = document.find(SECTION_TITLE)
    if start >= 0:
        following = re.search(r"^## (?!#)", document[start + len(SECTION_TITLE):], re.M)
        end = start + len(SECTION_TITLE) + following.start() if following else len(document)
        return document[:start] + section.rstrip() + "\n\n" + document[end:]
    first = re.search(r"^## ", document, re.M)
    at = first.start() if first else len(document)
    return document[:at] + section.rstrip() + "\n\n" + document[at:]


def write(data: dict, out: Path, *, update_docs: Path | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    written = charts(data["results"], out / IMAGE_DIR)
    path = out / "report.md"
    path.write_text("# Benchmarks\n\n" + render(data, f"{IMAGE_DIR}/", written))
    if update_docs is not None:
        (update_docs / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
        for name, _ in written:
            shutil.copyfile(out / IMAGE_DIR / name, update_docs / IMAGE_DIR / name)
        doc = update_docs / "benchmarks.md"
        current = doc.read_text() if doc.exists() else "# Benchmarks\n\n"
        doc.write_text(splice(current, render(data, f"{IMAGE_DIR}/", written)))
    return path
