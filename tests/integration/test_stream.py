"""POST /run?stream=1 against the real runboxd, dockerd and runbox images:
a chunked NDJSON stream of the program's output as it writes, then one
final event that carries what the buffered mode would have answered.
Every group ends by checking that no container of the instance is left."""

import http.client
import json
import socket
import time

import rbtest
from rbtest import Results, Runboxd, is_error
from test_run import busybox_rootfs, import_image

R = Results("stream")

SH = "runbox/sh"
# A runner that knows nothing of streaming: it reads its payload and
# prints a fixed reply, over several lines.
PLAIN = "runbox-test/plainrunner"
PLAIN_REPLY = '{\n  "stdout": "from a plain runner",\n  "stderr": "",\n  "error": ""\n}\n'


def sh(script):
    return {"language": "sh", "files": [{"name": "main.sh", "content": script}]}


def no_leak(s, what, timeout=rbtest.WAIT):
    left = rbtest.wait_no_containers(s.instance, timeout=timeout)
    R.check(left == [], "no container left after %s" % what, left)


def streamed(s, image, payload, query="?stream=1", timeout=120):
    """POST /run<query> read with http.client (which refuses malformed
    chunking): (status, headers, [(arrival seconds, event)], raw lines)."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=timeout)
    try:
        conn.request("POST", "/run" + query, body=json.dumps({"image": image, "payload": payload}),
                     headers=s.auth({"Content-Type": "application/json"}))
        t0 = time.time()
        r = conn.getresponse()
        headers = {k.lower(): v for k, v in r.getheaders()}
        if r.status != 200:
            return r.status, headers, [], [r.read()]
        events, lines = [], []
        while True:
            line = r.readline()
            if not line:
                break
            lines.append(line)
            try:
                events.append((time.time() - t0, json.loads(line)))
            except ValueError:
                events.append((time.time() - t0, None))
        return r.status, headers, events, lines
    finally:
        conn.close()


def output_of(events, stream):
    return "".join(e["data"] for _, e in events if isinstance(e, dict) and e.get("stream") == stream)


def well_formed(events):
    """Output events, then exactly one final event, last."""
    if not events or any(e is None for _, e in events):
        return False
    *out, (_, final) = events
    return (all(set(e) == {"stream", "data"} and e["stream"] in ("stdout", "stderr") for _, e in out)
            and ("result" in final or "error" in final) and "stream" not in final)


def without_duration(js):
    return {k: v for k, v in js.items() if k != "duration"} if isinstance(js, dict) else js


def make_images():
    bb = "/bin/busybox"
    cmd = [bb, "sh", "-c", "%s cat >/dev/null; %s printf '%s'" % (bb, bb, PLAIN_REPLY.replace("\n", "\\n"))]
    R.check(import_image(PLAIN, cmd, busybox_rootfs()), "test image %s imported" % PLAIN)


# ---- streaming proper ----

def test_progress(s):
    """A line every 200 ms for 3 s: the first arrives long before the end."""
    script = "i=1; while [ $i -le 15 ]; do echo line $i; echo err $i >&2; i=$((i+1)); sleep 0.2; done"
    st, h, events, _ = streamed(s, SH, sh(script))
    R.check(st == 200 and h.get("content-type") == "application/x-ndjson"
            and h.get("transfer-encoding") == "chunked" and "content-length" not in h,
            "streamed run: 200, application/x-ndjson, chunked", (st, h))
    R.check(well_formed(events), "events first, one final event last", events[-3:])
    if not well_formed(events):
        return
    first = next(t for t, e in events if e.get("stream") == "stdout")
    final_t, final = events[-1]
    # 14 sleeps of 0.2 s lie between the first line and the program's end.
    R.check(first < final_t - 1.0, "the first line arrives long before the final event (%.2fs vs %.2fs)"
            % (first, final_t), events[:3])
    R.check(sum(1 for _, e in events if e.get("stream") == "stdout") >= 2,
            "the lines arrive as several events", len(events))
    want_out = "".join("line %d\n" % i for i in range(1, 16))
    want_err = "".join("err %d\n" % i for i in range(1, 16))
    res = final.get("result")
    R.check(output_of(events, "stdout") == want_out and output_of(events, "stderr") == want_err,
            "the events carry the program's stdout and stderr, in order", output_of(events, "stdout")[:80])
    R.check(isinstance(res, dict) and res.get("stdout") == want_out and res.get("stderr") == want_err
            and res.get("error") == "", "the final event has the runner's reply", final)
    bst, bjs, body = s.run(SH, sh(script))
    R.check(bst == 200 and without_duration(bjs) == without_duration(res),
            "the final event's result is the buffered answer (duration aside)", (body[:200], res))


def test_bytes(s):
    """Any bytes come out as valid JSON, as the reply escapes them; a
    character split across two writes is not torn apart."""
    script = ("printf 'a\\001\\033\\177\"\\\\\\342\\202'; sleep 0.3; printf '\\254 \\377\\300\\257 z'; "
              "printf '\\360\\237' >&2; sleep 0.3; printf '\\230\\200' >&2")
    st, _, events, lines = streamed(s, SH, sh(script))
    R.check(st == 200 and well_formed(events) and all(l.endswith(b"\n") and l.count(b"\n") == 1 for l in lines),
            "odd bytes: every event is one line of valid JSON", lines)
    if not well_formed(events):
        return
    res = events[-1][1].get("result", {})
    out, err = output_of(events, "stdout"), output_of(events, "stderr")
    R.check(out == res.get("stdout") and err == res.get("stderr"),
            "odd bytes: the events decode to exactly the reply's stdout and stderr", (out, err, res))
    R.check(out == 'a\x01\x1b\x7f"\\\u20ac \ufffd\ufffd\ufffd z' and err == "\U0001F600",
            "odd bytes: control bytes escaped, invalid UTF-8 as U+FFFD, split characters whole", (out, err))


def raw_stream(s, payload, version="HTTP/1.1", timeout=60):
    body = json.dumps({"image": SH, "payload": payload}).encode()
    req = (b"POST /run?stream=1 %s\r\nHost: x\r\nX-Access-Token: %s\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (version.encode(), s.token.encode(), len(body), body))
    return s.raw(req, timeout=timeout)


def dechunk(data):
    """Strict RFC 9112 7.1 decoding: [(chunk data)], or None if anything
    is off, including bytes after the last chunk."""
    chunks, i = [], 0
    while True:
        j = data.find(b"\r\n", i)
        if j < 0:
            return None
        size_line = data[i:j]
        if not size_line or any(c not in b"0123456789abcdefABCDEF" for c in size_line):
            return None
        n = int(size_line, 16)
        i = j + 2
        if n == 0:
            return chunks if data[i:] == b"\r\n" else None
        if data[i + n:i + n + 2] != b"\r\n":
            return None
        chunks.append(data[i:i + n])
        i += n + 2


def test_framing(s):
    resp = raw_stream(s, sh("echo one; sleep 0.2; echo two"))
    st, h, body = rbtest.parse_raw(resp)
    chunks = dechunk(body) if st == 200 else None
    R.check(chunks is not None and len(chunks) >= 2, "chunked body decodes strictly and ends with the last chunk",
            body[-200:])
    if chunks:
        R.check(all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in chunks),
                "each chunk is one whole event line", chunks)
    # HTTP/1.0 has no chunks: the events run to the close.
    resp = raw_stream(s, sh("echo one; sleep 0.2; echo two"), version="HTTP/1.0")
    st, h, body = rbtest.parse_raw(resp)
    lines = body.split(b"\n")
    try:
        events = [json.loads(l) for l in lines[:-1]]
    except ValueError:
        events = []
    R.check(st == 200 and "transfer-encoding" not in h and "content-length" not in h and lines[-1] == b""
            and events and events[-1].get("result", {}).get("stdout") == "one\ntwo\n",
            "HTTP/1.0: the same events, delimited by the close", resp[:400])


def test_plain_runner(s):
    """A runner that ignores the stream member: no output events, its reply
    (even over several lines) as the one final event."""
    st, _, events, lines = streamed(s, PLAIN, {"language": "sh", "files": []})
    R.check(st == 200 and len(events) == 1 and len(lines) == 1 and events[0][1] is not None
            and events[0][1].get("result") == json.loads(PLAIN_REPLY),
            "plain runner: one final event, one line, its reply", lines)


def test_query(s):
    body = {"image": PLAIN, "payload": {"language": "sh", "files": []}}
    for q in ("?stream=2", "?stream=yes", "?stream=", "?stream", "?stream=TRUE", "?stream=1&stream=1",
              "?stream=0&stream=0", "?stream=%31"):
        st, h, b = s.request("POST", "/run" + q, body, headers=s.auth())
        R.check(st == 400 and is_error(b, "request.query") and "content-length" in h,
                "query %s: 400 request.query" % q, (st, b[:200]))
    # Without a token the token is what is wrong, whatever the query.
    st, h, b = s.request("POST", "/run?stream=2", body)
    R.check(st == 401 and is_error(b, "access_token"), "bad query without a token: 401 first", (st, b[:200]))
    answers = {}
    for q in ("", "?stream=0", "?stream=0&x=&y", "?Stream=1&streams=1"):
        st, h, b = s.request("POST", "/run" + q, body, headers=s.auth())
        answers[q] = (st, sorted(h.items()), b)
    R.check(len(set(map(repr, answers.values()))) == 1 and answers[""][0] == 200
            and json.loads(answers[""][2]) == json.loads(PLAIN_REPLY),
            "no ?stream, ?stream=0 and other parameters: the same buffered answer, byte for byte",
            answers)
    st, h, events, _ = streamed(s, PLAIN, body["payload"], query="?x=1&stream=true")
    R.check(st == 200 and len(events) == 1, "?stream=true among other parameters streams", (st, h))


def test_errors_before_the_run(s):
    """Nothing was sent yet: ordinary HTTP errors, not streams."""
    cases = [
        ("no token", {}, {"image": SH, "payload": sh("echo x")}, 401, "access_token"),
        ("bad image", s.auth(), {"image": "Bad Image", "payload": {}}, 400, "request.image"),
        ("missing image", s.auth(), {"image": "runbox-test/absent", "payload": {}}, 400,
         "docker.container.create"),
        ("bad payload", s.auth(), {"image": SH, "payload": 1}, 400, "request.payload"),
    ]
    for what, headers, body, want, code in cases:
        st, h, b = s.request("POST", "/run?stream=1", body, headers=headers)
        R.check(st == want and is_error(b, code) and h.get("content-type") == "application/json"
                and "transfer-encoding" not in h,
                "%s: %d %s, not streamed" % (what, want, code), (st, h, b[:200]))


def test_limits(limit):
    s = Runboxd(RUN_MAX_EXECUTION_TIME=str(limit), RUN_MAX_OUTPUT_SIZE="100000").start()
    try:
        t0 = time.time()
        st, _, events = execute_streamed(s, {"script": "echo started; sleep 60", "image": SH})
        final = events[-1][1] if events else {}
        R.check(st == 200 and well_formed(events) and output_of(events, "stdout") == "started\n"
                and final.get("result", {}).get("timed_out") is True,
                "execute deadline: the output so far, then the answer with timed_out", events)
        st, _, events, _ = streamed(s, SH, sh("echo started; sleep 60"))
        secs = time.time() - t0
        final = events[-1][1] if events else None
        R.check(st == 200 and well_formed(events) and output_of(events, "stdout") == "started\n"
                and final.get("error") == "limits.execution_time" and final.get("status") == 400
                and final.get("message") == "Max execution time exceeded",
                "deadline: the output so far, then the final event limits.execution_time, status 400", events)
        R.check(limit - 0.5 < secs < 3 * (limit + 3), "deadline: stopped at the limit (%.1fs)" % secs)
        no_leak(s, "a streamed run past its deadline")

        big = "head -c 300000 /dev/zero | tr '\\0' a"
        st, _, events, _ = streamed(s, SH, sh(big))
        final = events[-1][1] if events else None
        R.check(st == 200 and well_formed(events) and final.get("error") == "limits.read.size"
                and final.get("status") == 400 and len(output_of(events, "stdout")) <= 100000,
                "output limit: the final event is limits.read.size, no more than the limit sent",
                events[-1:] if events else None)
        bst, _, body = s.run(SH, sh(big))
        R.check(bst == 400 and is_error(body, "limits.read.size"), "output limit: the buffered mode agrees", body)
        # Below the limit in the buffered mode is below it streamed too.
        small = "head -c 60000 /dev/zero | tr '\\0' a"
        st, _, events, _ = streamed(s, SH, sh(small))
        bst, bjs, body = s.run(SH, sh(small))
        R.check(st == 200 and well_formed(events) and bst == 200
                and without_duration(events[-1][1].get("result")) == without_duration(bjs)
                and output_of(events, "stdout") == "a" * 60000,
                "60 kB of output under a 100 kB limit: streamed and buffered both succeed alike", body[:200])
        no_leak(s, "the limit group")
    finally:
        s.stop()


def test_client_leaves(s, limit):
    """A client that goes mid-stream: the container goes at once, not at the deadline."""
    body = json.dumps({"image": SH, "payload": sh("while :; do echo tick; sleep 0.2; done")}).encode()
    c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    c.sendall(b"POST /run?stream=1 HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (s.token.encode(), len(body), body))
    got = b""
    end = time.time() + rbtest.WAIT
    while b"tick" not in got and time.time() < end:
        b = c.recv(65536)
        if not b:
            break
        got += b
    R.check(b"tick" in got, "client leaves: it saw the first event", got[:300])
    t0 = time.time()
    c.close()
    left = rbtest.wait_no_containers(s.instance)
    secs = time.time() - t0
    R.check(left == [] and secs < limit, "client leaves mid-stream: container removed before the deadline (%.1fs)"
            % secs, left)
    st, js, b = s.run(SH, sh("echo next"))
    R.check(st == 200 and js and js.get("stdout") == "next\n", "the slot serves after the client left", b[:200])


def test_client_stalls():
    """A client that stops reading: the deadline still ends the run and the
    container goes while the client still holds its connection."""
    limit = 3
    s = Runboxd(RUN_MAX_EXECUTION_TIME=str(limit), RUN_MAX_OUTPUT_SIZE=str(64 * 1024 * 1024),
                SERVER_WORKER_THREADS="1").start()
    try:
        # NUL bytes are escaped six-fold: far more than any socket buffers.
        body = json.dumps({"image": SH, "payload": sh("head -c 8000000 /dev/zero; sleep 60")}).encode()
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.settimeout(30)
        c.connect(("127.0.0.1", s.port))
        c.sendall(b"POST /run?stream=1 HTTP/1.1\r\nHost: x\r\nX-Access-Token: %s\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                  % (s.token.encode(), len(body), body))
        R.check(len(rbtest.wait_until(lambda: rbtest.containers(s.instance)) or []) == 1,
                "stalled client: its run has a container")
        t0 = time.time()
        left = rbtest.wait_no_containers(s.instance)
        secs = time.time() - t0
        R.check(left == [] and secs < 3 * (limit + 3),
                "stalled client: container removed by the deadline while the client holds on (%.1fs)" % secs, left)
        st, js, b = s.run(SH, sh("echo next"), timeout=120)
        R.check(st == 200 and js and js.get("stdout") == "next\n", "the slot serves after the stalled client",
                b[:200])
        c.close()
    finally:
        s.stop()


def execute_streamed(s, body, query="?stream=1", timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=timeout)
    try:
        conn.request("POST", "/execute" + query, body=json.dumps(body),
                     headers=s.auth({"Content-Type": "application/json"}))
        t0 = time.time()
        r = conn.getresponse()
        headers = {k.lower(): v for k, v in r.getheaders()}
        events = []
        while r.status == 200:
            line = r.readline()
            if not line:
                break
            try:
                events.append((time.time() - t0, json.loads(line)))
            except ValueError:
                events.append((time.time() - t0, None))
        return r.status, headers, events
    finally:
        conn.close()


def without_time(js):
    return {k: v for k, v in js.items() if k != "execution_time"} if isinstance(js, dict) else js


def test_execute(s):
    """POST /execute?stream=1: sh -c writes straight to Docker's stream."""
    script = "i=1; while [ $i -le 15 ]; do echo line $i; echo err $i >&2; i=$((i+1)); sleep 0.2; done; exit 3"
    st, h, events = execute_streamed(s, {"script": script, "image": SH})
    R.check(st == 200 and h.get("content-type") == "application/x-ndjson" and well_formed(events),
            "execute streamed: 200 NDJSON, events then one final event", (st, h, events[-2:]))
    if not well_formed(events):
        return
    first = next(t for t, e in events if e.get("stream") == "stdout")
    final_t, final = events[-1]
    R.check(first < final_t - 1.0, "execute streamed: the first line long before the end (%.2fs vs %.2fs)"
            % (first, final_t))
    res = final.get("result")
    want_out = "".join("line %d\n" % i for i in range(1, 16))
    R.check(output_of(events, "stdout") == want_out and output_of(events, "stderr") == want_out.replace("line", "err")
            and isinstance(res, dict) and res.get("stdout") == want_out and res.get("exit_code") == 3,
            "execute streamed: the events are the output, the final event the answer", final)
    bst, _, body = s.request("POST", "/execute", {"script": script, "image": SH}, headers=s.auth())
    try:
        bjs = json.loads(body)
    except ValueError:
        bjs = None
    R.check(bst == 200 and without_time(bjs) == without_time(res),
            "execute streamed: the final event's result is the buffered answer (execution_time aside)",
            (body[:200], res))
    st, h, b = s.request("POST", "/execute?stream=maybe", {"script": "true", "image": SH}, headers=s.auth())
    R.check(st == 400 and is_error(b, "request.query"), "execute: a bad ?stream is 400 request.query", b[:200])


