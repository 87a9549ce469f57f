/*
 * Docker API calls: request bodies and paths, replies of every status the
 * calls expect and some they do not.  A forked child plays Docker
 * (fakeserve.h).  Set RUNBOXD_TEST_DOCKER_SOCK to also run against a real
 * dockerd.
 */
#include "check.h"
#include "config.h"
#include "docker.h"
#include "fakeserve.h"
#include "json.h"

#define GENEROUS_MS 10000 /* never reached by a daemon that answers */
#define SHORT_MS 500      /* a hanging daemon's calls end after this */

static struct docker_ctx ctx;
static struct docker_ctx short_ctx;

static const char ID64[] = "4f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

static const char REAL_VERSION[] =
    "{\"Platform\":{\"Name\":\"\"},\"Components\":[{\"Name\":\"Engine\",\"Version\":"
    "\"20.10.24+dfsg1\",\"Details\":{\"ApiVersion\":\"1.41\",\"Arch\":\"amd64\",\"BuildTime\":"
    "\"2026-05-07T21:09:36.000000000+00:00\",\"Experimental\":\"false\",\"GitCommit\":"
    "\"5d6db84\",\"GoVersion\":\"go1.19.8\",\"KernelVersion\":\"6.18.44-fc-v595\","
    "\"MinAPIVersion\":\"1.12\",\"Os\":\"linux\"}},{\"Name\":\"containerd\",\"Version\":"
    "\"1.6.20~ds1\",\"Details\":{\"GitCommit\":\"1.6.20~ds1-1+deb12u3\"}},{\"Name\":\"runc\","
    "\"Version\":\"1.1.5+ds1\",\"Details\":{\"GitCommit\":\"1.1.5+ds1-1+deb12u1\"}},"
    "{\"Name\":\"docker-init\",\"Version\":\"0.19.0\",\"Details\":{\"GitCommit\":\"\"}}],"
    "\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\","
    "\"GitCommit\":\"5d6db84\",\"GoVersion\":\"go1.19.8\",\"Os\":\"linux\",\"Arch\":\"amd64\","
    "\"KernelVersion\":\"6.18.44-fc-v595\",\"BuildTime\":\"2026-05-07T21:09:36.000000000+00:00\"}"
    "\n";

static const char REAL_VERSION_OUT[] =
    "{\"docker\":{\"version\":\"20.10.24+dfsg1\",\"apiVersion\":\"1.41\",\"gitCommit\":"
    "\"5d6db84\",\"goVersion\":\"go1.19.8\",\"os\":\"linux\",\"arch\":\"amd64\","
    "\"kernelVersion\":\"6.18.44-fc-v595\",\"buildTime\":"
    "\"2026-05-07T21:09:36.000000000+00:00\",\"platform\":{\"name\":\"\"},\"components\":["
    "{\"name\":\"Engine\",\"version\":\"20.10.24+dfsg1\"},{\"name\":\"containerd\","
    "\"version\":\"1.6.20~ds1\"},{\"name\":\"runc\",\"version\":\"1.1.5+ds1\"},"
    "{\"name\":\"docker-init\",\"version\":\"0.19.0\"}]}}";


static void config_full(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->hostname, sizeof(c->hostname), "glot");
	snprintf(c->user, sizeof(c->user), "glot");
	c->memory = 500000000;
	c->memory_swap = 0;
	c->network_disabled = true;
	c->nofile_soft = 90;
	c->nofile_hard = 100;
	c->nproc_soft = 90;
	c->nproc_hard = 100;
	c->cap_drop.n = 2;
	snprintf(c->cap_drop.item[0], CONFIG_MAX_STR, "MKNOD");
	snprintf(c->cap_drop.item[1], CONFIG_MAX_STR, "NET_RAW");
	c->cap_add.n = 1;
	snprintf(c->cap_add.item[0], CONFIG_MAX_STR, "CHOWN");
	c->readonly_rootfs = true;
	snprintf(c->tmp_dir_path, CONFIG_MAX_STR, "/tmp");
	snprintf(c->tmp_dir_options, CONFIG_MAX_STR, "rw,noexec,nosuid,size=65536k");
	snprintf(c->work_dir_path, CONFIG_MAX_STR, "/home/glot");
	snprintf(c->work_dir_options, CONFIG_MAX_STR, "rw,exec,nosuid,size=131072k");
	c->pids_limit = 256;
	c->no_new_privileges = true;
	c->init = true;
	snprintf(c->log_driver, CONFIG_MAX_STR, "none");
	c->nano_cpus = 1500000000;
	snprintf(c->runtime, CONFIG_MAX_STR, "runsc");
}

/* Member key of object js equals the raw JSON text want. */
static int member_is(const char *js, size_t len, const char *key, const char *want)
{
	const char *v;
	size_t vlen;

	if (json_member(js, len, key, &v, &vlen) == JSON_INVALID)
		return 0;
	if (vlen != strlen(want) || memcmp(v, want, vlen) != 0) {
		fprintf(stderr, "  %s = %.*s, want %s\n", key, (int)vlen, v, want);
		return 0;
	}
	return 1;
}

static int has_member(const char *js, size_t len, const char *key)
{
	const char *v;
	size_t vlen;

	return json_member(js, len, key, &v, &vlen) != JSON_INVALID;
}

/* The HostConfig object of a create body. */
static void host_config(const char *js, size_t len, const char **hc, size_t *hlen)
{
	*hc = "";
	*hlen = 0;
	if (json_member(js, len, "HostConfig", hc, hlen) != JSON_OBJECT) {
		*hc = "";
		*hlen = 0;
	}
}

/* A command of its own: the whole argv is the entrypoint, escaped; the image's command is not used. */
static void test_create_body_cmd(void)
{
	static char out[DOCKER_MAX_REQUEST_BODY];
	static char script[EXEC_MAX_SCRIPT + 1];
	const char *argv[] = {"/bin/sh", "-c", "echo \"hi\"\n\x01", NULL};
	struct config c;
	int rc;

	config_full(&c);
	rc = docker_create_body_cmd(&c, "runbox/sh", argv, "i", 0, out, sizeof(out));
	CHECK(rc > 0 && json_check(out, (size_t)rc) == JSON_OBJECT);
	CHECK(member_is(out, (size_t)rc, "Entrypoint", "[\"/bin/sh\",\"-c\",\"echo \\\"hi\\\"\\n\\u0001\"]"));
	CHECK(member_is(out, (size_t)rc, "Cmd", "[]"));
	rc = docker_create_body(&c, "runbox/sh", "i", 0, out, sizeof(out));
	CHECK(rc > 0 && strstr(out, "Entrypoint") == NULL && strstr(out, "\"Cmd\"") == NULL);
	/* The longest script, all control characters (6 bytes each escaped), fits. */
	memset(script, 0x01, EXEC_MAX_SCRIPT);
	argv[2] = script;
	rc = docker_create_body_cmd(&c, "runbox/sh", argv, "i", 0, out, sizeof(out));
	CHECK(rc > (int)(6 * EXEC_MAX_SCRIPT) && json_check(out, (size_t)rc) == JSON_OBJECT);
}

