/* SPDX-License-Identifier: Apache-2.0 */
/*
 * intern.c: string interning (see ts_labels.h).
 *
 * An open-addressing hash set (linear probing, power-of-two capacity, load <= 0.5) of
 * pointers into arena pages of 64 KiB; a string longer than a page gets its own page.
 * Strings are never removed: the table lives as long as the store that owns it. One
 * mutex guards everything (`lock`); label strings are looked up once per new series,
 * not per sample, so contention is low.
 */
#include "common/ts_labels.h"

#include "common/ts_alloc.h"
#include "common/ts_hash.h"

#include <pthread.h>
#include <string.h>

#define PAGE_BYTES 65536

typedef struct page {
	struct page *next; /* guarded by lock */
	size_t used;       /* bytes used in data */
	size_t cap;        /* bytes in data */
	char data[];
} page;

struct ts_intern {
	pthread_mutex_t lock;
	const char **slots; /* guarded by lock; NULL = empty */
	size_t cap;         /* guarded by lock; power of two */
	size_t n;           /* guarded by lock; strings held */
	size_t bytes;       /* guarded by lock; string bytes incl. NUL */
	page *pages;        /* guarded by lock */
};

ts_intern *ts_intern_new(void)
{
	ts_intern *t = ts_calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cap = 1024;
	t->slots = ts_calloc(t->cap, sizeof(*t->slots));
	if (!t->slots) {
		ts_free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void ts_intern_free(ts_intern *t)
{
	if (!t)
		return;
	for (page *p = t->pages, *next; p; p = next) {
		next = p->next;
		ts_free(p);
	}
	ts_free(t->slots);
	pthread_mutex_destroy(&t->lock);
	ts_free(t);
}

static size_t probe(const char *const *slots, size_t cap, const char *s, size_t n, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);
	while (slots[i] && !(strncmp(slots[i], s, n) == 0 && slots[i][n] == '\0'))
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(ts_intern *t)
{
	size_t cap = t->cap * 2;
	const char **slots = ts_calloc(cap, sizeof(*slots));
	if (!slots)
		return TS_ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		const char *s = t->slots[i];
		if (!s)
			continue;
		size_t n = strlen(s);
		slots[probe(slots, cap, s, n, ts_hash64(s, n, 0))] = s;
	}
	ts_free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return TS_OK;
}

static char *arena_copy(ts_intern *t, const char *s, size_t n)
{
	page *p = t->pages;
	if (!p || p->cap - p->used < n + 1) {
		size_t cap = n + 1 > PAGE_BYTES ? n + 1 : PAGE_BYTES;
		page *np = ts_malloc(sizeof(page) + cap);
		if (!np)
			return NULL;
		np->used = 0;
		np->cap = cap;
		if (p && n + 1 > PAGE_BYTES) {
			/* Keep the partly used page in front for later small strings. */
			np->next = p->next;
			p->next = np;
		} else {
			np->next = p;
			t->pages = np;
		}
		p = np;
	}
	char *d = p->data + p->used;
	memcpy(d, s, n);
	d[n] = '\0';
	p->used += n + 1;
	return d;
}

const char *ts_intern_get(ts_intern *t, const char *s, size_t n)
{
	if (memchr(s, '\0', n))
		return NULL;
	uint64_t h = ts_hash64(s, n, 0);
	pthread_mutex_lock(&t->lock);
	size_t i = probe(t->slots, t->cap, s, n, h);
	const char *found = t->slots[i];
	if (!found) {
		if ((t->n + 1) * 2 > t->cap) {
			if (grow(t) != TS_OK)
				goto out;
			i = probe(t->slots, t->cap, s, n, h);
		}
		char *d = arena_copy(t, s, n);
		if (d) {
			t->slots[i] = d;
			t->n++;
			t->bytes += n + 1;
			found = d;
		}
	}
out:
	pthread_mutex_unlock(&t->lock);
	return found;
}

void ts_intern_stats(ts_intern *t, size_t *n_strings, size_t *n_bytes)
{
	pthread_mutex_lock(&t->lock);
	if (n_strings)
		*n_strings = t->n;
	if (n_bytes)
		*n_bytes = t->bytes;
	pthread_mutex_unlock(&t->lock);
}