def test_warm():
    """A warm container was started before the request: the stream member
    still reaches its runner, on stdin with the payload."""
    s = Runboxd(RUN_WARM_IMAGES=SH, SERVER_WORKER_THREADS="1").start()
    try:
        warm = rbtest.wait_until(lambda: (lambda ids: ids if ids and len(ids) == 1 else None)(
            rbtest.containers(s.instance)))
        R.check(warm and len(warm) == 1, "warm: a container waits before the request", warm)
        st, _, events, _ = streamed(s, SH, sh("echo a; sleep 0.3; echo b"))
        R.check(st == 200 and well_formed(events) and output_of(events, "stdout") == "a\nb\n"
                and len(events) >= 3 and events[-1][1].get("result", {}).get("stdout") == "a\nb\n",
                "warm: the run on the waiting container streams its output", events)
        R.check(warm and rbtest.wait_until(lambda: warm[0] not in (rbtest.containers(s.instance) or [warm[0]])),
                "warm: that run took the waiting container (it is gone)", warm)
    finally:
        s.stop()
    R.check(rbtest.wait_no_containers(s.instance, timeout=60) == [], "warm: no container left after the stop")


def main():
    R.check(rbtest.image_exists(SH), "image %s present" % SH)
    make_images()
    limit = 30
    s = Runboxd(RUN_MAX_EXECUTION_TIME=str(limit)).start()
    try:
        test_progress(s)
        test_bytes(s)
        test_framing(s)
        test_plain_runner(s)
        test_query(s)
        test_errors_before_the_run(s)
        test_execute(s)
        test_client_leaves(s, limit)
        no_leak(s, "the streaming group")
    finally:
        s.stop()
    test_limits(3)
    test_client_stalls()
    test_warm()
    R.done()


if __name__ == "__main__":
    main()
