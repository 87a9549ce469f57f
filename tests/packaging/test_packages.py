"""The packages as a user gets them (`make check-packaging`).

Debian: the built .deb is installed with dpkg into a fresh Debian root (a
debootstrap chroot with docker.io, cached as a tarball next to the image
base); files, owners, modes, users, the generated token, the conffile kept
on reinstall and a clean purge are checked there.  The installed binary
then runs in that root (chroot(8)) with the installed configuration, only
the port given in the environment, and answers GET / and an authenticated
/version from the test dockerd.

The chroot's /var/run/docker.sock is a relay to the test dockerd, owned
root:docker (the chroot's docker group) mode 0660 like a real one, so once
runboxd drops privileges its agents (user runboxd, group docker, both from
the chroot's /etc/passwd and /etc/group) reach Docker the way they do on a
host, and its fronts find their users and chroot there too.  A relay rather
than a bind mount of the socket: the socket's group on the host is not the
chroot's docker group, and nothing is mounted that a cleanup could miss
(only /proc, unmounted in a finally).

RPM: the file list, modes, owners, the noreplace configuration and the
scriptlets, from `rpm -qlp`, `rpm -qp --scripts` and the file flags.
Also: `systemd-analyze verify` of the installed unit and its security
score, and man(1) renders runboxd(8) without warnings.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from rbtest import ROOT, Results, Runboxd, free_port  # noqa: E402

R = Results("packaging")
DOCKER_SOCK = os.environ.get("RUNBOXD_TEST_DOCKER_SOCK", "")
CACHE = os.environ.get("RUNBOXD_IMAGE_CACHE", "/var/cache/runboxd-images")
MIRROR = os.environ.get("RUNBOXD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
# What the fresh root holds before the .deb: minbase and what the .deb
# depends on.  Bump ROOT_REV when the recipe below changes.
ROOT_PKGS = ["docker.io"]
ROOT_REV = "1"
PKG = os.path.join(ROOT, "build", "pkg")


def sh(*cmd, check=True, **kw):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, out[-3000:]))
    return p.returncode, out


def in_root(root, *cmd, check=True):
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8"}
    return sh("chroot", root, *cmd, check=check, env=env)


def cached_root_tar():
    """A tarball of minbase + ROOT_PKGS, made once (a few minutes) and kept."""
    key = hashlib.sha256((" ".join([SUITE, ROOT_REV] + ROOT_PKGS)).encode()).hexdigest()[:16]
    tar = os.path.join(CACHE, "pkgtest-%s-%s.tar" % (SUITE, key))
    if os.path.exists(tar):
        return tar
    os.makedirs(CACHE, exist_ok=True)
    work = tempfile.mkdtemp(prefix="rbd-pkgroot-", dir="/var/tmp")
    root = os.path.join(work, "root")
    try:
        base = os.path.join(CACHE, "debian-%s-minbase.tar" % SUITE)
        t0 = time.time()
        if os.path.exists(base):  # packaging/images/build.sh's base
            os.makedirs(root)
            sh("tar", "-C", root, "--numeric-owner", "-xf", base)
        else:
            sh("debootstrap", "--variant=minbase", SUITE, root, MIRROR)
        with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
            f.write("deb %s %s main\ndeb %s %s-updates main\n" % (MIRROR, SUITE, MIRROR, SUITE))
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
        # No daemon may start from a maintainer script in here.
        with open(os.path.join(root, "usr/sbin/policy-rc.d"), "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(os.path.join(root, "usr/sbin/policy-rc.d"), 0o755)
        sh("mount", "-t", "proc", "proc", os.path.join(root, "proc"))
        try:
            in_root(root, "sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                    + " ".join(ROOT_PKGS) + " && apt-get clean")
        finally:
            sh("umount", os.path.join(root, "proc"), check=False)
        for d in ("var/lib/apt/lists", "var/cache/apt/archives"):
            sh("find", os.path.join(root, d), "-type", "f", "-delete", check=False)
        open(os.path.join(root, "etc/resolv.conf"), "w").close()
        sh("tar", "-C", root, "--numeric-owner", "-cf", tar + ".tmp.%d" % os.getpid(), ".")
        os.rename(tar + ".tmp.%d" % os.getpid(), tar)
        print("packaging: cached the fresh root in %.0f s: %s" % (time.time() - t0, tar), flush=True)
    finally:
        sh("rm", "-rf", "--one-file-system", work, check=False)
    return tar


class Relay:
    """A unix socket at path that passes bytes both ways to target."""

    def __init__(self, path, target, gid):
        self.target = target
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        os.chown(path, 0, gid)
        os.chmod(path, 0o660)
        self.sock.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX)
            try:
                u.connect(self.target)
            except OSError:
                c.close()
                continue
            threading.Thread(target=self.pipe, args=(c, u), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        self.sock.close()


def stat_of(path):
    st = os.lstat(path)
    return "%04o" % (st.st_mode & 0o7777), st.st_uid, st.st_gid


def ids(root):
    """{name: (uid, gid, home, shell)}, {group: (gid, [members])} of the root."""
    users, groups = {}, {}
    with open(os.path.join(root, "etc/passwd")) as f:
        for line in f:
            p = line.rstrip("\n").split(":")
            users[p[0]] = (int(p[2]), int(p[3]), p[5], p[6])
    with open(os.path.join(root, "etc/group")) as f:
        for line in f:
            p = line.rstrip("\n").split(":")
            groups[p[0]] = (int(p[2]), [m for m in p[3].split(",") if m])
    return users, groups


def conf_value(path, key):
    val = None
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*%s\s*=(.*)$" % key, line)
            if m:
                val = m.group(1).strip()
    return val


def check_roles(srv, root, users):
    """Started as root from the package, each front runs as runboxd-front in
    the empty chroot and each agent as runboxd, with the chroot's groups."""
    kids = srv.wait_children(2 * 4, timeout=30)  # the shipped SERVER_WORKER_THREADS=4
    fronts = {t: p for t, p in kids.items() if "front" in t}
    agents = {t: p for t, p in kids.items() if "agent" in t}

    def uid_of(pid):
        with open("/proc/%d/status" % pid) as f:
            return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))

    R.check(len(fronts) == 4 and all(uid_of(p) == users["runboxd-front"][0] for p in fronts.values()),
            "the installed server's fronts run as runboxd-front", kids)
    R.check(all(os.readlink("/proc/%d/root" % p) == os.path.join(root, "var/lib/runboxd/empty")
                for p in fronts.values()), "... chrooted to /var/lib/runboxd/empty")
    R.check(len(agents) == 4 and all(uid_of(p) == users["runboxd"][0] for p in agents.values()),
            "the agents run as runboxd", kids)


