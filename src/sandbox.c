/*
 * The sandbox of the fronts and the agents.  Each drops in one call, in
 * STYLE.md §8's order, and any failure exits with 2: a sandbox never
 * silently turns off.  The seccomp allowlists are one table per role,
 * each line with its reason; the default is to kill the process, and
 * SANDBOX_DEBUG turns that into a logged trap.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/futex.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "users.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SANDBOX_SELF 1u /* the rule's first argument must be our own pid */
#define SANDBOX_NAMES 512 /* syscall numbers SANDBOX_DEBUG can name */

struct sandbox_rule {
	int nr;       /* SCMP_SYS(); negative when the architecture has no such call */
	int errnum;   /* 0: allow; else the call fails with this errno */
	unsigned flags;
	unsigned ncmp;
	struct scmp_arg_cmp cmp[2];
	const char *why;
};

#define CMP(a, op, x, y) {(a), (op), (scmp_datum_t)(x), (scmp_datum_t)(y)}
#define ALLOW(sys, why) {SCMP_SYS(sys), 0, 0, 0, {CMP(0, 0, 0, 0)}, why}
#define ALLOW_IF(sys, c1, why) {SCMP_SYS(sys), 0, 0, 1, {c1}, why}
#define ALLOW_IF2(sys, c1, c2, why) {SCMP_SYS(sys), 0, 0, 2, {c1, c2}, why}
#define ALLOW_SELF(sys, why) {SCMP_SYS(sys), 0, SANDBOX_SELF, 0, {CMP(0, 0, 0, 0)}, why}
#define FAIL(sys, e, why) {SCMP_SYS(sys), e, 0, 0, {CMP(0, 0, 0, 0)}, why}
#define FAIL_IF(sys, e, c1, why) {SCMP_SYS(sys), e, 0, 1, {c1}, why}

#define NO_EXEC(arg) CMP(arg, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)
#define ARG_IS(arg, v) CMP(arg, SCMP_CMP_EQ, v, 0)

/*
 * What every front and agent needs: its sockets, its own memory, its own
 * signals, the clock.  Nothing here opens, creates a process or a mapping
 * that can execute.
 */
#define SANDBOX_COMMON_RULES                                                                      \
	ALLOW(read, "requests, front/agent messages, Docker streams"),                            \
	ALLOW(write, "answers, log lines to stderr, payloads"),                                   \
	ALLOW(writev, "libc writes its own fatal messages with writev"),                          \
	ALLOW(recvfrom, "recv() on a connected socket"),                                          \
	ALLOW(sendto, "send() with MSG_NOSIGNAL on a connected socket"),                          \
	ALLOW(recvmsg, "front/agent messages and the attach fd they carry"),                      \
	ALLOW(sendmsg, "front/agent messages and the attach fd they carry"),                      \
	ALLOW(poll, "waiting on one fd under a deadline"),                                        \
	ALLOW(ppoll, "the worker loops wait with stop signals unblocked"),                        \
	ALLOW(close, "connections and streams that are done"),                                    \
	ALLOW(shutdown, "half-close: the payload is written, the answer is sent"),                \
	ALLOW_IF(fcntl, ARG_IS(1, F_GETFL), "io_set_nonblock reads the flags"),                   \
	ALLOW_IF(fcntl, ARG_IS(1, F_SETFL), "... and sets O_NONBLOCK"),                           \
	ALLOW_IF(fcntl, ARG_IS(1, F_GETFD), "libc checks an fd is open"),                         \
	ALLOW(clock_gettime, "deadlines and log times when the vDSO does not answer"),            \
	ALLOW(gettimeofday, "the vDSO's fallback for the realtime clock"),                        \
	ALLOW(getpid, "log lines name the process; raise() needs it"),                            \
	ALLOW(brk, "malloc"),                                                                     \
	ALLOW_IF(mmap, NO_EXEC(2), "malloc's large blocks, never executable"),                    \
	ALLOW_IF(mprotect, NO_EXEC(2), "malloc's arenas, never executable"),                      \
	ALLOW(munmap, "free"),                                                                    \
	ALLOW(mremap, "realloc of large blocks"),                                                 \
	ALLOW(madvise, "free returns memory"),                                                    \
	ALLOW(rt_sigaction, "the stop handlers"),                                                 \
	ALLOW(rt_sigprocmask, "stop signals are blocked but while waiting"),                      \
	ALLOW(rt_sigreturn, "return from a signal handler"),                                      \
	ALLOW(restart_syscall, "a call interrupted by a stopped/continued process"),              \
	ALLOW_IF(futex, ARG_IS(1, FUTEX_WAIT_PRIVATE), "libc's internal locks wait ..."),          \
	ALLOW_IF(futex, ARG_IS(1, FUTEX_WAKE_PRIVATE), "... and wake; no PI or requeue ops"),     \
	ALLOW_SELF(kill, "abort() and raise() signal our own pid, no other"),                     \
	ALLOW_SELF(tgkill, "abort() and raise() signal our own thread group, no other"),          \
	ALLOW(exit_group, "leaving"),                                                             \
	ALLOW(exit, "leaving"),                                                                   \
	FAIL(newfstatat, EACCES, "stdio probes a stream's type to size its buffer"),              \
	FAIL(fstat, EACCES, "the same probe on older libcs"),                                     \
	FAIL(clone3, ENOSYS, "libc probes clone3 before falling back to clone, which is refused")

