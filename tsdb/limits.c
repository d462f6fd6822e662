/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits.c: the series limiter (tsdb.h "series limits"): total and per-metric bounds on
 * the number of series, checked before a write is acknowledged.
 *
 * Why its own set: ingest acknowledges a write once it is in the log, and the consumer
 * creates the series in the head a moment later, so the head alone cannot say whether a
 * series admitted a millisecond ago exists. The limiter remembers every series hash it
 * admitted or found in the head: LIM_STRIPES open-addressing sets of 64-bit hashes (0
 * is the empty slot, so hash 0 is stored as 1), chosen by the top bits of the hash (the
 * low bits pick log partitions and head stripes), each under its own rwlock; plus one map
 * metric-name hash -> series count. A series is identified by its 64-bit hash alone: two
 * label sets with the same XXH64 count as one series (about 3e-6 odds at 10M series).
 *
 * Locks: l->mu (mutex) guards the metric map, last_reseed_ns and every insertion; it is
 * taken before a stripe lock, never after. A known series costs one stripe read lock and
 * a probe; only new series take l->mu.
 *
 * Re-seeding: at creation, and when a new series would pass a limit and the last re-seed
 * is more than RESEED_MIN_NS old, the sets and counts are rebuilt from the active series
 * (a sample in the last hour, head or blocks, through a querier), so room comes back as
 * series go quiet, and the check is repeated. A re-seed reads every active series' labels:
 * about a second per million series, hence the rate bound. See tsdb.h for what that means
 * for series in flight.
 *
 * Tested by tests/tsdb/test_limits.c and tests/integration/test_series_limits.sh.
 */
#include "tsdb/tsdb_int.h"

#include <stdio.h>
#include <string.h>

#define LIM_STRIPES    64
#define LIM_INIT_SLOTS 64
#define RESEED_MIN_NS  (60LL * 1000 * 1000 * 1000)
#define ACTIVE_MS      (3600LL * 1000) /* a series is active with a sample this recent */

typedef struct hset {
	uint64_t *slots; /* 0 = empty; power-of-two capacity */
	size_t cap, n;
} hset;

typedef struct lim_stripe {
	union {
		struct {
			pthread_rwlock_t lock; /* guards set */
			hset set;
		};
		char pad[128];
	};
} lim_stripe;

typedef struct mcount {
	uint64_t h; /* metric-name hash (never 0); 0 = empty slot */
	uint64_t n; /* series of that metric */
} mcount;

struct tsdb_limiter {
	tsdb_db *db;               /* borrowed */
	uint64_t max_series;       /* 0 = no bound; immutable */
	uint64_t max_per_metric;   /* 0 = no bound; immutable */
	pthread_mutex_t mu;        /* guards metrics, m_cap, m_n, last_reseed_ns, inserts */
	mcount *metrics;           /* open addressing */
	size_t m_cap, m_n;         /* slots, used */
	int64_t last_reseed_ns;    /* ts_mono_ns of the last re-seed */
	_Atomic uint64_t n_series; /* series in the sets (written under mu) */
	lim_stripe stripes[LIM_STRIPES];
};

/* ---------------------------------------------------------------- hash sets */

static size_t probe_start(uint64_t key, size_t cap)
{
	return (size_t)(key * 0x9E3779B97F4A7C15ull >> 7) & (cap - 1);
}

static bool hset_has(const hset *s, uint64_t key)
{
	if (!s->cap)
		return false;
	for (size_t i = probe_start(key, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i] == key)
			return true;
		if (!s->slots[i])
			return false;
	}
}

static void hset_put_nogrow(hset *s, uint64_t key)
{
	size_t i = probe_start(key, s->cap);
	while (s->slots[i] && s->slots[i] != key)
		i = (i + 1) & (s->cap - 1);
	if (!s->slots[i]) {
		s->slots[i] = key;
		s->n++;
	}
}

/* Room for one more key. TS_OK or TS_ENOMEM (set unchanged). */
static int hset_reserve(hset *s)
{
	if ((s->n + 1) * 10 < s->cap * 7)
		return TS_OK;
	size_t cap = s->cap ? s->cap * 2 : LIM_INIT_SLOTS;
	uint64_t *slots = ts_calloc(cap, sizeof(*slots));
	if (!slots)
		return TS_ENOMEM;
	hset ns = {slots, cap, 0};
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			hset_put_nogrow(&ns, s->slots[i]);
	ts_free(s->slots);
	*s = ns;
	return TS_OK;
}

/* ---------------------------------------------------------------- metric counts */

