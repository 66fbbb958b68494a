# cython: language_level=3
"""The per-connection WebSocket listener: each frame's payload goes to the venue parser
inside picows's callback, as a pointer into picows's read buffer (valid only during the call).

Per data frame the only call out of C is ``ParserBase.feed_ptr`` (a C method). Counters,
receive times and the venue's control replies live in C fields, read by ``ws.py`` at scrape
or watchdog time. A parser that is not compiled (the reference implementation) is fed
through its Python ``feed`` instead.

Modes (``mode``): FEED hands frames to the parser; CAPTURE keeps ``(ts_recv, bytes)`` pairs
in ``captured`` instead (a connection opening beside one that is about to retire, and the
recorder: both rare, so a Python object per frame is acceptable there); DISCARD counts and
drops (a retired connection closing).
"""

from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcmp


cdef extern from "<string.h>" nogil:
    void* memmem(const void* haystack, size_t haystacklen, const void* needle, size_t needlelen)
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC, CLOCK_REALTIME

from picows.picows cimport WSListener, WSTransport, WSFrame, WSMsgType
from marketprism_fast._parse cimport ParserBase

FEED = 0
CAPTURE = 1
DISCARD = 2

cdef enum:
    PARSE_SAMPLE_EVERY = 64  # one fed frame in this many is timed (parse_seconds)

cdef enum:
    M_FEED = 0
    M_CAPTURE = 1
    M_DISCARD = 2


