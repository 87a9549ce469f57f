/*
 * HTTP/1.1 parsing (RFC 9110, RFC 9112), picohttpparser's shape.
 *
 * Every parser here scans strictly left to right and decides on each byte
 * from the bytes before it only.  That is what makes the promise of
 * http.h hold: a strict prefix of a valid message runs out of bytes before
 * any check can fail, so it is HTTP_INCOMPLETE; an error is reported only
 * once the bytes seen cannot start any valid message.
 */
#include "http.h"

#include <stdio.h>
#include <string.h>

/* Result of one step of a parser: go on, or return the given value. */
#define STEP_OK 0

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* tchar of RFC 9110 5.6.2. */
static bool is_tchar(unsigned char c)
{
	return is_digit(c) || is_alpha(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Visible ASCII: what a request-target may hold. */
static bool is_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* field-vchar, SP, HTAB and obs-text: every byte but the CTLs and DEL. */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static unsigned char to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

bool http_token_eq(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (lit[i] == '\0' || to_lower((unsigned char)s[i]) != to_lower((unsigned char)lit[i]))
			return false;
	}
	return lit[n] == '\0';
}

const struct http_header *http_header_find(const struct http_header *h, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (http_token_eq(h[i].name, h[i].name_len, name))
			return &h[i];
	}
	return NULL;
}

int http_header_unique(const struct http_header *h, size_t n, const char *name,
		       const struct http_header **found)
{
	size_t i;

	*found = NULL;
	for (i = 0; i < n; i++) {
		if (!http_token_eq(h[i].name, h[i].name_len, name))
			continue;
		if (*found != NULL)
			return -1;
		*found = &h[i];
	}
	return 0;
}

/*
 * Every line ends with CR LF, and the other control bytes (but HTAB) are
 * errors anywhere in a head.  A CR just before last_len is looked at
 * again: the byte after it may show it to be lone.
 */
bool http_head_may_end(const char *buf, size_t len, size_t last_len)
{
	size_t i;

	if (last_len == 0 || len >= HTTP_MAX_HEADER_BYTES)
		return true;
	if (len <= last_len)
		return false;
	if (buf[last_len - 1] == '\r')
		return true;
	for (i = last_len; i < len; i++) {
		if (((unsigned char)buf[i] < 0x20 && buf[i] != '\t') || buf[i] == 0x7f)
			return true;
	}
	return false;
}

static size_t scan_token(const char *s, size_t n, size_t i)
{
	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	return i;
}

/* quoted-string at s[i] (its DQUOTE): the index past it, or 0. */
static size_t scan_quoted(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == '"')
			return i + 1;
		if (s[i] == '\\' && ++i == n)
			break;
		if (!is_value_char((unsigned char)s[i]))
			break;
	}
	return 0;
}

/* media-type of RFC 9110 8.3.1: type "/" subtype *( OWS ";" OWS [ parameter ] ). */
bool http_media_type_is(const char *v, size_t n, const char *type)
{
	size_t i, j;

	i = scan_token(v, n, 0);
	if (i == n || v[i] != '/')
		return false;
	i = scan_token(v, n, i + 1);
	if (!http_token_eq(v, i, type))
		return false;
	for (;;) {
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
		if (i == n)
			return true;
		if (v[i++] != ';')
			return false;
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
		if (i == n || v[i] == ';')
			continue;
		j = scan_token(v, n, i);
		if (j == i || j == n || v[j] != '=')
			return false;
		i = j + 1;
		j = i < n && v[i] == '"' ? scan_quoted(v, n, i) : scan_token(v, n, i);
		if (j <= i)
			return false;
		i = j;
	}
}

bool http_list_only(const char *v, size_t n, const char *token)
{
	size_t i = 0, start, end;

	while (i <= n) {
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
		for (start = i; i < n && v[i] != ','; i++)
			;
		for (end = i; end > start && is_ows((unsigned char)v[end - 1]); end--)
			;
		if (end > start && !http_token_eq(v + start, end - start, token))
			return false;
		i++;
	}
	return true;
}

/* CRLF at *pos; a bare LF or a lone CR is an error. */
static int parse_crlf(const char *buf, size_t len, size_t *pos)
{
	if (*pos >= len)
		return HTTP_INCOMPLETE;
	if (buf[*pos] != '\r')
		return HTTP_ERROR;
	if (*pos + 1 >= len)
		return HTTP_INCOMPLETE;
	if (buf[*pos + 1] != '\n')
		return HTTP_ERROR;
	*pos += 2;
	return STEP_OK;
}

