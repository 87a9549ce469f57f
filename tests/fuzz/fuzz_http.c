/*
 * libFuzzer target: request and response heads, raw and behind a fixed
 * valid start line (so that the fuzzer spends its time on header fields).
 * Asserts only what http.h promises: a successful parse consumed a valid
 * head, so the head alone parses the same, every strict prefix of it is
 * HTTP_INCOMPLETE, and errors carry one of the documented statuses; when
 * http_head_may_end says a longer input cannot hold the end of a head,
 * it does not.  Every
 * buffer handed to a parser is a heap block of exactly its length, so
 * ASan catches a read past len.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prefixes checked per successful parse: all of a short head, a sample of a long one. */
#define FUZZ_ALL_PREFIXES 512
#define FUZZ_SAMPLED_PREFIXES 32

static char *copy(const void *a, size_t na, const void *b, size_t nb)
{
	char *p = malloc(na + nb);

	if (p == NULL && na + nb > 0)
		abort();
	if (na > 0)
		memcpy(p, a, na);
	if (nb > 0)
		memcpy(p + na, b, nb);
	return p;
}

/* parse(buf[0..k)) for a sample of k < n, each in a block of exactly k bytes. */
static void each_prefix(const char *buf, size_t n, void (*check)(const char *, size_t))
{
	size_t k, step = n <= FUZZ_ALL_PREFIXES ? 1 : n / FUZZ_SAMPLED_PREFIXES;
	char *p;

	for (k = 0; k < n; k += step) {
		p = copy(buf, k, "", 0);
		check(p, k);
		free(p);
	}
	p = copy(buf, n - 1, "", 0);
	check(p, n - 1);
	free(p);
}

static void request_prefix_incomplete(const char *p, size_t k)
{
	struct http_request req;
	int status = 0;

	if (http_parse_request(p, k, &req, &status) != HTTP_INCOMPLETE)
		abort();
}

static void response_prefix_incomplete(const char *p, size_t k)
{
	struct http_response res;

	if (http_parse_response(p, k, &res) != HTTP_INCOMPLETE)
		abort();
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void check_headers(const struct http_header *h, size_t n)
{
	size_t i;

	if (n > HTTP_MAX_HEADERS)
		abort();
	for (i = 0; i < n; i++) {
		if (h[i].name_len == 0 || memchr(h[i].name, ':', h[i].name_len))
			abort();
		if (h[i].value_len > 0 &&
		    (is_ows(h[i].value[0]) || is_ows(h[i].value[h[i].value_len - 1])))
			abort();
		if (memchr(h[i].value, '\r', h[i].value_len) || memchr(h[i].value, '\n', h[i].value_len))
			abort();
	}
}

/* Same head parsed at two addresses: same lengths, same offsets. */
static void same_headers(const char *b1, const struct http_header *h1, const char *b2,
			 const struct http_header *h2, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (h1[i].name - b1 != h2[i].name - b2 || h1[i].name_len != h2[i].name_len ||
		    h1[i].value - b1 != h2[i].value - b2 || h1[i].value_len != h2[i].value_len)
			abort();
	}
}

/* The field-value helpers on every value: they read only inside it. */
static void fuzz_fields(const struct http_request *req)
{
	const struct http_header *h;
	size_t i;
	int rc;

	rc = http_request_host(req);
	if (rc != 0 && rc != -1)
		abort();
	for (i = 0; i < req->num_headers; i++) {
		h = &req->headers[i];
		(void)http_media_type_is(h->value, h->value_len, "application/json");
		(void)http_list_only(h->value, h->value_len, "identity");
		(void)http_authority_valid(h->value, h->value_len);
		if (http_header_unique(req->headers, req->num_headers, "Host", &h) == 0 && h != NULL &&
		    !http_token_eq(h->name, h->name_len, "Host"))
			abort();
	}
}

/*
 * The front's shortcut: after an incomplete parse of buf[0..k), a false
 * http_head_may_end means the head cannot have ended by size.
 */
