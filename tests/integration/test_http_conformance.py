#!/usr/bin/env python3
"""RFC 9110/9112 details of the front, checked against the real runboxd and
a private dockerd: GET / as the reader's own answer, HEAD, Host, absolute-form targets, 401's challenge,
early 413 on a chunk size, ambiguous token and type fields, duplicate JSON
keys, the token checked before the body is asked for or read, media-type
parameters and content codings, the depth message, a leading empty line
and lengths with leading zeros."""

import json
import os
import re
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rbtest import Results, Runboxd, containers, is_error, parse_raw, wait_until  # noqa: E402

R = Results("test_http_conformance")
MAX_BODY = 100000
CHALLENGE = 'Bearer realm="runboxd"'
SH_PAYLOAD = {"language": "sh", "files": [{"name": "main.sh", "content": "echo conform"}]}


def connect(s, timeout=10):
    return socket.create_connection(("127.0.0.1", s.port), timeout=timeout)


def read_all(c):
    """Everything until the server closes (or the socket's timeout)."""
    out = b""
    while True:
        try:
            b = c.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        out += b
    return out


def exchange(s, data, timeout=10):
    """Send raw bytes, keep our side open, read the answer: (status, headers, body, raw)."""
    c = connect(s, timeout)
    try:
        c.sendall(data)
        raw = read_all(c)
    finally:
        c.close()
    st, h, body = parse_raw(raw)
    return st, h, body, raw


def head(method, target, fields=(), version=b"HTTP/1.1"):
    lines = [method + b" " + target + b" " + version] + list(fields)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def post_run(s, body, fields=(), token=None):
    tok = (token if token is not None else s.token).encode()
    return head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: " + tok,
                                   b"Content-Length: %d" % len(body)] + list(fields)) + body


def test_head(s):
    st, h, body, _ = exchange(s, head(b"GET", b"/", [b"Host: x"]))
    get_len = h.get("content-length")
    R.check(st == 200 and get_len == str(len(body)), "GET / for comparison", (st, h))
    st, h, body, raw = exchange(s, head(b"HEAD", b"/", [b"Host: x"]))
    R.check(st == 200 and h.get("content-length") == get_len and body == b"",
            "HEAD /: 200, GET's Content-Length, no content", raw)
    tok = b"X-Access-Token: " + s.token.encode()
    st, h, body, raw = exchange(s, head(b"HEAD", b"/version", [b"Host: x", tok]))
    R.check(st == 200 and int(h.get("content-length", "0")) > 0 and body == b"",
            "HEAD /version with the token: 200, no content", raw)
    st, h, body, raw = exchange(s, head(b"HEAD", b"/version", [b"Host: x"]))
    R.check(st == 401 and h.get("www-authenticate") == CHALLENGE and body == b"",
            "HEAD /version without a token: 401, no content", raw)
    st, h, body, raw = exchange(s, head(b"HEAD", b"/run", [b"Host: x"]))
    R.check(st == 405 and h.get("allow") == "POST" and body == b"", "HEAD /run: 405 Allow: POST, no content", raw)
    st, h, body, raw = exchange(s, head(b"HEAD", b"/nope", [b"Host: x"]))
    R.check(st == 404 and body == b"", "HEAD of an unknown route: 404, no content", raw)
    for path in (b"/", b"/version"):
        st, h, body, raw = exchange(s, head(b"DELETE", path, [b"Host: x"]))
        R.check(st == 405 and h.get("allow") == "GET, HEAD" and is_error(body, "method"),
                "DELETE %s: 405 Allow: GET, HEAD" % path.decode(), raw)
    st, h, body, raw = exchange(s, head(b"get", b"/", [b"Host: x"]))
    R.check(st == 405, "methods are case-sensitive: get / is 405", raw)


def read_until_close(c):
    """Everything until the server closes; a reset is an error, not an end."""
    out = b""
    while True:
        b = c.recv(65536)
        if not b:
            return out
        out += b


