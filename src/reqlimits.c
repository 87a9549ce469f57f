/*
 * Per-request limits: parse the "limits" object of a run request and check
 * each value against the configuration, which it may only lower.  The
 * same table serves the front's parse and the agent's re-check, so the two
 * cannot disagree on what is allowed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "reqlimits.h"

/* One member of "limits". */
struct reqlimits_field {
	const char *name;  /* in the request */
	size_t off;        /* its uint64_t in struct reqlimits */
	unsigned scale;    /* decimals the request may give (the value is stored times 10^scale) */
	const char *what;  /* "must be <what> from ..." */
	const char *var;   /* the configuration variable that bounds it */
};

#define RL_FIELD(f) offsetof(struct reqlimits, f)

static const struct reqlimits_field reqlimits_fields[] = {
	{"executionTime", RL_FIELD(time_ms), 3, "a number of seconds", "RUN_MAX_EXECUTION_TIME"},
	{"outputSize", RL_FIELD(output), 0, "a whole number of bytes", "RUN_MAX_OUTPUT_SIZE"},
	{"memory", RL_FIELD(memory), 0, "a whole number of bytes", "DOCKER_CONTAINER_MEMORY"},
	{"pids", RL_FIELD(pids), 0, "a whole number of processes", "DOCKER_CONTAINER_PIDS_LIMIT"},
	{"cpus", RL_FIELD(nano_cpus), 9, "a number of CPUs", "DOCKER_CONTAINER_CPUS"},
};

#define RL_NFIELDS (sizeof(reqlimits_fields) / sizeof(reqlimits_fields[0]))

/* What the configuration allows for field i; 0 as the maximum: no maximum. */
static void reqlimits_bounds(const struct config *c, size_t i, uint64_t *min, uint64_t *max)
{
	*min = 1;
	switch (i) {
	case 0:
		*max = (uint64_t)c->run_max_time * 1000;
		break;
	case 1:
		*max = c->run_max_output;
		break;
	case 2:
		*min = REQLIMITS_MIN_MEMORY;
		*max = c->memory > 0 ? (uint64_t)c->memory : 0;
		break;
	case 3:
		*max = c->pids_limit > 0 ? (uint64_t)c->pids_limit : 0;
		break;
	default:
		*min = REQLIMITS_MIN_NANO_CPUS;
		*max = c->nano_cpus > 0 ? (uint64_t)c->nano_cpus : 0;
		break;
	}
}

static uint64_t *reqlimits_slot(struct reqlimits *l, size_t i)
{
	return (uint64_t *)(void *)((char *)l + reqlimits_fields[i].off);
}

static uint64_t reqlimits_get(const struct reqlimits *l, size_t i)
{
	uint64_t v;

	memcpy(&v, (const char *)l + reqlimits_fields[i].off, sizeof(v));
	return v;
}

