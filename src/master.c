/*
 * The master: binds the listen socket, forks a front and an agent per slot
 * and then only waits.  It reaps and respawns (at once a slot that had
 * served; backoff and a crash budget for one that dies before it serves;
 * exit status 2 meaning "do not respawn me in a loop"), drains on SIGTERM,
 * on SIGHUP re-reads the configuration and rolls the slots one by one, and
 * has a janitor child sweep for containers nobody owns.  Every child holds
 * the read end of the life pipe, whose write end only the master holds:
 * it hangs up in every child's poll set the moment the master dies.
 * Signal handlers only set flags; everything happens in the loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "front.h"
#include "io.h"
#include "log.h"
#include "proc.h"
#include "pull.h"
#include "master.h"
#include "ratelimit.h"
#include "reader.h"
#include "sandbox.h"
#include "scoreboard.h"

enum role { ROLE_FRONT, ROLE_AGENT };

struct slot {
	pid_t pid[2];          /* front, agent; 0 when not running */
	int ready_fd;          /* the front writes a byte here once it took a connection; -1 */
	bool served;           /* ... and it did: a death now is not a crash loop */
	int64_t started_real;  /* CLOCK_REALTIME s of the spawn: Docker's clock for Created */
	unsigned gen;          /* configuration generation it runs */
	bool retiring;         /* told to stop for a reload */
	bool crashed;          /* the last exit of one of its processes was a crash */
	bool disabled;         /* exit status 2: not respawned until the next reload */
	unsigned crashes;      /* within the current window */
	int64_t window_start;
	int64_t started;
	int64_t respawn_at;
	int64_t kill_at;       /* SIGKILL what is left of it at this time (0: no) */
	unsigned backoff_ms;
};

/*
 * The survivor of a slot whose other process died: the slot is respawned
 * without waiting for it, and it is told to go (a front finishes its
 * connection first, an agent removes its container) and killed if it
 * lingers.
 */
/*
 * The reader: one process, respawned like a slot (at once if it had
 * accepted, else with backoff and the same crash budget).  A reload
 * starts the new one first and lets the old one finish its waiting
 * connections as a retiree.
 */
struct reader_proc {
	pid_t pid;
	int ready_fd;          /* as a slot's: one byte at the first accept; -1 */
	bool served;
	bool crashed;
	bool disabled;         /* exit status 2 */
	unsigned gen;
	unsigned crashes;
	int64_t window_start;
	int64_t respawn_at;
	unsigned backoff_ms;
	pid_t retiree;         /* the previous one, finishing its connections; 0 if none */
	int64_t retiree_kill_at;
};

struct stray {
	pid_t pid;
	unsigned slot;
	enum role role;
	int64_t kill_at;
};

static volatile sig_atomic_t got_term, got_hup;
static pid_t master_pid;

static struct config *cur;
static struct config *prev;    /* during a roll: the configuration to go back to */
static const char *conf_path;
static char **conf_env;
static int listen_fd = -1;
static int prev_listen_fd = -1; /* during a roll that moved the listen address */
static unsigned gen;
static unsigned prev_gen;
static bool draining;
static bool fronts_killed;     /* the drain deadline passed once already */
static int64_t drain_deadline;
static bool rolling;
static struct slot slots[CONFIG_MAX_WORKERS];
static struct stray strays[2 * CONFIG_MAX_WORKERS];
static unsigned nstrays;
static int life_pipe[2] = {-1, -1};
/*
 * The hand-off channel, reader -> fronts (reader.c says why one shared
 * pair): [0] the reader's end, [1] the fronts'.  The master keeps both for
 * the respawns, until a drain closes [0] once the reader is gone.
 */
static int handoff[2] = {-1, -1};
static struct reader_proc reader = {.ready_fd = -1};
static bool fronts_told;       /* a drain's SIGTERM went to the fronts */
static pid_t janitor_pid;       /* the periodic sweep in progress, 0 if none */
static int64_t janitor_at;      /* next periodic sweep; while one runs: when to kill it */

static const char *const role_name[] = {"front", "agent"};

static bool master_stray_of(unsigned slot)
{
	for (unsigned k = 0; k < nstrays; k++)
		if (strays[k].slot == slot)
			return true;
	return false;
}

static void master_free_config(struct config *c);

static void master_on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	/* SIGCHLD only needs to interrupt ppoll. */
}

/*
 * A connection that has sent nothing is not handed to accept() until its
 * first bytes come (or the kernel gives up waiting, after about the
 * request timeout): clients that only connect cost the reader nothing.
 */
static void master_defer_accept(int fd, const struct config *c)
{
	int secs = (int)c->request_timeout;

	if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs)) < 0)
		log_warn("%s: setsockopt(TCP_DEFER_ACCEPT, %d)", __func__, secs);
}

/* SERVER_LISTEN_ADDR and the port as a URL writes them: [::1]:8088 for IPv6. */
static const char *master_where(const struct config *c, char *buf, size_t n)
{
	bool v6 = c->listen_family == AF_INET6;

	snprintf(buf, n, "%s%s%s:%u", v6 ? "[" : "", c->listen_addr, v6 ? "]" : "", c->listen_port);
	return buf;
}