def test_root_by_reader(s):
    """GET / and HEAD / are the reader's own answer (no slot, no hand-off):
    the same bytes in every form of the target, with every slot busy, and a
    request pipelined behind one is drained, not answered by a reset."""
    st, h, body, raw = exchange(s, head(b"GET", b"/", [b"Host: x"]))
    try:
        js = json.loads(body)
    except ValueError:
        js = {}
    R.check(st == 200 and h.get("content-type") == "application/json" and h.get("connection") == "close" and
            sorted(js) == ["description", "name", "version"] and js.get("name") == "runboxd",
            "GET /: docker-run's {name, version, description}, Connection: close", raw)
    for target in (b"/?x=1", b"http://x/", b"http://x", b"http://x/?y"):
        st2, _, body2, raw2 = exchange(s, head(b"GET", target, [b"Host: x"]))
        R.check(st2 == 200 and body2 == body, "GET %s: the same answer" % target.decode(), raw2)
    c = connect(s)
    try:
        c.sendall(head(b"GET", b"/", [b"Host: x"]) + head(b"GET", b"/version", [b"Host: x"]))
        try:
            got = read_until_close(c)
        except ConnectionResetError as e:
            got = repr(e).encode()
    finally:
        c.close()
    st2, _, body2 = parse_raw(got)
    R.check(st2 == 200 and body2 == body and got.count(b"HTTP/1.1") == 1,
            "a request pipelined behind GET /: one answer, then the close, no reset", got[:300])
    R.check(wait_until(lambda: re.search(r" GET / 200 \d+ms %dB\n" % len(raw), s.log())),
            "the reader logs GET / as a front would: method, path, status, time, bytes", s.log()[-300:])
    # Every slot busy: GET / still answers, while the runs go on.
    slots = int(s.config["SERVER_WORKER_THREADS"])
    sleepy = {"language": "sh", "files": [{"name": "main.sh", "content": "sleep 6; echo woke"}]}
    results = []
    threads = [threading.Thread(target=lambda: results.append(s.run("runbox/sh", sleepy, timeout=120)[0]))
               for _ in range(slots)]
    for t in threads:
        t.start()
    running = wait_until(lambda: len(containers(s.instance) or []) >= slots and
                         all(t.is_alive() for t in threads), timeout=90)
    st2, _, body2, raw2 = exchange(s, head(b"GET", b"/", [b"Host: x"]), timeout=30)
    busy = all(t.is_alive() for t in threads)
    for t in threads:
        t.join(120)
    R.check(running and busy and st2 == 200 and body2 == body,
            "GET / answers while all %d slots run (runs still going: %s)" % (slots, busy), raw2[:200])
    R.check(results == [200] * slots, "... and the runs end 200", results)


def test_host(s):
    cases = [
        ("no Host in HTTP/1.1", head(b"GET", b"/", []), 400),
        ("two Host lines", head(b"GET", b"/", [b"Host: a", b"Host: a"]), 400),
        ("two Host lines in HTTP/1.0", head(b"GET", b"/", [b"Host: a", b"host: b"], b"HTTP/1.0"), 400),
        ("Host with a space", head(b"GET", b"/", [b"Host: a b"]), 400),
        ("Host with a slash", head(b"GET", b"/", [b"Host: a/b"]), 400),
        ("Host with userinfo", head(b"GET", b"/", [b"Host: u@a"]), 400),
        ("Host with a bad port", head(b"GET", b"/", [b"Host: a:8x"]), 400),
        ("empty Host", head(b"GET", b"/", [b"Host:"]), 200),
        ("Host with an IPv6 literal and port", head(b"GET", b"/", [b"Host: [::1]:8088"]), 200),
        ("HTTP/1.0 without Host", head(b"GET", b"/", [], b"HTTP/1.0"), 200),
    ]
    for name, req, want in cases:
        st, _, body, raw = exchange(s, req)
        ok = st == want and (want == 200 or is_error(body, "request.malformed"))
        R.check(ok, "%s -> %d" % (name, want), raw[:200])


