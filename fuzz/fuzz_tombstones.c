/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_tombstones.c: decode a tombstone section (docs/formats/tombstones.md) from
 * arbitrary bytes; it must fail cleanly (TS_ECORRUPT) or give a set that keeps the
 * format's invariants, and the lookups over it must agree with a naive scan.
 *
 * Input: the section payload (u64 LE count, then count x {u64 hash, i64 mint, i64 maxt}),
 * at most 64 KiB. Checked beyond "no crash": entries sorted by (hash, mint), mint <= maxt,
 * one series' intervals disjoint; for every entry, tsdb_tombs_find returns its series'
 * run; tsdb_tombs_hit and tsdb_tombs_within agree with a scan over that run; and
 * tsdb_tombs_filter keeps exactly the samples no interval covers.
 */
#include "tsdb/tsdb_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (64 * 1024)

#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_tombstones: %s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                                     \
			abort();                                                            \
		}                                                                           \
	} while (0)

static bool covered(const tsdb_tombset *ts, size_t first, size_t n, int64_t t)
{
	for (size_t i = first; i < first + n; i++)
		if (ts->v[i].mint <= t && t <= ts->v[i].maxt)
			return true;
	return false;
}

static void check_series(const tsdb_tombset *ts, size_t at)
{
	uint64_t h = ts->v[at].hash;
	size_t first = 0, n = tsdb_tombs_find(ts, h, &first);
	CHECK(n >= 1 && first <= at && at < first + n);
	for (size_t i = first; i < first + n; i++)
		CHECK(ts->v[i].hash == h);
	CHECK(first == 0 || ts->v[first - 1].hash != h);
	CHECK(first + n == ts->n || ts->v[first + n].hash != h);
	/* Probe points around the entry's edges. */
	const tsdb_tomb *e = &ts->v[at];
	/* midpoint without overflow: maxt - mint may exceed INT64_MAX */
	int64_t mid = (int64_t)((uint64_t)e->mint + ((uint64_t)e->maxt - (uint64_t)e->mint) / 2);
	int64_t probes[6] = {e->mint, e->maxt, mid, 0, 0, 0};
	int np = 3;
	if (e->mint > INT64_MIN)
		probes[np++] = e->mint - 1;
	if (e->maxt < INT64_MAX)
		probes[np++] = e->maxt + 1;
	for (int i = 0; i < np; i++) {
		int64_t t = probes[i];
		CHECK(tsdb_tombs_hit(ts, first, n, t, t) == covered(ts, first, n, t));
		CHECK(tsdb_tombs_within(ts, first, n, t, t) == covered(ts, first, n, t));
	}
	CHECK(tsdb_tombs_hit(ts, first, n, e->mint, e->maxt));
	CHECK(tsdb_tombs_within(ts, first, n, e->mint, e->maxt));
	/* Filtering sorted samples keeps exactly the uncovered ones. */
	int64_t t[6];
	double v[6];
	int64_t sorted[6];
	memcpy(sorted, probes, sizeof(probes));
	for (int i = 1; i < np; i++) /* insertion sort, then unique */
		for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int64_t x = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = x;
		}
	size_t m = 0;
	for (int i = 0; i < np; i++)
		if (m == 0 || sorted[i] != t[m - 1]) {
			t[m] = sorted[i];
			v[m] = (double)m;
			m++;
		}
	size_t want = 0;
	for (size_t i = 0; i < m; i++)
		want += !covered(ts, first, n, t[i]);
	size_t got = tsdb_tombs_filter(ts, h, t, v, m);
	CHECK(got == want);
	for (size_t i = 0; i < got; i++) {
		CHECK(!covered(ts, first, n, t[i]));
		CHECK(i == 0 || t[i - 1] < t[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	uint8_t *buf = malloc(size ? size : 1); /* exact size: ASan sees any over-read */
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	tsdb_tombset *ts = NULL;
	ts_err err = {0};
	int rc = tsdb_tombs_decode(buf, size, &ts, &err);
	if (rc != TS_OK) {
		CHECK(ts == NULL);
		CHECK(rc == TS_ECORRUPT || rc == TS_ENOMEM);
		CHECK(err.msg[0] != '\0');
	} else {
		CHECK(ts != NULL);
		CHECK(size == 8 + ts->n * 24);
		for (size_t i = 0; i < ts->n; i++) {
			const tsdb_tomb *a = &ts->v[i];
			CHECK(a->mint <= a->maxt);
			if (i > 0) {
				const tsdb_tomb *p = &ts->v[i - 1];
				CHECK(p->hash < a->hash ||
				      (p->hash == a->hash && p->maxt < a->mint));
			}
		}
		for (size_t i = 0; i < ts->n && i < 64; i++)
			check_series(ts, i);
		tsdb_tombset_release(ts);
	}
	free(buf);
	return 0;
}