static void test_create_body(void)
{
	static char out[DOCKER_MAX_REQUEST_BODY];
	struct config c;
	const char *hc;
	size_t hl, len, n;
	int rc;

	config_full(&c);
	rc = docker_create_body(&c, "glot/python:latest", "127.0.0.1:8088", 3, out, sizeof(out));
	CHECK(rc > 0);
	len = (size_t)rc;
	CHECK(strlen(out) == len);
	CHECK(json_check(out, len) == JSON_OBJECT);
	CHECK(member_is(out, len, "Hostname", "\"glot\""));
	CHECK(member_is(out, len, "User", "\"glot\""));
	CHECK(member_is(out, len, "AttachStdin", "true"));
	CHECK(member_is(out, len, "AttachStdout", "true"));
	CHECK(member_is(out, len, "AttachStderr", "true"));
	CHECK(member_is(out, len, "Tty", "false"));
	CHECK(member_is(out, len, "OpenStdin", "true"));
	CHECK(member_is(out, len, "StdinOnce", "true"));
	CHECK(member_is(out, len, "Image", "\"glot/python:latest\""));
	CHECK(member_is(out, len, "NetworkDisabled", "true"));
	CHECK(member_is(out, len, "Labels",
	                "{\"io.runboxd.instance\":\"127.0.0.1:8088\",\"io.runboxd.slot\":\"3\"}"));
	host_config(out, len, &hc, &hl);
	CHECK(member_is(hc, hl, "Memory", "500000000"));
	CHECK(member_is(hc, hl, "MemorySwap", "500000000"));
	CHECK(member_is(hc, hl, "Privileged", "false"));
	CHECK(member_is(hc, hl, "CapAdd", "[\"CHOWN\"]"));
	CHECK(member_is(hc, hl, "CapDrop", "[\"MKNOD\",\"NET_RAW\"]"));
	CHECK(member_is(hc, hl, "Ulimits",
	                "[{\"Name\":\"nofile\",\"Soft\":90,\"Hard\":100},"
	                "{\"Name\":\"nproc\",\"Soft\":90,\"Hard\":100}]"));
	CHECK(member_is(hc, hl, "ReadonlyRootfs", "true"));
	CHECK(member_is(hc, hl, "Tmpfs",
	                "{\"/tmp\":\"rw,noexec,nosuid,size=65536k\","
	                "\"/home/glot\":\"rw,exec,nosuid,size=131072k\"}"));
	CHECK(member_is(hc, hl, "PidsLimit", "256"));
	CHECK(member_is(hc, hl, "NanoCpus", "1500000000"));
	CHECK(member_is(hc, hl, "SecurityOpt", "[\"no-new-privileges\"]"));
	CHECK(member_is(hc, hl, "Init", "true"));
	CHECK(member_is(hc, hl, "LogConfig", "{\"Type\":\"none\",\"Config\":{}}"));
	CHECK(member_is(hc, hl, "NetworkMode", "\"none\""));
	CHECK(member_is(hc, hl, "Runtime", "\"runsc\""));

	/* Every buffer too small by at least one byte fails cleanly. */
	for (n = 0; n <= len; n++)
		CHECKF(docker_create_body(&c, "glot/python:latest", "127.0.0.1:8088", 3, out, n) ==
		           -1,
		       "outsz %zu", n);
	CHECK(docker_create_body(&c, "glot/python:latest", "127.0.0.1:8088", 3, out, len + 1) ==
	      (int)len);

	/* The optional parts go away. */
	c.memory_swap = -1;
	c.tmp_dir_path[0] = '\0';
	c.work_dir_path[0] = '\0';
	c.network_disabled = false;
	c.pids_limit = 0;
	c.nano_cpus = 0;
	c.no_new_privileges = false;
	c.init = false;
	c.log_driver[0] = '\0';
	c.runtime[0] = '\0';
	c.cap_add.n = 0;
	rc = docker_create_body(&c, "a", "i", 0, out, sizeof(out));
	len = rc > 0 ? (size_t)rc : 0;
	CHECK(json_check(out, len) == JSON_OBJECT);
	CHECK(member_is(out, len, "NetworkDisabled", "false"));
	CHECK(member_is(out, len, "Labels",
	                "{\"io.runboxd.instance\":\"i\",\"io.runboxd.slot\":\"0\"}"));
	host_config(out, len, &hc, &hl);
	CHECK(hl > 0);
	CHECK(member_is(hc, hl, "MemorySwap", "-1"));
	CHECK(member_is(hc, hl, "CapAdd", "[]"));
	CHECK(!has_member(hc, hl, "Tmpfs"));
	CHECK(!has_member(hc, hl, "NetworkMode"));
	CHECK(!has_member(hc, hl, "PidsLimit"));
	CHECK(!has_member(hc, hl, "NanoCpus"));
	CHECK(!has_member(hc, hl, "SecurityOpt"));
	CHECK(!has_member(hc, hl, "Init"));
	CHECK(!has_member(hc, hl, "LogConfig"));
	CHECK(!has_member(hc, hl, "Runtime"));

	c.memory_swap = 123456789;
	snprintf(c.work_dir_path, CONFIG_MAX_STR, "/w");
	rc = docker_create_body(&c, "a", "i", 0, out, sizeof(out));
	len = rc > 0 ? (size_t)rc : 0;
	host_config(out, len, &hc, &hl);
	CHECK(member_is(hc, hl, "MemorySwap", "123456789"));
	CHECK(member_is(hc, hl, "Tmpfs", "{\"/w\":\"rw,exec,nosuid,size=131072k\"}"));

	c.memory = 0;
	rc = docker_create_body(&c, "a", "i", 0, out, sizeof(out));
	len = rc > 0 ? (size_t)rc : 0;
	host_config(out, len, &hc, &hl);
	CHECK(hl > 0 && !has_member(hc, hl, "Memory") && !has_member(hc, hl, "MemorySwap"));

	/* Hostile strings stay strings. */
	snprintf(c.hostname, sizeof(c.hostname), "a\"b\\c\n\x01");
	snprintf(c.user, sizeof(c.user), "\xff\xfe");
	rc = docker_create_body(&c, "x\",\"Privileged\":true,\"y", "\x7f", 4294967295u, out,
	                        sizeof(out));
	len = rc > 0 ? (size_t)rc : 0;
	CHECK(json_check(out, len) == JSON_OBJECT);
	CHECK(member_is(out, len, "Hostname", "\"a\\\"b\\\\c\\n\\u0001\""));
	CHECK(member_is(out, len, "Image", "\"x\\\",\\\"Privileged\\\":true,\\\"y\""));
	CHECK(
	    member_is(out, len, "Labels",
	              "{\"io.runboxd.instance\":\"\\u007f\",\"io.runboxd.slot\":\"4294967295\"}"));
	host_config(out, len, &hc, &hl);
	CHECK(member_is(hc, hl, "Privileged", "false"));
}

