"""Ending background tasks: the one way the node, the fan-out and the simulator stop theirs."""

from __future__ import annotations

import asyncio
from typing import Iterable


async def cancel_and_wait(tasks: Iterable[asyncio.Task]) -> None:
    """Cancel every task, then wait until each has ended. What a task raised on its way out
    (its cancellation, or an error) is not raised again here: the caller is stopping it."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