cdef inline int64_t _now(int clock) noexcept nogil:
    cdef timespec ts
    clock_gettime(clock, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


def monotonic_ns() -> int:
    """The clock of ``last_frame_ns`` (CLOCK_MONOTONIC, ns)."""
    return _now(CLOCK_MONOTONIC)


cdef class FrameListener(WSListener):
    """One WebSocket connection's frames into one (shared) venue parser.

    ``text_ping``/``text_pong``: the venue's application-level keep-alive (OKX ``ping``/``pong``);
    when set, picows's idle auto-ping sends ``text_ping`` and recognises ``text_pong``.
    ``test_reply``: sent whenever a frame is a heartbeat ``test_request`` (Deribit), detected by
    the compiled parser's ``test_requests`` counter moving (or a byte search when not feeding).
    ``on_disconnected``: called once with this listener when the connection ends.
    """

    cdef ParserBase cparser
    cdef object pyparser
    cdef readonly object parser
    cdef public object on_disconnected
    cdef public object on_connected
    cdef WSTransport transport
    cdef bytes _text_ping
    cdef bytes _text_pong
    cdef bytes _test_reply
    cdef public int mode
    cdef public list captured

    cdef readonly uint64_t frames          # data (TEXT/BINARY) frames received
    cdef readonly uint64_t payload_bytes   # their payload bytes
    cdef readonly uint64_t pings           # server PING frames (each answered with PONG)
    cdef readonly uint64_t pongs           # PONG frames and text pongs received
    cdef readonly uint64_t test_requests   # heartbeat requests answered with test_reply
    cdef readonly uint64_t discarded       # frames dropped in DISCARD mode
    cdef readonly uint64_t fragmented      # messages that came in fragments (joined, then handled)
    # Parse time, sampled: every PARSE_SAMPLE_EVERY-th fed frame is timed around feed_ptr
    # (two clock readings would cost a third of a small frame's parse if taken for each one);
    # parse_seconds() scales the sampled time up by the frames fed.
    cdef readonly uint64_t fed             # frames handed to the parser
    cdef readonly uint64_t parse_samples   # of those, the ones timed
    cdef readonly int64_t parse_sampled_ns # their parse time
    cdef bytearray _partial
    cdef readonly int64_t last_frame_ns    # CLOCK_MONOTONIC of the last frame of any type (0: none yet)
    cdef readonly int64_t connected_ns     # CLOCK_MONOTONIC when the handshake completed
    cdef readonly bint connected
    cdef int64_t ts_recv
    cdef bint fresh_read                   # the next frame starts a new read from the socket

    def __init__(self, parser, *, text_ping=None, text_pong=None, test_reply=None, on_connected=None, on_disconnected=None):
        self.parser = parser
        if isinstance(parser, ParserBase):
            self.cparser = <ParserBase>parser
            self.pyparser = None
        else:
            self.cparser = None
            self.pyparser = parser
        self._text_ping = text_ping
        self._text_pong = text_pong
        self._test_reply = test_reply
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.mode = M_FEED
        self.captured = []
        self.fresh_read = True

    @property
    def transport(self):
        return self.transport

    cpdef on_ws_connected(self, WSTransport transport):
        self.transport = transport
        self.connected = True
        self.connected_ns = _now(CLOCK_MONOTONIC)
        self.last_frame_ns = self.connected_ns
        if self.on_connected is not None:
            self.on_connected(self)

    cpdef on_ws_disconnected(self, WSTransport transport):
        self.connected = False
        if self.on_disconnected is not None:
            callback = self.on_disconnected
            self.on_disconnected = None
            callback(self)

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef WSMsgType t = frame.msg_type
        cdef const char* p = frame.payload_ptr
        cdef Py_ssize_t n = frame.payload_size
        cdef uint64_t before
        cdef int64_t started
        # Frames delivered from one socket read arrived together: one clock reading each.
        if self.fresh_read:
            self.ts_recv = _now(CLOCK_REALTIME)
            self.last_frame_ns = _now(CLOCK_MONOTONIC)
        self.fresh_read = frame.last_in_buffer
        if not frame.fin or t == WSMsgType.CONTINUATION:
            if t == WSMsgType.CONTINUATION or t == WSMsgType.TEXT or t == WSMsgType.BINARY:
                self._fragment(frame, t)
                return
        if t == WSMsgType.TEXT or t == WSMsgType.BINARY:
            if self._text_pong is not None and n == len(self._text_pong) and memcmp(p, <const char*>self._text_pong, n) == 0:
                self.pongs += 1
                return
            self.frames += 1
            self.payload_bytes += n
            if self.mode == M_FEED:
                if self.cparser is not None:
                    before = self.cparser.n_test_requests
                    self.fed += 1
                    if self.fed % PARSE_SAMPLE_EVERY == 0:
                        started = _now(CLOCK_MONOTONIC)
                        self.cparser.feed_ptr(p, n, self.ts_recv)
                        self.parse_sampled_ns += _now(CLOCK_MONOTONIC) - started
                        self.parse_samples += 1
                    else:
                        self.cparser.feed_ptr(p, n, self.ts_recv)
                    if self.cparser.n_test_requests != before and self._test_reply is not None:
                        self._answer_test_request(transport)
                else:
                    before = self.pyparser.stats()["test_requests"] if self._test_reply is not None else 0
                    self.pyparser.feed(frame.get_payload_as_bytes(), self.ts_recv)
                    if self._test_reply is not None and self.pyparser.stats()["test_requests"] != before:
                        self._answer_test_request(transport)
            elif self.mode == M_CAPTURE:
                self.captured.append((self.ts_recv, frame.get_payload_as_bytes()))
                if self._test_reply is not None and memmem(p, <size_t>n, <const char*>b"test_request", 12) != NULL:
                    self._answer_test_request(transport)
            else:
                self.discarded += 1
        elif t == WSMsgType.PING:
            self.pings += 1
            transport.send(WSMsgType.PONG, frame.get_payload_as_bytes())
        elif t == WSMsgType.PONG:
            self.pongs += 1
        elif t == WSMsgType.CLOSE:
            # Echo the close (RFC 6455 5.5.1); picows then drops the connection.
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()

    cdef void _fragment(self, WSFrame frame, WSMsgType t):
        """A message sent in fragments (RFC 6455 5.4; no venue does this in practice): gathered,
        then handled whole. Rare, so it may cost Python objects."""
        if t != WSMsgType.CONTINUATION:
            self._partial = bytearray(frame.get_payload_as_bytes())
            return
        if self._partial is None:
            return  # a continuation without a start: nothing to join it to
        self._partial += frame.get_payload_as_bytes()
        if frame.fin:
            whole = bytes(self._partial)
            self._partial = None
            self.fragmented += 1
            self._whole(whole)

    cdef void _whole(self, bytes data):
        cdef Py_ssize_t n = len(data)
        cdef uint64_t before
        self.frames += 1
        self.payload_bytes += n
        if self.mode == M_FEED:
            if self.cparser is not None:
                before = self.cparser.n_test_requests
                self.cparser.feed_ptr(<const char*>data, n, self.ts_recv)
                if self.cparser.n_test_requests != before and self._test_reply is not None:
                    self._answer_test_request(self.transport)
            else:
                self.pyparser.feed(data, self.ts_recv)
        elif self.mode == M_CAPTURE:
            self.captured.append((self.ts_recv, data))
        else:
            self.discarded += 1

    cdef void _answer_test_request(self, WSTransport transport):
        self.test_requests += 1
        transport.send(WSMsgType.TEXT, self._test_reply)

    cpdef send_user_specific_ping(self, WSTransport transport):
        if self._text_ping is not None:
            transport.send(WSMsgType.TEXT, self._text_ping)
        else:
            transport.send_ping()

    cpdef is_user_specific_pong(self, WSFrame frame):
        cdef Py_ssize_t n = frame.payload_size
        if self._text_pong is None:
            return frame.msg_type == WSMsgType.PONG
        if frame.msg_type == WSMsgType.TEXT and n == len(self._text_pong) and memcmp(frame.payload_ptr, <const char*>self._text_pong, n) == 0:
            # Consumed here, so on_ws_frame does not see it: keep its bookkeeping.
            self.pongs += 1
            self.last_frame_ns = _now(CLOCK_MONOTONIC)
            self.fresh_read = frame.last_in_buffer
            return True
        return frame.msg_type == WSMsgType.PONG

    def send_text(self, data) -> None:
        """Send one TEXT frame (subscriptions); no-op when the connection has gone."""
        if self.transport is not None and self.connected:
            self.transport.send(WSMsgType.TEXT, data)

    def take_captured(self) -> list:
        """The captured ``(ts_recv, bytes)`` pairs so far (the list starts afresh)."""
        out = self.captured
        self.captured = []
        return out

    def disconnect(self) -> None:
        if self.transport is not None:
            self.transport.disconnect()

    def counters(self) -> dict:
        return {"frames": self.frames, "bytes": self.payload_bytes, "pings": self.pings, "pongs": self.pongs,
                "test_requests": self.test_requests, "discarded": self.discarded, "fragmented": self.fragmented,
                "parse_seconds": self.parse_seconds()}

    def parse_seconds(self) -> float:
        """Estimated time spent in the parser: the sampled frames' time scaled to every frame fed."""
        if self.parse_samples == 0:
            return 0.0
        return self.parse_sampled_ns / 1e9 * (<double>self.fed / self.parse_samples)