def test_deb(deb):
    work = tempfile.mkdtemp(prefix="rbd-pkgtest-", dir="/var/tmp")
    root = os.path.join(work, "root")
    proc_mounted = False
    relay = None
    srv = None
    try:
        os.makedirs(root)
        sh("tar", "-C", root, "--numeric-owner", "-xf", cached_root_tar())
        sh("mount", "-t", "proc", "proc", os.path.join(root, "proc"))
        proc_mounted = True
        shutil.copy(deb, os.path.join(root, "tmp/runboxd.deb"))
        rc, out = in_root(root, "dpkg", "-i", "/tmp/runboxd.deb", check=False)
        R.check(rc == 0, "dpkg -i installs the .deb into a fresh Debian root", out[-2000:])
        rc, out = in_root(root, "dpkg-query", "-W", "-f=${Status} ${Conffiles}", "runboxd", check=False)
        R.check("install ok installed" in out and "/etc/runboxd/runboxd.env" in out,
                "installed; /etc/runboxd/runboxd.env is a conffile", out)

        users, groups = ids(root)
        R.check("runboxd" in users and "runboxd-front" in users, "users runboxd and runboxd-front exist",
                sorted(users))
        docker_gid = groups.get("docker", (None, []))[0]
        R.check(docker_gid is not None and "runboxd" in groups["docker"][1]
                and "runboxd-front" not in groups["docker"][1],
                "runboxd is in group docker, runboxd-front is not", groups.get("docker"))
        R.check(all(users.get(u, (0, 0, "", ""))[0] != 0 and users.get(u, ("", "", "", ""))[3].endswith("nologin")
                    for u in ("runboxd", "runboxd-front")), "both are non-root users without a login shell",
                [users.get(u) for u in ("runboxd", "runboxd-front")])
        rbgid = groups.get("runboxd", (None,))[0]

        want = {
            "usr/sbin/runboxd": ("0755", 0, 0),
            "usr/libexec/runboxd/runbox-runner": ("0755", 0, 0),
            "usr/libexec/runboxd/runboxd-setup": ("0755", 0, 0),
            "etc/runboxd": ("0755", 0, 0),
            "etc/runboxd/runboxd.env": ("0640", 0, rbgid),
            "lib/systemd/system/runboxd.service": ("0644", 0, 0),
            "usr/share/man/man8/runboxd.8.gz": ("0644", 0, 0),
            "usr/share/runboxd/images/build.sh": ("0755", 0, 0),
            "usr/share/runboxd/images/sh/Dockerfile": ("0644", 0, 0),
            "usr/share/doc/runboxd/copyright": ("0644", 0, 0),
            "var/lib/runboxd/empty": ("0555", 0, 0),
        }
        for rel, w in want.items():
            p = os.path.join(root, rel)
            got = stat_of(p) if os.path.lexists(p) else None
            R.check(got == w, "/%s: mode %s, owner %d:%s" % (rel, w[0], w[1], w[2]), got)
        R.check(os.listdir(os.path.join(root, "var/lib/runboxd/empty")) == [], "the fronts' chroot is empty")

        conf = os.path.join(root, "etc/runboxd/runboxd.env")
        token = conf_value(conf, "API_ACCESS_TOKEN")
        R.check(token is not None and re.fullmatch(r"[0-9a-f]{64}", token) is not None,
                "postinst generated a 64-hex-digit token", token and len(token))
        rc, out = in_root(root, "/usr/sbin/runboxd", "-t", "-c", "/etc/runboxd/runboxd.env", check=False)
        R.check(rc == 0 and token not in out and "API_ACCESS_TOKEN=********" in out,
                "the installed configuration checks out (-t), token masked", out[-1500:])

        # Run the installed binary with the installed configuration.
        relay = Relay(os.path.join(root, "run/docker.sock"), DOCKER_SOCK, docker_gid)
        port = free_port()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SERVER_LISTEN_PORT": str(port)}
        srv = Runboxd()  # only its client side: our process is the chrooted one
        srv.port, srv.token = port, token
        srv.logf = open(srv.log_path, "ab")
        srv.proc = subprocess.Popen(["chroot", root, "/usr/sbin/runboxd", "-c", "/etc/runboxd/runboxd.env"],
                                    env=env, stdin=subprocess.DEVNULL, stdout=srv.logf, stderr=srv.logf)
        srv.wait_ready(timeout=60)
        rc, usage = in_root(root, "/usr/sbin/runboxd", "-h", check=False)
        if "SERVER_FRONT_USER" in usage:  # a runboxd that drops privileges (its sandbox)
            check_roles(srv, root, users)
        st, _, body = srv.request("GET", "/")
        R.check(st == 200 and json.loads(body).get("name") == "runboxd", "GET / answers", body)
        st, _, body = srv.request("GET", "/version", headers=srv.auth())
        R.check(st == 200 and "docker" in json.loads(body), "authenticated /version reaches the test dockerd",
                body[:300])
        st, _, body = srv.request("GET", "/version", headers={"X-Access-Token": "0" * 64})
        R.check(st == 401, "a wrong token gets 401", st)
        st, js, body = srv.run("runbox/sh", {"language": "sh", "files": [{"name": "main.sh", "content": "echo hi"}]})
        R.check(st == 200 and js and js.get("stdout") == "hi\n", "a run works through the installed server", body[:300])
        rc = srv.stop()
        R.check(rc == 0, "SIGTERM stops it cleanly", "%s\n%s" % (rc, srv.log()[-2000:]))
        relay.close()
        relay = None
        os.unlink(os.path.join(root, "run/docker.sock"))

        # Reinstall (an upgrade to the same version): the operator's file stays.
        with open(conf, "a") as f:
            f.write("SERVER_WORKER_THREADS=3\n")
        rc, out = in_root(root, "dpkg", "-i", "/tmp/runboxd.deb", check=False)
        R.check(rc == 0 and conf_value(conf, "API_ACCESS_TOKEN") == token
                and conf_value(conf, "SERVER_WORKER_THREADS") == "3" and stat_of(conf) == ("0640", 0, rbgid),
                "reinstalling keeps the operator's configuration, token and mode", out[-1500:])

        rc, out = in_root(root, "dpkg", "--purge", "runboxd", check=False)
        left = [p for p in ("etc/runboxd", "var/lib/runboxd", "usr/sbin/runboxd", "usr/libexec/runboxd",
                            "usr/share/runboxd", "lib/systemd/system/runboxd.service")
                if os.path.lexists(os.path.join(root, p))]
        R.check(rc == 0 and left == [], "purge removes the files, the configuration and the state",
                "%s %s" % (left, out[-1000:]))
        users, _ = ids(root)
        R.check("runboxd" in users, "purge leaves the system users (Debian's practice)")
    finally:
        if srv is not None and srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
        if relay is not None:
            relay.close()
        if proc_mounted:
            sh("umount", os.path.join(root, "proc"), check=False)
        sh("rm", "-rf", "--one-file-system", work, check=False)


