"""Documented venue payloads (tests/fixtures/<venue>/) through every parser implementation.

Each ``NAME.frames.jsonl`` holds frames exactly as the venue sends them, and
``NAME.expected.jsonl`` the records they must produce per data-model.md, written by hand
(tests/fixtures/README.md says where each shape comes from and which choices were made
where the contract is silent). Frame ``i`` is fed with ``ts_recv = BASE_TS + i``; a
``NAME.open_interest.json`` holds REST open-interest bodies, one per line, fed the same way
through ``feed_open_interest``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from marketprism_fast.instruments import InstrumentRegistry
from marketprism_fast.parser import compiled_available, make_parser
from marketprism_fast.parser import FrameStatus, Parser
from marketprism_fast.records import KIND_ORDER, VENUES
from marketprism_fast.refdata import load_metadata_files
from marketprism_fast.symbols import SymbolMetadata

from .helpers import FIXTURES, read_lines, records_by_frame, same_value

BASE_TS = 1_700_000_000_000_000_000


def _fixtures() -> list[tuple[str, Path]]:
    found = []
    for venue in VENUES:
        for path in sorted((FIXTURES / venue).glob("*")):
            if path.name.endswith((".frames.jsonl", ".open_interest.json")):
                found.append((venue, path))
    return found


FIXTURE_FILES = _fixtures()


def _metadata(venue: str) -> SymbolMetadata:
    folder = FIXTURES / venue
    return load_metadata_files(sorted(folder.glob("exchangeInfo.json")) + sorted(folder.glob("*.refdata.jsonl")))


def _expected(path: Path) -> list[dict]:
    name = path.name.split(".")[0]
    return [json.loads(line) for line in read_lines(path.with_name(f"{name}.expected.jsonl"))]


def _open_interest_records(parser: Parser, bodies: list[bytes]) -> list[tuple[int, list[dict]]]:
    out = []
    for i, body in enumerate(bodies):
        status = parser.feed_open_interest(body, BASE_TS + i)
        rows = []
        for batch in sorted(parser.take(), key=lambda b: KIND_ORDER[b.kind.name]):
            for row in batch.rows():
                row["kind"] = batch.kind.name
                rows.append(row)
        out.append((int(status), rows))
    return out


def _differences(actual: list[dict], expected: list[dict]) -> list[str]:
    problems = []
    if len(actual) != len(expected):
        problems.append(f"{len(actual)} records, expected {len(expected)}")
    for n, (got, want) in enumerate(zip(actual, expected)):
        if set(got) != set(want):
            problems.append(f"record {n}: columns {sorted(set(got) ^ set(want))} differ")
            continue
        for column, value in want.items():
            if not same_value(got[column], value):
                problems.append(f"record {n} ({want['kind']} at ts_recv {want['ts_recv']}): {column} = {got[column]!r}, expected {value!r}")
    return problems


@pytest.mark.parametrize("with_metadata", [True, False], ids=["refdata", "rules"])
@pytest.mark.parametrize(("venue", "path"), FIXTURE_FILES, ids=[f"{v}/{p.name.split('.')[0]}" for v, p in FIXTURE_FILES])
def test_fixture(venue: str, path: Path, with_metadata: bool, implementation: str) -> None:
    if implementation == "compiled" and not compiled_available(venue):
        pytest.skip(f"the compiled core has no complete {venue} parser yet (not in _parse.COMPILED_VENUES)")
    metadata = _metadata(venue) if with_metadata else None
    parser = make_parser(venue, InstrumentRegistry(venue, metadata), implementation=implementation)
    frames = read_lines(path)
    if path.name.endswith(".open_interest.json"):
        results = _open_interest_records(parser, frames)
    else:
        results = list(records_by_frame(parser, frames, (BASE_TS + i for i in range(len(frames)))))
    assert len(results) == len(frames)
    malformed = [i for i, (status, _) in enumerate(results) if status == FrameStatus.MALFORMED]
    assert not malformed, f"documented frames counted as malformed: {malformed}"
    actual = [row for _, rows in results for row in rows]
    problems = _differences(actual, _expected(path))
    assert not problems, "\n".join(problems[:30])


def test_every_fixture_has_expected_records_and_a_readme_entry() -> None:
    readme = (FIXTURES / "README.md").read_text()
    listed = set(re.findall(r"`(\w+/\w+)`", readme))
    for venue, path in FIXTURE_FILES:
        name = path.name.split(".")[0]
        assert path.with_name(f"{name}.expected.jsonl").exists(), path
        assert f"{venue}/{name}" in listed, f"{venue}/{name} is not described in tests/fixtures/README.md"
    expected_files = sorted(FIXTURES.glob("*/*.expected.jsonl"))
    assert len(expected_files) == len(FIXTURE_FILES)


def test_expected_records_follow_the_contract_layout() -> None:
    """Hand-written files: every column of the kind, in frame order, kinds in contract order."""
    from marketprism_fast.records import kind

    for venue, path in FIXTURE_FILES:
        previous = (-1, -1)
        for record in _expected(path):
            assert list(record) == ["kind", *kind(record["kind"]).column_names], (path.name, record)
            assert record["exchange"] == venue
            position = (record["ts_recv"] - BASE_TS, KIND_ORDER[record["kind"]])
            assert position >= previous, (path.name, record)
            previous = position
