/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cardinality.c: head cardinality statistics for /api/v1/status/tsdb
 * (tsdb_cardinality_get).
 *
 * Computed from the head's inverted index exactly as Prometheus' MemPostings.Stats does
 * (tsdb/index/postings.go), so the numbers mean the same thing:
 *   series_by_metric      series count of every __name__ value
 *   values_by_label       number of distinct values of every label name
 *   memory_by_label       sum over a name's values of len(value) x series with it
 *   series_by_pair        series count of every "name=value" pair
 *   n_label_pairs         distinct (name, value) pairs in the head
 * Each list keeps the top `limit` entries, largest first (ties by name, ascending, so
 * the answer is deterministic where Prometheus' heap is not), through a bounded
 * min-heap: memory is O(limit), never O(pairs), even with millions of pairs.
 *
 * Locking: one pass under db->index_lock held shared (appends that index a new series
 * wait for it; a pass over 10 M pairs takes tens of milliseconds). The interned strings
 * are copied into the result before the lock is released, so the result owns all it
 * points to. Blocks are not counted: like Prometheus, this describes the head.
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

/* A heap entry: a name (or a name=value pair) and its count. */
typedef struct card_item {
	uint64_t count;
	const char *name;
	const char *value; /* pairs only, else NULL */
} card_item;

typedef struct card_heap {
	card_item *v;
	size_t n, cap; /* cap = limit */
} card_heap;

/* a is "less" (evicted first) than b: smaller count, or equal count and larger name. */
static int item_cmp(const card_item *a, const card_item *b)
{
	if (a->count != b->count)
		return a->count < b->count ? -1 : 1;
	int c = strcmp(a->name, b->name);
	if (c == 0 && a->value && b->value)
		c = strcmp(a->value, b->value);
	return -c;
}

static void sift_down(card_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && item_cmp(&h->v[l], &h->v[m]) < 0)
			m = l;
		if (r < h->n && item_cmp(&h->v[r], &h->v[m]) < 0)
			m = r;
		if (m == i)
			return;
		card_item t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
}

static void heap_push(card_heap *h, uint64_t count, const char *name, const char *value)
{
	card_item it = {count, name, value};
	if (h->cap == 0)
		return;
	if (h->n < h->cap) {
		size_t i = h->n++;
		h->v[i] = it;
		while (i > 0) {
			size_t p = (i - 1) / 2;
			if (item_cmp(&h->v[i], &h->v[p]) >= 0)
				break;
			card_item t = h->v[i];
			h->v[i] = h->v[p];
			h->v[p] = t;
			i = p;
		}
		return;
	}
	if (item_cmp(&it, &h->v[0]) <= 0)
		return;
	h->v[0] = it;
	sift_down(h, 0);
}

static int item_cmp_desc(const void *a, const void *b)
{
	return -item_cmp(a, b);
}

/* Bytes the heap's names need in the result ("name=value\0" for pairs). */
static size_t heap_str_bytes(const card_heap *h)
{
	size_t n = 0;
	for (size_t i = 0; i < h->n; i++)
		n += strlen(h->v[i].name) + 1 + (h->v[i].value ? strlen(h->v[i].value) + 1 : 0);
	return n;
}

/* Sort the heap largest first and copy it into out (strings at *pp). */
static void heap_emit(card_heap *h, tsdb_card_stat *out, char **pp)
{
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), item_cmp_desc);
	char *p = *pp;
	for (size_t i = 0; i < h->n; i++) {
		size_t nn = strlen(h->v[i].name);
		out[i].name = p;
		out[i].count = h->v[i].count;
		memcpy(p, h->v[i].name, nn);
		p += nn;
		if (h->v[i].value) {
			size_t vn = strlen(h->v[i].value);
			*p++ = '=';
			memcpy(p, h->v[i].value, vn);
			p += vn;
		}
		*p++ = '\0';
	}
	*pp = p;
}

int tsdb_cardinality_get(tsdb_db *db, size_t limit, tsdb_cardinality **out, ts_err *err)
{
	if (limit > TSDB_CARDINALITY_MAX_LIMIT)
		return ts_err_set(err, TS_EINVAL, "cardinality limit %zu is over the maximum %d",
				  limit, TSDB_CARDINALITY_MAX_LIMIT);
	card_heap h[4] = {{0}};
	card_item *items = limit ? ts_malloc(4 * limit * sizeof(*items)) : NULL;
	if (limit && !items)
		return ts_err_set(err, TS_ENOMEM, "out of memory computing cardinality");
	for (int k = 0; k < 4; k++) {
		h[k].v = items ? items + (size_t)k * limit : NULL;
		h[k].cap = limit;
	}
	card_heap *metrics = &h[0], *values = &h[1], *memory = &h[2], *pairs = &h[3];
	uint64_t n_pairs = 0;
	int rc = TS_OK;
	tsdb_cardinality *c = NULL;

	pthread_rwlock_rdlock(&db->index_lock);
	const tsdb_hindex *x = &db->idx;
	for (size_t b = 0; b < x->n_name_buckets; b++) {
		for (const tsdb_hname *nm = x->names[b]; nm; nm = nm->next) {
			bool is_metric = strcmp(nm->name, "__name__") == 0;
			uint64_t bytes = 0, n_vals = 0;
			for (size_t i = 0; i < nm->n_vals; i++) {
				const tsdb_hpost *p = nm->vals[i];
				uint64_t n = p->ids.n;
				if (n == 0)
					continue;
				n_vals++;
				if (is_metric)
					heap_push(metrics, n, p->value, NULL);
				heap_push(pairs, n, nm->name, p->value);
				bytes += (uint64_t)strlen(p->value) * n;
			}
			if (n_vals == 0)
				continue;
			n_pairs += n_vals;
			heap_push(values, n_vals, nm->name, NULL);
			heap_push(memory, bytes, nm->name, NULL);
		}
	}
	size_t str_bytes = 0, n_stats = 0;
	for (int k = 0; k < 4; k++) {
		str_bytes += heap_str_bytes(&h[k]);
		n_stats += h[k].n;
	}
	c = ts_calloc(1, sizeof(*c) + n_stats * sizeof(tsdb_card_stat) + str_bytes);
	if (!c) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory computing cardinality");
	} else {
		tsdb_card_stat *s = (tsdb_card_stat *)(c + 1);
		char *p = (char *)(s + n_stats);
		tsdb_card_stat **lists[4] = {&c->series_by_metric, &c->values_by_label,
					     &c->memory_by_label, &c->series_by_pair};
		size_t *counts[4] = {&c->n_series_by_metric, &c->n_values_by_label,
				     &c->n_memory_by_label, &c->n_series_by_pair};
		for (int k = 0; k < 4; k++) {
			*lists[k] = s;
			*counts[k] = h[k].n;
			heap_emit(&h[k], s, &p);
			s += h[k].n;
		}
	}
	pthread_rwlock_unlock(&db->index_lock);
	ts_free(items);
	if (rc)
		return rc;
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	c->n_series = st.n_series;
	c->n_label_pairs = n_pairs;
	c->n_chunks = st.head_chunks;
	c->min_t_ms = st.min_t_ms;
	c->max_t_ms = st.max_t_ms;
	*out = c;
	return TS_OK;
}
