/*
 * The sandbox, tested the way libseccomp tests filters: each role's real
 * filter is loaded in a child, which makes one call.  Every forbidden call
 * must kill it with SIGSYS; every call the role needs must succeed; calls
 * libc merely probes must fail with their errno.  Each filter's dump
 * (seccomp_export_pfc) is kept under tests/sandbox/: a filter that changes
 * without its dump fails here, so a widened filter shows in review
 * (RUNBOXD_UPDATE_PFC=1 rewrites the dumps).  Then the whole drop, in a
 * child: fds closed, ids changed and root chrooted when run as root, the
 * SANDBOX_DEBUG trap, and exit status 2 when the drop cannot be done.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sandbox.h"

/* What the calls under test use, made before any filter is loaded. */
static int pfd[2];       /* a pipe */
static int spair[2];     /* a SEQPACKET pair, like a front and its agent */
static int scratch[2];   /* a stream pair of each child's own, to shut down */
static int tcp_listen;   /* a non-blocking listening TCP socket */
static char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char tmpdir[] = "/tmp/test_sandbox.XXXXXX";

typedef long (*call_fn)(void);

/* Run fn in a child under role's filter; its wait status. */
static int under_filter(enum sandbox_role role, call_fn fn, long *ret)
{
	int rp[2], st = 0;
	pid_t pid;
	long r = 0;

	if (pipe(rp) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		scmp_filter_ctx ctx = sandbox_filter(role, false, getpid());

		close(rp[0]);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, scratch) < 0)
			_exit(98);
		if (ctx == NULL || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0)
			_exit(99);
		r = fn();
		if (r < 0)
			r = -errno;
		(void)!write(rp[1], &r, sizeof(r));
		_exit(0);
	}
	close(rp[1]);
	if (read(rp[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = 0;
	close(rp[0]);
	waitpid(pid, &st, 0);
	if (ret)
		*ret = r;
	return st;
}

static const char *role_name(enum sandbox_role role)
{
	return role == SANDBOX_FRONT ? "front" : role == SANDBOX_AGENT ? "agent" : "reader";
}

static void expect_kill(enum sandbox_role role, const char *what, call_fn fn)
{
	int st = under_filter(role, fn, NULL);

	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: %s must die by SIGSYS (status %#x)",
	       role_name(role), what, st);
}

/* ok: the call's result (>= 0) or -errno must be what ok says. */
static void expect_ok(enum sandbox_role role, const char *what, call_fn fn)
{
	long r = -1;
	int st = under_filter(role, fn, &r);

	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0 && r >= 0,
	       "%s: %s must succeed (status %#x, result %ld)", role_name(role), what, st, r);
}

static void expect_errno(enum sandbox_role role, const char *what, call_fn fn, int e)
{
	long r = 0;
	int st = under_filter(role, fn, &r);

	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0 && r == -e,
	       "%s: %s must fail with errno %d (status %#x, result %ld)", role_name(role), what, e, st,
	       r);
}

/* ---- forbidden ---- */

static long c_execve(void)
{
	char *argv[] = {(char *)"true", NULL};

	return syscall(SYS_execve, "/bin/true", argv, NULL);
}
static long c_open(void) { return syscall(SYS_open, "/etc/passwd", O_RDONLY); }
static long c_openat(void) { return syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY); }
static long c_socket_inet(void) { return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); }
static long c_socket_inet6(void) { return syscall(SYS_socket, AF_INET6, SOCK_DGRAM, 0); }
static long c_socket_netlink(void) { return syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0); }
static long c_socket_unix(void) { return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0); }
static long c_socketpair(void)
{
	int sv[2];

	return syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv);
}
static long c_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memcpy(sa.sun_path, unix_path, sizeof(sa.sun_path));
	return syscall(SYS_connect, spair[0], &sa, sizeof(sa));
}
static long c_fork_libc(void) { return fork(); }
static long c_fork(void) { return syscall(SYS_fork); }
static long c_vfork(void) { return syscall(SYS_vfork); }
static long c_clone_process(void) { return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }
static long c_clone_thread(void)
{
	return syscall(SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD, 0,
		       0, 0, 0);
}
static long c_ptrace(void) { return syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }
static long c_mmap_exec(void)
{
	return (long)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
}
static long c_mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return syscall(SYS_mprotect, p, 4096, PROT_READ | PROT_EXEC);
}
static long c_kill_parent(void) { return syscall(SYS_kill, getppid(), 0); }
static long c_kill_all(void) { return syscall(SYS_kill, -1, 0); }
static long c_tgkill_parent(void) { return syscall(SYS_tgkill, getppid(), getppid(), 0); }
static long c_setuid0(void) { return syscall(SYS_setuid, 0); }
static long c_getsockopt_other(void)
{
	int v;
	socklen_t l = sizeof(v);

	return syscall(SYS_getsockopt, spair[0], SOL_SOCKET, SO_SNDBUF, &v, &l);
}
static long c_accept4(void) { return syscall(SYS_accept4, tcp_listen, NULL, NULL, SOCK_NONBLOCK); }
static long c_fcntl_dupfd(void) { return syscall(SYS_fcntl, pfd[0], F_DUPFD, 0); }
static long c_dup(void) { return syscall(SYS_dup, pfd[0]); }
static long c_prctl(void) { return syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0); }
static long c_chdir(void) { return syscall(SYS_chdir, "/"); }
static long c_bpf(void) { return syscall(SYS_bpf, 0, NULL, 0); }
static long c_futex_requeue_pi(void)
{
	static int a, b;

	return syscall(SYS_futex, &a, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, 1, &b, 0);
}
static long c_pipe(void)
{
	int p[2];

	return syscall(SYS_pipe2, p, 0);
}

