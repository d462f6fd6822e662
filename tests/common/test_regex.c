/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_regex.c: tests for common/regex.c (ts_regex: anchored regexes with captures).
 */
#include "common/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static ts_regex *compile(const char *p)
{
	ts_regex *re = NULL;
	assert_int_equal(ts_regex_new(p, &re, NULL), TS_OK);
	return re;
}

static void test_ts_regex_match_whole_subject_only(void **state)
{
	(void)state;
	ts_regex *re = compile("fo+");
	size_t ov[2];
	assert_int_equal(ts_regex_match(re, "foo", 3, ov, 1), 1);
	assert_int_equal(ov[0], 0);
	assert_int_equal(ov[1], 3);
	assert_int_equal(ts_regex_match(re, "foox", 4, ov, 1), 0);
	assert_int_equal(ts_regex_match(re, "xfoo", 4, ov, 1), 0);
	/* Go's $ is the end of text: no match before a trailing newline. */
	assert_int_equal(ts_regex_match(re, "foo\n", 4, ov, 1), 0);
	ts_regex_free(re);
}

static void test_ts_regex_match_groups_and_unset(void **state)
{
	(void)state;
	ts_regex *re = compile("(a)|(b)");
	assert_int_equal(ts_regex_n_groups(re), 3);
	size_t ov[6];
	assert_int_equal(ts_regex_match(re, "b", 1, ov, 3), 1);
	assert_true(ov[2] == TS_REGEX_UNSET && ov[3] == TS_REGEX_UNSET);
	assert_int_equal(ov[4], 0);
	assert_int_equal(ov[5], 1);
	ts_regex_free(re);
}

static void test_ts_regex_group_number_named(void **state)
{
	(void)state;
	ts_regex *re = compile("(?P<host>[a-z]+):(?P<port>[0-9]+)");
	assert_int_equal(ts_regex_group_number(re, "host"), 1);
	assert_int_equal(ts_regex_group_number(re, "port"), 2);
	assert_int_equal(ts_regex_group_number(re, "nope"), -1);
	size_t ov[6];
	assert_int_equal(ts_regex_match(re, "web:9100", 8, ov, 3), 1);
	assert_int_equal(ov[4], 4);
	assert_int_equal(ov[5], 8);
	ts_regex_free(re);
}

static void test_ts_regex_new_go_anchoring_quirk(void **state)
{
	(void)state;
	/* "^(?:a)|(b)$": like Go, the unbalanced pattern compiles and the first branch is only
	 * anchored at the start. */
	ts_regex *re = compile("a)|(b");
	size_t ov[4];
	assert_int_equal(ts_regex_match(re, "axxx", 4, ov, 2), 1);
	ts_regex_free(re);
}

static void test_ts_regex_new_invalid(void **state)
{
	(void)state;
	ts_regex *re = NULL;
	ts_err err = {0};
	assert_int_equal(ts_regex_new("(unclosed", &re, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "invalid regex"));
	assert_null(re);
	ts_alloc_fail_after(0);
	assert_int_equal(ts_regex_new("a", &re, &err), TS_ENOMEM);
	ts_alloc_fail_after(-1);
	ts_regex_free(NULL);
}

static void test_ts_regex_match_dot_and_invalid_utf8(void **state)
{
	(void)state;
	ts_regex *re = compile("a.b");
	size_t ov[2];
	assert_int_equal(ts_regex_match(re, "a\nb", 3, ov, 1), 0);
	assert_int_equal(ts_regex_match(re,
					"a\xc3\xa9"
					"b",
					4, ov, 1),
			 1);
	assert_int_equal(ts_regex_match(re,
					"a\xff"
					"b",
					3, ov, 1),
			 0);
	ts_regex_free(re);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_regex_match_whole_subject_only),
	    cmocka_unit_test(test_ts_regex_match_groups_and_unset),
	    cmocka_unit_test(test_ts_regex_group_number_named),
	    cmocka_unit_test(test_ts_regex_new_go_anchoring_quirk),
	    cmocka_unit_test(test_ts_regex_new_invalid),
	    cmocka_unit_test(test_ts_regex_match_dot_and_invalid_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
