#!/usr/bin/env python3
"""A fake Docker Engine for the faults a real daemon will not produce on demand.

    python3 tests/harness/fakedocker.py --socket PATH --mode MODE [--log FILE]

It answers, over HTTP/1.1 on a unix socket, exactly the calls runboxd makes
(versioned paths, any /v1.N prefix): GET /version, POST /containers/create,
POST /containers/{id}/start, POST /containers/{id}/attach (hijacked stream),
DELETE /containers/{id}, GET /containers/json.  Every call is logged as one
line "METHOD TARGET" to --log, flushed, before it is answered (or not).

Modes:
  normal            like Docker; attach reads the payload to EOF and answers
                    one stdout frame with {"stdout":"fake\\n",...}
  hang              accepts and never answers any call
  version-hang      only /version never answers
  garbage-frame     attach sends bytes that are not a frame header (stream 7)
  huge-frame        attach sends a stdout header of length 0xFFFFFFF0, a few
                    bytes, then waits
  trickle           attach sends a 1-byte stdout frame every 0.5 s forever
  create-hang       create makes the container (listed, with its labels, until
                    deleted) but never answers: the client cannot know its id
  create-500, start-500, attach-500
                    that call answers 500 {"message":"fake failure"}
  close-mid-stream  attach sends half a frame and closes
  chunked           every JSON reply uses Transfer-Encoding: chunked, small chunks
  stderr            attach sends a stderr frame "runner broke\\n", then the
                    stdout frame
  engine29          answers as Docker Engine 29.0 does: ApiVersion 1.52,
                    MinAPIVersion 1.44, and a 400 "client version 1.N is too
                    old..." for a path versioned below 1.44 (or "too new"
                    above 1.52); otherwise normal
  api130            a daemon that speaks API 1.12 to 1.30 only; otherwise normal
  version-500       the unversioned /version (negotiation) answers, a
                    versioned one 500 {"message":"fake failure"}
  stdin-frame       attach sends a frame on the stdin stream (type 0), then
                    the stdout frame

In every mode the daemon answers versioned paths only within its API range
(1.12 to 1.41 as 20.10), and SIGUSR1 turns it into Engine 29 (an upgrade
under a running client).

SIGTERM or SIGINT: stop, remove the socket, exit 0.  Python 3 stdlib only.
"""

import argparse
import email.utils
import grp
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import struct
import sys
import threading

MODES = (
    "normal", "hang", "version-hang", "garbage-frame", "huge-frame", "trickle",
    "create-500", "start-500", "attach-500", "close-mid-stream", "chunked", "stderr",
    "create-hang", "engine29", "api130", "version-500", "stdin-frame",
)
# Docker release -> (Version, ApiVersion, MinAPIVersion)
ENGINES = {
    "20.10": ("20.10.24-fake", "1.41", "1.12"),
    "29": ("29.0.0-fake", "1.52", "1.44"),
    "1.30": ("17.06.0-fake", "1.30", "1.12"),
}
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
CHUNK = 7  # chunk size in chunked mode: small, so clients see many pieces

VERSION = {
    "Platform": {"Name": "fakedocker"},
    "Components": [
        {"Name": "Engine", "Version": "20.10.24-fake",
         "Details": {"ApiVersion": "1.41", "Arch": "amd64", "BuildTime": "2023-04-04T00:00:00.000000000+00:00",
                     "Experimental": "false", "GitCommit": "fake000", "GoVersion": "go1.19.8",
                     "KernelVersion": "6.1.0", "MinAPIVersion": "1.12", "Os": "linux"}},
        {"Name": "containerd", "Version": "1.6.20", "Details": {"GitCommit": "fake"}},
        {"Name": "runc", "Version": "1.1.5", "Details": {"GitCommit": "fake"}},
    ],
    "Version": "20.10.24-fake",
    "ApiVersion": "1.41",
    "MinAPIVersion": "1.12",
    "GitCommit": "fake000",
    "GoVersion": "go1.19.8",
    "Os": "linux",
    "Arch": "amd64",
    "KernelVersion": "6.1.0",
    "BuildTime": "2023-04-04T00:00:00.000000000+00:00",
}
RUNNER_REPLY = json.dumps({"stdout": "fake\n", "stderr": "", "error": ""}, separators=(",", ":")).encode()
REASONS = {101: "UPGRADED", 200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           404: "Not Found", 500: "Internal Server Error"}