/*
 * ASan+UBSan builds (tests only, never shipped): the sanitizer runtime's
 * exit path unsets its signal stack, names the thread and reads
 * /proc/self/maps for the leak check.  Its opens fail instead of killing.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER_RULES                                                                   \
	ALLOW(gettid, "sanitizer runtime: thread registry at exit"),                              \
	ALLOW(sigaltstack, "sanitizer runtime: unsets its signal stack at exit"),                 \
	FAIL(open, EACCES, "sanitizer runtime: /proc/self/maps for the leak check"),              \
	FAIL(openat, EACCES, "sanitizer runtime: /proc/self/maps for the leak check"),
#else
#define SANDBOX_SANITIZER_RULES
#endif

/*
 * The scoreboard (scoreboard.c) and the rate-limit table (ratelimit.c)
 * need no rule in any table: the master maps them before forking, and the
 * reader, fronts, agents and janitors only load and store.
 */

/* The front parses attacker bytes: it may only accept and talk. */
static const struct sandbox_rule front_rules[] = {
	SANDBOX_SANITIZER_RULES
	SANDBOX_COMMON_RULES,
	FAIL(ioctl, ENOTTY, "stdio probes whether a stream is a terminal"),
};

/*
 * The reader holds many waiting clients: it may accept, wait on its epoll
 * set, and put a large request in a memory file for a front; nothing else
 * the front may not do.
 */
static const struct sandbox_rule reader_rules[] = {
	SANDBOX_SANITIZER_RULES
	SANDBOX_COMMON_RULES,
	ALLOW(accept4, "clients on the inherited listen socket"),
	ALLOW(epoll_wait, "the one wait of the loop (x86_64 libc)"),
	ALLOW(epoll_pwait, "... as other architectures' libc makes it"),
	ALLOW(epoll_ctl, "connections join and leave the epoll set made before the sandbox"),
	ALLOW_IF(memfd_create, ARG_IS(1, MFD_CLOEXEC), "an anonymous file for a request too large for a packet"),
	ALLOW(pwrite64, "... written at offset 0, which the front reads from"),
	ALLOW_IF(ioctl, ARG_IS(1, SIOCOUTQ), "is the hand-off queue empty (every packet taken)?"),
	FAIL_IF(ioctl, ENOTTY, ARG_IS(1, TCGETS), "stdio probes whether a stream is a terminal"),
};

