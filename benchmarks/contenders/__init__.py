"""Decode contenders for the benchmarks, and what they share.

* ``project``: the project's parsers — ``compiled`` (the production hot path) and ``reference``;
* ``msgspec_binance``: typed ``msgspec.Struct`` decoding into per-column lists;
* ``legacy_binance``: ``json.loads`` + one pydantic model per record with ``Decimal`` fields;
* ``corpus``: the workloads (real recorded frames); ``normalized``: the common output form
  every contender is checked in; ``memory``: deep size of held records; ``summary``: the
  side-by-side tables and the performance targets.
"""