/* The configured container options, as one exact create body. */
static void test_create_options(void)
{
	static char out[DOCKER_MAX_REQUEST_BODY];
	static const char want[] =
	    "{\"Hostname\":\"h\",\"User\":\"u\",\"AttachStdin\":true,\"AttachStdout\":true,"
	    "\"AttachStderr\":true,\"Tty\":false,\"OpenStdin\":true,\"StdinOnce\":true,"
	    "\"Image\":\"img\",\"WorkingDir\":\"/work \\\"dir\\\"\",\"NetworkDisabled\":false,"
	    "\"Labels\":{\"io.runboxd.instance\":\"i\",\"io.runboxd.slot\":\"1\"},"
	    "\"HostConfig\":{\"Privileged\":false,\"Memory\":1000,\"MemorySwap\":1000,"
	    "\"MemoryReservation\":500,\"CapAdd\":[],\"CapDrop\":[],\"Ulimits\":["
	    "{\"Name\":\"nofile\",\"Soft\":1,\"Hard\":2},{\"Name\":\"nproc\",\"Soft\":3,\"Hard\":4}],"
	    "\"ReadonlyRootfs\":false,\"Mounts\":["
	    "{\"Type\":\"bind\",\"Source\":\"/srv/data\",\"Target\":\"/data\",\"ReadOnly\":true},"
	    "{\"Type\":\"bind\",\"Source\":\"/srv/a,b=c\",\"Target\":\"/out\",\"ReadOnly\":false}],"
	    "\"NetworkMode\":\"sandbox-net\",\"Dns\":[\"10.0.0.53\",\"fd00::53\"],"
	    "\"DnsSearch\":[\"example.org\"]}}";
	struct config c;
	const char *hc;
	size_t hl, len;
	int rc;

	memset(&c, 0, sizeof(c));
	snprintf(c.hostname, sizeof(c.hostname), "h");
	snprintf(c.user, sizeof(c.user), "u");
	c.memory = 1000;
	c.memory_reservation = 500;
	c.nofile_soft = 1;
	c.nofile_hard = 2;
	c.nproc_soft = 3;
	c.nproc_hard = 4;
	snprintf(c.workdir, sizeof(c.workdir), "/work \"dir\"");
	c.mounts.n = 2;
	snprintf(c.mounts.item[0].host, CONFIG_MAX_STR, "/srv/data");
	snprintf(c.mounts.item[0].target, CONFIG_MAX_STR, "/data");
	snprintf(c.mounts.item[1].host, CONFIG_MAX_STR, "/srv/a,b=c");
	snprintf(c.mounts.item[1].target, CONFIG_MAX_STR, "/out");
	c.mounts.item[1].rw = true;
	snprintf(c.network, sizeof(c.network), "sandbox-net");
	c.dns.n = 2;
	snprintf(c.dns.item[0], CONFIG_MAX_STR, "10.0.0.53");
	snprintf(c.dns.item[1], CONFIG_MAX_STR, "fd00::53");
	c.dns_search.n = 1;
	snprintf(c.dns_search.item[0], CONFIG_MAX_STR, "example.org");
	rc = docker_create_body(&c, "img", "i", 1, out, sizeof(out));
	CHECKF(rc > 0 && strcmp(out, want) == 0, "\n  got  %s\n  want %s", out, want);
	CHECK(json_check(out, strlen(out)) == JSON_OBJECT);

	/* "none" named explicitly, with the network disabled: one NetworkMode, none. */
	c.network_disabled = true;
	snprintf(c.network, sizeof(c.network), "none");
	c.dns.n = c.dns_search.n = c.mounts.n = 0;
	c.memory_reservation = 0;
	c.workdir[0] = '\0';
	rc = docker_create_body(&c, "img", "i", 1, out, sizeof(out));
	len = rc > 0 ? (size_t)rc : 0;
	CHECK(json_check(out, len) == JSON_OBJECT);
	CHECK(member_is(out, len, "NetworkDisabled", "true"));
	CHECK(!has_member(out, len, "WorkingDir"));
	host_config(out, len, &hc, &hl);
	CHECK(member_is(hc, hl, "NetworkMode", "\"none\""));
	CHECK(!has_member(hc, hl, "Mounts") && !has_member(hc, hl, "Dns") &&
	      !has_member(hc, hl, "DnsSearch") && !has_member(hc, hl, "MemoryReservation"));
	{
		const char *first = strstr(out, "\"NetworkMode\"");

		CHECK(first != NULL && strstr(first + 1, "\"NetworkMode\"") == NULL);
	}
}

/* DOCKER_CONTAINER_PLATFORM goes on the create's query, encoded. */
static void test_create_platform(void)
{
	char id[DOCKER_MAX_ID], js[256];
	struct docker_error err;
	struct config c;
	pid_t pid;
	int rc;

	config_full(&c);
	snprintf(c.platform, sizeof(c.platform), "linux/arm64/v8");
	snprintf(js, sizeof(js), "{\"Id\":\"%s\"}", ID64);
	pid = serve_json(201, "Created", js);
	rc = docker_container_create(&ctx, &c, "img", "i", 0, id, &err);
	reap(pid);
	CHECK(rc == DOCKER_OK);
	CHECKF(strncmp(request_seen(),
	               "POST /v1.41/containers/create?platform=linux%2Farm64%2Fv8 HTTP/1.1\r\n",
	               67) == 0,
	       "%.80s", request_seen());
}

static void test_image_split(void)
{
	static const struct {
		const char *in, *name, *tag;
	} t[] = {
	    {"busybox", "busybox", "latest"},
	    {"busybox:1.36", "busybox", "1.36"},
	    {"runbox/sh", "runbox/sh", "latest"},
	    {"127.0.0.1:5000/runbox/x", "127.0.0.1:5000/runbox/x", "latest"},
	    {"127.0.0.1:5000/runbox/x:t1", "127.0.0.1:5000/runbox/x", "t1"},
	    {"reg.example:443/a/b@sha256:0f4b09f5198f0a70636cd3c751838f8cbbe5d4dca51737fdf44877b199c7659f",
	     "reg.example:443/a/b",
	     "sha256:0f4b09f5198f0a70636cd3c751838f8cbbe5d4dca51737fdf44877b199c7659f"},
	    {"a/b:tag@sha256:0f4b09f5198f0a70636cd3c751838f8cbbe5d4dca51737fdf44877b199c7659f", "a/b",
	     "sha256:0f4b09f5198f0a70636cd3c751838f8cbbe5d4dca51737fdf44877b199c7659f"},
	    {"host:5000/a@sha256:0f4b09f5198f0a70636cd3c751838f8cbbe5d4dca51737fdf44877b199c7659f",
	     "host:5000/a", "sha256:0f4b09f5198f0a70636cd3c751838f8cbbe5d4dca51737fdf44877b199c7659f"},
	};
	char name[DOCKER_MAX_IMAGE_REF + 1], tag[DOCKER_MAX_IMAGE_REF + 1];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECKF(docker_image_split(t[i].in, name, sizeof(name), tag, sizeof(tag)) == 0 &&
		           strcmp(name, t[i].name) == 0 && strcmp(tag, t[i].tag) == 0,
		       "%s -> %s %s", t[i].in, name, tag);
	}
	CHECK(docker_image_split("abc:tag", name, 3, tag, sizeof(tag)) == -1);
	CHECK(docker_image_split("abc:tag", name, sizeof(name), tag, 3) == -1);
}

/* One progress stream fed in two pieces at every split point. */
static int pull_split_all(const char *s, bool want_failed, const char *want_msg, bool want_bad)
{
	static struct docker_pull p;
	size_t n = strlen(s);
	int ok = 1;

	for (size_t k = 0; k <= n; k++) {
		int r;

		docker_pull_init(&p);
		r = docker_pull_feed(&p, s, k);
		if (r == 0)
			r = docker_pull_feed(&p, s + k, n - k);
		if (r == 0)
			r = docker_pull_end(&p);
		if ((r < 0) != want_bad || (!want_bad && (p.failed != want_failed ||
		                                          strcmp(p.message, want_msg) != 0))) {
			fprintf(stderr, "  split %zu of [%s]: r=%d failed=%d msg=[%s]\n", k, s, r,
			        p.failed, p.message);
			ok = 0;
		}
	}
	return ok;
}

static void test_pull_progress(void)
{
	static struct docker_pull p;
	static char big[PULL_MAX_LINE + 16];

	CHECK(pull_split_all("{\"status\":\"Pulling from runbox/x\",\"id\":\"t1\"}\r\n"
	                     "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1,\"total\":2}}\r\n"
	                     "{\"status\":\"Status: Downloaded newer image for x:t1\"}\r\n",
	                     false, "", false));
	CHECK(pull_split_all("{\"status\":\"Pulling fs layer\"}\n"
	                     "{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\n",
	                     true, "unexpected EOF", false));
	/* The last object need not end with a newline; errorDetail alone counts. */
	CHECK(pull_split_all("{\"status\":\"a\"}\n{\"errorDetail\":{\"message\":\"denied: \\u001b x\"}}",
	                     true, "denied: ? x", false));
	/* The first error explains; later ones are ignored. */
	CHECK(pull_split_all("{\"error\":\"first\"}\n{\"error\":\"second\"}\n", true, "first", false));
	CHECK(pull_split_all("{\"status\":\"a\"}\nnot json\n", false, "", true));
	CHECK(pull_split_all("[1]\n", false, "", true));
	CHECK(pull_split_all("{\"status\":\"a\"", false, "", true));
	CHECK(pull_split_all("\n\r\n  \n", false, "", false));

	/* An object longer than PULL_MAX_LINE is refused, not truncated. */
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	docker_pull_init(&p);
	CHECK(docker_pull_feed(&p, big, strlen(big)) == -1 && p.bad);
	/* ... and one of exactly PULL_MAX_LINE bytes is taken. */
	big[PULL_MAX_LINE - 1] = '}';
	big[PULL_MAX_LINE] = '\n';
	docker_pull_init(&p);
	CHECK(docker_pull_feed(&p, big, PULL_MAX_LINE + 1) == 0 && p.objects == 1);
}