static int master_bind(const struct config *c)
{
	char where[sizeof(c->listen_addr) + 16];
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(c->listen_port)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(c->listen_port)};
	bool v6 = c->listen_family == AF_INET6;
	const struct sockaddr *sa = v6 ? (const struct sockaddr *)&sin6 : (const struct sockaddr *)&sin;
	socklen_t salen = v6 ? sizeof(sin6) : sizeof(sin);
	int fd, one = 1, zero = 0;

	sin.sin_addr = c->listen_in;
	sin6.sin6_addr = c->listen_in6;
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("%s: socket", __func__);
		return -1;
	}
	/*
	 * :: takes IPv4 clients too (as ::ffff:a.b.c.d, which SERVER_ALLOWED_IPS
	 * and the rate limit read as IPv4), whatever net.ipv6.bindv6only says.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) ||
	    bind(fd, sa, salen) < 0 || listen(fd, MASTER_BACKLOG) < 0) {
		log_error("%s: bind/listen %s", __func__, master_where(c, where, sizeof(where)));
		close(fd);
		return -1;
	}
	master_defer_accept(fd, c);
	return fd;
}

/*
 * What a child does first: die with the master.  Signals stay blocked as
 * the master had them until the worker has its own handlers, so none sent
 * in between is lost.
 */
static void master_child_setup(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		fatal(2, "%s: prctl(PR_SET_PDEATHSIG)", __func__);
	if (getppid() != parent)
		_exit(0); /* the master died before we could ask to follow it */
	/* A socket the master is giving up must close with the last old front. */
	if (prev_listen_fd >= 0)
		close(prev_listen_fd);
	/* Only the master may hold the life pipe open, or its death goes unseen. */
	close(life_pipe[1]);
	for (unsigned k = 0; k < CONFIG_MAX_WORKERS; k++)
		if (slots[k].ready_fd >= 0)
			close(slots[k].ready_fd);
	if (reader.ready_fd >= 0)
		close(reader.ready_fd);
	/* The configuration a reload replaces holds the token too: not in a child. */
	master_free_config(prev);
	prev = NULL;
}

/* A front must not carry the token, not even in the saved environment. */
static void master_wipe_env_token(void)
{
	static const char key[] = "API_ACCESS_TOKEN=";

	for (char **e = conf_env; e && *e; e++)
		if (strncmp(*e, key, sizeof(key) - 1) == 0)
			explicit_bzero(*e, strlen(*e));
}

static void master_spawn(unsigned i)
{
	struct slot *s = &slots[i];
	struct timespec now;
	int sv[2], ready[2];
	/*
	 * A survivor of the slot's last pair still owns what it left; it is
	 * swept after it goes.  At a master's start, the processes of one that
	 * was killed may still be finishing their runs: the janitor sweeps
	 * once those runs are over.
	 */
	bool sweep_later = master_stray_of(i) || s->started == 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_error("%s: socketpair for slot %u", __func__, i);
		s->respawn_at = io_now_ms() + MASTER_RESPAWN_BACKOFF_MAX_MS;
		return;
	}
	if (pipe2(ready, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("%s: pipe2 for slot %u", __func__, i);
		close(sv[0]);
		close(sv[1]);
		s->respawn_at = io_now_ms() + MASTER_RESPAWN_BACKOFF_MAX_MS;
		return;
	}
	pid = fork();
	if (pid == 0) {
		master_child_setup(master_pid);
		close(listen_fd);
		close(handoff[0]);
		close(handoff[1]);
		close(sv[0]);
		close(ready[0]);
		close(ready[1]);
		agent_main(cur, i, sv[1], life_pipe[0], !sweep_later);
	}
	s->pid[ROLE_AGENT] = pid > 0 ? pid : 0;
	if (pid > 0)
		pid = fork();
	if (pid == 0) {
		master_child_setup(master_pid);
		/* Fronts no longer accept: clients come from the reader only. */
		close(listen_fd);
		close(handoff[0]);
		close(sv[1]);
		close(ready[0]);
		master_wipe_env_token();
		front_main(cur, i, handoff[1], sv[0], life_pipe[0], ready[1]);
	}
	close(sv[0]);
	close(sv[1]);
	close(ready[1]);
	s->ready_fd = ready[0];
	s->served = false;
	s->gen = gen;
	s->retiring = false;
	s->crashed = false;
	clock_gettime(CLOCK_REALTIME, &now);
	s->started_real = now.tv_sec;
	if (pid < 0) {
		/* Counted as a crash, so the respawn backs off instead of looping. */
		log_error("%s: fork for slot %u", __func__, i);
		s->crashed = true;
		if (s->pid[ROLE_AGENT] > 0)
			kill(s->pid[ROLE_AGENT], SIGKILL);
		else
			s->respawn_at = io_now_ms() + MASTER_RESPAWN_BACKOFF_MAX_MS;
	} else {
		s->pid[ROLE_FRONT] = pid;
	}
	s->kill_at = 0;
	s->started = io_now_ms();
	scoreboard_slot_up(i, s->pid[ROLE_FRONT] > 0 && s->pid[ROLE_AGENT] > 0);
	log_debug("slot %u up: front %ld, agent %ld", i, (long)s->pid[ROLE_FRONT],
		  (long)s->pid[ROLE_AGENT]);
}