/* v / 10^scale as a decimal with no trailing zeros: "0.001", "1.5", "10". */
static void reqlimits_fixed(uint64_t v, unsigned scale, char *out, size_t outsz)
{
	uint64_t unit = 1;
	char frac[24];
	size_t n;

	for (unsigned i = 0; i < scale; i++)
		unit *= 10;
	if (v % unit == 0) {
		snprintf(out, outsz, "%" PRIu64, v / unit);
		return;
	}
	snprintf(frac, sizeof(frac), "%0*" PRIu64, (int)scale, v % unit);
	for (n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(out, outsz, "%" PRIu64 ".%s", v / unit, frac);
}

/* The refusal of field i: what it must be under configuration c. */
static int reqlimits_refuse(const struct config *c, size_t i, char *msg, size_t msgsz)
{
	const struct reqlimits_field *f = &reqlimits_fields[i];
	char lo[32], hi[32], dec[32] = "";
	uint64_t min, max;

	reqlimits_bounds(c, i, &min, &max);
	reqlimits_fixed(min, f->scale, lo, sizeof(lo));
	reqlimits_fixed(max, f->scale, hi, sizeof(hi));
	if (f->scale > 0)
		snprintf(dec, sizeof(dec), ", at most %u decimals", f->scale);
	if (max > 0)
		snprintf(msg, msgsz, "\"limits.%s\" must be %s from %s to %s (%s)%s", f->name, f->what, lo, hi,
			 f->var, dec);
	else
		snprintf(msg, msgsz, "\"limits.%s\" must be %s of at least %s (%s sets no maximum)%s", f->name,
			 f->what, lo, f->var, dec);
	return -1;
}

static bool reqlimits_in_range(const struct config *c, size_t i, uint64_t v)
{
	uint64_t min, max;

	reqlimits_bounds(c, i, &min, &max);
	return v >= min && (max == 0 || v <= max);
}

/* The k-th digit of int part a[0..na) followed by fraction b. */
static unsigned reqlimits_digit(const char *a, size_t na, const char *b, size_t k)
{
	return (unsigned)((k < na ? a[k] : b[k - na]) - '0');
}

static size_t reqlimits_digits(const char *p, size_t len, size_t i)
{
	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	return i;
}

enum reqlimits_num reqlimits_number(const char *p, size_t len, unsigned scale, uint64_t max,
				    uint64_t *out)
{
	size_t i = 0, ia, na, ib, nb = 0, first, last;
	long exp10 = 0, e = 0;
	bool eneg = false;
	uint64_t v = 0;

	*out = 0;
	/* int: 0 | [1-9][0-9]*; a sign is refused here: no limit is negative. */
	ia = i;
	i = reqlimits_digits(p, len, i);
	na = i - ia;
	if (na == 0 || (na > 1 && p[ia] == '0'))
		return REQLIMITS_NUM_INVALID;
	ib = i;
	if (i < len && p[i] == '.') {
		ib = ++i;
		i = reqlimits_digits(p, len, i);
		nb = i - ib;
		if (nb == 0)
			return REQLIMITS_NUM_INVALID;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-'))
			eneg = p[i++] == '-';
		if (i >= len || p[i] < '0' || p[i] > '9')
			return REQLIMITS_NUM_INVALID;
		for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
			if (e < REQLIMITS_MAX_EXPONENT)
				e = e * 10 + (p[i] - '0');
	}
	if (i != len)
		return REQLIMITS_NUM_INVALID;
	/* value = digits * 10^exp10, with the trailing zeros moved into exp10. */
	exp10 = (eneg ? -e : e) - (long)nb + (long)scale;
	last = na + nb;
	while (last > 0 && reqlimits_digit(p + ia, na, p + ib, last - 1) == 0) {
		last--;
		exp10++;
	}
	for (first = 0; first < last && reqlimits_digit(p + ia, na, p + ib, first) == 0; first++)
		;
	if (first == last)
		return REQLIMITS_NUM_OK; /* zero */
	if (exp10 < 0)
		return REQLIMITS_NUM_PRECISE;
	for (size_t k = first; k < last; k++) {
		unsigned d = reqlimits_digit(p + ia, na, p + ib, k);

		if (v > (max - d) / 10)
			return REQLIMITS_NUM_RANGE;
		v = v * 10 + d;
	}
	for (; exp10 > 0; exp10--) {
		if (v > max / 10)
			return REQLIMITS_NUM_RANGE;
		v *= 10;
	}
	*out = v;
	return REQLIMITS_NUM_OK;
}

/* ---- the "limits" object ---- */

static size_t reqlimits_ws(const char *p, size_t len, size_t i)
{
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

/* p[i] is '"': the index past the closing quote, or len. */
static size_t reqlimits_string_end(const char *p, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '"')
			return i + 1;
	}
	return len;
}

static size_t reqlimits_number_end(const char *p, size_t len, size_t i)
{
	while (i < len && strchr("0123456789+-.eE", p[i]) != NULL && p[i] != '\0')
		i++;
	return i;
}

static int reqlimits_not_object(char *msg, size_t msgsz)
{
	snprintf(msg, msgsz, "\"limits\" must be a JSON object");
	return -1;
}

static int reqlimits_unknown(const char *raw, size_t rawlen, char *msg, size_t msgsz)
{
	char key[REQLIMITS_MAX_KEY + 1];

	if (json_string_decode(raw, rawlen, key, sizeof(key)) < 0)
		snprintf(msg, msgsz, "\"limits\" has an unknown member (known: executionTime, outputSize, "
			 "memory, pids, cpus)");
	else
		snprintf(msg, msgsz, "\"limits\" has an unknown member \"%s\" (known: executionTime, "
			 "outputSize, memory, pids, cpus)", key);
	return -1;
}

/* The field a raw key names, or RL_NFIELDS. */
static size_t reqlimits_find(const char *raw, size_t rawlen)
{
	char key[REQLIMITS_MAX_KEY + 1];

	if (json_string_decode(raw, rawlen, key, sizeof(key)) < 0)
		return RL_NFIELDS;
	for (size_t i = 0; i < RL_NFIELDS; i++)
		if (strcmp(key, reqlimits_fields[i].name) == 0)
			return i;
	return RL_NFIELDS;
}

