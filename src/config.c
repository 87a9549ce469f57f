/*
 * Configuration.  One table, vars[], declares every variable once: its
 * name, type, field, range, default and meaning.  Defaults, parsing,
 * config_finish's "required" check, config_print and config_usage all
 * walk that table, so adding a variable is adding one line.
 *
 * Parsing is strict on purpose: a value that is not exactly what the
 * variable takes stops the server at start, naming the variable, rather
 * than running untrusted code under limits the operator did not mean.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "imageref.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NANO_PER_CPU INT64_C(1000000000)
#define CPUS_MAX_DECIMALS 9
#define SHOWN_MAX 64 /* bytes of a bad value quoted back in a message */

enum config_type {
	CT_ADDR,     /* IPv4 (dotted) or IPv6; also fills listen_family, listen_in(6) */
	CT_U16,      /* integers, digits only, within [min, max] */
	CT_UINT,
	CT_U64,
	CT_I64,
	CT_BOOL,     /* exactly "true" or "false", as docker-run */
	CT_STR,      /* fits, no control characters */
	CT_TOKEN,    /* printable ASCII, no spaces; never echoed; config_finish refuses weak ones */
	CT_SOCKET,   /* absolute path that fits sun_path */
	CT_DIR,      /* absolute path or empty */
	CT_PATH,     /* absolute path */
	CT_USER,     /* a user name: [A-Za-z0-9._-], not starting with '-' */
	CT_CAPS,     /* space-separated capability names */
	CT_IMAGES,   /* space-separated image references */
	CT_PATTERNS, /* space-separated image references or namespace patterns (imageref.h) */
	CT_CIDRS,    /* space- or comma-separated IPv4/IPv6 CIDRs (netacl.h) */
	CT_LOGLEVEL, /* error|warn|info|debug */
	CT_CPUS,     /* decimal CPUs, stored in nano-CPUs */
	CT_INSTANCE, /* [A-Za-z0-9_.:-]* */
	CT_IMAGE,    /* one image reference, or empty */
	CT_MOUNTS,   /* space-separated host:container[:ro|:rw] */
	CT_WORKDIR,  /* absolute path without '..', or empty */
	CT_IPS,      /* space-separated IPv4/IPv6 addresses */
	CT_DOMAINS,  /* space-separated DNS domain names */
	CT_NETWORK,  /* a Docker network name, or empty */
	CT_PLATFORM, /* os/arch[/variant], or empty */
	CT_PREPARE,  /* RUN_PREPARE_<NAME>: "<image> <command>"; the name is part of the key */
};

struct config_var {
	const char *name;
	enum config_type type;
	size_t off;  /* of the field in struct config */
	size_t size; /* of the field: the bound for strings */
	int64_t min; /* integers only */
	uint64_t max;
	const char *def; /* NULL: required (docker-run has no default either) */
	const char *doc;
};

/*
 * FIELD(f, T) is offsetof + sizeof of member f, and fails to compile when
 * f is not of type T: a table line cannot point at a field of another type.
 * T is a type name in a _Generic association, which cannot take parentheses.
 */
#define FIELD(f, T)                                                                    \
	offsetof(struct config, f) + 0 * sizeof(_Generic(((struct config *)0)->f, T: 1)), /* NOLINT(bugprone-macro-parentheses) */ \
	    sizeof(((struct config *)0)->f)

#define ADDR(n, f, def, doc) { n, CT_ADDR, FIELD(f, char *), 0, 0, def, doc }
#define U16(n, f, lo, hi, def, doc) { n, CT_U16, FIELD(f, uint16_t), lo, hi, def, doc }
#define UINT(n, f, lo, hi, def, doc) { n, CT_UINT, FIELD(f, unsigned), lo, hi, def, doc }
#define U64(n, f, lo, hi, def, doc) { n, CT_U64, FIELD(f, uint64_t), lo, hi, def, doc }
#define I64(n, f, lo, def, doc) { n, CT_I64, FIELD(f, int64_t), lo, INT64_MAX, def, doc }
#define BOOL(n, f, def, doc) { n, CT_BOOL, FIELD(f, bool), 0, 0, def, doc }
#define TEXT(n, t, f, def, doc) { n, t, FIELD(f, char *), 0, 0, def, doc }
#define LIST(n, t, f, def, doc) { n, t, FIELD(f, struct config_list), 0, 0, def, doc }
#define LEVEL(n, f, def, doc) { n, CT_LOGLEVEL, FIELD(f, enum log_level), 0, 0, def, doc }
#define CPUS(n, f, def, doc) { n, CT_CPUS, FIELD(f, int64_t), 0, 0, def, doc }
#define CIDRS(n, f, def, doc) { n, CT_CIDRS, FIELD(f, struct netacl), 0, 0, def, doc }
#define MOUNTS(n, f, def, doc) { n, CT_MOUNTS, FIELD(f, struct config_mounts), 0, 0, def, doc }
#define PREPARE(n, f, def, doc) { n, CT_PREPARE, FIELD(f, struct config_prepare), 0, 0, def, doc }

#define PREPARE_PREFIX "RUN_PREPARE_"