def test_absolute_form(s):
    port = str(s.port).encode()
    st, _, body, raw = exchange(s, head(b"GET", b"http://127.0.0.1:" + port + b"/", [b"Host: 127.0.0.1"]))
    R.check(st == 200 and b"runboxd" in body, "GET http://127.0.0.1:PORT/ is routed to /", raw[:200])
    st, _, body, raw = exchange(s, head(b"GET", b"HTTP://Elsewhere.example/version?x=1",
                                        [b"Host: x", b"X-Access-Token: " + s.token.encode()]))
    R.check(st == 200 and b"docker" in body, "absolute-form /version: routed by path, authority ignored", raw[:200])
    st, _, body, raw = exchange(s, head(b"GET", b"http://h", [b"Host: h"]))
    R.check(st == 200, "absolute-form with no path means /", raw[:200])
    st, _, body, raw = exchange(s, head(b"GET", b"http://h/nope", [b"Host: h"]))
    R.check(st == 404 and is_error(body, "route"), "absolute-form to an unknown path: 404", raw[:200])
    for bad in (b"ftp://h/", b"http:///", b"http://u@h/", b"h/"):
        st, _, body, raw = exchange(s, head(b"GET", bad, [b"Host: h"]))
        R.check(st == 400 and is_error(body, "request.malformed"), "target %s: 400" % bad.decode(), raw[:200])


def test_challenge(s):
    for name, req in [
        ("GET /version without a token", head(b"GET", b"/version", [b"Host: x"])),
        ("GET /version with a wrong token", head(b"GET", b"/version", [b"Host: x", b"X-Access-Token: nope"])),
        ("POST /run with a wrong token", post_run(s, b"{}", [b"Content-Type: application/json"], token="nope")),
        ("Authorization: Basic only", head(b"GET", b"/version", [b"Host: x", b"Authorization: Basic eDp5"])),
    ]:
        st, h, body, raw = exchange(s, req)
        R.check(st == 401 and h.get("www-authenticate") == CHALLENGE and is_error(body, "access_token"),
                "%s: 401 with WWW-Authenticate: %s" % (name, CHALLENGE), raw[:300])


def test_chunk_limit(s):
    # The size line says more than the limit: 413 at once, not 408 at the deadline
    # (the connection stays open, and no data follows).
    for name, size_line in (("whole size line", b"%x\r\n" % (MAX_BODY + 1)),
                            ("size digits only", b"%x" % (MAX_BODY * 16)),
                            ("after a first chunk", b"5\r\nhello\r\n%x\r\n" % MAX_BODY)):
        req = head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: " + s.token.encode(),
                                      b"Transfer-Encoding: chunked"]) + size_line
        st, _, body, raw = exchange(s, req)
        R.check(st == 413 and is_error(body, "request.size"), "chunk size over the limit (%s): 413" % name, raw[:200])
    # At the limit exactly it is read (and judged as JSON).
    data = b" " * (MAX_BODY - 2) + b"{}"
    req = head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: " + s.token.encode(),
                                  b"Transfer-Encoding: chunked"]) + b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n"
    st, _, body, raw = exchange(s, req)
    R.check(st == 400 and is_error(body, "request.image"), "chunked body at the limit is read", raw[:200])


