/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_err.c: unit tests for common/err.c (ts_err_set, ts_err_prefix, ts_err_clear,
 * ts_err_name).
 *
 * Covers formatting, truncation at TS_ERR_MSG_MAX-1 bytes, NULL error buffers, prefixes
 * that fill or overflow the buffer, and the name of every code.
 */
#include "common/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_ts_err_set_formats_code_and_message(void **state)
{
	ts_err err = {0};
	int rc = ts_err_set(&err, TS_EPARSE, "line %zu: bad field '%.*s'", (size_t)7, 3, "abcdef");
	assert_int_equal(rc, TS_EPARSE);
	assert_int_equal(err.code, TS_EPARSE);
	assert_string_equal(err.msg, "line 7: bad field 'abc'");
}

static void test_ts_err_set_null_err_returns_code(void **state)
{
	assert_int_equal(ts_err_set(NULL, TS_EIO, "ignored %d", 1), TS_EIO);
	assert_int_equal(ts_err_set(NULL, TS_OK, "ok"), TS_OK);
}

static void test_ts_err_set_overwrites_previous(void **state)
{
	ts_err err = {0};
	ts_err_set(&err, TS_EIO, "a long first message that is longer than the second");
	ts_err_set(&err, TS_ENOSPC, "short");
	assert_int_equal(err.code, TS_ENOSPC);
	assert_string_equal(err.msg, "short");
}

static void test_ts_err_set_truncates_long_message(void **state)
{
	ts_err err = {0};
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ts_err_set(&err, TS_ELIMIT, "%s", big), TS_ELIMIT);
	assert_int_equal(strlen(err.msg), TS_ERR_MSG_MAX - 1);
	assert_int_equal(err.msg[TS_ERR_MSG_MAX - 2], 'x');
}

static void test_ts_err_set_exactly_max_minus_one(void **state)
{
	ts_err err = {0};
	char s[TS_ERR_MSG_MAX];
	memset(s, 'y', TS_ERR_MSG_MAX - 1);
	s[TS_ERR_MSG_MAX - 1] = '\0';
	ts_err_set(&err, TS_EINVAL, "%s", s);
	assert_string_equal(err.msg, s);
}

static void test_ts_err_prefix_prepends(void **state)
{
	ts_err err = {0};
	ts_err_set(&err, TS_EPARSE, "bad value");
	int rc = ts_err_prefix(&err, "%s:%d: ", "file.yml", 3);
	assert_int_equal(rc, TS_EPARSE);
	assert_int_equal(err.code, TS_EPARSE);
	assert_string_equal(err.msg, "file.yml:3: bad value");
}

static void test_ts_err_prefix_twice_nests(void **state)
{
	ts_err err = {0};
	ts_err_set(&err, TS_EIO, "c");
	ts_err_prefix(&err, "b: ");
	ts_err_prefix(&err, "a: ");
	assert_string_equal(err.msg, "a: b: c");
}

static void test_ts_err_prefix_null_err_is_ok(void **state)
{
	assert_int_equal(ts_err_prefix(NULL, "x %d", 1), TS_OK);
}

static void test_ts_err_prefix_empty_message(void **state)
{
	ts_err err = {0};
	ts_err_set(&err, TS_ENOTFOUND, "%s", "");
	ts_err_prefix(&err, "ctx");
	assert_string_equal(err.msg, "ctx");
	assert_int_equal(err.code, TS_ENOTFOUND);
}

static void test_ts_err_prefix_truncates_message_tail(void **state)
{
	ts_err err = {0};
	char body[TS_ERR_MSG_MAX];
	memset(body, 'm', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	ts_err_set(&err, TS_EINVAL, "%s", body);
	ts_err_prefix(&err, "PREFIX: ");
	assert_int_equal(strlen(err.msg), TS_ERR_MSG_MAX - 1);
	assert_memory_equal(err.msg, "PREFIX: mmm", 11);
	assert_int_equal(err.msg[TS_ERR_MSG_MAX - 2], 'm');
}

static void test_ts_err_prefix_longer_than_buffer(void **state)
{
	ts_err err = {0};
	ts_err_set(&err, TS_EINVAL, "original");
	char big[600];
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ts_err_prefix(&err, "%s", big), TS_EINVAL);
	assert_int_equal(strlen(err.msg), TS_ERR_MSG_MAX - 1);
	for (size_t i = 0; i < TS_ERR_MSG_MAX - 1; i++)
		assert_int_equal(err.msg[i], 'p');
}