static void master_reader_spawn(void)
{
	int ready[2];
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("%s: pipe2", __func__);
		reader.respawn_at = io_now_ms() + MASTER_RESPAWN_BACKOFF_MAX_MS;
		return;
	}
	pid = fork();
	if (pid == 0) {
		master_child_setup(master_pid);
		close(handoff[1]);
		close(ready[0]);
		/* It keeps a salted digest of the token (reader.c), never the token. */
		master_wipe_env_token();
		reader_main(cur, listen_fd, handoff[0], life_pipe[0], ready[1]);
	}
	close(ready[1]);
	if (pid < 0) {
		log_error("%s: fork", __func__);
		close(ready[0]);
		reader.respawn_at = io_now_ms() + MASTER_RESPAWN_BACKOFF_MAX_MS;
		return;
	}
	reader.pid = pid;
	reader.ready_fd = ready[0];
	reader.served = false;
	reader.crashed = false;
	reader.gen = gen;
	log_debug("reader up: %ld", (long)pid);
}

/* What runboxd_respawns_total calls an unasked end. */
static enum scoreboard_cause master_cause(int st)
{
	if (WIFSIGNALED(st))
		return WTERMSIG(st) == SIGSYS ? SB_CAUSE_SANDBOX : SB_CAUSE_SIGNAL;
	return WEXITSTATUS(st) == 2 ? SB_CAUSE_CONFIG : SB_CAUSE_CRASH;
}

/* The reader is gone: respawn at once if it had accepted, else back off. */
static void master_reader_reaped(pid_t pid, int st)
{
	char b;
	int64_t now = io_now_ms();

	reader.pid = 0;
	if (reader.ready_fd >= 0) {
		if (read(reader.ready_fd, &b, 1) == 1)
			reader.served = true;
		close(reader.ready_fd);
		reader.ready_fd = -1;
	}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) {
		log_errorx("reader (pid %ld) killed by SIGSYS: sandbox violation", (long)pid);
		reader.served = false;
	} else if (WIFSIGNALED(st)) {
		log_warnx("reader (pid %ld) crashed: killed by signal %d (%s)", (long)pid, WTERMSIG(st),
			  strsignal(WTERMSIG(st)));
	} else if (WEXITSTATUS(st) != 0) {
		log_warnx("reader (pid %ld) exited with status %d", (long)pid, WEXITSTATUS(st));
	} else {
		log_debug("reader (pid %ld) exited", (long)pid);
	}
	if (draining)
		return;
	/* Only a drain or a reload (its retiree, not reaped here) asks the reader to exit. */
	if (WIFSIGNALED(st) || WEXITSTATUS(st) != 0)
		scoreboard_respawn(SB_ROLE_READER, master_cause(st));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		log_errorx("reader failed fatally (status 2); not respawning it");
		reader.disabled = true;
		return;
	}
	reader.respawn_at = now;
	if (reader.served) {
		reader.backoff_ms = 0;
		log_info("reader had served; respawning it now");
		return;
	}
	if (now - reader.window_start > (int64_t)MASTER_CRASH_WINDOW_SEC * 1000) {
		reader.window_start = now;
		reader.crashes = 0;
	}
	reader.crashes++;
	reader.backoff_ms = reader.backoff_ms ? reader.backoff_ms * 2 : MASTER_RESPAWN_BACKOFF_MIN_MS;
	if (reader.backoff_ms > MASTER_RESPAWN_BACKOFF_MAX_MS || reader.crashes > MASTER_CRASH_BUDGET)
		reader.backoff_ms = MASTER_RESPAWN_BACKOFF_MAX_MS;
	reader.respawn_at += reader.backoff_ms;
	log_info("reader died before serving; respawning it in %ums", reader.backoff_ms);
}

/* A reload: the new reader accepts at once, the old one finishes what it holds. */
static void master_reader_roll(void)
{
	if (reader.pid == 0 || reader.gen == gen)
		return;
	if (reader.retiree > 0)
		kill(reader.retiree, SIGKILL); /* a reload during a reload: the oldest goes */
	reader.retiree = reader.pid;
	reader.retiree_kill_at = io_now_ms() + (int64_t)cur->shutdown_timeout * 1000;
	kill(reader.pid, SIGTERM);
	if (reader.ready_fd >= 0)
		close(reader.ready_fd);
	reader.ready_fd = -1;
	reader.pid = 0;
	master_reader_spawn();
}