/* ---- needed ---- */

static long c_pipe_rw(void)
{
	char b = 'x';

	if (write(pfd[1], &b, 1) != 1 || read(pfd[0], &b, 1) != 1)
		return -1;
	return 0;
}
static long c_msg(void)
{
	char b = 'm';
	struct iovec iov = {.iov_base = &b, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	/* An fd passed over the pair, as the attach stream is. */
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pfd[0], sizeof(int));
	if (sendmsg(spair[0], &mh, MSG_NOSIGNAL) != 1)
		return -1;
	mh.msg_controllen = sizeof(ctl.buf);
	if (recvmsg(spair[1], &mh, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS)
		return -1;
	{
		int fd;

		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		return close(fd);
	}
}
static long c_send_recv(void)
{
	char b = 's';

	if (send(spair[0], &b, 1, MSG_NOSIGNAL) != 1 || recv(spair[1], &b, 1, 0) != 1)
		return -1;
	return 0;
}
static long c_poll(void)
{
	struct pollfd p = {.fd = pfd[0], .events = POLLIN};
	struct timespec ts = {0, 1000000};
	sigset_t none;

	sigemptyset(&none);
	if (poll(&p, 1, 1) < 0)
		return -1;
	return ppoll(&p, 1, &ts, &none);
}
static long c_accept4_front(void)
{
	long r = syscall(SYS_accept4, tcp_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	/* Nobody connects: EAGAIN proves the call ran. */
	return r < 0 && errno == EAGAIN ? 0 : -1;
}
static int epfd; /* made before any filter: the reader's is too */
static long c_epoll(void)
{
	struct epoll_event ev = {.events = EPOLLIN}, out;

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, pfd[0], &ev) < 0 || epoll_wait(epfd, &out, 1, 0) < 0)
		return -1;
	return epoll_ctl(epfd, EPOLL_CTL_DEL, pfd[0], NULL);
}
static long c_memfd_pwrite(void)
{
	int fd = memfd_create("x", MFD_CLOEXEC);

	if (fd < 0 || pwrite(fd, "abc", 3, 0) != 3)
		return -1;
	return close(fd);
}
static long c_memfd_sealing(void) { return syscall(SYS_memfd_create, "x", MFD_ALLOW_SEALING); }
static long c_outq(void)
{
	int n = -1;

	return ioctl(spair[0], SIOCOUTQ, &n) < 0 || n != 0 ? -1 : 0;
}
static long c_ioctl_fionbio(void)
{
	int one = 1;

	return syscall(SYS_ioctl, spair[0], FIONBIO, &one);
}
static long c_memory(void)
{
	/* Large enough for mmap and mremap, then small blocks through brk. */
	char *big = malloc(8u << 20), *small = malloc(100);

	if (!big || !small)
		return -1;
	memset(big, 1, 8u << 20);
	big = realloc(big, 16u << 20);
	if (!big)
		return -1;
	free(big);
	free(small);
	return (long)(uintptr_t)mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -1 ? -1 : 0;
}
static long c_fcntl(void)
{
	int fl = fcntl(pfd[0], F_GETFL);

	if (fl < 0 || fcntl(pfd[0], F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(pfd[0], F_GETFD);
}
static long c_clock(void)
{
	struct timespec ts;

	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) < 0)
		return -1;
	return syscall(SYS_getpid);
}
static long c_futex(void)
{
	static int word;

	/* Nobody waits: wakes 0; a wait on a changed value returns EAGAIN at once. */
	if (syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) != 0)
		return -1;
	return syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0) == -1 && errno == EAGAIN
		       ? 0
		       : -1;
}
static long c_kill_self(void)
{
	if (syscall(SYS_kill, getpid(), 0) < 0)
		return -1;
	return syscall(SYS_tgkill, getpid(), getpid(), 0);
}
static long c_signals(void)
{
	sigset_t set;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (sigaction(SIGHUP, &sa, NULL) < 0)
		return -1;
	return sigprocmask(SIG_BLOCK, &set, NULL);
}
static long c_shutdown_close(void)
{
	int fd = scratch[0];

	if (shutdown(fd, SHUT_WR) < 0)
		return -1;
	return close(fd);
}
static long c_write_log(void) { return write(STDERR_FILENO, "", 0); }
static long c_socket_connect_unix(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), soerr = -1;
	socklen_t l = sizeof(soerr);

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, unix_path, sizeof(sa.sun_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0 || soerr != 0)
		return -1;
	return close(fd);
}

