/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metadata.c: the bounded, in-memory registry of metric metadata (type, help, unit per
 * metric family) behind /api/v1/metadata.
 *
 * Fed by every exposition body (# TYPE, # HELP, # UNIT lines of scrapes and of
 * /api/v1/import/prometheus) and by the MetricMetadata entries of remote-write requests.
 * Prometheus answers /api/v1/metadata from its targets' scrape caches; Strata has no
 * per-target cache for pushed data, so it keeps what it last learned per family:
 *
 *  - A family (keyed by its name, XXH64-hashed into chained buckets) holds up to
 *    INGEST_METADATA_MAX_VARIANTS distinct (type, help, unit) triples, most recently
 *    seen first: two exporter versions with different help texts both show, as they do
 *    in Prometheus; a fifth variant pushes out the least recently seen one.
 *  - Families sit on an LRU list (most recently seen at the head). When the family
 *    count or the byte total would exceed its bound, the least recently seen families
 *    are evicted (counted), so the registry follows what is being ingested now.
 *  - Help text longer than INGEST_METADATA_MAX_HELP_BYTES is cut at a UTF-8 character
 *    boundary; a family name longer than INGEST_METADATA_MAX_NAME_BYTES or empty is
 *    refused with TS_EINVAL (and counted).
 *
 * Locking: one mutex guards everything. A put of an unchanged triple (the steady state
 * of a scrape) is a hash lookup, a compare and two list moves under the lock; no
 * allocation. Queries copy what they return into one owned allocation, so nothing
 * borrowed outlives the lock.
 *
 * Does not: persist across restarts (the next scrape or remote write refills it), keep
 * per-target provenance (/api/v1/targets/metadata), or expire families by age.
 */
#include "ingest/ingest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct meta_variant {
	size_t bytes; /* of this allocation */
	const char *type, *help, *unit;
	char data[]; /* type\0help\0unit\0 */
} meta_variant;

typedef struct meta_family meta_family;
struct meta_family {
	uint64_t hash;
	meta_family *hnext;                            /* bucket chain */
	meta_family *newer, *older;                    /* LRU list */
	meta_variant *v[INGEST_METADATA_MAX_VARIANTS]; /* most recently seen first */
	size_t n_v;
	size_t bytes; /* this struct, name and variants */
	char name[];
};

struct ingest_metadata {
	pthread_mutex_t mu;    /* guards every field below */
	meta_family **buckets; /* n_buckets chains (power of two) */
	size_t n_buckets;
	size_t n_families;
	size_t n_variants;
	size_t bytes;                 /* sum of family bytes */
	meta_family *newest, *oldest; /* LRU ends */
	size_t max_families, max_bytes;
	uint64_t n_evicted, n_refused;
};

#define INITIAL_BUCKETS 256

int ingest_metadata_new(size_t max_families, size_t max_bytes, ingest_metadata **out, ts_err *err)
{
	if (max_families == 0 || max_bytes == 0)
		return ts_err_set(err, TS_EINVAL,
				  "metadata registry needs max_families and max_bytes > 0");
	ingest_metadata *m = ts_calloc(1, sizeof(*m));
	meta_family **b = ts_calloc(INITIAL_BUCKETS, sizeof(*b));
	if (!m || !b) {
		ts_free(m);
		ts_free(b);
		return ts_err_set(err, TS_ENOMEM, "out of memory creating the metadata registry");
	}
	pthread_mutex_init(&m->mu, NULL);
	m->buckets = b;
	m->n_buckets = INITIAL_BUCKETS;
	m->max_families = max_families;
	m->max_bytes = max_bytes;
	*out = m;
	return TS_OK;
}

static void family_free(meta_family *f)
{
	for (size_t i = 0; i < f->n_v; i++)
		ts_free(f->v[i]);
	ts_free(f);
}

void ingest_metadata_free(ingest_metadata *m)
{
	if (!m)
		return;
	for (meta_family *f = m->newest, *next; f; f = next) {
		next = f->older;
		family_free(f);
	}
	ts_free(m->buckets);
	pthread_mutex_destroy(&m->mu);
	ts_free(m);
}

/* ---------------------------------------------------------------- internals (locked) */

static void lru_unlink(ingest_metadata *m, meta_family *f)
{
	if (f->newer)
		f->newer->older = f->older;
	else
		m->newest = f->older;
	if (f->older)
		f->older->newer = f->newer;
	else
		m->oldest = f->newer;
	f->newer = f->older = NULL;
}

static void lru_push_newest(ingest_metadata *m, meta_family *f)
{
	f->newer = NULL;
	f->older = m->newest;
	if (m->newest)
		m->newest->newer = f;
	m->newest = f;
	if (!m->oldest)
		m->oldest = f;
}

static meta_family **bucket_of(ingest_metadata *m, uint64_t hash)
{
	return &m->buckets[hash & (m->n_buckets - 1)];
}

