"""Atheris harnesses, differential against the reference parsers.

    python -m fuzz.harness frames|rest|books [--venue all|VENUE] [--seconds N] [--workdir DIR]
    python -m fuzz.harness frames|rest|books --replay FILE     # one saved input, its finding shown

One input is ``venue byte + payload`` (the byte picks the venue in ``seeds.VENUES``; with
``--venue VENUE`` inputs of other venues are ignored and the mutator keeps the byte):

- ``frames``: the payload is one WebSocket frame (``differential.check_frame``);
- ``rest``: a second byte picks the body kind (even: depth snapshot, odd: open interest),
  the rest is the body (``differential.check_rest``);
- ``books``: the payload is frames separated by newlines, fed in order to both parsers and
  their records to two book builders (``differential.check_books``).

Seeds are written at start from ``../shared/corpus`` (``$MPF_CORPUS``) into the work
directory, with every saved regression case (``fuzz/regressions/<harness>/``). An input that
fails is written by libFuzzer as ``<workdir>/artifacts/crash-*``; ``scripts/ci-hardening.sh``
copies such inputs into ``fuzz/regressions/<harness>/``, where the tests replay them for ever.

The extension is fuzzed as built: the release build (Python coverage of the reference and of
this code guides the search), or the instrumented build of ``fuzz/build-instrumented.sh``
(libFuzzer coverage of the compiled core, AddressSanitizer and UBSan) for long campaigns.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["marketprism_fast", "fuzz"]):
    from fuzz import differential, mutate, seeds

HARNESSES = ("frames", "rest", "books")
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
MAX_LEN = 1 << 16


def run_one(harness: str, data: bytes, only: int | None = None) -> None:
    """The harness's check of one input (``only``: a venue index, other venues ignored)."""
    if len(data) < 2:
        return
    index = data[0] % len(seeds.VENUES)
    if only is not None and index != only:
        return
    venue = seeds.VENUES[index]
    payload = data[1:]
    if harness == "frames":
        differential.check_frame(venue, payload)
    elif harness == "rest":
        bodies = [b for b in seeds.rest_bodies(venue) if b[0] == "snapshot"] if seeds.corpus_present() else []
        symbol = bodies[0][1] if bodies else "BTCUSDT"
        differential.check_rest(venue, "snapshot" if payload[0] % 2 == 0 else "open_interest", symbol, payload[1:])
    else:
        differential.check_books(venue, payload.split(b"\n")[:64])


def seed_inputs(harness: str, only: int | None) -> list[bytes]:
    out = []
    for index, venue in enumerate(seeds.VENUES):
        if only is not None and index != only:
            continue
        head = bytes([index])
        if harness == "frames":
            out += [head + f for f in seeds.frames(venue)]
        elif harness == "rest":
            out += [head + (b"\x00" if kind == "snapshot" else b"\x01") + body for kind, _, body in seeds.rest_bodies(venue)]
        else:
            frames = [f for f in seeds.frames(venue, per_session=2000) if b"book" in f or b"depth" in f]
            out += [head + b"\n".join(frames[i : i + 8]) for i in range(0, min(len(frames), 400), 8)]
    return [s for s in out if len(s) <= MAX_LEN]


def regression_inputs(harness: str) -> list[Path]:
    folder = REGRESSIONS / harness
    return sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("harness", choices=HARNESSES)
    parser.add_argument("--venue", default="all", choices=("all", *seeds.VENUES))
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=-1, help="stop after this many inputs (-1: time only)")
    parser.add_argument("--replay", type=Path, default=None, help="check one saved input and exit (1 on a finding)")
    args, engine_args = parser.parse_known_args(argv)
    if args.replay is not None:
        logging.getLogger("marketprism_fast").setLevel(logging.CRITICAL)
        try:
            run_one(args.harness, args.replay.read_bytes())
        except differential.Mismatch as exc:
            sys.exit(f"fuzz {args.harness}: {args.replay}: {exc}")
        print(f"fuzz {args.harness}: {args.replay}: both implementations agree")
        return
    only = None if args.venue == "all" else seeds.VENUES.index(args.venue)
    # malformed inputs are the point here: their (sampled) log lines are still formatted, not shown
    logging.getLogger("marketprism_fast").setLevel(logging.CRITICAL)
    work = args.workdir or Path(tempfile.mkdtemp(prefix=f"mpf-fuzz-{args.harness}-"))
    corpus = work / "corpus"
    artifacts = work / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    count = seeds.write_seed_dir(corpus, seed_inputs(args.harness, only))
    for path in regression_inputs(args.harness):
        (corpus / f"regression-{path.name}").write_bytes(path.read_bytes())
    print(f"fuzz {args.harness} ({args.venue}): {count} seeds in {corpus}, artifacts in {artifacts}", flush=True)

    def test_one_input(data: bytes) -> None:
        run_one(args.harness, data, only)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if len(data) < 2 or rng.random() < 0.5:
            out = atheris.Mutate(data, max_size)
        else:
            head, body = data[:1], data[1:]
            if args.harness == "books":
                lines = body.split(b"\n")
                k = rng.randrange(len(lines))
                lines[k] = mutate.mutate(lines[k], rng)
                out = head + b"\n".join(lines)
            else:
                out = head + mutate.mutate(body, rng)
        if only is not None and out:
            out = bytes([only]) + out[1:]
        return out[:max_size]

    engine = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        f"-artifact_prefix={artifacts}/",
        f"-max_len={MAX_LEN}",
        "-rss_limit_mb=3072",
        "-timeout=20",
        f"-runs={args.runs}",
        "-print_final_stats=1",
        *engine_args,
        str(corpus),
    ]
    atheris.Setup(engine, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