/* ---- probed: an errno, not a kill ---- */

static long c_ioctl(void) { return syscall(SYS_ioctl, STDERR_FILENO, TCGETS, NULL); }
static long c_fstat(void)
{
	struct stat st;

	return fstat(pfd[0], &st);
}
static long c_clone3(void) { return syscall(SYS_clone3, NULL, 0); }

static const struct {
	const char *what;
	call_fn fn;
} forbidden_both[] = {
	{"execve", c_execve},
#if !defined(__SANITIZE_ADDRESS__) /* the sanitizer runtime's opens fail with EACCES instead */
	{"open", c_open},
	{"openat", c_openat},
#endif
	{"socket(AF_INET)", c_socket_inet},
	{"socket(AF_INET6)", c_socket_inet6},
	{"socket(AF_NETLINK)", c_socket_netlink},
	{"socketpair", c_socketpair},
	{"fork()", c_fork_libc},
	{"fork", c_fork},
	{"vfork", c_vfork},
	{"clone without CLONE_THREAD", c_clone_process},
	{"clone with CLONE_THREAD", c_clone_thread},
	{"ptrace", c_ptrace},
	{"mmap PROT_EXEC", c_mmap_exec},
	{"mprotect PROT_EXEC", c_mprotect_exec},
	{"kill(parent)", c_kill_parent},
	{"kill(-1)", c_kill_all},
	{"tgkill(parent)", c_tgkill_parent},
	{"setuid(0)", c_setuid0},
	{"getsockopt(SO_SNDBUF)", c_getsockopt_other},
	{"fcntl(F_DUPFD)", c_fcntl_dupfd},
	{"dup", c_dup},
	{"prctl", c_prctl},
	{"chdir", c_chdir},
	{"bpf", c_bpf},
	{"pipe2", c_pipe},
	{"futex(FUTEX_CMP_REQUEUE_PI)", c_futex_requeue_pi},
}, forbidden_front[] = {
	{"socket(AF_UNIX)", c_socket_unix},
	{"connect", c_connect},
	{"accept4 (the reader accepts)", c_accept4},
	{"memfd_create", c_memfd_pwrite},
}, forbidden_agent[] = {
	{"accept4", c_accept4},
}, forbidden_reader[] = {
	{"socket(AF_UNIX)", c_socket_unix},
	{"connect", c_connect},
	{"memfd_create(MFD_ALLOW_SEALING)", c_memfd_sealing},
	{"ioctl(FIONBIO)", c_ioctl_fionbio},
}, needed_both[] = {
	{"read/write", c_pipe_rw},
	{"sendmsg/recvmsg with an fd", c_msg},
	{"send/recv", c_send_recv},
	{"poll/ppoll", c_poll},
	{"malloc/realloc/free/mmap", c_memory},
	{"fcntl GETFL/SETFL/GETFD", c_fcntl},
	{"clock_gettime/getpid", c_clock},
	{"kill/tgkill of self", c_kill_self},
	{"futex wait/wake (private)", c_futex},
	{"sigaction/sigprocmask", c_signals},
	{"shutdown/close", c_shutdown_close},
	{"write to stderr", c_write_log},
}, needed_reader[] = {
	{"accept4", c_accept4_front},
	{"epoll_ctl/epoll_wait", c_epoll},
	{"memfd_create(MFD_CLOEXEC)/pwrite", c_memfd_pwrite},
	{"ioctl(SIOCOUTQ)", c_outq},
}, needed_agent[] = {
	{"socket(AF_UNIX)/connect/getsockopt(SO_ERROR)", c_socket_connect_unix},
};

