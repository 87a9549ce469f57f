"""make bench: runboxd against its peers, measured in one run on one private
dockerd, same image, same payload, same limits, alternating run by run:

  floor   the raw Docker API, issued here on the unix socket: create, attach,
          start, payload, read to end of stream, delete (no server at all);
  cli     `docker run --rm -i` with docker-run's container flags;
  cold    runboxd, a container created for each run;
  warm    runboxd with RUN_WARM_IMAGES naming the image.

With BENCH_RUNTIME=runsc the same four run under gVisor too (runsc, as
tests/harness/dockerd.sh registers it: ptrace), alternated with the runc
ones in the same run, so that runsc/runc ratios compare like with like.

Last, runs/s (at 4 clients) and `GET /` latency of the warm server with
4 x its slots of slow connections open (each sending a byte a second of a
head that never ends, reconnecting after its 408) against none: the reader
holds them, so the slots stay free.

Only ratios carry over between machines (the floor moves with the load).
Nothing here asserts a time.  Results go to BENCH_OUT (build/bench): a
table (results.md), the raw numbers (results.json) and a latency plot
(latency.svg).

Environment: BENCH_RUNS (sequential runs per peer, 30), BENCH_TPUT_RUNS
(runs per peer and concurrency, 12), BENCH_RSS_RUNS (runs before the second
RSS reading, 1000), BENCH_WRK_SECONDS (5), BENCH_IMAGE (runbox/sh),
BENCH_RUNTIME (runc; runsc adds the gVisor peers).
"""

import http.client
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
import rbtest  # noqa: E402
from rbtest import Runboxd  # noqa: E402

N = int(os.environ.get("BENCH_RUNS", "30"))
TPUT_RUNS = int(os.environ.get("BENCH_TPUT_RUNS", "12"))
RSS_RUNS = int(os.environ.get("BENCH_RSS_RUNS", "1000"))
WRK_SECONDS = int(os.environ.get("BENCH_WRK_SECONDS", "5"))
IMAGE = os.environ.get("BENCH_IMAGE", "runbox/sh")
OUT = os.environ.get("BENCH_OUT", "build/bench")
SOCK = os.environ["RUNBOXD_TEST_DOCKER_SOCK"]
PAYLOAD = {"language": "sh", "files": [{"name": "main.sh", "content": "echo Hello World"}]}
PAYLOAD_BYTES = json.dumps(PAYLOAD).encode()
SLOTS = 4
CONF = rbtest.base_config()
# The shipped default for every peer: the tests' 25 leaves gVisor too few
# for its own threads (it would not start).
CONF["DOCKER_CONTAINER_PIDS_LIMIT"] = "256"
RUNTIMES = ["runc"] + (["runsc"] if os.environ.get("BENCH_RUNTIME", "runc") == "runsc" else [])
BASE = ("floor", "cli", "cold", "warm")


def peer_name(base, runtime):
    return base if runtime == "runc" else "%s/%s" % (base, runtime)