/* "HTTP/" DIGIT "." DIGIT; the digits go to *major and *minor. */
static int parse_version(const char *buf, size_t len, size_t *pos, int *major, int *minor)
{
	static const char name[] = "HTTP/";
	size_t i, p = *pos;

	for (i = 0; i < sizeof(name) - 1; i++, p++) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		if (buf[p] != name[i])
			return HTTP_ERROR;
	}
	for (i = 0; i < 3; i++, p++) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		if (i == 1 ? buf[p] != '.' : !is_digit((unsigned char)buf[p]))
			return HTTP_ERROR;
	}
	*major = buf[p - 3] - '0';
	*minor = buf[p - 1] - '0';
	*pos = p;
	return STEP_OK;
}

/*
 * One field line: name ":" OWS value OWS CRLF.  Whitespace before the
 * colon is refused (RFC 9112 5.1): a proxy might read the name otherwise.
 */
static int parse_header_line(const char *buf, size_t len, size_t *pos, struct http_header *h)
{
	size_t p = *pos, end;
	unsigned char c;
	int rc;

	for (;; p++) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		c = (unsigned char)buf[p];
		if (c == ':')
			break;
		if (!is_tchar(c))
			return HTTP_ERROR;
	}
	if (p == *pos)
		return HTTP_ERROR;
	h->name = buf + *pos;
	h->name_len = p - *pos;
	for (p++; p < len && is_ows((unsigned char)buf[p]); p++)
		;
	h->value = buf + p;
	for (end = p;; p++) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		c = (unsigned char)buf[p];
		if (c == '\r')
			break;
		if (!is_value_char(c))
			return HTTP_ERROR;
		if (!is_ows(c))
			end = p + 1;
	}
	h->value_len = (size_t)(buf + end - h->value);
	rc = parse_crlf(buf, len, &p);
	*pos = p;
	return rc;
}

/*
 * Field lines up to and including the empty line.  A line that starts
 * with SP or HTAB (obs-fold) fails the name check.  On HTTP_ERROR *status
 * is 431 for too many fields, else 400.
 */
static int parse_headers(const char *buf, size_t len, size_t *pos, struct http_header *h,
			 size_t *num, int *status)
{
	int rc;

	*num = 0;
	for (;;) {
		if (*pos >= len)
			return HTTP_INCOMPLETE;
		if (buf[*pos] == '\r') {
			rc = parse_crlf(buf, len, pos);
			break;
		}
		if (*num == HTTP_MAX_HEADERS) {
			*status = 431;
			return HTTP_ERROR;
		}
		rc = parse_header_line(buf, len, pos, &h[*num]);
		if (rc != STEP_OK)
			break;
		(*num)++;
	}
	if (rc == HTTP_ERROR)
		*status = 400;
	return rc;
}

/*
 * One empty line before the request line is skipped (RFC 9112 2.2): some
 * clients send a CRLF after a previous request's body.  Only one: more is
 * not a request.
 */
static int skip_empty_line(const char *buf, size_t len, size_t *pos)
{
	if (len > 0 && buf[0] == '\r')
		return parse_crlf(buf, len, pos);
	return STEP_OK;
}

/* method SP: 1*tchar, at most HTTP_MAX_METHOD of them (else 501). */
static int parse_method(const char *buf, size_t len, size_t *pos, struct http_request *req,
			int *status)
{
	size_t start = *pos, p;
	unsigned char c;

	*status = 400;
	for (p = start;; p++) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		c = (unsigned char)buf[p];
		if (c == ' ')
			break;
		if (!is_tchar(c))
			return HTTP_ERROR;
		if (p - start == HTTP_MAX_METHOD) {
			*status = 501;
			return HTTP_ERROR;
		}
	}
	if (p == start)
		return HTTP_ERROR;
	req->method = buf + start;
	req->method_len = p - start;
	*pos = p + 1;
	return STEP_OK;
}

