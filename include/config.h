/*
 * Configuration: docker-run's environment variables (same names, types and
 * defaults) plus runboxd's own.  Parsed strictly; every error names the
 * variable and what is wrong with its value.  Never prints, never exits.
 */
#ifndef RUNBOXD_CONFIG_H
#define RUNBOXD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>
#include <sys/types.h>

#include "bounds.h"
#include "netacl.h"

/*
 * Who a role runs as.  change is false when runboxd was not started as
 * root: ids cannot change then, and the rest of the sandbox still applies.
 */
struct sandbox_ids {
	bool change;
	uid_t uid;
	gid_t gid;
	unsigned ngroups;
	gid_t groups[SANDBOX_MAX_GROUPS];
};

#define CONFIG_EXIT_BAD 78 /* EX_CONFIG: bad or missing configuration */

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

struct config_list {
	unsigned n;
	char item[CONFIG_MAX_LIST][CONFIG_MAX_STR];
};

/* DOCKER_CONTAINER_MOUNTS: read-only unless DOCKER_CONTAINER_MOUNTS_ALLOW_RW. */
struct config_mount {
	char host[CONFIG_MAX_STR];
	char target[CONFIG_MAX_STR];
	bool rw;
};

struct config_mounts {
	unsigned n;
	struct config_mount item[CONFIG_MAX_MOUNTS];
};

/*
 * RUN_PREPARE_<NAME>="<image> <command>": the command runs with /bin/sh -c
 * in every container of that image before its payload (docker exec).
 */
struct config_prepare {
	unsigned n;
	struct {
		char name[CONFIG_MAX_PREPARE_NAME]; /* <NAME> */
		char image[DOCKER_MAX_IMAGE_REF + 1];
		char command[CONFIG_MAX_COMMAND];
	} item[CONFIG_MAX_PREPARE];
};

struct config {
	/* docker-run, required */
	char listen_addr[64];          /* SERVER_LISTEN_ADDR, IPv4 (dotted) or IPv6 */
	int listen_family;             /* AF_INET or AF_INET6 */
	struct in_addr listen_in;      /* parsed listen_addr, AF_INET */
	struct in6_addr listen_in6;    /* parsed listen_addr, AF_INET6 */
	uint16_t listen_port;          /* SERVER_LISTEN_PORT 1-65535 */
	unsigned worker_threads;       /* SERVER_WORKER_THREADS 1..CONFIG_MAX_WORKERS */
	char access_token[CONFIG_MAX_TOKEN]; /* API_ACCESS_TOKEN, non-empty */
	char docker_socket[CONFIG_MAX_PATH]; /* DOCKER_UNIX_SOCKET_PATH */
	unsigned docker_read_timeout;  /* DOCKER_UNIX_SOCKET_READ_TIMEOUT, seconds >= 1 */
	unsigned docker_write_timeout; /* DOCKER_UNIX_SOCKET_WRITE_TIMEOUT, seconds >= 1 */
	char hostname[CONFIG_MAX_STR]; /* DOCKER_CONTAINER_HOSTNAME */
	char user[CONFIG_MAX_STR];     /* DOCKER_CONTAINER_USER */
	int64_t memory;                /* DOCKER_CONTAINER_MEMORY, bytes >= 0 */
	bool network_disabled;         /* DOCKER_CONTAINER_NETWORK_DISABLED */
	int64_t nofile_soft, nofile_hard; /* DOCKER_CONTAINER_ULIMIT_NOFILE_{SOFT,HARD} */
	int64_t nproc_soft, nproc_hard;   /* DOCKER_CONTAINER_ULIMIT_NPROC_{SOFT,HARD} */
	struct config_list cap_drop;   /* DOCKER_CONTAINER_CAP_DROP */
	unsigned run_max_time;         /* RUN_MAX_EXECUTION_TIME, seconds >= 1 */
	uint64_t run_max_output;       /* RUN_MAX_OUTPUT_SIZE, bytes 1..CONFIG_MAX_OUTPUT */

	/* docker-run, optional */
	struct config_list cap_add;    /* DOCKER_CONTAINER_CAP_ADD (default empty) */
	bool readonly_rootfs;          /* DOCKER_CONTAINER_READONLY_ROOTFS (false) */
	char tmp_dir_path[CONFIG_MAX_STR];     /* DOCKER_CONTAINER_TMP_DIR_PATH ("" = none) */
	char tmp_dir_options[CONFIG_MAX_STR];  /* DOCKER_CONTAINER_TMP_DIR_OPTIONS (rw,noexec,nosuid,size=65536k) */
	char work_dir_path[CONFIG_MAX_STR];    /* DOCKER_CONTAINER_WORK_DIR_PATH ("" = none) */
	char work_dir_options[CONFIG_MAX_STR]; /* DOCKER_CONTAINER_WORK_DIR_OPTIONS (rw,exec,nosuid,size=131072k) */
	bool debug_keep_container;     /* DEBUG_KEEP_CONTAINER (false) */

