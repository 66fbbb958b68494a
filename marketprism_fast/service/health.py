"""Health from the status dict: the checks and the verdict that ``/health`` serves.

One check per enabled venue (its connections) and per sink (its own state):

- a venue is ``ok`` when every connection is open and has had a frame within the venue's
  watchdog time, ``degraded`` when some are, ``down`` when none is open;
- a sink reports its own ``ok``/``degraded``/``down`` (a down sink spools or drops by its
  policy; the feed goes on).

The node is ``unhealthy`` (HTTP 503) when nothing can be ingested or nothing can be
written: every venue down, or every sink down. Otherwise it is ``degraded`` when any check
is not ok, else ``healthy`` (both HTTP 200). During the start grace period a venue whose
connections are still connecting counts as degraded, not down.
"""

from __future__ import annotations

from typing import Mapping

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"


def venue_check(venue: dict, *, watchdog_seconds: float, starting: bool) -> dict:
    connections = venue.get("connections") or []
    open_ = [c for c in connections if c.get("state") == "open"]
    stale = [
        c["id"]
        for c in open_
        if c.get("last_frame_age_seconds") is not None and c["last_frame_age_seconds"] > watchdog_seconds
    ]
    if not connections:
        state, detail = ("degraded" if starting else "down"), "no connection yet" if starting else "no connection"
    elif not open_:
        state = "degraded" if starting else "down"
        detail = f"0 of {len(connections)} connections open"
    elif len(open_) < len(connections) or stale:
        state = "degraded"
        detail = f"{len(open_)} of {len(connections)} connections open"
        if stale:
            detail += f"; silent longer than {watchdog_seconds:g}s: {', '.join(map(str, stale))}"
    else:
        state, detail = "ok", f"{len(open_)} of {len(connections)} connections open"
    out_of_sync = (venue.get("books") or {}).get("out_of_sync") or []
    if out_of_sync and state == "ok":
        state = "degraded"
    if out_of_sync:
        detail += f"; books out of sync: {len(out_of_sync)}"
    return {"state": state, "detail": detail}


def evaluate(status: dict, *, watchdog_seconds: Mapping[str, float] | None = None, starting: bool = False) -> dict:
    """{"status": healthy|degraded|unhealthy, "checks": {"venue:<id>"|"sink:<name>": {state, detail}}}"""
    watchdog_seconds = watchdog_seconds or {}
    checks: dict[str, dict] = {}
    venue_states, sink_states = [], []
    for name, venue in sorted((status.get("venues") or {}).items()):
        check = venue_check(venue, watchdog_seconds=watchdog_seconds.get(name, 30.0), starting=starting)
        checks[f"venue:{name}"] = check
        venue_states.append(check["state"])
    for name, sink in sorted((status.get("sinks") or {}).items()):
        check = {"state": sink.get("state", "down"), "detail": sink.get("detail", "")}
        checks[f"sink:{name}"] = check
        sink_states.append(check["state"])
    reasons = []
    if not venue_states or all(s == "down" for s in venue_states):
        reasons.append("no venue is connected")
    if not sink_states or all(s == "down" for s in sink_states):
        reasons.append("no sink can be written")
    if reasons:
        verdict = UNHEALTHY
    elif any(c["state"] != "ok" for c in checks.values()):
        verdict = DEGRADED
    else:
        verdict = HEALTHY
    return {"status": verdict, "reasons": reasons, "checks": checks}
