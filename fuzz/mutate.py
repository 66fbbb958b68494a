"""Mutations of JSON frames that reach the input limits and the values no venue sends.

A byte-level fuzzer rarely writes a 401-character decimal or 65 nested brackets; these
mutations replace, insert or wrap JSON tokens with such values, so that both the property
test (tests/test_parity_mutations.py) and the fuzz harnesses' custom mutator find limit
disagreements between the parsers quickly.

Member names get their own mutations, because a parser that compares names as raw bytes
agrees with a JSON decoder on every real frame and on no frame that spells a name otherwise:
a name written with escapes (``"\\u0070"`` is ``p``), a twin member of the same name (plain
or escaped, before or after the original: the last one counts), and an object padded with
many more members than any venue sends (past the compiled core's stack tables and its index
of one-character names).
"""

from __future__ import annotations

import random
import re

from marketprism_fast.limits import MAX_DECIMAL_CHARS, MAX_DEPTH, MAX_TEXT_BYTES

# A JSON token of a (valid) frame: a string, a number, a literal, a bracket.
TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null|[\[\]{}]')
VALUE_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null')
# A member name (a string followed by its colon) and, for a scalar member, its value.
NAME = re.compile(rb'"(?:[^"\\]|\\.)*"(?=\s*:)')
MEMBER = re.compile(rb'("(?:[^"\\]|\\.)*")\s*:\s*("(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)')
# Member counts around the compiled core's sizes: its stack tables (48 members) and its index
# of one-character names (255 positions).
PAD_COUNTS = (1, 2, 46, 47, 48, 49, 50, 64, 96, 97, 254, 255, 256, 257, 300)
# Names venues use (so padding and twins hit what parsers look up) and some they do not.
VENUE_NAMES = (b"e", b"E", b"s", b"p", b"q", b"T", b"t", b"a", b"m", b"b", b"B", b"A", b"u", b"U", b"k", b"o",
               b"pu", b"data", b"stream", b"arg", b"channel", b"instId", b"action", b"event", b"ts", b"px", b"sz",
               b"side", b"bids", b"asks", b"params", b"method", b"instrument_name", b"timestamp", b"price",
               b"amount", b"direction", b"trade_id", b"lastUpdateId", b"openInterest", b"symbol", b"code", b"msg",
               b"x", b"id", b"result", b"type")


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


def escape_name(name: bytes, rng: random.Random) -> bytes:
    """The JSON string text of ``name`` (decoded, ASCII) with at least one character written
    as an escape: ``\\uXXXX`` (either case of hex digits) or, for ``/``, ``\\/``."""
    chars = [bytes([c]) for c in name] or [b""]
    forced = rng.randrange(len(chars))
    out = []
    for i, ch in enumerate(chars):
        if ch and (i == forced or rng.random() < 0.3):
            if ch == b"/" and rng.random() < 0.5:
                out.append(b"\\/")
            else:
                code = b"%04x" % ch[0]
                out.append(b"\\u" + (code.upper() if rng.random() < 0.5 else code))
        else:
            out.append(ch)
    return b"".join(out)


def spelled(name: bytes, rng: random.Random) -> bytes:
    """A name as a JSON string token, plain or with escapes."""
    return b'"' + (escape_name(name, rng) if rng.random() < 0.5 else name) + b'"'


def padding(rng: random.Random, count: int | None = None) -> bytes:
    """``count`` members (one of PAD_COUNTS when None), joined by commas: names of venues and
    new ones, some repeated, some escaped; small values."""
    n = count if count is not None else rng.choice(PAD_COUNTS)
    members = []
    for i in range(n):
        pick = rng.randrange(4)
        if pick == 0:
            name = rng.choice(VENUE_NAMES)
        elif pick == 1:
            name = bytes([rng.choice(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")])
        else:
            name = b"x%d" % (i if pick == 2 else rng.randrange(n))
        value = rng.choice((b"0", b"1", b'""', b'"1"', b"null", b"true", b"[]", b"{}", b'{"a":1}', b"[1,2]"))
        members.append(spelled(name, rng) + b":" + value)
    return b",".join(members)


def mutate(frame: bytes, rng: random.Random, edits: int = 1) -> bytes:
    """``edits`` token-level mutations of ``frame``."""
    data = frame
    for _ in range(edits):
        data = _one(data, rng)
    return data


def _one(data: bytes, rng: random.Random) -> bytes:
    if rng.randrange(4) == 0:
        named = _name_edit(data, rng)
        if named is not None:
            return named
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


def _name_edit(data: bytes, rng: random.Random) -> bytes | None:
    """A mutation of member names: an escaped name, a twin member, an object padded with many
    members. None when the frame has no member to work on."""
    op = rng.randrange(3)
    if op == 0:  # a name spelled with escapes (the same name to a decoder)
        names = [t for t in NAME.finditer(data) if b"\\" not in t.group()]
        if not names:
            return None
        t = rng.choice(names)
        return data[: t.start() + 1] + escape_name(t.group()[1:-1], rng) + data[t.end() - 1 :]
    if op == 1:  # a twin of a scalar member, before or after it, plain or escaped
        members = list(MEMBER.finditer(data))
        if not members:
            return None
        m = rng.choice(members)
        name = m.group(1)[1:-1]
        if b"\\" in name:
            twin_name = b'"' + name + b'"'
        else:
            twin_name = spelled(name, rng)
        choice = rng.randrange(3)
        if choice == 0:
            value = hostile_value(rng)
        elif choice == 1:
            value = m.group(2)
        else:
            value = rng.choice([v.group(2) for v in members])
        twin = twin_name + b":" + value
        if rng.random() < 0.5:
            return data[: m.start()] + twin + b"," + data[m.start() :]
        return data[: m.end()] + b"," + twin + data[m.end() :]
    # many members: at the front of an object, or at its end (before its closing brace)
    tokens = list(TOKEN.finditer(data))
    if rng.random() < 0.5:
        opens = [t for t in tokens if t.group() == b"{"]
        if not opens:
            return None
        t = rng.choice(opens)
        rest = data[t.end() :].lstrip()
        sep = b"" if rest.startswith(b"}") else b","
        return data[: t.end()] + padding(rng) + sep + data[t.end() :]
    closes = [t for t in tokens if t.group() == b"}" and data[: t.start()].rstrip()[-1:] not in (b"{", b"")]
    if not closes:
        return None
    t = rng.choice(closes)
    return data[: t.start()] + b"," + padding(rng) + data[t.start() :]
