"""The build: the compiled core must be present where it is required, and its column
layout must be the one records.py defines."""

from __future__ import annotations

import os

import pytest

from marketprism_fast import parser as parsers
from marketprism_fast.records import KINDS, iter_storage_constants


def test_compiled_core_is_built_where_required() -> None:
    if os.environ.get("MPF_REQUIRE_COMPILED") != "1":
        pytest.skip("MPF_REQUIRE_COMPILED is not set (only CI and scripts/test.sh require the build)")
    assert parsers.compiled_available()
    from marketprism_fast import _book, _parse  # noqa: F401

    assert {"binance_spot", "binance_usdm", "binance_coinm"} <= _parse.COMPILED_VENUES


def test_storage_constants_are_dense_per_kind() -> None:
    constants = dict(iter_storage_constants())
    for i, kind in enumerate(KINDS):
        assert constants[f"K_{kind.name.upper()}"] == i
        indices = [constants[f"{kind.name.upper()}_{c.name.upper()}"] for c in kind.storage]
        assert indices == list(range(len(kind.storage)))
    # the four common storage columns come first, in the order the compiled core writes them
    for kind in KINDS:
        assert [c.name for c in kind.storage[:4]] == ["instrument", "frame", "ts_event", "ts_recv"]


def test_compiled_buffers_follow_the_record_model() -> None:
    _parse = pytest.importorskip("marketprism_fast._parse", reason="the compiled core is not built")
    parser = parsers.make_parser("binance_spot", implementation="compiled")
    for kind in KINDS:
        if kind.name == "book_snapshot":
            continue
        buffer = parser.buffer(kind.name)
        assert [c.name for c in buffer.storage] == [c.name for c in kind.storage]
