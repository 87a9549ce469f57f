/*
 * Docker Engine API calls, on the HTTP client of dhttp.c: every path is
 * sent under the API version prefix, every reply checked for the status
 * the call expects and parsed with the JSON helpers.  Never prints, never
 * exits: failures leave as a DOCKER_E* code with the reason in a
 * struct docker_error.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dhttp.h"
#include "docker.h"
#include "frame.h"
#include "http.h"
#include "json.h"

static int docker_fail(struct docker_error *err, int code, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fill err and return code: the one way failures leave this file. */
static int docker_fail(struct docker_error *err, int code, int status, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	va_start(ap, fmt);
	(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	dhttp_scrub(err->message, 1);
	return code;
}

/* A transport failure as this module's: the codes are the same numbers. */
static int docker_from_dhttp(struct docker_error *err, int rc, const struct dhttp_error *h)
{
	err->status = h->status;
	(void)snprintf(err->message, sizeof(err->message), "%s", h->message);
	return rc;
}

static int docker_status_error(int status, const char *body, size_t len, struct docker_error *err);
static int docker_url_encode(const char *s, size_t n, char *out, size_t outsz);

static void docker_http_ctx(const struct docker_ctx *ctx, struct dhttp_ctx *h)
{
	h->socket_path = ctx->socket_path;
	h->read_timeout_ms = ctx->read_timeout_ms;
	h->write_timeout_ms = ctx->write_timeout_ms;
}

/* path under the prefix of the API version in use; -1 if it does not fit. */
static int docker_path(const struct docker_ctx *ctx, char *out, size_t outsz, const char *path)
{
	int n = snprintf(out, outsz, "/v%s%s", ctx->api, path);

	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

/* Docker's 400 for a path whose version it does not speak (too old, or too new). */
static int docker_version_refused(int status, const char *body, size_t len)
{
	static const char what[] = "client version ";

	return status == 400 && body != NULL && memmem(body, len, what, sizeof(what) - 1) != NULL;
}

/*
 * One call on the versioned path; the reply body in out[0..*outlen).  A
 * call that did not reach the daemon forgets the version (a restarted
 * daemon may be another one); a call refused for its version negotiates
 * again and is sent once more.
 */
static int docker_request(struct docker_ctx *ctx, const char *method, const char *path,
                          const char *body, size_t body_len, int *status, char *out, size_t outsz,
                          size_t *outlen, struct docker_error *err)
{
	struct dhttp_ctx h;
	struct dhttp_error herr;
	char full[DOCKER_MAX_PATH];
	int rc, tries = 0;

	err->status = 0;
	err->message[0] = '\0';
	docker_http_ctx(ctx, &h);
	do {
		*outlen = 0;
		*status = 0;
		if (ctx->api[0] == '\0' && (rc = docker_negotiate(ctx, err)) != DOCKER_OK)
			return rc;
		if (docker_path(ctx, full, sizeof(full), path) < 0)
			return docker_fail(err, DOCKER_EPROTO, 0, "bad request to Docker: %s %.64s",
			                   method, path);
		rc = dhttp_call(&h, method, full, body, body_len, status, out, outsz, outlen, &herr);
		if (rc != DHTTP_OK) {
			ctx->api[0] = '\0';
			return docker_from_dhttp(err, rc, &herr);
		}
		if (!docker_version_refused(*status, out, *outlen))
			return DOCKER_OK;
		ctx->api[0] = '\0';
	} while (++tries < 2);
	return DOCKER_OK;
}

/* "major.minor" of digits into one comparable number; -1 if it is not one. */
static long docker_api_parse(const char *s)
{
	long major = 0, minor = 0;
	size_t i = 0, n;

	for (n = 0; s[i] >= '0' && s[i] <= '9' && n < 4; i++, n++)
		major = major * 10 + (s[i] - '0');
	if (n == 0 || s[i++] != '.')
		return -1;
	for (n = 0; s[i] >= '0' && s[i] <= '9' && n < 4; i++, n++)
		minor = minor * 10 + (s[i] - '0');
	if (n == 0 || s[i] != '\0')
		return -1;
	return major * 10000 + minor;
}

static void docker_api_format(long v, char *out, size_t outsz)
{
	unsigned major = (unsigned)(v / 10000) % 10000, minor = (unsigned)(v % 10000);

	(void)snprintf(out, outsz, "%u.%u", major, minor);
}

int docker_api_pick(const char *js, size_t len, char *api, size_t apisz, struct docker_error *err)
{
	char max_s[DOCKER_MAX_API_VERSION] = "", min_s[DOCKER_MAX_API_VERSION] = "";
	const char *v;
	size_t vlen;
	long max, min, oldest = docker_api_parse(DOCKER_API_OLDEST);
	long newest = docker_api_parse(DOCKER_API_NEWEST);

	api[0] = '\0';
	if (json_check(js, len) != JSON_OBJECT ||
	    json_member(js, len, "ApiVersion", &v, &vlen) != JSON_STRING ||
	    json_string_decode(v, vlen, max_s, sizeof(max_s)) < 1 ||
	    (max = docker_api_parse(max_s)) < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "Docker's /version has no valid ApiVersion");
	/* A daemon that names no minimum is taken to speak only its own version. */
	min = max;
	if (json_member(js, len, "MinAPIVersion", &v, &vlen) == JSON_STRING &&
	    (json_string_decode(v, vlen, min_s, sizeof(min_s)) < 1 ||
	     (min = docker_api_parse(min_s)) < 0 || min > max))
		return docker_fail(err, DOCKER_EPROTO, 0,
		                   "Docker's /version has no valid MinAPIVersion");
	if (min_s[0] == '\0')
		docker_api_format(min, min_s, sizeof(min_s));
	if (min > newest || max < oldest)
		return docker_fail(err, DOCKER_EVERSION, 0,
		                   "Docker speaks API versions %s to %s, runboxd %s to %s: "
		                   "none in common",
		                   min_s, max_s, DOCKER_API_OLDEST, DOCKER_API_NEWEST);
	docker_api_format(max < newest ? max : newest, api, apisz);
	return DOCKER_OK;
}

int docker_negotiate(struct docker_ctx *ctx, struct docker_error *err)
{
	struct dhttp_ctx h;
	struct dhttp_error herr;
	char body[DOCKER_MAX_REPLY];
	size_t len;
	int status, rc;

	ctx->api[0] = '\0';
	docker_http_ctx(ctx, &h);
	rc = dhttp_call(&h, "GET", "/version", NULL, 0, &status, body, sizeof(body), &len, &herr);
	if (rc != DHTTP_OK)
		return docker_from_dhttp(err, rc, &herr);
	if (status != 200)
		return docker_status_error(status, body, len, err);
	return docker_api_pick(body, len, ctx->api, sizeof(ctx->api), err);
}

int docker_ping(const struct docker_ctx *ctx, int timeout_ms, struct docker_error *err)
{
	struct dhttp_ctx h;
	struct dhttp_error herr;
	char body[DOCKER_QUOTE_MAX];
	size_t len;
	int status, rc;

	err->status = 0;
	err->message[0] = '\0';
	docker_http_ctx(ctx, &h);
	/* A health check answers quickly or says no: never the run's longer timeouts. */
	h.read_timeout_ms = timeout_ms < h.read_timeout_ms ? timeout_ms : h.read_timeout_ms;
	h.write_timeout_ms = timeout_ms < h.write_timeout_ms ? timeout_ms : h.write_timeout_ms;
	rc = dhttp_call(&h, "GET", "/_ping", NULL, 0, &status, body, sizeof(body), &len, &herr);
	if (rc != DHTTP_OK)
		return docker_from_dhttp(err, rc, &herr);
	if (status != 200)
		return docker_status_error(status, body, len, err);
	return DOCKER_OK;
}

/* Docker's {"message": "..."}, else a short text naming the status. */
static int docker_status_error(int status, const char *body, size_t len, struct docker_error *err)
{
	const char *v;
	size_t vlen, q;

	err->status = status;
	if (json_check(body, len) == JSON_OBJECT &&
	    json_member(body, len, "message", &v, &vlen) == JSON_STRING &&
	    json_string_decode(v, vlen, err->message, sizeof(err->message)) > 0) {
		dhttp_scrub(err->message, 1);
		return DOCKER_ESTATUS;
	}
	q = len < DOCKER_QUOTE_MAX ? len : DOCKER_QUOTE_MAX;
	(void)snprintf(err->message, sizeof(err->message), "Docker answered %d %s%s%.*s", status,
	               http_status_reason(status), q > 0 ? ": " : "", (int)q, body);
	/* An unparsed body is not known to be UTF-8: printable ASCII only. */
	dhttp_scrub(err->message, 0);
	return DOCKER_ESTATUS;
}

static const struct {
	const char *from, *to;
} docker_version_fields[] = {
    {"Version", "version"},
    {"ApiVersion", "apiVersion"},
    {"GitCommit", "gitCommit"},
    {"GoVersion", "goVersion"},
    {"Os", "os"},
    {"Arch", "arch"},
    {"KernelVersion", "kernelVersion"},
    {"BuildTime", "buildTime"},
};

/* "to":<string member from of object obj, "" if absent or not a string>. */
static int docker_put_str(struct jbuf *b, const char *to, const char *js, const jsmntok_t *tok,
                          int ntok, int obj, const char *from)
{
	char val[DOCKER_MAX_MESSAGE] = "";
	int v = json_tok_member(js, tok, ntok, obj, from);
	ssize_t n = 0;

	if (v >= 0 && tok[v].type == JSMN_STRING) {
		n = json_tok_string(js, &tok[v], val, sizeof(val));
		if (n < 0)
			return -1;
	}
	jbuf_str(b, to, strlen(to));
	jbuf_lit(b, ":");
	jbuf_str(b, val, (size_t)n);
	return 0;
}

static int docker_put_components(struct jbuf *b, const char *js, const jsmntok_t *tok, int ntok,
                                 int root)
{
	int arr = json_tok_member(js, tok, ntok, root, "Components");
	int i, k, first = 1;

	jbuf_lit(b, "\"components\":[");
	if (arr >= 0 && tok[arr].type == JSMN_ARRAY) {
		for (i = arr + 1, k = 0; k < tok[arr].size; k++) {
			if (i < 0 || i >= ntok)
				return -1;
			if (tok[i].type == JSMN_OBJECT) {
				jbuf_lit(b, first ? "{" : ",{");
				if (docker_put_str(b, "name", js, tok, ntok, i, "Name") < 0)
					return -1;
				jbuf_lit(b, ",");
				if (docker_put_str(b, "version", js, tok, ntok, i, "Version") < 0)
					return -1;
				jbuf_lit(b, "}");
				first = 0;
			}
			i = json_tok_skip(tok, ntok, i);
		}
	}
	jbuf_lit(b, "]");
	return 0;
}

int docker_version_translate(const char *js, size_t len, const char *api, struct jbuf *out)
{
	jsmntok_t tok[JSON_MAX_TOKENS];
	jsmn_parser p;
	size_t mark = out->len, i;
	int ntok, plat;

	if (len > (size_t)DOCKER_MAX_RESPONSE || json_check(js, len) != JSON_OBJECT)
		return -1;
	jsmn_init(&p);
	ntok = jsmn_parse(&p, js, len, tok, JSON_MAX_TOKENS);
	if (ntok < 1 || tok[0].type != JSMN_OBJECT)
		goto fail;
	jbuf_lit(out, "{\"docker\":{");
	for (i = 0; i < sizeof(docker_version_fields) / sizeof(docker_version_fields[0]); i++) {
		if (docker_put_str(out, docker_version_fields[i].to, js, tok, ntok, 0,
		                   docker_version_fields[i].from) < 0)
			goto fail;
		jbuf_lit(out, ",");
	}
	plat = json_tok_member(js, tok, ntok, 0, "Platform");
	jbuf_lit(out, "\"platform\":{");
	if (docker_put_str(out, "name", js, tok, ntok, plat, "Name") < 0)
		goto fail;
	jbuf_lit(out, "},");
	if (docker_put_components(out, js, tok, ntok, 0) < 0)
		goto fail;
	jbuf_lit(out, "}");
	if (api != NULL) {
		jbuf_lit(out, ",\"runboxd\":{\"apiVersion\":");
		jbuf_str(out, api, strlen(api));
		jbuf_lit(out, "}");
	}
	jbuf_lit(out, "}");
	if (!out->overflow)
		return 0;
fail:
	out->len = mark;
	return -1;
}

int docker_version(struct docker_ctx *ctx, struct jbuf *out, struct docker_error *err)
{
	char body[DOCKER_MAX_REPLY];
	size_t len;
	int status, rc;

	rc =
	    docker_request(ctx, "GET", "/version", NULL, 0, &status, body, sizeof(body), &len, err);
	if (rc != DOCKER_OK)
		return rc;
	if (status != 200)
		return docker_status_error(status, body, len, err);
	if (docker_version_translate(body, len, ctx->api, out) < 0)
		return docker_fail(err, DOCKER_EPROTO, status,
		                   "unexpected /version reply from Docker (or no room for it)");
	return DOCKER_OK;
}

static void docker_put_list(struct jbuf *b, const struct config_list *l)
{
	unsigned i;

	jbuf_lit(b, "[");
	for (i = 0; i < l->n && i < CONFIG_MAX_LIST; i++) {
		if (i > 0)
			jbuf_lit(b, ",");
		jbuf_str(b, l->item[i], strnlen(l->item[i], CONFIG_MAX_STR));
	}
	jbuf_lit(b, "]");
}

/* ,"key": */
static void docker_put_key(struct jbuf *b, const char *key)
{
	jbuf_lit(b, ",\"");
	jbuf_lit(b, key);
	jbuf_lit(b, "\":");
}

static void docker_put_cstr(struct jbuf *b, const char *key, const char *s)
{
	docker_put_key(b, key);
	jbuf_str(b, s, strnlen(s, CONFIG_MAX_STR));
}

static void docker_put_ulimit(struct jbuf *b, const char *name, int64_t soft, int64_t hard)
{
	jbuf_lit(b, "{\"Name\":\"");
	jbuf_lit(b, name);
	jbuf_lit(b, "\",\"Soft\":");
	jbuf_i64(b, soft);
	jbuf_lit(b, ",\"Hard\":");
	jbuf_i64(b, hard);
	jbuf_lit(b, "}");
}

static void docker_put_tmpfs(struct jbuf *b, const struct config *c)
{
	int n = 0;

	if (c->tmp_dir_path[0] == '\0' && c->work_dir_path[0] == '\0')
		return;
	docker_put_key(b, "Tmpfs");
	jbuf_lit(b, "{");
	if (c->tmp_dir_path[0] != '\0') {
		jbuf_str(b, c->tmp_dir_path, strnlen(c->tmp_dir_path, CONFIG_MAX_STR));
		jbuf_lit(b, ":");
		jbuf_str(b, c->tmp_dir_options, strnlen(c->tmp_dir_options, CONFIG_MAX_STR));
		n++;
	}
	if (c->work_dir_path[0] != '\0') {
		jbuf_lit(b, n ? "," : "");
		jbuf_str(b, c->work_dir_path, strnlen(c->work_dir_path, CONFIG_MAX_STR));
		jbuf_lit(b, ":");
		jbuf_str(b, c->work_dir_options, strnlen(c->work_dir_options, CONFIG_MAX_STR));
	}
	jbuf_lit(b, "}");
}

/* Bind mounts as Mounts objects: no "a:b:c" string for Docker to split again. */
static void docker_put_mounts(struct jbuf *b, const struct config_mounts *m)
{
	unsigned i;

	if (m->n == 0)
		return;
	docker_put_key(b, "Mounts");
	jbuf_lit(b, "[");
	for (i = 0; i < m->n && i < CONFIG_MAX_MOUNTS; i++) {
		jbuf_lit(b, i ? ",{\"Type\":\"bind\",\"Source\":" : "{\"Type\":\"bind\",\"Source\":");
		jbuf_str(b, m->item[i].host, strnlen(m->item[i].host, CONFIG_MAX_STR));
		jbuf_lit(b, ",\"Target\":");
		jbuf_str(b, m->item[i].target, strnlen(m->item[i].target, CONFIG_MAX_STR));
		jbuf_lit(b, m->item[i].rw ? ",\"ReadOnly\":false}" : ",\"ReadOnly\":true}");
	}
	jbuf_lit(b, "]");
}

/* A named network; else none when the network is disabled; else Docker's default. */
static void docker_put_network(struct jbuf *b, const struct config *c)
{
	if (c->network[0] != '\0')
		docker_put_cstr(b, "NetworkMode", c->network);
	else if (c->network_disabled)
		jbuf_lit(b, ",\"NetworkMode\":\"none\"");
	if (c->dns.n > 0) {
		docker_put_key(b, "Dns");
		docker_put_list(b, &c->dns);
	}
	if (c->dns_search.n > 0) {
		docker_put_key(b, "DnsSearch");
		docker_put_list(b, &c->dns_search);
	}
}

static void docker_put_host_config(struct jbuf *b, const struct config *c)
{
	jbuf_lit(b, ",\"HostConfig\":{\"Privileged\":false");
	if (c->memory > 0) {
		docker_put_key(b, "Memory");
		jbuf_i64(b, c->memory);
		docker_put_key(b, "MemorySwap");
		jbuf_i64(b, c->memory_swap == 0 ? c->memory : c->memory_swap);
	}
	if (c->memory_reservation > 0) {
		docker_put_key(b, "MemoryReservation");
		jbuf_i64(b, c->memory_reservation);
	}
	docker_put_key(b, "CapAdd");
	docker_put_list(b, &c->cap_add);
	docker_put_key(b, "CapDrop");
	docker_put_list(b, &c->cap_drop);
	docker_put_key(b, "Ulimits");
	jbuf_lit(b, "[");
	docker_put_ulimit(b, "nofile", c->nofile_soft, c->nofile_hard);
	jbuf_lit(b, ",");
	docker_put_ulimit(b, "nproc", c->nproc_soft, c->nproc_hard);
	jbuf_lit(b, "]");
	docker_put_key(b, "ReadonlyRootfs");
	jbuf_lit(b, c->readonly_rootfs ? "true" : "false");
	docker_put_tmpfs(b, c);
	docker_put_mounts(b, &c->mounts);
	if (c->pids_limit > 0) {
		docker_put_key(b, "PidsLimit");
		jbuf_i64(b, c->pids_limit);
	}
	if (c->nano_cpus > 0) {
		docker_put_key(b, "NanoCpus");
		jbuf_i64(b, c->nano_cpus);
	}
	if (c->no_new_privileges)
		jbuf_lit(b, ",\"SecurityOpt\":[\"no-new-privileges\"]");
	if (c->init)
		jbuf_lit(b, ",\"Init\":true");
	if (c->log_driver[0] != '\0') {
		docker_put_key(b, "LogConfig");
		jbuf_lit(b, "{\"Type\":");
		jbuf_str(b, c->log_driver, strnlen(c->log_driver, CONFIG_MAX_STR));
		jbuf_lit(b, ",\"Config\":{}}");
	}
	docker_put_network(b, c);
	if (c->runtime[0] != '\0')
		docker_put_cstr(b, "Runtime", c->runtime);
	jbuf_lit(b, "}");
}

int docker_create_body(const struct config *c, const char *image, const char *instance,
                       unsigned slot, char *out, size_t outsz)
{
	return docker_create_body_cmd(c, image, NULL, instance, slot, out, outsz);
}

int docker_create_body_cmd(const struct config *c, const char *image, const char *const *argv,
                           const char *instance, unsigned slot, char *out, size_t outsz)
{
	struct jbuf b;
	char slotstr[16];

	if (outsz == 0 || outsz - 1 > INT_MAX)
		return -1;
	/* One byte stays free for the NUL. */
	jbuf_init(&b, out, outsz - 1);
	(void)snprintf(slotstr, sizeof(slotstr), "%u", slot);
	jbuf_lit(&b, "{\"Hostname\":");
	jbuf_str(&b, c->hostname, strnlen(c->hostname, CONFIG_MAX_STR));
	docker_put_cstr(&b, "User", c->user);
	jbuf_lit(&b, ",\"AttachStdin\":true,\"AttachStdout\":true,\"AttachStderr\":true"
	             ",\"Tty\":false,\"OpenStdin\":true,\"StdinOnce\":true");
	docker_put_key(&b, "Image");
	jbuf_str(&b, image, strlen(image));
	if (argv != NULL) {
		/* The whole command as the entrypoint: the image's own entrypoint would wrap it. */
		docker_put_key(&b, "Entrypoint");
		jbuf_lit(&b, "[");
		for (size_t i = 0; argv[i] != NULL; i++) {
			jbuf_lit(&b, i > 0 ? "," : "");
			jbuf_str(&b, argv[i], strlen(argv[i]));
		}
		jbuf_lit(&b, "],\"Cmd\":[]");
	}
	if (c->workdir[0] != '\0')
		docker_put_cstr(&b, "WorkingDir", c->workdir);
	docker_put_key(&b, "NetworkDisabled");
	jbuf_lit(&b, c->network_disabled ? "true" : "false");
	jbuf_lit(&b, ",\"Labels\":{\"" DOCKER_LABEL_INSTANCE "\":");
	jbuf_str(&b, instance, strlen(instance));
	jbuf_lit(&b, ",\"" DOCKER_LABEL_SLOT "\":");
	jbuf_str(&b, slotstr, strlen(slotstr));
	jbuf_lit(&b, "}");
	docker_put_host_config(&b, c);
	jbuf_lit(&b, "}");
	if (b.overflow)
		return -1;
	out[b.len] = '\0';
	return (int)b.len;
}

/* Ids Docker hands out: 64 lowercase hex; a short id (12+) is accepted too. */
static int docker_id_valid(const char *id)
{
	size_t n = strnlen(id, DOCKER_ID_MAX + 1), i;

	if (n < DOCKER_ID_MIN || n > DOCKER_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

/* {"Id": "<hex>", "Warnings": null | [...], ...} into id. */
static int docker_create_reply(const char *js, size_t len, char *id)
{
	jsmntok_t tok[JSON_MAX_TOKENS];
	jsmn_parser p;
	int ntok, v;

	if (json_check(js, len) != JSON_OBJECT)
		return -1;
	jsmn_init(&p);
	ntok = jsmn_parse(&p, js, len, tok, JSON_MAX_TOKENS);
	if (ntok < 1)
		return -1;
	v = json_tok_member(js, tok, ntok, 0, "Id");
	if (v < 0 || json_tok_string(js, &tok[v], id, DOCKER_MAX_ID) < 0 || !docker_id_valid(id)) {
		id[0] = '\0';
		return -1;
	}
	return 0;
}

/* "&key=<value, percent-encoded>" ('?' first) appended at *o; -1 if it does not fit. */
static int docker_query_add(char *out, size_t outsz, size_t *o, const char *key, const char *val)
{
	size_t kl = strlen(key);

	if (*o + kl + 2 >= outsz)
		return -1;
	out[*o] = strchr(out, '?') == NULL ? '?' : '&';
	(*o)++;
	memcpy(out + *o, key, kl);
	*o += kl;
	out[(*o)++] = '=';
	if (docker_url_encode(val, strlen(val), out + *o, outsz - *o) < 0)
		return -1;
	*o += strlen(out + *o);
	return 0;
}

/* API 1.41: the platform of the image to use, as `docker create --platform`. */
static int docker_create_path(const struct config *c, char *path, size_t pathsz)
{
	size_t o = sizeof("/containers/create") - 1;

	memcpy(path, "/containers/create", o + 1);
	if (c->platform[0] == '\0')
		return 0;
	return docker_query_add(path, pathsz, &o, "platform", c->platform);
}

int docker_container_create(struct docker_ctx *ctx, const struct config *c, const char *image,
                            const char *instance, unsigned slot, char *id, struct docker_error *err)
{
	return docker_container_create_cmd(ctx, c, image, NULL, instance, slot, id, err);
}

int docker_container_create_cmd(struct docker_ctx *ctx, const struct config *c, const char *image,
                                const char *const *argv, const char *instance, unsigned slot,
                                char *id, struct docker_error *err)
{
	static char body[DOCKER_MAX_REQUEST_BODY]; /* a script's worth: not on the stack */
	char reply[DOCKER_MAX_REPLY];
	char path[HTTP_MAX_PATH];
	size_t len;
	int blen, status, rc;

	id[0] = '\0';
	blen = docker_create_body_cmd(c, image, argv, instance, slot, body, sizeof(body));
	if (blen < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "container configuration over %d bytes",
		                   DOCKER_MAX_REQUEST_BODY);
	if (docker_create_path(c, path, sizeof(path)) < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "DOCKER_CONTAINER_PLATFORM too long");
	rc = docker_request(ctx, "POST", path, body, (size_t)blen, &status, reply,
	                    sizeof(reply), &len, err);
	if (rc != DOCKER_OK)
		return rc;
	if (status != 201)
		return docker_status_error(status, reply, len, err);
	if (docker_create_reply(reply, len, id) < 0)
		return docker_fail(err, DOCKER_EPROTO, status,
		                   "Docker's reply to container create has no valid Id");
	return DOCKER_OK;
}

/* A call on /containers/<id><suffix> that succeeds on ok1 or ok2. */
static int docker_container_op(struct docker_ctx *ctx, const char *method, const char *id,
                               const char *suffix, int ok1, int ok2, struct docker_error *err)
{
	char path[DOCKER_MAX_ID + 64];
	char reply[DOCKER_MAX_REPLY];
	size_t len;
	int status, rc;

	if (!docker_id_valid(id))
		return docker_fail(err, DOCKER_EPROTO, 0, "invalid container id");
	(void)snprintf(path, sizeof(path), "/containers/%s%s", id, suffix);
	rc = docker_request(ctx, method, path, NULL, 0, &status, reply, sizeof(reply), &len, err);
	if (rc != DOCKER_OK)
		return rc;
	if (status != ok1 && status != ok2)
		return docker_status_error(status, reply, len, err);
	return DOCKER_OK;
}

int docker_container_start(struct docker_ctx *ctx, const char *id, struct docker_error *err)
{
	return docker_container_op(ctx, "POST", id, "/start", 204, 304, err);
}

int docker_container_exit(struct docker_ctx *ctx, const char *id, int *code, bool *killed,
                          struct docker_error *err)
{
	static char reply[DOCKER_MAX_INSPECT];
	char path[DOCKER_MAX_ID + 64];
	const char *st, *v;
	size_t len, st_len, v_len;
	int status, rc;
	long long n;

	*killed = false;
	*code = -1;
	/* The stream ends before Docker records the exit: wait for the record. */
	rc = docker_container_op(ctx, "POST", id, "/wait?condition=not-running", 200, 200, err);
	if (rc != DOCKER_OK)
		return rc;
	(void)snprintf(path, sizeof(path), "/containers/%s/json", id);
	rc = docker_request(ctx, "GET", path, NULL, 0, &status, reply, sizeof(reply), &len, err);
	if (rc != DOCKER_OK)
		return rc;
	if (status != 200)
		return docker_status_error(status, reply, len, err);
	if (json_member(reply, len, "State", &st, &st_len) != JSON_OBJECT)
		return docker_fail(err, DOCKER_EPROTO, status, "container inspect has no State");
	*killed = json_member(st, st_len, "OOMKilled", &v, &v_len) == JSON_TRUE;
	if (json_member(st, st_len, "ExitCode", &v, &v_len) != JSON_NUMBER || v_len > 12 ||
	    sscanf(v, "%lld", &n) != 1 || n < INT32_MIN || n > INT32_MAX)
		return docker_fail(err, DOCKER_EPROTO, status, "container inspect has no ExitCode");
	*code = (int)n;
	return DOCKER_OK;
}

int docker_container_oom_killed(struct docker_ctx *ctx, const char *id, bool *killed,
                                struct docker_error *err)
{
	int code;

	return docker_container_exit(ctx, id, &code, killed, err);
}

/* 409: it is not running (any more), which is what was wanted. */
int docker_container_kill(struct docker_ctx *ctx, const char *id, struct docker_error *err)
{
	return docker_container_op(ctx, "POST", id, "/kill", 204, 409, err);
}

int docker_container_remove(struct docker_ctx *ctx, const char *id, struct docker_error *err)
{
	return docker_container_op(ctx, "DELETE", id, "?v=1&force=1", 204, 404, err);
}

/*
 * A reply that hands over the raw stream: 101 (its framing headers mean
 * nothing once upgraded), or a 200 that frames nothing.  A 200 with a
 * length or chunking is a body, not a stream: reading it as frames would
 * misparse the daemon's (or an impostor's) bytes as program output.
 */
static int docker_attach_is_stream(const struct http_response *res)
{
	if (res->status == 101)
		return 1;
	return res->status == 200 &&
	       http_header_find(res->headers, res->num_headers, "Content-Length") == NULL &&
	       http_header_find(res->headers, res->num_headers, "Transfer-Encoding") == NULL;
}

int docker_container_attach(struct docker_ctx *ctx, const char *id, int *fd, char *early,
                            size_t early_sz, size_t *early_len, struct docker_error *err)
{
	struct dhttp_reply rep;
	struct dhttp_ctx h;
	struct dhttp_error herr;
	char path[DOCKER_MAX_ID + 64], full[DOCKER_MAX_PATH];
	char reply[DOCKER_MAX_REPLY];
	size_t n;
	int s = -1, rc;

	*fd = -1;
	*early_len = 0;
	err->status = 0;
	err->message[0] = '\0';
	if (!docker_id_valid(id))
		return docker_fail(err, DOCKER_EPROTO, 0, "invalid container id");
	(void)snprintf(path, sizeof(path),
	               "/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1", id);
	if (ctx->api[0] == '\0' && (rc = docker_negotiate(ctx, err)) != DOCKER_OK)
		return rc;
	if (docker_path(ctx, full, sizeof(full), path) < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "bad request to Docker: attach");
	docker_http_ctx(ctx, &h);
	rc = dhttp_exchange(&h, "POST", full, NULL, 0, "Connection: Upgrade\r\nUpgrade: tcp\r\n",
	                    &rep, &s, &herr);
	if (rc != DHTTP_OK) {
		ctx->api[0] = '\0';
		rc = docker_from_dhttp(err, rc, &herr);
		goto out;
	}
	if (rep.res.status == 200 && !docker_attach_is_stream(&rep.res)) {
		rc = docker_fail(err, DOCKER_EPROTO, 200,
		                 "Docker answered attach with a framed 200, not a stream");
		goto out;
	}
	if (!docker_attach_is_stream(&rep.res)) {
		rc = dhttp_read_body(s, &rep, "POST", reply, sizeof(reply), &n, &herr);
		if (rc == DHTTP_OK)
			rc = docker_status_error(rep.res.status, reply, n, err);
		else
			rc = docker_from_dhttp(err, rc, &herr);
		goto out;
	}
	n = rep.head_len - rep.head_end;
	if (n > early_sz) {
		rc = docker_fail(err, DOCKER_EPROTO, rep.res.status,
		                 "%zu stream bytes came with the attach reply, room for %zu", n,
		                 early_sz);
		goto out;
	}
	if (n > 0)
		memcpy(early, rep.head + rep.head_end, n);
	*early_len = n;
	*fd = s;
	s = -1;
out:
	if (s >= 0)
		close(s);
	return rc;
}

/* Percent-encode s into out (RFC 3986 unreserved pass); -1 if it does not fit. */
static int docker_url_encode(const char *s, size_t n, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (o + 4 > outsz)
			return -1;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

/*
 * /containers/json?all=1&limit=<n>&filters={"label":["<instance label>"(,"<slot label>")]}
 * The limit keeps the reply under DOCKER_MAX_RESPONSE however many
 * leftovers there are: Docker sends the newest n, a later sweep the rest.
 */
static int docker_list_path(const char *instance, int slot, char *path, size_t pathsz)
{
	char js[HTTP_MAX_PATH], label[CONFIG_MAX_STR + 64], pre[64];
	struct jbuf b;
	size_t pl = (size_t)snprintf(pre, sizeof(pre),
	                             "/containers/json?all=1&limit=%d&filters=", DOCKER_LIST_LIMIT);

	jbuf_init(&b, js, sizeof(js));
	(void)snprintf(label, sizeof(label), "%s=%s", DOCKER_LABEL_INSTANCE, instance);
	jbuf_lit(&b, "{\"label\":[");
	jbuf_str(&b, label, strlen(label));
	if (slot >= 0) {
		(void)snprintf(label, sizeof(label), "%s=%d", DOCKER_LABEL_SLOT, slot);
		jbuf_lit(&b, ",");
		jbuf_str(&b, label, strlen(label));
	}
	jbuf_lit(&b, "]}");
	if (b.overflow || strlen(instance) > CONFIG_MAX_STR || pathsz <= pl)
		return -1;
	memcpy(path, pre, pl + 1);
	return docker_url_encode(js, b.len, path + pl, pathsz - pl);
}

/* Decimal slot number, no sign, no leading junk, fits unsigned. */
static int docker_parse_slot(const char *s, unsigned *v)
{
	unsigned long long acc = 0;
	size_t i;

	if (s[0] == '\0')
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return -1;
		acc = acc * 10 + (unsigned)(s[i] - '0');
	}
	if (acc > UINT_MAX)
		return -1;
	*v = (unsigned)acc;
	return 0;
}

/* A string member of object obj decoded into out, or -1. */
static int docker_tok_str(const char *js, const jsmntok_t *tok, int ntok, int obj, const char *key,
                          char *out, size_t outsz)
{
	int v = json_tok_member(js, tok, ntok, obj, key);

	if (v < 0 || tok[v].type != JSMN_STRING)
		return -1;
	return json_tok_string(js, &tok[v], out, outsz) < 0 ? -1 : 0;
}

/*
 * One entry of the list: its id and slot, if it really is ours (the filter
 * was Docker's; this checks again before anyone removes it).
 */
/* Docker's "Created" (unix seconds), or -1 if absent or not a plain number. */
static int64_t docker_list_created(const char *js, const jsmntok_t *tok, int ntok, int obj)
{
	int v = json_tok_member(js, tok, ntok, obj, "Created");
	int64_t acc = 0;

	if (v < 0 || tok[v].type != JSMN_PRIMITIVE || tok[v].end - tok[v].start > 18)
		return -1;
	for (int i = tok[v].start; i < tok[v].end; i++) {
		if (js[i] < '0' || js[i] > '9')
			return -1;
		acc = acc * 10 + (js[i] - '0');
	}
	return tok[v].end > tok[v].start ? acc : -1;
}

static int docker_list_entry(const char *js, const jsmntok_t *tok, int ntok, int obj,
                             const char *instance, int slot, char *id, unsigned *slotv)
{
	char val[CONFIG_MAX_STR + 1];
	int labels;

	*slotv = 0;
	if (tok[obj].type != JSMN_OBJECT ||
	    docker_tok_str(js, tok, ntok, obj, "Id", id, DOCKER_MAX_ID) < 0 || !docker_id_valid(id))
		return -1;
	labels = json_tok_member(js, tok, ntok, obj, "Labels");
	if (labels < 0 || tok[labels].type != JSMN_OBJECT ||
	    docker_tok_str(js, tok, ntok, labels, DOCKER_LABEL_INSTANCE, val, sizeof(val)) < 0 ||
	    strcmp(val, instance) != 0 ||
	    docker_tok_str(js, tok, ntok, labels, DOCKER_LABEL_SLOT, val, sizeof(val)) < 0 ||
	    docker_parse_slot(val, slotv) < 0 || (slot >= 0 && *slotv != (unsigned)slot))
		return -1;
	return 0;
}

static int docker_list_parse(const char *js, size_t len, const char *instance, int slot,
                             void (*fn)(const char *id, unsigned slot, int64_t created, void *arg),
                             void *arg)
{
	jsmntok_t *tok = NULL;
	jsmn_parser p;
	char id[DOCKER_MAX_ID];
	unsigned slotv;
	int ntok, i, k, count = -1;

	if (json_check(js, len) != JSON_ARRAY)
		return -1;
	jsmn_init(&p);
	ntok = jsmn_parse(&p, js, len, NULL, 0);
	if (ntok < 1)
		return -1;
	tok = calloc((size_t)ntok, sizeof(*tok));
	if (tok == NULL)
		return -1;
	jsmn_init(&p);
	if (jsmn_parse(&p, js, len, tok, (unsigned)ntok) != ntok || tok[0].type != JSMN_ARRAY)
		goto out;
	count = 0;
	for (i = 1, k = 0; k < tok[0].size; k++) {
		if (i < 0 || i >= ntok) {
			count = -1;
			goto out;
		}
		if (docker_list_entry(js, tok, ntok, i, instance, slot, id, &slotv) == 0) {
			fn(id, slotv, docker_list_created(js, tok, ntok, i), arg);
			count++;
		}
		i = json_tok_skip(tok, ntok, i);
	}
out:
	free(tok);
	return count;
}

int docker_containers_labelled(struct docker_ctx *ctx, const char *instance, int slot,
                               void (*fn)(const char *id, unsigned slot, int64_t created, void *arg),
                               void *arg, struct docker_error *err)
{
	char path[HTTP_MAX_PATH + 1];
	char *body;
	size_t len;
	int status, rc;

	if (docker_list_path(instance, slot, path, sizeof(path)) < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "instance label too long for a filter");
	body = malloc((size_t)DOCKER_MAX_RESPONSE);
	if (body == NULL)
		return docker_fail(err, DOCKER_EIO, 0, "malloc: %s", strerror(errno));
	rc = docker_request(ctx, "GET", path, NULL, 0, &status, body, (size_t)DOCKER_MAX_RESPONSE,
	                    &len, err);
	if (rc != DOCKER_OK)
		goto out;
	if (status != 200) {
		rc = docker_status_error(status, body, len, err);
		goto out;
	}
	rc = docker_list_parse(body, len, instance, slot, fn, arg);
	if (rc < 0)
		rc = docker_fail(err, DOCKER_EPROTO, status,
		                 "malformed container list from Docker (or out of memory)");
out:
	free(body);
	return rc;
}

/* ---- image pulls ---- */

int docker_image_split(const char *image, char *name, size_t namesz, char *tag, size_t tagsz)
{
	const char *at = strchr(image, '@'), *slash, *colon;
	size_t nl;

	if (at != NULL) {
		/* name[:tag]@digest: the digest names the image; a tag beside it is dropped. */
		nl = (size_t)(at - image);
		slash = memrchr(image, '/', nl);
		colon = memrchr(slash ? slash : image, ':', nl - (size_t)(slash ? slash - image : 0));
		if (colon != NULL)
			nl = (size_t)(colon - image);
		if (nl >= namesz || strlen(at + 1) >= tagsz)
			return -1;
		memcpy(name, image, nl);
		name[nl] = '\0';
		memcpy(tag, at + 1, strlen(at + 1) + 1);
		return 0;
	}
	slash = strrchr(image, '/');
	colon = strrchr(slash ? slash : image, ':');
	nl = colon ? (size_t)(colon - image) : strlen(image);
	if (nl >= namesz || (colon ? strlen(colon + 1) : 6) >= tagsz)
		return -1;
	memcpy(name, image, nl);
	name[nl] = '\0';
	(void)snprintf(tag, tagsz, "%s", colon ? colon + 1 : "latest");
	return 0;
}

void docker_pull_init(struct docker_pull *p)
{
	p->len = 0;
	p->failed = false;
	p->bad = false;
	p->objects = 0;
	p->message[0] = '\0';
}

/* One object of the stream: an "error" member ends the pull as failed. */
static void docker_pull_line(struct docker_pull *p, const char *s, size_t n)
{
	const char *v, *d;
	size_t vlen, dlen;

	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n == 0)
		return;
	if (json_check(s, n) != JSON_OBJECT) {
		p->bad = true;
		return;
	}
	p->objects++;
	if (p->failed)
		return; /* the first error is the one that explains */
	if (json_member(s, n, "error", &v, &vlen) == JSON_STRING) {
		p->failed = true;
		if (json_string_decode(v, vlen, p->message, sizeof(p->message)) < 1)
			(void)snprintf(p->message, sizeof(p->message), "pull failed");
	} else if (json_member(s, n, "errorDetail", &d, &dlen) == JSON_OBJECT) {
		p->failed = true;
		if (json_member(d, dlen, "message", &v, &vlen) != JSON_STRING ||
		    json_string_decode(v, vlen, p->message, sizeof(p->message)) < 1)
			(void)snprintf(p->message, sizeof(p->message), "pull failed");
	}
	if (p->failed)
		dhttp_scrub(p->message, 1);
}

int docker_pull_feed(struct docker_pull *p, const char *buf, size_t n)
{
	const char *nl;
	size_t take;

	while (n > 0 && !p->bad) {
		nl = memchr(buf, '\n', n);
		take = nl ? (size_t)(nl - buf) : n;
		if (take > sizeof(p->line) - p->len) {
			p->bad = true; /* an object longer than any Docker writes */
			break;
		}
		memcpy(p->line + p->len, buf, take);
		p->len += take;
		if (nl == NULL)
			break;
		docker_pull_line(p, p->line, p->len);
		p->len = 0;
		buf += take + 1;
		n -= take + 1;
	}
	return p->bad ? -1 : 0;
}

int docker_pull_end(struct docker_pull *p)
{
	if (!p->bad && p->len > 0) {
		docker_pull_line(p, p->line, p->len);
		p->len = 0;
	}
	return p->bad ? -1 : 0;
}

static int docker_pull_sink(void *arg, const char *buf, size_t n)
{
	return docker_pull_feed(arg, buf, n);
}

/* /images/create?fromImage=<name>&tag=<tag>[&platform=<platform>]; -1 if it does not fit. */
static int docker_pull_path(const char *image, const char *platform, char *path, size_t pathsz)
{
	char name[DOCKER_MAX_IMAGE_REF + 1], tag[DOCKER_MAX_IMAGE_REF + 1];
	size_t o = sizeof("/images/create") - 1;

	if (docker_image_split(image, name, sizeof(name), tag, sizeof(tag)) < 0)
		return -1;
	memcpy(path, "/images/create", o + 1);
	if (docker_query_add(path, pathsz, &o, "fromImage", name) < 0 ||
	    docker_query_add(path, pathsz, &o, "tag", tag) < 0)
		return -1;
	return platform[0] == '\0' ? 0 : docker_query_add(path, pathsz, &o, "platform", platform);
}

int docker_image_pull(struct docker_ctx *ctx, const char *image, const char *platform,
                      int timeout_ms, struct docker_pull *prog, struct docker_error *err)
{
	char path[HTTP_MAX_PATH], full[DOCKER_MAX_PATH], reply[DOCKER_MAX_REPLY];
	struct dhttp_reply rep;
	struct dhttp_ctx h;
	struct dhttp_error herr;
	size_t n;
	int s = -1, rc;

	err->status = 0;
	err->message[0] = '\0';
	docker_pull_init(prog);
	if (docker_pull_path(image, platform, path, sizeof(path)) < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "cannot pull %.64s: reference too long", image);
	if (ctx->api[0] == '\0' && (rc = docker_negotiate(ctx, err)) != DOCKER_OK)
		return rc;
	if (docker_path(ctx, full, sizeof(full), path) < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "bad request to Docker: pull");
	docker_http_ctx(ctx, &h);
	/* One deadline for the whole pull: the reply streams until the last layer is in. */
	h.read_timeout_ms = timeout_ms;
	rc = dhttp_exchange(&h, "POST", full, NULL, 0, "Connection: close\r\n", &rep, &s, &herr);
	if (rc != DHTTP_OK) {
		ctx->api[0] = '\0';
		rc = docker_from_dhttp(err, rc, &herr);
		goto out;
	}
	if (rep.res.status != 200) {
		rc = dhttp_read_body(s, &rep, "POST", reply, sizeof(reply), &n, &herr);
		rc = rc == DHTTP_OK ? docker_status_error(rep.res.status, reply, n, err)
		                    : docker_from_dhttp(err, rc, &herr);
		goto out;
	}
	rc = dhttp_read_stream(s, &rep, docker_pull_sink, prog, &herr);
	if (rc != DHTTP_OK) {
		rc = prog->bad ? docker_fail(err, DOCKER_EPROTO, 200, "malformed pull progress from Docker")
		               : docker_from_dhttp(err, rc, &herr);
		goto out;
	}
	if (docker_pull_end(prog) < 0) {
		rc = docker_fail(err, DOCKER_EPROTO, 200, "malformed pull progress from Docker");
		goto out;
	}
	if (prog->failed) {
		rc = docker_fail(err, DOCKER_ESTATUS, 200, "%s", prog->message);
		goto out;
	}
	if (prog->objects == 0) {
		rc = docker_fail(err, DOCKER_EPROTO, 200, "Docker's pull reply carried no progress");
		goto out;
	}
	rc = DOCKER_OK;
out:
	if (s >= 0)
		close(s);
	return rc;
}

/* ---- prepare commands (docker exec) ---- */

/* Keeps the first bytes of an exec's stream for the message of a failure. */
struct docker_keep {
	char *out;
	size_t outsz, len;
};

static int docker_keep_sink(void *arg, const char *p, size_t n)
{
	struct docker_keep *k = arg;
	size_t room = k->outsz - k->len;

	if (n > room)
		n = room;
	memcpy(k->out + k->len, p, n);
	k->len += n;
	return 0;
}

/* The payload bytes of Docker's frames in raw[0..n), into text (NUL-terminated). */
static void docker_unframe(const char *raw, size_t n, char *text, size_t textsz)
{
	struct frame_parser fp;
	struct frame_event ev;
	size_t o = 0;
	ssize_t r;

	frame_init(&fp, UINT64_MAX);
	while (n > 0 && (r = frame_parse(&fp, raw, n, &ev)) > 0) {
		for (size_t i = 0; i < ev.len && o + 1 < textsz; i++)
			text[o++] = ev.data[i];
		raw += r;
		n -= (size_t)r;
	}
	text[o] = '\0';
}

int docker_exec_body(const char *user, const char *command, char *out, size_t outsz)
{
	struct jbuf b;

	if (outsz == 0 || outsz - 1 > INT_MAX)
		return -1;
	jbuf_init(&b, out, outsz - 1);
	jbuf_lit(&b, "{\"AttachStdin\":false,\"AttachStdout\":true,\"AttachStderr\":true"
	             ",\"Tty\":false,\"Privileged\":false,\"User\":");
	jbuf_str(&b, user, strlen(user));
	jbuf_lit(&b, ",\"Cmd\":[\"/bin/sh\",\"-c\",");
	jbuf_str(&b, command, strlen(command));
	jbuf_lit(&b, "]}");
	if (b.overflow)
		return -1;
	out[b.len] = '\0';
	return (int)b.len;
}

int docker_container_exec(struct docker_ctx *ctx, const char *id, const char *user,
                          const char *command, int *exit_code, char *output, size_t outsz,
                          struct docker_error *err)
{
	char body[DOCKER_MAX_REQUEST_BODY], reply[DOCKER_MAX_REPLY], eid[DOCKER_MAX_ID];
	char path[DOCKER_MAX_ID + 64], full[DOCKER_MAX_PATH], raw[DOCKER_MAX_MESSAGE];
	struct docker_keep keep = {.out = raw, .outsz = sizeof(raw)};
	static const char start[] = "{\"Detach\":false,\"Tty\":false}";
	struct dhttp_reply rep;
	struct dhttp_ctx h;
	struct dhttp_error herr;
	const char *v;
	size_t len, vlen;
	int blen, status, rc, s = -1;

	*exit_code = -1;
	output[0] = '\0';
	if (!docker_id_valid(id))
		return docker_fail(err, DOCKER_EPROTO, 0, "invalid container id");
	blen = docker_exec_body(user, command, body, sizeof(body));
	if (blen < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "exec configuration too large");
	(void)snprintf(path, sizeof(path), "/containers/%s/exec", id);
	rc = docker_request(ctx, "POST", path, body, (size_t)blen, &status, reply, sizeof(reply),
	                    &len, err);
	if (rc != DOCKER_OK)
		return rc;
	if (status != 201)
		return docker_status_error(status, reply, len, err);
	if (docker_create_reply(reply, len, eid) < 0)
		return docker_fail(err, DOCKER_EPROTO, status, "Docker's reply to exec create has no valid Id");
	(void)snprintf(path, sizeof(path), "/exec/%s/start", eid);
	if (docker_path(ctx, full, sizeof(full), path) < 0)
		return docker_fail(err, DOCKER_EPROTO, 0, "bad request to Docker: exec start");
	docker_http_ctx(ctx, &h);
	/* The reply is the command's output until it ends: all within the read timeout. */
	rc = dhttp_exchange(&h, "POST", full, start, sizeof(start) - 1, "Connection: close\r\n", &rep,
	                    &s, &herr);
	if (rc == DHTTP_OK && rep.res.status != 200) {
		rc = dhttp_read_body(s, &rep, "POST", reply, sizeof(reply), &len, &herr);
		rc = rc == DHTTP_OK ? docker_status_error(rep.res.status, reply, len, err)
		                    : docker_from_dhttp(err, rc, &herr);
		goto out;
	}
	if (rc == DHTTP_OK)
		rc = dhttp_read_stream(s, &rep, docker_keep_sink, &keep, &herr);
	if (rc != DHTTP_OK) {
		rc = docker_from_dhttp(err, rc, &herr);
		goto out;
	}
	docker_unframe(raw, keep.len, output, outsz);
	dhttp_scrub(output, 0);
	(void)snprintf(path, sizeof(path), "/exec/%s/json", eid);
	rc = docker_request(ctx, "GET", path, NULL, 0, &status, reply, sizeof(reply), &len, err);
	if (rc != DOCKER_OK)
		goto out;
	if (status != 200) {
		rc = docker_status_error(status, reply, len, err);
		goto out;
	}
	if (json_member(reply, len, "ExitCode", &v, &vlen) != JSON_NUMBER || vlen == 0 || vlen > 4 ||
	    strspn(v, "0123456789") < vlen) {
		rc = docker_fail(err, DOCKER_EPROTO, status, "exec inspect has no ExitCode");
		goto out;
	}
	*exit_code = atoi(v);
	rc = DOCKER_OK;
out:
	if (s >= 0)
		close(s);
	return rc;
}
