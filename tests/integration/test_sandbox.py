"""The sandbox on the live daemon, started as root as the packages run it.

Every front, agent and the reader: seccomp filter and no-new-privs on, the
configured users and groups, a front's and the reader's root the empty
chroot, exactly the fds its role needs (none the launching process left
open).  No front's or reader's memory holds the token, before or after a
SIGHUP reload that changes it.  With the test-hook build, a front, an agent
and the reader made to attempt a forbidden call die, the master logs a
sandbox violation naming role and pid, respawns it, and the service keeps
answering.
"""

import grp
import os
import pwd
import re
import signal
import subprocess
import time

import rbtest
from rbtest import BIN, Results, Runboxd

R = Results("sandbox")
HOOKS = os.environ.get("RUNBOXD_TESTHOOKS_BIN", BIN + "-testhooks")
FRONT_USER, AGENT_USER = "runboxd-front", "runboxd"


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def fds(pid):
    """{fd: target} of a process."""
    d = "/proc/%d/fd" % pid
    return {int(n): os.readlink(os.path.join(d, n)) for n in os.listdir(d)}


def roles(s):
    """{pid: (role, slot)} of the master's fronts, agents and reader (slot 0)."""
    out = {}
    for title, pid in s.children().items():
        m = re.match(r"runboxd: (front|agent) (\d+)|runboxd: (reader)$", title)
        if m:
            out[pid] = (m.group(1) or m.group(3), int(m.group(2) or 0))
    return out


def wait_slots(s, n, exclude=(), timeout=30):
    """Wait until n fronts, n agents and a reader run, none of them in exclude."""
    end = time.time() + timeout
    while time.time() < end:
        r = roles(s)
        fronts = [p for p, (role, _) in r.items() if role == "front" and p not in exclude]
        agents = [p for p, (role, _) in r.items() if role == "agent" and p not in exclude]
        readers = [p for p, (role, _) in r.items() if role == "reader" and p not in exclude]
        if len(fronts) == n and len(agents) == n and len(readers) == 1 and len(r) == 2 * n + 1:
            # ready: dropped (the filter is the drop's last step)
            if all(status(p).get("Seccomp") == ["2"] for p in r):
                return r
        time.sleep(0.05)
    return roles(s)


def listen_socket(port):
    """socket:[inode] of the listening TCP socket on 127.0.0.1:port."""
    local = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == local and fields[3] == "0A":
                return "socket:[%s]" % fields[9]
    return None


def memory_holds(pid, needles):
    """Which of needles are anywhere in the readable memory of pid."""
    found = set()
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if "r" not in parts[1] or (len(parts) > 5 and parts[5] in ("[vvar]", "[vsyscall]")):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            for n in needles:
                if n in data:
                    found.add(n)
    return found


def check_process(s, pid, role, chroot):
    st = status(pid)
    R.check(st.get("Seccomp") == ["2"], "%s %d: Seccomp 2 (filter mode)" % (role, pid), st.get("Seccomp"))
    R.check(st.get("NoNewPrivs") == ["1"], "%s %d: NoNewPrivs 1" % (role, pid), st.get("NoNewPrivs"))
    jailed = role in ("front", "reader")  # the reader runs as a front does
    user = pwd.getpwnam(FRONT_USER if jailed else AGENT_USER)
    R.check(st.get("Uid") == [str(user.pw_uid)] * 4, "%s %d: real, effective, saved, fs uid %d" %
            (role, pid, user.pw_uid), st.get("Uid"))
    R.check(st.get("Gid") == [str(user.pw_gid)] * 4, "%s %d: real, effective, saved, fs gid %d" %
            (role, pid, user.pw_gid), st.get("Gid"))
    groups = sorted(int(g) for g in st.get("Groups", []))
    want = [] if jailed else sorted(set(os.getgrouplist(AGENT_USER, user.pw_gid)))
    R.check(groups == want, "%s %d: supplementary groups %s" % (role, pid, want), groups)
    if role == "agent":
        R.check(grp.getgrnam("docker").gr_gid in groups, "agent %d: in group docker" % pid, groups)
    root = os.readlink("/proc/%d/root" % pid)
    R.check(root == (chroot if jailed else "/"), "%s %d: root directory" % (role, pid), root)
    R.check(st.get("CapEff") == ["0000000000000000"] and st.get("CapPrm") == ["0000000000000000"],
            "%s %d: no capabilities" % (role, pid), (st.get("CapEff"), st.get("CapPrm")))


