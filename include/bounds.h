/*
 * Every fixed limit of runboxd in one place.  Limits an operator may want
 * to change are configuration variables (config.h); their defaults live
 * here too, so that the code and conf/runboxd.env agree.
 */
#ifndef RUNBOXD_BOUNDS_H
#define RUNBOXD_BOUNDS_H

/* HTTP requests from clients (front). */
#define HTTP_MAX_HEADERS 64             /* more -> 431 */
#define HTTP_MAX_HEADER_BYTES 16384     /* request line + headers, more -> 431 */
#define HTTP_MAX_METHOD 16
#define HTTP_MAX_PATH 2048              /* longer request target -> 414/431 */
#define HTTP_MAX_LENGTH_DIGITS 19       /* Content-Length digits past leading zeros: fits 64 bits */
#define HTTP_MAX_CHUNK_DIGITS 15        /* chunk-size hex digits past leading zeros: < 2^60 */

/* Defaults of the request limits that are configurable. */
#define DEFAULT_REQUEST_MAX_BODY (2u * 1024 * 1024)  /* SERVER_MAX_REQUEST_BYTES */
#define DEFAULT_REQUEST_TIMEOUT_SEC 10u              /* SERVER_REQUEST_TIMEOUT */
#define MAX_REQUEST_BODY_LIMIT (64u * 1024 * 1024)   /* upper bound of the setting */

/* Front: a run's stream. */
#define FRONT_STDERR_KEEP (64u * 1024)  /* runner stderr kept for the coderunner.stderr message */
#define FRONT_CHUNK_SLACK 4096u         /* undecoded chunk-size lines when a body nears its limit */
#define FRONT_STREAM_CHUNK (64u * 1024) /* attach stream bytes read at a time */
#define FRONT_EVENT_RAW (16u * 1024)   /* output bytes one streamed event carries at most */
#define FRONT_EVENT_MAX (FRONT_EVENT_RAW * 6 + 64) /* ... each escaped to at most 6, and the names */
#define FRONT_AGENT_SLACK_MS 5000       /* beyond its Docker timeouts, before a front gives up on its agent */

/* POST /execute and /compile (execute.c, agent). */
#define EXEC_MAX_SCRIPT (32u * 1024)    /* a script: one argv string (Linux: < 128 KiB), in one message */
#define EXEC_EMIT_PIECE (16u * 1024)    /* output bytes escaped at a time for an answer ... */
#define EXEC_EMIT_BUF (EXEC_EMIT_PIECE * 6 + 64) /* ... into a buffer this big, written when full */

/* Front: answers and the log line. */
#define FRONT_RESPONSE_HEAD 512         /* status line and fields of an answer */
/* A JSON error: the stderr kept, each byte escaped to at most 6, and the rest. */
#define FRONT_ERROR_BODY (FRONT_STDERR_KEEP * 6 + 1024)
#define FRONT_LOG_PATH 128              /* request path bytes in the log line */
#define FRONT_MAX_TEXT 128              /* a message or header line the front composes */

/* Any worker. */
#define IO_POLL_MAX 4                   /* descriptors one io_poll waits on, besides the master's life pipe */

/* Agent. */
#define AGENT_SWEEP_MAX 256             /* leftover containers removed per sweep */
#define AGENT_SWEEP_INLINE 2            /* ... and by a busy agent before a run */
#define AGENT_JANITOR_ROUNDS 8          /* sweeps of the instance at master start and stop */
#define AGENT_RETRY_MS 2000             /* an idle agent retries a failed removal this often */
#define AGENT_EARLY_MAX (MSG_MAX / 2)   /* attach stream bytes Docker sent with its upgrade reply */
#define AGENT_RUN_SLACK_MS 2000         /* past RUN_MAX_EXECUTION_TIME the agent removes a run's container itself */

/* Per-request limits (reqlimits.c). */
#define REQLIMITS_MIN_MEMORY (6u * 1024 * 1024) /* Docker refuses a smaller Memory */
#define REQLIMITS_MIN_NANO_CPUS 10000000        /* 0.01 CPU: the kernel's smallest CFS quota at Docker's period */
#define REQLIMITS_MAX_MESSAGE 256               /* a refusal's message */
#define REQLIMITS_MAX_KEY 32                    /* an unknown member's name quoted in a refusal */
#define REQLIMITS_MAX_EXPONENT 100000           /* a number's exponent is read up to this; beyond, it saturates */

/* JSON. */
#define JSON_MAX_DEPTH 64               /* nesting json_check and json_object_pick accept */
#define JSON_MAX_TOKENS 1024            /* jsmn tokens for Docker replies */
#define JSON_MAX_PICK 8                 /* members json_object_pick looks for at once */
#define JBUF_GROW_FIRST 256             /* first allocation of a growable jbuf; then doubled */