static void master_free_config(struct config *c)
{
	if (c == NULL)
		return;
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* The previous configuration is no longer needed (the roll is over or replaced). */
static void master_forget_prev(void)
{
	master_free_config(prev);
	prev = NULL;
	if (prev_listen_fd >= 0)
		close(prev_listen_fd);
	prev_listen_fd = -1;
}

/*
 * A slot of the new configuration failed fatally during the roll: the new
 * configuration validates but cannot run.  Go back to the previous one;
 * the slots that still run it stay, the others are rolled back.
 */
static void master_revert(unsigned i)
{
	struct config *bad = cur;

	log_errorx("reload: %s %u cannot run the new configuration; going back to the previous one",
		   reader.disabled ? "the reader, not slot" : "slot", i);
	cur = prev;
	prev = NULL;
	if (prev_listen_fd >= 0) {
		close(listen_fd);
		listen_fd = prev_listen_fd;
		prev_listen_fd = -1;
	}
	master_free_config(bad);
	gen++;
	for (unsigned k = 0; k < CONFIG_MAX_WORKERS; k++) {
		if (slots[k].gen == prev_gen)
			slots[k].gen = gen;
		slots[k].disabled = false;
	}
	scoreboard_set_slots(cur->worker_threads);
	reader.disabled = false;
	log_set_level(cur->log_level);
}

/*
 * A janitor: a child that removes the containers of this instance that
 * owners says nobody owns (NULL: all of them).  The master never talks to
 * Docker itself.
 */
static pid_t master_janitor_fork(const struct agent_owners *owners)
{
	pid_t pid = fork();

	if (pid < 0)
		log_error("%s: fork", __func__);
	if (pid == 0) {
		master_child_setup(master_pid);
		if (listen_fd >= 0)
			close(listen_fd);
		close(handoff[0]);
		close(handoff[1]);
		agent_janitor(cur, owners);
	}
	return pid;
}

/* The longest a janitor may take: a few Docker calls for each round of its sweep. */
static int64_t master_janitor_limit_ms(void)
{
	return ((int64_t)cur->docker_read_timeout + cur->docker_write_timeout) * 2000 + 5000;
}

/* Remove every container of this instance, when no run can be live: after the last slots stopped. */
static void master_janitor_last(void)
{
	int64_t limit = master_janitor_limit_ms();
	int64_t deadline = io_now_ms() + limit;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
	pid_t pid = master_janitor_fork(NULL), w;
	int st = 0;

	if (pid < 0)
		return;
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 || (w < 0 && errno == EINTR)) {
		if (io_now_ms() >= deadline) {
			log_warnx("janitor did not finish in %lldms; killing it", (long long)limit);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return;
		}
		nanosleep(&tick, NULL);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		log_warnx("janitor could not remove every leftover container");
}

/*
 * The periodic sweep, in a child the loop reaps: containers of slots with
 * no live process, containers a slot's live pair cannot have made (older
 * than its spawn, when no survivor of the previous pair is left), and any
 * older than the longest a run can last.  The first one removes what a
 * killed master left behind, once its orphans' runs are over.
 */
static void master_janitor_tick(int64_t now)
{
	static int64_t since[CONFIG_MAX_WORKERS];
	int64_t per_call = ((int64_t)cur->docker_read_timeout + cur->docker_write_timeout) * 1000;
	struct agent_owners owners = {.since = since, .n = CONFIG_MAX_WORKERS};
	struct timespec real;

	if (janitor_pid > 0) {
		if (now >= janitor_at) {
			log_warnx("janitor (pid %ld) is stuck; killing it", (long)janitor_pid);
			kill(janitor_pid, SIGKILL);
			janitor_at = now + 1000;
		}
		return;
	}
	if (now < janitor_at || draining)
		return;
	/* Create, attach and start may each take a Docker call's time before the run's own. */
	owners.max_age = cur->run_max_time + (3 * per_call + AGENT_RUN_SLACK_MS) / 1000 +
			 MASTER_JANITOR_SLACK_SEC;
	/*
	 * A live agent's warm container waits for its run as long as it takes:
	 * with RUN_WARM_IMAGES only ownership counts, and each run is still
	 * bounded by its agent's own deadline.
	 */
	if (cur->warm_images.n > 0)
		owners.max_age = INT64_MAX;
	clock_gettime(CLOCK_REALTIME, &real);
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++) {
		const struct slot *s = &slots[i];

		/*
		 * Created is the second, rounded down, on the clock we read: a
		 * container made at or after a time is never older than its
		 * second.  A slot down now may be respawned while the janitor
		 * lists, so what is younger than a second is left to next time.
		 */
		if (s->pid[0] == 0 && s->pid[1] == 0)
			since[i] = real.tv_sec - 1;
		else if (master_stray_of(i))
			since[i] = INT64_MIN;
		else
			since[i] = s->started_real;
	}
	janitor_pid = master_janitor_fork(&owners);
	if (janitor_pid < 0)
		janitor_pid = 0;
	janitor_at = now + (janitor_pid > 0 ? master_janitor_limit_ms() : MASTER_JANITOR_PERIOD_MS);
}

static void master_janitor_reaped(int st)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		log_warnx("janitor could not remove every leftover container; trying again in %dms",
			  MASTER_JANITOR_PERIOD_MS);
	janitor_pid = 0;
	janitor_at = io_now_ms() + MASTER_JANITOR_PERIOD_MS;
}