/* unreserved / sub-delims of RFC 3986: what a reg-name holds besides %XX. */
static bool is_host_char(unsigned char c)
{
	return is_digit(c) || is_alpha(c) || (c != 0 && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/*
 * host [":" port] (RFC 3986 3.2.2, 3.2.3): a reg-name (IPv4 addresses
 * are one) with valid percent-escapes, or an IP-literal in brackets; no
 * userinfo.  Empty is valid: a Host field may be.
 */
bool http_authority_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n > 0 && s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++) {
			if (!is_host_char((unsigned char)s[i]) && s[i] != ':')
				return false;
		}
		if (i == n || i == 1)
			return false;
		i++;
	} else {
		for (; i < n && s[i] != ':'; i++) {
			if (s[i] == '%' && n - i > 2 && hex_value((unsigned char)s[i + 1]) >= 0 &&
			    hex_value((unsigned char)s[i + 2]) >= 0)
				i += 2;
			else if (!is_host_char((unsigned char)s[i]))
				return false;
		}
	}
	if (i == n)
		return true;
	if (s[i++] != ':')
		return false;
	for (; i < n; i++) {
		if (!is_digit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/*
 * absolute-form (RFC 9112 3.2.2): "http://" or "https://" (any case),
 * authority, then path and query as in origin-form.  A server must accept
 * it; runboxd routes by the path and, as the RFC asks, ignores the
 * authority for that.  The path is empty when none follows the authority.
 */
static bool parse_absolute(struct http_request *req)
{
	const char *t = req->target;
	size_t n = req->target_len, i, a;

	if (n > 7 && http_token_eq(t, 7, "http://"))
		a = 7;
	else if (n > 8 && http_token_eq(t, 8, "https://"))
		a = 8;
	else
		return false;
	for (i = a; i < n && t[i] != '/' && t[i] != '?'; i++)
		;
	if (!http_authority_valid(t + a, i - a) || i == a)
		return false;
	req->path = t + i;
	return true;
}

/*
 * request-target SP: origin-form ("/..."), asterisk-form ("*") or
 * absolute-form; authority-form is CONNECT's, and runboxd is no proxy.
 * Longer than HTTP_MAX_PATH: 414.
 */
static int parse_target(const char *buf, size_t len, size_t *pos, struct http_request *req,
			int *status)
{
	size_t start = *pos, p, n;
	unsigned char c;

	*status = 400;
	for (p = start;; p++) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		c = (unsigned char)buf[p];
		n = p - start;
		if (c == ' ' && n > 0)
			break;
		if (!is_vchar(c) || (n == 1 && buf[start] == '*'))
			return HTTP_ERROR;
		if (n == HTTP_MAX_PATH) {
			*status = 414;
			return HTTP_ERROR;
		}
	}
	req->target = buf + start;
	req->target_len = p - start;
	req->path = req->target;
	if (buf[start] != '/' && buf[start] != '*' && !parse_absolute(req))
		return HTTP_ERROR;
	for (req->path_len = 0; req->path + req->path_len < buf + p; req->path_len++) {
		if (req->path[req->path_len] == '?')
			break;
	}
	*pos = p + 1;
	return STEP_OK;
}

/* HTTP-version CRLF; a well-formed version other than 1.0 and 1.1: 505. */
static int parse_request_version(const char *buf, size_t len, size_t *pos,
				 struct http_request *req, int *status)
{
	int major = 0, rc;

	*status = 400;
	rc = parse_version(buf, len, pos, &major, &req->minor_version);
	if (rc == STEP_OK)
		rc = parse_crlf(buf, len, pos);
	if (rc == STEP_OK && (major != 1 || req->minor_version > 1)) {
		*status = 505;
		rc = HTTP_ERROR;
	}
	return rc;
}

int http_request_host(const struct http_request *req)
{
	const struct http_header *h;

	if (http_header_unique(req->headers, req->num_headers, "Host", &h) < 0)
		return -1;
	if (h == NULL)
		return req->minor_version >= 1 ? -1 : 0;
	return http_authority_valid(h->value, h->value_len) ? 0 : -1;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req, int *status)
{
	size_t pos = 0;
	bool clipped = len > HTTP_MAX_HEADER_BYTES;
	int rc;

	/* No valid head is longer: stop there rather than scan on. */
	if (clipped)
		len = HTTP_MAX_HEADER_BYTES;
	req->num_headers = 0;
	*status = 400;
	rc = skip_empty_line(buf, len, &pos);
	if (rc == STEP_OK)
		rc = parse_method(buf, len, &pos, req, status);
	if (rc == STEP_OK)
		rc = parse_target(buf, len, &pos, req, status);
	if (rc == STEP_OK)
		rc = parse_request_version(buf, len, &pos, req, status);
	if (rc == STEP_OK)
		rc = parse_headers(buf, len, &pos, req->headers, &req->num_headers, status);
	if (rc == HTTP_INCOMPLETE && clipped) {
		*status = 431;
		rc = HTTP_ERROR;
	}
	return rc == STEP_OK ? (int)pos : rc;
}

/* Status line: HTTP-version SP 3DIGIT [ SP reason ] CRLF. */
static int parse_status_line(const char *buf, size_t len, size_t *pos, struct http_response *res)
{
	size_t p;
	int major = 0, rc, i;

	rc = parse_version(buf, len, pos, &major, &res->minor_version);
	if (rc != STEP_OK)
		return rc;
	if (major != 1 || res->minor_version > 1)
		return HTTP_ERROR;
	p = *pos;
	res->status = 0;
	for (i = 0; i < 4; i++, p++) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		if (i == 0 ? buf[p] != ' ' : !is_digit((unsigned char)buf[p]))
			return HTTP_ERROR;
		if (i > 0)
			res->status = res->status * 10 + (buf[p] - '0');
	}
	if (res->status < 100)
		return HTTP_ERROR;
	/* Docker always sends the SP; be lenient when the reason is absent. */
	if (p < len && buf[p] == ' ')
		p++;
	else if (p < len && buf[p] != '\r')
		return HTTP_ERROR;
	res->reason = buf + p;
	for (;; p++) {
		if (p >= len)
			return HTTP_INCOMPLETE;
		if (buf[p] == '\r')
			break;
		if (!is_value_char((unsigned char)buf[p]))
			return HTTP_ERROR;
	}
	res->reason_len = (size_t)(buf + p - res->reason);
	rc = parse_crlf(buf, len, &p);
	*pos = p;
	return rc;
}