def test_unit_and_man(deb):
    work = tempfile.mkdtemp(prefix="rbd-pkgunit-", dir="/var/tmp")
    try:
        sh("dpkg-deb", "-x", deb, work)
        unit = os.path.join(work, "lib/systemd/system/runboxd.service")
        with open(unit) as f:
            text = f.read()
        # Point the commands at the extracted binary so verify can check them.
        local = os.path.join(work, "runboxd.service")
        with open(local, "w") as f:
            f.write(text.replace("/usr/sbin/runboxd", os.path.join(work, "usr/sbin/runboxd")))
        rc, out = sh("systemd-analyze", "verify", local, check=False,
                     env=dict(os.environ, MANPATH=os.path.join(work, "usr/share/man")))
        R.check(rc == 0 and out.strip() == "", "systemd-analyze verify is clean", out)
        rc, out = sh("systemd-analyze", "security", "--offline=true", local, check=False)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        score = float(m.group(1)) if m else 99
        print("packaging: systemd-analyze security --offline=true: %s" % (m and m.group(1)), flush=True)
        R.check(score <= 3.0, "systemd-analyze security: exposure <= 3.0", out[-3000:])
        for opt in ("CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_SYS_CHROOT CAP_NET_BIND_SERVICE CAP_KILL\n",
                    "Restart=always\n", "ExecReload=/bin/kill -HUP $MAINPID\n", "KillSignal=SIGTERM\n",
                    "ExecStart=/usr/sbin/runboxd -c /etc/runboxd/runboxd.env\n", "NoNewPrivileges=yes\n"):
            R.check(opt in text, "unit: " + opt.strip())
        m = re.search(r"TimeoutStopSec=(\d+)", text)
        R.check(m and int(m.group(1)) >= 2 * 30, "TimeoutStopSec is well above SERVER_SHUTDOWN_TIMEOUT's 30 s")

        man = os.path.join(work, "usr/share/man/man8/runboxd.8.gz")
        p = subprocess.run(["man", "--warnings", "-l", man], capture_output=True, env=dict(os.environ, MANWIDTH="80"))
        R.check(p.returncode == 0 and p.stderr == b"", "man -l renders runboxd(8) without warnings", p.stderr[:500])
        page = p.stdout.decode("utf-8", "replace")
        rc, usage = sh(os.path.join(work, "usr/sbin/runboxd"), "-h", check=False)
        names = re.findall(r"^([A-Z_]+): ", usage, re.M)
        missing = [n for n in names if n not in page]
        R.check(len(names) >= 38 and not missing, "runboxd(8) documents every variable of runboxd -h", missing)
        for sect in ("SYNOPSIS", "OPTIONS", "ENVIRONMENT", "SIGNALS", "FILES", "EXIT STATUS", "EXAMPLES"):
            R.check(("\n" + sect + "\n") in page, "runboxd(8) has " + sect)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_rpm(rpm):
    rc, files = sh("rpm", "-qlp", "--nosignature", rpm, check=False)
    want = ["/usr/sbin/runboxd", "/usr/libexec/runboxd/runbox-runner", "/usr/libexec/runboxd/runboxd-setup",
            "/etc/runboxd/runboxd.env", "/usr/lib/systemd/system/runboxd.service",
            "/usr/share/man/man8/runboxd.8.gz", "/usr/share/runboxd/images/build.sh", "/var/lib/runboxd/empty"]
    lines = files.split("\n")
    R.check(rc == 0 and all(w in lines for w in want), "rpm -qlp lists the daemon, runner, config, unit, "
            "man page, images and chroot", [w for w in want if w not in lines])
    rc, out = sh("rpm", "-qp", "--nosignature", "--qf",
                 "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]",
                 rpm, check=False)
    meta = {l.split()[-1]: l.split()[:-1] for l in out.splitlines() if l.strip()}
    R.check(meta.get("/etc/runboxd/runboxd.env", [None])[:3] == ["-rw-r-----", "root", "runboxd"]
            and "n" in meta["/etc/runboxd/runboxd.env"][3] and "c" in meta["/etc/runboxd/runboxd.env"][3],
            "config: %config(noreplace), 0640 root:runboxd", meta.get("/etc/runboxd/runboxd.env"))
    R.check(meta.get("/var/lib/runboxd/empty", [None])[:3] == ["dr-xr-xr-x", "root", "root"],
            "chroot: 0555 root:root", meta.get("/var/lib/runboxd/empty"))
    R.check(meta.get("/usr/sbin/runboxd", [None])[:3] == ["-rwxr-xr-x", "root", "root"],
            "daemon: 0755 root:root", meta.get("/usr/sbin/runboxd"))
    rc, scripts = sh("rpm", "-qp", "--nosignature", "--scripts", rpm, check=False)
    parts = re.split(r"^(\w+) scriptlet.*:$", scripts, flags=re.M)
    by = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    pre, post = by.get("preinstall", ""), by.get("postinstall", "")
    R.check("useradd" in pre and "runboxd-front" in pre and "groupadd" in pre,
            "%pre creates the users runboxd and runboxd-front", pre)
    R.check("runboxd-setup" in post and "systemctl" in post, "%post runs runboxd-setup and presets the unit", post)
    R.check("disable --now" in by.get("preuninstall", "") and "try-restart" in by.get("postuninstall", ""),
            "%preun stops the unit on erase, %postun restarts it on upgrade", scripts)
    rc, reqs = sh("rpm", "-qp", "--nosignature", "--requires", rpm, check=False)
    R.check("(moby-engine or docker-ce)" in reqs, "requires a Docker engine", reqs)


def main():
    debs = [d for d in glob.glob(os.path.join(PKG, "runboxd_*.deb")) if "dbgsym" not in d]
    rpms = glob.glob(os.path.join(PKG, "runboxd-*.rpm"))
    if not R.check(len(debs) == 1 and len(rpms) == 1, "one .deb and one .rpm under build/pkg "
                   "(make deb rpm)", debs + rpms):
        R.done()
    if not R.check(os.geteuid() == 0 and DOCKER_SOCK != "", "root, and a test dockerd socket"):
        R.done()
    for t, arg in ((test_unit_and_man, debs[0]), (test_rpm, rpms[0]), (test_deb, debs[0])):
        try:
            t(arg)
        except Exception as e:  # a broken step fails the file, with the reason
            R.check(False, t.__name__ + " ran to the end", repr(e)[-3000:])
    R.done()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