/* Survivors of broken pairs: told to go, killed if they linger. */
static void master_stray_add(unsigned i, enum role r, pid_t pid)
{
	kill(pid, SIGTERM);
	if (nstrays == sizeof(strays) / sizeof(strays[0])) {
		kill(pid, SIGKILL);
		return;
	}
	strays[nstrays++] = (struct stray){
		.pid = pid,
		.slot = i,
		.role = r,
		.kill_at = io_now_ms() + (int64_t)cur->shutdown_timeout * 1000,
	};
}

/*
 * A survivor of a broken pair is gone.  Once the last of a slot's is, what
 * they left (the run of a front whose agent died, the container of an
 * agent killed before it removed it) is nobody's: the slot's agent sweeps.
 */
static bool master_stray_reaped(pid_t pid)
{
	for (unsigned k = 0; k < nstrays; k++) {
		unsigned i = strays[k].slot;

		if (strays[k].pid != pid)
			continue;
		log_debug("%s %u (pid %ld) of a broken pair is gone", role_name[strays[k].role], i,
			  (long)pid);
		strays[k] = strays[--nstrays];
		if (!master_stray_of(i) && slots[i].pid[ROLE_AGENT] > 0)
			kill(slots[i].pid[ROLE_AGENT], SIGUSR1);
		return true;
	}
	return false;
}

/* Has the slot's front said it served?  Reads the byte if it is there. */
static void master_read_ready(struct slot *s)
{
	char b;
	ssize_t n;

	if (s->ready_fd < 0)
		return;
	n = read(s->ready_fd, &b, 1);
	if (n == 1)
		s->served = true;
	if (n >= 0) {
		close(s->ready_fd);
		s->ready_fd = -1;
	}
}

static bool master_find(pid_t pid, unsigned *slot, enum role *role)
{
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		for (int r = 0; r < 2; r++)
			if (slots[i].pid[r] == pid) {
				*slot = i;
				*role = (enum role)r;
				return true;
			}
	return false;
}

/* Log how a child ended; true if it was a crash. */
static bool master_log_exit(unsigned i, enum role r, pid_t pid, int st)
{
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);

		if (sig == SIGSYS)
			log_errorx("%s %u (pid %ld) killed by SIGSYS: sandbox violation", role_name[r], i,
				   (long)pid);
		else
			log_warnx("%s %u (pid %ld) crashed: killed by signal %d (%s)", role_name[r], i,
				  (long)pid, sig, strsignal(sig));
		/*
		 * Any death by a signal is a crash, whichever of the pair the
		 * master reaps first, except when we are stopping the slot.
		 */
		return !(slots[i].retiring || draining);
	}
	if (WEXITSTATUS(st) == 0) {
		log_debug("%s %u (pid %ld) exited", role_name[r], i, (long)pid);
		return false;
	}
	log_warnx("%s %u (pid %ld) exited with status %d", role_name[r], i, (long)pid,
		  WEXITSTATUS(st));
	return true;
}

static void master_count_crash(unsigned i)
{
	struct slot *s = &slots[i];
	int64_t now = io_now_ms();

	if (now - s->window_start > (int64_t)MASTER_CRASH_WINDOW_SEC * 1000) {
		s->window_start = now;
		s->crashes = 0;
	}
	s->crashes++;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : MASTER_RESPAWN_BACKOFF_MIN_MS;
	if (s->backoff_ms > MASTER_RESPAWN_BACKOFF_MAX_MS || s->crashes > MASTER_CRASH_BUDGET)
		s->backoff_ms = MASTER_RESPAWN_BACKOFF_MAX_MS;
	if (s->crashes == MASTER_CRASH_BUDGET + 1)
		log_errorx("slot %u crashed %u times in %ds; respawning it every %dms", i, s->crashes,
			   MASTER_CRASH_WINDOW_SEC, MASTER_RESPAWN_BACKOFF_MAX_MS);
}

