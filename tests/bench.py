"""runboxd benchmarks.  Every figure is a ratio against a baseline taken in
the same run, so the numbers compare across machines:

- run latency: POST /run of a hello world in runbox/sh, against `docker run`
  of the same image with the same payload and docker-run's container flags
  (what a client of the Docker CLI would pay);
- GET / latency against a bare TCP connect+close to the same server
  (the HTTP layer's own cost);
- front memory: the RSS of a front after runs that hit the output limit,
  against its RSS when idle.
"""

import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
from rbtest import Runboxd  # noqa: E402

N = int(os.environ.get("BENCH_RUNS", "20"))
PAYLOAD = {"language": "sh", "files": [{"name": "main.sh", "content": "echo Hello World"}]}


def median_ms(fn, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    s = Runboxd(SERVER_WORKER_THREADS=1, RUN_MAX_OUTPUT_SIZE=1000000, LOG_LEVEL="warn").start()
    try:
        def via_runboxd():
            st, js, body = s.run("runbox/sh", PAYLOAD)
            assert st == 200 and js["stdout"] == "Hello World\n", body

        data = json.dumps(PAYLOAD).encode()
        cmd = ["docker", "run", "--rm", "-i", "--network", "none", "--read-only",
               "--tmpfs", "/tmp:rw,noexec,nosuid,size=65536k",
               "--tmpfs", "/home/runbox:rw,exec,nosuid,uid=1000,gid=1000,size=131072k",
               "-u", "runbox", "--memory", "256m", "--hostname", "runbox", "runbox/sh"]

        def via_cli():
            p = subprocess.run(cmd, input=data, capture_output=True, timeout=60)
            assert p.returncode == 0 and json.loads(p.stdout)["stdout"] == "Hello World\n", p.stderr

        via_runboxd()
        via_cli()
        r = median_ms(via_runboxd, N)
        b = median_ms(via_cli, N)
        print("run latency: runboxd %.1f ms, docker run %.1f ms: ratio %.2f" % (r, b, r / b))

        import socket

        def connect_only():
            c = socket.create_connection(("127.0.0.1", s.port))
            c.close()

        def get_root():
            st, _, _ = s.request("GET", "/")
            assert st == 200

        g = median_ms(get_root, 200)
        c = median_ms(connect_only, 200)
        print("GET / latency: %.3f ms, TCP connect %.3f ms: ratio %.2f" % (g, c, g / c))

        front = s.children().get("runboxd: front 0")
        idle = rss_kb(front)
        flood = {"language": "sh", "files": [{"name": "main.sh", "content": "yes aaaaaaaaaaaaaaaaaaaa | head -c 50000000"}]}
        for _ in range(3):
            st, js, _ = s.run("runbox/sh", flood)
            assert st == 400 and js["error"] == "limits.read.size", js
        after = rss_kb(front)
        print("front RSS: idle %d KiB, after 3 runs of 50 MB output %d KiB: ratio %.2f" % (idle, after, after / idle))
    finally:
        s.stop()


if __name__ == "__main__":
    main()
