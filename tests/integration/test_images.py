#!/usr/bin/env python3
"""The runner images, run exactly as runboxd (and docker-run) configures
their containers: read-only root, no network, tmpfs /tmp and work dir,
user runbox, the payload on stdin.

Uses the docker CLI with DOCKER_HOST from the environment.  Builds the
images first (packaging/images/build.sh) when one is missing or
RUNBOXD_BUILD_IMAGES=1; the runner binary is $RUNBOX_RUNNER, else
$BUILD/runbox-runner (BUILD defaults to build/rel), made with make if absent.
Prints `images: N passed, N failed` and exits 1 if any failed.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGES = ["runbox/sh", "runbox/python", "runbox/c"]
DOCKER_RUN = [
    "docker", "run", "--rm", "-i", "--network", "none", "--read-only",
    "--tmpfs", "/tmp:rw,noexec,nosuid,size=65536k",
    "--tmpfs", "/home/runbox:rw,exec,nosuid,uid=1000,gid=1000,size=131072k",
    "-u", "runbox",
]
TIMEOUT = 120
MAX_STREAM = 8 * 1024 * 1024  # RUNNER_MAX_STREAM
TEN_MB = 10_000_000

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}"[:2000])


def image_exists(image):
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True,
                          timeout=TIMEOUT).returncode == 0


def runner_binary():
    if os.environ.get("RUNBOX_RUNNER"):
        return os.environ["RUNBOX_RUNNER"]
    build = os.environ.get("BUILD", "build/rel")
    path = os.path.join(ROOT, build, "runbox-runner")
    if not os.path.exists(path):
        subprocess.run(["make", "-C", ROOT, f"BUILD={build}", f"{build}/runbox-runner"], check=True)
    return path


def ensure_images():
    force = os.environ.get("RUNBOXD_BUILD_IMAGES") == "1"
    if force or not all(image_exists(i) for i in IMAGES):
        subprocess.run([os.path.join(ROOT, "packaging/images/build.sh"), runner_binary()] + IMAGES,
                       check=True)


def docker_run(image, payload):
    """(exit status, stdout bytes, stderr bytes) of one container."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    p = subprocess.run(DOCKER_RUN + [image], input=data, capture_output=True, timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def reply(image, payload):
    """The runner's JSON reply, or None (and a failure) if there is none."""
    try:
        rc, out, err = docker_run(image, payload)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if rc != 0:
        return None, f"exit {rc}, stderr {err[:500]!r}"
    try:
        return json.loads(out.decode("utf-8", errors="strict")), ""
    except (UnicodeDecodeError, ValueError) as e:
        return None, f"not JSON ({e}): {out[:300]!r}"


def expect(name, image, payload, **want):
    """Runs payload and compares each wanted member (callables are predicates)."""
    r, why = reply(image, payload)
    if r is None:
        check(name, False, why)
        return None
    bad = []
    for key, val in want.items():
        got = r.get(key, "<absent>")
        if (callable(val) and not val(got)) or (not callable(val) and got != val):
            bad.append(f"{key}={got!r:.300}")
    check(name, not bad, "; ".join(bad) + f" (error={r.get('error')!r:.300})")
    return r


def ok_run(**extra):
    base = {"error": "", "exitCode": 0, "signal": None,
            "duration": lambda d: isinstance(d, int) and d > 0}
    base.update(extra)
    return base


# Per language: (language, main file, hello, echo-stdin, print-args, exit-3 program)
LANGS = {
    "runbox/sh": ("sh", "main.sh",
                  'echo "hello world"',
                  'read -r line; echo "got:$line"',
                  'for a in "$@"; do echo "[$a]"; done',
                  'echo before; exit 3'),
    "runbox/python": ("python", "main.py",
                      'print("hello world")',
                      'print("got:" + input())',
                      'import sys\nfor a in sys.argv[1:]:\n    print("[" + a + "]")',
                      'print("before")\nraise SystemExit(3)'),
    "runbox/c": ("c", "main.c",
                 '#include <stdio.h>\nint main(void) { puts("hello world"); return 0; }',
                 '#include <stdio.h>\n#include <string.h>\nint main(void) { char b[64];\n'
                 'if (!fgets(b, sizeof b, stdin)) return 1; b[strcspn(b, "\\n")] = 0;\n'
                 'printf("got:%s\\n", b); return 0; }',
                 '#include <stdio.h>\nint main(int c, char **v) { for (int i = 1; i < c; i++)\n'
                 'printf("[%s]\\n", v[i]); return 0; }',
                 '#include <stdio.h>\nint main(void) { puts("before"); fflush(stdout); return 3; }'),
}
V2_RUN = {
    "runbox/sh": ([], "sh main.sh"),
    "runbox/python": ([], "python main.py"),
    "runbox/c": (["cc -o hello main.c"], "./hello"),
}
ARGS_CMD = {
    "runbox/sh": "sh main.sh a 'b c'",
    "runbox/python": "python main.py a 'b c'",
    "runbox/c": "cc -o p main.c && ./p a 'b c'",
}


def v1(lang, name, content, **extra):
    p = {"language": lang, "files": [{"name": name, "content": content}], "stdin": ""}
    p.update(extra)
    return p


