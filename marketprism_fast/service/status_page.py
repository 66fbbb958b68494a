"""The node's status page at ``/``: one static HTML file with its script inline (no CDN,
no build step) that polls ``/status`` and ``/health`` beside it and shows per-venue and
per-kind rates, connection states, book gaps, and sink backlog and health.

The page holds no data of its own: everything shown comes from the status dict
(seams.md §3), so it can never disagree with ``/status`` and ``/metrics``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from aiohttp import web

PAGE = "status.html"


@lru_cache(maxsize=1)
def page_bytes() -> bytes:
    """The page as shipped in the package (``service/static/status.html``)."""
    return resources.files(__package__).joinpath("static", PAGE).read_bytes()


async def _page(request: web.Request) -> web.Response:
    return web.Response(
        body=page_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def add_status_page(app: web.Application) -> None:
    """Serve the status page at ``/`` of ``app`` (the node's HTTP application)."""
    app.router.add_get("/", _page)


__all__ = ["add_status_page", "page_bytes"]
