"""The golden ``*.books.jsonl.zst`` reproduced value for value (golden/README.md lists the inputs).

Records come out in frame order; rows of events replayed after a REST snapshot carry the
snapshot's frame, so comparing the builder's emission order with the golden order checks that
placement too. Book messages without levels reach the builder as the parser's marker rows.
"""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from tests.helpers import CORPUS, read_lines, same_value
from tests.test_book_replay import replay_session

pytestmark = pytest.mark.corpus


def golden_cases() -> list:
    found = []
    for path in sorted((CORPUS / "golden").glob("*.books.jsonl.zst")):
        venue, name = path.name[: -len(".books.jsonl.zst")].split(".", 1)
        if "+" in name:  # a day-file chain: "<first>+<next day>_<symbol>"
            first, rest = name.split("+", 1)
            day, symbol = rest.split("_", 1)
            sessions = (f"{first}_{symbol}", f"{first[: -len(day)]}{day}_{symbol}")
        else:
            sessions = (name,)
        found.append(pytest.param(venue, sessions, path, id=path.name))
    return found or [pytest.param(None, None, None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]


@pytest.mark.parametrize("venue,sessions,path", golden_cases())
def test_books_golden(venue, sessions, path) -> None:
    golden = [orjson.loads(line) for line in read_lines(path)]
    run = replay_session(venue, sessions)
    assert len(run.books) == len(golden)
    for i, (got, want) in enumerate(zip(run.books, golden)):
        wrong = [k for k in want if k not in LEVELS and k != "kind" and not same_value(got[k], want[k])]
        wrong += [k for k in LEVELS if not same_levels(got[k], want[k])]
        assert not wrong, f"record {i} ({want['raw_symbol']} update {want['update_id']}): {wrong}"


LEVELS = ("bid_price", "bid_amount", "ask_price", "ask_amount")


def same_levels(got: list[float], want: list[float | None]) -> bool:
    """Bit for bit, NaN for null (a vectorised ``same_value`` for the level arrays)."""
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray([np.nan if v is None else v for v in want], dtype=np.float64)
    return a.shape == b.shape and bool(np.all((a.view(np.uint64) == b.view(np.uint64)) | (np.isnan(a) & np.isnan(b))))