static void test_image_pull(void)
{
	static struct docker_pull prog;
	struct docker_error err;
	pid_t pid;
	int rc;

	pid = serve("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	            "Transfer-Encoding: chunked\r\n\r\n"
	            "2e\r\n{\"status\":\"Pulling from runbox/x\",\"id\":\"t1\"}\r\n\r\n"
	            "38\r\n{\"status\":\"Status: Downloaded newer image for x/y:t1\"}\r\n\r\n0\r\n\r\n",
	            SERVE_BYTEWISE);
	rc = docker_image_pull(&ctx, "127.0.0.1:5000/runbox/x:t1", "", GENEROUS_MS, &prog, &err);
	reap(pid);
	CHECKF(rc == DOCKER_OK && prog.objects == 2, "%d %s", rc, err.message);
	CHECKF(strncmp(request_seen(),
	               "POST /v1.41/images/create?fromImage=127.0.0.1%3A5000%2Frunbox%2Fx&tag=t1 "
	               "HTTP/1.1\r\n",
	               83) == 0,
	       "%.100s", request_seen());

	pid = serve("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
	            "{\"status\":\"Pulling fs layer\"}\r\n{\"error\":\"read: connection reset\"}\r\n",
	            SERVE_WHOLE);
	rc = docker_image_pull(&ctx, "a", "linux/amd64", GENEROUS_MS, &prog, &err);
	reap(pid);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 200 &&
	           strcmp(err.message, "read: connection reset") == 0,
	       "%d %s", rc, err.message);
	CHECK(strncmp(request_seen(),
	              "POST /v1.41/images/create?fromImage=a&tag=latest&platform=linux%2Famd64 ",
	              72) == 0);

	pid = serve_json(404, "Not Found",
	                 "{\"message\":\"manifest for r/x:t not found: manifest unknown\"}");
	rc = docker_image_pull(&ctx, "r/x:t", "", GENEROUS_MS, &prog, &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && err.status == 404 &&
	      strcmp(err.message, "manifest for r/x:t not found: manifest unknown") == 0);

	pid = serve("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json\n", SERVE_WHOLE);
	rc = docker_image_pull(&ctx, "a", "", GENEROUS_MS, &prog, &err);
	reap(pid);
	CHECK(rc == DOCKER_EPROTO);

	pid = serve("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", SERVE_WHOLE);
	rc = docker_image_pull(&ctx, "a", "", GENEROUS_MS, &prog, &err);
	reap(pid);
	CHECK(rc == DOCKER_EPROTO);

	/* The pull's own timeout bounds the whole stream. */
	pid = serve("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"status\":\"a\"}\n",
	            SERVE_HANG);
	rc = docker_image_pull(&ctx, "a", "", SHORT_MS, &prog, &err);
	reap(pid);
	CHECK(rc == DOCKER_EIO);
	/* A daemon that did not answer is forgotten: it may come back as another version. */
	CHECK(ctx.api[0] == '\0');
	snprintf(ctx.api, sizeof(ctx.api), "1.41");
}

static void test_exec(void)
{
	static char body[1024];
	static char replies[3][512];
	const char *seq[3] = {replies[0], replies[1], replies[2]};
	char out[256], want[512];
	struct docker_error err;
	int code, rc;
	pid_t pid;

	rc = docker_exec_body("runbox", "mkdir -p \"$HOME/x\" && echo '\\' ok", body, sizeof(body));
	CHECKF(rc > 0 &&
	           strcmp(body, "{\"AttachStdin\":false,\"AttachStdout\":true,\"AttachStderr\":true,"
	                        "\"Tty\":false,\"Privileged\":false,\"User\":\"runbox\",\"Cmd\":["
	                        "\"/bin/sh\",\"-c\",\"mkdir -p \\\"$HOME/x\\\" && echo '\\\\' ok\"]}") == 0,
	       "%s", body);
	for (size_t n = 0; n <= (size_t)rc; n++)
		CHECK(docker_exec_body("runbox", "mkdir -p \"$HOME/x\" && echo '\\' ok", body, n) == -1);

	snprintf(replies[0], sizeof(replies[0]),
	         "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n{\"Id\":\"%s\"}", strlen(ID64) + 9,
	         ID64);
	snprintf(replies[1], sizeof(replies[1]),
	         "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n");
	snprintf(replies[2], sizeof(replies[2]),
	         "HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n{\"ExitCode\":3,\"Running\":false}");
	pid = serve_seq(seq, 3);
	rc = docker_container_exec(&ctx, ID64, "runbox", "exit 3", &code, out, sizeof(out), &err);
	reap(pid);
	CHECKF(rc == DOCKER_OK && code == 3 && out[0] == '\0', "%d %d %s", rc, code, err.message);
	snprintf(want, sizeof(want), "POST /v1.41/containers/%s/exec HTTP/1.1\r\n", ID64);
	CHECK(strncmp(request_seen(), want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "POST /v1.41/exec/%s/start HTTP/1.1\r\n", ID64);
	CHECK(strstr(request_seen(), want) != NULL);
	snprintf(want, sizeof(want), "GET /v1.41/exec/%s/json HTTP/1.1\r\n", ID64);
	CHECK(strstr(request_seen(), want) != NULL);

	pid = serve_json(409, "Conflict", "{\"message\":\"Container x is not running\"}");
	rc = docker_container_exec(&ctx, ID64, "runbox", "true", &code, out, sizeof(out), &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && err.status == 409 && code == -1);
	CHECK(docker_container_exec(&ctx, "../x", "runbox", "true", &code, out, sizeof(out), &err) ==
	      DOCKER_EPROTO);
}

static void translate_is(const char *in, const char *want)
{
	char mem[4096];
	struct jbuf b;
	int rc;

	jbuf_init(&b, mem, sizeof(mem));
	rc = docker_version_translate(in, strlen(in), NULL, &b);
	CHECKF(rc == 0 && b.len == strlen(want) && memcmp(mem, want, b.len) == 0, "%s -> %.*s", in,
	       (int)b.len, mem);
	CHECK(json_check(mem, b.len) == JSON_OBJECT);
}

static void test_version_translate(void)
{
	static const char empty[] =
	    "{\"docker\":{\"version\":\"\",\"apiVersion\":\"\",\"gitCommit\":\"\","
	    "\"goVersion\":\"\",\"os\":\"\",\"arch\":\"\",\"kernelVersion\":\"\","
	    "\"buildTime\":\"\",\"platform\":{\"name\":\"\"},\"components\":[]}}";
	char mem[4096];
	struct jbuf b;
	size_t n;

	translate_is(REAL_VERSION, REAL_VERSION_OUT);
	translate_is("{}", empty);
	translate_is(" { \"Platform\" : null , \"Components\" : {\"Name\":\"x\"} } ", empty);
	translate_is("{\"Version\":\"1\\u00e9\\n\",\"Os\":7,\"Arch\":null,\"Platform\":{\"Name\":"
	             "\"Docker Engine - Community\"},\"Components\":[1,{\"Version\":\"v\"},[],"
	             "{\"Name\":\"n\"}],\"ApiVersion\":\"1.41\",\"ApiVersion\":\"1.43\"}",
	             "{\"docker\":{\"version\":\"1\xc3\xa9\\n\",\"apiVersion\":\"1.43\","
	             "\"gitCommit\":\"\",\"goVersion\":\"\",\"os\":\"\",\"arch\":\"\","
	             "\"kernelVersion\":\"\",\"buildTime\":\"\",\"platform\":{\"name\":"
	             "\"Docker Engine - Community\"},\"components\":[{\"name\":\"\",\"version\":"
	             "\"v\"},{\"name\":\"n\",\"version\":\"\"}]}}");

	static const char *bad[] = {"",
	                            "[]",
	                            "\"x\"",
	                            "{",
	                            "{\"Version\":\"\\u0000\"}",
	                            "{\"Version\":1,}",
	                            "{} x",
	                            "{\"a\":\"\xff\"}"};
	for (n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
		jbuf_init(&b, mem, sizeof(mem));
		CHECKF(docker_version_translate(bad[n], strlen(bad[n]), NULL, &b) == -1 && b.len == 0,
		       "bad[%zu]", n);
	}
	/* Output that does not fit: -1 and the buffer as it was. */
	for (n = 0; n < strlen(REAL_VERSION_OUT); n += 7) {
		jbuf_init(&b, mem, n);
		CHECKF(docker_version_translate(REAL_VERSION, strlen(REAL_VERSION), NULL, &b) == -1 &&
		           b.len == 0,
		       "cap %zu", n);
	}
}

static void test_version_call(void)
{
	static char reply[8192];
	char mem[4096];
	struct jbuf b;
	struct docker_error err;
	pid_t pid;
	int rc;

	snprintf(reply, sizeof(reply),
	         "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
	         "Content-Length: %zu\r\n\r\n%s",
	         strlen(REAL_VERSION), REAL_VERSION);
	pid = serve(reply, SERVE_WHOLE);
	jbuf_init(&b, mem, sizeof(mem));
	rc = docker_version(&ctx, &b, &err);
	reap(pid);
	/* docker-run's object, and the version runboxd uses beside it. */
	static const char runboxd_part[] = ",\"runboxd\":{\"apiVersion\":\"1.41\"}}";
	size_t base = strlen(REAL_VERSION_OUT) - 1;
	CHECKF(rc == DOCKER_OK && b.len == base + strlen(runboxd_part) &&
	           memcmp(mem, REAL_VERSION_OUT, base) == 0 &&
	           memcmp(mem + base, runboxd_part, strlen(runboxd_part)) == 0,
	       "%.*s", (int)b.len, mem);
	CHECK(strncmp(request_seen(), "GET /v1.41/version HTTP/1.1\r\n", 29) == 0);

	pid = serve("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnope!", SERVE_WHOLE);
	jbuf_init(&b, mem, sizeof(mem));
	rc = docker_version(&ctx, &b, &err);
	reap(pid);
	CHECK(rc == DOCKER_EPROTO && err.message[0] != '\0');

	pid = serve("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 22\r\n\r\n"
	            "{\"message\":\"a\\u00e9\"}\n",
	            SERVE_WHOLE);
	jbuf_init(&b, mem, sizeof(mem));
	rc = docker_version(&ctx, &b, &err);
	reap(pid);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 500 && strcmp(err.message, "a\xc3\xa9") == 0,
	       "%d %d %s", rc, err.status, err.message);
}