static const struct config_var vars[] = {
	/* docker-run, required */
	ADDR("SERVER_LISTEN_ADDR", listen_addr, NULL, "listen address (IPv4, or IPv6 such as ::1 or ::)"),
	U16("SERVER_LISTEN_PORT", listen_port, 1, 65535, NULL, "listen TCP port"),
	UINT("SERVER_WORKER_THREADS", worker_threads, 1, CONFIG_MAX_WORKERS, NULL,
	     "requests served at once (one front + one agent process each)"),
	TEXT("API_ACCESS_TOKEN", CT_TOKEN, access_token, NULL,
	     "token clients send in X-Access-Token to use /version and /run"),
	TEXT("DOCKER_UNIX_SOCKET_PATH", CT_SOCKET, docker_socket, NULL,
	     "path of the Docker daemon's unix socket"),
	UINT("DOCKER_UNIX_SOCKET_READ_TIMEOUT", docker_read_timeout, 1, CONFIG_MAX_SECONDS, NULL,
	     "seconds to wait for a reply from Docker"),
	UINT("DOCKER_UNIX_SOCKET_WRITE_TIMEOUT", docker_write_timeout, 1, CONFIG_MAX_SECONDS, NULL,
	     "seconds to wait to send a request to Docker"),
	TEXT("DOCKER_CONTAINER_HOSTNAME", CT_STR, hostname, NULL, "hostname inside the container"),
	TEXT("DOCKER_CONTAINER_USER", CT_STR, user, NULL, "user that runs the code in the container"),
	I64("DOCKER_CONTAINER_MEMORY", memory, 0, NULL, "memory limit of a container in bytes (0 = none)"),
	BOOL("DOCKER_CONTAINER_NETWORK_DISABLED", network_disabled, NULL,
	     "containers have no network"),
	I64("DOCKER_CONTAINER_ULIMIT_NOFILE_SOFT", nofile_soft, 0, NULL, "soft limit of open files"),
	I64("DOCKER_CONTAINER_ULIMIT_NOFILE_HARD", nofile_hard, 0, NULL, "hard limit of open files"),
	I64("DOCKER_CONTAINER_ULIMIT_NPROC_SOFT", nproc_soft, 0, NULL, "soft limit of processes"),
	I64("DOCKER_CONTAINER_ULIMIT_NPROC_HARD", nproc_hard, 0, NULL, "hard limit of processes"),
	LIST("DOCKER_CONTAINER_CAP_DROP", CT_CAPS, cap_drop, NULL, "capabilities to drop, or ALL"),
	UINT("RUN_MAX_EXECUTION_TIME", run_max_time, 1, CONFIG_MAX_SECONDS, NULL,
	     "seconds a run may take, from payload to last byte of output"),
	U64("RUN_MAX_OUTPUT_SIZE", run_max_output, 1, CONFIG_MAX_OUTPUT, NULL,
	    "bytes of output a run may produce"),

	/* docker-run, optional */
	LIST("DOCKER_CONTAINER_CAP_ADD", CT_CAPS, cap_add, "", "capabilities to add"),
	BOOL("DOCKER_CONTAINER_READONLY_ROOTFS", readonly_rootfs, "false",
	     "the container's root filesystem is read-only"),
	TEXT("DOCKER_CONTAINER_TMP_DIR_PATH", CT_DIR, tmp_dir_path, "",
	     "writable tmpfs mounted here (empty: none)"),
	TEXT("DOCKER_CONTAINER_TMP_DIR_OPTIONS", CT_STR, tmp_dir_options,
	     "rw,noexec,nosuid,size=65536k", "mount options of the tmp dir"),
	TEXT("DOCKER_CONTAINER_WORK_DIR_PATH", CT_DIR, work_dir_path, "",
	     "writable tmpfs mounted here (empty: none)"),
	TEXT("DOCKER_CONTAINER_WORK_DIR_OPTIONS", CT_STR, work_dir_options,
	     "rw,exec,nosuid,size=131072k", "mount options of the work dir"),
	BOOL("DEBUG_KEEP_CONTAINER", debug_keep_container, "false",
	     "keep containers after the run (debugging only)"),

	/* runboxd */
	U64("SERVER_MAX_REQUEST_BYTES", max_request_bytes, 1, MAX_REQUEST_BODY_LIMIT, "2097152",
	    "largest request body accepted"),
	UINT("SERVER_REQUEST_TIMEOUT", request_timeout, 1, CONFIG_MAX_SECONDS, "10",
	     "seconds a client has to send its whole request"),
	UINT("SERVER_MAX_WAITING", max_waiting, 1, READER_MAX_WAITING, "1024",
	     "connections the reader holds while their requests arrive; more get 503"),
	UINT("SERVER_SHUTDOWN_TIMEOUT", shutdown_timeout, 0, CONFIG_MAX_SECONDS, "30",
	     "seconds in-flight requests get on SIGTERM"),
	LEVEL("LOG_LEVEL", log_level, "info", "least severe messages logged"),
	TEXT("RUNBOXD_INSTANCE", CT_INSTANCE, instance, "",
	     "label on this server's containers (empty: ADDR:PORT)"),
	I64("DOCKER_CONTAINER_PIDS_LIMIT", pids_limit, 0, "256",
	    "processes per container (0 = no limit)"),
	I64("DOCKER_CONTAINER_MEMORY_SWAP", memory_swap, -1, "0",
	    "memory + swap in bytes (0 = no swap, -1 = unlimited)"),
	BOOL("DOCKER_CONTAINER_NO_NEW_PRIVILEGES", no_new_privileges, "true",
	     "setuid binaries gain nothing in the container"),
	BOOL("DOCKER_CONTAINER_INIT", init, "false",
	     "docker-init is the container's PID 1 (for images whose command does not reap orphans)"),
	TEXT("DOCKER_CONTAINER_LOG_DRIVER", CT_STR, log_driver, "none",
	     "Docker log driver of containers"),
	CPUS("DOCKER_CONTAINER_CPUS", nano_cpus, "0", "CPUs per container, e.g. 0.5 (0 = no limit)"),
	TEXT("DOCKER_CONTAINER_RUNTIME", CT_STR, runtime, "",
	     "OCI runtime, e.g. runsc (empty: daemon default)"),
	LIST("RUN_IMAGE_ALLOWLIST", CT_PATTERNS, image_allow, "",
	     "images clients may run: names, name:tag, name@digest or namespace/* (empty: any)"),
	LIST("RUN_WARM_IMAGES", CT_IMAGES, warm_images, "",
	     "images each slot keeps one started container of, ready for a run"),
	BOOL("RUN_WAIT_FOR_EXIT", wait_for_exit, "false",
	     "answer only at the end of the stream, as docker-run does"),
	TEXT("SERVER_FRONT_USER", CT_USER, front_user, "runboxd-front",
	     "user the fronts run as when started as root (no Docker access)"),
	TEXT("SERVER_AGENT_USER", CT_USER, agent_user, "runboxd",
	     "user the agents run as when started as root (must reach the Docker socket)"),
	TEXT("SERVER_FRONT_CHROOT", CT_PATH, front_chroot, "/var/lib/runboxd/empty",
	     "empty root-owned directory the fronts are chrooted to when started as root"),
	TEXT("EXECUTE_DEFAULT_IMAGE", CT_IMAGE, execute_default_image, "",
	     "image POST /execute runs when the request names none (empty: the request must)"),
	TEXT("COMPILE_IMAGE", CT_IMAGE, compile_image, "",
	     "image with python3 that POST /compile runs (empty: /compile is off)"),
	BOOL("SANDBOX_DEBUG", sandbox_debug, "false",
	     "a forbidden system call is logged and fails instead of killing (debugging only)"),
	CIDRS("SERVER_ALLOWED_IPS", allowed_ips, "",
	      "client addresses or networks (CIDR) answered; others get 403 (empty: all)"),
	UINT("RATE_LIMIT_PER_MINUTE", rate_per_minute, 0, RATELIMIT_MAX_PER_MINUTE, "0",
	     "requests a minute per client address, across all slots (0 = no limit)"),
	UINT("RATE_LIMIT_BURST", rate_burst, 1, RATELIMIT_MAX_BURST, "10",
	     "requests a client address may make at once before RATE_LIMIT_PER_MINUTE applies"),
	BOOL("METRICS_PUBLIC", metrics_public, "false",
	     "GET /metrics needs no token (expose the port to trusted scrapers only)"),
	BOOL("RUN_IMAGE_PULL", image_pull, "false",
	     "pull an allowed image Docker does not have, then run it"),
	UINT("RUN_IMAGE_PULL_TIMEOUT", pull_timeout, 1, CONFIG_MAX_PULL_SECONDS, "300",
	     "seconds one pull attempt may take"),
	UINT("RUN_IMAGE_PULL_RETRIES", pull_retries, 0, CONFIG_MAX_PULL_RETRIES, "2",
	     "pull attempts after a failed first one (not after Docker says the image does not exist)"),
	MOUNTS("DOCKER_CONTAINER_MOUNTS", mounts, "",
	       "bind mounts host:container[:ro|:rw] (read-only unless :rw and ..._ALLOW_RW)"),
	BOOL("DOCKER_CONTAINER_MOUNTS_ALLOW_RW", mounts_allow_rw, "false",
	     "allow writable bind mounts in DOCKER_CONTAINER_MOUNTS"),
	TEXT("DOCKER_CONTAINER_WORKDIR", CT_WORKDIR, workdir, "",
	     "working directory of the container's command (empty: the image's)"),
	LIST("DOCKER_CONTAINER_DNS", CT_IPS, dns, "", "DNS servers (IP addresses) of containers"),
	LIST("DOCKER_CONTAINER_DNS_SEARCH", CT_DOMAINS, dns_search, "",
	     "DNS search domains of containers"),
	TEXT("DOCKER_CONTAINER_NETWORK", CT_NETWORK, network, "",
	     "Docker network of containers (empty: none, or Docker's default when "
	     "DOCKER_CONTAINER_NETWORK_DISABLED=false)"),
	I64("DOCKER_CONTAINER_MEMORY_RESERVATION", memory_reservation, 0, "0",
	    "memory soft limit in bytes (0 = none)"),
	TEXT("DOCKER_CONTAINER_PLATFORM", CT_PLATFORM, platform, "",
	     "platform os/arch[/variant] of the image to run and pull (empty: the daemon's)"),
	PREPARE("RUN_PREPARE_<NAME>", prepare, "",
		"\"<image> <command>\": /bin/sh -c <command> runs in each container of <image> "
		"before its payload"),
};