/* The agent talks to Docker over its unix socket and to its front. */
static const struct sandbox_rule agent_rules[] = {
	SANDBOX_SANITIZER_RULES
	SANDBOX_COMMON_RULES,
	ALLOW_IF(socket, ARG_IS(0, AF_UNIX), "a connection to Docker's unix socket, AF_UNIX only"),
	ALLOW(connect, "to DOCKER_UNIX_SOCKET_PATH (a unix socket: nothing else can be created)"),
	ALLOW_IF2(getsockopt, ARG_IS(1, SOL_SOCKET), ARG_IS(2, SO_ERROR),
		  "the outcome of a connect that waited"),
	FAIL(ioctl, ENOTTY, "stdio probes whether a stream is a terminal"),
};

static const struct {
	const char *name;
	const struct sandbox_rule *rules;
	size_t n;
} sandbox_roles[] = {
	[SANDBOX_FRONT] = {"front", front_rules, ARRAY_SIZE(front_rules)},
	[SANDBOX_AGENT] = {"agent", agent_rules, ARRAY_SIZE(agent_rules)},
	[SANDBOX_READER] = {"reader", reader_rules, ARRAY_SIZE(reader_rules)},
};

/* ---- seccomp ---- */

static int sandbox_add(scmp_filter_ctx ctx, const struct sandbox_rule *r, pid_t pid)
{
	struct scmp_arg_cmp self = ARG_IS(0, pid);
	uint32_t action = r->errnum ? SCMP_ACT_ERRNO((uint32_t)r->errnum) : SCMP_ACT_ALLOW;

	if (r->nr < 0)
		return 0; /* not a call of this architecture */
	if (r->flags & SANDBOX_SELF)
		return seccomp_rule_add_exact_array(ctx, action, r->nr, 1, &self);
	return seccomp_rule_add_exact_array(ctx, action, r->nr, r->ncmp, r->ncmp ? r->cmp : NULL);
}

