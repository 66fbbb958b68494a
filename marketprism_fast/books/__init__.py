"""Order books: venue sync rules, gap handling, resync scheduling and the builder.

The level storage itself is the compiled engine ``marketprism_fast._book``.
"""

from .builder import BookBuilder
from .scheduler import VENUE_BUDGETS, SnapshotScheduler, VenueBudget
from .sync import Action, Phase, SyncRule, SyncState, rule_for

__all__ = [
    "Action",
    "BookBuilder",
    "Phase",
    "SnapshotScheduler",
    "SyncRule",
    "SyncState",
    "VENUE_BUDGETS",
    "VenueBudget",
    "rule_for",
]