static void master_reaped(pid_t pid, int st)
{
	unsigned i;
	enum role r;
	struct slot *s;
	bool crash;

	if (pid == janitor_pid) {
		master_janitor_reaped(st);
		return;
	}
	if (pid == reader.retiree) {
		reader.retiree = 0;
		return;
	}
	if (pid == reader.pid) {
		master_reader_reaped(pid, st);
		if (reader.disabled && rolling && prev != NULL && reader.gen == gen)
			master_revert(0);
		return;
	}
	if (master_stray_reaped(pid) || !master_find(pid, &i, &r))
		return;
	s = &slots[i];
	s->pid[r] = 0;
	scoreboard_slot_up(i, false);
	master_read_ready(s);
	crash = master_log_exit(i, r, pid, st);
	if (crash) {
		s->crashed = true;
		scoreboard_respawn(r == ROLE_FRONT ? SB_ROLE_FRONT : SB_ROLE_AGENT, master_cause(st));
	}
	/* A sandbox violation comes back with every request: a crash loop however it served. */
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		s->served = false;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		log_errorx("slot %u: %s failed fatally (status 2); not respawning it", i, role_name[r]);
		s->disabled = true;
		if (rolling && prev != NULL && s->gen == gen)
			master_revert(i);
	}
	/*
	 * A slot is a pair.  When one of it crashed, its survivor is told to
	 * go and killed if it lingers, and unless we are stopping the slot
	 * anyway the slot does not wait for it to be respawned.  One that
	 * exited cleanly did so because its partner is stopping or dying:
	 * that one's exit, due any moment, says how to respawn.
	 */
	if (s->pid[!r] > 0 && crash && !s->retiring && !draining && !s->disabled) {
		master_stray_add(i, (enum role)!r, s->pid[!r]);
		s->pid[!r] = 0;
	} else if (s->pid[!r] > 0 && s->kill_at == 0) {
		kill(s->pid[!r], SIGTERM);
		s->kill_at = io_now_ms() + (int64_t)cur->shutdown_timeout * 1000;
	}
	if (s->pid[0] || s->pid[1])
		return;
	if (s->ready_fd >= 0) {
		close(s->ready_fd);
		s->ready_fd = -1;
	}
	s->kill_at = 0;
	s->respawn_at = io_now_ms();
	if (!s->crashed || draining)
		return;
	/* Backoff is for a crash loop: a slot that dies before it serves. */
	if (s->served) {
		s->backoff_ms = 0;
		s->crashes = 0;
		log_info("slot %u had served; respawning it now", i);
		return;
	}
	master_count_crash(i);
	s->respawn_at += s->backoff_ms;
	log_info("slot %u died before serving; respawning it in %ums", i, s->backoff_ms);
}

static void master_reap(void)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		master_reaped(pid, st);
}

static bool master_children_left(void)
{
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		if (slots[i].pid[0] || slots[i].pid[1])
			return true;
	return nstrays > 0 || janitor_pid > 0 || reader.pid > 0 || reader.retiree > 0;
}

static void master_signal_all(int role, int sig)
{
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		for (int r = 0; r < 2; r++)
			if (slots[i].pid[r] > 0 && (role < 0 || role == r))
				kill(slots[i].pid[r], sig);
	for (unsigned k = 0; k < nstrays; k++)
		if (role < 0 || role == (int)strays[k].role)
			kill(strays[k].pid, sig);
}

static void master_start_drain(void)
{
	draining = true;
	drain_deadline = io_now_ms() + (int64_t)cur->shutdown_timeout * 1000;
	log_info("stopping: draining in-flight requests (up to %us)", cur->shutdown_timeout);
	/*
	 * The reader stops accepting and hands over what it still reads; the
	 * fronts serve on until it is gone (master_drain_fronts), then
	 * finish; agents follow their fronts.
	 */
	if (reader.pid > 0)
		kill(reader.pid, SIGTERM);
	if (reader.retiree > 0)
		kill(reader.retiree, SIGTERM);
	close(listen_fd);
	listen_fd = -1;
	/* The last sweep, once every slot is gone, removes everything anyway. */
	if (janitor_pid > 0)
		kill(janitor_pid, SIGKILL);
}

/* Draining, and no reader is left: nothing more can be handed over, the fronts may go. */
static void master_drain_fronts(void)
{
	if (fronts_told || reader.pid > 0 || reader.retiree > 0)
		return;
	fronts_told = true;
	close(handoff[0]);
	handoff[0] = -1;
	master_signal_all(ROLE_FRONT, SIGTERM);
}

/*
 * The drain deadline passed: kill the fronts first, so that their agents see
 * EOF and remove the containers of the runs cut short; kill the agents only
 * if they cannot do that in time either.
 */
static void master_drain_timeout(void)
{
	int64_t docker_ms = ((int64_t)cur->docker_read_timeout + cur->docker_write_timeout) * 1000;

	if (!fronts_killed) {
		log_warnx("drain timed out; killing the fronts, the agents remove their containers");
		if (reader.pid > 0)
			kill(reader.pid, SIGKILL);
		if (reader.retiree > 0)
			kill(reader.retiree, SIGKILL);
		master_signal_all(ROLE_FRONT, SIGKILL);
		fronts_killed = true;
		drain_deadline = io_now_ms() + 2 * docker_ms + 1000;
		return;
	}
	log_warnx("agents did not finish; killing them");
	master_signal_all(-1, SIGKILL);
	if (janitor_pid > 0)
		kill(janitor_pid, SIGKILL);
	drain_deadline = io_now_ms() + 1000;
}

/*
 * RLIMIT_NPROC counts a host user's processes across all containers, so
 * unless each container's cgroup holds it well below that, one fork bomb
 * starves every other run of the same user.
 */
static void master_advise(const struct config *c)
{
	if (c->pids_limit > 0 && (uint64_t)c->pids_limit * c->worker_threads <= (uint64_t)c->nproc_soft)
		return;
	log_warnx("DOCKER_CONTAINER_PIDS_LIMIT (%lld) x SERVER_WORKER_THREADS (%u) exceeds "
		  "DOCKER_CONTAINER_ULIMIT_NPROC_SOFT (%lld): nproc counts per host user across all "
		  "containers, so one fork bomb can stop the other runs from forking",
		  (long long)c->pids_limit, c->worker_threads, (long long)c->nproc_soft);
}