scmp_filter_ctx sandbox_filter(enum sandbox_role role, bool debug, pid_t self)
{
	scmp_filter_ctx ctx = seccomp_init(debug ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	int rc;

	if (ctx == NULL)
		return NULL;
	/* Another architecture's numbers mean other calls: kill, whatever the mode. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; rc == 0 && i < sandbox_roles[role].n; i++) {
		rc = sandbox_add(ctx, &sandbox_roles[role].rules[i], self);
		if (rc < 0)
			log_errorx("%s: %s rule %zu (%s): %s", __func__, sandbox_roles[role].name, i,
				   sandbox_roles[role].rules[i].why, strerror(-rc));
	}
	if (rc < 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

int sandbox_filter_size(enum sandbox_role role, unsigned *rules, unsigned *insns)
{
	scmp_filter_ctx ctx = sandbox_filter(role, false, getpid());
	struct stat st;
	int fd, rc = -1;

	*rules = 0;
	for (size_t i = 0; i < sandbox_roles[role].n; i++)
		*rules += sandbox_roles[role].rules[i].nr >= 0;
	if (ctx == NULL)
		return -1;
	fd = memfd_create("runboxd-bpf", MFD_CLOEXEC);
	if (fd >= 0 && seccomp_export_bpf(ctx, fd) == 0 && fstat(fd, &st) == 0) {
		*insns = (unsigned)((size_t)st.st_size / 8); /* sizeof(struct sock_filter) */
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return rc;
}

/* ---- SANDBOX_DEBUG: a forbidden call is logged and fails with ENOSYS ---- */

static const char *sandbox_names[SANDBOX_NAMES];
static char sandbox_tag[48]; /* "front[1234]", written before the filter is loaded */

static size_t sandbox_cat(char *dst, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		dst[at++] = *s++;
	return at;
}

static size_t sandbox_cat_num(char *dst, size_t at, size_t cap, unsigned long v)
{
	char num[24];
	size_t n = 0;

	do
		num[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0 && at + 1 < cap)
		dst[at++] = num[--n];
	return at;
}

/*
 * The one signal handler that does more than set a flag: it runs only with
 * SANDBOX_DEBUG, uses write(2) alone, and must say which call it stopped.
 */
static void sandbox_on_sigsys(int sig, siginfo_t *info, void *ctx)
{
	char line[160];
	size_t n = 0;
	int nr = info->si_syscall;
	ucontext_t *uc = ctx;

	(void)sig;
	n = sandbox_cat(line, n, sizeof(line), "runboxd: sandbox violation (SANDBOX_DEBUG): ");
	n = sandbox_cat(line, n, sizeof(line), sandbox_tag);
	n = sandbox_cat(line, n, sizeof(line), " made forbidden system call ");
	if (nr >= 0 && nr < SANDBOX_NAMES && sandbox_names[nr])
		n = sandbox_cat(line, n, sizeof(line), sandbox_names[nr]);
	n = sandbox_cat(line, n, sizeof(line), " (");
	n = sandbox_cat_num(line, n, sizeof(line), (unsigned long)(unsigned)nr);
	n = sandbox_cat(line, n, sizeof(line), "); it fails with ENOSYS\n");
	(void)!write(STDERR_FILENO, line, n);
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
	(void)uc;
	_exit(2);
#endif
}

static void sandbox_debug_trap(enum sandbox_role role)
{
	struct sigaction sa;
	sigset_t sys;
	size_t n = 0;

	for (int nr = 0; nr < SANDBOX_NAMES; nr++)
		sandbox_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	n = sandbox_cat(sandbox_tag, n, sizeof(sandbox_tag), sandbox_roles[role].name);
	n = sandbox_cat(sandbox_tag, n, sizeof(sandbox_tag), "[");
	n = sandbox_cat_num(sandbox_tag, n, sizeof(sandbox_tag), (unsigned long)getpid());
	n = sandbox_cat(sandbox_tag, n, sizeof(sandbox_tag), "]");
	sandbox_tag[n] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	if (sigaction(SIGSYS, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &sys, NULL) < 0)
		fatal(2, "%s: sigaction(SIGSYS)", __func__);
	log_warnx("SANDBOX_DEBUG: forbidden system calls are logged and fail instead of killing the %s",
		  sandbox_roles[role].name);
}

#ifdef RUNBOXD_TEST_HOOKS
/*
 * runboxd-testhooks only: SIGUSR2 makes a live front or agent attempt a
 * forbidden call, so the tests can watch the master log the violation and
 * respawn the slot.  Never in the shipped binary.
 */
static void sandbox_test_violation(int sig)
{
	(void)sig;
	syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	syscall(SYS_execve, "/bin/sh", NULL, NULL);
}

static void sandbox_test_hook(void)
{
	struct sigaction sa;
	sigset_t usr2;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sandbox_test_violation;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	if (sigaction(SIGUSR2, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &usr2, NULL) < 0)
		fatal(2, "%s: sigaction(SIGUSR2)", __func__);
}
#endif

/* ---- preparing (master, configuration time) ---- */

static int sandbox_user(const char *var, const char *name, struct sandbox_ids *ids, bool groups,
			char *err, size_t errsz)
{
	uid_t uid;
	gid_t gid;
	int n = SANDBOX_MAX_GROUPS, rc;

	memset(ids, 0, sizeof(*ids));
	rc = users_passwd(USERS_PASSWD, name, &uid, &gid);
	if (rc < 0) {
		snprintf(err, errsz, "%s: cannot read %s: %s", var, USERS_PASSWD, strerror(errno));
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errsz, "%s: no user \"%s\" in %s (create it, e.g. useradd --system "
			 "--no-create-home --shell /usr/sbin/nologin %s)", var, name, USERS_PASSWD, name);
		return -1;
	}
	if (uid == 0 || gid == 0) {
		snprintf(err, errsz, "%s: \"%s\" is root (uid or gid 0); it must be an unprivileged user",
			 var, name);
		return -1;
	}
	ids->change = true;
	ids->uid = uid;
	ids->gid = gid;
	if (!groups)
		return 0; /* the front gets no supplementary group at all */
	rc = users_groups(USERS_GROUP, name, gid, ids->groups, &n);
	if (rc < 0) {
		snprintf(err, errsz, "%s: cannot read %s: %s", var, USERS_GROUP, strerror(errno));
		return -1;
	}
	if (rc > 0) {
		snprintf(err, errsz, "%s: \"%s\" is in more than %d groups", var, name,
			 SANDBOX_MAX_GROUPS);
		return -1;
	}
	ids->ngroups = (unsigned)n;
	return 0;
}

