/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arena.c: the bump allocator of alert/ (see arena.h).
 *
 * Tested by tests/alert/test_notify_config.c and test_rule_file.c (every parse allocates
 * from it).
 *
 * Chunks are singly linked, newest first; a chunk is 8 KiB or the request rounded up,
 * whichever is larger, so a large object gets a chunk of its own and small ones keep
 * filling the current chunk. Allocations are 16-byte aligned (max_align_t on x86-64).
 */
#include "alert/arena.h"

#include "common/common.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#define CHUNK_MIN   8192
#define DEFAULT_MAX ((size_t)64 << 20)
#define ALIGN       16

typedef struct chunk chunk;
struct chunk {
	chunk *next;
	size_t used; /* bytes used in data */
	size_t size; /* bytes in data */
	alignas(ALIGN) unsigned char data[];
};

struct alert_arena {
	chunk *head;
	size_t total; /* bytes in all chunks */
	size_t max;   /* budget */
	bool is_over_limit;
};

alert_arena *alert_arena_new(size_t max_bytes)
{
	alert_arena *a = ts_calloc(1, sizeof(*a));
	if (a)
		a->max = max_bytes ? max_bytes : DEFAULT_MAX;
	return a;
}

void alert_arena_free(alert_arena *a)
{
	if (!a)
		return;
	for (chunk *c = a->head, *next; c; c = next) {
		next = c->next;
		ts_free(c);
	}
	ts_free(a);
}

void *alert_arena_alloc(alert_arena *a, size_t size)
{
	size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (need < size)
		return NULL;
	if (need == 0)
		need = ALIGN;
	chunk *c = a->head;
	if (!c || c->size - c->used < need) {
		size_t sz = need > CHUNK_MIN ? need : CHUNK_MIN;
		if (sz > a->max || a->total > a->max - sz) {
			a->is_over_limit = true;
			return NULL;
		}
		c = ts_malloc(sizeof(*c) + sz);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = sz;
		c->next = a->head;
		a->head = c;
		a->total += sz;
	}
	void *p = c->data + c->used;
	c->used += need;
	memset(p, 0, size);
	return p;
}

char *alert_arena_strndup(alert_arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		return NULL;
	char *p = alert_arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

bool alert_arena_over_limit(const alert_arena *a)
{
	return a->is_over_limit;
}
