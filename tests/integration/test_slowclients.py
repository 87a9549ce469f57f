"""Idle and slow clients cannot occupy the worker slots (issue 11).

With N slots, 4N connections that send nothing and 4N that send one byte a
second are open; meanwhile a normal client's GET / answers and its /run
completes, and the trickling ones get 408 at their deadline (the silent
ones are not even accepted before their first byte, TCP_DEFER_ACCEPT: they
end answered 408 or closed, in bounded time).  1,000 connections opened and
closed as fast as they can be leave the server answering and no descriptor
behind in the reader or the fronts.  At SERVER_MAX_WAITING the next client
gets 503 with Retry-After, a request body beyond the bodies' budget gets
503 too, and the reader's memory stays within README's bound.  Times are
reported; only generous bounds are asserted.
"""

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402
from rbtest import Results, Runboxd, parse_raw  # noqa: E402

R = Results("slowclients")
N = 2
TIMEOUT = 4          # SERVER_REQUEST_TIMEOUT of the first instance
HEAD_MAX = 16384     # HTTP_MAX_HEADER_BYTES
SH = {"language": "sh", "files": [{"name": "main.sh", "content": "echo slow-ok"}]}


def read_answer(c, limit):
    """Everything the server sends until it closes (or limit s pass): (bytes, closed)."""
    data = b""
    end = time.time() + limit
    while time.time() < end:
        r, _, _ = select.select([c], [], [], max(0.0, end - time.time()))
        if not r:
            break
        try:
            b = c.recv(65536)
        except OSError:
            return data, True
        if not b:
            return data, True
        data += b
    return data, False


def trickler(port, out, i):
    """One byte a second of a head that never ends; what came back and when."""
    c = socket.create_connection(("127.0.0.1", port), timeout=60)
    t0 = time.time()
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 200
    data = b""
    try:
        for k in range(len(head)):
            try:
                c.send(head[k:k + 1])
            except OSError:
                break
            r, _, _ = select.select([c], [], [], 1.0)
            if r:
                data, _ = read_answer(c, 10)
                break
    finally:
        c.close()
    out[i] = (parse_raw(data)[0], time.time() - t0)


def silent(port, out, i, limit, connected):
    c = socket.create_connection(("127.0.0.1", port), timeout=60)
    t0 = time.time()
    connected.append(c.getsockname()[1])
    try:
        data, closed = read_answer(c, limit)
    finally:
        c.close()
    out[i] = (parse_raw(data)[0], closed, time.time() - t0)


def syn_recv(port):
    """Client ports of the connections to port the kernel holds in SYN-RECV."""
    out = subprocess.run(["ss", "-tanH", "state", "syn-recv", "( sport = :%d )" % port],
                         capture_output=True, text=True, timeout=30).stdout
    return {int(line.split()[-1].rsplit(":", 1)[1]) for line in out.splitlines() if line.strip()}


def fd_count(pids):
    """Sockets and memory files held by pids: what a client or a hand-off
    could leave behind (a front's ready pipe closes at its first request,
    whenever that comes, so pipes are not counted)."""
    n = 0
    for p in pids:
        d = "/proc/%d/fd" % p
        try:
            for fd in os.listdir(d):
                try:
                    t = os.readlink(os.path.join(d, fd))
                except OSError:
                    continue
                n += t.startswith(("socket:", "/memfd:"))
        except OSError:
            pass
    return n


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def workers(s):
    kids = s.children()
    return [p for t, p in kids.items() if t == "runboxd: reader" or t.startswith("runboxd: front")]