static void test_container_create(void)
{
	static char body[DOCKER_MAX_REQUEST_BODY], want[DOCKER_MAX_REQUEST_BODY + 512];
	char id[DOCKER_MAX_ID], js[512];
	struct docker_error err;
	struct config c;
	pid_t pid;
	int rc, blen;

	config_full(&c);
	snprintf(js, sizeof(js), "{\"Id\":\"%s\",\"Warnings\":null}\n", ID64);
	pid = serve_json(201, "Created", js);
	rc = docker_container_create(&ctx, &c, "python:3.11", "inst", 7, id, &err);
	reap(pid);
	CHECK(rc == DOCKER_OK && strcmp(id, ID64) == 0);
	blen = docker_create_body(&c, "python:3.11", "inst", 7, body, sizeof(body));
	snprintf(
	    want, sizeof(want),
	    "POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nUser-Agent: runboxd\r\n"
	    "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
	    blen, body);
	CHECK(strcmp(request_seen(), want) == 0);

	snprintf(
	    js, sizeof(js),
	    "{\"Warnings\":[\"Your kernel does not support swap\",\"x\"],\"Extra\":{\"a\":[1]},"
	    "\"Id\":\"%s\"}",
	    ID64);
	pid = serve_json(201, "Created", js);
	rc = docker_container_create(&ctx, &c, "python:3.11", "inst", 7, id, &err);
	reap(pid);
	CHECK(rc == DOCKER_OK && strcmp(id, ID64) == 0);

	static const char *bad_ids[] = {
	    "{\"Id\":\"XYZ\",\"Warnings\":null}",
	    "{\"Id\":\"0123456789a\",\"Warnings\":null}",
	    "{\"Id\":\"0123456789ABCDEF\",\"Warnings\":null}",
	    "{\"Id\":\"../../containers/x\"}",
	    "{\"Id\":12345678901234}",
	    "{\"Warnings\":null}",
	    "[\"0123456789abcdef\"]",
	    "{\"Id\":\"0123456789abcdef\"",
	    "{\"Id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\"}",
	};
	size_t i;
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		pid = serve_json(201, "Created", bad_ids[i]);
		rc = docker_container_create(&ctx, &c, "python:3.11", "inst", 7, id, &err);
		reap(pid);
		CHECKF(rc == DOCKER_EPROTO && id[0] == '\0', "bad id %zu: %d", i, rc);
	}
	/* A 12-character short id is an id. */
	pid = serve_json(201, "Created", "{\"Id\":\"0123456789ab\"}");
	rc = docker_container_create(&ctx, &c, "python:3.11", "inst", 7, id, &err);
	reap(pid);
	CHECK(rc == DOCKER_OK && strcmp(id, "0123456789ab") == 0);

	pid = serve_json(404, "Not Found", "{\"message\":\"No such image: nope:latest\"}\n");
	rc = docker_container_create(&ctx, &c, "nope:latest", "inst", 7, id, &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && err.status == 404 &&
	      strcmp(err.message, "No such image: nope:latest") == 0);

	pid = serve(
	    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 14\r\n\r\nboom\x01\nline two",
	    SERVE_WHOLE);
	rc = docker_container_create(&ctx, &c, "python:3.11", "inst", 7, id, &err);
	reap(pid);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 500 &&
	           strcmp(err.message,
	                  "Docker answered 500 Internal Server Error: boom??line two") == 0,
	       "%s", err.message);
}

