"""POST /execute (seed 003) and POST /compile (seed 004) against the real
runboxd and dockerd, on the project's stock images (runbox/sh: busybox,
runbox/python: Debian's python3): stdout and stderr apart, stdin, Docker's
exit codes (0, 3, 137 after a kill), the execution, output and memory limits,
binary output as valid JSON, the default image, and every refusal (bad
JSON, duplicate keys, no token, an image outside the allowlist).  After
every run, no container of the instance is left."""

import json
import time

import rbtest
from rbtest import Results, Runboxd, is_error

R = Results("execute")

SH = "runbox/sh"
PY = "runbox/python"
LIMIT_S = 4
OUTPUT = 100000
SCRIPT_MAX = 32 * 1024  # EXEC_MAX_SCRIPT


def call(s, path, body, headers=None, timeout=90):
    st, _, raw = s.request("POST", path, body, headers=headers, timeout=timeout)
    try:
        js = json.loads(raw)
    except ValueError:
        js = None
    return st, js, raw


def execute(s, body, headers=None):
    return call(s, "/execute", body, s.auth() if headers is None else headers)


def no_leftovers(s, what):
    left = rbtest.wait_no_containers(s.instance)
    R.check(left == [], "%s: no container left" % what, left)


def shape_ok(js):
    keys = {"success", "stdout", "stderr", "exit_code", "execution_time", "error", "timed_out",
            "output_truncated"}
    return isinstance(js, dict) and set(js) == keys


def test_basics(s):
    st, js, raw = execute(s, {"script": "echo out; echo err >&2; echo out2", "image": SH})
    R.check(st == 200 and shape_ok(js), "execute: 200 with seed 003's fields", raw[:300])
    R.check(js and js["stdout"] == "out\nout2\n" and js["stderr"] == "err\n",
            "execute: stdout and stderr apart", raw[:300])
    R.check(js and js["success"] is True and js["exit_code"] == 0 and js["error"] is None
            and js["timed_out"] is False and js["output_truncated"] is False,
            "execute: exit 0 is success, error null", raw[:300])
    R.check(js and isinstance(js["execution_time"], float) and 0 < js["execution_time"] < LIMIT_S,
            "execute: execution_time in seconds", raw[:300])
    no_leftovers(s, "execute exit 0")

    st, js, raw = execute(s, {"script": "echo x; exit 3"})
    R.check(st == 200 and js and js["exit_code"] == 3 and js["success"] is False
            and js["error"] == "Exit code: 3" and js["stdout"] == "x\n",
            "execute: exit 3 from Docker's record, success false", raw[:300])
    no_leftovers(s, "execute exit 3")

    # The script's shell is PID 1, which SIGKILL from inside cannot end: its child's status is passed on.
    st, js, raw = execute(s, {"script": "echo before; sleep 100 & kill -9 $!; wait $!"})
    R.check(st == 200 and js and js["exit_code"] == 137 and js["stdout"] == "before\n"
            and js["timed_out"] is False, "execute: a script ended by SIGKILL exits 137", raw[:300])
    no_leftovers(s, "execute SIGKILL")


def test_stdin(s):
    text = "line one\nünïcödé ✓\n\u0000zero\n"
    st, js, raw = execute(s, {"script": "cat", "stdin": text})
    R.check(st == 200 and js and js["stdout"] == text and js["success"],
            "execute: stdin reaches the script byte for byte (NUL and UTF-8 too)", raw[:300])
    big = "y" * 300000
    st, js, raw = execute(s, {"script": "wc -c", "stdin": big})
    R.check(st == 200 and js and js["stdout"].strip() == "300000",
            "execute: a 300 kB stdin is written whole", raw[:300])
    st, js, raw = execute(s, {"script": "cat; echo end", "stdin": None})
    R.check(st == 200 and js and js["stdout"] == "end\n", "execute: null stdin is empty, closed", raw[:300])
    no_leftovers(s, "execute stdin")