int http_parse_response(const char *buf, size_t len, struct http_response *res)
{
	size_t pos = 0;
	bool clipped = len > DOCKER_MAX_RESPONSE_HEAD;
	int rc, status;

	if (clipped)
		len = DOCKER_MAX_RESPONSE_HEAD;
	res->num_headers = 0;
	rc = parse_status_line(buf, len, &pos, res);
	if (rc == STEP_OK)
		rc = parse_headers(buf, len, &pos, res->headers, &res->num_headers, &status);
	if (rc == HTTP_INCOMPLETE && clipped)
		rc = HTTP_ERROR;
	return rc == STEP_OK ? (int)pos : rc;
}

/*
 * One Content-Length value: a list of 1*DIGIT (a sender may have merged
 * repeated fields), all equal to *out if *found.  Leading zeros are valid
 * and not counted; at most HTTP_MAX_LENGTH_DIGITS digits more, so the
 * value always fits a uint64_t.  Returns 0 or -1.
 */
static int parse_content_length(const char *v, size_t n, uint64_t *out, bool *found)
{
	size_t i = 0, digits, significant;
	uint64_t value;

	for (;;) {
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
		value = 0;
		for (digits = significant = 0; i < n && is_digit((unsigned char)v[i]); i++, digits++) {
			if (value == 0 && v[i] == '0')
				continue;
			if (significant++ == HTTP_MAX_LENGTH_DIGITS)
				return -1;
			value = value * 10 + (uint64_t)(v[i] - '0');
		}
		if (digits == 0 || (*found && value != *out))
			return -1;
		*out = value;
		*found = true;
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
		if (i == n)
			return 0;
		if (v[i++] != ',')
			return -1;
	}
}

/* What the framing fields of a message say, before judging them. */
struct framing_fields {
	bool cl_found, cl_bad;
	uint64_t cl;
	size_t te_count;
	bool te_chunked; /* exactly one Transfer-Encoding, exactly "chunked" */
};

static void scan_framing(const struct http_header *h, size_t n, struct framing_fields *ff)
{
	size_t i;

	memset(ff, 0, sizeof(*ff));
	for (i = 0; i < n; i++) {
		if (http_token_eq(h[i].name, h[i].name_len, "Content-Length")) {
			if (parse_content_length(h[i].value, h[i].value_len, &ff->cl, &ff->cl_found) < 0)
				ff->cl_bad = true;
		} else if (http_token_eq(h[i].name, h[i].name_len, "Transfer-Encoding")) {
			ff->te_count++;
			ff->te_chunked = http_token_eq(h[i].value, h[i].value_len, "chunked");
		}
	}
	if (ff->te_count != 1)
		ff->te_chunked = false;
}