/* mkdir -p of dir's parents, root-owned 0755: /var/lib/runboxd on a fresh system. */
static int sandbox_mkdir_parents(const char *dir)
{
	char path[CONFIG_MAX_STR];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* Root-owned, not writable by anyone else, and empty: nothing a front could use. */
static int sandbox_chroot_check(const char *dir, bool create, char *err, size_t errsz)
{
	struct stat st;
	struct dirent *de;
	DIR *d;

	if (lstat(dir, &st) < 0 && errno == ENOENT && create) {
		if (sandbox_mkdir_parents(dir) < 0 || mkdir(dir, 0555) < 0 || chmod(dir, 0555) < 0) {
			snprintf(err, errsz, "SERVER_FRONT_CHROOT: cannot create %s: %s", dir,
				 strerror(errno));
			return -1;
		}
		log_info("created the fronts' empty root %s", dir);
	}
	if (lstat(dir, &st) < 0) {
		if (errno == ENOENT && !create)
			return 0; /* runboxd -t: made at start */
		snprintf(err, errsz, "SERVER_FRONT_CHROOT: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		snprintf(err, errsz, "SERVER_FRONT_CHROOT: %s must be a directory owned by root and "
			 "writable by no one else (mode 0555)", dir);
		return -1;
	}
	d = opendir(dir);
	if (d == NULL) {
		snprintf(err, errsz, "SERVER_FRONT_CHROOT: opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			break;
	closedir(d);
	if (de != NULL) {
		snprintf(err, errsz, "SERVER_FRONT_CHROOT: %s must be empty", dir);
		return -1;
	}
	return 0;
}

/* The front must not reach Docker through its own uid or primary group. */
static int sandbox_front_no_docker(const struct config *c, char *err, size_t errsz)
{
	struct stat st;

	if (stat(c->docker_socket, &st) < 0)
		return 0; /* not there yet: the agents will say so */
	if (st.st_uid == c->front_ids.uid || st.st_gid == c->front_ids.gid) {
		snprintf(err, errsz, "SERVER_FRONT_USER: \"%s\" owns or is the group of %s; the fronts "
			 "must have no Docker access", c->front_user, c->docker_socket);
		return -1;
	}
	return 0;
}

int sandbox_prepare(struct config *c, bool create, char *err, size_t errsz)
{
	memset(&c->front_ids, 0, sizeof(c->front_ids));
	memset(&c->agent_ids, 0, sizeof(c->agent_ids));
	if (geteuid() != 0)
		return 0; /* an ordinary user: ids cannot change, the rest applies */
	if (sandbox_user("SERVER_FRONT_USER", c->front_user, &c->front_ids, false, err, errsz) < 0 ||
	    sandbox_user("SERVER_AGENT_USER", c->agent_user, &c->agent_ids, true, err, errsz) < 0)
		return -1;
	if (c->front_ids.uid == c->agent_ids.uid) {
		snprintf(err, errsz, "SERVER_FRONT_USER and SERVER_AGENT_USER: both are uid %ld; a "
			 "front must not share its agent's user", (long)c->front_ids.uid);
		return -1;
	}
	if (sandbox_front_no_docker(c, err, errsz) < 0)
		return -1;
	return sandbox_chroot_check(c->front_chroot, create, err, errsz);
}

/* ---- dropping (in the child) ---- */

static int sandbox_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* close_range around 0-2 and keep[]: what the launching shell left open goes too. */
static void sandbox_close_fds(const int *keep, size_t nkeep)
{
	int fds[16] = {0};
	size_t n = 0;
	unsigned from = 3;

	if (nkeep > ARRAY_SIZE(fds))
		fatalx(2, "%s: more than %zu fds to keep", __func__, ARRAY_SIZE(fds));
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] >= 3)
			fds[n++] = keep[i];
	qsort(fds, n, sizeof(fds[0]), sandbox_cmp_int);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned)fds[i] > from && close_range(from, (unsigned)fds[i] - 1, 0) < 0)
			fatal(2, "%s: close_range(%u, %d)", __func__, from, fds[i] - 1);
		from = (unsigned)fds[i] + 1;
	}
	if (close_range(from, ~0U, 0) < 0)
		fatal(2, "%s: close_range(%u, ~0)", __func__, from);
}

