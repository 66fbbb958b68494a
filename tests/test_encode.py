"""The compiled text encoder writes exactly what the contract says: ``repr(float)`` for every
finite float (its own fast path for short decimals included), ``null`` for NaN and ±inf."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

_encode = pytest.importorskip("marketprism_fast.offline._encode", reason="the compiled core is not built")


def expected(v: float) -> str:
    return repr(v) if math.isfinite(v) else "null"


EDGES = [
    0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, float("nan"), float("inf"),
    float("-inf"), 1e-4, 9.999999999999999e-05, 0.00010000000000000002, 1e16, 9999999999999998.0, 1e15,
    4503599627370495.5, 4503599627370496.0, 0.1, 0.2, 0.1 + 0.2, 2.675, 61800.2, 0.001, 123456789.12345679,
    1e-05, 3.0, 100.0, 0.30000000000000004,
]  # fmt: skip


@pytest.mark.parametrize("value", EDGES)
def test_edges_are_repr(value: float) -> None:
    assert _encode.format_float(value) == expected(value)


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_is_repr(value: float) -> None:
    assert _encode.format_float(value) == expected(value)


@settings(max_examples=3000, deadline=None)
@given(st.integers(min_value=0, max_value=10**17), st.integers(min_value=0, max_value=20), st.booleans())
def test_decimal_texts_read_as_floats_are_repr(digits: int, scale: int, negative: bool) -> None:
    # what venues send: prices and amounts as short decimal texts
    value = float(f"{'-' if negative else ''}{digits}e-{scale}")
    assert _encode.format_float(value) == expected(value)


@settings(max_examples=3000, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_any_bit_pattern_is_repr(bits: int) -> None:
    (value,) = struct.unpack("<d", bits.to_bytes(8, "little"))
    assert _encode.format_float(value) == expected(value)