/* Every Expect must be 100-continue (RFC 9110 10.1.1), else 417. */
static int check_expect(const struct http_request *req, struct http_framing *f)
{
	size_t i;
	const struct http_header *h;

	for (i = 0; i < req->num_headers; i++) {
		h = &req->headers[i];
		if (!http_token_eq(h->name, h->name_len, "Expect"))
			continue;
		if (!http_token_eq(h->value, h->value_len, "100-continue"))
			return -1;
		/* An HTTP/1.0 client does not wait for the interim answer. */
		f->expect_continue = req->minor_version >= 1;
	}
	return 0;
}

int http_request_framing(const struct http_request *req, struct http_framing *f, int *status)
{
	struct framing_fields ff;

	memset(f, 0, sizeof(*f));
	scan_framing(req->headers, req->num_headers, &ff);
	*status = 400;
	/* Both, or chunked from a 1.0 client: the request-smuggling shapes. */
	if (ff.te_count > 0 && (req->minor_version == 0 || ff.cl_found || ff.cl_bad))
		return -1;
	if (ff.cl_bad)
		return -1;
	*status = 501;
	if (ff.te_count > 0 && !ff.te_chunked)
		return -1;
	*status = 417;
	if (check_expect(req, f) < 0)
		return -1;
	*status = 0;
	if (ff.te_chunked) {
		f->kind = HTTP_BODY_CHUNKED;
	} else if (ff.cl_found) {
		f->kind = HTTP_BODY_LENGTH;
		f->content_length = ff.cl;
	}
	return 0;
}

/*
 * Docker never sends both framings, nor a coding other than chunked; a
 * reply that does is refused rather than read until close.
 */
int http_response_framing(const struct http_response *res, struct http_framing *f)
{
	struct framing_fields ff;

	memset(f, 0, sizeof(*f));
	if (res->status < 200 || res->status == 204 || res->status == 304)
		return 0;
	scan_framing(res->headers, res->num_headers, &ff);
	if (ff.cl_bad || (ff.te_count > 0 && (ff.cl_found || !ff.te_chunked)))
		return -1;
	if (ff.te_chunked) {
		f->kind = HTTP_BODY_CHUNKED;
	} else if (ff.cl_found) {
		f->kind = HTTP_BODY_LENGTH;
		f->content_length = ff.cl;
	} else {
		f->kind = HTTP_BODY_CLOSE;
	}
	return 0;
}

/*
 * Chunked decoding, one state per position in RFC 9112 7.1.  Zero is the
 * start state, so a zeroed struct is ready.  d->hex_digits counts the
 * digits of the current chunk-size; d->trailer_bytes counts the bytes of
 * chunk extensions and trailer fields together, metadata that one
 * HTTP_MAX_HEADER_BYTES budget bounds for the whole body.
 */
enum chunk_state {
	CH_SIZE,          /* chunk-size digits */
	CH_SIZE_WS,       /* BWS after the size: only ";" may follow */
	CH_EXT,           /* chunk-ext, ignored up to CR */
	CH_SIZE_LF,       /* LF of the size line */
	CH_DATA,          /* d->remaining bytes of data */
	CH_DATA_CR,       /* CRLF after data */
	CH_DATA_LF,
	CH_TRAILER,       /* start of a trailer line, or the final CRLF; */
			  /* this and the states below count trailer_bytes */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
	CH_ERROR,
};

/*
 * A size digit.  Digits read while the size is still zero are leading
 * zeros: valid, but they say nothing, so after the first they count
 * against the metadata budget rather than against the
 * HTTP_MAX_CHUNK_DIGITS that keep the size from overflowing.
 */
static int chunk_size_digit(struct http_chunked *d, int v)
{
	if (d->remaining == 0 && d->hex_digits > 0 && ++d->trailer_bytes > HTTP_MAX_HEADER_BYTES)
		return -1;
	if (d->remaining >> (4 * (HTTP_MAX_CHUNK_DIGITS - 1)) != 0)
		return -1;
	d->hex_digits++;
	d->remaining = d->remaining * 16 + (uint64_t)v;
	return 0;
}