def check_fds(s, pid, role, listen_inode, handoff, master_pipes):
    """A front: 0-2, the fronts' end of the hand-off channel, its agent's
    socket, its stop signalfd, the master's life pipe and (until its first
    request) its ready pipe; never the listen socket.  The reader: 0-2, the
    listen socket, the reader's end of the channel, its epoll set, its
    signalfd, the life pipe and (until its first client) its ready pipe.
    An agent: 0-2, its front's socket, its signalfd, the life pipe."""
    def judge():
        f = fds(pid)
        std = {fd: f.get(fd) for fd in (0, 1, 2)}
        rest = [t for fd, t in f.items() if fd > 2]
        socks = [t for t in rest if t.startswith("socket:")]
        sigfds = [t for t in rest if t == "anon_inode:[signalfd]"]
        epolls = [t for t in rest if t == "anon_inode:[eventpoll]"]
        pipes = [t for t in rest if t.startswith("pipe:")]
        ok = len(socks) + len(sigfds) + len(epolls) + len(pipes) == len(rest) and all(p in master_pipes for p in pipes)
        ok = ok and std[0] == "/dev/null" and None not in std.values()
        if role == "front":
            ok = ok and len(socks) == 2 and listen_inode not in socks and handoff[1] in socks and \
                len(sigfds) == 1 and not epolls and 1 <= len(pipes) <= 2
        elif role == "reader":
            ok = ok and sorted(socks) == sorted([listen_inode, handoff[0]]) and len(sigfds) == 1 and \
                len(epolls) == 1 and 1 <= len(pipes) <= 2
        else:
            ok = ok and len(socks) == 1 and listen_inode not in socks and not set(handoff) & set(socks) and \
                len(sigfds) == 1 and not epolls and len(pipes) == 1
        return ok, f

    # An idle agent's sweep holds a Docker connection for a moment: judge it idle.
    end = time.time() + 15
    ok, f = judge()
    while not ok and time.time() < end:
        time.sleep(0.1)
        ok, f = judge()
    if role == "front":
        what = "front %d: fds 0-2, hand-off and agent sockets, stop signalfd, the master's pipes, nothing else" % pid
    elif role == "reader":
        what = "reader %d: fds 0-2, listen and hand-off sockets, epoll, signalfd, the master's pipes, nothing else" % pid
    else:
        what = "agent %d: fds 0-2, its front's socket, its signalfd, the life pipe, nothing else" % pid
    R.check(ok, what, f)


def test_live(extra_fd):
    s = Runboxd(SERVER_WORKER_THREADS="2")
    chroot = os.path.join(s.dir, "empty")
    s.config["SERVER_FRONT_CHROOT"] = chroot
    s.write_config()
    s.start(pass_fds=(extra_fd,))
    try:
        r = wait_slots(s, 2)
        R.check(len(r) == 5, "two fronts, two agents and the reader up", r)
        st = os.stat(chroot)
        R.check(st.st_uid == 0 and oct(st.st_mode & 0o7777) == "0o555" and os.listdir(chroot) == [],
                "the master made the empty root: root-owned, 0555, empty", (st.st_uid, oct(st.st_mode)))
        master = fds(s.proc.pid)
        R.check(extra_fd not in master, "the master closed the fd its launcher left open", master)
        socks = [t for fd, t in master.items() if fd > 2 and t.startswith("socket:")]
        master_pipes = set(t for fd, t in master.items() if fd > 2 and t.startswith("pipe:"))
        listen_inode = listen_socket(s.port)
        # The channel's two ends, in the order the master made them: the reader's first.
        handoff = [t for fd, t in sorted(master.items()) if fd > 2 and t.startswith("socket:") and t != listen_inode]
        R.check(len(socks) == 3 and listen_inode in socks and len(handoff) == 2 and
                all(t.startswith(("socket:", "pipe:")) for fd, t in master.items() if fd > 2),
                "the master holds the listen socket, the hand-off channel and its own pipes only", master)
        for pid, (role, _) in r.items():
            check_process(s, pid, role, chroot)
            check_fds(s, pid, role, listen_inode, handoff, master_pipes)

        st_, _, _ = s.request("GET", "/version", headers=s.auth())
        R.check(st_ == 200, "an authenticated request works under the sandbox", st_)
        st_, js, body = s.run("runbox/sh", {"language": "sh", "files": [{"name": "main.sh", "content": "echo sb"}]})
        R.check(st_ == 200 and js and js.get("stdout") == "sb\n", "a run works under the sandbox", body[:300])

        old = s.token.encode()
        fronts = [p for p, (role, _) in r.items() if role in ("front", "reader")]
        held = {p: memory_holds(p, [old]) for p in fronts}
        R.check(all(not v for v in held.values()), "no front's or the reader's memory holds the token", held)
        agents = [p for p, (role, _) in r.items() if role == "agent"]
        R.check(all(memory_holds(p, [old]) for p in agents),
                "the scan finds the token where it must be (each agent)", agents)

        # A reload to a new token: the new fronts hold neither.
        s.token = "tok-reloaded-" + os.urandom(8).hex()
        s.config["API_ACCESS_TOKEN"] = s.token
        s.write_config()
        s.proc.send_signal(signal.SIGHUP)
        r2 = wait_slots(s, 2, exclude=set(r), timeout=60)
        new_fronts = [p for p, (role, _) in r2.items() if role in ("front", "reader") and p not in r]
        R.check(len(new_fronts) == 3, "the reload replaced both fronts and the reader", r2)
        held = {p: memory_holds(p, [old, s.token.encode()]) for p in new_fronts}
        R.check(new_fronts and all(not v for v in held.values()),
                "after SIGHUP no new front or reader holds the old or the new token", held)
        for pid, (role, _) in r2.items():
            check_process(s, pid, role, chroot)
        st_, _, _ = s.request("GET", "/version", headers=s.auth())
        R.check(st_ == 200, "the new token works after the reload", st_)
    finally:
        s.stop()
        if R.failed:
            print(s.log()[-4000:])