def test_language(image):
    lang, main, hello, echo_in, args, exit3 = LANGS[image]
    expect(f"{image} v1 hello", image, v1(lang, main, hello),
           **ok_run(stdout="hello world\n", stderr=""))
    build, run = V2_RUN[image]
    expect(f"{image} v2 hello", image,
           {"runInstructions": {"buildCommands": build, "runCommand": run},
            "files": [{"name": main, "content": hello}], "stdin": ""},
           **ok_run(stdout="hello world\n"))
    expect(f"{image} stdin", image, v1(lang, main, echo_in, stdin="line one\nline two\n"),
           **ok_run(stdout="got:line one\n"))
    expect(f"{image} command with arguments", image,
           v1(lang, main, args, command=ARGS_CMD[image]), **ok_run(stdout="[a]\n[b c]\n"))
    expect(f"{image} exit code 3", image, v1(lang, main, exit3),
           stdout="before\n", error="Exit code: 3", exitCode=3, signal=None)


def test_streams(image):
    both = ("head -c 10000000 /dev/zero | tr '\\0' o & "
            "head -c 10000000 /dev/zero | tr '\\0' e >&2; wait")
    expect(f"{image} 10 MB on stdout and stderr", image,
               {"runInstructions": {"runCommand": both}, "files": [], "stdin": ""},
               **ok_run(stdout=lambda s: s == "o" * MAX_STREAM,
                        stderr=lambda s: s == "e" * MAX_STREAM))
    expect(f"{image} binary output", image,
           {"runInstructions": {"runCommand": "printf 'a\\377\\376b\\001\\302'"}, "files": []},
           **ok_run(stdout="a\ufffd\ufffdb\u0001\ufffd"))
    expect(f"{image} large stdin never read", image,
           v1("sh", "main.sh", "echo done", stdin="x" * (8 * 1024 * 1024)),
           **ok_run(stdout="done\n"))
    expect(f"{image} killed by a signal", image, v1("sh", "main.sh", "kill -KILL $$"),
           error="Signal: SIGKILL", exitCode=None, signal="SIGKILL")
    expect(f"{image} files in subfolders", image,
           {"language": "sh",
            "files": [{"name": "main.sh", "content": ". lib/util.sh; greet"},
                      {"name": "lib/util.sh", "content": "greet() { echo hi from lib; }"}]},
           **ok_run(stdout="hi from lib\n"))
    expect(f"{image} escaping file name refused", image,
           {"language": "sh", "files": [{"name": "a/../../x", "content": ""}]},
           error=lambda e: "refused" in e and "'..'" in e, exitCode=None, stdout="")


def test_c_specific():
    image = "runbox/c"
    expect(f"{image} compile error", image,
           v1("c", "main.c", "int main(void) { return undefined_name; }"),
           stdout="", error="Exit code: 1", exitCode=1,
           stderr=lambda s: "undefined_name" in s and "error" in s)
    expect(f"{image} c with extra file and libm", image,
           {"language": "c", "files": [
               {"name": "main.c", "content": "#include <stdio.h>\ndouble half(double);\n"
                                              "int main(void) { printf(\"%.3f\\n\", half(2.0)); }"},
               {"name": "half.c", "content": "#include <math.h>\n"
                                             "double half(double x) { return sqrt(x) / 2; }"}]},
           **ok_run(stdout="0.707\n"))
    expect(f"{image} v2 build failure stops the run", image,
           {"runInstructions": {"buildCommands": ["echo building; exit 2", "echo never"],
                                "runCommand": "echo never"}, "files": []},
           stdout="building\n", error="Exit code: 2", exitCode=2)


def test_runner_failures():
    image = "runbox/sh"
    for name, payload, text in [
        ("not JSON", b"{nope", b"payload is not valid JSON"),
        ("not an object", b"[1,2]", b"payload is not a JSON object"),
        ("no language", b'{"files":[]}', b"payload has neither language nor runInstructions"),
        ("bad files", b'{"language":"sh","files":"x"}', b"files must be an array"),
        ("over the cap", b'{"stdin":"' + b"x" * (64 * 1024 * 1024) + b'"}',
         b"payload larger than"),
    ]:
        try:
            rc, out, err = docker_run(image, payload)
        except subprocess.TimeoutExpired:
            check(f"{image} payload {name}", False, "timed out")
            continue
        check(f"{image} payload {name}", rc == 1 and out == b"" and text in err,
              f"exit {rc}, stdout {out[:200]!r}, stderr {err[:200]!r}")
    expect(f"{image} bash missing is a clear error", image, v1("bash", "a.sh", "echo"),
           error="Language bash needs bash, which this image does not have", exitCode=None)
    expect("runbox/python bash", "runbox/python", v1("bash", "a.sh", 'echo "$BASH_VERSION" | cut -c1'),
           **ok_run(stdout="5\n"))
    expect(f"{image} unknown language", image, v1("cobol", "a.cob", ""),
           error=lambda e: e.startswith('Unknown language "cobol"'), exitCode=None)


def main():
    ensure_images()
    for image in IMAGES:
        test_language(image)
        test_streams(image)
    test_c_specific()
    test_runner_failures()
    print(f"images: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