_Static_assert(ARRAY_SIZE(vars) <= 64 * CONFIG_GIVEN_WORDS, "struct config's given mask");

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

__attribute__((format(printf, 3, 4))) static void errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (!err || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static bool is_ctl(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if (is_ctl((unsigned char)*s))
			return true;
	return false;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* A bad value as it may be quoted in a message: bounded, control chars as '?'. */
static const char *shown(char buf[SHOWN_MAX + 4], const char *s, size_t len)
{
	size_t i, n = len < SHOWN_MAX ? len : SHOWN_MAX;

	for (i = 0; i < n; i++)
		buf[i] = is_ctl((unsigned char)s[i]) ? '?' : s[i];
	if (len > n)
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

/* <NAME> of RUN_PREPARE_<NAME>: what a shell variable name may hold, bounded. */
static bool prepare_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= CONFIG_MAX_PREPARE_NAME)
		return false;
	for (i = 0; i < len; i++)
		if (!(is_digit(s[i]) || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return false;
	return true;
}

static const struct config_var *var_find(const char *key, size_t len)
{
	const size_t pl = sizeof(PREPARE_PREFIX) - 1;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++) {
		if (vars[i].type == CT_PREPARE) {
			if (len > pl && memcmp(key, PREPARE_PREFIX, pl) == 0 &&
			    prepare_name_ok(key + pl, len - pl))
				return &vars[i];
			continue;
		}
		if (strlen(vars[i].name) == len && memcmp(vars[i].name, key, len) == 0)
			return &vars[i];
	}
	return NULL;
}

static const char *field_name(size_t off)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++)
		if (vars[i].off == off)
			return vars[i].name;
	return "?";
}

/* A '-' where the range has no negatives is out of range, even "-0". */
static bool in_range(const struct config_var *v, bool neg, uint64_t mag)
{
	if (neg)
		return v->min < 0 && mag <= (uint64_t)(-(v->min + 1)) + 1;
	return mag <= v->max && (v->min <= 0 || mag >= (uint64_t)v->min);
}

static int set_int(const struct config_var *v, void *field, const char *s, char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4];
	const char *p = s;
	bool neg = *p == '-';
	uint64_t mag;

	if (neg)
		p++;
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p)) {
		errf(err, errsz, "%s: \"%s\" is not an integer", v->name, shown(q, s, strlen(s)));
		return -1;
	}
	errno = 0;
	mag = strtoull(p, NULL, 10);
	if (errno == ERANGE || !in_range(v, neg, mag)) {
		errf(err, errsz, "%s: \"%s\" is out of range %" PRId64 "-%" PRIu64, v->name,
		     shown(q, s, strlen(s)), v->min, v->max);
		return -1;
	}
	switch (v->type) {
	case CT_U16: *(uint16_t *)field = (uint16_t)mag; break;
	case CT_UINT: *(unsigned *)field = (unsigned)mag; break;
	case CT_U64: *(uint64_t *)field = mag; break;
	/* Written so that INT64_MIN's magnitude would not overflow either. */
	default: *(int64_t *)field = neg && mag ? -(int64_t)(mag - 1) - 1 : (int64_t)mag; break;
	}
	return 0;
}

static int set_bool(const struct config_var *v, bool *field, const char *s, char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4];

	if (strcmp(s, "true") == 0)
		*field = true;
	else if (strcmp(s, "false") == 0)
		*field = false;
	else {
		errf(err, errsz, "%s: \"%s\" is not true or false", v->name, shown(q, s, strlen(s)));
		return -1;
	}
	return 0;
}

/* Errors never quote the value: it may be the token, or unprintable. */
static int check_text(const struct config_var *v, const char *s, size_t size, char *err, size_t errsz)
{
	size_t len = strlen(s);

	if (len >= size) {
		errf(err, errsz, "%s: value is too long (%zu bytes, max %zu)", v->name, len, size - 1);
		return -1;
	}
	if (has_ctl(s)) {
		errf(err, errsz, "%s: value contains a control character", v->name);
		return -1;
	}
	return 0;
}

/* Empty is accepted here, so the environment can fill in the shipped file's empty value. */
static int check_token(const struct config_var *v, const char *s, char *err, size_t errsz)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~') {
			errf(err, errsz, "%s: value must be printable ASCII without spaces", v->name);
			return -1;
		}
	return 0;
}

static bool instance_ok(const char *s)
{
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-", *s))
			return false;
	return true;
}

/* What useradd accepts, give or take: nothing getpwnam could misread. */
static bool user_ok(const char *s)
{
	if (*s == '\0' || *s == '-')
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *s))
			return false;
	return true;
}

static bool cpath_ok(const char *s, size_t n);
static bool network_ok(const char *s);
static bool platform_ok(const char *s);
static bool ip_ok(const char *s, size_t n);
static bool domain_ok(const char *s, size_t n);