static int chunk_size_byte(struct http_chunked *d, unsigned char c)
{
	int v = hex_value(c);

	if (v >= 0 && d->state == CH_SIZE)
		return chunk_size_digit(d, v);
	if (d->hex_digits == 0)
		return -1;
	if (c == '\r' && d->state != CH_SIZE_WS) {
		d->state = CH_SIZE_LF;
		return 0;
	}
	if (++d->trailer_bytes > HTTP_MAX_HEADER_BYTES)
		return -1;
	if (c == ';' || (d->state == CH_EXT && is_value_char(c)))
		d->state = CH_EXT;
	else if (is_ows(c) && d->state != CH_EXT)
		d->state = CH_SIZE_WS;
	else
		return -1;
	return 0;
}

static int chunk_trailer_byte(struct http_chunked *d, unsigned char c)
{
	switch (d->state) {
	case CH_TRAILER:
		if (c == '\r')
			d->state = CH_END_LF;
		else if (is_tchar(c))
			d->state = CH_TRAILER_NAME;
		else
			return -1;
		return 0;
	case CH_TRAILER_NAME:
		if (c == ':')
			d->state = CH_TRAILER_VALUE;
		else if (!is_tchar(c))
			return -1;
		return 0;
	case CH_TRAILER_VALUE:
		if (c == '\r')
			d->state = CH_TRAILER_LF;
		else if (!is_value_char(c))
			return -1;
		return 0;
	default:
		return -1;
	}
}

/* One byte outside chunk data: 0 or -1. */
static int chunk_byte(struct http_chunked *d, unsigned char c)
{
	if (d->state >= CH_TRAILER && ++d->trailer_bytes > HTTP_MAX_HEADER_BYTES)
		return -1;
	switch (d->state) {
	case CH_SIZE:
	case CH_SIZE_WS:
	case CH_EXT:
		return chunk_size_byte(d, c);
	case CH_SIZE_LF:
		if (c != '\n')
			return -1;
		d->state = d->remaining > 0 ? CH_DATA : CH_TRAILER;
		return 0;
	case CH_DATA_CR:
		d->state = CH_DATA_LF;
		return c == '\r' ? 0 : -1;
	case CH_DATA_LF:
		d->state = CH_SIZE;
		d->hex_digits = 0;
		return c == '\n' ? 0 : -1;
	case CH_TRAILER_LF:
		d->state = CH_TRAILER;
		return c == '\n' ? 0 : -1;
	case CH_END_LF:
		d->state = CH_DONE;
		return c == '\n' ? 0 : -1;
	default:
		return chunk_trailer_byte(d, c);
	}
}

ssize_t http_chunked_decode(struct http_chunked *d, char *buf, size_t *len)
{
	size_t src = 0, dst = 0, n = *len, take;

	while (src < n && d->state != CH_DONE && d->state != CH_ERROR) {
		if (d->state == CH_DATA) {
			take = n - src;
			if (take > d->remaining)
				take = (size_t)d->remaining;
			memmove(buf + dst, buf + src, take);
			dst += take;
			src += take;
			d->remaining -= take;
			if (d->remaining == 0)
				d->state = CH_DATA_CR;
		} else if (chunk_byte(d, (unsigned char)buf[src++]) < 0) {
			d->state = CH_ERROR;
		}
	}
	*len = dst;
	if (d->state == CH_ERROR)
		return HTTP_ERROR;
	if (d->state != CH_DONE)
		return HTTP_INCOMPLETE;
	/* As phr_decode_chunked: what follows the body now follows the data. */
	memmove(buf + dst, buf + src, n - src);
	return (ssize_t)(n - src);
}

const char *http_status_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{100, "Continue"},
		{101, "Switching Protocols"},
		{200, "OK"},
		{201, "Created"},
		{204, "No Content"},
		{304, "Not Modified"},
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{408, "Request Timeout"},
		{409, "Conflict"},
		{411, "Length Required"},
		{413, "Content Too Large"},
		{414, "URI Too Long"},
		{415, "Unsupported Media Type"},
		{417, "Expectation Failed"},
		{429, "Too Many Requests"},
		{431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
		{504, "Gateway Timeout"},
		{505, "HTTP Version Not Supported"},
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (reasons[i].status == status)
			return reasons[i].reason;
	}
	return "Unknown";
}

