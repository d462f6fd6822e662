/* SPDX-License-Identifier: Apache-2.0 */
/*
 * querier.c: read views over the store: select by matchers, iterate samples, label
 * names and values.
 *
 * Selection scans the series registry under the shared lock and applies the matchers
 * to each series' labels; postings lists replace the scan with the block index work.
 * An iterator copies the samples of its range under the series lock, so the caller
 * can iterate without holding any lock.
 */
#include "tsdb/tsdb_int.h"

#include <stdlib.h>
#include <string.h>

struct tsdb_querier {
	tsdb_db *db;
	int64_t mint, maxt;
	size_t n_series_seen; /* registry size when opened: later series are not visible */
};

struct tsdb_iter {
	int64_t *t;
	double *v;
	size_t n, pos;
};

int tsdb_querier_open(tsdb_db *db, int64_t mint_ms, int64_t maxt_ms, tsdb_querier **out,
		      ts_err *err)
{
	if (mint_ms > maxt_ms)
		return ts_err_set(err, TS_EINVAL, "querier range start %lld after end %lld",
				  (long long)mint_ms, (long long)maxt_ms);
	tsdb_querier *q = ts_calloc(1, sizeof(*q));
	if (!q)
		return ts_err_set(err, TS_ENOMEM, "out of memory opening a querier");
	q->db = db;
	q->mint = mint_ms;
	q->maxt = maxt_ms;
	pthread_rwlock_rdlock(&db->series_lock);
	q->n_series_seen = db->n_series;
	pthread_rwlock_unlock(&db->series_lock);
	*out = q;
	return TS_OK;
}

void tsdb_querier_close(tsdb_querier *q)
{
	ts_free(q);
}

static bool series_matches(const tsdb_series *s, const ts_matcher *ms, size_t n_ms)
{
	for (size_t i = 0; i < n_ms; i++)
		if (!ts_matcher_matches(&ms[i], ts_labels_get(s->labels, s->n_labels, ms[i].name)))
			return false;
	return true;
}

static bool series_in_range(tsdb_series *s, int64_t mint, int64_t maxt)
{
	pthread_mutex_lock(&s->lock);
	bool in = s->n && s->t[0] <= maxt && s->t[s->n - 1] >= mint;
	pthread_mutex_unlock(&s->lock);
	return in;
}

