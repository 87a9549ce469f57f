"""The shipped conf/runboxd.env works as `make run` uses it: the file as it
is, with only the socket, port and token given in the environment."""

import os
import signal
import subprocess
import tempfile

from rbtest import BIN, DOCKER_SOCK, ROOT, Results, Runboxd, free_port

R = Results("shipped_conf")


def main():
    port = free_port()
    token = "shipped-conf-token"
    env = {"PATH": os.environ.get("PATH", ""), "API_ACCESS_TOKEN": token,
           "DOCKER_UNIX_SOCKET_PATH": DOCKER_SOCK, "SERVER_LISTEN_PORT": str(port),
           "RUNBOXD_INSTANCE": "shipped-%d" % port}
    log = tempfile.TemporaryFile()
    p = subprocess.Popen([BIN, "-c", os.path.join(ROOT, "conf", "runboxd.env")], env=env,
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
    finally:
        p.send_signal(signal.SIGTERM)
        R.check(p.wait(30) == 0, "the shipped configuration stops cleanly")
        log.seek(0)
        if R.failed:
            print(log.read().decode("utf-8", "replace")[-3000:])
    R.done()


if __name__ == "__main__":
    main()