/* Configuration. */
#define CONFIG_MAX_STR 256              /* any string variable */
#define CONFIG_MAX_TOKEN 512            /* API_ACCESS_TOKEN */
#define CONFIG_MIN_TOKEN 16             /* shorter API_ACCESS_TOKENs are refused */
#define CONFIG_MAX_LIST 32              /* entries of a space-separated list */
#define CONFIG_MAX_PATH 108             /* sun_path of a unix socket */
#define CONFIG_MAX_LINE 4096            /* one line of the -c file */
#define CONFIG_MAX_WORKERS 1024         /* SERVER_WORKER_THREADS upper bound */
#define CONFIG_MAX_SECONDS 86400        /* any timeout variable: a day; ms fit an int */
#define CONFIG_MAX_OUTPUT (1024ull * 1024 * 1024) /* RUN_MAX_OUTPUT_SIZE: each front mallocs it */
#define CONFIG_GIVEN_WORDS 2            /* 64-bit words of "variable given" bits: up to 128 variables */
#define CONFIG_MAX_MOUNTS 16            /* DOCKER_CONTAINER_MOUNTS entries */
#define CONFIG_MAX_PREPARE 8            /* RUN_PREPARE_<NAME> variables */
#define CONFIG_MAX_PREPARE_NAME 32      /* <NAME> */
#define CONFIG_MAX_COMMAND 1024         /* a prepare command */
#define CONFIG_MAX_PULL_RETRIES 10      /* RUN_IMAGE_PULL_RETRIES upper bound */
#define CONFIG_MAX_PULL_SECONDS 3600    /* RUN_IMAGE_PULL_TIMEOUT upper bound: an hour per attempt */

/* Client access (front): SERVER_ALLOWED_IPS, RATE_LIMIT_*. */
#define NETACL_MAX_RULES 64             /* CIDRs in SERVER_ALLOWED_IPS */
#define NETACL_MAX_TEXT (NETACL_MAX_RULES * 48) /* SERVER_ALLOWED_IPS printed back */
#define RATELIMIT_SETS 1024             /* the shared table: sets (a power of two) ... */
#define RATELIMIT_WAYS 8                /* ... of this many clients: 8192 clients, 64 KiB */
#define RATELIMIT_RETRIES 16            /* lost compare-and-swaps before a request is let through */
#define RATELIMIT_MAX_PER_MINUTE 60000  /* RATE_LIMIT_PER_MINUTE: a token per ms at most */
#define RATELIMIT_MAX_BURST 100000      /* RATE_LIMIT_BURST */

/* HTTP client on Docker's socket (dhttp, agent). */
#define DOCKER_MAX_RESPONSE_HEAD 16384  /* status line + headers of a reply */
#define DHTTP_REQUEST_HEAD_MAX (HTTP_MAX_PATH + 512) /* request line + headers we send */
#define DHTTP_READ_CHUNK 4096           /* reply body bytes read at a time */
#define DHTTP_CONNECT_RETRY_MS 10       /* a full listen backlog is retried this often */
#define DHTTP_MAX_MESSAGE 1024          /* a failure's message */

/* Docker API calls (agent). */
#define DOCKER_API_OLDEST "1.41"       /* Docker Engine 20.10 (Debian 12's docker.io) */
#define DOCKER_API_NEWEST "1.44"       /* the newest runboxd is written and tested for (Engine 25; 29 accepts no older) */
#define DOCKER_MAX_API_VERSION 16      /* "1.N" as Docker writes it */
#define DOCKER_MAX_PATH (HTTP_MAX_PATH + 16) /* a call's path with its version prefix */
#define DOCKER_MAX_RESPONSE (1024u * 1024)  /* a Docker reply body */
#define DOCKER_MAX_ID 128               /* container id buffer */
#define DOCKER_ID_MIN 12                /* a container id Docker hands out: 12 (short) ... */
#define DOCKER_ID_MAX 64                /* ... to 64 hex digits */
#define DOCKER_MAX_REQUEST_BODY (65536 + 6 * EXEC_MAX_SCRIPT) /* container create JSON: every list, mount and path at its longest, and an escaped script */
#define DOCKER_MAX_REPLY 65536u         /* create/start/version/error reply bodies (stack) */
#define DOCKER_MAX_INSPECT (256u * 1024) /* one container's inspect (static) */
#define DOCKER_LIST_LIMIT 256           /* containers per list reply: fits DOCKER_MAX_RESPONSE */
#define DOCKER_MAX_MESSAGE DHTTP_MAX_MESSAGE /* Docker's "message", or ours */
#define DOCKER_QUOTE_MAX 200            /* a plain-text error body is quoted up to this */

/* Image references (front and agent): distribution's grammar's limits. */
#define DOCKER_MAX_IMAGE_REF 255        /* image reference length */
#define IMAGEREF_MAX_TAG 128            /* a tag */
#define IMAGEREF_DIGEST_PREFIX "sha256:" /* the only digest algorithm accepted */
#define IMAGEREF_DIGEST_HEX 64          /* ... and its length in hex digits */
#define IMAGEREF_MAX_REPO (DOCKER_MAX_IMAGE_REF + 32) /* a repository with "docker.io/library/" added */