static void fuzz_may_end(const char *buf, size_t size, size_t k)
{
	struct http_request req;
	int status = 0;
	char *p;

	if (k == 0 || k > size)
		return;
	p = copy(buf, k, "", 0);
	if (http_parse_request(p, k, &req, &status) == HTTP_INCOMPLETE &&
	    !http_head_may_end(buf, size, k) && http_parse_request(buf, size, &req, &status) > 0)
		abort();
	free(p);
}

static void fuzz_request(const char *buf, size_t size)
{
	static struct http_request req, again;
	struct http_framing f;
	int rc, status = 0;
	char *head;

	rc = http_parse_request(buf, size, &req, &status);
	if (rc == HTTP_INCOMPLETE)
		return;
	if (rc == HTTP_ERROR) {
		if (status != 400 && status != 414 && status != 431 && status != 501 && status != 505)
			abort();
		return;
	}
	if (rc <= 0 || (size_t)rc > size || (size_t)rc > HTTP_MAX_HEADER_BYTES)
		abort();
	if (req.method_len == 0 || req.method_len > HTTP_MAX_METHOD || req.target_len == 0 ||
	    req.target_len > HTTP_MAX_PATH || req.path_len > req.target_len ||
	    (req.minor_version != 0 && req.minor_version != 1))
		abort();
	check_headers(req.headers, req.num_headers);
	fuzz_fields(&req);

	head = copy(buf, (size_t)rc, "", 0);
	if (http_parse_request(head, (size_t)rc, &again, &status) != rc ||
	    again.num_headers != req.num_headers || again.target_len != req.target_len)
		abort();
	same_headers(buf, req.headers, head, again.headers, req.num_headers);
	each_prefix(head, (size_t)rc, request_prefix_incomplete);
	free(head);

	status = 0;
	rc = http_request_framing(&req, &f, &status);
	if (rc == 0 ? f.kind == HTTP_BODY_CLOSE
		    : (rc != -1 || (status != 400 && status != 501 && status != 417)))
		abort();
}

static void fuzz_response(const char *buf, size_t size)
{
	static struct http_response res, again;
	struct http_framing f;
	int rc;
	char *head;

	rc = http_parse_response(buf, size, &res);
	if (rc == HTTP_INCOMPLETE || rc == HTTP_ERROR)
		return;
	if (rc <= 0 || (size_t)rc > size || res.status < 100 || res.status > 999)
		abort();
	check_headers(res.headers, res.num_headers);

	head = copy(buf, (size_t)rc, "", 0);
	if (http_parse_response(head, (size_t)rc, &again) != rc ||
	    again.num_headers != res.num_headers || again.status != res.status)
		abort();
	same_headers(buf, res.headers, head, again.headers, res.num_headers);
	each_prefix(head, (size_t)rc, response_prefix_incomplete);
	free(head);

	rc = http_response_framing(&res, &f);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0 && (res.status < 200 || res.status == 204 || res.status == 304) &&
	    f.kind != HTTP_BODY_NONE)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char req_line[] = "POST /run HTTP/1.1\r\n";
	static const char status_line[] = "HTTP/1.1 200 OK\r\n";
	char *buf;

	buf = copy(data, size, "", 0);
	fuzz_request(buf, size);
	fuzz_response(buf, size);
	fuzz_may_end(buf, size, size > 0 ? (size_t)data[0] * size / 256 + 1 : 0);
	free(buf);

	buf = copy(req_line, sizeof(req_line) - 1, data, size);
	fuzz_request(buf, sizeof(req_line) - 1 + size);
	fuzz_may_end(buf, sizeof(req_line) - 1 + size, sizeof(req_line) - 1 + size / 2);
	free(buf);

	buf = copy(status_line, sizeof(status_line) - 1, data, size);
	fuzz_response(buf, sizeof(status_line) - 1 + size);
	free(buf);
	return 0;
}
