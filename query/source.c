/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source.c: selectors read through a query_source (query.h) instead of the local store.
 *
 * An engine created with query_options.source (cluster role query: web/fanout.c reads
 * the store nodes) has no tsdb; eval.c's load_series hands every selector to
 * qe_load_remote, which asks the source for the matching series in the selector's window
 * and passes each one on exactly as the local path does: samples outside [mint, maxt]
 * and (if asked) staleness markers dropped, series without samples skipped, samples and
 * series counted in the query's stats. Differences, by design: the source's label
 * strings live only for its callback while the store's live for the whole query, so
 * they are copied into the query's arena; and a source's warning (a store unavailable)
 * is kept in query_result.warning (the first one of the query).
 *
 * Kept apart from eval.c so the local path's code is unchanged by it.
 *
 * Tested by tests/web/test_fanout.c (the engine through the fan-out equals the engine
 * on the store, bit for bit) and tests/integration/test_cluster_query.sh.
 */
#include "query/eval.h"

#include <stdio.h>
#include <string.h>

/* A query_source's series on their way to a qe_series_fn (qe_load_remote). */
typedef struct remote_load {
	qe_ctx *c;
	qe_series_fn fn;
	void *arg;
	bool drop_stale;
	int64_t mint, maxt;
	int64_t *t; /* scratch for samples kept (ts_malloc) */
	double *v;
	size_t cap;
	uint64_t loaded; /* series passed on */
} remote_load;

static int remote_series(void *arg, const ts_label *labels, size_t n_labels, const int64_t *t,
			 const double *v, size_t n)
{
	remote_load *r = arg;
	qe_ctx *c = r->c;
	int rc = qe_check_timeout(c);
	if (rc)
		return rc;
	if (n > (size_t)c->eng->opt.max_samples)
		return ts_err_set(c->err, TS_ELIMIT,
				  "query processing would load too many samples into memory in "
				  "query execution");
	if (n > r->cap) {
		int64_t *nt = ts_realloc(r->t, n * sizeof(*nt));
		if (nt)
			r->t = nt;
		double *nv = nt ? ts_realloc(r->v, n * sizeof(*nv)) : NULL;
		if (nv)
			r->v = nv;
		if (!nt || !nv)
			return ts_err_set(c->err, TS_ENOMEM, "out of memory in query execution");
		r->cap = n;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < r->mint || t[i] > r->maxt || (r->drop_stale && qe_is_stale(v[i])))
			continue;
		r->t[k] = t[i];
		r->v[k++] = v[i];
	}
	if (k == 0)
		return TS_OK;
	/* The source's labels live only for this call, a store's for the whole query:
	 * series_fns keep label pointers, so copy them into the query's arena. */
	ts_label *l = qe_alloc(c, (n_labels ? n_labels : 1) * sizeof(*l));
	if (!l)
		return c->err ? c->err->code : TS_ENOMEM;
	for (size_t i = 0; i < n_labels; i++) {
		l[i].name = query_arena_strdup(c->arena, labels[i].name);
		l[i].value = query_arena_strdup(c->arena, labels[i].value);
		if (!l[i].name || !l[i].value)
			return qe_nomem(c);
	}
	c->stats->samples_loaded += k;
	r->loaded++;
	return r->fn(c, r->arg, l, n_labels, r->t, r->v, k);
}

int qe_load_remote(qe_ctx *c, const query_expr *vs, int64_t mint, int64_t maxt, bool drop_stale,
		   qe_series_fn fn, void *arg)
{
	const query_source *src = c->eng->opt.source;
	remote_load r = {
	    .c = c, .fn = fn, .arg = arg, .drop_stale = drop_stale, .mint = mint, .maxt = maxt};
	char warning[256] = "";
	int rc = src->select(src->ctx, vs->vs.matchers, vs->vs.n_matchers, mint, maxt,
			     c->eng->opt.max_series, remote_series, &r, warning, sizeof(warning),
			     c->err);
	if (warning[0] && c->warning && !c->warning[0])
		snprintf(c->warning, 256, "%s", warning);
	ts_free(r.t);
	ts_free(r.v);
	if (rc == TS_OK)
		c->stats->series_loaded += r.loaded;
	return rc;
}