static void test_ts_err_clear_resets(void **state)
{
	ts_err err = {0};
	ts_err_set(&err, TS_EBUSY, "busy");
	ts_err_clear(&err);
	assert_int_equal(err.code, TS_OK);
	assert_string_equal(err.msg, "");
	ts_err_clear(NULL); /* must not crash */
}

static void test_ts_err_name_every_code(void **state)
{
	static const struct {
		int code;
		const char *name;
	} cases[] = {
	    {TS_OK, "OK"},
	    {TS_ENOMEM, "ENOMEM"},
	    {TS_EINVAL, "EINVAL"},
	    {TS_EPARSE, "EPARSE"},
	    {TS_EIO, "EIO"},
	    {TS_ENOSPC, "ENOSPC"},
	    {TS_ECORRUPT, "ECORRUPT"},
	    {TS_ENOTFOUND, "ENOTFOUND"},
	    {TS_EEXIST, "EEXIST"},
	    {TS_EOUTOFORDER, "EOUTOFORDER"},
	    {TS_EFULL, "EFULL"},
	    {TS_ELIMIT, "ELIMIT"},
	    {TS_EBUSY, "EBUSY"},
	    {TS_ETIMEOUT, "ETIMEOUT"},
	    {TS_EUNAVAIL, "EUNAVAIL"},
	    {TS_EAUTH, "EAUTH"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(ts_err_name(cases[i].code), cases[i].name);
}

static void test_ts_err_name_unknown(void **state)
{
	assert_string_equal(ts_err_name(1), "EUNKNOWN");
	assert_string_equal(ts_err_name(-16), "EUNKNOWN");
	assert_string_equal(ts_err_name(-1000), "EUNKNOWN");
}

static void test_ts_err_name_distinct_for_every_code(void **state)
{
	for (int a = -15; a <= -1; a++) {
		assert_string_not_equal(ts_err_name(a), "EUNKNOWN");
		for (int b = a + 1; b <= -1; b++)
			assert_string_not_equal(ts_err_name(a), ts_err_name(b));
	}
}

static int never_helper(int x)
{
	if (TS_NEVER(x < 0))
		return -1;
	return x;
}

static void test_ts_never_false_passes_through(void **state)
{
	assert_int_equal(never_helper(5), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_err_set_formats_code_and_message),
	    cmocka_unit_test(test_ts_err_set_null_err_returns_code),
	    cmocka_unit_test(test_ts_err_set_overwrites_previous),
	    cmocka_unit_test(test_ts_err_set_truncates_long_message),
	    cmocka_unit_test(test_ts_err_set_exactly_max_minus_one),
	    cmocka_unit_test(test_ts_err_prefix_prepends),
	    cmocka_unit_test(test_ts_err_prefix_twice_nests),
	    cmocka_unit_test(test_ts_err_prefix_null_err_is_ok),
	    cmocka_unit_test(test_ts_err_prefix_empty_message),
	    cmocka_unit_test(test_ts_err_prefix_truncates_message_tail),
	    cmocka_unit_test(test_ts_err_prefix_longer_than_buffer),
	    cmocka_unit_test(test_ts_err_clear_resets),
	    cmocka_unit_test(test_ts_err_name_every_code),
	    cmocka_unit_test(test_ts_err_name_unknown),
	    cmocka_unit_test(test_ts_err_name_distinct_for_every_code),
	    cmocka_unit_test(test_ts_never_false_passes_through),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
