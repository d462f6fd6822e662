/* SPDX-License-Identifier: Apache-2.0 */
/*
 * functions_hist.c: histogram_quantile over classic (le-bucketed) histograms, the
 * quantile of a set of values, and Go-compatible float text conversions used by the
 * evaluator.
 *
 * histogram_quantile follows Prometheus 2.42: buckets are the elements with a parsable
 * `le` label (parsed like Go's strconv.ParseFloat; others are skipped), grouped by all
 * their other labels including __name__, and the result carries the group's labels
 * without __name__. Per group and step, bucketQuantile: q < 0 gives -Inf, q > 1 +Inf, NaN
 * NaN; buckets are sorted by upper bound; the highest must be +Inf (else NaN); buckets
 * with the same bound are merged; counts are made monotonic (each count at least the
 * previous one: the "envelope" fix for buckets scraped non-atomically); fewer than two
 * buckets or no observations give NaN; the rank q*count is located by binary search and
 * interpolated linearly in its bucket, from 0 for the first bucket when its bound is
 * positive (else the bound itself), and a rank in the +Inf bucket returns the second
 * highest bound.
 */
#include "query/eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- quantile */

static int cmp_nan_first(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	if (isnan(a))
		return isnan(b) ? 0 : -1;
	if (isnan(b))
		return 1;
	return a < b ? -1 : a > b ? 1 : 0;
}