ROUTE_PREFIX = re.compile(r"^/v(1\.\d+)(?=/)")
ROUTE_CONTAINER = re.compile(r"^/containers/([A-Za-z0-9_.-]+)(/[a-z]+)?$")

stop = threading.Event()


class Log:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", encoding="utf-8") if path else None

    def call(self, method, target):
        if self.f is None:
            return
        with self.lock:
            self.f.write("%s %s\n" % (method, target))
            self.f.flush()


def frame(stream, data):
    return struct.pack(">BxxxI", stream, len(data)) + data


class Closed(Exception):
    """The client went away (or we are stopping)."""


class Conn:
    """One client connection: buffered reads that give up when we stop."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        sock.settimeout(0.2)

    def recv(self):
        while not stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return b""
            return data
        raise Closed()

    def read_until(self, marker, limit):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise Closed()
            data = self.recv()
            if not data:
                raise Closed()
            self.buf += data
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            data = self.recv()
            if not data:
                raise Closed()
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_eof(self):
        """Everything until the client shuts down its write side."""
        data, self.buf = self.buf, b""
        while True:
            more = self.recv()
            if not more:
                return data
            data += more

    def wait_close(self):
        """Answer nothing; return once the client has gone (or we stop)."""
        try:
            while self.recv():
                pass
        except Closed:
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            raise Closed()


def read_request(conn):
    head = conn.read_until(b"\r\n\r\n", MAX_HEAD).decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise Closed()
    method, target, _ = parts
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(conn.read_until(b"\r\n", 1024).split(b";")[0], 16)
            if size == 0:
                conn.read_until(b"\r\n", MAX_HEAD)
                break
            body += conn.read_exact(size)
            conn.read_exact(2)
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if n > MAX_BODY:
            raise Closed()
        body = conn.read_exact(n)
    return method, target, headers, body


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = Conn(self.request)
        try:
            while not stop.is_set():
                method, target, headers, body = read_request(conn)
                self.server.log.call(method, target)
                if not self.route(conn, method, target, headers, body):
                    return
                if headers.get("connection", "").lower() == "close":
                    return
        except (Closed, ValueError):
            return

    # Each route returns True if the connection may carry another request.
    def route(self, conn, method, target, headers, body):
        mode = self.server.mode
        m = ROUTE_PREFIX.match(target)
        path = ROUTE_PREFIX.sub("", target.split("?", 1)[0], count=1)
        if m:
            refused = self.version_refused(m.group(1))
            if refused:
                return self.json(conn, 400, {"message": refused})
        if mode == "hang" or (mode == "version-hang" and path == "/version"):
            conn.wait_close()
            return False
        if method == "GET" and path == "/_ping":
            return self.reply(conn, 200, b"OK", "text/plain; charset=utf-8")
        if method == "GET" and path == "/version" and m and mode == "version-500":
            return self.fail(conn)
        if method == "GET" and path == "/version":
            version, api, minapi = ENGINES[self.server.engine]
            v = dict(VERSION, Version=version, ApiVersion=api, MinAPIVersion=minapi)
            return self.json(conn, 200, v)
        if method == "GET" and path == "/containers/json":
            with self.server.lock:
                listed = [{"Id": cid, "Labels": labels} for cid, labels in self.server.containers.items()]
            return self.json(conn, 200, listed)
        if method == "POST" and path == "/containers/create":
            return self.create(conn, body)
        m = ROUTE_CONTAINER.match(path)
        if m and method == "POST" and m.group(2) == "/start":
            if mode == "start-500":
                return self.fail(conn)
            return self.reply(conn, 204, b"", None)
        if m and method == "POST" and m.group(2) == "/attach":
            if mode == "attach-500":
                return self.fail(conn)
            self.attach(conn, headers)
            return False
        if m and method == "DELETE" and m.group(2) is None:
            with self.server.lock:
                self.server.containers.pop(m.group(1), None)
            return self.reply(conn, 204, b"", None)
        return self.json(conn, 404, {"message": "page not found"})

    def version_refused(self, v):
        """Docker's own words for a path versioned outside its range, else None."""
        _, api, minapi = ENGINES[self.server.engine]
        key = lambda x: tuple(int(p) for p in x.split("."))
        if key(v) < key(minapi):
            return ("client version %s is too old. Minimum supported API version is %s, "
                    "please upgrade your client to a newer version" % (v, minapi))
        if key(v) > key(api):
            return "client version %s is too new. Maximum supported API version is %s" % (v, api)
        return None

    def create(self, conn, body):
        if self.server.mode == "create-500":
            return self.fail(conn)
        try:
            config = json.loads(body)
        except ValueError as e:
            return self.json(conn, 400, {"message": "invalid JSON: %s" % e})
        if not isinstance(config, dict) or not config.get("Image"):
            return self.json(conn, 400, {"message": "config has no Image"})
        cid = secrets.token_hex(32)
        with self.server.lock:
            self.server.containers[cid] = config.get("Labels") or {}
        if self.server.mode == "create-hang":
            self.server.log.call("CREATED", cid)
            conn.wait_close()
            return False
        return self.json(conn, 201, {"Id": cid, "Warnings": None})

    def fail(self, conn):
        return self.json(conn, 500, {"message": "fake failure"})

    def json(self, conn, status, obj):
        return self.reply(conn, status, (json.dumps(obj, separators=(",", ":")) + "\n").encode(), "application/json")

    def reply(self, conn, status, body, ctype):
        head = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Unknown")),
                "Api-Version: " + ENGINES[self.server.engine][1], "Docker-Experimental: false",
                "Ostype: linux", "Server: Docker/%s (linux)" % ENGINES[self.server.engine][0],
                "Date: " + email.utils.formatdate(usegmt=True)]
        if ctype:
            head.append("Content-Type: " + ctype)
        chunked = self.server.mode == "chunked" and ctype == "application/json"
        if chunked:
            head.append("Transfer-Encoding: chunked")
        elif status != 204:
            head.append("Content-Length: %d" % len(body))
        conn.send(("\r\n".join(head) + "\r\n\r\n").encode())
        if chunked:
            for i in range(0, len(body), CHUNK):
                piece = body[i:i + CHUNK]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.send(body)
        return True

    def attach(self, conn, headers):
        if headers.get("upgrade", "").lower() == "tcp":
            conn.send(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                      b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        else:
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n")
        conn.read_to_eof()
        mode = self.server.mode
        if mode == "garbage-frame":
            conn.send(b"\x07\x00\x00\x00\x00\x00\x00\x05hello")
        elif mode == "huge-frame":
            conn.send(struct.pack(">BxxxI", 1, 0xFFFFFFF0) + b"abc")
            conn.wait_close()
        elif mode == "trickle":
            while not stop.wait(0.5):
                conn.send(frame(1, b"x"))
        elif mode == "close-mid-stream":
            whole = frame(1, RUNNER_REPLY)
            conn.send(whole[:len(whole) // 2])
        else:
            if mode == "stderr":
                conn.send(frame(2, b"runner broke\n"))
            if mode == "stdin-frame":
                conn.send(frame(0, b"echo\n"))
            conn.send(frame(1, RUNNER_REPLY))


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def share_like_dockerd(path):
    """Group docker, mode 0660, as dockerd makes its socket: runboxd's agents,
    which drop to a user of group docker when started as root, reach it and
    nobody else does."""
    try:
        gid = grp.getgrnam("docker").gr_gid
    except KeyError:
        return
    try:
        os.chown(path, -1, gid)
        os.chmod(path, 0o660)
    except PermissionError:
        pass  # not root and not in group docker: runboxd runs as us anyway


def serve(path, mode, log):
    # Bind a temporary name and rename it into place once listening, so a
    # client that sees the socket can connect to it.
    tmp = "%s.%d.tmp" % (path, os.getpid())
    for p in (path, tmp):
        if os.path.exists(p):
            os.unlink(p)
    server = Server(tmp, Handler, bind_and_activate=False)
    server.mode = mode
    server.engine = {"engine29": "29", "api130": "1.30"}.get(mode, "20.10")
    signal.signal(signal.SIGUSR1, lambda *_: setattr(server, "engine", "29"))
    server.log = log
    server.lock = threading.Lock()
    server.containers = {}  # id -> labels, until deleted
    server.server_bind()
    server.server_activate()
    share_like_dockerd(tmp)
    os.rename(tmp, path)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    print("fakedocker: listening on %s, mode %s" % (path, mode), file=sys.stderr, flush=True)
    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def main():
    ap = argparse.ArgumentParser(description="Fake Docker Engine API on a unix socket")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--mode", default="normal", choices=MODES)
    ap.add_argument("--log")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serve(args.socket, args.mode, Log(args.log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