def test_ambiguous_fields(s):
    t = s.token.encode()
    body = b'{"image":"runbox/sh","payload":{}}'
    cases = [
        ("right then wrong X-Access-Token", [b"X-Access-Token: " + t, b"X-Access-Token: nope"]),
        ("wrong then right X-Access-Token", [b"X-Access-Token: nope", b"X-Access-Token: " + t]),
        ("two equal X-Access-Token", [b"X-Access-Token: " + t, b"x-access-token: " + t]),
        ("two Authorization", [b"Authorization: Bearer " + t, b"Authorization: Bearer " + t]),
        ("X-Access-Token and Bearer differ", [b"X-Access-Token: " + t, b"Authorization: Bearer nope"]),
        ("X-Access-Token and Bearer differ (wrong first)", [b"X-Access-Token: nope", b"Authorization: Bearer " + t]),
        ("two Content-Type", [b"X-Access-Token: " + t, b"Content-Type: application/json",
                              b"Content-Type: application/json"]),
    ]
    for name, fields in cases:
        req = head(b"POST", b"/run", [b"Host: x", b"Content-Length: %d" % len(body)] + fields) + body
        st, _, rbody, raw = exchange(s, req)
        R.check(st == 400 and is_error(rbody, "request.malformed"), "%s: 400" % name, raw[:300])
    st, _, rbody, raw = exchange(s, head(b"GET", b"/version", [b"Host: x", b"X-Access-Token: " + t,
                                                                b"Authorization: bearer  " + t]))
    R.check(st == 200, "X-Access-Token and Authorization: Bearer that agree: 200", raw[:200])
    st, _, rbody, raw = exchange(s, head(b"GET", b"/version", [b"Host: x", b"X-Access-Token: " + t,
                                                                b"Authorization: Basic eDp5"]))
    R.check(st == 200, "X-Access-Token with a non-Bearer Authorization: 200", raw[:200])


def test_duplicate_json_keys(s):
    for name, body in [
        ("image twice", b'{"image":"runbox/sh","payload":{},"image":"runbox/sh"}'),
        ("payload twice", b'{"payload":{},"image":"runbox/sh","payload":{"language":"sh"}}'),
        ("image twice, once escaped", b'{"image":"x","\\u0069mage":"runbox/sh","payload":{}}'),
    ]:
        st, _, rbody, raw = exchange(s, post_run(s, body, [b"Content-Type: application/json"]))
        msg = json.loads(rbody).get("message", "") if is_error(rbody) else ""
        R.check(st == 400 and is_error(rbody, "request.json") and "more than once" in msg,
                "duplicate key (%s): 400 request.json" % name, raw[:300])


def test_token_before_body(s):
    body = json.dumps({"image": "runbox/sh", "payload": SH_PAYLOAD}).encode()
    # Expect: 100-continue with a wrong token: 401 straight away, never 100 Continue.
    c = connect(s)
    try:
        c.sendall(head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: nope", b"Content-Type: application/json",
                                          b"Expect: 100-continue", b"Content-Length: %d" % len(body)]))
        raw = read_all(c)
    finally:
        c.close()
    st, h, rbody = parse_raw(raw)
    R.check(raw.startswith(b"HTTP/1.1 401 ") and st == 401 and is_error(rbody, "access_token"),
            "Expect: 100-continue with a wrong token: 401, no 100 Continue", raw[:200])
    # A body announced but never sent: with a wrong token it is not waited for (401, not 408).
    st, _, rbody, raw = exchange(s, head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: nope",
                                                             b"Content-Length: 5000"]))
    R.check(st == 401, "wrong token, body not sent: 401 without reading it", raw[:200])
    R.check(s.wait_log(" POST /run 401 "),
            "the reader's log line for it names method and path, as a front's does", s.log()[-300:])
    for name, fields in [
        ("body over the limit", [b"Content-Length: %d" % (MAX_BODY + 1)]),
        ("no body", []),
        ("text/plain", [b"Content-Type: text/plain", b"Content-Length: 2"]),
        ("gzip coding", [b"Content-Encoding: gzip", b"Content-Length: 2"]),
    ]:
        for tok, want in ((b"nope", 401), (None, {"body over the limit": 413, "no body": 411}.get(name, 415))):
            f = [b"Host: x"] + ([b"X-Access-Token: " + (tok or s.token.encode())]) + fields
            st, _, rbody, raw = exchange(s, head(b"POST", b"/run", f) + (b"{}" if b"Content-Length: 2" in fields else b""))
            R.check(st == want, "%s with %s token: %d" % (name, "a wrong" if tok else "the right", want), raw[:200])
    # The right token: 100 Continue, then the body is read and judged.
    c = connect(s)
    try:
        bad = b'{"image":"UPPER","payload":{}}'
        c.sendall(head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: " + s.token.encode(),
                                          b"Content-Type: application/json", b"Expect: 100-continue",
                                          b"Content-Length: %d" % len(bad)]))
        first = c.recv(100)
        c.sendall(bad)
        rest = read_all(c)
    finally:
        c.close()
    st, _, rbody = parse_raw(first + rest)
    R.check(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), "right token: 100 Continue", first)
    R.check(st == 400 and is_error(rbody, "request.image"), "right token: the body is read after 100 Continue", rest[:200])


