/*
 * The reply: {"stdout","stderr","error","duration"} as glot's runner writes
 * it, plus "exitCode" (number, or null when the program was killed or never
 * ran) and "signal" ("SIGKILL", or null).  error is "" on success,
 * "Exit code: N" on a non-zero exit, "Signal: SIGNAME" when killed by a
 * signal, and otherwise the runner's own message (refused file, unknown
 * language).  jbuf_str makes any bytes valid JSON (U+FFFD for invalid
 * UTF-8, every control character escaped).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "runner.h"

void runner_signal_name(int sig, char *out, size_t outsz)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(out, outsz, "SIG%s", abbrev);
	else
		snprintf(out, outsz, "SIG%d", sig);
}

void runner_error_text(const struct runner_result *r, char *out, size_t outsz)
{
	char name[32];

	if (r->exited && r->code == 0) {
		snprintf(out, outsz, "%s", "");
	} else if (r->exited) {
		snprintf(out, outsz, "Exit code: %d", r->code);
	} else {
		runner_signal_name(r->sig, name, sizeof(name));
		snprintf(out, outsz, "Signal: %s", name);
	}
}

/*
 * s as a JSON string, escaped RUNNER_OUTPUT_PIECE bytes at a time.  A
 * piece never ends inside a UTF-8 sequence (it is cut before a lead or
 * ASCII byte), so the pieces escape exactly as the whole would.
 */
static void output_string(struct jbuf *b, const char *s, size_t n, runner_flush_fn flush)
{
	jbuf_lit(b, "\"");
	while (n > 0) {
		size_t k = n < RUNNER_OUTPUT_PIECE ? n : RUNNER_OUTPUT_PIECE;
		size_t at = b->len;

		while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
		if (k == 0) /* a piece of stray continuation bytes: each is U+FFFD anyway */
			k = n < RUNNER_OUTPUT_PIECE ? n : RUNNER_OUTPUT_PIECE;
		jbuf_str(b, s, k);
		if (b->overflow)
			return;
		/* Drop the piece's own quotes. */
		memmove(b->p + at, b->p + at + 1, b->len - at - 2);
		b->len -= 2;
		s += k;
		n -= k;
		if (flush != NULL && b->len >= RUNNER_OUTPUT_PIECE)
			flush(b);
	}
	jbuf_lit(b, "\"");
}

static void output_member(struct jbuf *b, const char *key, const char *s, size_t n,
			  runner_flush_fn flush)
{
	jbuf_lit(b, key);
	output_string(b, s != NULL ? s : "", s != NULL ? n : 0, flush);
}

void runner_output(struct jbuf *b, const struct runner_result *r, const char *error,
		   runner_flush_fn flush)
{
	char name[32];

	output_member(b, "{\"stdout\":", r ? r->out.p : NULL, r ? r->out.len : 0, flush);
	output_member(b, ",\"stderr\":", r ? r->err.p : NULL, r ? r->err.len : 0, flush);
	output_member(b, ",\"error\":", error, strlen(error), flush);
	jbuf_lit(b, ",\"duration\":");
	jbuf_u64(b, r ? r->ns : 0);
	jbuf_lit(b, ",\"exitCode\":");
	if (r != NULL && r->exited)
		jbuf_i64(b, r->code);
	else
		jbuf_lit(b, "null");
	jbuf_lit(b, ",\"signal\":");
	if (r != NULL && !r->exited && r->sig != 0) {
		runner_signal_name(r->sig, name, sizeof(name));
		jbuf_str(b, name, strlen(name));
	} else {
		jbuf_lit(b, "null");
	}
	jbuf_lit(b, "}");
}
