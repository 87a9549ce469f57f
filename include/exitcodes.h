/*
 * Container exit statuses the agent reads from Docker (State.ExitCode)
 * when a run's stream ended without the runner's reply, to tell the client
 * which limit ended the run.  Shared by runbox-runner (which sets the
 * first) and the agent.
 */
#ifndef RUNBOXD_EXITCODES_H
#define RUNBOXD_EXITCODES_H

/*
 * runbox-runner could not fork a command: the process limit refused it
 * (EAGAIN: the container's pids limit, or RLIMIT_NPROC).  The runner's
 * other failures exit 1; a program never sets the container's status.
 */
#define RUNNER_EXIT_NOPROC 3

/*
 * What a Go program exits with on a fatal error: gVisor's kernel when the
 * host refuses it a thread or (ptrace) a stub process, i.e. when its own
 * tasks reach the container's pids limit.  Read only under a runtime set
 * by DOCKER_CONTAINER_RUNTIME: runbox-runner never exits 2.
 */
#define RUNTIME_EXIT_GO_FATAL 2

#endif
