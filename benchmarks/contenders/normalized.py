"""The one form every contender's output is compared in: contract columns per kind.

``Columns`` maps a kind name to ``{contract column: list of values}``, rows in frame order.
Two outputs are the same when they have the same kinds, columns and rows, with floats equal
bit for bit (NaN equal to NaN) — so no contender can win by doing less work.
"""

from __future__ import annotations

import math
from typing import Iterable

from marketprism_fast.batch import Batch
from marketprism_fast.records import kind as kind_of

Columns = dict[str, dict[str, list]]


def from_batches(batches: Iterable[Batch]) -> Columns:
    """Concatenate batches (compiled or reference) per kind, in contract column form."""
    out: Columns = {}
    for batch in batches:
        if not len(batch):
            continue
        columns = out.setdefault(batch.kind.name, {name: [] for name in batch.kind.column_names})
        for name, values in columns.items():
            values.extend(batch.column(name).tolist())
    return out


def empty_columns(kind_name: str) -> dict[str, list]:
    return {name: [] for name in kind_of(kind_name).column_names}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, (float, int)) and isinstance(b, (float, int))):
            return False
        a, b = float(a), float(b)
        return (math.isnan(a) and math.isnan(b)) or a.hex() == b.hex()
    return type(a) is type(b) and a == b


def differences(expected: Columns, actual: Columns, limit: int = 8) -> list[str]:
    """Human-readable differences (at most ``limit``); empty when the outputs are the same."""
    found: list[str] = []
    if sorted(expected) != sorted(actual):
        return [f"kinds differ: expected {sorted(expected)}, got {sorted(actual)}"]
    for kind_name, columns in expected.items():
        other = actual[kind_name]
        if list(columns) != list(other):
            found.append(f"{kind_name}: columns differ: expected {list(columns)}, got {list(other)}")
            continue
        for name, values in columns.items():
            got = other[name]
            if len(values) != len(got):
                found.append(f"{kind_name}.{name}: {len(got)} rows, expected {len(values)}")
                continue
            for row, (want, have) in enumerate(zip(values, got)):
                if not _same(want, have):
                    found.append(f"{kind_name}.{name} row {row}: expected {want!r}, got {have!r}")
                    break
            if len(found) >= limit:
                return found
    return found


def row_counts(columns: Columns) -> dict[str, int]:
    return {k: len(next(iter(cols.values()))) for k, cols in columns.items()}