/* Docker's attach stream frames (front). */
#define FRAME_HEADER 8                  /* stream type, 3 zero bytes, big-endian length */

/* Deadline-bounded I/O. */
#define IO_LINGER_MAX_MS 1000           /* a closing connection is drained this long ... */
#define IO_LINGER_MAX_BYTES (256 * 1024) /* ... or for this many bytes */

/* Front <-> agent messages. */
#define MSG_MAX (64u * 1024)
#define MSG_MAX_FDS 4                   /* descriptors taken from one packet; more is MSG_CTRUNC */
#define AGENT_MAX_CALLS 8               /* Docker calls behind one answer: a short sweep, create, attach, start, remove */

/* Reader (reader.c): connections waiting for their whole request. */
#define DEFAULT_MAX_WAITING 1024u       /* SERVER_MAX_WAITING */
#define READER_MAX_WAITING 65536u       /* SERVER_MAX_WAITING upper bound */
#define READER_SPARE_FDS 16             /* beyond the waiting ones: listen, hand-off, epoll, signals, life, a refused client */
#define READER_FIRST_BUF 2048u          /* a connection's buffer at its first byte; doubles up to the head limit */
#define READER_INLINE_MAX (32u * 1024)  /* a request this small travels in the hand-off packet, a larger one in a memfd */
#define READER_EVENTS 64                /* epoll events taken per wait */
#define READER_RETRY_AFTER_SEC 1        /* Retry-After of a 503 when full */
#define READER_HANDOFF_RECHECK_MS 20    /* while requests wait for a front: look at the hand-off queue this often */
#define READER_PEER 64                  /* "address:port" or "[address]:port" of a client, in the reader's log */
#define READER_MMAP_THRESHOLD (64u * 1024) /* buffers this large are their own mappings, returned on free */

/* Master. */
#define MASTER_BACKLOG 1024             /* listen(2) queue */
#define MASTER_JANITOR_PERIOD_MS 5000   /* the sweep for containers no live slot owns */
#define MASTER_JANITOR_SLACK_SEC 5      /* beyond a run's longest possible life, a container is a leftover */
#define MASTER_RESPAWN_BACKOFF_MIN_MS 100
#define MASTER_RESPAWN_BACKOFF_MAX_MS 10000
#define MASTER_CRASH_BUDGET 10          /* crashes of one slot ...   */
#define MASTER_CRASH_WINDOW_SEC 60      /* ... in this window -> give up on it for a while */
#define MASTER_DRAIN_TIMEOUT_SEC 30     /* SIGTERM: in-flight requests get this long */
#define MASTER_ROLL_SETTLE_MS 1000      /* a reload's replacement slot runs this long before the next is retired */

/* Scoreboard (shared memory) and the operator routes that read it. */
#define SB_ROUTE_TEXT 16 /* the longest route path the scoreboard names (/openapi.json), with its NUL */
#define SCOREBOARD_ROWS CONFIG_MAX_WORKERS /* one row per slot that can ever exist */
#define SCOREBOARD_TEXT_MAX (64u * 1024)   /* GET /metrics body: every series at 20-digit values fits */
#define HEALTH_PING_MS 1000                /* GET /health: Docker must answer /_ping within this */

/* In-image runner (runbox-runner). */
#define RUNNER_MAX_PAYLOAD (64u * 1024 * 1024)  /* stdin payload; more -> exit 1 */
#define RUNNER_MAX_TOKENS (1u << 20)            /* jsmn tokens of one payload */
#define RUNNER_MAX_STREAM (8u * 1024 * 1024)    /* kept per stream; the rest is drained */
#define RUNNER_MAX_NAME 4096                    /* a file name in the payload */
#define RUNNER_DRAIN_GRACE_MS 500               /* read on this long after the program exits */
#define RUNNER_POLL_TICK_MS 100                 /* how often the pump checks for the exit */
#define RUNNER_OUTPUT_PIECE (64u * 1024)        /* the reply is escaped and written this much at a time */

/* Image pulls (pull.c, agent). */
#define PULL_TABLE_SLOTS 64             /* images being pulled at once that are coordinated */
#define PULL_WAIT_TICK_MS 50            /* a waiter looks at the puller's progress this often */
#define PULL_BACKOFF_FIRST_MS 1000      /* between attempts: 1 s, doubling ... */
#define PULL_BACKOFF_MAX_MS 8000        /* ... up to 8 s */
#define PULL_MAX_LINE (64u * 1024)      /* one object of Docker's progress stream */

/* Sandbox (sandbox.c). */
#define SANDBOX_MAX_GROUPS 32           /* supplementary groups of the agent user */
#define SANDBOX_NOFILE 64               /* RLIMIT_NOFILE of fronts and agents: a few sockets each */
/* the reader's: SERVER_MAX_WAITING + READER_SPARE_FDS */

/* Logging. */
#define LOG_MAX_LINE 2048

#endif
