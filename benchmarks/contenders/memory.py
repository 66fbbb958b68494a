"""Deep ``sys.getsizeof`` accounting of held Python records.

Every object reachable from the roots is counted once (shared objects such as cached small
ints, interned field names and the instrument strings every record points to count once in
total, not once per record). Classes, modules and functions are not data and are skipped.
"""

from __future__ import annotations

import gc
import sys
from datetime import datetime
from types import BuiltinFunctionType, FunctionType, ModuleType

_NOT_DATA = (type, ModuleType, FunctionType, BuiltinFunctionType)


def deep_size(*roots: object) -> int:
    seen: set[int] = set()
    stack = list(roots)
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _NOT_DATA):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
        if isinstance(obj, datetime) and obj.tzinfo is not None:
            stack.append(obj.tzinfo)  # datetimes are not gc-tracked, so get_referents misses it
    return total
