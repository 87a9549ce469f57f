/*
 * The shared pull table.  Each image hashes to one entry; its key word is
 * 0 when free and the image's hash while an agent pulls it.  Claiming is
 * a compare-and-swap of that word, so of two agents that find the same
 * image missing at the same moment exactly one pulls.  The puller writes
 * the outcome, bumps seq and frees the word, in that order (release
 * stores); waiters poll seq (acquire loads) every PULL_WAIT_TICK_MS: pulls
 * take seconds, so a futex would buy nothing and would need shared-futex
 * calls the agents' filter does not allow.
 *
 * Nothing read from the table is trusted beyond coordination: a waiter
 * waits at most its own budget, then pulls itself, and a message is
 * copied bounded and scrubbed.  Two images that share an entry are
 * pulled uncoordinated (PULL_ALONE), which is only slower.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "dhttp.h"
#include "io.h"
#include "pull.h"

struct pull_entry {
	uint64_t key;        /* 0: free; else the hash of the image being pulled */
	int64_t deadline_ms; /* io_now_ms() after which the puller is taken as gone */
	uint32_t seq;        /* bumped when a pull ends */
	int32_t rc;          /* of the pull that ended last: DOCKER_OK or DOCKER_E* */
	int32_t status;
	char image[DOCKER_MAX_IMAGE_REF + 1];
	char message[DOCKER_MAX_MESSAGE];
};

static struct pull_entry *table;

int pull_table_create(void)
{
	void *p = mmap(NULL, sizeof(struct pull_entry) * PULL_TABLE_SLOTS, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	table = p;
	return 0;
}

void pull_table_forget(void)
{
	if (table != NULL)
		(void)munmap(table, sizeof(struct pull_entry) * PULL_TABLE_SLOTS);
	table = NULL;
}

int64_t pull_budget_ms(const struct config *c)
{
	int64_t per = ((int64_t)c->pull_timeout + c->docker_write_timeout) * 1000;
	int64_t n = (int64_t)c->pull_retries + 1;

	return per * n + (int64_t)c->pull_retries * PULL_BACKOFF_MAX_MS + 1000;
}

/* FNV-1a, never 0. */
static uint64_t pull_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h | 1;
}

enum pull_role pull_claim(const char *image, int64_t budget_ms, struct pull_ticket *t)
{
	struct pull_entry *e;
	uint64_t want, seen;
	int64_t now, dl;

	if (table == NULL)
		return PULL_ALONE;
	want = pull_hash(image);
	t->key = want;
	t->idx = (unsigned)(want % PULL_TABLE_SLOTS);
	e = &table[t->idx];
	for (;;) {
		t->seq = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		seen = 0;
		now = io_now_ms();
		if (__atomic_compare_exchange_n(&e->key, &seen, want, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_store_n(&e->deadline_ms, now + budget_ms, __ATOMIC_RELEASE);
			return PULL_MINE;
		}
		if (seen == 0)
			continue; /* freed meanwhile */
		if (seen != want)
			return PULL_ALONE;
		/* Ours, taken by an agent that outlived its own budget: it died. Take it over, once. */
		dl = __atomic_load_n(&e->deadline_ms, __ATOMIC_ACQUIRE);
		if (dl != 0 && now > dl) {
			if (__atomic_compare_exchange_n(&e->deadline_ms, &dl, now + budget_ms, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				return PULL_MINE;
			continue;
		}
		return PULL_WAIT;
	}
}

void pull_release(const struct pull_ticket *t, const char *image, int rc,
		  const struct docker_error *err)
{
	struct pull_entry *e;

	if (table == NULL)
		return;
	e = &table[t->idx];
	e->rc = rc;
	e->status = rc == DOCKER_OK ? 0 : err->status;
	(void)snprintf(e->image, sizeof(e->image), "%s", image);
	(void)snprintf(e->message, sizeof(e->message), "%s", rc == DOCKER_OK ? "" : err->message);
	__atomic_add_fetch(&e->seq, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&e->deadline_ms, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&e->key, 0, __ATOMIC_RELEASE);
}

int pull_wait(const struct pull_ticket *t, const char *image, int64_t max_ms, int *rc,
	      struct docker_error *err)
{
	struct pull_entry *e = &table[t->idx];
	int64_t until = io_now_ms() + max_ms;
	char name[sizeof(e->image)];

	while (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) == t->seq &&
	       __atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == t->key) {
		if (io_now_ms() >= until)
			return -1;
		(void)poll(NULL, 0, PULL_WAIT_TICK_MS);
	}
	*rc = e->rc;
	err->status = e->status;
	memcpy(name, e->image, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	memcpy(err->message, e->message, sizeof(err->message));
	err->message[sizeof(err->message) - 1] = '\0';
	if (strcmp(name, image) != 0)
		(void)snprintf(err->message, sizeof(err->message), "pulled by another request");
	dhttp_scrub(err->message, 1);
	return 0;
}