static void sandbox_chroot(const char *dir)
{
	char err[256];

	if (sandbox_chroot_check(dir, false, err, sizeof(err)) < 0)
		fatalx(2, "%s: %s", __func__, err);
	if (chdir(dir) < 0 || chroot(".") < 0 || chdir("/") < 0)
		fatal(2, "%s: chroot %s", __func__, dir);
}

static void sandbox_set_ids(const struct sandbox_ids *ids)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (setgroups(ids->ngroups, ids->groups) < 0)
		fatal(2, "%s: setgroups(%u)", __func__, ids->ngroups);
	if (setresgid(ids->gid, ids->gid, ids->gid) < 0)
		fatal(2, "%s: setresgid(%ld)", __func__, (long)ids->gid);
	if (setresuid(ids->uid, ids->uid, ids->uid) < 0)
		fatal(2, "%s: setresuid(%ld)", __func__, (long)ids->uid);
	/* uidswap.c's check: the old ids must be out of reach now. */
	if (getresuid(&r, &e, &s) < 0 || r != ids->uid || e != ids->uid || s != ids->uid ||
	    getresgid(&rg, &eg, &sg) < 0 || rg != ids->gid || eg != ids->gid || sg != ids->gid)
		fatalx(2, "%s: ids are not uid %ld gid %ld after the change", __func__, (long)ids->uid,
		       (long)ids->gid);
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1 || setegid(0) != -1)
		fatalx(2, "%s: root could be regained after dropping to uid %ld", __func__,
		       (long)ids->uid);
}

static void sandbox_rlimit(int res, const char *name, rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(res, &rl) < 0)
		fatal(2, "%s: getrlimit(%s)", __func__, name);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		want = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = want;
	if (setrlimit(res, &rl) < 0)
		fatal(2, "%s: setrlimit(%s, %llu)", __func__, name, (unsigned long long)want);
}

/*
 * Whatever libc would load on first use must be loaded before the root
 * and the filter take files away: the time zone of the log's clock.
 */
static void sandbox_preload(void)
{
	struct tm tm;
	time_t now = time(NULL);

	tzset();
	gmtime_r(&now, &tm);
	localtime_r(&now, &tm);
}

static void sandbox_drop(const struct config *c, enum sandbox_role role, rlim_t nofile,
			 const int *keep, size_t nkeep)
{
	const struct sandbox_ids *ids = role == SANDBOX_AGENT ? &c->agent_ids : &c->front_ids;
	bool jailed = role != SANDBOX_AGENT; /* the front's user and empty root */
	pid_t parent = getppid();
	scmp_filter_ctx ctx;
	int rc;

	sandbox_close_fds(keep, nkeep);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		fatal(2, "%s: prctl(PR_SET_PDEATHSIG)", __func__);
	sandbox_preload();
	ctx = sandbox_filter(role, c->sandbox_debug, getpid());
	if (ctx == NULL)
		fatalx(2, "%s: cannot build the %s filter", __func__, sandbox_roles[role].name);
	if (jailed && ids->change)
		sandbox_chroot(c->front_chroot);
	if (ids->change) {
		sandbox_set_ids(ids);
		/* A change of ids clears the parent-death signal and may reset dumpable: again. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
			fatal(2, "%s: prctl(PR_SET_PDEATHSIG)", __func__);
		if (getppid() != parent)
			_exit(0); /* the master died meanwhile */
	}
	sandbox_rlimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile);
	sandbox_rlimit(RLIMIT_NPROC, "RLIMIT_NPROC", 0);
	sandbox_rlimit(RLIMIT_CORE, "RLIMIT_CORE", 0);
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		fatal(2, "%s: prctl(PR_SET_DUMPABLE)", __func__);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal(2, "%s: prctl(PR_SET_NO_NEW_PRIVS)", __func__);
	if (c->sandbox_debug)
		sandbox_debug_trap(role);
