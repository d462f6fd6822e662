/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.c: the per-query bump arena (see arena.h).
 *
 * Design: a singly linked list of chunks taken from ts_malloc. Allocation bumps an offset
 * in the newest chunk; when it does not fit, a new chunk of twice the previous size (8 KiB
 * up to 1 MiB) is linked in front. A request larger than a quarter of the normal chunk
 * size gets a chunk of its own, linked behind the current one so the current chunk's free
 * space is not wasted. All returned memory is zeroed and aligned to max_align_t.
 *
 * Budget: the sum of chunk sizes taken from ts_malloc never exceeds max_bytes; a request
 * that would cross it fails and sets over_limit.
 *
 * Cleanups are records allocated from the arena itself, kept in a LIFO list and run
 * before the chunks are released. Nothing here is thread-safe.
 */
#include "query/arena.h"

#include "common/common.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#define ALIGN          alignof(max_align_t)
#define CHUNK_MIN      ((size_t)8 << 10)
#define CHUNK_MAX      ((size_t)1 << 20)
#define CHUNK_OVERHEAD ((sizeof(chunk) + ALIGN - 1) & ~(ALIGN - 1))

typedef struct chunk {
	struct chunk *next; /* older chunk */
	size_t cap;         /* usable bytes after the header */
	size_t used;        /* bytes handed out from this chunk */
} chunk;

typedef struct cleanup {
	struct cleanup *next; /* registered earlier */
	void (*fn)(void *arg);
	void *arg;
} cleanup;

struct query_arena {
	chunk *head;        /* newest chunk (bump target); NULL before the first alloc */
	cleanup *cleanups;  /* newest first */
	size_t next_cap;    /* usable size of the next normal chunk */
	size_t taken_bytes; /* sum of chunk allocations (headers included) */
	size_t max_bytes;   /* budget for taken_bytes */
	size_t used_bytes;  /* bytes handed out, padding included */
	bool is_over_limit; /* an allocation failed on the budget */
};

static char *chunk_data(chunk *c)
{
	return (char *)c + CHUNK_OVERHEAD;
}

query_arena *query_arena_new(size_t max_bytes)
{
	query_arena *a = ts_calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->next_cap = CHUNK_MIN;
	a->max_bytes = max_bytes ? max_bytes : QUERY_ARENA_DEFAULT_MAX;
	return a;
}

void query_arena_free(query_arena *a)
{
	if (!a)
		return;
	for (cleanup *c = a->cleanups; c; c = c->next)
		c->fn(c->arg);
	chunk *c = a->head;
	while (c) {
		chunk *next = c->next;
		ts_free(c);
		c = next;
	}
	ts_free(a);
}

/* A new chunk with at least `cap` usable bytes, or NULL (budget or ENOMEM). */
static chunk *chunk_new(query_arena *a, size_t cap)
{
	if (cap > SIZE_MAX - CHUNK_OVERHEAD) {
		a->is_over_limit = true;
		return NULL;
	}
	size_t total = CHUNK_OVERHEAD + cap;
	if (total > a->max_bytes - a->taken_bytes || a->taken_bytes > a->max_bytes) {
		a->is_over_limit = true;
		return NULL;
	}
	chunk *c = ts_malloc(total);
	if (!c)
		return NULL;
	c->next = NULL;
	c->cap = cap;
	c->used = 0;
	a->taken_bytes += total;
	return c;
}

void *query_arena_alloc(query_arena *a, size_t size)
{
	if (size > SIZE_MAX - ALIGN) {
		a->is_over_limit = true;
		return NULL;
	}
	size_t need = (size + ALIGN - 1) & ~(ALIGN - 1);
	if (need == 0)
		need = ALIGN;
	chunk *c = a->head;
	if (!c || c->cap - c->used < need) {
		if (need > a->next_cap / 4) {
			/* Oversized request: a dedicated chunk behind the current one. */
			chunk *big = chunk_new(a, need);
			if (!big)
				return NULL;
			big->used = need;
			if (c) {
				big->next = c->next;
				c->next = big;
			} else {
				a->head = big;
			}
			a->used_bytes += need;
			memset(chunk_data(big), 0, need);
			return chunk_data(big);
		}
		chunk *fresh = chunk_new(a, a->next_cap);
		if (!fresh)
			return NULL;
		fresh->next = c;
		a->head = fresh;
		if (a->next_cap < CHUNK_MAX)
			a->next_cap *= 2;
		c = fresh;
	}
	char *p = chunk_data(c) + c->used;
	c->used += need;
	a->used_bytes += need;
	memset(p, 0, need);
	return p;
}

char *query_arena_strndup(query_arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX) {
		a->is_over_limit = true;
		return NULL;
	}
	char *p = query_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *query_arena_strdup(query_arena *a, const char *s)
{
	return query_arena_strndup(a, s, strlen(s));
}

int query_arena_defer(query_arena *a, void (*fn)(void *arg), void *arg)
{
	cleanup *c = query_arena_alloc(a, sizeof(*c));
	if (!c)
		return a->is_over_limit ? TS_ELIMIT : TS_ENOMEM;
	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
	return TS_OK;
}

size_t query_arena_used(const query_arena *a)
{
	return a->used_bytes;
}

bool query_arena_over_limit(const query_arena *a)
{
	return a->is_over_limit;
}
