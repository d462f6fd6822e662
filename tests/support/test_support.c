/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_support.c: helpers shared by the unit tests (test_support.h). Exercised by every
 * test that uses them (tests/tsdb/test_compact.c, test_downsample.c, tests/query/test_tiers.c,
 * ...).
 */
#include "support/test_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

void test_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

void test_rm_rf(const char *path)
{
	char cmd[1024];
	int n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

const char *test_fresh_dir(const char *name)
{
	static char p[512];
	mkdir(STRATA_TEST_TMP, 0755);
	int n = snprintf(p, sizeof(p), "%s/%s", STRATA_TEST_TMP, name);
	assert_true(n > 0 && (size_t)n < sizeof(p));
	test_rm_rf(p);
	assert_int_equal(mkdir(p, 0755), 0);
	return p;
}

bool test_parse_om_line(char *line, char **series, double *v, int64_t *t_ms)
{
	if (line[0] == '#' || line[0] == '\n')
		return false;
	char *end = strrchr(line, ' ');
	if (!end)
		return false;
	*end = 0;
	char *ts = end + 1, *dot = strchr(ts, '.');
	int64_t sec = strtoll(ts, NULL, 10), ms = 0;
	if (dot) {
		char frac[4] = {'0', '0', '0', 0};
		for (int i = 0; i < 3 && dot[1 + i] >= '0' && dot[1 + i] <= '9'; i++)
			frac[i] = dot[1 + i];
		ms = strtoll(frac, NULL, 10);
	}
	*t_ms = sec * 1000 + ms;
	char *sp = strrchr(line, ' ');
	if (!sp)
		return false;
	*sp = 0;
	*v = strtod(sp + 1, NULL);
	*series = line;
	return true;
}