static void test_container_ops(void)
{
	struct docker_error err;
	char want[512];
	pid_t pid;
	int rc;

	pid = serve("HTTP/1.1 204 No Content\r\n\r\n", SERVE_WHOLE);
	rc = docker_container_start(&ctx, ID64, &err);
	reap(pid);
	CHECK(rc == DOCKER_OK);
	snprintf(want, sizeof(want), "POST /v1.41/containers/%s/start HTTP/1.1\r\n", ID64);
	CHECK(strncmp(request_seen(), want, strlen(want)) == 0);

	pid = serve("HTTP/1.1 304 Not Modified\r\n\r\n", SERVE_WHOLE);
	CHECK(docker_container_start(&ctx, ID64, &err) == DOCKER_OK);
	reap(pid);

	pid = serve_json(500, "Internal Server Error", "{\"message\":\"fake failure\"}");
	rc = docker_container_start(&ctx, ID64, &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && err.status == 500 &&
	      strcmp(err.message, "fake failure") == 0);

	/* Docker's own message loses its control bytes, keeps its UTF-8. */
	pid =
	    serve_json(500, "Internal Server Error", "{\"message\":\"evil\\r\\nX: 1\\u001b[31m\"}");
	rc = docker_container_start(&ctx, ID64, &err);
	reap(pid);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 500 &&
	           strcmp(err.message, "evil??X: 1?[31m") == 0,
	       "%s", err.message);
	pid = serve_json(500, "Internal Server Error",
	                 "{\"message\":\"caf\\u00e9\\t\\u007f\\u0085 \xe2\x9c\x93\"}");
	rc = docker_container_start(&ctx, ID64, &err);
	reap(pid);
	CHECKF(rc == DOCKER_ESTATUS &&
	           strcmp(err.message, "caf\xc3\xa9??\xc2\x85 \xe2\x9c\x93") == 0,
	       "%s", err.message);

	pid = serve_json(200, "OK", "{}");
	rc = docker_container_start(&ctx, ID64, &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && err.status == 200 &&
	      strcmp(err.message, "Docker answered 200 OK: {}") == 0);

	pid = serve("HTTP/1.1 204 No Content\r\n\r\n", SERVE_WHOLE);
	rc = docker_container_remove(&ctx, ID64, &err);
	reap(pid);
	CHECK(rc == DOCKER_OK);
	snprintf(want, sizeof(want), "DELETE /v1.41/containers/%s?v=1&force=1 HTTP/1.1\r\n", ID64);
	CHECK(strncmp(request_seen(), want, strlen(want)) == 0);

	pid = serve_json(404, "Not Found", "{\"message\":\"No such container: x\"}");
	CHECK(docker_container_remove(&ctx, ID64, &err) == DOCKER_OK);
	reap(pid);

	pid = serve_json(409, "Conflict", "{\"message\":\"removal in progress\"}");
	rc = docker_container_remove(&ctx, ID64, &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && err.status == 409 &&
	      strcmp(err.message, "removal in progress") == 0);

	/* Ids that could reach another path are refused before any I/O. */
	unlink(sock_path);
	CHECK(docker_container_start(&ctx, "../../version", &err) == DOCKER_EPROTO);
	CHECK(docker_container_remove(&ctx, "0123456789abcdef?x=", &err) == DOCKER_EPROTO);
	CHECK(docker_container_remove(&ctx, "", &err) == DOCKER_EPROTO);
}

/* Transport failures come out of every call as the call's own, with dhttp's message. */
static void test_container_failures(void)
{
	struct docker_ctx sc = short_ctx, c = ctx; /* copies: a failed call forgets the version */
	struct docker_error err;
	char want[256];
	pid_t pid;
	int rc;

	pid = serve("", SERVE_HANG);
	rc = docker_container_start(&sc, ID64, &err);
	reap(pid);
	CHECK(rc == DOCKER_EIO && strcmp(err.message, "timed out reading from Docker") == 0);

	unlink(sock_path);
	rc = docker_container_start(&c, ID64, &err);
	CHECK(rc == DOCKER_ECONNECT && err.status == 0);
	snprintf(want, sizeof(want), "cannot connect to %s: No such file or directory", sock_path);
	CHECKF(strcmp(err.message, want) == 0, "%s", err.message);
}

