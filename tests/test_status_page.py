"""The status page at ``/`` in headless Chromium, against a running node reading the venue
simulator: the page shows the node's venues, connections and sinks as ``/status`` has them,
rates above zero, and its numbers change as the node runs."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from marketprism_fast.config import config_from_data
from marketprism_fast.service import http as http_module
from marketprism_fast.service.status_page import add_status_page, page_bytes

from .browser import browser, chromium_binaries
from .helpers import REPO

generate = pytest.importorskip("marketprism_fast.sim.generate", reason="the simulator's generator (sim/generate.py) is not in this tree")
from marketprism_fast.service.node import Node  # noqa: E402
from marketprism_fast.sim.simulator import Simulator  # noqa: E402

VENUES = ("binance_spot", "okx", "deribit")
SCREENSHOT = REPO / "docs" / "images" / "status-page.png"
UPDATE_VARIABLE = "MPF_UPDATE_SCREENSHOT"  # =1: write the docs' screenshot from this run


def test_page_is_small_and_self_contained():
    page = page_bytes().decode()
    assert len(page) < 12_000
    # no CDN, no external script or style: everything inline, data only from status/health
    assert "http://" not in page and "https://" not in page and "<script src" not in page and "<link" not in page
    assert 'fetch("status"' in page and 'fetch("health"' in page
    assert "innerHTML" not in page  # values are set as text, never parsed as markup


def _serves_page(app) -> bool:
    return any(getattr(r, "canonical", None) == "/" for r in app.router.resources())


def _with_page(make_app):
    """The node's app with the page, until http.py adds the route itself."""

    def wrapped(source):
        app = make_app(source)
        if not _serves_page(app):
            add_status_page(app)
        return app

    return wrapped


@pytest.mark.skipif(chromium_binaries() is None, reason="chromium and chromedriver are not installed (scripts/setup.sh installs them)")
def test_status_page_shows_the_running_nodes_numbers_and_updates(tmp_path, monkeypatch):
    monkeypatch.setattr(http_module, "make_app", _with_page(http_module.make_app))
    from marketprism_fast.service.demo import demo_kinds

    async def scenario():
        async with Simulator(list(VENUES)) as sim:
            for v in VENUES:
                sim.generate(v, rate=300)
            data = {
                "node": {"name": "status-page-test", "flush_interval_seconds": 0.2},
                "http": {"port": 0},
                "venues": {
                    v: {"symbols": generate.DEFAULT_SYMBOLS[v][:2], "kinds": demo_kinds(v, generate.DEFAULT_SYMBOLS[v][0]),
                        "ws_url": sim.ws_url(v), "rest_url": sim.rest_url(v)}
                    for v in VENUES
                },
                "sinks": {"jsonl": {"enabled": True, "path": str(tmp_path / "records.jsonl")}, "null": {"enabled": True}},
            }
            node = Node(config_from_data(data, {}))
            await node.start()
            try:
                loop = asyncio.get_running_loop()
                deadline = time.monotonic() + 60
                while not all(sum(v["parser"]["records"].values()) for v in node.status()["venues"].values()):
                    assert time.monotonic() < deadline, "no records from every venue"
                    await asyncio.sleep(0.05)
                ctype, body = await loop.run_in_executor(None, _get, node.http.url + "/")
                assert ctype.startswith("text/html") and body == page_bytes()
                await loop.run_in_executor(None, _check_in_browser, node, node.http.url + "/?interval=300", tmp_path)
            finally:
                await node.stop()

    asyncio.run(asyncio.wait_for(scenario(), 180))


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.headers["Content-Type"], r.read()


def _cell(b, key: str) -> str:
    return b.run("const e = document.querySelector(`[data-key='${arguments[0]}']`); return e ? e.textContent : null;", key)


def _check_in_browser(node, url: str, tmp_path: Path) -> None:
    with browser() as b:
        b.get(url)
        # two polls give the first rates
        b.until("return Number(document.body.dataset.refreshes || 0) >= 3", "three refreshes of the page")
        status = node.status()
        assert b.run("return document.getElementById('node').textContent") == "status-page-test"
        assert b.run("return document.getElementById('verdict').textContent") in ("healthy", "degraded")
        shown = b.run("return [...document.querySelectorAll('#venues tbody tr td:first-child')].map(e => e.textContent)")
        assert shown == sorted(status["venues"])
        for venue, v in status["venues"].items():
            conns = v["connections"]
            open_ = sum(c["state"] == "open" for c in conns)
            assert _cell(b, f"{venue}:open") == f"{open_} / {len(conns)}"
            for conn in conns:
                assert _cell(b, f"conn:{conn['id']}:state") == conn["state"]
            # every kind the venue produced has a rate above zero on the page
            for kind, n in v["parser"]["records"].items():
                if n:
                    b.until(
                        f"const e = document.querySelector(`[data-key='rate:{venue}:{kind}']`); return e && parseFloat(e.textContent) > 0",
                        f"a records/s figure for {venue} {kind}",
                    )
            assert float(_cell(b, f"{venue}:records").rstrip("kM")) > 0
        for sink, s in status["sinks"].items():
            assert _cell(b, f"sink:{sink}:state") == s["state"]
        # the page keeps refreshing: a connection's frame count moves as frames arrive
        conn_id = status["venues"]["okx"]["connections"][0]["id"]
        before = (_cell(b, f"conn:{conn_id}:frames"), b.run("return Number(document.body.dataset.refreshes)"))
        b.until(
            f"return Number(document.body.dataset.refreshes) > {before[1] + 1} && "
            f"document.querySelector(`[data-key='conn:{conn_id}:frames']`).textContent !== {before[0]!r}",
            "the page's numbers to update",
        )
        shot = tmp_path / "status-page.png"
        b.screenshot(shot)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get(UPDATE_VARIABLE) == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, SCREENSHOT)
