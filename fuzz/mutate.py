"""Mutations of JSON frames that reach the input limits and the values no venue sends.

A byte-level fuzzer rarely writes a 401-character decimal or 65 nested brackets; these
mutations replace, insert or wrap JSON tokens with such values, so that both the property
test (tests/test_parity_mutations.py) and the fuzz harnesses' custom mutator find limit
disagreements between the parsers quickly.
"""

from __future__ import annotations

import random
import re

from marketprism_fast.limits import MAX_DECIMAL_CHARS, MAX_DEPTH, MAX_TEXT_BYTES

# A JSON token of a (valid) frame: a string, a number, a literal, a bracket.
TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null|[\[\]{}]')
VALUE_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null')


def hostile_value(rng: random.Random) -> bytes:
    """A JSON value near or past a limit, or one no venue sends."""
    pick = rng.randrange(16)
    if pick == 0:  # a decimal text around MAX_DECIMAL_CHARS
        n = MAX_DECIMAL_CHARS + rng.randint(-2, 2)
        return b'"1.' + b"0" * (n - 2) + b'"'
    if pick == 1:  # an escaped text around the text limit, or the compiled core's old scratch sizes
        n = rng.choice((MAX_TEXT_BYTES, 256, 6 * MAX_TEXT_BYTES // 6, 3072)) + rng.randint(-2, 2)
        return b'"\\u0041' + b"B" * max(n - 1, 0) + b'"'
    if pick == 2:  # a plain text around the text limit
        return b'"' + b"C" * (MAX_TEXT_BYTES + rng.randint(-2, 2)) + b'"'
    if pick == 3:  # nesting around MAX_DEPTH
        d = MAX_DEPTH + rng.randint(-8, 4)
        return b"[" * d + b"]" * d
    if pick == 4:
        return rng.choice((b'"1e309"', b'"-1e309"', b'"1e400"', b'"-1.5"', b'"-0"', b'"0"', b'"-0.0"'))
    if pick == 5:
        return rng.choice((b"1e308", b"-1", b"-0", b"0", b"1e400", b"-1e-400", b"-0.0", b"18446744073709551616"))
    if pick == 6:
        return rng.choice((b'""', b"null", b"{}", b"[]", b"true", b"false", b"[[]]", b'[""]', b"[[1]]"))
    if pick == 7:
        return rng.choice((b'"\\ud800"', b'"\\u00e9"', b'"\\ud83d\\ude42"', b'"\\""', b'"a\\\\b"', b'"\\/"'))
    if pick == 8:  # a long number token
        return b"1" * (MAX_DECIMAL_CHARS + rng.randint(-5, 5))
    if pick == 9:  # a decimal text written with escapes
        return b'"\\u0031' + b"." + b"5" * rng.randint(1, 30) + b'"'
    if pick == 10:
        return b'"' + str(rng.uniform(-1e6, 1e6)).encode() + b'"'
    if pick == 11:
        return str(rng.randint(-(2**64), 2**64)).encode()
    if pick == 12:  # an object nested around the limit
        d = MAX_DEPTH + rng.randint(-6, 3)
        return b'{"a":' * d + b"1" + b"}" * d
    if pick == 13:
        return b'"' + bytes(rng.choice(b"abcXYZ-_.0123456789") for _ in range(rng.randint(1, 40))) + b'"'
    if pick == 14:  # levels
        n = rng.randint(0, 5)
        return b"[" + b",".join(b'["%d","%d"]' % (rng.randint(0, 9), rng.randint(0, 9)) for _ in range(n)) + b"]"
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))


def mutate(frame: bytes, rng: random.Random, edits: int = 1) -> bytes:
    """``edits`` token-level mutations of ``frame``."""
    data = frame
    for _ in range(edits):
        data = _one(data, rng)
    return data


def _one(data: bytes, rng: random.Random) -> bytes:
    tokens = list(TOKEN.finditer(data))
    values = [t for t in tokens if VALUE_TOKEN.fullmatch(t.group())]
    op = rng.randrange(7)
    if op <= 2 and values:  # replace a value
        t = rng.choice(values)
        return data[: t.start()] + hostile_value(rng) + data[t.end() :]
    if op == 3:  # a new member in an object
        opens = [t for t in tokens if t.group() == b"{"]
        if opens:
            t = rng.choice(opens)
            key = rng.choice((b'"x"', b'"p"', b'"s"', b'"data"', b'"e"', b'"channel"', b'"instId"'))
            return data[: t.end()] + key + b":" + hostile_value(rng) + b"," + data[t.end() :]
    if op == 4 and values:  # wrap a value in brackets
        t = rng.choice(values)
        d = rng.choice((1, 2, MAX_DEPTH - 5, MAX_DEPTH, MAX_DEPTH + 1))
        return data[: t.start()] + b"[" * d + t.group() + b"]" * d + data[t.end() :]
    if op == 5 and tokens:  # repeat a token's span (an element, a member value)
        t = rng.choice(tokens)
        return data[: t.end()] + b"," + t.group() + data[t.end() :]
    if not data:
        return hostile_value(rng)
    at = rng.randrange(len(data))  # a byte edit
    kind = rng.randrange(3)
    if kind == 0:
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    if kind == 1:
        return data[:at] + data[at + 1 :]
    return data[:at] + bytes([rng.randrange(256)]) + data[at:]