static int check_str_kind(const struct config_var *v, const char *s, char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4];

	if (v->type == CT_TOKEN)
		return check_token(v, s, err, errsz);
	if ((v->type == CT_SOCKET || v->type == CT_PATH || (v->type == CT_DIR && *s)) && *s != '/') {
		errf(err, errsz, "%s: \"%s\" is not an absolute path", v->name, shown(q, s, strlen(s)));
		return -1;
	}
	if (v->type == CT_USER && !user_ok(s)) {
		errf(err, errsz, "%s: \"%s\" is not a user name ([A-Za-z0-9._-], not starting with '-')",
		     v->name, shown(q, s, strlen(s)));
		return -1;
	}
	if (v->type == CT_IMAGE && *s && !imageref_valid(s)) {
		errf(err, errsz, "%s: \"%s\" is not a valid image reference", v->name,
		     shown(q, s, strlen(s)));
		return -1;
	}
	if (v->type == CT_WORKDIR && *s && !cpath_ok(s, strlen(s))) {
		errf(err, errsz, "%s: \"%s\" is not an absolute path without . or ..", v->name,
		     shown(q, s, strlen(s)));
		return -1;
	}
	if (v->type == CT_NETWORK && *s && !network_ok(s)) {
		errf(err, errsz, "%s: \"%s\" is not a network name ([A-Za-z0-9][A-Za-z0-9_.-]*)",
		     v->name, shown(q, s, strlen(s)));
		return -1;
	}
	if (v->type == CT_NETWORK && strcmp(s, "host") == 0) {
		errf(err, errsz, "%s: \"host\" would give untrusted code the host's network namespace "
		     "(its loopback services and abstract unix sockets): refused", v->name);
		return -1;
	}
	if (v->type == CT_PLATFORM && *s && !platform_ok(s)) {
		errf(err, errsz, "%s: \"%s\" is not os/arch[/variant] ([a-z0-9_.-])", v->name,
		     shown(q, s, strlen(s)));
		return -1;
	}
	if (v->type == CT_INSTANCE && !instance_ok(s)) {
		errf(err, errsz, "%s: \"%s\" may only contain A-Z a-z 0-9 _ . : -", v->name,
		     shown(q, s, strlen(s)));
		return -1;
	}
	return 0;
}

static int set_text(const struct config_var *v, char *field, const char *s, char *err, size_t errsz)
{
	if (check_text(v, s, v->size, err, errsz) < 0 || check_str_kind(v, s, err, errsz) < 0)
		return -1;
	memset(field, 0, v->size);
	memcpy(field, s, strlen(s));
	return 0;
}

static int set_addr(const struct config_var *v, struct config *c, const char *s, char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4];
	struct in_addr in = {0};
	struct in6_addr in6 = IN6ADDR_ANY_INIT;
	int family = AF_INET;

	/* docker-run's is dotted IPv4; an IPv6 one (no brackets, no zone) is runboxd's. */
	if (strlen(s) < v->size && inet_pton(AF_INET, s, &in) != 1) {
		family = AF_INET6;
		if (inet_pton(AF_INET6, s, &in6) != 1)
			family = 0;
	}
	if (strlen(s) >= v->size || family == 0) {
		errf(err, errsz, "%s: \"%s\" is not an IPv4 or IPv6 address", v->name, shown(q, s, strlen(s)));
		return -1;
	}
	memset(c->listen_addr, 0, sizeof c->listen_addr);
	memcpy(c->listen_addr, s, strlen(s));
	c->listen_family = family;
	c->listen_in = in;
	c->listen_in6 = in6;
	return 0;
}

/* Docker takes "NET_RAW" or "CAP_NET_RAW"; "ALL" is just another name. */
static bool cap_name_ok(const char *s, size_t n)
{
	size_t i = n >= 4 && memcmp(s, "CAP_", 4) == 0 ? 4 : 0;

	if (i == n)
		return false;
	for (; i < n; i++)
		if (!(is_digit(s[i]) || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
			return false;
	return true;
}

/*
 * Walk a space-separated value: each item (at most CONFIG_MAX_STR - 1
 * bytes, at most max of them) goes to take() with its index.
 */
static int list_walk(const struct config_var *v, const char *s, unsigned max,
		     int (*take)(const struct config_var *v, void *to, unsigned i, const char *item, size_t n,
				 char *err, size_t errsz),
		     void *to, char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4];
	unsigned i = 0;
	size_t n;

	if (has_ctl(s)) {
		errf(err, errsz, "%s: value contains a control character (separate items with spaces)",
		     v->name);
		return -1;
	}
	for (;; s += n) {
		s += strspn(s, " ");
		if (*s == '\0')
			return 0;
		n = strcspn(s, " ");
		if (i == max) {
			errf(err, errsz, "%s: more than %u items", v->name, max);
			return -1;
		}
		if (n >= CONFIG_MAX_STR) {
			errf(err, errsz, "%s: item \"%s\" is too long (%zu bytes, max %d)", v->name,
			     shown(q, s, n), n, CONFIG_MAX_STR - 1);
			return -1;
		}
		if (take(v, to, i++, s, n, err, errsz) < 0)
			return -1;
	}
}

/* One item of a list variable, checked by the variable's type. */
static int list_take(const struct config_var *v, void *to, unsigned i, const char *s, size_t n,
		     char *err, size_t errsz)
{
	struct config_list *l = to;
	char q[SHOWN_MAX + 4];

	if (v->type == CT_CAPS && !cap_name_ok(s, n)) {
		errf(err, errsz, "%s: \"%s\" is not a capability name ([CAP_]A-Z0-9_)", v->name,
		     shown(q, s, n));
		return -1;
	}
	memcpy(l->item[i], s, n);
	if (v->type == CT_IMAGES && !imageref_valid(l->item[i])) {
		errf(err, errsz, "%s: \"%s\" is not a valid image reference", v->name, shown(q, s, n));
		return -1;
	}
	if (v->type == CT_PATTERNS && !imageref_pattern_valid(l->item[i])) {
		errf(err, errsz, "%s: \"%s\" is neither an image reference nor a pattern like namespace/*",
		     v->name, shown(q, s, n));
		return -1;
	}
	if (v->type == CT_IPS && !ip_ok(s, n)) {
		errf(err, errsz, "%s: \"%s\" is not an IPv4 or IPv6 address", v->name, shown(q, s, n));
		return -1;
	}
	if (v->type == CT_DOMAINS && !domain_ok(s, n)) {
		errf(err, errsz, "%s: \"%s\" is not a domain name", v->name, shown(q, s, n));
		return -1;
	}
	l->n = i + 1;
	return 0;
}

static int set_list(const struct config_var *v, struct config_list *field, const char *s, char *err,
		    size_t errsz)
{
	struct config_list l;

	memset(&l, 0, sizeof l);
	if (list_walk(v, s, CONFIG_MAX_LIST, list_take, &l, err, errsz) < 0)
		return -1;
	*field = l;
	return 0;
}

static int set_level(const struct config_var *v, enum log_level *field, const char *s, char *err,
		     size_t errsz)
{
	char q[SHOWN_MAX + 4];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*field = (enum log_level)i;
			return 0;
		}
	errf(err, errsz, "%s: \"%s\" is not error, warn, info or debug", v->name, shown(q, s, strlen(s)));
	return -1;
}