double qe_quantile(double q, double *v, size_t n)
{
	if (n == 0 || isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(v, n, sizeof(*v), cmp_nan_first);
	double nn = (double)n, rank = q * (nn - 1);
	double lower = fmax(0, floor(rank)), upper = fmin(nn - 1, lower + 1);
	double weight = rank - floor(rank);
	return v[(size_t)lower] * (1 - weight) + v[(size_t)upper] * weight;
}

/* ---------------------------------------------------------------- Go float text */

/* Shortest round-trip digits of finite v: digits (no dot) and the decimal exponent of
 * the first digit. */
static size_t shortest_digits(double v, char *digits, int *exp10)
{
	char e[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	const char *s = e[0] == '-' ? e + 1 : e;
	size_t nd = 0;
	for (; *s && *s != 'e'; s++)
		if (*s != '.')
			digits[nd++] = *s;
	*exp10 = (int)strtol(s + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	return nd;
}

void qe_format_float_f(double v, char *out, size_t cap)
{
	if (isnan(v)) {
		snprintf(out, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char digits[24];
	int exp10;
	size_t nd = shortest_digits(v, digits, &exp10), k = 0;
	if (cap < 400) {
		snprintf(out, cap, "%.17g", v);
		return;
	}
	if (signbit(v))
		out[k++] = '-';
	if (v == 0) {
		out[k++] = '0';
		out[k] = '\0';
		return;
	}
	int dp = exp10 + 1; /* digits before the decimal point */
	if (dp <= 0) {
		out[k++] = '0';
		out[k++] = '.';
		for (int i = 0; i < -dp; i++)
			out[k++] = '0';
		memcpy(out + k, digits, nd);
		k += nd;
	} else if ((size_t)dp >= nd) {
		memcpy(out + k, digits, nd);
		k += nd;
		for (size_t i = nd; i < (size_t)dp; i++)
			out[k++] = '0';
	} else {
		memcpy(out + k, digits, (size_t)dp);
		k += (size_t)dp;
		out[k++] = '.';
		memcpy(out + k, digits + dp, nd - (size_t)dp);
		k += nd - (size_t)dp;
	}
	out[k] = '\0';
}

static bool is_digit(char c, bool hex)
{
	return (c >= '0' && c <= '9') ||
	       (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
}

static bool prefix_ci(const char *s, const char *word)
{
	for (; *word; s++, word++)
		if ((*s | 0x20) != *word)
			return false;
	return true;
}

bool qe_parse_float(const char *s, double *out)
{
	const char *p = s;
	bool signed_ = *p == '+' || *p == '-';
	if (signed_)
		p++;
	/* Special values: [+-]inf, [+-]infinity, nan (no sign), any case. */
	if (prefix_ci(p, "infinity") && p[8] == '\0') {
		*out = *s == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (prefix_ci(p, "inf") && p[3] == '\0') {
		*out = *s == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (!signed_ && prefix_ci(p, "nan") && p[3] == '\0') {
		*out = NAN;
		return true;
	}
	/* Decimal or hexadecimal (which needs a p exponent) number syntax. */
	bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	if (hex)
		p += 2;
	size_t nd = 0;
	while (is_digit(*p, hex))
		p++, nd++;
	if (*p == '.') {
		p++;
		while (is_digit(*p, hex))
			p++, nd++;
	}
	if (nd == 0)
		return false;
	char ec = hex ? 'p' : 'e';
	if ((*p | 0x20) == ec) {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p, false))
			return false;
		while (is_digit(*p, false))
			p++;
	} else if (hex) {
		return false;
	}
	if (*p != '\0')
		return false;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (*end != '\0' || (errno == ERANGE && isinf(v)))
		return false;
	*out = v;
	return true;
}

/* ---------------------------------------------------------------- histogram_quantile */

typedef struct bucket {
	double upper;
	double count;
} bucket;

static int cmp_bucket(const void *pa, const void *pb)
{
	const bucket *a = pa, *b = pb;
	return a->upper < b->upper ? -1 : a->upper > b->upper ? 1 : 0;
}

static double bucket_quantile(double q, bucket *b, size_t n)
{
	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(b, n, sizeof(*b), cmp_bucket);
	if (!(isinf(b[n - 1].upper) && b[n - 1].upper > 0))
		return NAN;
	/* Merge buckets with the same upper bound. */
	size_t w = 0;
	bucket last = b[0];
	for (size_t i = 1; i < n; i++) {
		if (b[i].upper == last.upper) {
			last.count += b[i].count;
		} else {
			b[w++] = last;
			last = b[i];
		}
	}
	b[w++] = last;
	n = w;
	/* Monotonic envelope. */
	double max = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (b[i].count > max)
			max = b[i].count;
		else if (b[i].count < max)
			b[i].count = max;
	}
	if (n < 2)
		return NAN;
	double obs = b[n - 1].count;
	if (obs == 0)
		return NAN;
	double rank = q * obs;
	/* sort.Search(n-1, count >= rank) */
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (!(b[mid].count >= rank))
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t k = lo;
	if (k == n - 1)
		return b[n - 2].upper;
	if (k == 0 && b[0].upper <= 0)
		return b[0].upper;
	double start = 0, end = b[k].upper, count = b[k].count;
	if (k > 0) {
		start = b[k - 1].upper;
		count -= b[k - 1].count;
		rank -= b[k - 1].count;
	}
	return start + (end - start) * (rank / count);
}

int qe_histogram_quantile(qe_ctx *c, const double *q, const qe_value *v, qe_value *out)
{
	size_t nv = v->n_vec;
	double *upper = qe_alloc(c, (nv + 1) * sizeof(double));
	size_t *grp = qe_alloc(c, (nv + 1) * sizeof(size_t));
	bool *valid = qe_alloc(c, (nv + 1) * sizeof(bool));
	if (!upper || !grp || !valid)
		return qe_nomem(c);
	/* Groups: all labels but le (the name included); results drop the name too. */
	static const char *const le[] = {"le"};
	qe_lmap m;
	int rc = qe_lmap_init(c, &m, nv);
	if (rc)
		return rc;
	for (size_t k = 0; k < nv; k++) {
		const qe_series *s = &v->vec[k];
		const char *lv = ts_labels_get(s->labels, s->n_labels, "le");
		valid[k] = lv && qe_parse_float(lv, &upper[k]);
		if (!valid[k])
			continue;
		ts_label *l;
		size_t n;
		bool is_new;
		if ((rc = qe_labels_filter(c, s->labels, s->n_labels, le, 1, false, false, &l,
					   &n)) ||
		    (rc = qe_lmap_get(c, &m, l, n, &grp[k], &is_new)))
			return rc;
	}
	size_t ng = m.n + 1;
	size_t *gsize = qe_alloc(c, ng * sizeof(size_t)),
	       *gstart = qe_alloc(c, ng * sizeof(size_t));
	size_t *glen = qe_alloc(c, ng * sizeof(size_t)), *stamp = qe_alloc(c, ng * sizeof(size_t));
	size_t *order = qe_alloc(c, ng * sizeof(size_t)), *gidx = qe_alloc(c, ng * sizeof(size_t));
	bucket *bk = qe_alloc(c, (nv + 1) * sizeof(bucket));
	if (!gsize || !gstart || !glen || !stamp || !order || !gidx || !bk)
		return qe_nomem(c);
	for (size_t k = 0; k < nv; k++)
		if (valid[k])
			gsize[grp[k]]++;
	for (size_t g = 0, off = 0; g < m.n; g++) {
		gstart[g] = off;
		off += gsize[g];
		gidx[g] = SIZE_MAX;
	}
	qe_vbuild b;
	if ((rc = qe_vbuild_init(c, &b, m.n)))
		return rc;
	for (size_t i = 0; i < c->n_steps; i++) {
		if ((i % 64) == 63 && (rc = qe_check_timeout(c)))
			return rc;
		size_t n_order = 0;
		for (size_t k = 0; k < nv; k++) {
			if (!valid[k] || !v->vec[k].ok[i])
				continue;
			size_t g = grp[k];
			if (stamp[g] != i + 1) {
				stamp[g] = i + 1;
				glen[g] = 0;
				order[n_order++] = g;
			}
			bk[gstart[g] + glen[g]++] = (bucket){upper[k], v->vec[k].v[i]};
		}
		for (size_t j = 0; j < n_order; j++) {
			size_t g = order[j];
			if (gidx[g] == SIZE_MAX) {
				ts_label *l;
				size_t n;
				if ((rc = qe_labels_copy(c, m.keys[g], m.key_n[g], true, &l, &n)) ||
				    (rc = qe_vbuild_index(c, &b, l, n, &gidx[g])))
					return rc;
			}
			double r = bucket_quantile(q[i], bk + gstart[g], glen[g]);
			if ((rc = qe_vbuild_set(c, &b, gidx[g], i, r)))
				return rc;
		}
	}
	qe_vbuild_finish(&b, out);
	return TS_OK;
}