#define EACH(tab, body)                                                  \
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {      \
		body;                                                    \
	}

static void test_calls(void)
{
	for (int r = SANDBOX_FRONT; r <= SANDBOX_READER; r++) {
		enum sandbox_role role = (enum sandbox_role)r;

		EACH(forbidden_both, expect_kill(role, forbidden_both[i].what, forbidden_both[i].fn));
		EACH(needed_both, expect_ok(role, needed_both[i].what, needed_both[i].fn));
		expect_errno(role, "ioctl(TCGETS)", c_ioctl, ENOTTY);
		expect_errno(role, "fstat", c_fstat, EACCES);
		expect_errno(role, "clone3", c_clone3, ENOSYS);
#if defined(__SANITIZE_ADDRESS__)
		expect_errno(role, "open (sanitizer build)", c_open, EACCES);
		expect_errno(role, "openat (sanitizer build)", c_openat, EACCES);
#endif
	}
	EACH(forbidden_front, expect_kill(SANDBOX_FRONT, forbidden_front[i].what, forbidden_front[i].fn));
	EACH(forbidden_agent, expect_kill(SANDBOX_AGENT, forbidden_agent[i].what, forbidden_agent[i].fn));
	EACH(forbidden_reader, expect_kill(SANDBOX_READER, forbidden_reader[i].what, forbidden_reader[i].fn));
	EACH(needed_reader, expect_ok(SANDBOX_READER, needed_reader[i].what, needed_reader[i].fn));
	EACH(needed_agent, expect_ok(SANDBOX_AGENT, needed_agent[i].what, needed_agent[i].fn));
}

/* ---- the dumps ---- */

static char *slurp_fd(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *p = malloc(cap);
	ssize_t r;

	while (p && (r = pread(fd, p + n, cap - n, (off_t)n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			p = realloc(p, cap *= 2);
	}
	*len = n;
	return p;
}

static void test_pfc(enum sandbox_role role)
{
	/* pid 1000 stands for the process's own: the dump must not vary with it. */
	scmp_filter_ctx ctx = sandbox_filter(role, false, 1000);
	const char *arch = seccomp_arch_native() == SCMP_ARCH_X86_64 ? "x86_64" : NULL;
	char path[256];
	size_t glen = 0, wlen = 0;
	char *got, *want;
	int fd = memfd_create("pfc", 0), wfd;

	CHECK(ctx != NULL && fd >= 0);
	if (ctx == NULL || fd < 0)
		return;
#if defined(__SANITIZE_ADDRESS__)
	arch = NULL; /* the dumps are of the shipped filters, without the sanitizer's rules */
#endif
	if (arch == NULL) {
		printf("test_sandbox: no dump of this build's filters (architecture or sanitizer); "
		       "comparison skipped\n");
		seccomp_release(ctx);
		close(fd);
		return;
	}
	CHECK(seccomp_export_pfc(ctx, fd) == 0);
	got = slurp_fd(fd, &glen);
	snprintf(path, sizeof(path), "tests/sandbox/%s.%s.pfc", role_name(role), arch);
	if (getenv("RUNBOXD_UPDATE_PFC") && strcmp(getenv("RUNBOXD_UPDATE_PFC"), "1") == 0) {
		wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK(wfd >= 0 && write(wfd, got, glen) == (ssize_t)glen);
		close(wfd);
	}
	wfd = open(path, O_RDONLY);
	want = wfd >= 0 ? slurp_fd(wfd, &wlen) : NULL;
	CHECKF(want != NULL && glen == wlen && memcmp(got, want, glen) == 0,
	       "the %s filter differs from %s: review the change, then rerun with "
	       "RUNBOXD_UPDATE_PFC=1 to update the dump (run from the source root)",
	       role_name(role), path);
	if (wfd >= 0)
		close(wfd);
	free(got);
	free(want);
	close(fd);
	seccomp_release(ctx);
}

/* ---- the whole drop ---- */

static void test_debug_trap(void)
{
	struct config *c = calloc(1, sizeof(*c));
	int ep[2], st = 0;
	char buf[1024] = "";
	ssize_t n;
	pid_t pid;

	c->sandbox_debug = true;
	CHECK(pipe(ep) == 0);
	pid = fork();
	if (pid == 0) {
		dup2(ep[1], STDERR_FILENO);
		sandbox_drop_front(c, NULL, 0);
		/* Trapped: logged, fails with ENOSYS, and the process goes on. */
		_exit(syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) == -1 && errno == ENOSYS ? 0 : 1);
	}
	close(ep[1]);
	n = read(ep[0], buf, sizeof(buf) - 1);
	while (n > 0 && (size_t)n < sizeof(buf) - 1) {
		ssize_t m = read(ep[0], buf + n, sizeof(buf) - 1 - (size_t)n);

		if (m <= 0)
			break;
		n += m;
	}
	close(ep[0]);
	waitpid(pid, &st, 0);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "SANDBOX_DEBUG: trapped call fails (status %#x)",
	       st);
	CHECKF(strstr(buf, "front[") && strstr(buf, "forbidden system call socket"),
	       "SANDBOX_DEBUG names the role and the call: %s", buf);
	free(c);
}

