/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fanout_plan.c: the store status answer (encoding, decoding) and the replica plan of
 * the query fan-out (fanout_plan.h).
 *
 * A store lists, per log partition it owns or holds records of, its flags (owned, caught
 * up, held), the next offset it applies, the log's end as last seen and the lag. The
 * query node keeps the stores' statuses for about a second (fanout.c) and plans each
 * select from them: per partition one store that owns it and is caught up, sticking to
 * the previous choice while that store stays caught up (so consecutive queries, and the
 * range-read cache over them, see the same replica), otherwise the smallest lag, ties to
 * the first store of cluster.stores. Pure functions, no I/O: tests/web/test_fanout_plan.c.
 */
#include "web/fanout_plan.h"

#include "web/json.h"
#include "web/web_int.h"

#include <string.h>

#define ENTRY_BYTES 29 /* u32 partition, u8 flags, u64 applied, u64 high, u64 lag */

void web_store_status_fini(web_store_status *s)
{
	if (!s)
		return;
	ts_free(s->parts);
	s->parts = NULL;
}

static bool listed(const web_part_status *p)
{
	return p->flags & (WEB_PART_OWNED | WEB_PART_HELD);
}

int web_store_status_encode(const web_store_status *s, ts_buf *b)
{
	uint32_t n_listed = 0;
	for (int p = 0; p < s->n_partitions; p++)
		n_listed += listed(&s->parts[p]);
	int rc = ts_buf_append(b, WEB_STATUS_MAGIC, 4);
	if (rc == TS_OK)
		rc = ts_buf_put_u32le(b, WEB_INTERNAL_VERSION);
	if (rc == TS_OK)
		rc = web_put_str(b, s->node_id);
	if (rc == TS_OK)
		rc = web_put_str(b, s->replica_group);
	if (rc == TS_OK)
		rc = ts_buf_put_u32le(b, (uint32_t)s->n_partitions);
	if (rc == TS_OK)
		rc = ts_buf_put_u64le(b, (uint64_t)s->min_t_ms);
	if (rc == TS_OK)
		rc = ts_buf_put_u64le(b, (uint64_t)s->max_t_ms);
	if (rc == TS_OK)
		rc = ts_buf_put_u64le(b, s->n_selects);
	if (rc == TS_OK)
		rc = ts_buf_put_u64le(b, s->n_series_sent);
	if (rc == TS_OK)
		rc = ts_buf_put_u32le(b, n_listed);
	for (int p = 0; rc == TS_OK && p < s->n_partitions; p++) {
		const web_part_status *e = &s->parts[p];
		if (!listed(e))
			continue;
		if ((rc = ts_buf_put_u32le(b, (uint32_t)p)) == TS_OK &&
		    (rc = ts_buf_append(b, &e->flags, 1)) == TS_OK &&
		    (rc = ts_buf_put_u64le(b, e->applied)) == TS_OK &&
		    (rc = ts_buf_put_u64le(b, e->high)) == TS_OK)
			rc = ts_buf_put_u64le(b, e->lag);
	}
	return rc ? rc : ts_buf_append(b, WEB_INTERNAL_END_MAGIC, 4);
}

int web_store_status_json(const web_store_status *s, ts_buf *b)
{
	web_json w;
	web_json_init(&w, b);
	web_json_object_begin(&w);
	web_json_key(&w, "node_id");
	web_json_string(&w, s->node_id);
	web_json_key(&w, "replica_group");
	web_json_string(&w, s->replica_group);
	web_json_key(&w, "n_partitions");
	web_json_int(&w, s->n_partitions);
	web_json_key(&w, "min_time_ms");
	web_json_int(&w, s->min_t_ms);
	web_json_key(&w, "max_time_ms");
	web_json_int(&w, s->max_t_ms);
	web_json_key(&w, "selects");
	web_json_uint(&w, s->n_selects);
	web_json_key(&w, "series_sent");
	web_json_uint(&w, s->n_series_sent);
	web_json_key(&w, "partitions");
	web_json_array_begin(&w);
	for (int p = 0; p < s->n_partitions; p++) {
		const web_part_status *e = &s->parts[p];
		if (!listed(e))
			continue;
		web_json_object_begin(&w);
		web_json_key(&w, "partition");
		web_json_int(&w, p);
		web_json_key(&w, "owned");
		web_json_bool(&w, e->flags & WEB_PART_OWNED);
		web_json_key(&w, "caught_up");
		web_json_bool(&w, e->flags & WEB_PART_CAUGHT_UP);
		web_json_key(&w, "applied_offset");
		web_json_uint(&w, e->applied);
		web_json_key(&w, "high_watermark");
		web_json_uint(&w, e->high);
		web_json_key(&w, "lag");
		web_json_uint(&w, e->lag);
		web_json_object_end(&w);
	}
	web_json_array_end(&w);
	web_json_object_end(&w);
	return web_json_finish(&w);
}

static int corrupt(ts_err *err, size_t off, const char *what)
{
	return ts_err_set(err, TS_ECORRUPT, "store status: %s at byte %zu", what, off);
}