int http_format_head(char *out, size_t outsz, int status, const char *content_type,
		     size_t content_length, const char *extra)
{
	char length[sizeof("Content-Length: \r\n") + 20] = "";
	int n;

	/* A CR or LF in the type would let it write a header of its own. */
	if (status < 100 || status > 999 || (content_type && strpbrk(content_type, "\r\n")))
		return -1;
	if (content_length != HTTP_NO_LENGTH)
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n", content_length);
	n = snprintf(out, outsz,
		     "HTTP/1.1 %d %s\r\n"
		     "%s%s%s"
		     "%s"
		     "Connection: close\r\n"
		     "%s\r\n",
		     status, http_status_reason(status), content_type ? "Content-Type: " : "",
		     content_type ? content_type : "", content_type ? "\r\n" : "", length,
		     extra ? extra : "");
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return n;
}

int http_query_param(const struct http_request *req, const char *name, const char **val,
		     size_t *vlen)
{
	const char *q = req->path + req->path_len, *end = req->target + req->target_len;
	size_t nlen = strlen(name);
	int found = 0;

	*val = NULL;
	*vlen = 0;
	if (q >= end || *q != '?')
		return 0;
	for (q++; q <= end;) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(stop - q));
		const char *kend = eq ? eq : stop;

		if ((size_t)(kend - q) == nlen && memcmp(q, name, nlen) == 0) {
			if (found++)
				return -1;
			*val = eq ? eq + 1 : stop;
			*vlen = (size_t)(stop - *val);
		}
		if (amp == NULL)
			break;
		q = amp + 1;
	}
	return found;
}

const char *http_request_token(const struct http_request *req, const char **tok, size_t *len)
{
	const struct http_header *x, *k, *a;
	const char *v;
	size_t n;

	*tok = NULL;
	*len = 0;
	if (http_header_unique(req->headers, req->num_headers, "X-Access-Token", &x) < 0)
		return "More than one X-Access-Token field";
	if (http_header_unique(req->headers, req->num_headers, "X-API-Key", &k) < 0)
		return "More than one X-API-Key field";
	if (http_header_unique(req->headers, req->num_headers, "Authorization", &a) < 0)
		return "More than one Authorization field";
	/* X-API-Key is seed 004's name for the same token. */
	if (x != NULL && k != NULL && (k->value_len != x->value_len || memcmp(k->value, x->value, k->value_len) != 0))
		return "X-Access-Token and X-API-Key differ";
	if (x == NULL)
		x = k;
	if (x != NULL) {
		*tok = x->value;
		*len = x->value_len;
	}
	/* RFC 6750 2.1: "Bearer" (any case), 1*SP, the token. */
	if (a == NULL || a->value_len < 8 || !http_token_eq(a->value, 6, "Bearer") ||
	    a->value[6] != ' ')
		return NULL;
	for (v = a->value + 7, n = a->value_len - 7; n > 0 && *v == ' '; v++, n--)
		;
	if (x != NULL && (n != x->value_len || memcmp(v, x->value, n) != 0))
		return "The token fields differ";
	*tok = v;
	*len = n;
	return NULL;
}

const char *http_request_fields(const struct http_request *req, const char **tok, size_t *len)
{
	const struct http_header *h;

	*tok = NULL;
	*len = 0;
	if (http_request_host(req) < 0)
		return "Host field missing, repeated or invalid";
	if (http_header_unique(req->headers, req->num_headers, "Content-Type", &h) < 0)
		return "More than one Content-Type field";
	return http_request_token(req, tok, len);
}

void http_route_path(const struct http_request *req, const char **p, size_t *n)
{
	*p = req->path_len > 0 ? req->path : "/";
	*n = req->path_len > 0 ? req->path_len : 1;
}

int http_error_text(int status, const char **code, const char **message)
{
	static const struct {
		int status;
		const char *code, *message;
	} t[] = {
		{408, "request.timeout", "Request not received in time"},
		{411, "request.length", "A request body needs Content-Length or chunked encoding"},
		{413, "request.size", "Request body too large"},
		{414, "request.target", "Request target too long"},
		{417, "request.expect", "Only Expect: 100-continue is supported"},
		{431, "request.headers", "Request header fields too large or too many"},
		{501, "request.unsupported", "This method or transfer coding is not supported"},
		{505, "request.version", "HTTP version not supported"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].status == status) {
			*code = t[i].code;
			*message = t[i].message;
			return status;
		}
	*code = "request.malformed";
	*message = "Malformed HTTP request";
	return 400;
}