/* "2", "0.5", "1.25": digits, then optionally '.' and 1-9 digits. */
static int set_cpus(const struct config_var *v, int64_t *field, const char *s, char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4];
	size_t ilen = strspn(s, "0123456789"), flen = 0;
	uint64_t whole, frac = 0;

	if (s[ilen] == '.')
		flen = strspn(s + ilen + 1, "0123456789");
	if (ilen == 0 || (s[ilen] == '.' && flen == 0) || s[ilen + (s[ilen] == '.') + flen] != '\0') {
		errf(err, errsz, "%s: \"%s\" is not a decimal number of CPUs", v->name,
		     shown(q, s, strlen(s)));
		return -1;
	}
	if (flen > CPUS_MAX_DECIMALS) {
		errf(err, errsz, "%s: \"%s\" has more than %d decimals", v->name, shown(q, s, strlen(s)),
		     CPUS_MAX_DECIMALS);
		return -1;
	}
	for (size_t i = 0; i < CPUS_MAX_DECIMALS; i++)
		frac = frac * 10 + (i < flen ? (uint64_t)(s[ilen + 1 + i] - '0') : 0);
	errno = 0;
	whole = strtoull(s, NULL, 10);
	if (errno == ERANGE || whole > (uint64_t)(INT64_MAX - (int64_t)frac) / NANO_PER_CPU) {
		errf(err, errsz, "%s: \"%s\" is too large", v->name, shown(q, s, strlen(s)));
		return -1;
	}
	*field = (int64_t)whole * NANO_PER_CPU + (int64_t)frac;
	return 0;
}

/* Absolute, and no "." or ".." component that Docker would resolve against us. */
static bool cpath_ok(const char *s, size_t n)
{
	size_t i = 0, seg;

	if (n == 0 || s[0] != '/')
		return false;
	while (i < n) {
		i++; /* the '/' */
		seg = i;
		while (i < n && s[i] != '/')
			i++;
		if ((i - seg == 1 && s[seg] == '.') || (i - seg == 2 && s[seg] == '.' && s[seg + 1] == '.'))
			return false;
	}
	return true;
}

/* One host:container[:ro|:rw] entry of n bytes (no spaces, no control characters). */
static int mount_parse(const struct config_var *v, const char *s, size_t n, struct config_mount *m,
		       char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4];
	const char *c1 = memchr(s, ':', n), *c2 = NULL;
	size_t hl, tl;

	if (c1)
		c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - s));
	hl = c1 ? (size_t)(c1 - s) : n;
	tl = c1 ? (c2 ? (size_t)(c2 - c1 - 1) : n - hl - 1) : 0;
	if (!c1 || (c2 && memchr(c2 + 1, ':', n - (size_t)(c2 + 1 - s)))) {
		errf(err, errsz, "%s: \"%s\" is not host:container[:ro|:rw]", v->name, shown(q, s, n));
		return -1;
	}
	if (c2 && !(n - (size_t)(c2 + 1 - s) == 2 && (memcmp(c2 + 1, "ro", 2) == 0 ||
						       memcmp(c2 + 1, "rw", 2) == 0))) {
		errf(err, errsz, "%s: \"%s\": the mode must be ro or rw", v->name, shown(q, s, n));
		return -1;
	}
	if (!cpath_ok(s, hl) || !cpath_ok(c1 + 1, tl) || (tl == 1)) {
		errf(err, errsz,
		     "%s: \"%s\": both paths must be absolute, without . or .. (and not the container's /)",
		     v->name, shown(q, s, n));
		return -1;
	}
	memset(m, 0, sizeof *m);
	memcpy(m->host, s, hl);
	memcpy(m->target, c1 + 1, tl);
	m->rw = !c2 || c2[2] == 'w'; /* Docker's default, refused by config_finish unless allowed */
	return 0;
}

/* One bind mount of DOCKER_CONTAINER_MOUNTS; no target twice. */
static int mount_take(const struct config_var *v, void *to, unsigned i, const char *s, size_t n, char *err,
		      size_t errsz)
{
	struct config_mounts *l = to;

	if (mount_parse(v, s, n, &l->item[i], err, errsz) < 0)
		return -1;
	for (unsigned j = 0; j < i; j++)
		if (strcmp(l->item[j].target, l->item[i].target) == 0) {
			errf(err, errsz, "%s: %s is mounted twice", v->name, l->item[j].target);
			return -1;
		}
	l->n = i + 1;
	return 0;
}

static int set_mounts(const struct config_var *v, struct config_mounts *field, const char *s,
		      char *err, size_t errsz)
{
	struct config_mounts l;

	memset(&l, 0, sizeof l);
	if (list_walk(v, s, CONFIG_MAX_MOUNTS, mount_take, &l, err, errsz) < 0)
		return -1;
	*field = l;
	return 0;
}

/* RFC 1123 host names: labels of 1-63 [A-Za-z0-9-], no '-' at either end, 253 bytes. */
static bool domain_ok(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      s[i] == '-') ||
		    (label == 0 && s[i] == '-') || ++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

