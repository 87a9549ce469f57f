"""Chaos: runboxd under continuous mixed load while its processes are killed.

Clients send runs in a loop (quick, reading stdin, flooding output past the
limit, sleeping past the time limit).  First the same load runs without
chaos, for a baseline.  Then, for RUNBOXD_CHAOS_SECONDS (default 20; `make
chaos` runs 60), a random front, agent or the reader is SIGKILLed every ~200 ms (or
every quick run's median time, if the machine is so loaded that runs take
longer: the same kills per run), and
twice the master is SIGKILLed and started again as systemd would.  Last, a
SIGTERM under load.  The figures are printed; the checks are the issue's.
"""

import http.client
import json
import os
import random
import signal
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402
from rbtest import Results, Runboxd, is_error  # noqa: E402

R = Results("chaos")
SH = "runbox/sh"
LIMIT = 4          # RUN_MAX_EXECUTION_TIME of the instance under test
CLIENTS = 5
SLOTS = 4
CHAOS = float(os.environ.get("RUNBOXD_CHAOS_SECONDS", "20"))
BASELINE = max(8.0, CHAOS / 3)
# `make chaos` (which sets RUNBOXD_CHAOS_SECONDS) holds the figures
# exactly.  In `make check` they are speed, which a loaded machine does not
# have to show: there every figure's bound gets 3x slack (issue 7).
SLACK = 1 if "RUNBOXD_CHAOS_SECONDS" in os.environ else 3


def sh(script, stdin=None):
    p = {"language": "sh", "files": [{"name": "main.sh", "content": script}]}
    if stdin is not None:
        p["stdin"] = stdin
    return p


# kind: (weight, payload, check of (status, js, body))
KINDS = {
    "quick": (50, lambda n: sh("echo hi %d" % n),
              lambda n, st, js, body: st == 200 and js.get("stdout") == "hi %d\n" % n),
    "stdin": (25, lambda n: sh("read a; echo got $a", stdin="x%d\n" % n),
              lambda n, st, js, body: st == 200 and js.get("stdout") == "got x%d\n" % n),
    "flood": (15, lambda n: sh("yes 0123456789abcdef | head -c 3000000"),
              lambda n, st, js, body: st == 400 and is_error(body, "limits.read.size")),
    "sleep": (10, lambda n: sh("sleep 60"),
              lambda n, st, js, body: st == 400 and is_error(body, "limits.execution_time")),
}


class Reply:
    """One request's fate: kind, phase, start, secs, outcome, expected."""

    def __init__(self, kind, phase, start):
        self.kind, self.phase, self.start = kind, phase, start
        self.secs = 0.0
        self.outcome = ""   # result | error | closed | partial | bad
        self.expected = False


def one_request(port, token, kind, n, phase):
    """A client's run; a connection error before a whole reply is 'closed',
    unless a 200 had begun (then 'partial', which must never happen)."""
    _, payload, check = KINDS[kind]
    r = Reply(kind, phase, time.time())
    body = json.dumps({"image": SH, "payload": payload(n)}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=LIMIT + 30)
    status = None
    try:
        conn.request("POST", "/run", body=body, headers={"X-Access-Token": token,
                                                         "Content-Type": "application/json"})
        resp = conn.getresponse()
        status = resp.status
        data = resp.read()
        try:
            js = json.loads(data)
        except ValueError:
            js = None
        if status == 200 and isinstance(js, dict) and "stdout" in js:
            r.outcome = "result"
        elif status != 200 and is_error(data):
            r.outcome = "error"
        else:
            r.outcome = "bad"
            r.detail = (status, data[:200])
        r.expected = isinstance(js, dict) and check(n, status, js, data)
    except ConnectionRefusedError as e:
        r.outcome = "refused"  # no master listening: between a kill and the restart
        r.detail = repr(e)
    except (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError,
            socket.timeout, OSError) as e:
        r.outcome = "partial" if status == 200 else "closed"
        r.detail = repr(e)
    finally:
        conn.close()
    r.secs = time.time() - r.start
    return r


