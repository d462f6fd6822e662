/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tsdb_support.c: store helpers shared by the unit tests (test_support.h). A separate
 * object in the test_support archive, so only tests that link the store pull it in.
 * Exercised by tests/tsdb/test_downsample.c and tests/query/test_tiers.c.
 */
#include "support/test_support.h"

#include "tsdb/tsdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

size_t test_load_om(tsdb_db *db, const char *cmd, int64_t max_ms, int64_t *first)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char line[4096];
	size_t n = 0;
	int64_t t0 = INT64_MIN;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *series;
		double v;
		int64_t t;
		if (!test_parse_om_line(line, &series, &v, &t))
			continue;
		if (t0 == INT64_MIN)
			t0 = t;
		if (t - t0 >= max_ms)
			continue;
		char name[512];
		size_t nl = strcspn(series, "{");
		snprintf(name, sizeof(name), "%.*s", (int)nl, series);
		ts_label l[2] = {{"__name__", name}, {"s", series}};
		if (tsdb_append(db, l, 2, t, v, NULL) == TS_OK)
			n++;
	}
	pclose(f);
	if (first)
		*first = t0;
	return n;
}