#ifdef RUNBOXD_TEST_HOOKS
	sandbox_test_hook();
#endif
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0) {
		errno = -rc;
		fatal(2, "%s: seccomp_load(%s)", __func__, sandbox_roles[role].name);
	}
	if (ids->change)
		log_debug("sandboxed: uid %ld gid %ld%s%s", (long)ids->uid, (long)ids->gid,
			  jailed ? ", root " : "", jailed ? c->front_chroot : "");
	else
		log_debug("sandboxed (not root: ids and root unchanged)");
}

void sandbox_drop_front(const struct config *c, const int *keep, size_t nkeep)
{
	sandbox_drop(c, SANDBOX_FRONT, SANDBOX_NOFILE, keep, nkeep);
}

void sandbox_drop_agent(const struct config *c, const int *keep, size_t nkeep)
{
	sandbox_drop(c, SANDBOX_AGENT, SANDBOX_NOFILE, keep, nkeep);
}

void sandbox_drop_reader(const struct config *c, unsigned nofile, const int *keep, size_t nkeep)
{
	sandbox_drop(c, SANDBOX_READER, nofile, keep, nkeep);
}

/* ---- runboxd -t ---- */

static void sandbox_print_role(const struct config *c, enum sandbox_role role, FILE *out)
{
	const struct sandbox_ids *ids = role == SANDBOX_AGENT ? &c->agent_ids : &c->front_ids;
	const char *user = role == SANDBOX_AGENT ? c->agent_user : c->front_user;
	unsigned rules = 0, insns = 0;
	char gname[256];

	fprintf(out, "# %s: ", sandbox_roles[role].name);
	if (ids->change) {
		if (users_group_name(USERS_GROUP, ids->gid, gname, sizeof(gname)) != 0)
			strcpy(gname, "?");
		fprintf(out, "user %s (uid %ld), group %s (gid %ld), groups", user, (long)ids->uid, gname,
			(long)ids->gid);
		if (ids->ngroups == 0)
			fprintf(out, " none");
		for (unsigned i = 0; i < ids->ngroups; i++) {
			if (users_group_name(USERS_GROUP, ids->groups[i], gname, sizeof(gname)) != 0)
				strcpy(gname, "?");
			fprintf(out, "%s%s(%ld)", i ? "," : " ", gname, (long)ids->groups[i]);
		}
		fprintf(out, ", root %s", role == SANDBOX_AGENT ? "/" : c->front_chroot);
	} else {
		fprintf(out, "user %ld, group %ld (not root: ids and root do not change)",
			(long)getuid(), (long)getgid());
	}
	if (sandbox_filter_size(role, &rules, &insns) < 0)
		fprintf(out, ", seccomp filter: cannot be built\n");
	else
		fprintf(out, ", seccomp %u rules, %u BPF instructions, default %s\n", rules, insns,
			c->sandbox_debug ? "trap (SANDBOX_DEBUG)" : "kill");
}

void sandbox_print(const struct config *c, FILE *out)
{
	sandbox_print_role(c, SANDBOX_FRONT, out);
	sandbox_print_role(c, SANDBOX_AGENT, out);
	sandbox_print_role(c, SANDBOX_READER, out);
}