/* A stray fd, the kept ones, and what the drop leaves; as root, ids and root too. */
static void test_drop(enum sandbox_role role, const struct config *c, bool root)
{
	int sync[2], go[2], stray, st = 0;
	char path[64], link[256], status[4096], b;
	pid_t pid;

	CHECK(pipe(sync) == 0 && pipe(go) == 0);
	stray = open("/dev/null", O_RDONLY);
	pid = fork();
	if (pid == 0) {
		int keep[] = {sync[1], go[0], -1};

		if (role == SANDBOX_FRONT)
			sandbox_drop_front(c, keep, 3);
		else if (role == SANDBOX_READER)
			sandbox_drop_reader(c, 64, keep, 3);
		else
			sandbox_drop_agent(c, keep, 3);
		(void)!write(sync[1], "r", 1);
		(void)!read(go[0], &b, 1);
		_exit(0);
	}
	close(sync[1]);
	close(go[0]);
	CHECKF(read(sync[0], &b, 1) == 1, "%s: dropped", role_name(role));
	{
		char fdl[256] = "";
		size_t len = 0;
		DIR *d;
		struct dirent *de;
		int count = 0;
		bool only = true;

		snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
		d = opendir(path);
		while (d && (de = readdir(d)) != NULL) {
			int fd;

			if (de->d_name[0] == '.')
				continue;
			fd = atoi(de->d_name);
			count++;
			if (fd > 2 && fd != sync[1] && fd != go[0])
				only = false;
			len += (size_t)snprintf(fdl + len, sizeof(fdl) - len, "%d ", fd);
		}
		if (d)
			closedir(d);
		CHECKF(only && count == 5, "%s: fds are 0-2 and the kept two, not %s", role_name(role),
		       fdl);
	}
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	{
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(status, 1, sizeof(status) - 1, f) : 0;

		status[n] = '\0';
		if (f)
			fclose(f);
	}
	CHECKF(strstr(status, "NoNewPrivs:\t1") && strstr(status, "Seccomp:\t2"),
	       "%s: no-new-privs and a filter", role_name(role));
	if (root) {
		/* The reader runs as a front does: its user, its empty root. */
		bool jailed = role != SANDBOX_AGENT;
		const struct sandbox_ids *ids = jailed ? &c->front_ids : &c->agent_ids;
		char want[128];
		ssize_t ln;

		snprintf(want, sizeof(want), "Uid:\t%ld\t%ld\t%ld\t%ld", (long)ids->uid, (long)ids->uid,
			 (long)ids->uid, (long)ids->uid);
		CHECKF(strstr(status, want) != NULL, "%s: %s", role_name(role), want);
		snprintf(want, sizeof(want), "Gid:\t%ld\t%ld\t%ld\t%ld", (long)ids->gid, (long)ids->gid,
			 (long)ids->gid, (long)ids->gid);
		CHECKF(strstr(status, want) != NULL, "%s: %s", role_name(role), want);
		snprintf(path, sizeof(path), "/proc/%ld/root", (long)pid);
		ln = readlink(path, link, sizeof(link) - 1);
		link[ln > 0 ? ln : 0] = '\0';
		CHECKF(strcmp(link, jailed ? c->front_chroot : "/") == 0,
		       "%s: root is %s", role_name(role), link);
		if (jailed) {
			const char *g = strstr(status, "Groups:");

			CHECKF(g && strspn(g + 7, " \t") == strcspn(g + 7, "\n"),
			       "%s: no supplementary groups: %.40s", role_name(role), g ? g : "");
		}
	}
	(void)!write(go[1], "g", 1);
	waitpid(pid, &st, 0);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: ran after the drop (status %#x)",
	       role_name(role), st);
	close(sync[0]);
	close(go[1]);
	close(stray);
}