static int cmp_series(const void *a, const void *b)
{
	const tsdb_series *x = *(tsdb_series *const *)a, *y = *(tsdb_series *const *)b;
	return ts_labels_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

/* Collect matching series into an owned array (unsorted). */
static int collect(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, size_t max_series,
		   tsdb_series ***out, size_t *n_out, ts_err *err)
{
	tsdb_db *db = q->db;
	size_t n = 0, cap = 0;
	tsdb_series **v = NULL;
	int rc = TS_OK;
	pthread_rwlock_rdlock(&db->series_lock);
	for (size_t i = 0; i < q->n_series_seen; i++) {
		tsdb_series *s = db->by_id[i];
		if (!series_matches(s, ms, n_ms) || !series_in_range(s, q->mint, q->maxt))
			continue;
		if (max_series && n >= max_series) {
			rc = ts_err_set(err, TS_ELIMIT,
					"query selects more than the limit of %zu series",
					max_series);
			break;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			tsdb_series **nv = ts_realloc(v, nc * sizeof(*nv));
			if (!nv) {
				rc = ts_err_set(err, TS_ENOMEM, "out of memory selecting series");
				break;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = s;
	}
	pthread_rwlock_unlock(&db->series_lock);
	if (rc) {
		ts_free(v);
		return rc;
	}
	*out = v;
	*n_out = n;
	return TS_OK;
}

int tsdb_select(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, size_t max_series,
		tsdb_series ***out, size_t *n_out, ts_err *err)
{
	if (n_ms == 0)
		return ts_err_set(err, TS_EINVAL, "select needs at least one matcher");
	int rc = collect(q, ms, n_ms, max_series, out, n_out, err);
	if (rc == TS_OK && *n_out > 1)
		qsort(*out, *n_out, sizeof(**out), cmp_series);
	return rc;
}

const ts_label *tsdb_series_labels(const tsdb_series *s, size_t *n_labels)
{
	*n_labels = s->n_labels;
	return s->labels;
}

int tsdb_iter_open(tsdb_querier *q, tsdb_series *s, int64_t mint_ms, int64_t maxt_ms,
		   tsdb_iter **out, ts_err *err)
{
	int64_t mint = mint_ms > q->mint ? mint_ms : q->mint;
	int64_t maxt = maxt_ms < q->maxt ? maxt_ms : q->maxt;
	tsdb_iter *it = ts_calloc(1, sizeof(*it));
	if (!it)
		return ts_err_set(err, TS_ENOMEM, "out of memory opening an iterator");
	int rc = TS_OK;
	pthread_mutex_lock(&s->lock);
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->t[mid] < mint)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < s->n && s->t[end] <= maxt)
		end++;
	size_t n = mint <= maxt ? end - lo : 0;
	if (n) {
		it->t = ts_malloc(n * sizeof(*it->t));
		it->v = ts_malloc(n * sizeof(*it->v));
		if (!it->t || !it->v) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory reading samples");
		} else {
			memcpy(it->t, s->t + lo, n * sizeof(*it->t));
			memcpy(it->v, s->v + lo, n * sizeof(*it->v));
			it->n = n;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		tsdb_iter_close(it);
		return rc;
	}
	*out = it;
	return TS_OK;
}

int tsdb_iter_next(tsdb_iter *it, int64_t *t_ms, double *v)
{
	if (it->pos >= it->n)
		return 0;
	*t_ms = it->t[it->pos];
	*v = it->v[it->pos];
	it->pos++;
	return 1;
}

void tsdb_iter_close(tsdb_iter *it)
{
	if (!it)
		return;
	ts_free(it->t);
	ts_free(it->v);
	ts_free(it);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Gather strings (names, or values of `name`) from matching series, sort, dedupe. */
static int gather(tsdb_querier *q, const char *name, const ts_matcher *ms, size_t n_ms,
		  const char ***out, size_t *n_out, ts_err *err)
{
	tsdb_db *db = q->db;
	size_t n = 0, cap = 0;
	const char **v = NULL;
	int rc = TS_OK;
	pthread_rwlock_rdlock(&db->series_lock);
	for (size_t i = 0; i < q->n_series_seen && rc == TS_OK; i++) {
		tsdb_series *s = db->by_id[i];
		if (!series_matches(s, ms, n_ms) || !series_in_range(s, q->mint, q->maxt))
			continue;
		for (size_t k = 0; k < s->n_labels; k++) {
			const char *str;
			if (name) {
				if (strcmp(s->labels[k].name, name) != 0)
					continue;
				str = s->labels[k].value;
			} else {
				str = s->labels[k].name;
			}
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				const char **nv = ts_realloc(v, nc * sizeof(*nv));
				if (!nv) {
					rc = ts_err_set(err, TS_ENOMEM, "out of memory");
					break;
				}
				v = nv;
				cap = nc;
			}
			v[n++] = str;
		}
	}
	pthread_rwlock_unlock(&db->series_lock);
	if (rc) {
		ts_free(v);
		return rc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_str);
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (w == 0 || v[i] != v[w - 1]) /* interned: equal strings share a pointer */
			v[w++] = v[i];
	*out = v;
	*n_out = w;
	return TS_OK;
}

int tsdb_label_names(tsdb_querier *q, const ts_matcher *ms, size_t n_ms, const char ***out,
		     size_t *n_out, ts_err *err)
{
	return gather(q, NULL, ms, n_ms, out, n_out, err);
}

int tsdb_label_values(tsdb_querier *q, const char *name, const ts_matcher *ms, size_t n_ms,
		      const char ***out, size_t *n_out, ts_err *err)
{
	return gather(q, name, ms, n_ms, out, n_out, err);
}