static void test_container_attach(void)
{
	static const char early_frame[] = "\x01\0\0\0\0\0\0\x02hi";
	char reply[256], early[64], buf[64];
	struct docker_error err;
	size_t early_len = 99, n = 0;
	ssize_t r;
	pid_t pid;
	int fd = -7, rc, fl;

	static const char head101[] =
	    "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
	    "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
	size_t hl = sizeof(head101) - 1;

	memcpy(reply, head101, hl);
	memcpy(reply + hl, early_frame, 10);
	pid = serve_n(reply, hl + 10, SERVE_ATTACH);
	rc = docker_container_attach(&ctx, ID64, &fd, early, sizeof(early), &early_len, &err);
	CHECK(rc == DOCKER_OK && fd >= 0);
	CHECK(early_len == 10 && memcmp(early, early_frame, 10) == 0);
	fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	CHECK(fl >= 0 && !(fl & O_NONBLOCK));
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	if (fd >= 0) {
		write_all(fd, "payload", 7);
		shutdown(fd, SHUT_WR);
		while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	CHECK(n == 15 && memcmp(buf, "\x01\0\0\0\0\0\0\x07payload", 15) == 0);
	reap(pid);
	char want[512];
	snprintf(
	    want, sizeof(want),
	    "POST /v1.41/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
	    "Host: docker\r\nUser-Agent: runboxd\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
	    ID64);
	CHECKF(strcmp(request_seen(), want) == 0, "%s", request_seen());

	/* Docker without the upgrade answers 200 and streams. */
	pid = serve("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n",
	            SERVE_ATTACH);
	rc = docker_container_attach(&ctx, ID64, &fd, early, sizeof(early), &early_len, &err);
	CHECK(rc == DOCKER_OK && fd >= 0 && early_len == 0);
	if (fd >= 0)
		close(fd);
	reap(pid);

	/* A 200 that frames a body is not a stream; a 101's framing headers mean nothing. */
	pid = serve("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n\x01\0\0\0\0\0\0\0", SERVE_ATTACH);
	fd = -7;
	rc = docker_container_attach(&ctx, ID64, &fd, early, sizeof(early), &early_len, &err);
	reap(pid);
	CHECKF(rc == DOCKER_EPROTO && fd == -1 && err.status == 200, "200+length: %d", rc);
	pid = serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", SERVE_ATTACH);
	fd = -7;
	rc = docker_container_attach(&ctx, ID64, &fd, early, sizeof(early), &early_len, &err);
	reap(pid);
	CHECKF(rc == DOCKER_EPROTO && fd == -1 && err.status == 200, "200+chunked: %d", rc);
	pid = serve("HTTP/1.1 101 UPGRADED\r\nContent-Length: 0\r\nUpgrade: tcp\r\n\r\n",
	            SERVE_ATTACH);
	rc = docker_container_attach(&ctx, ID64, &fd, early, sizeof(early), &early_len, &err);
	CHECK(rc == DOCKER_OK && fd >= 0 && early_len == 0);
	n = 0;
	if (fd >= 0) {
		write_all(fd, "ab", 2);
		shutdown(fd, SHUT_WR);
		while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	reap(pid);
	CHECK(n == 10 && memcmp(buf, "\1\0\0\0\0\0\0\2ab", 10) == 0);

	/* More early bytes than room. */
	pid = serve_n(reply, hl + 10, SERVE_ATTACH);
	rc = docker_container_attach(&ctx, ID64, &fd, early, 9, &early_len, &err);
	CHECK(rc == DOCKER_EPROTO && fd == -1 && early_len == 0);
	reap(pid);

	pid = serve_json(500, "Internal Server Error", "{\"message\":\"fake failure\"}");
	rc = docker_container_attach(&ctx, ID64, &fd, early, sizeof(early), &early_len, &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && fd == -1 && err.status == 500 &&
	      strcmp(err.message, "fake failure") == 0);

	pid = serve("", SERVE_HANG);
	rc = docker_container_attach(&short_ctx, ID64, &fd, early, sizeof(early), &early_len, &err);
	reap(pid);
	CHECK(rc == DOCKER_EIO && fd == -1);
}

struct seen {
	unsigned n;
	char ids[4][DOCKER_MAX_ID];
	unsigned slots[4];
	int64_t created[4];
};

static void on_container(const char *id, unsigned slot, int64_t created, void *arg)
{
	struct seen *s = arg;

	if (s->n < 4) {
		snprintf(s->ids[s->n], DOCKER_MAX_ID, "%s", id);
		s->slots[s->n] = slot;
		s->created[s->n] = created;
	}
	s->n++;
}

static void test_containers_labelled(void)
{
	static char list[4096];
	char want[256];
	struct docker_error err;
	struct seen s = {0};
	pid_t pid;
	int rc;

	snprintf(list, sizeof(list),
	         "[{\"Id\":\"%s\",\"Names\":[\"/a\"],\"Labels\":{\"io.runboxd.instance\":\"i 1\","
	         "\"io.runboxd.slot\":\"2\"},\"State\":\"running\",\"Created\":1700000123},"
	         "{\"Id\":\"0123456789ab0123456789ab\",\"Created\":\"1\",\"Labels\":{\"io.runboxd.instance\":\"i 1\","
	         "\"io.runboxd.slot\":\"12\"}},"
	         "{\"Id\":\"aaaaaaaaaaaa\",\"Labels\":{\"io.runboxd.instance\":\"i 1\","
	         "\"io.runboxd.slot\":\"-1\"}},"
	         "{\"Id\":\"bbbbbbbbbbbb\",\"Labels\":{\"io.runboxd.instance\":\"other\","
	         "\"io.runboxd.slot\":\"2\"}},"
	         "{\"Id\":\"cccccccccccc\",\"Labels\":null},"
	         "{\"Id\":\"NOTHEX\",\"Labels\":{\"io.runboxd.instance\":\"i 1\","
	         "\"io.runboxd.slot\":\"2\"}},"
	         "{\"Id\":\"dddddddddddd\",\"Labels\":{\"io.runboxd.instance\":\"i 1\","
	         "\"io.runboxd.slot\":\"99999999999\"}},"
	         "7,[],{}]",
	         ID64);
	pid = serve_json(200, "OK", list);
	rc = docker_containers_labelled(&ctx, "i 1", -1, on_container, &s, &err);
	reap(pid);
	CHECKF(rc == 2 && s.n == 2, "%d", rc);
	CHECK(strcmp(s.ids[0], ID64) == 0 && s.slots[0] == 2);
	CHECK(strcmp(s.ids[1], "0123456789ab0123456789ab") == 0 && s.slots[1] == 12);
	CHECKF(s.created[0] == 1700000123 && s.created[1] == -1, "%lld %lld", (long long)s.created[0],
	       (long long)s.created[1]);
	snprintf(want, sizeof(want),
	         "GET /v1.41/containers/json?all=1&limit=%d&filters=%%7B%%22label%%22%%3A%%5B%%22"
	         "io.runboxd.instance%%3Di%%201%%22%%5D%%7D HTTP/1.1\r\nHost: docker\r\n",
	         DOCKER_LIST_LIMIT);
	CHECKF(strncmp(request_seen(), want, strlen(want)) == 0, "%s", request_seen());

	memset(&s, 0, sizeof(s));
	pid = serve_json(200, "OK", list);
	rc = docker_containers_labelled(&ctx, "i 1", 12, on_container, &s, &err);
	reap(pid);
	CHECK(rc == 1 && s.n == 1 && s.slots[0] == 12);
	CHECK(strstr(request_seen(), "%2C%22io.runboxd.slot%3D12%22%5D%7D HTTP/1.1\r\n") != NULL);

	memset(&s, 0, sizeof(s));
	pid = serve_json(200, "OK", "[]");
	rc = docker_containers_labelled(&ctx, "i", -1, on_container, &s, &err);
	reap(pid);
	CHECK(rc == 0 && s.n == 0);

	pid = serve_json(200, "OK", "{\"not\":\"a list\"}");
	rc = docker_containers_labelled(&ctx, "i", -1, on_container, &s, &err);
	reap(pid);
	CHECK(rc == DOCKER_EPROTO && s.n == 0);

	pid = serve_json(400, "Bad Request", "{\"message\":\"invalid filter\"}");
	rc = docker_containers_labelled(&ctx, "i", -1, on_container, &s, &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && err.status == 400 &&
	      strcmp(err.message, "invalid filter") == 0);
}

static void test_api_pick(void)
{
	static const struct {
		const char *js;
		int rc;
		const char *api; /* or the message */
	} rows[] = {
	    {"{\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}", DOCKER_OK, "1.41"},
	    {"{\"ApiVersion\":\"1.52\",\"MinAPIVersion\":\"1.44\"}", DOCKER_OK, "1.44"},
	    {"{\"ApiVersion\":\"1.52\",\"MinAPIVersion\":\"1.40\"}", DOCKER_OK, "1.44"},
	    {"{\"ApiVersion\":\"1.43\",\"MinAPIVersion\":\"1.12\"}", DOCKER_OK, "1.43"},
	    {"{\"MinAPIVersion\":\"1.24\",\"ApiVersion\":\"1.44\",\"Os\":\"linux\"}", DOCKER_OK,
	     "1.44"},
	    {"{\"ApiVersion\":\"1.44\"}", DOCKER_OK, "1.44"},
	    {"{\"ApiVersion\":\"1.041\",\"MinAPIVersion\":\"1.12\"}", DOCKER_OK, "1.41"},
	    {"{\"ApiVersion\":\"1.30\",\"MinAPIVersion\":\"1.12\"}", DOCKER_EVERSION,
	     "Docker speaks API versions 1.12 to 1.30, runboxd 1.41 to 1.44: none in common"},
	    {"{\"ApiVersion\":\"1.60\",\"MinAPIVersion\":\"1.45\"}", DOCKER_EVERSION,
	     "Docker speaks API versions 1.45 to 1.60, runboxd 1.41 to 1.44: none in common"},
	    {"{\"ApiVersion\":\"2.0\",\"MinAPIVersion\":\"2.0\"}", DOCKER_EVERSION,
	     "Docker speaks API versions 2.0 to 2.0, runboxd 1.41 to 1.44: none in common"},
	    {"{\"ApiVersion\":\"1.40\"}", DOCKER_EVERSION,
	     "Docker speaks API versions 1.40 to 1.40, runboxd 1.41 to 1.44: none in common"},
	    {"{}", DOCKER_EPROTO, "Docker's /version has no valid ApiVersion"},
	    {"[]", DOCKER_EPROTO, "Docker's /version has no valid ApiVersion"},
	    {"{\"ApiVersion\":1.41}", DOCKER_EPROTO, "Docker's /version has no valid ApiVersion"},
	    {"{\"ApiVersion\":\"v1.41\"}", DOCKER_EPROTO, "Docker's /version has no valid ApiVersion"},
	    {"{\"ApiVersion\":\"1.41x\"}", DOCKER_EPROTO, "Docker's /version has no valid ApiVersion"},
	    {"{\"ApiVersion\":\"1.\"}", DOCKER_EPROTO, "Docker's /version has no valid ApiVersion"},
	    {"{\"ApiVersion\":\".41\"}", DOCKER_EPROTO, "Docker's /version has no valid ApiVersion"},
	    {"{\"ApiVersion\":\"12345.1\"}", DOCKER_EPROTO, "Docker's /version has no valid ApiVersion"},
	    {"{\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.50\"}", DOCKER_EPROTO,
	     "Docker's /version has no valid MinAPIVersion"},
	    {"{\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"\"}", DOCKER_EPROTO,
	     "Docker's /version has no valid MinAPIVersion"},
	};
	struct docker_error err;
	char api[DOCKER_MAX_API_VERSION];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err.message[0] = '\0';
		rc = docker_api_pick(rows[i].js, strlen(rows[i].js), api, sizeof(api), &err);
		CHECKF(rc == rows[i].rc, "row %zu: %d", i, rc);
		if (rc == DOCKER_OK)
			CHECKF(strcmp(api, rows[i].api) == 0, "row %zu: %s", i, api);
		else
			CHECKF(api[0] == '\0' && strcmp(err.message, rows[i].api) == 0, "row %zu: %s", i,
			       err.message);
	}
}

static const char ENGINE29_BODY[] =
    "{\"Version\":\"29.0.0\",\"ApiVersion\":\"1.52\",\"MinAPIVersion\":\"1.44\",\"Os\":\"linux\"}";
static const char TOO_OLD_BODY[] =
    "{\"message\":\"client version 1.41 is too old. Minimum supported API version is 1.44, "
    "please upgrade your client to a newer version\"}";

static const char *reply_json(char *buf, size_t sz, int status, const char *body)
{
	snprintf(buf, sz,
	         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	         status, strlen(body), body);
	return buf;
}

/* Negotiation: at the first call, again after a call the daemon refused for its version. */
static void test_negotiate(void)
{
	static char engine29[512], too_old[512];
	static const char started[] = "HTTP/1.1 204 No Content\r\n\r\n";
	struct docker_ctx nc = ctx;
	struct docker_error err;
	char want[1024];
	pid_t pid;
	int rc;

	reply_json(engine29, sizeof(engine29), 200, ENGINE29_BODY);
	reply_json(too_old, sizeof(too_old), 400, TOO_OLD_BODY);

	/* First call: ask, unversioned, then use the newest both speak. */
	nc.api[0] = '\0';
	const char *first[] = {engine29, started};
	pid = serve_seq(first, 2);
	rc = docker_container_start(&nc, ID64, &err);
	reap(pid);
	CHECKF(rc == DOCKER_OK && strcmp(nc.api, "1.44") == 0, "%d %s %s", rc, nc.api, err.message);
	snprintf(want, sizeof(want),
	         "GET /version HTTP/1.1\r\nHost: docker\r\nUser-Agent: runboxd\r\n"
	         "Connection: close\r\n\r\nPOST /v1.44/containers/%s/start HTTP/1.1\r\n",
	         ID64);
	CHECKF(strncmp(request_seen(), want, strlen(want)) == 0, "%s", request_seen());

	/* The daemon was upgraded under us: refused, renegotiated, sent again. */
	snprintf(nc.api, sizeof(nc.api), "1.41");
	const char *upgraded[] = {too_old, engine29, started};
	pid = serve_seq(upgraded, 3);
	rc = docker_container_start(&nc, ID64, &err);
	reap(pid);
	CHECKF(rc == DOCKER_OK && strcmp(nc.api, "1.44") == 0, "%d %s %s", rc, nc.api, err.message);
	snprintf(want, sizeof(want), "POST /v1.41/containers/%s/start", ID64);
	CHECK(strncmp(request_seen(), want, strlen(want)) == 0);
	CHECK(strstr(request_seen(), "GET /version HTTP/1.1\r\n") != NULL);
	snprintf(want, sizeof(want), "POST /v1.44/containers/%s/start", ID64);
	CHECK(strstr(request_seen(), want) != NULL);

	/* Refused again after renegotiating: Docker's answer goes to the caller, once. */
	snprintf(nc.api, sizeof(nc.api), "1.41");
	const char *stubborn[] = {too_old, engine29, too_old};
	pid = serve_seq(stubborn, 3);
	rc = docker_container_start(&nc, ID64, &err);
	reap(pid);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 400 && strstr(err.message, "too old") != NULL,
	       "%d %s", rc, err.message);

	/* No version in common: refused with both ranges named, nothing else asked. */
	nc.api[0] = '\0';
	pid = serve_json(200, "OK", "{\"ApiVersion\":\"1.30\",\"MinAPIVersion\":\"1.12\"}");
	rc = docker_container_start(&nc, ID64, &err);
	reap(pid);
	CHECKF(rc == DOCKER_EVERSION && nc.api[0] == '\0' &&
	           strcmp(err.message, "Docker speaks API versions 1.12 to 1.30, runboxd 1.41 to "
	                               "1.44: none in common") == 0,
	       "%d %s", rc, err.message);
	CHECK(strncmp(request_seen(), "GET /version HTTP/1.1\r\n", 23) == 0 &&
	      strstr(request_seen(), "/start") == NULL);

	/* A daemon that could not be reached may come back as another version: ask again. */
	snprintf(nc.api, sizeof(nc.api), "1.41");
	nc.read_timeout_ms = SHORT_MS;
	pid = serve("", SERVE_HANG);
	rc = docker_container_start(&nc, ID64, &err);
	reap(pid);
	CHECK(rc == DOCKER_EIO && nc.api[0] == '\0');
	unlink(sock_path);
	snprintf(nc.api, sizeof(nc.api), "1.41");
	rc = docker_container_remove(&nc, ID64, &err);
	CHECK(rc == DOCKER_ECONNECT && nc.api[0] == '\0');

	/* The daemon's own failure to answer /version. */
	pid = serve_json(500, "Internal Server Error", "{\"message\":\"down\"}");
	rc = docker_negotiate(&nc, &err);
	reap(pid);
	CHECK(rc == DOCKER_ESTATUS && err.status == 500 && strcmp(err.message, "down") == 0);
}

