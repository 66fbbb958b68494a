"""The parity rule as a property: for random mutations of real frames of every venue (and
of real REST bodies), the compiled and the reference parser give the same verdict, the same
stats and the same records.

The mutations (``fuzz/mutate.py``) aim at what byte flips rarely reach: values at and past
every input limit (long decimal texts, long escaped texts, deep nesting), values no venue
sends (non-finite, negative), members that should not be there, repeated elements.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz import differential, mutate, seeds
from marketprism_fast.parser import compiled_available

pytestmark = [
    pytest.mark.skipif(not compiled_available(), reason="the compiled core is not built"),
    pytest.mark.skipif(not seeds.corpus_present(), reason=f"corpus not found at {seeds.CORPUS} (set MPF_CORPUS)"),
]

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("venue", seeds.VENUES)
@PROPERTY
@given(data=st.data())
def test_mutated_frames_get_the_same_verdict_and_records_from_both_parsers(venue: str, data: st.DataObject) -> None:
    frame = data.draw(st.sampled_from(seeds.frames(venue)), label="frame")
    rng = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    mutated = mutate.mutate(frame, rng, data.draw(st.integers(1, 3), label="edits"))
    differential.check_frame(venue, mutated)


@pytest.mark.parametrize("venue", [v for v in seeds.VENUES if v != "deribit"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_rest_bodies_get_the_same_verdict_from_both_parsers(venue: str, data: st.DataObject) -> None:
    bodies = seeds.rest_bodies(venue)
    kind, symbol, body = data.draw(st.sampled_from(bodies), label="body")
    rng = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    differential.check_rest(venue, kind, symbol, mutate.mutate(body, rng, data.draw(st.integers(1, 2))))


def test_the_mutations_reach_every_limit() -> None:
    """The vocabulary holds values past each fixed limit (else the property tests little)."""
    rng = random.Random(7)
    values = [mutate.hostile_value(rng) for _ in range(3000)]
    assert any(len(v) > 402 and v.startswith(b'"1.') for v in values)  # decimal text
    assert any(v.startswith(b'"\\u0041') and len(v) > 520 for v in values)  # escaped text
    assert any(v.startswith(b"[" * 65) for v in values)  # nesting
    assert b'"1e309"' in values and b'"-1.5"' in values