static mcount *metric_slot(tsdb_limiter *l, uint64_t h)
{
	for (size_t i = probe_start(h, l->m_cap);; i = (i + 1) & (l->m_cap - 1))
		if (l->metrics[i].h == h || !l->metrics[i].h)
			return &l->metrics[i];
}

/* Count of metric h (0 if unknown). l->mu held. */
static uint64_t metric_count(tsdb_limiter *l, uint64_t h)
{
	return l->m_cap ? metric_slot(l, h)->n : 0;
}

/* Add one series to metric h. l->mu held. TS_OK or TS_ENOMEM (nothing changed). */
static int metric_inc(tsdb_limiter *l, uint64_t h)
{
	if ((l->m_n + 1) * 10 >= l->m_cap * 7) {
		size_t cap = l->m_cap ? l->m_cap * 2 : LIM_INIT_SLOTS;
		mcount *m = ts_calloc(cap, sizeof(*m));
		if (!m)
			return TS_ENOMEM;
		mcount *old = l->metrics;
		size_t old_cap = l->m_cap;
		l->metrics = m;
		l->m_cap = cap;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].h)
				*metric_slot(l, old[i].h) = old[i];
		ts_free(old);
	}
	mcount *s = metric_slot(l, h);
	if (!s->h) {
		s->h = h;
		l->m_n++;
	}
	s->n++;
	return TS_OK;
}

/* ---------------------------------------------------------------- helpers */

static const char *metric_of(const ts_label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(labels[i].name, "__name__") == 0)
			return labels[i].value;
	return "";
}

static uint64_t key_of(uint64_t hash)
{
	return hash ? hash : 1;
}

static uint64_t metric_hash(const char *metric)
{
	uint64_t h = ts_hash64(metric, strlen(metric), 0x5EED);
	return h ? h : 1;
}

static lim_stripe *stripe_of(tsdb_limiter *l, uint64_t key)
{
	return &l->stripes[key >> 58];
}

/* Insert a series not yet in its stripe (l->mu and the stripe lock held). */
static int insert(tsdb_limiter *l, lim_stripe *st, uint64_t key, uint64_t mh)
{
	if (hset_reserve(&st->set) != TS_OK)
		return TS_ENOMEM;
	if (metric_inc(l, mh) != TS_OK)
		return TS_ENOMEM;
	hset_put_nogrow(&st->set, key);
	atomic_fetch_add_explicit(&l->n_series, 1, memory_order_relaxed);
	return TS_OK;
}

/*
 * Rebuild the sets and counts from the active series: those with a sample in the last
 * ACTIVE_MS (or later), from the head and the blocks (so a restart, whose head starts
 * empty, still counts them). l->mu held; takes every stripe lock. On error the previous
 * state is kept.
 */
static int reseed(tsdb_limiter *l, ts_err *err)
{
	tsdb_querier *q = NULL;
	tsdb_series **all = NULL;
	size_t n = 0;
	ts_matcher m;
	int rc = ts_matcher_init(&m, TS_MATCH_RE, "__name__", ".+", err);
	if (rc)
		return rc;
	if ((rc = tsdb_querier_open(l->db, ts_now_ms() - ACTIVE_MS, INT64_MAX, &q, err)) ||
	    (rc = tsdb_select(q, &m, 1, 0, &all, &n, err))) {
		tsdb_querier_close(q);
		ts_matcher_fini(&m);
		return rc;
	}
	l->last_reseed_ns = ts_mono_ns();
	for (int i = 0; i < LIM_STRIPES; i++)
		pthread_rwlock_wrlock(&l->stripes[i].lock);
	hset saved[LIM_STRIPES];
	mcount *saved_m = l->metrics;
	size_t saved_mcap = l->m_cap, saved_mn = l->m_n;
	uint64_t saved_n = atomic_load(&l->n_series);
	for (int i = 0; i < LIM_STRIPES; i++) {
		saved[i] = l->stripes[i].set;
		memset(&l->stripes[i].set, 0, sizeof(hset));
	}
	l->metrics = NULL;
	l->m_cap = l->m_n = 0;
	atomic_store(&l->n_series, 0);
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		size_t nl;
		const ts_label *ls = tsdb_series_labels(all[i], &nl);
		uint64_t key = key_of(ts_series_hash(ls, nl));
		lim_stripe *st = stripe_of(l, key);
		if (!hset_has(&st->set, key))
			rc = insert(l, st, key, metric_hash(metric_of(ls, nl)));
	}
	if (rc) { /* out of memory: put the old state back */
		for (int i = 0; i < LIM_STRIPES; i++) {
			ts_free(l->stripes[i].set.slots);
			l->stripes[i].set = saved[i];
		}
		ts_free(l->metrics);
		l->metrics = saved_m;
		l->m_cap = saved_mcap;
		l->m_n = saved_mn;
		atomic_store(&l->n_series, saved_n);
		rc = ts_err_set(err, TS_ENOMEM, "out of memory counting series for the limits");
	} else {
		for (int i = 0; i < LIM_STRIPES; i++)
			ts_free(saved[i].slots);
		ts_free(saved_m);
	}
	for (int i = LIM_STRIPES - 1; i >= 0; i--)
		pthread_rwlock_unlock(&l->stripes[i].lock);
	ts_free(all);
	tsdb_querier_close(q);
	ts_matcher_fini(&m);
	return rc;
}

