"""Scale-out: packaging/examples/nginx/runboxd.conf in front of two runboxd
instances on loopback (Debian's nginx; only the server addresses, the
listen port and the log path are replaced).  Runs go through nginx while one
instance is stopped with SIGTERM mid-load: every request succeeds (the
in-flight ones finish on the stopping instance, the rest go to the other),
and once the instance is back it takes traffic again."""

import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import rbtest
from rbtest import ROOT, Results, Runboxd, free_port, image_exists

R = Results("scaleout")
EXAMPLE = os.path.join(ROOT, "packaging", "examples", "nginx", "runboxd.conf")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def render(ports, listen, log):
    """The example with our addresses: its server lines keep their parameters."""
    with open(EXAMPLE) as f:
        text = f.read()
    servers = re.findall(r"^(\s*)server 10\.0\.0\.\d+:8088(.*)$", text, re.M)
    assert len(servers) >= 2, "the example lists several servers"
    indent, params = servers[0]
    text = re.sub(r"^\s*server 10\.0\.0\.\d+:8088.*\n", "", text, flags=re.M)
    block = "".join("%sserver 127.0.0.1:%d%s\n" % (indent, p, params) for p in ports)
    text = text.replace("    least_conn;\n", "    least_conn;\n" + block, 1)
    text = re.sub(r"^(\s*)listen 80;", r"\1listen 127.0.0.1:%d;" % listen, text, flags=re.M)
    return text.replace("/var/log/nginx/runboxd.log", log)


def start_nginx(work, ports, port):
    """Debian's nginx as a foreground process with its files under work."""
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(work, d), exist_ok=True)
    log = os.path.join(work, "access.log")
    with open(os.path.join(work, "runboxd.conf"), "w") as f:
        f.write(render(ports, port, log))
    with open(os.path.join(work, "nginx.conf"), "w") as f:
        f.write("""user root;
worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/error.log warn;
events { worker_connections 256; }
http {
    client_body_temp_path %(w)s/body;
    proxy_temp_path %(w)s/proxy;
    fastcgi_temp_path %(w)s/fastcgi;
    uwsgi_temp_path %(w)s/uwsgi;
    scgi_temp_path %(w)s/scgi;
    include %(w)s/runboxd.conf;
}
""" % {"w": work})
    p = subprocess.run([NGINX, "-t", "-p", work, "-c", os.path.join(work, "nginx.conf")],
                       capture_output=True)
    R.check(p.returncode == 0, "nginx accepts the example configuration", p.stderr.decode()[-1000:])
    proc = subprocess.Popen([NGINX, "-p", work, "-c", os.path.join(work, "nginx.conf"), "-g", "daemon off;"],
                            stdin=subprocess.DEVNULL)
    return proc, log


def log_lines(log):
    """[(msec, status, [upstream ports], id)] from the example's log format."""
    out = []
    try:
        with open(log) as f:
            for line in f:
                m = re.match(r"(\S+) .* (\d{3}) \S+ upstream=(.*) upstream_status=.* id=(\S*)$", line.strip())
                if m:
                    ports = [int(x) for x in re.findall(r":(\d+)", m.group(3))]
                    out.append((float(m.group(1)), int(m.group(2)), ports, m.group(4)))
    except OSError:
        pass
    return out


class Load:
    """Clients that send runs through nginx until told to stop."""

    def __init__(self, client, clients=4):
        self.client = client
        self.results = []  # (id, status, ok, body)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def loop(self):
        while not self.stop.is_set():
            rid = uuid.uuid4().hex
            payload = {"language": "sh", "files": [{"name": "main.sh", "content": "sleep 0.2; echo " + rid}]}
            try:
                st, js, body = self.client.run("runbox/sh", payload, headers={"X-Request-Id": rid}, timeout=90)
                ok = st == 200 and js is not None and js.get("stdout") == rid + "\n"
            except OSError as e:
                st, ok, body = None, False, repr(e)
            with self.lock:
                self.results.append((rid, st, ok, body))

    def count(self):
        with self.lock:
            return len(self.results)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(120)
        return self.results