def note(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def check_reply(data):
    js = json.loads(data)
    if js.get("stdout") != "Hello World\n":
        raise RuntimeError("unexpected answer: %r" % data[:300])


# ---- (a) the floor: raw Docker API on the unix socket ----

def create_body(runtime):
    """The container a cold runboxd run creates, from the same configuration."""
    c = CONF
    body = {
        "Hostname": c["DOCKER_CONTAINER_HOSTNAME"], "User": c["DOCKER_CONTAINER_USER"],
        "AttachStdin": True, "AttachStdout": True, "AttachStderr": True,
        "Tty": False, "OpenStdin": True, "StdinOnce": True, "Image": IMAGE,
        "NetworkDisabled": True, "Labels": {"io.runboxd.bench": "floor"},
        "HostConfig": {
            "Memory": int(c["DOCKER_CONTAINER_MEMORY"]),
            "MemorySwap": int(c["DOCKER_CONTAINER_MEMORY"]),
            "CapDrop": c["DOCKER_CONTAINER_CAP_DROP"].split(),
            "Ulimits": [
                {"Name": "nofile", "Soft": int(c["DOCKER_CONTAINER_ULIMIT_NOFILE_SOFT"]),
                 "Hard": int(c["DOCKER_CONTAINER_ULIMIT_NOFILE_HARD"])},
                {"Name": "nproc", "Soft": int(c["DOCKER_CONTAINER_ULIMIT_NPROC_SOFT"]),
                 "Hard": int(c["DOCKER_CONTAINER_ULIMIT_NPROC_HARD"])}],
            "ReadonlyRootfs": True,
            "Tmpfs": {c["DOCKER_CONTAINER_TMP_DIR_PATH"]: "rw,noexec,nosuid,size=65536k",
                      c["DOCKER_CONTAINER_WORK_DIR_PATH"]: c["DOCKER_CONTAINER_WORK_DIR_OPTIONS"]},
            "PidsLimit": int(c["DOCKER_CONTAINER_PIDS_LIMIT"]),
            "SecurityOpt": ["no-new-privileges"],
            "NetworkMode": "none",
        },
    }
    if runtime != "runc":
        body["HostConfig"]["Runtime"] = runtime
    return body


def docker_call(method, path, body=None, upgrade=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(SOCK)
    data = json.dumps(body).encode() if body is not None else b""
    head = "%s %s HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % (
        method, path, len(data))
    head += "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else "Connection: close\r\n"
    s.sendall(head.encode() + b"\r\n" + data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise RuntimeError("docker closed during %s %s" % (method, path))
        buf += b
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if upgrade:
        return status, s, rest
    while True:
        b = s.recv(65536)
        if not b:
            break
        rest += b
    s.close()
    if b"transfer-encoding: chunked" in head.lower():
        out, p = b"", 0
        while True:
            line_end = rest.index(b"\r\n", p)
            size = int(rest[p:line_end].split(b";")[0], 16)
            if size == 0:
                break
            out += rest[line_end + 2:line_end + 2 + size]
            p = line_end + 4 + size
        rest = out
    return status, None, rest


def frames(data):
    out, err, p = b"", b"", 0
    while p + 8 <= len(data):
        kind, size = data[p], struct.unpack(">I", data[p + 4:p + 8])[0]
        chunk = data[p + 8:p + 8 + size]
        if kind == 1:
            out += chunk
        elif kind == 2:
            err += chunk
        p += 8 + size
    return out, err


def floor_run(runtime):
    st, _, body = docker_call("POST", "/containers/create", create_body(runtime))
    if st != 201:
        raise RuntimeError("create: %d %r" % (st, body))
    cid = json.loads(body)["Id"]
    try:
        st, stream, early = docker_call(
            "POST", "/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1" % cid, upgrade=True)
        if st != 101:
            raise RuntimeError("attach: %d" % st)
        st, _, body = docker_call("POST", "/containers/%s/start" % cid)
        if st != 204:
            raise RuntimeError("start: %d %r" % (st, body))
        stream.sendall(PAYLOAD_BYTES)
        stream.shutdown(socket.SHUT_WR)
        data = early
        while True:
            b = stream.recv(65536)
            if not b:
                break
            data += b
        stream.close()
        out, _ = frames(data)
        check_reply(out)
    finally:
        docker_call("DELETE", "/containers/%s?v=1&force=1" % cid)


# ---- (b) docker run --rm -i ----

def cli_cmd(runtime):
    c = CONF
    rt = [] if runtime == "runc" else ["--runtime", runtime]
    return ["docker", "run", "--rm", "-i"] + rt + ["--network", "none", "--read-only",
            "--hostname", c["DOCKER_CONTAINER_HOSTNAME"], "-u", c["DOCKER_CONTAINER_USER"],
            "--memory", c["DOCKER_CONTAINER_MEMORY"], "--memory-swap", c["DOCKER_CONTAINER_MEMORY"],
            "--pids-limit", c["DOCKER_CONTAINER_PIDS_LIMIT"],
            "--ulimit", "nofile=%s:%s" % (c["DOCKER_CONTAINER_ULIMIT_NOFILE_SOFT"],
                                          c["DOCKER_CONTAINER_ULIMIT_NOFILE_HARD"]),
            "--ulimit", "nproc=%s:%s" % (c["DOCKER_CONTAINER_ULIMIT_NPROC_SOFT"],
                                         c["DOCKER_CONTAINER_ULIMIT_NPROC_HARD"]),
            "--cap-drop", "MKNOD", "--cap-drop", "NET_RAW", "--security-opt", "no-new-privileges",
            "--tmpfs", c["DOCKER_CONTAINER_TMP_DIR_PATH"] + ":rw,noexec,nosuid,size=65536k",
            "--tmpfs", c["DOCKER_CONTAINER_WORK_DIR_PATH"] + ":" + c["DOCKER_CONTAINER_WORK_DIR_OPTIONS"],
            IMAGE]


def cli_run(runtime):
    p = subprocess.run(cli_cmd(runtime), input=PAYLOAD_BYTES, capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("docker run: %d %r" % (p.returncode, p.stderr[:300]))
    check_reply(p.stdout)


# ---- (c), (d) runboxd ----

def runboxd_run(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request("POST", "/run", body=json.dumps({"image": IMAGE, "payload": PAYLOAD}),
                     headers={"X-Access-Token": server.token, "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("runboxd: %d %r" % (r.status, data[:300]))
        check_reply(data)
    finally:
        conn.close()


# ---- measuring ----

def timed(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def cpu_seconds():
    """Busy CPU time of the whole machine (dockerd, containerd, shims, runc, us)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = sum(v) - v[3] - v[4]  # minus idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def throughput(fn, clients, runs):
    """runs of fn by clients at once, back to back: (runs/s, CPU s per run, p50 ms of a run)."""
    todo = list(range(runs))
    lock = threading.Lock()
    errors, lat = [], []

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            try:
                ms = timed(fn)
                with lock:
                    lat.append(ms)
            except Exception as e:  # noqa: BLE001 -- reported below
                errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    c0, t0 = cpu_seconds(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt, dc = time.perf_counter() - t0, cpu_seconds() - c0
    if errors:
        raise errors[0]
    return runs / dt, dc / runs, statistics.median(lat)


def wrk_rps(port):
    p = subprocess.run(["wrk", "-t2", "-c%d" % (2 * SLOTS), "-d%ds" % WRK_SECONDS,
                        "http://127.0.0.1:%d/" % port], capture_output=True, text=True, timeout=120)
    for line in p.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError("wrk: %s %s" % (p.stdout, p.stderr))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Tricklers:
    """n connections, each sending a byte a second of a head that never ends."""

    def __init__(self, port, n):
        self.port, self.n = port, n
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.one, daemon=True) for _ in range(n)]

    def one(self):
        while not self.stop.is_set():
            try:
                c = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            except OSError:
                self.stop.wait(1)
                continue
            try:
                c.send(b"GET / HTTP/1.1\r\n")
                while not self.stop.wait(1):
                    c.send(b"X")  # until the 408 closes it
            except OSError:
                pass
            finally:
                c.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(5)


def get_latencies(port, n=50):
    def get():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", "/")
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("GET /: %d" % r.status)
        finally:
            conn.close()
    return [timed(get) for _ in range(n)]


def slow_clients(server):
    """runs/s and GET / latency with none and with 4 x SLOTS slow connections."""
    out = {}
    for name, n in (("none", 0), ("slow", 4 * SLOTS)):
        with Tricklers(server.port, n):
            time.sleep(2 if n else 0)  # every one connected and trickling
            lat = get_latencies(server.port)
            rps, _, _ = throughput(lambda: runboxd_run(server), SLOTS, TPUT_RUNS)
        out[name] = {"connections": n, "get_p50_ms": statistics.median(lat), "get_p95_ms": pct(lat, 95),
                     "runs_per_s": rps}
    return out


def rss_of(server):
    kids = server.children()
    pick = {"master": server.proc.pid, "reader": kids.get("runboxd: reader"),
            "front": kids.get("runboxd: front 0"), "agent": kids.get("runboxd: agent 0")}
    return {k: rss_kib(v) if v else 0 for k, v in pick.items()}


def svg_plot(lat, path):
    """Latency distribution per peer: each sorted sample against its rank."""
    colors = {"floor": "#444444", "cli": "#d62728", "cold": "#1f77b4", "warm": "#2ca02c"}
    w, h, ml, mb, mt, mr = 760, 420, 60, 40, 20, 150
    top = max(max(v) for v in lat.values()) * 1.05
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
             'font-size="12"><rect width="100%%" height="100%%" fill="white"/>' % (w, h)]
    pw, ph = w - ml - mr, h - mt - mb
    for i in range(6):
        y = mt + ph - ph * i / 5
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (ml, ml + pw, y, y))
        parts.append('<text x="%d" y="%.1f" text-anchor="end">%.0f</text>' % (ml - 5, y + 4, top * i / 5))
    parts.append('<text x="15" y="%d" transform="rotate(-90 15 %d)" text-anchor="middle">ms per run</text>'
                 % (mt + ph // 2, mt + ph // 2))
    parts.append('<text x="%d" y="%d" text-anchor="middle">percentile of sequential runs</text>'
                 % (ml + pw // 2, h - 8))
    for j, (name, xs) in enumerate(lat.items()):
        xs = sorted(xs)
        pts = " ".join("%.1f,%.1f" % (ml + pw * (i + 0.5) / len(xs), mt + ph - ph * v / top)
                       for i, v in enumerate(xs))
        col = colors.get(name.split("/")[0], "#9467bd")
        dash = ' stroke-dasharray="6,4"' if "/" in name else ""  # another runtime: same colour, dashed
        parts.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>' % (col, dash, pts))
        parts.append('<text x="%d" y="%d" fill="%s">%s p50 %.0f</text>'
                     % (ml + pw + 8, mt + 15 + 18 * j, col, name, statistics.median(xs)))
    parts.append("</svg>\n")
    with open(path, "w") as f:
        f.write("\n".join(parts))


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ver = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                         capture_output=True, text=True).stdout.strip()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    return "%d cores (%s), Docker %s, load average %s at start" % (os.cpu_count(), model, ver, load)


def peer_fns(runtime, servers):
    cold, warm = servers[runtime]
    return {peer_name("floor", runtime): lambda: floor_run(runtime),
            peer_name("cli", runtime): lambda: cli_run(runtime),
            peer_name("cold", runtime): lambda: runboxd_run(cold),
            peer_name("warm", runtime): lambda: runboxd_run(warm)}


def main():
    os.makedirs(OUT, exist_ok=True)
    # Docker may take long on a loaded machine: a timeout only ends a bench.
    common = dict(SERVER_WORKER_THREADS=SLOTS, LOG_LEVEL="warn",
                  DOCKER_CONTAINER_PIDS_LIMIT=CONF["DOCKER_CONTAINER_PIDS_LIMIT"],
                  DOCKER_UNIX_SOCKET_READ_TIMEOUT="60", DOCKER_UNIX_SOCKET_WRITE_TIMEOUT="60")
    servers = {}
    for rt in RUNTIMES:
        extra = {} if rt == "runc" else {"DOCKER_CONTAINER_RUNTIME": rt}
        servers[rt] = (Runboxd(**common, **extra).start(),
                       Runboxd(RUN_WARM_IMAGES=IMAGE, **common, **extra).start())
    cold, warm = servers["runc"]
    res = {"machine": machine(), "runs": N, "runtimes": RUNTIMES,
           "pids_limit": int(CONF["DOCKER_CONTAINER_PIDS_LIMIT"])}
    try:
        peers = {}
        for rt in RUNTIMES:
            peers.update(peer_fns(rt, servers))
        for fn in peers.values():  # images in the page cache, connections made
            fn()
        lat = {k: [] for k in peers}
        note("latency: %d sequential runs per peer, alternated" % N)
        for _ in range(N):
            for k, fn in peers.items():
                lat[k].append(timed(fn))
        res["latency_ms"] = {k: {"p50": statistics.median(v), "p95": pct(v, 95), "max": max(v)}
                             for k, v in lat.items()}
        res["samples_ms"] = lat
        tput = {k: {} for k in peers}
        for clients in (1, 2, 4):
            note("throughput: %d runs per peer at %d clients" % (TPUT_RUNS, clients))
            for k, fn in peers.items():
                rps, cpu, p50 = throughput(fn, clients, TPUT_RUNS)
                tput[k][clients] = {"runs_per_s": rps, "cpu_s_per_run": cpu, "p50_ms": p50}
        res["throughput"] = tput
        note("GET / with wrk for %d s" % WRK_SECONDS)
        res["get_root_rps"] = wrk_rps(cold.port)
        note("RSS: %d warm runs at %d clients" % (RSS_RUNS, SLOTS))
        idle = rss_of(warm)
        throughput(lambda: runboxd_run(warm), SLOTS, RSS_RUNS)
        res["rss_kib"] = {"idle": idle, "after": rss_of(warm), "runs": RSS_RUNS}
        note("slow clients: %d runs at %d clients and 50 GET / with 0 and %d slow connections open"
             % (TPUT_RUNS, SLOTS, 4 * SLOTS))
        res["slow_clients"] = slow_clients(warm)
        svg_plot(lat, os.path.join(OUT, "latency.svg"))
    finally:
        for pair in servers.values():
            for server in pair:
                server.stop()
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    report = table(res)
    with open(os.path.join(OUT, "results.md"), "w") as f:
        f.write(report)
    print(report)
    print("written: %s/results.md results.json latency.svg" % OUT)


def table(res):
    lat, tp = res["latency_ms"], res["throughput"]
    names = {"floor": "raw Docker API floor (a)", "cli": "`docker run --rm -i` (b)",
             "cold": "runboxd cold (c)", "warm": "runboxd warm (d)"}
    runtimes = res.get("runtimes", ["runc"])
    lines = ["Machine: %s; %d sequential runs per peer, alternated%s; pids limit %d." % (
                 res["machine"], res["runs"], " across " + " and ".join(runtimes) if len(runtimes) > 1 else "",
                 res.get("pids_limit", 0)), "",
             "| peer | runtime | p50 ms | p95 ms | max ms | × floor p50 | runs/s 1 | runs/s 2 | runs/s 4 | CPU s/run (4) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for rt in runtimes:
        f50 = lat[peer_name("floor", rt)]["p50"]
        for b, n in names.items():
            k = peer_name(b, rt)
            lines.append("| %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %.3f |" % (
                n, rt, lat[k]["p50"], lat[k]["p95"], lat[k]["max"], lat[k]["p50"] / f50,
                tp[k][1]["runs_per_s"], tp[k][2]["runs_per_s"], tp[k][4]["runs_per_s"],
                tp[k][4]["cpu_s_per_run"]))
    lines += ["", "Back to back (no pause between one client's runs) and at 2 concurrent clients, from the "
              "throughput phase:", "",
              "| peer | runtime | p50 ms, 1 client | × floor | p50 ms, 2 clients | × floor |", "|---|---|---|---|---|---|"]
    for rt in runtimes:
        fl = tp[peer_name("floor", rt)]
        for b, n in names.items():
            t = tp[peer_name(b, rt)]
            if "p50_ms" in t[1]:
                lines.append("| %s | %s | %.0f | %.2f | %.0f | %.2f |" % (
                    n, rt, t[1]["p50_ms"], t[1]["p50_ms"] / fl[1]["p50_ms"], t[2]["p50_ms"],
                    t[2]["p50_ms"] / fl[2]["p50_ms"]))
    lines.append("")
    for rt in runtimes:
        p = lambda b: peer_name(b, rt)  # noqa: E731
        r = lambda x, y: lat[p(x)]["p50"] / lat[p(y)]["p50"]  # noqa: E731
        lines.append("%s p50 ratios: c/a %.2f, d/a %.2f, c/b %.2f, d/b %.2f; runs/s at 4 clients vs floor: "
                     "cold %.2f, warm %.2f" % (rt, r("cold", "floor"), r("warm", "floor"), r("cold", "cli"),
                                               r("warm", "cli"),
                                               tp[p("cold")][4]["runs_per_s"] / tp[p("floor")][4]["runs_per_s"],
                                               tp[p("warm")][4]["runs_per_s"] / tp[p("floor")][4]["runs_per_s"]))
    for rt in runtimes[1:]:
        lines.append("%s/runc p50: " % rt + ", ".join(
            "%s %.2f" % (b, lat[peer_name(b, rt)]["p50"] / lat[b]["p50"]) for b in BASE))
    lines += ["`GET /` (wrk, %d connections, %d slots): %.0f requests/s" % (2 * SLOTS, SLOTS, res["get_root_rps"]),
              "RSS KiB idle -> after %d warm runs: master %d -> %d, reader %d -> %d, front %d -> %d, "
              "agent %d -> %d" % (
                  res["rss_kib"]["runs"], res["rss_kib"]["idle"]["master"], res["rss_kib"]["after"]["master"],
                  res["rss_kib"]["idle"]["reader"], res["rss_kib"]["after"]["reader"],
                  res["rss_kib"]["idle"]["front"], res["rss_kib"]["after"]["front"],
                  res["rss_kib"]["idle"]["agent"], res["rss_kib"]["after"]["agent"])]
    sc = res["slow_clients"]
    lines += ["Slow clients (warm, %d slots, %d clients): " % (SLOTS, SLOTS) + "; ".join(
        "%d slow connections open: %.2f runs/s, GET / p50 %.1f ms, p95 %.1f ms" % (
            v["connections"], v["runs_per_s"], v["get_p50_ms"], v["get_p95_ms"]) for v in (sc["none"], sc["slow"])),
        ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