/*
 * One member at p[*at]: its key known and not seen before, its value a
 * number in range.  The first problem in the text decides the refusal.
 */
static int reqlimits_member(const char *p, size_t len, size_t *at, const struct config *c,
			    struct reqlimits *l, unsigned *seen, char *msg, size_t msgsz)
{
	size_t i = *at, kend, vend, f;
	uint64_t v;

	if (i >= len || p[i] != '"')
		return reqlimits_not_object(msg, msgsz);
	kend = reqlimits_string_end(p, len, i);
	f = reqlimits_find(p + i, kend - i);
	if (f == RL_NFIELDS)
		return reqlimits_unknown(p + i, kend - i, msg, msgsz);
	if (*seen & (1u << f)) {
		snprintf(msg, msgsz, "\"limits.%s\" is given more than once", reqlimits_fields[f].name);
		return -1;
	}
	*seen |= 1u << f;
	i = reqlimits_ws(p, len, kend);
	if (i >= len || p[i] != ':')
		return reqlimits_not_object(msg, msgsz);
	i = reqlimits_ws(p, len, i + 1);
	vend = reqlimits_number_end(p, len, i);
	if (vend == i || reqlimits_number(p + i, vend - i, reqlimits_fields[f].scale, UINT64_MAX, &v) !=
				 REQLIMITS_NUM_OK || !reqlimits_in_range(c, f, v))
		return reqlimits_refuse(c, f, msg, msgsz);
	*reqlimits_slot(l, f) = v;
	*at = vend;
	return 0;
}

int reqlimits_parse(const char *p, size_t len, const struct config *c, struct reqlimits *l,
		    char *msg, size_t msgsz)
{
	unsigned seen = 0;
	size_t i;

	memset(l, 0, sizeof(*l));
	i = reqlimits_ws(p, len, 0);
	if (i >= len || p[i] != '{')
		return reqlimits_not_object(msg, msgsz);
	i = reqlimits_ws(p, len, i + 1);
	if (i < len && p[i] == '}')
		return reqlimits_ws(p, len, i + 1) == len ? 0 : reqlimits_not_object(msg, msgsz);
	for (;;) {
		if (reqlimits_member(p, len, &i, c, l, &seen, msg, msgsz) < 0) {
			memset(l, 0, sizeof(*l));
			return -1;
		}
		i = reqlimits_ws(p, len, i);
		if (i < len && p[i] == ',') {
			i = reqlimits_ws(p, len, i + 1);
			continue;
		}
		if (i < len && p[i] == '}' && reqlimits_ws(p, len, i + 1) == len)
			return 0;
		memset(l, 0, sizeof(*l));
		return reqlimits_not_object(msg, msgsz);
	}
}

int reqlimits_check(const struct config *c, const struct reqlimits *l, char *msg, size_t msgsz)
{
	for (size_t i = 0; i < RL_NFIELDS; i++) {
		uint64_t v = reqlimits_get(l, i);

		if (v != 0 && !reqlimits_in_range(c, i, v))
			return reqlimits_refuse(c, i, msg, msgsz);
	}
	return 0;
}

void reqlimits_effective(const struct config *c, const struct reqlimits *l, struct reqlimits *eff)
{
	eff->time_ms = l->time_ms ? l->time_ms : (uint64_t)c->run_max_time * 1000;
	eff->output = l->output ? l->output : c->run_max_output;
	eff->memory = l->memory ? l->memory : (uint64_t)c->memory;
	eff->pids = l->pids ? l->pids : (uint64_t)c->pids_limit;
	eff->nano_cpus = l->nano_cpus ? l->nano_cpus : (uint64_t)c->nano_cpus;
}

bool reqlimits_container_differs(const struct config *c, const struct reqlimits *eff)
{
	return eff->memory != (uint64_t)c->memory || eff->pids != (uint64_t)c->pids_limit ||
	       eff->nano_cpus != (uint64_t)c->nano_cpus;
}

void reqlimits_apply(struct config *run, const struct reqlimits *eff)
{
	/* The swap the configuration grants on top of its memory stays on top of the lower one. */
	if (run->memory_swap > 0 && run->memory > 0)
		run->memory_swap = (int64_t)eff->memory + (run->memory_swap - run->memory);
	run->memory = (int64_t)eff->memory;
	run->pids_limit = (int64_t)eff->pids;
	run->nano_cpus = (int64_t)eff->nano_cpus;
}