	/* runboxd */
	uint64_t max_request_bytes;    /* SERVER_MAX_REQUEST_BYTES (DEFAULT_REQUEST_MAX_BODY), 1..MAX_REQUEST_BODY_LIMIT */
	unsigned request_timeout;      /* SERVER_REQUEST_TIMEOUT seconds (DEFAULT_REQUEST_TIMEOUT_SEC), >= 1 */
	unsigned max_waiting;          /* SERVER_MAX_WAITING (DEFAULT_MAX_WAITING), 1..READER_MAX_WAITING */
	unsigned shutdown_timeout;     /* SERVER_SHUTDOWN_TIMEOUT seconds (MASTER_DRAIN_TIMEOUT_SEC) */
	enum log_level log_level;      /* LOG_LEVEL error|warn|info|debug (info) */
	char instance[CONFIG_MAX_STR]; /* RUNBOXD_INSTANCE label value ("" -> "<addr>:<port>") */
	int64_t pids_limit;            /* DOCKER_CONTAINER_PIDS_LIMIT (256; 0 = no limit) */
	int64_t memory_swap;           /* DOCKER_CONTAINER_MEMORY_SWAP bytes (0 = same as memory: no swap; -1 = unlimited) */
	bool no_new_privileges;        /* DOCKER_CONTAINER_NO_NEW_PRIVILEGES (true) */
	bool init;                     /* DOCKER_CONTAINER_INIT (false): docker-init as PID 1 */
	char log_driver[CONFIG_MAX_STR]; /* DOCKER_CONTAINER_LOG_DRIVER ("none") */
	int64_t nano_cpus;             /* DOCKER_CONTAINER_CPUS decimal CPUs, e.g. "1.5" (0 = no limit), stored in 1e-9 CPUs */
	char runtime[CONFIG_MAX_STR];  /* DOCKER_CONTAINER_RUNTIME ("" = daemon default) */
	struct config_list image_allow; /* RUN_IMAGE_ALLOWLIST (empty = any image; imageref_allowed's patterns) */
	struct config_list warm_images; /* RUN_WARM_IMAGES (empty = no warm containers) */
	bool wait_for_exit;            /* RUN_WAIT_FOR_EXIT (false): answer at end of stream, not at the reply */
	char execute_default_image[CONFIG_MAX_STR]; /* EXECUTE_DEFAULT_IMAGE ("" = a request names its image) */
	char compile_image[CONFIG_MAX_STR]; /* COMPILE_IMAGE ("" = POST /compile is off) */
	char front_user[CONFIG_MAX_STR];   /* SERVER_FRONT_USER (runboxd-front) */
	char agent_user[CONFIG_MAX_STR];   /* SERVER_AGENT_USER (runboxd) */
	char front_chroot[CONFIG_MAX_STR]; /* SERVER_FRONT_CHROOT (/var/lib/runboxd/empty) */
	bool sandbox_debug;            /* SANDBOX_DEBUG (false): traps instead of kills */
	struct netacl allowed_ips;     /* SERVER_ALLOWED_IPS (empty = every client) */
	unsigned rate_per_minute;      /* RATE_LIMIT_PER_MINUTE per client address (0 = no limit) */
	unsigned rate_burst;           /* RATE_LIMIT_BURST (10), 1..RATELIMIT_MAX_BURST */
	bool image_pull;               /* RUN_IMAGE_PULL (false): pull a missing allowed image */
	unsigned pull_timeout;         /* RUN_IMAGE_PULL_TIMEOUT seconds (300) per attempt */
	unsigned pull_retries;         /* RUN_IMAGE_PULL_RETRIES (2): attempts after the first */
	struct config_mounts mounts;   /* DOCKER_CONTAINER_MOUNTS host:container[:ro|:rw] */
	bool mounts_allow_rw;          /* DOCKER_CONTAINER_MOUNTS_ALLOW_RW (false) */
	char workdir[CONFIG_MAX_STR];  /* DOCKER_CONTAINER_WORKDIR ("" = the image's) */
	struct config_list dns;        /* DOCKER_CONTAINER_DNS IP addresses */
	struct config_list dns_search; /* DOCKER_CONTAINER_DNS_SEARCH domains */
	char network[CONFIG_MAX_STR];  /* DOCKER_CONTAINER_NETWORK ("" = none if disabled, else Docker's default) */
	int64_t memory_reservation;    /* DOCKER_CONTAINER_MEMORY_RESERVATION bytes (0 = none) */
	char platform[CONFIG_MAX_STR]; /* DOCKER_CONTAINER_PLATFORM os/arch[/variant] ("" = the daemon's) */
	struct config_prepare prepare; /* RUN_PREPARE_<NAME> */
	bool metrics_public;           /* METRICS_PUBLIC (false): GET /metrics without the token */

	/* Not variables: what sandbox_prepare found for the users above. */
	struct sandbox_ids front_ids, agent_ids;

	/* config.c's bookkeeping: bit i is set once variable i of its table was
	 * given.  A bool has no spare value to mean "unset", so config_finish
	 * needs this to tell a missing required variable from a zero value. */
	uint64_t given[CONFIG_GIVEN_WORDS];
};

/* The prepare command of image, or NULL. */
const char *config_prepare_find(const struct config *c, const char *image);

/* Fill every variable with its default; required ones are marked unset. */
void config_defaults(struct config *c);

/*
 * Set one variable from its text.  Returns 0, -1 with a message in err
 * ("SERVER_LISTEN_PORT: \"70000\" is out of range 1-65535"), or 1 if key
 * is not a runboxd variable (err says so).
 */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errsz);

/* KEY=VALUE lines, '#' comments, blank lines; an unknown key is an error. */
int config_load_file(struct config *c, const char *path, char *err, size_t errsz);

/* Every runboxd variable present in envp (others are ignored). */
int config_load_env(struct config *c, char *const envp[], char *err, size_t errsz);

/* Required variables present; cross-checks (soft <= hard, ...); derives instance. */
int config_finish(struct config *c, char *err, size_t errsz);

/* defaults + file (if not NULL) + environment + finish. */
int config_load(struct config *c, const char *file, char *const envp[], char *err, size_t errsz);

/* Effective configuration as KEY=VALUE lines, the token masked. */
void config_print(const struct config *c, FILE *out);

/* Every variable, one per line: name, type, range, default, meaning (runboxd -h). */
void config_usage(FILE *out);

/* Wipe the token (fronts must not hold it). */
void config_forget_token(struct config *c);

#endif
