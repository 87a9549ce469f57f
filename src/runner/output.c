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

static void output_member(struct jbuf *b, const char *key, const char *s, size_t n)
{
	jbuf_lit(b, key);
	jbuf_str(b, s != NULL ? s : "", s != NULL ? n : 0);
}

void runner_output(struct jbuf *b, const struct runner_result *r, const char *error)
{
	char name[32];

	output_member(b, "{\"stdout\":", r ? r->out.p : NULL, r ? r->out.len : 0);
	output_member(b, ",\"stderr\":", r ? r->err.p : NULL, r ? r->err.len : 0);
	output_member(b, ",\"error\":", error, strlen(error));
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
