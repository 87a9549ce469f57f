"""The access checks where the reader meets a client first.

RATE_LIMIT_PER_MINUTE takes one token per request whoever judges it: a
request with a body (whose token the reader reads) is not counted again by
the front it is handed to, and token guesses with a body, which the reader
answers 401 itself, run out of tokens like any other request.  A client
that SERVER_ALLOWED_IPS refuses gets its 403 ip.not_allowed even when the
reader is full (SERVER_MAX_WAITING), while an allowed one gets 503.
"""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402
from rbtest import Results, Runboxd, is_error, parse_raw  # noqa: E402
from test_access import raw, request, run, wait_answering  # noqa: E402

R = Results("reader_access")


def test_rate_once():
    # A token every 60 s: none comes back during the test.
    s = Runboxd(RATE_LIMIT_PER_MINUTE=1, RATE_LIMIT_BURST=2)
    s.start(wait=False)
    try:
        R.check(wait_answering(s, "127.0.0.9", "/health") not in (None, 429), "the server answers /health")
        st, body = run(s, "runbox/sh", src="127.0.0.5")
        R.check(st == 200, "a run (a body: the reader takes its token)", body)
        st, _, body = request(s, "GET", "/", src="127.0.0.5")
        R.check(st == 200, "the front does not take a second token for it: burst 2 leaves one for GET /",
                (st, body))
        st, h, body = request(s, "GET", "/", src="127.0.0.5")
        R.check(st == 429 and is_error(body, "rate.limited") and int(h.get("retry-after", "0")) >= 1,
                "the third request is refused (429, Retry-After)", (st, h, body))
        guess = b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: wrong\r\nContent-Type: application/json\r\n" \
                b"Content-Length: 2\r\n\r\n{}"
        for i in range(2):
            st, _, body = parse_raw(raw(s, guess, "127.0.0.6"))
            R.check(st == 401 and is_error(body, "access_token"), "token guess %d with a body: 401" % (i + 1),
                    (st, body))
        st, h, body = parse_raw(raw(s, guess, "127.0.0.6"))
        R.check(st == 429 and is_error(body, "rate.limited") and int(h.get("retry-after", "0")) >= 1,
                "the third guess is rate-limited by the reader (429, Retry-After), not answered 401",
                (st, h, body))
        R.check(s.request("GET", "/health")[0] == 200, "/health stays exempt")
    finally:
        R.check(s.stop() == 0, "rate-limited server stops cleanly")


def test_refused_when_full():
    s = Runboxd(SERVER_ALLOWED_IPS="127.0.0.2/32", SERVER_MAX_WAITING=1, SERVER_REQUEST_TIMEOUT=60)
    s.start(wait=False)
    held = None
    try:
        R.check(wait_answering(s, "127.0.0.2") == 200, "127.0.0.2 (allowed) gets 200")
        # The one waiting place, taken by an allowed client that never ends its head.
        held = socket.create_connection(("127.0.0.1", s.port), timeout=60, source_address=("127.0.0.2", 0))
        held.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")

        def full():
            st, _, body = parse_raw(raw(s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.2"))
            return st == 503 and is_error(body, "server.busy")
        R.check(rbtest.wait_until(full, timeout=60), "with the waiting place taken an allowed client gets 503")
        st, h, body = parse_raw(raw(s, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.1"))
        R.check(st == 403 and is_error(body, "ip.not_allowed") and h.get("connection") == "close",
                "a refused address still gets 403 ip.not_allowed, not 503", (st, h, body))
    finally:
        if held is not None:
            held.close()
        R.check(s.stop() == 0, "SERVER_ALLOWED_IPS server stops cleanly")


def main():
    try:
        test_rate_once()
        test_refused_when_full()
    except Exception as e:  # a crash of the test is a failure, with its reason
        R.check(False, "test ran to the end", repr(e))
    R.done()


if __name__ == "__main__":
    main()