def test_binary(s):
    # Invalid UTF-8, NUL, ESC, DEL, a valid 2-byte character, on both streams.
    script = r"printf 'a\377\376\000\033\177\303\251z'; printf '\200e' >&2"
    st, js, raw = execute(s, {"script": script})
    try:
        raw.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    R.check(st == 200 and js is not None and utf8, "execute: binary output is valid UTF-8 JSON", raw[:300])
    R.check(js and js["stdout"] == "a\ufffd\ufffd\u0000\u001b\u007f\u00e9z"
            and js["stderr"] == "\ufffde", "execute: invalid bytes become U+FFFD, controls escaped",
            raw[:300])
    R.check(b"\\u0000" in raw and b"\\u001b" in raw and b"\\u007f" in raw,
            "execute: control characters as \\u escapes", raw[:300])
    no_leftovers(s, "execute binary")


def test_limits(s):
    t0 = time.time()
    st, js, raw = execute(s, {"script": "echo start; sleep 600; echo never"})
    took = time.time() - t0
    R.check(st == 200 and js and js["timed_out"] is True and js["success"] is False
            and js["exit_code"] == 137 and js["stdout"] == "start\n"
            and js["error"] == "Max execution time exceeded",
            "execute: the deadline kills the container (timed_out, exit 137, output kept)", raw[:300])
    R.check(took >= LIMIT_S, "execute: not stopped before RUN_MAX_EXECUTION_TIME", took)
    no_leftovers(s, "execute timeout")

    # stdout and stderr reach Docker through separate pipes, so the order of
    # their frames is not the order of the writes: under load the loop can
    # fill the limit before the "e" on stderr is forwarded.  Either way the
    # bytes kept are exactly the limit and what was kept is a prefix of each.
    line = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    st, js, raw = execute(s, {"script": "echo e >&2; while :; do echo %s; done" % line[:-1]})
    kept = len(js["stdout"]) + len(js["stderr"]) if js else -1
    out = js["stdout"] if js else ""
    R.check(st == 200 and js and js["output_truncated"] is True and js["success"] is False
            and kept == OUTPUT and js["stderr"] in ("e\n", "e", "") and js["timed_out"] is False
            and (line * (len(out) // len(line) + 1)).startswith(out)
            and js["error"] == "Max output size exceeded (%d bytes)" % OUTPUT,
            "execute: output cut at RUN_MAX_OUTPUT_SIZE, the run stopped",
            {k: (v if k != "stdout" else "%d bytes" % len(v)) for k, v in js.items()} if js else raw[:300])
    no_leftovers(s, "execute output limit")

    st, js, raw = execute(s, {"script": "head -c %d /dev/zero | tr '\\0' b" % OUTPUT})
    R.check(st == 200 and js and js["output_truncated"] is False and len(js["stdout"]) == OUTPUT
            and js["success"] is True, "execute: exactly RUN_MAX_OUTPUT_SIZE bytes is not truncated",
            raw[:200])
    no_leftovers(s, "execute output at the limit")


def test_images(s):
    probe = "if [ -x /usr/bin/python3 ]; then echo python; else echo busybox; fi"
    st, js, raw = execute(s, {"script": probe})
    R.check(st == 200 and js and js["stdout"] == "busybox\n",
            "execute: no image runs EXECUTE_DEFAULT_IMAGE", raw[:300])
    st, js, raw = execute(s, {"script": probe, "image": PY})
    R.check(st == 200 and js and js["stdout"] == "python\n", "execute: the image asked for runs", raw[:300])
    st, js, raw = execute(s, {"script": "id -u; touch /x 2>/dev/null || echo ro; cat /sys/class/net/*/address 2>/dev/null | grep -vc 00:00:00:00:00:00"})
    out = js["stdout"].split() if js else []
    R.check(st == 200 and out[:2] == ["1000", "ro"] and out[2:] == ["0"],
            "execute: /run's isolation (its user, read-only rootfs, no network but lo)", raw[:300])
    st, js, raw = execute(s, {"script": "echo hi", "image": "runbox/c"})
    R.check(st == 403 and is_error(raw, "image.not_allowed"),
            "execute: an image outside RUN_IMAGE_ALLOWLIST is 403", raw[:300])
    st, js, raw = execute(s, {"script": "echo hi", "image": "Not An Image!"})
    R.check(st == 400 and is_error(raw, "request.image"), "execute: a malformed image is 400", raw[:300])
    no_leftovers(s, "execute images")


def test_refusals(s):
    for what, body, code in (
        ("bad JSON", b'{"script": "echo"', "request.json"),
        ("duplicate key", b'{"script": "echo a", "script": "echo b"}', "request.json"),
        ("an array", b'["echo"]', "request.json"),
        ("no script", {"stdin": "x"}, "request.script"),
        ("an empty script", {"script": ""}, "request.script"),
        ("a script with NUL", {"script": "echo a\u0000b"}, "request.script"),
        ("a script over the limit", {"script": "#" * (SCRIPT_MAX + 1)}, "request.script"),
        ("stdin not a string", {"script": "cat", "stdin": 5}, "request.stdin"),
    ):
        st, _, raw = execute(s, body)
        R.check(st == 400 and is_error(raw, code), "execute: %s is 400 %s" % (what, code), raw[:200])
    st, js, raw = execute(s, {"script": "echo ok #" + "x" * (SCRIPT_MAX - 9)})
    R.check(st == 200 and js and js["stdout"] == "ok\n", "execute: a script of the maximum length runs", raw[:200])
    st, _, raw = execute(s, {"script": "echo"}, headers={})
    R.check(st == 401 and is_error(raw, "access_token"), "execute: no token is 401", raw[:200])
    st, _, raw = execute(s, {"script": "echo"}, headers={"X-Access-Token": "wrong-token-0123456789"})
    R.check(st == 401 and is_error(raw, "access_token"), "execute: a wrong token is 401", raw[:200])
    st, _, raw = execute(s, {"script": "echo"}, headers={"X-Access-Token": s.token, "X-API-Key": s.token + "x"})
    R.check(st == 400 and is_error(raw, "request.malformed"), "execute: two different tokens are 400", raw[:200])
    st, _, raw = execute(s, {"script": "echo"}, headers={"Content-Type": "text/plain", "X-Access-Token": s.token})
    R.check(st == 415, "execute: a non-JSON body type is 415", raw[:200])
    st, _, raw = s.request("GET", "/execute", headers=s.auth())
    R.check(st == 405, "execute: GET is 405", raw[:200])
    no_leftovers(s, "execute refusals")


def is_merge(both, a, b):
    """Is both an interleaving of a and b?  Docker reads the two pipes apart,
    so that is all the order there is between them."""
    if len(both) != len(a) + len(b):
        return False
    reach = {0}  # how much of a can have been used so far
    for k, ch in enumerate(both):
        reach = {i + 1 for i in reach if i < len(a) and a[i] == ch} | \
                {i for i in reach if k - i < len(b) and b[k - i] == ch}
        if not reach:
            return False
    return len(a) in reach


def test_compile(s):
    code = "import sys\nprint('Hello, world!')\nsys.stdout.flush()\nprint('oops', file=sys.stderr)\n"
    st, js, raw = call(s, "/compile", {"code": code}, {"X-API-Key": s.token})
    R.check(st == 200 and isinstance(js, dict)
            and set(js) == {"isError", "stderr", "stdout", "combined", "killedByContainer"},
            "compile: 200 with seed 004's fields", raw[:300])
    R.check(js and js["isError"] is False and js["stdout"] == "Hello, world!\n"
            and js["stderr"] == "oops\n" and js["killedByContainer"] is False,
            "compile: stdout and stderr apart", raw[:300])
    R.check(js and is_merge(js["combined"], js["stdout"], js["stderr"]),
            "compile: combined holds both streams, each in its order", raw[:300])
    st, js, raw = call(s, "/compile", {"code": "print \"Hello, world!\" "}, {"X-API-Key": s.token})
    R.check(st == 200 and js and js["isError"] is True and "SyntaxError" in js["stderr"]
            and js["stdout"] == "", "compile: a syntax error is isError true", raw[:300])
    st, js, raw = call(s, "/compile", {"code": "raise SystemExit(4)"}, {"X-Access-Token": s.token})
    R.check(st == 200 and js and js["isError"] is True and js["killedByContainer"] is False,
            "compile: X-Access-Token works too; a non-zero exit is isError", raw[:300])
    st, js, raw = call(s, "/compile", {"code": "import time\nprint('a')\ntime.sleep(600)"},
                       {"X-API-Key": s.token})
    R.check(st == 200 and js and js["killedByContainer"] is True and js["isError"] is True
            and js["stdout"] == "a\n", "compile: the deadline sets killedByContainer", raw[:300])
    st, _, raw = call(s, "/compile", {"code": "print(1)"}, {})
    R.check(st == 401 and is_error(raw, "access_token"), "compile: no X-API-Key is 401", raw[:200])
    st, _, raw = call(s, "/compile", {"code": "print(1)"}, {"X-API-Key": "wrong-token-0123456789"})
    R.check(st == 401 and is_error(raw, "access_token"), "compile: a wrong X-API-Key is 401", raw[:200])
    st, _, raw = call(s, "/compile", {"code": 1}, {"X-API-Key": s.token})
    R.check(st == 400 and is_error(raw, "request.code"), "compile: code not a string is 400", raw[:200])
    st, _, raw = call(s, "/compile", b'{"code": "a", "code": "b"}', {"X-API-Key": s.token,
                                                                    "Content-Type": "application/json"})
    R.check(st == 400 and is_error(raw, "request.json"), "compile: a duplicate key is 400", raw[:200])
    no_leftovers(s, "compile")


def test_other_config():
    # No default images; a small memory limit and a long deadline, so that
    # the memory limit, not the clock, ends a program that grows.
    s = Runboxd(DOCKER_CONTAINER_MEMORY=str(32 * 1024 * 1024), RUN_MAX_EXECUTION_TIME="90").start()
    try:
        st, js, raw = execute(s, {"script": "echo start; tail /dev/zero", "image": SH})
        R.check(st == 200 and js and js["exit_code"] == 137 and js["timed_out"] is False
                and js["error"] == "Memory limit exceeded: the container was killed"
                and js["stdout"] == "start\n",
                "execute: a run the memory limit killed says so (Docker's OOMKilled)", raw[:300])
        no_leftovers(s, "execute memory limit")
        st, _, raw = execute(s, {"script": "echo"})
        R.check(st == 400 and is_error(raw, "request.image"),
                "execute: no image and no EXECUTE_DEFAULT_IMAGE is 400 request.image", raw[:200])
        st, _, raw = call(s, "/compile", {"code": "print(1)"}, {"X-API-Key": s.token})
        R.check(st == 400 and is_error(raw, "request.image"),
                "compile: no COMPILE_IMAGE is 400 request.image", raw[:200])
        st, _, raw = call(s, "/compile", {"code": "print(1)"}, {"X-API-Key": "wrong-token-0123456789"})
        R.check(st == 401, "compile: the token is judged before the missing image", raw[:200])
    finally:
        s.stop()


def main():
    s = Runboxd(EXECUTE_DEFAULT_IMAGE=SH, COMPILE_IMAGE=PY, RUN_IMAGE_ALLOWLIST="%s %s" % (SH, PY),
                RUN_MAX_EXECUTION_TIME=str(LIMIT_S), RUN_MAX_OUTPUT_SIZE=str(OUTPUT)).start()
    try:
        for t in (test_basics, test_stdin, test_binary, test_limits, test_images, test_refusals,
                  test_compile):
            t(s)
    finally:
        s.stop()
    test_other_config()
    R.done()


if __name__ == "__main__":
    main()