static void master_reload(void)
{
	struct config *next = calloc(1, sizeof(*next));
	char err[512];
	int fd;

	if (next == NULL) {
		log_error("%s: calloc", __func__);
		return;
	}
	if (config_load(next, conf_path, conf_env, err, sizeof(err)) < 0 ||
	    sandbox_prepare(next, true, err, sizeof(err)) < 0) {
		log_errorx("reload: %s; keeping the running configuration", err);
		goto fail;
	}
	if (next->listen_port != cur->listen_port || next->listen_family != cur->listen_family ||
	    next->listen_in.s_addr != cur->listen_in.s_addr ||
	    memcmp(&next->listen_in6, &cur->listen_in6, sizeof(cur->listen_in6)) != 0) {
		fd = master_bind(next);
		if (fd < 0) {
			char where[sizeof(next->listen_addr) + 16];

			log_errorx("reload: cannot listen on %s; keeping the running configuration",
				   master_where(next, where, sizeof(where)));
			goto fail;
		}
		/* Old fronts keep their copy of the old socket until they leave. */
		master_forget_prev();
		prev_listen_fd = listen_fd;
		listen_fd = fd;
	} else {
		master_forget_prev();
		master_defer_accept(listen_fd, next);
	}
	/* Kept until the roll is over, to go back to if the new one cannot run. */
	prev = cur;
	prev_gen = gen;
	cur = next;
	gen++;
	rolling = true;
	log_set_level(cur->log_level);
	master_advise(cur);
	scoreboard_set_slots(cur->worker_threads);
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		slots[i].disabled = false;
	log_info("reload: configuration accepted; replacing %u slots one by one", cur->worker_threads);
	return;
fail:
	master_free_config(next);
}

/*
 * Retire one slot of an older generation at a time, and only once the
 * replacements so far have run for a while: a new configuration that
 * cannot run is found on its first slot, not after all of them.
 */
static void master_roll(void)
{
	int64_t now = io_now_ms();

	master_reader_roll();
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++) {
		struct slot *s = &slots[i];
		bool running = s->pid[0] || s->pid[1];

		if (running && s->retiring)
			return; /* still waiting for that one */
		if (running && s->gen == gen && now - s->started < MASTER_ROLL_SETTLE_MS)
			return;
		if (!running && !s->disabled && i < cur->worker_threads)
			return; /* a slot waiting to be (re)spawned: it comes up first */
	}
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++) {
		struct slot *s = &slots[i];

		if ((s->pid[0] || s->pid[1]) && s->gen != gen) {
			s->retiring = true;
			s->kill_at = now + (int64_t)cur->shutdown_timeout * 1000;
			/* The agent follows its front; the kill_at bounds both. */
			if (s->pid[ROLE_FRONT])
				kill(s->pid[ROLE_FRONT], SIGTERM);
			return;
		}
	}
	rolling = false;
	master_forget_prev();
	log_info("reload: all slots replaced");
}

/* Respawn what is due and kill what lingers; returns ms until the next timer. */
static int master_timers(void)
{
	int64_t now = io_now_ms(), next = now + 60000;

	for (unsigned k = 0; k < nstrays; k++) {
		struct stray *t = &strays[k];

		if (now >= t->kill_at) {
			log_warnx("%s %u (pid %ld) of a broken pair did not stop in time; killing it",
				  role_name[t->role], t->slot, (long)t->pid);
			kill(t->pid, SIGKILL);
			t->kill_at = now + 1000;
		}
		next = t->kill_at < next ? t->kill_at : next;
	}

	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++) {
		struct slot *s = &slots[i];
		bool running = s->pid[0] || s->pid[1];

		if (running && s->kill_at) {
			if (now >= s->kill_at) {
				log_warnx("slot %u did not stop in time; killing it", i);
				for (int r = 0; r < 2; r++)
					if (s->pid[r] > 0)
						kill(s->pid[r], SIGKILL);
				s->kill_at = now + 1000;
			}
			next = s->kill_at < next ? s->kill_at : next;
		}
		if (running || draining || s->disabled || i >= cur->worker_threads)
			continue;
		if (now >= s->respawn_at) {
			if (s->respawn_at && s->crashed)
				log_info("respawning slot %u", i);
			master_spawn(i);
		} else if (s->respawn_at < next) {
			next = s->respawn_at;
		}
	}
	if (reader.retiree > 0) {
		if (now >= reader.retiree_kill_at) {
			log_warnx("the previous reader (pid %ld) did not finish in time; killing it",
				  (long)reader.retiree);
			kill(reader.retiree, SIGKILL);
			reader.retiree_kill_at = now + 1000;
		}
		next = reader.retiree_kill_at < next ? reader.retiree_kill_at : next;
	}
	if (reader.pid == 0 && !draining && !reader.disabled) {
		if (now >= reader.respawn_at)
			master_reader_spawn();
		else if (reader.respawn_at < next)
			next = reader.respawn_at;
	}
	master_janitor_tick(now);
	if (!draining && janitor_at < next)
		next = janitor_at;
	return (int)(next > now ? next - now : 0);
}