/* ---------------------------------------------------------------- API */

int tsdb_limiter_new(tsdb_db *db, uint64_t max_series, uint64_t max_series_per_metric,
		     tsdb_limiter **out, ts_err *err)
{
	tsdb_limiter *l = ts_calloc(1, sizeof(*l));
	if (!l)
		return ts_err_set(err, TS_ENOMEM, "out of memory creating the series limiter");
	l->db = db;
	l->max_series = max_series;
	l->max_per_metric = max_series_per_metric;
	pthread_mutex_init(&l->mu, NULL);
	atomic_init(&l->n_series, 0);
	for (int i = 0; i < LIM_STRIPES; i++)
		pthread_rwlock_init(&l->stripes[i].lock, NULL);
	pthread_mutex_lock(&l->mu);
	int rc = reseed(l, err);
	pthread_mutex_unlock(&l->mu);
	if (rc) {
		tsdb_limiter_free(l);
		return rc;
	}
	*out = l;
	return TS_OK;
}

void tsdb_limiter_free(tsdb_limiter *l)
{
	if (!l)
		return;
	for (int i = 0; i < LIM_STRIPES; i++) {
		ts_free(l->stripes[i].set.slots);
		pthread_rwlock_destroy(&l->stripes[i].lock);
	}
	ts_free(l->metrics);
	pthread_mutex_destroy(&l->mu);
	ts_free(l);
}

uint64_t tsdb_limiter_n_series(tsdb_limiter *l)
{
	return atomic_load_explicit(&l->n_series, memory_order_relaxed);
}

/* Would one more series of metric mh pass a limit? Writes the message. l->mu held. */
static bool over_limit(tsdb_limiter *l, uint64_t mh, const char *metric, ts_err *err)
{
	uint64_t total = atomic_load_explicit(&l->n_series, memory_order_relaxed);
	if (l->max_series && total >= l->max_series) {
		ts_err_set(err, TS_ELIMIT,
			   "max_series %llu reached: new series for metric '%.64s' refused",
			   (unsigned long long)l->max_series, metric);
		return true;
	}
	if (l->max_per_metric && metric_count(l, mh) >= l->max_per_metric) {
		ts_err_set(err, TS_ELIMIT,
			   "max_series_per_metric %llu reached for metric '%.64s': new series "
			   "refused",
			   (unsigned long long)l->max_per_metric, metric);
		return true;
	}
	return false;
}

int tsdb_limiter_admit(tsdb_limiter *l, const ts_label *labels, size_t n_labels, uint64_t hash,
		       ts_err *err)
{
	uint64_t key = key_of(hash);
	lim_stripe *st = stripe_of(l, key);
	pthread_rwlock_rdlock(&st->lock);
	bool known = hset_has(&st->set, key);
	pthread_rwlock_unlock(&st->lock);
	if (known)
		return TS_OK;
	const char *metric = metric_of(labels, n_labels);
	uint64_t mh = metric_hash(metric);
	int rc = TS_OK;
	pthread_mutex_lock(&l->mu);
	pthread_rwlock_wrlock(&st->lock);
	if (hset_has(&st->set, key))
		goto out;
	if (over_limit(l, mh, metric, NULL)) {
		if (ts_mono_ns() - l->last_reseed_ns < RESEED_MIN_NS) {
			rc = over_limit(l, mh, metric, err) ? TS_ELIMIT : TS_OK;
			if (rc)
				goto out;
		} else {
			pthread_rwlock_unlock(&st->lock);
			rc = reseed(l, err);
			pthread_rwlock_wrlock(&st->lock);
			if (rc)
				goto out;
			if (hset_has(&st->set, key))
				goto out;
			if (over_limit(l, mh, metric, err)) {
				rc = TS_ELIMIT;
				goto out;
			}
		}
	}
	if (insert(l, st, key, mh) != TS_OK)
		rc = ts_err_set(err, TS_ENOMEM, "out of memory admitting a series");
out:
	pthread_rwlock_unlock(&st->lock);
	pthread_mutex_unlock(&l->mu);
	return rc;
}