class Load:
    """CLIENTS threads sending runs until stopped; replies tagged by phase."""

    def __init__(self, s):
        self.s = s
        self.phase = "baseline"
        self.stop = threading.Event()
        self.replies = []
        self.lock = threading.Lock()
        self.n = 0
        weights = [(k, v[0]) for k, v in KINDS.items()]
        self.bag = [k for k, w in weights for _ in range(w)]
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(CLIENTS)]

    def client(self):
        rnd = random.Random()
        while not self.stop.is_set():
            with self.lock:
                self.n += 1
                n = self.n
            r = one_request(self.s.port, self.s.token, rnd.choice(self.bag), n, self.phase)
            with self.lock:
                self.replies.append(r)
            if r.outcome == "refused":
                time.sleep(0.02)  # a refused connection comes back at once: do not spin

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(LIMIT + 40)

    def good(self, phase):
        with self.lock:
            return sum(1 for r in self.replies if r.phase == phase and r.expected)

    def good_per_s(self, phase, secs):
        with self.lock:
            good = sum(1 for r in self.replies if r.phase == phase and r.expected)
        return good / secs


def our_processes():
    """pids of every process running the runboxd binary under test."""
    real = os.path.realpath(rbtest.BIN)
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % p) == real:
                    out.append(int(p))
            except OSError:
                pass
    return out


def serving_after(s, t0, timeout=15):
    """Seconds from t0 until GET / answers 200, or None."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            st, _, _ = s.request("GET", "/", timeout=2)
            if st == 200:
                return time.time() - t0
        except OSError:
            pass
        time.sleep(0.01)
    return None


def restart_master(s, figures):
    """SIGKILL the master and start a new one as systemd would (Restart=):
    once the old one is reaped, a short RestartSec, again until it binds."""
    t0 = time.time()
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    tries = 0
    while True:
        time.sleep(0.1)
        tries += 1
        s.start(wait=False)
        t = time.time()
        while s.proc.poll() is None and time.time() - t < 0.5:
            try:
                if s.request("GET", "/", timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.01)
        if s.proc.poll() is None or tries >= 30:
            break
    served = serving_after(s, t0)
    if s.proc.poll() is not None:
        served = None  # what answered was not the new master
    figures["restarts"].append((served, tries))


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def child_titled(pid, master, title):
    """Is pid a child of master with that title (as ps shows it)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            if int(f.read().rsplit(")", 1)[1].split()[1]) != master:
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].decode("utf-8", "replace").strip() == title
    except (OSError, ValueError, IndexError):
        return False


def killer(s, load, stop, figures, interval):
    """Every interval a random front, agent or the reader of the current master is
    SIGKILLed; the respawn latency is the time until a process with the same
    title appears in its place (only processes newer than the kill are
    looked at, so that the polling itself stays cheap)."""
    rnd = random.Random()
    since_reader = 0
    while not stop.is_set():
        t0 = time.time()
        master = s.proc.pid
        kids = {pid: t for pid, t in rbtest.titled_children(master).items()
                if t.startswith(("runboxd: front", "runboxd: agent", "runboxd: reader"))}
        # The first kill that finds a reader is the reader's, then every
        # fifth: it is killed under load however few kills a slow machine
        # makes room for (counted here, apart from the master's restarts).
        readers = [p for p, t in kids.items() if t == "runboxd: reader"]
        if readers and (figures["kills"]["reader"] == 0 or since_reader >= 4):
            kids = {readers[0]: kids[readers[0]]}
            since_reader = 0
        else:
            since_reader += 1
        if kids:
            pid = rnd.choice(sorted(kids))
            title = kids[pid]
            before = set(pids())
            t0 = time.time()
            try:
                os.kill(pid, signal.SIGKILL)
                figures["kills"][title.split()[1]] += 1
            except ProcessLookupError:
                pid = None
            end = t0 + 5
            while pid and time.time() < end and s.proc.pid == master:
                if any(child_titled(p, master, title) for p in pids() if p not in before):
                    figures["respawn"].append(time.time() - t0)
                    break
                time.sleep(0.002)
        left = interval - (time.time() - t0)
        if left > 0:
            stop.wait(left)