/* Against a real daemon that has no images: every refusal must be Docker's own. */
static void test_real_docker(const char *sock)
{
	struct docker_ctx real = {
	    .socket_path = sock, .read_timeout_ms = 10000, .write_timeout_ms = 10000};
	static const char zero_id[] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	char mem[8192], id[DOCKER_MAX_ID], early[64];
	struct docker_error err;
	struct jbuf b;
	struct config c;
	struct seen s = {0};
	size_t early_len;
	int rc, fd = -1;

	jbuf_init(&b, mem, sizeof(mem));
	rc = docker_version(&real, &b, &err);
	CHECKF(rc == DOCKER_OK, "%d %s", rc, err.message);
	CHECK(json_check(mem, b.len) == JSON_OBJECT);
	CHECK(memmem(mem, b.len, "\"apiVersion\":\"1.4", 17) != NULL);
	/* Debian 12's daemon is 20.10: API 1.41, the oldest runboxd speaks. */
	CHECKF(strcmp(real.api, DOCKER_API_OLDEST) == 0, "%s", real.api);
	CHECK(memmem(mem, b.len, "\"runboxd\":{\"apiVersion\":\"1.41\"}", 31) != NULL);

	config_full(&c);
	snprintf(c.runtime, CONFIG_MAX_STR, "%s", "");
	rc = docker_container_create(&real, &c, "no-such-image:latest", "test", 0, id, &err);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 404 && strstr(err.message, "No such image"),
	       "%d %d %s", rc, err.status, err.message);

	rc = docker_container_start(&real, zero_id, &err);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 404 &&
	           strstr(err.message, "No such container"),
	       "%d %d %s", rc, err.status, err.message);
	rc = docker_container_attach(&real, zero_id, &fd, early, sizeof(early), &early_len, &err);
	CHECKF(rc == DOCKER_ESTATUS && err.status == 404 && fd == -1, "%d %d %s", rc, err.status,
	       err.message);
	rc = docker_container_remove(&real, zero_id, &err);
	CHECKF(rc == DOCKER_OK, "%d %s", rc, err.message);
	rc = docker_containers_labelled(&real, "runboxd-test-nobody", 3, on_container, &s, &err);
	CHECKF(rc == 0 && s.n == 0, "%d %s", rc, err.message);
}

int main(void)
{
	const char *real;

	serve_setup("test_docker");
	ctx.socket_path = sock_path;
	ctx.read_timeout_ms = GENEROUS_MS;
	ctx.write_timeout_ms = GENEROUS_MS;
	/* Settled, as after a negotiation: each fake answers one call. */
	snprintf(ctx.api, sizeof(ctx.api), "1.41");
	short_ctx = ctx;
	short_ctx.read_timeout_ms = SHORT_MS;
	short_ctx.write_timeout_ms = SHORT_MS;

	test_create_body();
	test_create_body_cmd();
	test_create_options();
	test_create_platform();
	test_image_split();
	test_pull_progress();
	test_image_pull();
	test_exec();
	test_version_translate();
	test_version_call();
	test_container_create();
	test_container_ops();
	test_container_failures();
	test_container_attach();
	test_containers_labelled();
	test_api_pick();
	test_negotiate();

	real = getenv("RUNBOXD_TEST_DOCKER_SOCK");
	if (real != NULL && real[0] != '\0')
		test_real_docker(real);
	else
		printf("test_docker: RUNBOXD_TEST_DOCKER_SOCK not set, real dockerd section "
		       "skipped\n");
	serve_cleanup();
	return check_done("test_docker");
}
