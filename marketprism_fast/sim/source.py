"""What feeds a venue server: the generator (``generate.py``) and the replay (``replay.py``)
are data sources; the server asks its sources, newest first, for REST answers and tells them
of new subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .protocol import Connection


class DataSource:
    """Something that feeds a venue server (a generator, a replay): optional hooks."""

    def on_subscribe(self, conn: Connection, keys: list[str]) -> None:
        """New subscriptions (OKX and Deribit books start with a snapshot per subscription)."""

    def depth_snapshot(self, symbol: str, limit: int) -> Any:
        """A REST depth snapshot for ``symbol`` (bytes body or a venue-shaped dict), or None."""
        return None

    def refdata(self, path: str, query: dict[str, str]) -> bytes | None:
        """A recorded or generated instruments/exchangeInfo body, or None."""
        return None

    def open_interest(self, symbol: str) -> bytes | None:
        return None
