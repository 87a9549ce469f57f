"""400 limits.pids: the stream ended without the runner's reply because the
container's pids limit left no process to create.  Docker keeps no trace of
the pids once the container is gone, so the agent reads its exit status
(include/exitcodes.h): runbox-runner's own status for a fork the limit
refused, or, under gVisor (`make check-runsc`), the exit of gVisor's kernel
when the host refused it a thread or stub process.  Under runc a program's
own refused forks are its error (the runner answers 200), and a fork bomb
still ends at the time limit (test_run.py)."""

import rbtest
from rbtest import Results, Runboxd, is_error

R = Results("pids")

SH = "runbox/sh"
PY = "runbox/python"
RUNSC = rbtest.RUNTIME == "runsc"
ATTEMPTS = 8

# Takes every process the limit leaves, and every one freed after, until
# the container ends: detached, so that its build command ends at once.
# Its first refused fork writes the file "full": the limit is reached.
FILLER = """import os, sys, time
if os.fork():
    sys.exit(0)
os.setsid()
full = False
while True:
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    except OSError:
        if not full:
            open("full", "w").close()
            full = True
        os.sched_yield()
"""


def starved_runner_payload():
    """The filler; a command that waits (builtins only: no fork) until the
    filler has met the limit, so that on a slow machine the commands after
    it cannot all run before the filler is done; then commands the runner
    must fork one by one: each one races the filler for the process the
    previous one freed, and the first it loses is refused.  Forty chances;
    the filler retries at once.  Each is `exec true`, so that its shell
    forks nothing: only the runner's own fork can be refused (a shell of
    `true` forks it, and the kernel may starve that fork every time)."""
    build = ["python3 fill.py >/dev/null 2>&1 </dev/null", "while [ ! -e full ]; do :; done"] + ["exec true"] * 40
    return {"language": "python", "files": [{"name": "fill.py", "content": FILLER},
                                            {"name": "main.py", "content": "print('ran')"}],
            "runInstructions": {"buildCommands": build, "runCommand": "python3 main.py"}}


def sh(script):
    return {"language": "sh", "files": [{"name": "main.sh", "content": script}]}


def no_leak(s, what):
    left = rbtest.wait_no_containers(s.instance, timeout=rbtest.WAIT)
    R.check(left == [], "no container left after %s" % what, left)


def test_runner_starved(s):
    # Which fork the filler starves is a race: the runner's own (400
    # limits.pids) or a build command's shell's (the runner answers with
    # that command's failure).  Either is right; no other answer is, and
    # the runner's own is seen within a few tries.
    outcomes = []
    for _ in range(ATTEMPTS):
        mark = len(s.log())
        st, js, body = s.run(PY, starved_runner_payload(), timeout=180)
        if st == 400 and is_error(body, "limits.pids"):
            outcomes.append("pids")
            R.check(b"Pids limit exceeded" in body, "the message names the pids limit", body[:300])
            R.check(s.wait_log("ended by its pids limit (exit status %d)" % (2 if RUNSC else 3), mark),
                    "the agent logs the exit status it judged by", s.log()[-600:])
            break
        shell = st == 200 and js and "fork" in js.get("stderr", "").lower() and js.get("error", "") != ""
        outcomes.append("shell" if shell else (st, body[:200]))
    R.check(outcomes and all(o in ("pids", "shell") for o in outcomes),
            "a starved fork: 400 limits.pids, or the runner's answer when a shell was starved first", outcomes)
    # Under runc the kernel picks whose fork is refused: in one make check
    # all 8 tries starved a shell first, so seeing the runner's own refusal
    # is reported, not required, there (under runsc it is what happens).
    if RUNSC:
        R.check(outcomes and outcomes[-1] == "pids", "a runner the pids limit leaves no process for: 400 "
                "limits.pids", outcomes)
    elif outcomes[-1:] != ["pids"]:
        R.skip("a runner the pids limit leaves no process for: 400 limits.pids",
               "every try starved a shell first (a race the kernel decides): %s" % outcomes)
    no_leak(s, "the starved runner")


def test_program_forks(s):
    # 60 background sleeps under a limit of 25 processes: the program's
    # shell gets "can't fork" and exits 2.
    script = "i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done; echo done"
    st, js, body = s.run(SH, sh(script), timeout=180)
    if RUNSC:
        # gVisor's kernel needs about 8 host pids per process (ptrace):
        # it dies before the program's own fork can be refused.
        R.check(st == 400 and is_error(body, "limits.pids"),
                "runsc: a program past its pids headroom: 400 limits.pids", (st, body[:300]))
    else:
        R.check(st == 200 and js and "Exit code" in js.get("error", "") and "can't fork" in js.get("stderr", ""),
                "runc: a program whose own forks are refused gets the runner's answer", (st, body[:300]))
    no_leak(s, "the refused forks")


def test_fork_bomb_runsc():
    # test_run.py's bomb: under runc it holds its limit until the deadline.
    bomb = sh("b() { while :; do b & sleep 1; done; }; b & while :; do wait; done")
    s = Runboxd(RUN_MAX_EXECUTION_TIME="30").start()
    try:
        st, js, body = s.run(SH, bomb, timeout=180)
        R.check(st == 400 and is_error(body, "limits.pids"),
                "runsc: a fork bomb kills gVisor's kernel: 400 limits.pids", (st, body[:300]))
        no_leak(s, "the fork bomb")
    finally:
        s.stop()
    # The documented headroom (conf/runboxd.env): an nproc limit the sandbox
    # enforces itself, a third of what the pids limit leaves by the per
    # process estimate, refuses the bomb's forks inside gVisor.  (A forking
    # shell costs gVisor more host pids than a sleeping process: under 264
    # pids, nproc 12 held a bomb here and 15 did not.)
    procs = (int(rbtest.base_config()["DOCKER_CONTAINER_PIDS_LIMIT"]) - rbtest.RUNSC_PIDS_BASE) \
        // rbtest.RUNSC_PIDS_PER_PROCESS // 3
    s = Runboxd(RUN_MAX_EXECUTION_TIME="5", DOCKER_CONTAINER_ULIMIT_NPROC_SOFT=str(procs),
                DOCKER_CONTAINER_ULIMIT_NPROC_HARD=str(procs)).start()
    try:
        st, js, body = s.run(SH, bomb, timeout=180)
        R.check(st == 400 and is_error(body, "limits.execution_time"),
                "runsc with nproc %d under the pids headroom: the bomb ends at the time limit" % procs,
                (st, body[:300]))
        no_leak(s, "the contained fork bomb")
    finally:
        s.stop()


def main():
    for image in (SH, PY):
        R.check(rbtest.image_exists(image), "image %s present" % image)
    s = Runboxd(RUN_MAX_EXECUTION_TIME="30").start()
    try:
        test_runner_starved(s)
        test_program_forks(s)
        st, js, body = s.run(SH, sh("echo after"))
        R.check(st == 200 and js and js.get("stdout") == "after\n", "runs work after the pids cases", body[:300])
    finally:
        s.stop()
    if RUNSC:
        test_fork_bomb_runsc()
    R.done()


if __name__ == "__main__":
    main()