static int get_str(const uint8_t *b, size_t end, size_t *pos, char *out, size_t cap, ts_err *err)
{
	if (end - *pos < 2)
		return corrupt(err, *pos, "truncated string");
	uint16_t len = ts_get_u16le(b + *pos);
	if (end - *pos - 2 < len)
		return corrupt(err, *pos, "string longer than the answer");
	if (len >= cap || memchr(b + *pos + 2, 0, len))
		return corrupt(err, *pos, "bad name");
	memcpy(out, b + *pos + 2, len);
	out[len] = '\0';
	*pos += 2 + (size_t)len;
	return TS_OK;
}

int web_store_status_decode(const char *p, size_t n, web_store_status *s, ts_err *err)
{
	memset(s, 0, sizeof(*s));
	const uint8_t *b = (const uint8_t *)p;
	if (n < 12 || memcmp(p, WEB_STATUS_MAGIC, 4) != 0)
		return corrupt(err, 0, "bad magic");
	if (ts_get_u32le(b + 4) != WEB_INTERNAL_VERSION)
		return corrupt(err, 4, "unknown version");
	if (memcmp(p + n - 4, WEB_INTERNAL_END_MAGIC, 4) != 0)
		return corrupt(err, n - 4, "missing end marker (truncated)");
	size_t pos = 8, end = n - 4;
	int rc = get_str(b, end, &pos, s->node_id, sizeof(s->node_id), err);
	if (rc == TS_OK)
		rc = get_str(b, end, &pos, s->replica_group, sizeof(s->replica_group), err);
	if (rc)
		return rc;
	if (end - pos < 4 + 4 * 8 + 4)
		return corrupt(err, pos, "truncated header");
	uint32_t np = ts_get_u32le(b + pos);
	if (np > WEB_STATUS_MAX_PARTS)
		return corrupt(err, pos, "partition count out of range");
	s->n_partitions = (int)np;
	s->min_t_ms = (int64_t)ts_get_u64le(b + pos + 4);
	s->max_t_ms = (int64_t)ts_get_u64le(b + pos + 12);
	s->n_selects = ts_get_u64le(b + pos + 20);
	s->n_series_sent = ts_get_u64le(b + pos + 28);
	uint32_t n_listed = ts_get_u32le(b + pos + 36);
	pos += 40;
	if (n_listed > np || (size_t)n_listed * ENTRY_BYTES != end - pos)
		return corrupt(err, pos - 4, "entry count does not match the answer");
	if (np && !(s->parts = ts_calloc(np, sizeof(*s->parts))))
		return ts_err_set(err, TS_ENOMEM, "out of memory decoding a store status");
	for (uint32_t i = 0; i < n_listed; i++, pos += ENTRY_BYTES) {
		uint32_t part = ts_get_u32le(b + pos);
		if (part >= np || s->parts[part].flags) {
			web_store_status_fini(s);
			return corrupt(err, pos, "partition out of range or listed twice");
		}
		web_part_status *e = &s->parts[part];
		e->flags = b[pos + 4] | WEB_PART_HELD; /* listed: it holds records */
		e->applied = ts_get_u64le(b + pos + 5);
		e->high = ts_get_u64le(b + pos + 13);
		e->lag = ts_get_u64le(b + pos + 21);
		if ((e->flags & WEB_PART_CAUGHT_UP) && !(e->flags & WEB_PART_OWNED))
			e->flags &= (uint8_t)~WEB_PART_CAUGHT_UP; /* only an owner is caught up */
	}
	s->up = true;
	return TS_OK;
}

/* ---------------------------------------------------------------- planning */

int web_plan_n_partitions(const web_store_status *st, size_t n)
{
	int np = 0;
	for (size_t i = 0; i < n; i++) {
		if (!st[i].up || st[i].n_partitions == 0)
			continue;
		if (np && st[i].n_partitions != np)
			return -1;
		np = st[i].n_partitions;
	}
	return np;
}

static bool candidate(const web_store_status *s, int n_partitions, int p)
{
	return s->up && s->n_partitions == n_partitions && p < s->n_partitions &&
	       (s->parts[p].flags & WEB_PART_CAUGHT_UP);
}

int web_plan_pick(const web_store_status *st, size_t n, int n_partitions, int p,
		  const bool *excluded, int prev)
{
	if (p < 0 || p >= n_partitions)
		return -1;
	if (prev >= 0 && (size_t)prev < n && !(excluded && excluded[prev]) &&
	    candidate(&st[prev], n_partitions, p))
		return prev;
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		if ((excluded && excluded[i]) || !candidate(&st[i], n_partitions, p))
			continue;
		if (best < 0 || st[i].parts[p].lag < st[best].parts[p].lag)
			best = (int)i;
	}
	return best;
}

int web_plan_compute(const web_store_status *st, size_t n, int n_partitions, const int *prev,
		     int *choice)
{
	int missing = 0;
	for (int p = 0; p < n_partitions; p++) {
		choice[p] = web_plan_pick(st, n, n_partitions, p, NULL, prev ? prev[p] : -1);
		missing += choice[p] < 0;
	}
	return missing;
}