static meta_family *find(ingest_metadata *m, const char *name, uint64_t hash)
{
	for (meta_family *f = *bucket_of(m, hash); f; f = f->hnext)
		if (f->hash == hash && strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static void unlink_bucket(ingest_metadata *m, meta_family *f)
{
	meta_family **pp = bucket_of(m, f->hash);
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
}

static void evict(ingest_metadata *m, meta_family *f)
{
	lru_unlink(m, f);
	unlink_bucket(m, f);
	m->n_families--;
	m->n_variants -= f->n_v;
	m->bytes -= f->bytes;
	m->n_evicted++;
	family_free(f);
}

/* Double the bucket array when chains get long; best effort (a failure keeps it). */
static void maybe_grow(ingest_metadata *m)
{
	if (m->n_families < m->n_buckets)
		return;
	size_t nb = m->n_buckets * 2;
	meta_family **b = ts_calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < m->n_buckets; i++) {
		for (meta_family *f = m->buckets[i], *next; f; f = next) {
			next = f->hnext;
			f->hnext = b[f->hash & (nb - 1)];
			b[f->hash & (nb - 1)] = f;
		}
	}
	ts_free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
}

/* Length of help cut to max bytes without splitting a UTF-8 sequence. */
static size_t help_len(const char *help)
{
	size_t n = strlen(help);
	if (n <= INGEST_METADATA_MAX_HELP_BYTES)
		return n;
	n = INGEST_METADATA_MAX_HELP_BYTES;
	while (n > 0 && ((unsigned char)help[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static meta_variant *variant_new(const char *type, const char *help, size_t hn, const char *unit)
{
	size_t tn = strlen(type), un = strlen(unit);
	size_t bytes = sizeof(meta_variant) + tn + hn + un + 3;
	meta_variant *v = ts_malloc(bytes);
	if (!v)
		return NULL;
	v->bytes = bytes;
	char *p = v->data;
	memcpy(p, type, tn + 1);
	v->type = p;
	p += tn + 1;
	memcpy(p, help, hn);
	p[hn] = '\0';
	v->help = p;
	p += hn + 1;
	memcpy(p, unit, un + 1);
	v->unit = p;
	return v;
}

static bool variant_eq(const meta_variant *v, const char *type, const char *help, size_t hn,
		       const char *unit)
{
	return strcmp(v->type, type) == 0 && strncmp(v->help, help, hn) == 0 &&
	       v->help[hn] == '\0' && strcmp(v->unit, unit) == 0;
}

/* ---------------------------------------------------------------- public */

int ingest_metadata_put(ingest_metadata *m, const char *family, const char *type, const char *help,
			const char *unit, ts_err *err)
{
	size_t name_n = family ? strlen(family) : 0;
	if (name_n == 0 || name_n > INGEST_METADATA_MAX_NAME_BYTES) {
		pthread_mutex_lock(&m->mu);
		m->n_refused++;
		pthread_mutex_unlock(&m->mu);
		return ts_err_set(err, TS_EINVAL, "metadata: bad metric family name (%zu bytes)",
				  name_n);
	}
	type = type && *type ? type : "unknown";
	help = help ? help : "";
	unit = unit ? unit : "";
	size_t hn = help_len(help);
	uint64_t hash = ts_hash64(family, name_n, 0);

	pthread_mutex_lock(&m->mu);
	meta_family *f = find(m, family, hash);
	if (f) {
		size_t i = 0;
		while (i < f->n_v && !variant_eq(f->v[i], type, help, hn, unit))
			i++;
		if (i < f->n_v) { /* known: move it to the front */
			meta_variant *v = f->v[i];
			memmove(&f->v[1], &f->v[0], i * sizeof(f->v[0]));
			f->v[0] = v;
		} else {
			meta_variant *v = variant_new(type, help, hn, unit);
			if (!v) {
				pthread_mutex_unlock(&m->mu);
				return ts_err_set(err, TS_ENOMEM, "out of memory storing metadata");
			}
			if (f->n_v == INGEST_METADATA_MAX_VARIANTS) {
				meta_variant *old = f->v[--f->n_v];
				f->bytes -= old->bytes;
				m->bytes -= old->bytes;
				m->n_variants--;
				ts_free(old);
			}
			memmove(&f->v[1], &f->v[0], f->n_v * sizeof(f->v[0]));
			f->v[0] = v;
			f->n_v++;
			f->bytes += v->bytes;
			m->bytes += v->bytes;
			m->n_variants++;
		}
		if (m->newest != f) {
			lru_unlink(m, f);
			lru_push_newest(m, f);
		}
	} else {
		f = ts_calloc(1, sizeof(*f) + name_n + 1);
		meta_variant *v = f ? variant_new(type, help, hn, unit) : NULL;
		if (!v) {
			ts_free(f);
			pthread_mutex_unlock(&m->mu);
			return ts_err_set(err, TS_ENOMEM, "out of memory storing metadata");
		}
		memcpy(f->name, family, name_n + 1);
		f->hash = hash;
		f->v[0] = v;
		f->n_v = 1;
		f->bytes = sizeof(*f) + name_n + 1 + v->bytes;
		meta_family **b = bucket_of(m, hash);
		f->hnext = *b;
		*b = f;
		lru_push_newest(m, f);
		m->n_families++;
		m->n_variants++;
		m->bytes += f->bytes;
		maybe_grow(m);
	}
	/* Evict the least recently seen families beyond the bounds; the family just put is
	 * the newest, so it goes only when it alone exceeds max_bytes. */
	while (m->oldest && (m->n_families > m->max_families || m->bytes > m->max_bytes))
		evict(m, m->oldest);
	pthread_mutex_unlock(&m->mu);
	return TS_OK;
}

int ingest_metadata_sink(void *registry, const char *family, const char *type, const char *help,
			 const char *unit)
{
	int rc = ingest_metadata_put(registry, family, type, help, unit, NULL);
	/* A refused name is counted and skipped; only memory exhaustion stops the caller. */
	return rc == TS_ENOMEM ? rc : TS_OK;
}

static int cmp_family(const void *a, const void *b)
{
	return strcmp((*(meta_family *const *)a)->name, (*(meta_family *const *)b)->name);
}

int ingest_metadata_get(ingest_metadata *m, const char *family, long limit, long limit_per_metric,
			ingest_metadata_entry **out, size_t *n_out, ts_err *err)
{
	meta_family **sel = NULL;
	ingest_metadata_entry *res = NULL;
	size_t n_sel = 0, n_entries = 0, str_bytes = 0;
	int rc = TS_OK;
	pthread_mutex_lock(&m->mu);
	meta_family *one = NULL;
	if (family && *family)
		one = find(m, family, ts_hash64(family, strlen(family), 0));
	size_t want = family && *family ? (one ? 1 : 0) : m->n_families;
	if (want) {
		sel = ts_malloc(want * sizeof(*sel));
		if (!sel) {
			rc = ts_err_set(err, TS_ENOMEM, "out of memory listing metadata");
			goto done;
		}
		if (one)
			sel[n_sel++] = one;
		else
			for (meta_family *f = m->newest; f; f = f->older)
				sel[n_sel++] = f;
	}
	if (n_sel > 1)
		qsort(sel, n_sel, sizeof(*sel), cmp_family);
	if (limit >= 0 && (size_t)limit < n_sel)
		n_sel = (size_t)limit;
	for (size_t i = 0; i < n_sel; i++) {
		size_t nv = sel[i]->n_v;
		if (limit_per_metric > 0 && (size_t)limit_per_metric < nv)
			nv = (size_t)limit_per_metric;
		for (size_t k = 0; k < nv; k++)
			str_bytes += sel[i]->v[k]->bytes - sizeof(meta_variant);
		str_bytes += (strlen(sel[i]->name) + 1) * nv;
		n_entries += nv;
	}
	res = ts_malloc(n_entries * sizeof(*res) + str_bytes + 1);
	if (!res) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory listing metadata");
		goto done;
	}
	char *p = (char *)(res + n_entries);
	size_t w = 0;
	for (size_t i = 0; i < n_sel; i++) {
		size_t nv = sel[i]->n_v;
		if (limit_per_metric > 0 && (size_t)limit_per_metric < nv)
			nv = (size_t)limit_per_metric;
		for (size_t k = 0; k < nv; k++, w++) {
			const meta_variant *v = sel[i]->v[k];
			size_t nn = strlen(sel[i]->name) + 1;
			memcpy(p, sel[i]->name, nn);
			res[w].family = p;
			p += nn;
			size_t vb = v->bytes - sizeof(meta_variant);
			memcpy(p, v->data, vb);
			res[w].type = p;
			res[w].help = p + (v->help - v->data);
			res[w].unit = p + (v->unit - v->data);
			p += vb;
		}
	}
done:
	pthread_mutex_unlock(&m->mu);
	ts_free(sel);
	if (rc)
		return rc;
	*out = res;
	*n_out = n_entries;
	return TS_OK;
}

void ingest_metadata_entries_free(ingest_metadata_entry *v)
{
	ts_free(v);
}

void ingest_metadata_stats_get(ingest_metadata *m, ingest_metadata_stats *out)
{
	pthread_mutex_lock(&m->mu);
	out->n_families = m->n_families;
	out->n_variants = m->n_variants;
	out->bytes = m->bytes;
	out->n_evicted = m->n_evicted;
	out->n_refused = m->n_refused;
	pthread_mutex_unlock(&m->mu);
}