def violation(s, pid, role, slot):
    """SIGUSR2: the hook makes pid attempt a forbidden call."""
    os.kill(pid, signal.SIGUSR2)
    pat = "%s%s (pid %d) killed by SIGSYS: sandbox violation" % (role, "" if role == "reader" else " %d" % slot, pid)
    end = time.time() + 20
    while pat not in s.log() and time.time() < end:
        time.sleep(0.05)
    R.check(pat in s.log(), "the master logs: " + pat, s.log()[-1500:])
    r = wait_slots(s, 1, exclude={pid}, timeout=30)
    R.check(pid not in r and len(r) == 3, "the %s is respawned after its violation" % role, r)
    st, _, _ = s.request("GET", "/version", headers=s.auth())
    R.check(st == 200, "the service answers after the %s's violation" % role, st)
    return r


def test_hooks():
    if not os.path.exists(HOOKS):
        R.check(False, "the test-hook build exists (make %s)" % HOOKS)
        return
    saved = rbtest.BIN
    rbtest.BIN = HOOKS
    s = Runboxd(SERVER_WORKER_THREADS="1")
    s.config["SERVER_FRONT_CHROOT"] = os.path.join(s.dir, "empty")
    s.write_config()
    try:
        s.start()
        r = wait_slots(s, 1)
        front = next(p for p, (role, _) in r.items() if role == "front")
        r = violation(s, front, "front", 0)
        agent = next(p for p, (role, _) in r.items() if role == "agent")
        r = violation(s, agent, "agent", 0)
        reader = next(p for p, (role, _) in r.items() if role == "reader")
        violation(s, reader, "reader", 0)
    finally:
        rbtest.BIN = saved
        s.stop()


def test_config_errors():
    s = Runboxd(SERVER_FRONT_USER="no-such-runboxd-user")
    p = subprocess.run([BIN, "-t", "-c", s.conf_path], capture_output=True, text=True)
    R.check(p.returncode == 78 and "SERVER_FRONT_USER" in p.stderr and "no-such-runboxd-user" in p.stderr,
            "a missing front user: exit 78 naming the variable", (p.returncode, p.stderr))
    s = Runboxd(SERVER_AGENT_USER=FRONT_USER)
    p = subprocess.run([BIN, "-t", "-c", s.conf_path], capture_output=True, text=True)
    R.check(p.returncode == 78 and "must not share" in p.stderr, "the same user for both roles: exit 78",
            (p.returncode, p.stderr))
    s = Runboxd()
    s.config["SERVER_FRONT_CHROOT"] = os.path.join(s.dir, "empty")
    s.write_config()
    p = subprocess.run([BIN, "-t", "-c", s.conf_path], capture_output=True, text=True)
    out = p.stdout
    R.check(p.returncode == 0 and re.search(r"# front: user %s .*groups none, root %s, seccomp \d+ rules, \d+ BPF"
                                            % (FRONT_USER, re.escape(s.config["SERVER_FRONT_CHROOT"])), out)
            and re.search(r"# agent: user %s .*docker\(\d+\).*root /, seccomp \d+ rules" % AGENT_USER, out)
            and re.search(r"# reader: user %s .*groups none, root %s, seccomp \d+ rules"
                          % (FRONT_USER, re.escape(s.config["SERVER_FRONT_CHROOT"])), out),
            "runboxd -t prints each role's user, groups, root and filter size", out[-600:])


def main():
    if os.geteuid() != 0:
        print("sandbox: not root, ids and chroot cannot be tested; run as root")
        R.done()
    for u in (FRONT_USER, AGENT_USER):
        if not R.check(any(p.pw_name == u for p in pwd.getpwall()), "user %s exists (packaging/make-users.sh)" % u):
            R.done()
    extra = os.open("/dev/null", os.O_RDONLY)
    extra = os.dup2(extra, 47)  # a stray fd, like a shell's
    test_config_errors()
    test_live(extra)
    test_hooks()
    R.done()


if __name__ == "__main__":
    main()