def test_slow_and_idle(s):
    tr, si = {}, {}
    silent_limit = 3 * (2 * TIMEOUT) + 10
    reader = s.children().get("runboxd: reader")
    connected = []
    threads = [threading.Thread(target=silent, args=(s.port, si, i, silent_limit, connected)) for i in range(4 * N)]
    for t in threads:
        t.start()
    # TCP_DEFER_ACCEPT (SERVER_REQUEST_TIMEOUT s): the kernel keeps a connection
    # that has sent nothing half-open on its side (SYN-RECV), out of the accept
    # queue, so the reader does not even accept it.  Without the option each
    # would be ESTAB at once, and the reader's.
    deferred = rbtest.wait_until(lambda: len(connected) == 4 * N and
                                 syn_recv(s.port) >= set(connected), timeout=TIMEOUT)
    R.check(deferred and fd_count([reader]) == base_reader_fds,
            "the %d silent connections are held by the kernel (SYN-RECV), not accepted before their first "
            "byte (TCP_DEFER_ACCEPT)" % (4 * N),
            (sorted(connected), sorted(syn_recv(s.port)), fd_count([reader]) - base_reader_fds))
    more = [threading.Thread(target=trickler, args=(s.port, tr, i)) for i in range(4 * N)]
    for t in more:
        t.start()
    threads += more
    # Every trickler's first bytes are in: they are the reader's now.
    rbtest.wait_until(lambda: fd_count([reader]) >= base_reader_fds + 4 * N, timeout=TIMEOUT)
    held = fd_count([reader]) - base_reader_fds
    # GET / is the reader's own answer: no slot, no hand-off, whatever waits.
    times, codes, body = [], [], b""
    for _ in range(9):
        t0 = time.time()
        st, _, body = s.request("GET", "/", timeout=30)
        times.append((time.time() - t0) * 1000)
        codes.append(st)
    get_ms = sorted(times)[len(times) // 2]
    t0 = time.time()
    rst, js, rbody = s.run("runbox/sh", SH, timeout=60)
    run_ms = (time.time() - t0) * 1000
    print("slow clients: reader holds %d connections; GET / median %.1f ms (max %.1f of 9), /run in %.0f ms "
          "with %d silent and %d trickling connections open" % (held, get_ms, max(times), run_ms, 4 * N, 4 * N))
    R.check(held >= 4 * N, "the reader holds the %d trickling connections" % (4 * N), held)
    R.check(codes == [200] * 9 and get_ms < 100,
            "GET / answers while they are open, in under 100 ms (median of 9: %.1f ms)" % get_ms, (codes, body[:200]))
    R.check(rst == 200 and js and js.get("stdout") == "slow-ok\n", "a /run completes normally meanwhile", rbody[:300])
    for t in threads:
        t.join(silent_limit + 30)
    got = sorted(tr.values())
    R.check(len(got) == 4 * N and all(code == 408 for code, _ in got),
            "every trickling client gets 408", got)
    R.check(all(TIMEOUT - 0.2 <= secs <= 3 * TIMEOUT + 5 for _, secs in got),
            "... at its deadline (%d s; bound %d s)" % (TIMEOUT, 3 * TIMEOUT + 5),
            ["%.1f" % secs for _, secs in got])
    ends = sorted(si.values())
    print("silent clients: " + ", ".join("%s after %.1f s" % (code or ("closed" if closed else "open"), secs)
                                        for code, closed, secs in ends))
    R.check(len(ends) == 4 * N and all(code == 408 or (code == 0 and closed) for code, closed, _ in ends),
            "every silent client ends answered 408 or closed, none left hanging (bound %d s)" % silent_limit, ends)


def test_many_connections(s):
    pids = workers(s)
    base = fd_count(pids)
    t0 = time.time()
    for i in range(1000):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        # Nothing, a partial head, a whole request never read: all kinds.
        if i % 3 == 1:
            c.send(b"GET / HT")
        elif i % 3 == 2:
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        c.close()
    secs = time.time() - t0
    st, _, _ = s.request("GET", "/", timeout=60)
    R.check(st == 200, "the server answers after 1,000 connections opened and closed in %.1f s" % secs, st)
    # The silent ones are accepted only when the kernel stops deferring them
    # (about twice the timeout here), then answered 408 at their deadline.
    same = rbtest.wait_until(lambda: workers(s) == pids and fd_count(pids) == base, timeout=3 * (3 * TIMEOUT + 5))
    R.check(same, "the reader and the fronts hold as many sockets and memfds as before (%d)" % base,
            (fd_count(pids), workers(s), {p: sorted(os.listdir("/proc/%d/fd" % p)) for p in workers(s)}))


def test_limit():
    waiting = 32
    s = Runboxd(SERVER_WORKER_THREADS=1, SERVER_MAX_WAITING=waiting, SERVER_REQUEST_TIMEOUT=60)
    s.start()
    socks = []
    try:
        reader = s.children().get("runboxd: reader")
        base_fds = fd_count([reader])
        base_rss = rss_kb(reader)
        max_body = int(s.config.get("SERVER_MAX_REQUEST_BYTES", 2097152))
        # README: 4 MiB of its own, each waiting connection up to 16 KiB of head, and
        # all bodies together at most SERVER_WORKER_THREADS x (SERVER_MAX_REQUEST_BYTES + 4 KiB).
        bound_kb = (4 * 1024 * 1024 + waiting * HEAD_MAX + 1 * (max_body + 4096)) // 1024
        # One authenticated body fills the bodies' budget ...
        big = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        socks.append(big)
        big.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + s.token.encode() +
                    b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % max_body +
                    b" " * (max_body - 4096))
        # ... and the rest wait with large partial heads.
        for _ in range(waiting - 2):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * (HEAD_MAX - 200))
            socks.append(c)
        R.check(rbtest.wait_until(lambda: fd_count([reader]) == base_fds + waiting - 1, timeout=60),
                "the reader holds %d waiting connections" % (waiting - 1), fd_count([reader]) - base_fds)
        # A second body does not fit the budget: 503, the reader does not grow.
        c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        socks.append(c)
        c.sendall(b"POST /run HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + s.token.encode() +
                  b"\r\nContent-Length: 1000000\r\n\r\n" + b" " * 200000)
        data, _ = read_answer(c, 30)
        st, h, _ = parse_raw(data)
        R.check(st == 503 and h.get("retry-after") == "1", "a body beyond the bodies' budget: 503 with Retry-After",
                data[:200])
        # The waiting limit: one more fills it, and the next client is refused, not held.
        filler = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        filler.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: x")
        socks.append(filler)
        rbtest.wait_until(lambda: fd_count([reader]) >= base_fds + waiting, timeout=30)
        c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data, _ = read_answer(c, 30)
        c.close()
        st, h, body = parse_raw(data)
        R.check(st == 503 and h.get("retry-after") == "1" and rbtest.is_error(body, "server.busy"),
                "with %d connections waiting the next gets 503 with Retry-After" % waiting, data[:300])
        c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        c.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
        data, _ = read_answer(c, 30)
        c.close()
        st, h, body = parse_raw(data)
        R.check(st == 503 and h.get("retry-after") == "1" and int(h.get("content-length", "0")) > 0 and body == b"",
                "... a HEAD too, with no content", data[:300])
        rss = rss_kb(reader)
        print("reader memory: %d kB at start, %d kB with %d waiting (bound %d kB)" %
              (base_rss, rss, waiting, bound_kb))
        if "/san/" in rbtest.BIN:
            print("note: the memory bound is not checked under ASan (its shadow memory is not the reader's)")
        else:
            R.check(rss <= bound_kb, "the reader's resident memory stays within README's bound (%d kB)" % bound_kb,
                    (base_rss, rss))
        for c in socks:
            c.close()
        socks = []
        R.check(rbtest.wait_until(lambda: fd_count([reader]) == base_fds, timeout=30),
                "the reader lets every one go", fd_count([reader]) - base_fds)
        st, _, _ = s.request("GET", "/", timeout=30)
        R.check(st == 200, "and answers again", st)
    finally:
        for c in socks:
            c.close()
        s.stop()


