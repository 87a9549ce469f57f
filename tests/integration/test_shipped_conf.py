"""The shipped conf/runboxd.env works as `make run` uses it: the file as it
is, with only the socket, port and token given in the environment; without a
token (it ships none) or with a weak one, runboxd refuses to start; its
allowlist refuses an image outside runbox/*."""

import os
import secrets
import signal
import subprocess
import tempfile

import rbtest
from rbtest import BIN, DOCKER_SOCK, ROOT, Results, Runboxd, free_port, is_error

R = Results("shipped_conf")


def main():
    port = free_port()
    conf = os.path.join(ROOT, "conf", "runboxd.env")
    base_env = {"PATH": os.environ.get("PATH", ""), "DOCKER_UNIX_SOCKET_PATH": DOCKER_SOCK,
                "SERVER_LISTEN_PORT": str(port)}
    for weak, why in ((None, "value is empty"), ("change-me-to-a-long-random-secret", "placeholder"),
                      ("short-token", "too short")):
        env = dict(base_env)
        if weak is not None:
            env["API_ACCESS_TOKEN"] = weak
        p = subprocess.run([BIN, "-c", conf], env=env, capture_output=True, timeout=30)
        err = p.stderr.decode("utf-8", "replace")
        R.check(p.returncode == 78 and "API_ACCESS_TOKEN: " in err and why in err
                and (weak is None or weak not in err),
                "refuses to start with %s token (78, names the variable)" % (weak and "a weak" or "no"),
                "%d %s" % (p.returncode, err))
    token = secrets.token_hex(32)
    env = {"PATH": os.environ.get("PATH", ""), "API_ACCESS_TOKEN": token,
           "DOCKER_UNIX_SOCKET_PATH": DOCKER_SOCK, "SERVER_LISTEN_PORT": str(port),
           "RUNBOXD_INSTANCE": "shipped-%d" % port}
    log = tempfile.TemporaryFile()
    p = subprocess.Popen([BIN, "-c", conf], env=env,
                         stdout=log, stderr=log)
    s = Runboxd()  # only its client side is used, pointed at our server
    s.port, s.token, s.proc = port, token, p
    try:
        s.wait_ready()
        payload = {"language": "sh", "files": [{"name": "main.sh", "content": "echo Hello World"}]}
        st, js, body = s.run("runbox/sh", payload)
        R.check(st == 200 and js.get("stdout") == "Hello World\n" and js.get("error") == "",
                "make run's example works with the shipped configuration", body)
        st, js, body = s.run("runbox/sh", {"language": "sh", "files": [{"name": "a/b/main.sh",
                                                                       "content": "cat /etc/hostname; id -u"}]})
        R.check(st == 200 and js.get("stdout") == "runbox\n1000\n", "files land in the work dir; uid 1000", body)
        # RUN_IMAGE_ALLOWLIST=runbox/*: an image Docker has under another name is refused.
        tagged, _ = rbtest.docker("POST", "/images/runbox%2Fsh/tag?repo=shipped-test%2Fsh&tag=latest")
        try:
            st, js, body = s.run("shipped-test/sh", payload)
            R.check(tagged == 201 and st == 403 and is_error(body, "image.not_allowed"),
                    "an image outside runbox/* that Docker has: 403 image.not_allowed", (tagged, body))
        finally:
            rbtest.docker("DELETE", "/images/shipped-test%2Fsh:latest")
    finally:
        p.send_signal(signal.SIGTERM)
        R.check(p.wait(30) == 0, "the shipped configuration stops cleanly")
        log.seek(0)
        if R.failed:
            print(log.read().decode("utf-8", "replace")[-3000:])
    R.done()


if __name__ == "__main__":
    main()