def test_media_and_coding(s):
    bad = b'{"image":"UPPER","payload":{}}'
    for ctype in (b"application/json\t; charset=utf-8", b"application/json ; charset=\"utf-8\"",
                  b"Application/JSON;charset=utf-8"):
        st, _, rbody, raw = exchange(s, post_run(s, bad, [b"Content-Type: " + ctype]))
        R.check(st == 400 and is_error(rbody, "request.image"), "Content-Type %r accepted" % ctype.decode(), raw[:200])
    for ctype in (b"application/json x", b"application/jsonx", b"text/json", b"application/json; charset"):
        st, _, rbody, raw = exchange(s, post_run(s, bad, [b"Content-Type: " + ctype]))
        R.check(st == 415 and is_error(rbody, "request.content_type"), "Content-Type %r: 415" % ctype.decode(), raw[:200])
    for coding in (b"gzip", b"identity, gzip", b"br"):
        st, h, rbody, raw = exchange(s, post_run(s, bad, [b"Content-Encoding: " + coding]))
        R.check(st == 415 and is_error(rbody, "request.content_encoding") and h.get("accept-encoding") == "identity",
                "Content-Encoding %s: 415 with Accept-Encoding: identity" % coding.decode(), raw[:300])
    st, _, rbody, raw = exchange(s, post_run(s, bad, [b"Content-Encoding: identity"]))
    R.check(st == 400 and is_error(rbody, "request.image"), "Content-Encoding: identity accepted", raw[:200])


def test_depth_message(s):
    deep = b'{"image":"runbox/sh","payload":{"x":' + b"[" * 70 + b"]" * 70 + b"}}"
    st, _, rbody, raw = exchange(s, post_run(s, deep, [b"Content-Type: application/json"]))
    msg = json.loads(rbody).get("message", "") if is_error(rbody) else ""
    R.check(st == 400 and is_error(rbody, "request.json") and "deeper than 64" in msg,
            "JSON nested too deep: the message says so", rbody)
    ok = b'{"image":"UPPER","payload":{"x":' + b"[" * 62 + b"]" * 62 + b"}}"
    st, _, rbody, raw = exchange(s, post_run(s, ok, [b"Content-Type: application/json"]))
    R.check(st == 400 and is_error(rbody, "request.image"), "JSON nested to the limit is accepted", rbody)