def wait_for(cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def streamed_run(s, script, started, out, timeout=90):
    """POST /run?stream=1 of an sh script: started is set when its first
    stdout event arrives (the program is running, whatever the runtime);
    out gets (status, stdout of the events, the final event)."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=timeout)
    try:
        conn.request("POST", "/run?stream=1", body=json.dumps({"image": "runbox/sh", "payload": {
            "language": "sh", "files": [{"name": "main.sh", "content": script}]}}),
            headers=s.auth({"Content-Type": "application/json"}))
        r = conn.getresponse()
        stdout, final = "", None
        while r.status == 200:
            line = r.readline()
            if not line:
                break
            ev = json.loads(line)
            if ev.get("stream") == "stdout":
                stdout += ev["data"]
                started.set()
            elif "stream" not in ev:
                final = ev
        out["r"] = (r.status, stdout, final)
    except (OSError, ValueError, http.client.HTTPException) as e:
        out["r"] = (None, repr(e), None)
    finally:
        conn.close()


def main():
    if not R.check(os.path.exists(NGINX), "Debian's nginx is installed (packaging/install-deps.sh)"):
        R.done()
    if not R.check(image_exists("runbox/sh"), "image runbox/sh exists"):
        R.done()
    work = tempfile.mkdtemp(prefix="runboxd-scaleout-")
    a = Runboxd(SERVER_WORKER_THREADS=3)
    b = Runboxd(SERVER_WORKER_THREADS=3, API_ACCESS_TOKEN=a.token)
    nginx = None
    load = None
    try:
        a.start()
        b.start()
        port = free_port()
        nginx, log = start_nginx(work, [a.port, b.port], port)
        client = Runboxd()  # only its client side, pointed at nginx
        client.port, client.token = port, a.token
        R.check(wait_for(lambda: client.request("GET", "/")[0] == 200, 30), "nginx answers GET / from upstream")

        load = Load(client)

        def served_by(p, since=0.0):
            return [ln for ln in log_lines(log) if ln[0] >= since and ln[2] and ln[2][-1] == p and ln[1] == 200]

        R.check(wait_for(lambda: len(served_by(a.port)) >= 3 and len(served_by(b.port)) >= 3, 120),
                "both instances serve runs through nginx",
                "%d/%d" % (len(served_by(a.port)), len(served_by(b.port))))

        # A run in flight on A when it is told to stop must finish there.
        # Streamed, so that its first line says the program is running
        # (under runc and gVisor alike: no look at the host's processes).
        slow, started = {}, threading.Event()
        t = threading.Thread(target=streamed_run, args=(a, "echo started; sleep 4.5; echo drained", started, slow))
        t.start()
        R.check(started.wait(60), "a slow run is in flight on the instance to be stopped", slow.get("r"))
        before = load.count()
        t_stop = time.time()
        a.proc.send_signal(15)
        rc = a.proc.wait(60)
        t.join(90)
        R.check(rc == 0, "the stopped instance drains and exits 0", a.log()[-1500:])
        st, stdout, final = slow.get("r", (None, None, None))
        R.check(st == 200 and stdout == "started\ndrained\n" and isinstance(final, dict)
                and (final.get("result") or {}).get("stdout") == "started\ndrained\n",
                "a run in flight on it at SIGTERM finishes", slow.get("r"))
        R.check(wait_for(lambda: load.count() >= before + 15, 120), "the load goes on while it is down",
                load.count() - before)
        t_down = time.time()
        R.check(wait_for(lambda: len(served_by(b.port, t_down)) >= 5, 60) and not served_by(a.port, t_down),
                "only the remaining instance serves while it is down")

        # Back on the same port: nginx's passive check lets it in again.
        a2 = Runboxd(SERVER_WORKER_THREADS=3, API_ACCESS_TOKEN=a.token, SERVER_LISTEN_PORT=a.port,
                     RUNBOXD_INSTANCE=a.instance)
        a2.port = a.port
        a2.start()
        t_back = time.time()
        R.check(wait_for(lambda: len(served_by(a.port, t_back)) >= 3, 120),
                "the restarted instance takes traffic again", len(served_by(a.port, t_back)))
        results = load.finish()
        load = None
        bad = [r for r in results if not r[2]]
        R.check(len(results) >= 30 and not bad, "every one of %d runs through nginx succeeded" % len(results),
                bad[:5])
        retried = [ln for ln in log_lines(log) if len(ln[2]) > 1]
        print("scaleout: %d runs, %d retried on the other instance, down for %.1f s"
              % (len(results), len(retried), t_back - t_stop), flush=True)
        R.check(a2.stop() == 0 and b.stop() == 0, "both stop cleanly")
    finally:
        if load is not None:
            load.finish()
        if nginx is not None:
            nginx.terminate()
            try:
                nginx.wait(30)
            except subprocess.TimeoutExpired:
                nginx.kill()
        for s in (a, b):
            s.stop()
        try:
            a2.stop()
        except NameError:
            pass
        if R.failed:
            for name in ("error.log", "access.log"):
                try:
                    with open(os.path.join(work, name)) as f:
                        print("--- nginx " + name + "\n" + f.read()[-3000:])
                except OSError:
                    pass
        shutil.rmtree(work, ignore_errors=True)
    R.done()


if __name__ == "__main__":
    main()
