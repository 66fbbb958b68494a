"""Strict readers for the fields of decoded venue messages.

Each reader takes the decoded JSON object and a key, and returns the value in the form the
data model wants, or raises ``ParseError`` saying which field was wrong and how. These are
the reference parsers' rules for what counts as a valid value, so the compiled parsers must
agree with them:

* a **decimal text** (Binance, OKX) is a JSON string in JSON-number grammar
  (``-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?``), converted with ``float(text)``;
* a **JSON number** (Deribit, OKX checksums) is an int or float token as decoded by orjson,
  whose floats are correctly rounded, i.e. equal to ``float(token_text)``;
* an **integer** is a JSON integer token (never a bool or a float); ids fit uint64;
* an **integer text** (OKX ``ts``) is a string of digits without leading zeros;
* the ``*_or_nan`` / ``*_or_zero`` readers map an absent key, JSON ``null`` and (for texts)
  the empty string to the data model's absent value; every other reader requires the field.

Millisecond timestamps become nanoseconds by exact integer multiplication.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, NamedTuple

from ..errors import LimitExceeded, ParseError
from ..limits import MAX_DECIMAL_CHARS

NAN = float("nan")
U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
NS_PER_MS = 1_000_000

_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(r"0|[1-9][0-9]*")


def _get(obj: Mapping[str, Any], key: str) -> Any:
    if not isinstance(obj, dict):
        raise ParseError(f"expected a JSON object holding {key!r}, got {type(obj).__name__}")
    try:
        return obj[key]
    except KeyError:
        raise ParseError(f"missing field {key!r}") from None


def decimal_text_value(text: Any, what: str) -> float:
    """``float(text)`` of a JSON string in JSON-number grammar, at most MAX_DECIMAL_CHARS
    characters, finite (``"1e309"`` is no price a venue sends)."""
    if isinstance(text, str) and len(text) > MAX_DECIMAL_CHARS:
        raise LimitExceeded("max_decimal_chars", MAX_DECIMAL_CHARS)
    if not isinstance(text, str) or _DECIMAL.fullmatch(text) is None:
        raise ParseError(f"{what}: expected a decimal text, got {text!r:.40}")
    value = float(text)
    if not math.isfinite(value):
        raise ParseError(f"{what}: {text!r:.40} is beyond the double range")
    return value


def decimal(obj: Mapping[str, Any], key: str) -> float:
    return decimal_text_value(_get(obj, key), f"field {key!r}")


def decimal_or_nan(obj: Mapping[str, Any], key: str) -> float:
    value = obj.get(key)
    if value is None or value == "":
        return NAN
    return decimal_text_value(value, f"field {key!r}")


def number_value(value: Any, what: str) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise ParseError(f"{what}: expected a JSON number, got {value!r:.40}")


def number(obj: Mapping[str, Any], key: str) -> float:
    return number_value(_get(obj, key), f"field {key!r}")


def number_or_nan(obj: Mapping[str, Any], key: str) -> float:
    value = obj.get(key)
    return NAN if value is None else number_value(value, f"field {key!r}")


def integer_value(value: Any, what: str, *, low: int = 0, high: int = U64_MAX) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ParseError(f"{what}: expected an integer in [{low}, {high}], got {value!r:.40}")
    return value


def integer(obj: Mapping[str, Any], key: str, *, low: int = 0, high: int = U64_MAX) -> int:
    return integer_value(_get(obj, key), f"field {key!r}", low=low, high=high)


def integer_or_zero(obj: Mapping[str, Any], key: str, *, low: int = 0, high: int = U64_MAX) -> int:
    value = obj.get(key)
    return 0 if value is None else integer_value(value, f"field {key!r}", low=low, high=high)


def integer_text_value(value: Any, what: str) -> int:
    if not isinstance(value, str) or _DIGITS.fullmatch(value) is None or int(value) > U64_MAX:
        raise ParseError(f"{what}: expected an unsigned integer text, got {value!r:.40}")
    return int(value)


def integer_text(obj: Mapping[str, Any], key: str) -> int:
    return integer_text_value(_get(obj, key), f"field {key!r}")


def ms_to_ns(ms: int, what: str = "timestamp") -> int:
    ns = ms * NS_PER_MS
    if ns > I64_MAX:
        raise ParseError(f"{what}: {ms} ms is beyond the int64 nanosecond range")
    return ns


def millis(obj: Mapping[str, Any], key: str) -> int:
    """A JSON-integer millisecond timestamp as nanoseconds."""
    return ms_to_ns(integer(obj, key), f"field {key!r}")


def millis_text(obj: Mapping[str, Any], key: str) -> int:
    """A millisecond timestamp sent as digit text (OKX) as nanoseconds."""
    return ms_to_ns(integer_text(obj, key), f"field {key!r}")


def text(obj: Mapping[str, Any], key: str) -> str:
    """A required, non-empty string."""
    value = _get(obj, key)
    if not isinstance(value, str) or not value:
        raise ParseError(f"field {key!r}: expected a non-empty string, got {value!r:.40}")
    return value


def text_or_empty(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ParseError(f"field {key!r}: expected a string, got {value!r:.40}")
    return value


def id_text(obj: Mapping[str, Any], key: str) -> str:
    """An id sent as a JSON integer or a string, as text (the integer's decimal text)."""
    value = _get(obj, key)
    if type(value) is int and value >= 0:
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise ParseError(f"field {key!r}: expected an id (integer or string), got {value!r:.40}")


def boolean(obj: Mapping[str, Any], key: str) -> bool:
    value = _get(obj, key)
    if type(value) is not bool:
        raise ParseError(f"field {key!r}: expected true or false, got {value!r:.40}")
    return value


def mapping(obj: Mapping[str, Any], key: str) -> dict:
    value = _get(obj, key)
    if not isinstance(value, dict):
        raise ParseError(f"field {key!r}: expected a JSON object, got {type(value).__name__}")
    return value


def array(obj: Mapping[str, Any], key: str) -> list:
    value = _get(obj, key)
    if not isinstance(value, list):
        raise ParseError(f"field {key!r}: expected a JSON array, got {type(value).__name__}")
    return value


def side_from_word(word: Any, buy: str, sell: str, what: str) -> int:
    """+1 for the venue's buy word, -1 for its sell word; anything else is malformed."""
    if word == buy:
        return 1
    if word == sell:
        return -1
    raise ParseError(f"{what}: expected {buy!r} or {sell!r}, got {word!r:.40}")


class Level(NamedTuple):
    price: float
    amount: float
    price_text: str
    amount_text: str


def decimal_level(level: Any) -> Level:
    """A book level sent as ``[price_text, amount_text, ...]`` (extra elements ignored)."""
    if not isinstance(level, list) or len(level) < 2:
        raise ParseError(f"book level: expected [price, amount, ...], got {level!r:.60}")
    price_text, amount_text = level[0], level[1]
    return Level(
        decimal_text_value(price_text, "level price"),
        decimal_text_value(amount_text, "level amount"),
        price_text,
        amount_text,
    )