/* The fronts that have not yet said they served. */
static nfds_t master_ready_fds(struct pollfd *p)
{
	nfds_t n = 0;

	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		if (slots[i].ready_fd >= 0)
			p[n++] = (struct pollfd){.fd = slots[i].ready_fd, .events = POLLIN};
	if (reader.ready_fd >= 0)
		p[n++] = (struct pollfd){.fd = reader.ready_fd, .events = POLLIN};
	return n;
}

static void master_take_ready(const struct pollfd *p, nfds_t n)
{
	for (nfds_t k = 0; k < n; k++) {
		if (p[k].revents == 0)
			continue;
		for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
			if (slots[i].ready_fd == p[k].fd)
				master_read_ready(&slots[i]);
		if (p[k].fd == reader.ready_fd) {
			char b;

			if (read(reader.ready_fd, &b, 1) == 1)
				reader.served = true;
			close(reader.ready_fd);
			reader.ready_fd = -1;
		}
	}
}

static bool master_all_disabled(void)
{
	for (unsigned i = 0; i < cur->worker_threads; i++)
		if (!slots[i].disabled)
			return false;
	return true;
}

static void master_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = master_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	/* Never ours to take; blocked so that an agent forked with it blocked finds it in its signalfd. */
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGHUP);
	sigdelset(waitmask, SIGCHLD);
	sigaddset(waitmask, SIGUSR1);
}

int master_run(struct config *cfg, const char *file, char **envp)
{
	sigset_t waitmask;
	char where[sizeof(cfg->listen_addr) + 16];
	int status = 0;

	/* Reloads replace cur, so it lives on the heap. */
	cur = malloc(sizeof(*cur));
	if (cur == NULL)
		fatal(1, "%s: malloc", __func__);
	memcpy(cur, cfg, sizeof(*cur));
	explicit_bzero(cfg, sizeof(*cfg));
	conf_path = file;
	conf_env = envp;
	proctitle_set("runboxd: master");
	master_pid = getpid();
	master_signals(&waitmask);
	listen_fd = master_bind(cur);
	if (listen_fd < 0)
		return 1;
	log_info("runboxd starting: listening on %s with %u slots, instance %s",
		 master_where(cur, where, sizeof(where)), cur->worker_threads, cur->instance);
	master_advise(cur);
	/*
	 * Before any fork, so every front maps the same table; made whether
	 * or not a limit is set, so that a reload can turn one on.
	 */
	if (ratelimit_setup() < 0) {
		log_error("%s: the rate limit table (mmap, getrandom)", __func__);
		return 1;
	}
	/* Before any fork: every child writes the same pages. */
	if (scoreboard_create() < 0)
		return 1;
	scoreboard_set_slots(cur->worker_threads);
	/* Never written: its only news is its hang-up, when the master dies. */
	if (pipe2(life_pipe, O_CLOEXEC) < 0) {
		log_error("%s: pipe2", __func__);
		return 1;
	}
	/* Before any fork: every agent, respawned ones too, shares it. */
	if (pull_table_create() < 0) {
		log_error("%s: mmap of the pull table", __func__);
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, handoff) < 0) {
		log_error("%s: socketpair for the hand-off channel", __func__);
		return 1;
	}
	for (unsigned i = 0; i < CONFIG_MAX_WORKERS; i++)
		slots[i].ready_fd = -1;
	/*
	 * What a killed master left: its orphans finish their runs (each
	 * agent ends its own by its deadline), then the janitor removes what
	 * is left.
	 */
	janitor_at = io_now_ms() + (int64_t)cur->run_max_time * 1000 + AGENT_RUN_SLACK_MS +
		     MASTER_JANITOR_SLACK_SEC * 1000;
	for (;;) {
		static struct pollfd ready[CONFIG_MAX_WORKERS + 1];
		struct timespec ts;
		nfds_t nready;
		int ms;

		master_reap();
		if (got_term && !draining)
			master_start_drain();
		if (draining && !master_children_left())
			break;
		if (draining)
			master_drain_fronts();
		if (draining && io_now_ms() >= drain_deadline)
			master_drain_timeout();
		if (got_hup && !draining) {
			got_hup = 0;
			master_reload();
		}
		if (rolling && !draining)
			master_roll();
		ms = master_timers();
		if (!draining && reader.disabled && !rolling) {
			log_errorx("the reader failed fatally; nothing can accept clients; stopping");
			status = 1;
			got_term = 1;
			continue;
		}
		if (!draining && master_all_disabled()) {
			log_errorx("every slot failed fatally; stopping");
			status = 1;
			got_term = 1;
			continue;
		}
		if (draining) {
			int left = io_left_ms(drain_deadline);

			ms = left < ms ? left : ms;
		}
		if (rolling && ms > MASTER_ROLL_SETTLE_MS / 10)
			ms = MASTER_ROLL_SETTLE_MS / 10;
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000;
		nready = master_ready_fds(ready);
		if (ppoll(ready, nready, &ts, &waitmask) > 0)
			master_take_ready(ready, nready);
	}
	master_janitor_last();
	log_info("runboxd stopped");
	return status;
}
