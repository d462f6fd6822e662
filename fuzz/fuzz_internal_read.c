/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_internal_read.c: libFuzzer target for the query role's decoder of store answers
 * (web_rseries_decode in web/fanout.c; format in docs/formats/internal_read.md).
 *
 * The input is split in two at its first byte's value (mod length) and each half is
 * decoded as one store's select answer, so the merge sees series from two stores. Every
 * decoded series must have strictly ascending timestamps and NUL-free labels; the merge
 * must hand on series with strictly ascending timestamps and no more samples than the
 * inputs held. Any violation calls abort(). An error must be TS_ECORRUPT with a message. Inputs are
 * capped at 64 KiB.
 */
#include "web/web_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT (64u << 10)

static void check(bool ok)
{
	if (!ok)
		abort();
}

static int sink(void *arg, const ts_label *l, size_t nl, const int64_t *t, const double *v,
		size_t n)
{
	size_t *left = arg;
	(void)l;
	(void)nl;
	(void)v;
	for (size_t i = 1; i < n; i++)
		check(t[i] > t[i - 1]);
	check(n <= *left);
	*left -= n;
	return TS_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > FUZZ_MAX_INPUT)
		return 0;
	size_t cut = 1 + (size > 1 ? data[0] % (size - 1) : 0);
	const char *p = (const char *)data;
	web_rseries **v = NULL;
	size_t n = 0;
	ts_err e0 = {0}, e1 = {0};
	int rc0 = web_rseries_decode(p + 1, cut - 1, 0, &v, &n, &e0);
	int rc1 = web_rseries_decode(p + cut, size - cut, 1, &v, &n, &e1);
	check(rc0 == TS_OK || (rc0 == TS_ECORRUPT && e0.msg[0]));
	check(rc1 == TS_OK || (rc1 == TS_ECORRUPT && e1.msg[0]));
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 1; j < v[i]->n; j++)
			check(v[i]->t[j] > v[i]->t[j - 1]);
		for (size_t j = 0; j < v[i]->n_labels; j++)
			check(v[i]->labels[j].name && v[i]->labels[j].value);
		total += v[i]->n;
	}
	if (rc0 == TS_OK && rc1 == TS_OK)
		check(web_rseries_merge(v, n, 0, sink, &total, NULL) == TS_OK);
	web_rseries_free_all(v, n);
	return 0;
}