static bool ip_ok(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[sizeof(struct in6_addr)];

	if (n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* Docker's network names; "host" would share the host's network namespace (below). */
static bool network_ok(const char *s)
{
	if (!(is_digit(*s) || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s))
			return false;
	return true;
}

/* os/arch[/variant], each part [a-z0-9_.-]+. */
static bool platform_ok(const char *s)
{
	unsigned parts = 0;
	size_t n;

	for (;;) {
		n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-");
		if (n == 0)
			return false;
		parts++;
		s += n;
		if (*s == '\0')
			return parts >= 2 && parts <= 3;
		if (*s++ != '/')
			return false;
	}
}

/*
 * RUN_PREPARE_<NAME>=<image> <command>: the name comes from the key; an
 * empty value removes what an earlier source (the file) set for it.
 */
static int set_prepare(const struct config_var *v, struct config_prepare *p, const char *key,
		       const char *s, char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4], image[DOCKER_MAX_IMAGE_REF + 2];
	const char *name = key + sizeof(PREPARE_PREFIX) - 1;
	size_t nl = strcspn(name, "="), il, i;
	const char *cmd;

	(void)v;
	for (i = 0; i < p->n; i++)
		if (strlen(p->item[i].name) == nl && memcmp(p->item[i].name, name, nl) == 0)
			break;
	s += strspn(s, " ");
	if (*s == '\0') {
		if (i < p->n) {
			memmove(&p->item[i], &p->item[i + 1], (p->n - i - 1) * sizeof p->item[0]);
			memset(&p->item[--p->n], 0, sizeof p->item[0]);
		}
		return 0;
	}
	il = strcspn(s, " ");
	cmd = s + il + strspn(s + il, " ");
	if (has_ctl(s)) {
		errf(err, errsz, PREPARE_PREFIX "%.*s: value contains a control character", (int)nl, name);
		return -1;
	}
	if (il <= DOCKER_MAX_IMAGE_REF) {
		memcpy(image, s, il);
		image[il] = '\0';
	}
	if (il > DOCKER_MAX_IMAGE_REF || !imageref_valid(image)) {
		errf(err, errsz, PREPARE_PREFIX "%.*s: \"%s\" is not an image reference", (int)nl, name,
		     shown(q, s, il));
		return -1;
	}
	if (*cmd == '\0' || strlen(cmd) >= CONFIG_MAX_COMMAND) {
		errf(err, errsz, PREPARE_PREFIX "%.*s: expected \"<image> <command>\", the command "
		     "1-%d bytes", (int)nl, name, CONFIG_MAX_COMMAND - 1);
		return -1;
	}
	for (size_t k = 0; k < p->n; k++)
		if (k != i && strcmp(p->item[k].image, image) == 0) {
			errf(err, errsz, PREPARE_PREFIX "%.*s: %s already has a prepare command ("
			     PREPARE_PREFIX "%s)", (int)nl, name, image, p->item[k].name);
			return -1;
		}
	if (i == p->n) {
		if (p->n == CONFIG_MAX_PREPARE) {
			errf(err, errsz, PREPARE_PREFIX "%.*s: more than %d " PREPARE_PREFIX "<NAME> variables",
			     (int)nl, name, CONFIG_MAX_PREPARE);
			return -1;
		}
		p->n++;
	}
	memset(&p->item[i], 0, sizeof p->item[i]);
	memcpy(p->item[i].name, name, nl);
	memcpy(p->item[i].image, image, il);
	memcpy(p->item[i].command, cmd, strlen(cmd));
	return 0;
}

const char *config_prepare_find(const struct config *c, const char *image)
{
	for (unsigned i = 0; i < c->prepare.n && i < CONFIG_MAX_PREPARE; i++)
		if (strcmp(c->prepare.item[i].image, image) == 0)
			return c->prepare.item[i].command;
	return NULL;
}

/* Parse value into v's field; on error the field is left as it was.  key: as given (RUN_PREPARE_<NAME>). */
static int var_parse(struct config *c, const struct config_var *v, const char *key, const char *s,
		     char *err, size_t errsz)
{
	void *field = (char *)c + v->off;

	switch (v->type) {
	case CT_ADDR: return set_addr(v, c, s, err, errsz);
	case CT_U16:
	case CT_UINT:
	case CT_U64:
	case CT_I64: return set_int(v, field, s, err, errsz);
	case CT_BOOL: return set_bool(v, field, s, err, errsz);
	case CT_CAPS:
	case CT_IMAGES:
	case CT_PATTERNS:
	case CT_IPS:
	case CT_DOMAINS: return set_list(v, field, s, err, errsz);
	case CT_CIDRS: return netacl_parse(field, s, v->name, err, errsz);
	case CT_LOGLEVEL: return set_level(v, field, s, err, errsz);
	case CT_CPUS: return set_cpus(v, field, s, err, errsz);
	case CT_MOUNTS: return set_mounts(v, field, s, err, errsz);
	case CT_PREPARE: return set_prepare(v, field, key, s, err, errsz);
	default: return set_text(v, field, s, err, errsz);
	}
}

static bool var_given(const struct config *c, size_t i)
{
	return (c->given[i / 64] >> (i % 64)) & 1;
}

static int var_set(struct config *c, const struct config_var *v, const char *key, const char *s,
		   char *err, size_t errsz)
{
	size_t i = (size_t)(v - vars);

	if (var_parse(c, v, key, s, err, errsz) < 0)
		return -1;
	c->given[i / 64] |= UINT64_C(1) << (i % 64);
	return 0;
}

void config_defaults(struct config *c)
{
	size_t i;

	/* Zeroed first, padding and string tails too, so configs compare with memcmp. */
	memset(c, 0, sizeof *c);
	for (i = 0; i < ARRAY_SIZE(vars); i++)
		if (vars[i].def && vars[i].type != CT_PREPARE)
			(void)var_parse(c, &vars[i], vars[i].name, vars[i].def, NULL, 0);
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errsz)
{
	char q[SHOWN_MAX + 4];
	const struct config_var *v = var_find(key, strlen(key));

	if (!v) {
		errf(err, errsz, "%s: not a runboxd variable", shown(q, key, strlen(key)));
		return 1;
	}
	return var_set(c, v, key, value, err, errsz);
}

enum line_status { LINE_OK, LINE_EOF, LINE_LONG, LINE_NUL };

/* One line into buf (size CONFIG_MAX_LINE + 2, room for a '\r'), without its newline. */
static enum line_status line_read(FILE *f, char *buf, size_t size)
{
	size_t n = 0;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			return LINE_NUL;
		if (n + 1 >= size)
			return LINE_LONG;
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	if (ch == EOF && n == 0)
		return LINE_EOF;
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return n > CONFIG_MAX_LINE ? LINE_LONG : LINE_OK;
}

static char *trim(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* systemd's EnvironmentFile drops one pair of matching outer quotes. */
static char *unquote(char *s)
{
	size_t len = strlen(s);

	if (len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0]) {
		s[len - 1] = '\0';
		s++;
	}
	return s;
}

static int line_parse(struct config *c, char *line, char *err, size_t errsz)
{
	char *key = trim(line), *eq;

	if (*key == '\0' || *key == '#')
		return 0;
	eq = strchr(key, '=');
	if (!eq) {
		errf(err, errsz, "missing '=' (expected KEY=VALUE)");
		return -1;
	}
	*eq = '\0';
	key = trim(key);
	if (*key == '\0') {
		errf(err, errsz, "missing variable name before '='");
		return -1;
	}
	return config_set(c, key, unquote(trim(eq + 1)), err, errsz) == 0 ? 0 : -1;
}

/*
 * The file holds the token, and so do stdio's buffer and line[]: both are
 * ours and wiped before returning.  A buffer stdio allocated itself would
 * go back to the heap unwiped, and every process forked later would
 * inherit the token there.
 */
int config_load_file(struct config *c, const char *path, char *err, size_t errsz)
{
	char line[CONFIG_MAX_LINE + 2], why[512], iobuf[BUFSIZ];
	unsigned lineno = 0;
	enum line_status st;
	int rc = -1;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		errf(err, errsz, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	/* Before any read, so stdio never allocates a buffer of its own. */
	if (setvbuf(f, iobuf, _IOFBF, sizeof iobuf) != 0) {
		errf(err, errsz, "%s: setvbuf failed", path);
		goto out;
	}
	while ((st = line_read(f, line, sizeof line)) != LINE_EOF) {
		lineno++;
		if (st == LINE_LONG) {
			errf(err, errsz, "%s:%u: line longer than %d bytes", path, lineno, CONFIG_MAX_LINE);
			goto out;
		}
		if (st == LINE_NUL) {
			errf(err, errsz, "%s:%u: line contains a NUL byte", path, lineno);
			goto out;
		}
		if (line_parse(c, line, why, sizeof why) < 0) {
			errf(err, errsz, "%s:%u: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(f)) {
		errf(err, errsz, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	explicit_bzero(iobuf, sizeof iobuf);
	explicit_bzero(line, sizeof line);
	explicit_bzero(why, sizeof why);
	return rc;
}

int config_load_env(struct config *c, char *const envp[], char *err, size_t errsz)
{
	const struct config_var *v;
	const char *eq;

	for (; envp && *envp; envp++) {
		eq = strchr(*envp, '=');
		if (!eq || !(v = var_find(*envp, (size_t)(eq - *envp))))
			continue;
		if (var_set(c, v, *envp, eq + 1, err, errsz) < 0)
			return -1;
	}
	return 0;
}

static int check_le(const struct config *c, size_t lo_off, size_t hi_off, char *err, size_t errsz)
{
	int64_t lo, hi;

	memcpy(&lo, (const char *)c + lo_off, sizeof lo);
	memcpy(&hi, (const char *)c + hi_off, sizeof hi);
	if (lo <= hi)
		return 0;
	errf(err, errsz, "%s: %" PRId64 " is greater than %s (%" PRId64 ")", field_name(lo_off), lo,
	     field_name(hi_off), hi);
	return -1;
}

/* Docker refuses these at container create; say so at start instead. */
static int check_swap(const struct config *c, char *err, size_t errsz)
{
	const char *swap = field_name(offsetof(struct config, memory_swap));
	const char *mem = field_name(offsetof(struct config, memory));

	if (c->memory_swap <= 0)
		return 0;
	if (c->memory == 0) {
		errf(err, errsz, "%s: %" PRId64 " needs %s to be set", swap, c->memory_swap, mem);
		return -1;
	}
	if (c->memory_swap < c->memory) {
		errf(err, errsz, "%s: %" PRId64 " is less than %s (%" PRId64 ")", swap, c->memory_swap,
		     mem, c->memory);
		return -1;
	}
	return 0;
}

/*
 * An install nobody configured must not serve with a token anyone can
 * guess: the shipped file's empty value, a placeholder ("change-me..."),
 * or anything short.  The message never quotes the value.
 */
static int check_token_secret(const struct config *c, char *err, size_t errsz)
{
	const char *name = field_name(offsetof(struct config, access_token));
	size_t len = strlen(c->access_token);

	if (len == 0)
		errf(err, errsz, "%s: value is empty: set a random secret, e.g. `openssl rand -hex 32`",
		     name);
	else if (strcasestr(c->access_token, "change-me"))
		errf(err, errsz, "%s: value is a placeholder (contains \"change-me\"): set a random secret",
		     name);
	else if (len < CONFIG_MIN_TOKEN)
		errf(err, errsz, "%s: value is too short (%zu bytes, min %d)", name, len, CONFIG_MIN_TOKEN);
	else
		return 0;
	return -1;
}

/*
 * An image the server picks by itself must be one clients could ask for:
 * a default outside RUN_IMAGE_ALLOWLIST would be refused on every request,
 * and a warm container of such an image would only take memory.
 */
static int check_image_allowed(const struct config *c, const char *name, const char *image,
			       char *err, size_t errsz)
{
	if (image[0] == '\0' || imageref_list_allows(c->image_allow.item, c->image_allow.n, image))
		return 0;
	errf(err, errsz, "%s: \"%s\" is not in RUN_IMAGE_ALLOWLIST", name, image);
	return -1;
}

static int check_warm_allowed(const struct config *c, char *err, size_t errsz)
{
	for (unsigned i = 0; i < c->warm_images.n; i++)
		if (check_image_allowed(c, field_name(offsetof(struct config, warm_images)),
					c->warm_images.item[i], err, errsz) < 0)
			return -1;
	return 0;
}

/* Options that weaken isolation, or that Docker would refuse at every create. */
static int check_container_options(const struct config *c, char *err, size_t errsz)
{
	const char *net = field_name(offsetof(struct config, network));
	const char *res = field_name(offsetof(struct config, memory_reservation));
	unsigned i;

	for (i = 0; i < c->mounts.n; i++)
		if (c->mounts.item[i].rw && !c->mounts_allow_rw) {
			errf(err, errsz, "%s: %s:%s is writable (add :ro, or set %s=true)",
			     field_name(offsetof(struct config, mounts)), c->mounts.item[i].host,
			     c->mounts.item[i].target, field_name(offsetof(struct config, mounts_allow_rw)));
			return -1;
		}
	if (c->network_disabled && c->network[0] != '\0' && strcmp(c->network, "none") != 0) {
		errf(err, errsz, "%s: \"%s\" needs %s=false", net, c->network,
		     field_name(offsetof(struct config, network_disabled)));
		return -1;
	}
	/* Measured (Docker 20.10): NetworkDisabled leaves the container no /etc/resolv.conf at all. */
	if (c->network_disabled && (c->dns.n > 0 || c->dns_search.n > 0)) {
		errf(err, errsz, "%s: Docker writes no /etc/resolv.conf while %s=true; set it to false "
		     "(with %s=none the container still has no network)",
		     field_name(c->dns.n > 0 ? offsetof(struct config, dns) : offsetof(struct config, dns_search)),
		     field_name(offsetof(struct config, network_disabled)), net);
		return -1;
	}
	if (c->memory > 0 && c->memory_reservation > c->memory) {
		errf(err, errsz, "%s: %" PRId64 " is greater than %s (%" PRId64 ")", res,
		     c->memory_reservation, field_name(offsetof(struct config, memory)), c->memory);
		return -1;
	}
	return 0;
}

int config_finish(struct config *c, char *err, size_t errsz)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++)
		if (!vars[i].def && !var_given(c, i)) {
			errf(err, errsz, "%s: required but not set", vars[i].name);
			return -1;
		}
	if (check_le(c, offsetof(struct config, nofile_soft), offsetof(struct config, nofile_hard), err,
		     errsz) < 0 ||
	    check_le(c, offsetof(struct config, nproc_soft), offsetof(struct config, nproc_hard), err,
		     errsz) < 0 ||
	    check_swap(c, err, errsz) < 0 || check_token_secret(c, err, errsz) < 0 ||
	    check_image_allowed(c, "EXECUTE_DEFAULT_IMAGE", c->execute_default_image, err, errsz) < 0 ||
	    check_image_allowed(c, "COMPILE_IMAGE", c->compile_image, err, errsz) < 0 ||
	    check_warm_allowed(c, err, errsz) < 0 ||
	    check_container_options(c, err, errsz) < 0)
		return -1;
	if (c->instance[0] == '\0')
		snprintf(c->instance, sizeof c->instance, "%s:%u", c->listen_addr, c->listen_port);
	return 0;
}

int config_load(struct config *c, const char *file, char *const envp[], char *err, size_t errsz)
{
	config_defaults(c);
	if (file && config_load_file(c, file, err, errsz) < 0)
		return -1;
	if (config_load_env(c, envp, err, errsz) < 0)
		return -1;
	return config_finish(c, err, errsz);
}

/*
 * Wrapped in double quotes when the file loader would otherwise change it
 * (outer blanks, outer matching quotes), so printed output loads back as is.
 */
static void print_text(const char *s, FILE *out)
{
	size_t len = strlen(s);
	bool quote = len > 0 && (strchr(" \t", s[0]) || strchr(" \t", s[len - 1]) ||
				 (len >= 2 && strchr("\"'", s[0]) && s[len - 1] == s[0]));

	fprintf(out, quote ? "\"%s\"" : "%s", s);
}

static void print_list(const struct config_list *l, FILE *out)
{
	unsigned i;

	for (i = 0; i < l->n; i++)
		fprintf(out, "%s%s", i ? " " : "", l->item[i]);
}

static void print_cidrs(const struct netacl *acl, FILE *out)
{
	char text[NETACL_MAX_TEXT];

	if (netacl_format(acl, text, sizeof(text)) >= 0)
		fputs(text, out);
}

static void print_cpus(int64_t nano, FILE *out)
{
	char frac[24]; /* room for any uint64_t: the compiler cannot see nano >= 0 */
	size_t n;

	fprintf(out, "%" PRId64, nano / NANO_PER_CPU);
	if (nano % NANO_PER_CPU == 0)
		return;
	snprintf(frac, sizeof frac, "%09" PRIu64, (uint64_t)(nano % NANO_PER_CPU));
	for (n = strlen(frac); frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	fprintf(out, ".%s", frac);
}

static void print_mounts(const struct config_mounts *m, FILE *out)
{
	unsigned i;

	for (i = 0; i < m->n; i++)
		fprintf(out, "%s%s:%s:%s", i ? " " : "", m->item[i].host, m->item[i].target,
			m->item[i].rw ? "rw" : "ro");
}

static void print_value(const struct config *c, const struct config_var *v, FILE *out)
{
	const void *field = (const char *)c + v->off;

	switch (v->type) {
	case CT_U16: fprintf(out, "%u", (unsigned)*(const uint16_t *)field); break;
	case CT_UINT: fprintf(out, "%u", *(const unsigned *)field); break;
	case CT_U64: fprintf(out, "%" PRIu64, *(const uint64_t *)field); break;
	case CT_I64: fprintf(out, "%" PRId64, *(const int64_t *)field); break;
	case CT_BOOL: fputs(*(const bool *)field ? "true" : "false", out); break;
	/* A fixed mask: not even the token's length shows. */
	case CT_TOKEN: fputs("********", out); break;
	case CT_CAPS:
	case CT_IMAGES:
	case CT_PATTERNS:
	case CT_IPS:
	case CT_DOMAINS: print_list(field, out); break;
	case CT_CIDRS: print_cidrs(field, out); break;
	case CT_MOUNTS: print_mounts(field, out); break;
	case CT_LOGLEVEL: fputs(level_names[*(const enum log_level *)field], out); break;
	case CT_CPUS: print_cpus(*(const int64_t *)field, out); break;
	default: print_text(field, out); break;
	}
}

void config_print(const struct config *c, FILE *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++) {
		if (vars[i].type == CT_PREPARE) {
			for (unsigned k = 0; k < c->prepare.n; k++) {
				char line[DOCKER_MAX_IMAGE_REF + CONFIG_MAX_COMMAND + 2];

				fprintf(out, PREPARE_PREFIX "%s=", c->prepare.item[k].name);
				snprintf(line, sizeof line, "%s %s", c->prepare.item[k].image,
					 c->prepare.item[k].command);
				print_text(line, out);
				fputc('\n', out);
			}
			continue;
		}
		fprintf(out, "%s=", vars[i].name);
		print_value(c, &vars[i], out);
		fputc('\n', out);
	}
}

static const char *type_text(const struct config_var *v)
{
	switch (v->type) {
	case CT_ADDR: return "IPv4 or IPv6 address";
	case CT_BOOL: return "true|false";
	case CT_TOKEN: return "printable ASCII, no spaces";
	case CT_SOCKET:
	case CT_PATH: return "absolute path";
	case CT_USER: return "user name";
	case CT_DIR: return "absolute path or empty";
	case CT_CAPS: return "space-separated capabilities";
	case CT_IMAGES: return "space-separated image references";
	case CT_PATTERNS: return "space-separated image references or namespace/*";
	case CT_CIDRS: return "space- or comma-separated IPv4/IPv6 addresses or CIDRs";
	case CT_LOGLEVEL: return "error|warn|info|debug";
	case CT_CPUS: return "decimal CPUs";
	case CT_INSTANCE: return "name [A-Za-z0-9_.:-]";
	case CT_IMAGE: return "image reference or empty";
	case CT_MOUNTS: return "space-separated host:container[:ro|:rw]";
	case CT_WORKDIR: return "absolute path or empty";
	case CT_IPS: return "space-separated IP addresses";
	case CT_DOMAINS: return "space-separated domain names";
	case CT_NETWORK: return "network name or empty";
	case CT_PLATFORM: return "os/arch[/variant] or empty";
	case CT_PREPARE: return "image, space, shell command";
	case CT_STR: return "string";
	default: return "integer";
	}
}

void config_usage(FILE *out)
{
	size_t i;
	const struct config_var *v;

	for (i = 0; i < ARRAY_SIZE(vars); i++) {
		v = &vars[i];
		fprintf(out, "%s: %s [%s", v->name, v->doc, type_text(v));
		if (v->type == CT_U16 || v->type == CT_UINT || v->type == CT_U64 || v->type == CT_I64)
			fprintf(out, " %" PRId64 "-%" PRIu64, v->min, v->max);
		if (v->def)
			fprintf(out, "; default \"%s\"]\n", v->def);
		else
			fputs("; required]\n", out);
	}
}

void config_forget_token(struct config *c)
{
	explicit_bzero(c->access_token, sizeof c->access_token);
}