base_reader_fds = 0



def test_orphaned():
    """The master is SIGKILLed while two requests wait for the only slot:
    one queued in the hand-off channel, one in the reader.  The fronts take
    no new work once their master is gone, so both are answered 503 at once
    (the front drains the channel, the reader its queue) instead of being
    lost or held for their slot wait (minutes); the run in flight still gets
    its answer, and every process and container of the instance goes away."""
    s = Runboxd(SERVER_WORKER_THREADS=1, SERVER_REQUEST_TIMEOUT=TIMEOUT)
    s.start()
    try:
        kids = s.children()
        reader = kids.get("runboxd: reader")
        slow = {}

        def slow_run():
            slow["r"] = s.run("runbox/sh", {"language": "sh", "files": [
                {"name": "main.sh", "content": "sleep 6; echo finished"}]}, timeout=120)

        t = threading.Thread(target=slow_run)
        t.start()
        R.check(rbtest.wait_until(lambda: rbtest.containers(s.instance), 60),
                "orphaned: the only slot is running a program")
        before = fd_count([reader])
        waiting = []
        for _ in range(2):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=60)
            c.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\nX-Access-Token: " + s.token.encode() + b"\r\n\r\n")
            waiting.append(c)
        # The first goes into the channel (the reader keeps no descriptor of
        # it), the second stays in the reader.
        R.check(rbtest.wait_until(lambda: fd_count([reader]) == before + 1, 30),
                "orphaned: the reader holds the second request", (before, fd_count([reader])))
        R.check(not slow, "orphaned: the run is still in flight when the master is killed", slow)
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        for i, c in enumerate(waiting):
            t0 = time.time()
            data, closed = read_answer(c, 60)
            took = time.time() - t0
            c.close()
            st, hdrs, body = parse_raw(data)
            R.check(st == 503 and rbtest.is_error(body, "server.busy") and "retry-after" in hdrs,
                    "orphaned: the request waiting in the %s is answered 503 with Retry-After (%.2f s)"
                    % (("channel", "reader")[i], took), data[:300])
        t.join(120)
        st, js, body = slow.get("r", (None, None, b""))
        R.check(st == 200 and js and js.get("stdout") == "finished\n",
                "orphaned: the run in flight still gets its answer", body[:300])
        left = lambda: [p for p in kids.values() if os.path.exists("/proc/%d" % p)]
        R.check(rbtest.wait_until(lambda: not left(), 60), "orphaned: the reader, front and agent exit",
                left())
        R.check(rbtest.wait_no_containers(s.instance, timeout=60) == [], "orphaned: no container left")
    finally:
        s.stop()


def main():
    global base_reader_fds
    s = Runboxd(SERVER_WORKER_THREADS=N, SERVER_REQUEST_TIMEOUT=TIMEOUT)
    s.start()
    try:
        base_reader_fds = fd_count([s.children().get("runboxd: reader")])
        test_slow_and_idle(s)
        test_many_connections(s)
    finally:
        s.stop()
        if R.failed:
            print(s.log()[-3000:])
    test_limit()
    test_orphaned()
    R.done()


if __name__ == "__main__":
    main()