def test_leading_line_and_zeros(s):
    st, _, _, raw = exchange(s, b"\r\n" + head(b"GET", b"/", [b"Host: x"]))
    R.check(st == 200, "one empty line before the request line is skipped", raw[:200])
    st, _, body, raw = exchange(s, b"\r\n\r\n" + head(b"GET", b"/", [b"Host: x"]))
    R.check(st == 400 and is_error(body, "request.malformed"), "two empty lines: 400", raw[:200])
    bad = b'{"image":"UPPER","payload":{}}'
    req = head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: " + s.token.encode(),
                                  b"Content-Length: 000000000000000000000%d" % len(bad)]) + bad
    st, _, body, raw = exchange(s, req)
    R.check(st == 400 and is_error(body, "request.image"), "Content-Length with leading zeros", raw[:200])
    req = head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: " + s.token.encode(),
                                  b"Content-Length: 000100000000000000000000"])
    st, _, body, raw = exchange(s, req)
    R.check(st == 400 and is_error(body, "request.malformed"), "Content-Length too long after the zeros: 400", raw[:200])
    req = head(b"POST", b"/run", [b"Host: x", b"X-Access-Token: " + s.token.encode(), b"Transfer-Encoding: chunked"])
    req += b"00000000000000000000%x\r\n" % len(bad) + bad + b"\r\n0000\r\n\r\n"
    st, _, body, raw = exchange(s, req)
    R.check(st == 400 and is_error(body, "request.image"), "chunk sizes with leading zeros", raw[:200])


def test_trickled_head(s):
    # The head parsed as it trickles in, a few bytes per send: same answer.
    req = head(b"GET", b"/version", [b"Host: x", b"X-Pad: " + b"p" * 300, b"X-Access-Token: " + s.token.encode()])
    c = connect(s)
    try:
        for i in range(0, len(req), 7):
            c.sendall(req[i:i + 7])
        raw = read_all(c)
    finally:
        c.close()
    st, _, body = parse_raw(raw)
    R.check(st == 200 and b"docker" in body, "a head sent 7 bytes at a time", raw[:200])
    # A bad byte in a line that has not ended is found when a control byte comes.
    c = connect(s)
    try:
        c.sendall(b"GET / HTTP/1.1\r\nHo(st: x")
        c.sendall(b"\r\n")
        raw = read_all(c)
    finally:
        c.close()
    st, _, body = parse_raw(raw)
    R.check(st == 400, "an error inside a trickled line: 400 at its end", raw[:200])


def test_full_run(s):
    # Every leniency at once, on a run that really happens.
    body = json.dumps({"image": "runbox/sh", "payload": SH_PAYLOAD}).encode()
    chunks = b"".join(b"000%x\r\n%s\r\n" % (len(body[i:i + 50]), body[i:i + 50]) for i in range(0, len(body), 50))
    t = s.token.encode()
    req = b"\r\n" + head(b"POST", b"http://127.0.0.1:%d/run" % s.port,
                         [b"Host: 127.0.0.1", b"X-Access-Token: " + t, b"Authorization: Bearer " + t,
                          b"Content-Type: application/json\t; charset=utf-8", b"Content-Encoding: identity",
                          b"Transfer-Encoding: chunked", b"Expect: 100-continue"])
    c = connect(s, timeout=60)
    try:
        c.sendall(req)
        first = c.recv(100)
        c.sendall(chunks + b"0\r\n\r\n")
        raw = read_all(c)
    finally:
        c.close()
    st, _, rbody = parse_raw(first + raw)
    try:
        js = json.loads(rbody)
    except ValueError:
        js = {}
    R.check(first.startswith(b"HTTP/1.1 100 Continue") and st == 200 and js.get("stdout") == "conform\n",
            "a run through absolute-form, leading CRLF, both token fields, TAB parameters, zero-padded chunks",
            (first, raw[:300]))


def main():
    s = Runboxd(SERVER_MAX_REQUEST_BYTES=MAX_BODY)
    try:
        s.start()
        test_head(s)
        test_root_by_reader(s)
        test_host(s)
        test_absolute_form(s)
        test_challenge(s)
        test_chunk_limit(s)
        test_ambiguous_fields(s)
        test_duplicate_json_keys(s)
        test_token_before_body(s)
        test_media_and_coding(s)
        test_depth_message(s)
        test_leading_line_and_zeros(s)
        test_trickled_head(s)
        test_full_run(s)
    finally:
        s.stop()
    R.done()


if __name__ == "__main__":
    main()