static void test_drops(void)
{
	struct config *c = calloc(1, sizeof(*c));
	char err[512] = "";
	bool root = geteuid() == 0 && getpwnam("runboxd-front") && getpwnam("runboxd");
	int st = 0;
	pid_t pid;

	snprintf(c->front_user, sizeof(c->front_user), "runboxd-front");
	snprintf(c->agent_user, sizeof(c->agent_user), "runboxd");
	snprintf(c->docker_socket, sizeof(c->docker_socket), "%s", unix_path);
	snprintf(c->front_chroot, sizeof(c->front_chroot), "%s/empty", tmpdir);
	if (geteuid() == 0 && !root)
		printf("test_sandbox: users runboxd-front/runboxd missing (packaging/make-users.sh); "
		       "ids not tested\n");
	if (root) {
		CHECKF(sandbox_prepare(c, true, err, sizeof(err)) == 0, "prepare: %s", err);
		CHECK(c->front_ids.change && c->agent_ids.change && c->front_ids.ngroups == 0);
	}
	test_drop(SANDBOX_FRONT, c, root);
	test_drop(SANDBOX_AGENT, c, root);
	test_drop(SANDBOX_READER, c, root);
	if (!root)
		goto out;
	/* A chroot that is not empty: the front exits with 2 and does not run unsandboxed. */
	{
		char f[300];
		int fd;

		snprintf(f, sizeof(f), "%s/x", c->front_chroot);
		chmod(c->front_chroot, 0755);
		fd = open(f, O_CREAT | O_WRONLY, 0600);
		close(fd);
		chmod(c->front_chroot, 0555);
		pid = fork();
		if (pid == 0) {
			sandbox_drop_front(c, NULL, 0);
			_exit(0);
		}
		waitpid(pid, &st, 0);
		CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 2, "non-empty chroot: exit 2 (status %#x)", st);
		CHECK(sandbox_prepare(c, true, err, sizeof(err)) < 0 && strstr(err, "must be empty"));
		unlink(f);
	}
	/* Users that cannot be: missing, root, or the same for both roles. */
	snprintf(c->front_user, sizeof(c->front_user), "no-such-user-runboxd");
	CHECK(sandbox_prepare(c, false, err, sizeof(err)) < 0 && strstr(err, "SERVER_FRONT_USER"));
	snprintf(c->front_user, sizeof(c->front_user), "root");
	CHECK(sandbox_prepare(c, false, err, sizeof(err)) < 0 && strstr(err, "root"));
	snprintf(c->front_user, sizeof(c->front_user), "runboxd");
	CHECK(sandbox_prepare(c, false, err, sizeof(err)) < 0 && strstr(err, "must not share"));
out:
	free(c);
}

int main(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int us;

	if (mkdtemp(tmpdir) == NULL || chmod(tmpdir, 0755) < 0) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(unix_path, sizeof(unix_path), "%s/s", tmpdir);
	memcpy(sa.sun_path, unix_path, sizeof(sa.sun_path));
	us = socket(AF_UNIX, SOCK_STREAM, 0);
	tcp_listen = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (pipe(pfd) < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, spair) < 0 || us < 0 ||
	    bind(us, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(us, 64) < 0 || tcp_listen < 0 ||
	    bind(tcp_listen, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(tcp_listen, 4) < 0) {
		perror("test_sandbox: setup");
		return 1;
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		perror("test_sandbox: epoll_create1");
		return 1;
	}
	test_calls();
	test_pfc(SANDBOX_FRONT);
	test_pfc(SANDBOX_AGENT);
	test_pfc(SANDBOX_READER);
	test_debug_trap();
	test_drops();
	unlink(unix_path);
	rmdir(tmpdir);
	{
		char e[300];

		snprintf(e, sizeof(e), "%s/empty", tmpdir);
		rmdir(e);
		rmdir(tmpdir);
	}
	return check_done("test_sandbox");
}