def main():
    s = Runboxd(SERVER_WORKER_THREADS=SLOTS, RUN_MAX_EXECUTION_TIME=LIMIT,
                SERVER_SHUTDOWN_TIMEOUT=LIMIT + 20, LOG_LEVEL="warn")
    figures = {"kills": {"front": 0, "agent": 0, "reader": 0, "master": 0}, "respawn": [], "restarts": []}
    s.start()
    try:
        load = Load(s)
        # ---- the same load without chaos
        # (long enough for a dozen good runs, on a machine that is slow)
        load.start()
        t_base = time.time()
        while time.time() - t_base < BASELINE or (load.good("baseline") < 12 and time.time() - t_base < 120):
            time.sleep(0.1)
        base_secs = time.time() - t_base
        base = load.good_per_s("baseline", base_secs)
        # Every ~200 ms, or once per quick run if runs take longer here (a
        # loaded machine): the same kills per run as on an idle one.
        quick = sorted(r.secs for r in load.replies if r.kind in ("quick", "stdin") and r.expected)
        interval = max(0.2, statistics.median(quick) if quick else 0.2)
        # A client may wait the run limit + 10 s, or half again what the
        # slowest reply took without chaos on this machine if that is more.
        slow_bound = SLACK * max(LIMIT + 10, 1.5 * max([r.secs for r in load.replies if r.phase == "baseline"] or [0]))
        if os.environ.get("RUNBOXD_CHAOS_KILL_MS"):
            interval = float(os.environ["RUNBOXD_CHAOS_KILL_MS"]) / 1000
        # ---- chaos
        load.phase = "chaos"
        stop = threading.Event()
        k = threading.Thread(target=killer, args=(s, load, stop, figures, interval), daemon=True)
        t_chaos = time.time()
        k.start()
        for frac in (1 / 3, 2 / 3):
            while time.time() < t_chaos + CHAOS * frac:
                time.sleep(0.05)
            figures["kills"]["master"] += 1
            restart_master(s, figures)
        while time.time() < t_chaos + CHAOS:
            time.sleep(0.05)
        stop.set()
        k.join(10)
        chaos_secs = time.time() - t_chaos
        rate = load.good_per_s("chaos", chaos_secs)
        load.phase = "after"
        # ---- a run succeeds soon after the chaos ends
        t_end = time.time()
        first_ok = first_ok_start = None
        while time.time() < t_end + 30:
            r = one_request(s.port, s.token, "quick", 0, "probe")
            if r.expected:
                first_ok = time.time() - t_end
                first_ok_start = r.start - t_end
                break
        # ---- SIGTERM under load
        time.sleep(1.0)
        load.phase = "term"
        t_term = time.time()
        s.proc.send_signal(signal.SIGTERM)
        try:
            rc = s.proc.wait(LIMIT + 40)
        except Exception:
            rc = None
        term_secs = time.time() - t_term
        load.finish()
        left = rbtest.wait_no_containers(s.instance)
        end = time.time() + rbtest.WAIT
        procs = our_processes()
        while procs and time.time() < end:
            time.sleep(0.2)
            procs = our_processes()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()

    replies = load.replies
    kinds = {}
    for r in replies:
        kinds[r.outcome] = kinds.get(r.outcome, 0) + 1
    slow = [r for r in replies if r.secs > slow_bound]
    bad = [r for r in replies if r.outcome in ("bad", "partial")]
    # What the SIGTERM found in flight: begun before it, ended after it.  A
    # connection still in the listen queue is reset unanswered when the
    # reader stops accepting; one that the reader took must get its real answer.
    inflight = [r for r in replies if r.start < t_term < r.start + r.secs]
    cut = [r for r in inflight if r.outcome in ("partial", "bad") or
           (r.outcome in ("result", "error") and not r.expected)]
    reset = [r for r in inflight if r.outcome == "closed"]
    lat = sorted(figures["respawn"])
    p50 = statistics.median(lat) if lat else None
    print("chaos figures: %.0f s of chaos, %d clients, %d slots, run limit %d s, a kill every %.0f ms" %
          (chaos_secs, CLIENTS, SLOTS, LIMIT, interval * 1000))
    print("  kills: front %d, agent %d, reader %d, master %d" %
          (figures["kills"]["front"], figures["kills"]["agent"], figures["kills"]["reader"],
           figures["kills"]["master"]))
    if lat:
        print("  respawn latency: p50 %.0f ms, max %.0f ms (%d respawns seen)" %
              (p50 * 1000, lat[-1] * 1000, len(lat)))
    print("  good runs/s: baseline %.2f (%.0f s), chaos %.2f (%.0f%%)" %
          (base, base_secs, rate, 100 * rate / base if base else 0))
    print("  slowest reply: %.1f s (bound %.1f s)" % (max(r.secs for r in replies), slow_bound))
    print("  replies: " + ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    print("  by kind (expected/all): " + ", ".join(
        "%s %d/%d" % (k, sum(1 for r in replies if r.kind == k and r.expected),
                      sum(1 for r in replies if r.kind == k)) for k in KINDS))
    print("  restarted masters serving after: " +
          ", ".join("%.2f s (%d starts)" % (t or -1, n) for t, n in figures["restarts"]))
    print("  first good run after the chaos: sent at %s s, answered at %s s (a run without chaos: %.2f s)" %
          ("%.2f" % first_ok_start if first_ok is not None else "-",
           "%.2f" % first_ok if first_ok is not None else "never", statistics.median(quick) if quick else 0))
    print("  SIGTERM under load: exit %s in %.2f s, %d in flight: %d answered, %d cut, "
          "%d reset unaccepted" % (rc, term_secs, len(inflight), len(inflight) - len(cut) - len(reset),
                                   len(cut), len(reset)))
    print("  containers left: %s; runboxd processes left: %s" % (left, procs))

    R.check(figures["kills"]["reader"] > 0, "the reader was killed under load too", figures["kills"])
    R.check(left == [], "0 containers with the instance label after the final stop", left)
    R.check(not slow, "0 clients waited past %d x (the run limit + 10 s, or 1.5 x the slowest reply without chaos)"
            % SLACK,
            [(r.kind, r.phase, round(r.secs, 1)) for r in slow[:5]])
    R.check(not bad, "every reply a valid result, a JSON error, or a connection closed without a partial 200",
            [(r.kind, r.outcome, getattr(r, "detail", "")) for r in bad[:5]])
    # Throughput under chaos is the machine's as much as the server's (it
    # fell to 9% of the baseline at a load average of 17): the figure above
    # is reported, and the test asks only that runs keep succeeding.
    if rbtest.RUNTIME == "runsc":
        R.skip("runs keep succeeding during the chaos",
               "gVisor sandboxes of the killed runs take tens of seconds to go on 2 cores (ptrace), "
               "and runs wait behind them (seen: %r)" % ((base, rate),))
    else:
        R.check(base > 0 and rate > 0, "runs keep succeeding during the chaos", (base, rate))
    R.check(len(figures["restarts"]) == 2 and all(t is not None and t <= 2.0 * SLACK for t, _ in figures["restarts"]),
            "each restarted master serves within %.0f s of the kill" % (2.0 * SLACK), figures["restarts"])
    # A run's own time is the machine's, not the recovery's: the run that
    # succeeds must have been sent within 2 s.
    R.check(first_ok is not None and first_ok_start <= 2.0 * SLACK,
            "a run sent within %.0f s after the chaos succeeds" % (2.0 * SLACK), (first_ok_start, first_ok))
    R.check(rc == 0 and term_secs <= LIMIT + 5 * SLACK,
            "SIGTERM under load: exit 0 within the run limit + %d s" % (5 * SLACK), (rc, term_secs))
    R.check(not cut, "SIGTERM cuts nothing in flight", [(r.kind, r.outcome, getattr(r, "detail", ""))
                                                       for r in cut[:5]])
    # A respawn waits for no timer or backoff (~0.1 s idle, 0.14 s at a load
    # average of 17): a bound 10x that still catches a respawn left to a tick.
    R.check(lat and p50 <= 0.5 * SLACK, "respawn latency p50 <= %.1f s" % (0.5 * SLACK), p50)
    R.check(procs == [], "no runboxd process left that the last master does not know", procs)
    if R.failed:
        print(s.log()[-6000:])
    R.done()


if __name__ == "__main__":
    main()
