/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_time.c: unit tests for common/time.c.
 *
 * Prometheus durations (units in descending order, "0", overflow), their formatting (as
 * Prometheus' model.Duration: y and w only when exact), API times as float Unix seconds
 * or RFC 3339 (offsets, fractions, real calendar dates), RFC 3339 formatting of any
 * int64 including pre-1970 and INT64_MIN/MAX, the civil-date conversion over a wide
 * range, and the clocks.
 */
#include "common/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
#define WEEK (7 * DAY)
#define YEAR (365 * DAY)

/* ---------------------------------------------------------------- parse duration */

static int dur(const char *s, int64_t *out)
{
	return ts_parse_duration_ms(s, strlen(s), out, NULL);
}

static void assert_dur(const char *s, int64_t want)
{
	int64_t got = -12345;
	ts_err err = {0};
	int rc = ts_parse_duration_ms(s, strlen(s), &got, &err);
	if (rc != TS_OK)
		fail_msg("\"%s\" rejected: %s", s, err.msg);
	if (got != want)
		fail_msg("\"%s\" = %lld, want %lld", s, (long long)got, (long long)want);
}

static void assert_bad_dur(const char *s)
{
	int64_t got = -12345;
	ts_err err = {0};
	int rc = ts_parse_duration_ms(s, strlen(s), &got, &err);
	if (rc != TS_EPARSE)
		fail_msg("\"%s\" should be rejected, got rc %d value %lld", s, rc, (long long)got);
	assert_int_equal(err.code, TS_EPARSE);
	assert_int_equal(got, -12345); /* output untouched */
}

static void test_ts_parse_duration_ms_units(void **state)
{
	assert_dur("1h30m", HOUR + 30 * MIN);
	assert_dur("5m", 5 * MIN);
	assert_dur("250ms", 250);
	assert_dur("1y", YEAR);
	assert_dur("1w", WEEK);
	assert_dur("1d", DAY);
	assert_dur("90s", 90 * SEC);
	assert_dur("1000ms", 1000);
	assert_dur("1m5ms", MIN + 5);
	assert_dur("1y2w3d4h5m6s7ms", YEAR + 2 * WEEK + 3 * DAY + 4 * HOUR + 5 * MIN + 6 * SEC + 7);
	assert_dur("0010s", 10 * SEC); /* leading zeros in a number are fine */
}

static void test_ts_parse_duration_ms_zero(void **state)
{
	assert_dur("0", 0);
	assert_dur("0s", 0);
	assert_dur("0ms", 0);
	assert_dur("0h0m", 0);
}

static void test_ts_parse_duration_ms_wrong_order(void **state)
{
	assert_bad_dur("5m1h");
	assert_bad_dur("1s1m");
	assert_bad_dur("1ms1s");
	assert_bad_dur("1d1w");
	assert_bad_dur("1h1h");
	assert_bad_dur("1m1m");
}

static void test_ts_parse_duration_ms_malformed(void **state)
{
	assert_bad_dur("");
	assert_bad_dur("1hh");
	assert_bad_dur("h");
	assert_bad_dur("ms");
	assert_bad_dur("1");
	assert_bad_dur("00");
	assert_bad_dur("-5m");
	assert_bad_dur("+5m");
	assert_bad_dur("5 m");
	assert_bad_dur(" 5m");
	assert_bad_dur("5m ");
	assert_bad_dur("1.5h");
	assert_bad_dur("5M");
	assert_bad_dur("5H");
	assert_bad_dur("5mss");
	assert_bad_dur("1x");
	assert_bad_dur("1h30");
	assert_bad_dur("1µs");
}

static void test_ts_parse_duration_ms_overflow(void **state)
{
	assert_dur("9223372036854775807ms", INT64_MAX);
	assert_bad_dur("9223372036854775808ms");
	assert_bad_dur("99999999999999999999s");
	assert_dur("292471208y", 292471208LL * YEAR);
	assert_bad_dur("292471209y");
	assert_bad_dur("292471208y52w"); /* each part fits, the sum does not */
	assert_bad_dur("106751991167301d");
}

static void test_ts_parse_duration_ms_uses_length(void **state)
{
	int64_t v;
	assert_int_equal(ts_parse_duration_ms("5m1h", 2, &v, NULL), TS_OK);
	assert_int_equal(v, 5 * MIN);
	assert_int_equal(ts_parse_duration_ms("10s", 1, &v, NULL), TS_EPARSE); /* just "1" */
}

static void test_ts_parse_duration_ms_message(void **state)
{
	ts_err err = {0};
	int64_t v;
	assert_int_equal(ts_parse_duration_ms("5m1h", 4, &v, &err), TS_EPARSE);
	assert_string_equal(err.msg, "invalid duration \"5m1h\"");
	assert_int_equal(ts_parse_duration_ms("", 0, &v, &err), TS_EPARSE);
	assert_string_equal(err.msg, "empty duration");
	char longs[200];
	memset(longs, '9', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(dur(longs, &v), TS_EPARSE);
	assert_int_equal(ts_parse_duration_ms(longs, strlen(longs), &v, &err), TS_EPARSE);
	assert_true(strlen(err.msg) < 100); /* quoted input is capped */
}

/* ---------------------------------------------------------------- format duration */

static void assert_fmt_dur(int64_t ms, const char *want)
{
	char out[64];
	memset(out, '#', sizeof(out));
	ts_format_duration(ms, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("format(%lld) = \"%s\", want \"%s\"", (long long)ms, out, want);
}

static void test_ts_format_duration_basic(void **state)
{
	assert_fmt_dur(0, "0s");
	assert_fmt_dur(HOUR + 30 * MIN, "1h30m");
	assert_fmt_dur(250, "250ms");
	assert_fmt_dur(5 * MIN, "5m");
	assert_fmt_dur(MIN + SEC, "1m1s");
	assert_fmt_dur(DAY + 1, "1d1ms");
	assert_fmt_dur(1, "1ms");
	assert_fmt_dur(2 * HOUR + 3 * SEC + 4, "2h3s4ms");
}

static void test_ts_format_duration_years_weeks_only_exact(void **state)
{
	/* As Prometheus: "90d" rather than "12w6d", "366d" rather than "1y1d". */
	assert_fmt_dur(YEAR, "1y");
	assert_fmt_dur(2 * WEEK, "2w");
	assert_fmt_dur(14 * DAY, "2w");
	assert_fmt_dur(90 * DAY, "90d");
	assert_fmt_dur(366 * DAY, "366d");
	assert_fmt_dur(WEEK + HOUR, "7d1h");
	assert_fmt_dur(YEAR + WEEK, "372d");
	assert_fmt_dur(53 * WEEK, "53w");
	assert_fmt_dur(2 * YEAR, "2y");
	assert_fmt_dur(30 * DAY, "30d");
}

static void test_ts_format_duration_negative(void **state)
{
	assert_fmt_dur(-5 * MIN, "-5m");
	assert_fmt_dur(-1, "-1ms");
	char out[64];
	ts_format_duration(INT64_MIN, out, sizeof(out)); /* no overflow on negation */
	assert_string_equal(out, "-106751991167d7h12m55s808ms");
	ts_format_duration(INT64_MAX, out, sizeof(out));
	assert_string_equal(out, "106751991167d7h12m55s807ms");
}

static void test_ts_format_duration_roundtrip(void **state)
{
	const int64_t vals[] = {1,        999,         SEC,      59 * SEC,
				HOUR + 1, 3 * DAY + 7, WEEK,     13 * WEEK,
				YEAR - 1, YEAR,        YEAR + 1, 5 * YEAR + 3 * WEEK,
				INT64_MAX};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		char out[64];
		ts_format_duration(vals[i], out, sizeof(out));
		int64_t back;
		assert_int_equal(dur(out, &back), TS_OK);
		assert_true(back == vals[i]);
	}
	uint64_t x = 1;
	for (int i = 0; i < 2000; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		int64_t v = (int64_t)(x >> (i % 40 + 1));
		char out[64];
		ts_format_duration(v, out, sizeof(out));
		int64_t back;
		assert_int_equal(dur(out, &back), TS_OK);
		assert_true(back == v);
	}
}

static void test_ts_format_duration_small_capacity(void **state)
{
	char out[8];
	memset(out, '#', sizeof(out));
	ts_format_duration(HOUR + 30 * MIN, out, 3);
	assert_string_equal(out, "1h");
	ts_format_duration(HOUR + 30 * MIN, out, 1);
	assert_string_equal(out, "");
	ts_format_duration(-HOUR, out, 2);
	assert_string_equal(out, "-");
	out[0] = '#';
	ts_format_duration(HOUR, out, 0); /* writes nothing */
	assert_int_equal(out[0], '#');
}

/* ---------------------------------------------------------------- parse time */

static void assert_time(const char *s, int64_t want)
{
	int64_t got = -12345;
	ts_err err = {0};
	int rc = ts_parse_time_ms(s, strlen(s), &got, &err);
	if (rc != TS_OK)
		fail_msg("\"%s\" rejected: %s", s, err.msg);
	if (got != want)
		fail_msg("\"%s\" = %lld, want %lld", s, (long long)got, (long long)want);
}

static void assert_bad_time(const char *s)
{
	int64_t got = -12345;
	ts_err err = {0};
	int rc = ts_parse_time_ms(s, strlen(s), &got, &err);
	if (rc != TS_EPARSE)
		fail_msg("\"%s\" should be rejected, got %lld", s, (long long)got);
	assert_int_equal(got, -12345);
	assert_non_null(strstr(err.msg, "to a valid timestamp"));
}

static void test_ts_parse_time_ms_unix_seconds(void **state)
{
	assert_time("0", 0);
	assert_time("1700000000", 1700000000000LL);
	assert_time("1700000000.5", 1700000000500LL);
	assert_time("1700000000.123", 1700000000123LL);
	assert_time("1700000000.1236", 1700000000124LL); /* nearest ms */
	assert_time("-1.5", -1500);
	assert_time("+2", 2000);
	assert_time("1e3", 1000000);
	assert_time("1.0004", 1000);
	assert_time(".5", 500);
}

static void test_ts_parse_time_ms_unix_seconds_invalid(void **state)
{
	assert_bad_time("");
	assert_bad_time(" 1");
	assert_bad_time("1 ");
	assert_bad_time("\t5");
	assert_bad_time("0x10");
	assert_bad_time("0x1p3");
	assert_bad_time("inf");
	assert_bad_time("nan");
	assert_bad_time("1e400");
	assert_bad_time("9.3e15"); /* ms would overflow int64 */
	assert_bad_time("1,5");
	assert_bad_time("abc");
	assert_bad_time("1.2.3");
}

static void test_ts_parse_time_ms_rfc3339_utc(void **state)
{
	assert_time("1970-01-01T00:00:00Z", 0);
	assert_time("2023-11-14T22:13:20Z", 1700000000000LL);
	assert_time("2023-11-14T22:13:20.5Z", 1700000000500LL);
	assert_time("2023-11-14T22:13:20.123Z", 1700000000123LL);
	assert_time("2023-11-14T22:13:20.123456789Z", 1700000000123LL);
	assert_time("2023-11-14T22:13:20.9996Z", 1700000001000LL);
	assert_time("2023-11-14t22:13:20z", 1700000000000LL);
	assert_time("2023-11-14 22:13:20Z", 1700000000000LL);
}

static void test_ts_parse_time_ms_rfc3339_offsets(void **state)
{
	assert_time("2023-11-15T00:13:20+02:00", 1700000000000LL);
	assert_time("2023-11-14T16:43:20-05:30", 1700000000000LL);
	assert_time("2023-11-14T22:13:20+00:00", 1700000000000LL);
	assert_time("2023-11-14T22:13:20-00:00", 1700000000000LL);
	assert_time("2023-11-15T12:13:20.25+14:00", 1700000000250LL);
	assert_time("1970-01-01T00:00:00+01:00", -HOUR);
}

static void test_ts_parse_time_ms_rfc3339_pre_epoch(void **state)
{
	assert_time("1969-12-31T23:59:59Z", -1000);
	assert_time("1969-12-31T23:59:59.5Z", -500);
	assert_time("1900-01-01T00:00:00Z", -2208988800000LL);
	assert_time("0001-01-01T00:00:00Z", -62135596800000LL);
	assert_time("0000-03-01T00:00:00Z", -719468LL * DAY);
}

static void test_ts_parse_time_ms_rfc3339_calendar(void **state)
{
	assert_time("2000-02-29T00:00:00Z", 951782400000LL);
	assert_time("2024-02-29T12:00:00Z", 1709208000000LL);
	assert_time("9999-12-31T23:59:59.999Z", 253402300799999LL);
	assert_bad_time("2023-02-29T00:00:00Z"); /* not a leap year */
	assert_bad_time("1900-02-29T00:00:00Z"); /* century, not leap */
	assert_bad_time("2023-02-30T00:00:00Z");
	assert_bad_time("2023-02-31T00:00:00Z");
	assert_bad_time("2023-04-31T00:00:00Z");
	assert_bad_time("2023-06-31T00:00:00Z");
	assert_bad_time("2023-09-31T00:00:00Z");
	assert_bad_time("2023-11-31T00:00:00Z");
	assert_bad_time("2023-00-10T00:00:00Z");
	assert_bad_time("2023-13-10T00:00:00Z");
	assert_bad_time("2023-01-00T00:00:00Z");
	assert_bad_time("2023-01-32T00:00:00Z");
}

static void test_ts_parse_time_ms_rfc3339_invalid(void **state)
{
	assert_bad_time("2023-11-14T22:13:20"); /* no zone */
	assert_bad_time("2023-11-14");
	assert_bad_time("2023-11-14T22:13Z");
	assert_bad_time("2023-11-14T22:13:20.Z"); /* empty fraction */
	assert_bad_time("2023-11-14T22:13:20Zx");
	assert_bad_time("2023-11-14T22:13:20+0200");
	assert_bad_time("2023-11-14T22:13:20+02");
	assert_bad_time("2023-11-14T22:13:20+24:00");
	assert_bad_time("2023-11-14T22:13:20+02:60");
	assert_bad_time("2023-11-14T24:00:00Z");
	assert_bad_time("2023-11-14T23:60:00Z");
	assert_bad_time("2023-11-14T23:59:61Z");
	assert_bad_time("23-11-14T22:13:20Z");
	assert_bad_time("2023-1-14T22:13:20Z");
	assert_bad_time("2023/11/14T22:13:20Z");
	assert_bad_time("2023-11-14X22:13:20Z");
	assert_bad_time("2023-11-14T22:13:2Z");
}

static void test_ts_parse_time_ms_message_caps_input(void **state)
{
	char longs[300];
	memset(longs, 'q', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	ts_err err = {0};
	int64_t v;
	assert_int_equal(ts_parse_time_ms(longs, strlen(longs), &v, &err), TS_EPARSE);
	assert_true(strlen(err.msg) < 120);
	assert_int_equal(ts_parse_time_ms("abc", 3, &v, &err), TS_EPARSE);
	assert_string_equal(err.msg, "cannot parse \"abc\" to a valid timestamp");
	assert_int_equal(ts_parse_time_ms("abc", 3, &v, NULL), TS_EPARSE);
}

static void test_ts_parse_time_ms_uses_length(void **state)
{
	int64_t v;
	assert_int_equal(ts_parse_time_ms("1700000000xyz", 10, &v, NULL), TS_OK);
	assert_int_equal(v, 1700000000000LL);
	assert_int_equal(ts_parse_time_ms("2023-11-14T22:13:20Zjunk", 20, &v, NULL), TS_OK);
	assert_int_equal(v, 1700000000000LL);
}

/* ---------------------------------------------------------------- duration or seconds */

static void test_ts_parse_duration_or_seconds_ms(void **state)
{
	static const struct {
		const char *s;
		int64_t want;
	} ok[] = {
	    {"15", 15000}, {"0.5", 500},   {"1m", MIN},     {"1h30m", 90 * MIN},
	    {"0", 0},      {"250ms", 250}, {"1e2", 100000}, {"0.001", 1},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t v = -1;
		assert_int_equal(
		    ts_parse_duration_or_seconds_ms(ok[i].s, strlen(ok[i].s), &v, NULL), TS_OK);
		assert_true(v == ok[i].want);
	}
	const char *bad[] = {"", "abc", "5m1h", "1.5h", " 5", "15 ", "1x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 77;
		ts_err err = {0};
		assert_int_equal(ts_parse_duration_or_seconds_ms(bad[i], strlen(bad[i]), &v, &err),
				 TS_EPARSE);
		assert_int_equal(v, 77);
		assert_non_null(strstr(err.msg, "to a valid duration"));
	}
}

/* ---------------------------------------------------------------- format RFC 3339 */

static void assert_rfc(int64_t ms, const char *want)
{
	char out[64];
	memset(out, '#', sizeof(out));
	ts_format_rfc3339(ms, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("rfc3339(%lld) = \"%s\", want \"%s\"", (long long)ms, out, want);
}

static void test_ts_format_rfc3339_basic(void **state)
{
	assert_rfc(0, "1970-01-01T00:00:00.000Z");
	assert_rfc(1700000000500LL, "2023-11-14T22:13:20.500Z");
	assert_rfc(951782400000LL, "2000-02-29T00:00:00.000Z");
	assert_rfc(253402300799999LL, "9999-12-31T23:59:59.999Z");
}

static void test_ts_format_rfc3339_negative(void **state)
{
	assert_rfc(-1, "1969-12-31T23:59:59.999Z");
	assert_rfc(-999, "1969-12-31T23:59:59.001Z");
	assert_rfc(-1000, "1969-12-31T23:59:59.000Z");
	assert_rfc(-1001, "1969-12-31T23:59:58.999Z");
	assert_rfc(-DAY, "1969-12-31T00:00:00.000Z");
	assert_rfc(-DAY - 1, "1969-12-30T23:59:59.999Z");
	assert_rfc(-62135596800000LL, "0001-01-01T00:00:00.000Z");
	assert_rfc(-2208988800000LL, "1900-01-01T00:00:00.000Z");
}

static void test_ts_format_rfc3339_int64_extremes(void **state)
{
	assert_rfc(INT64_MAX, "292278994-08-17T07:12:55.807Z");
	assert_rfc(INT64_MIN, "-292275055-05-16T16:47:04.192Z");
}

static void test_ts_format_rfc3339_roundtrip(void **state)
{
	/* 0001-01-01 .. 9999-12-31 in irregular steps, every ms remainder class. */
	for (int64_t t = -62135596800000LL; t < 253402300800000LL; t += 7777777777777LL / 13) {
		for (int64_t d = 0; d < 3; d++) {
			int64_t ms = t + d * 333;
			char out[64];
			ts_format_rfc3339(ms, out, sizeof(out));
			int64_t back;
			if (ts_parse_time_ms(out, strlen(out), &back, NULL) != TS_OK || back != ms)
				fail_msg("%lld -> %s -> %lld", (long long)ms, out, (long long)back);
		}
	}
}

static void test_ts_format_rfc3339_small_capacity(void **state)
{
	char out[11];
	ts_format_rfc3339(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01");
}

/* ---------------------------------------------------------------- civil dates */

static void test_ts_days_from_civil_known(void **state)
{
	assert_int_equal(ts_days_from_civil(1970, 1, 1), 0);
	assert_true(ts_days_from_civil(1969, 12, 31) == -1);
	assert_int_equal(ts_days_from_civil(2000, 3, 1), 11017);
	assert_true(ts_days_from_civil(0, 3, 1) == -719468);
	assert_true(ts_days_from_civil(1, 1, 1) == -719162);
	assert_int_equal(ts_days_from_civil(2023, 11, 14), 19675);
	assert_true(ts_days_from_civil(-1, 12, 31) == ts_days_from_civil(0, 1, 1) - 1);
}

static void test_ts_civil_from_days_known(void **state)
{
	int64_t y;
	unsigned m, d;
	ts_civil_from_days(0, &y, &m, &d);
	assert_true(y == 1970 && m == 1 && d == 1);
	ts_civil_from_days(-1, &y, &m, &d);
	assert_true(y == 1969 && m == 12 && d == 31);
	ts_civil_from_days(11016, &y, &m, &d);
	assert_true(y == 2000 && m == 2 && d == 29);
	ts_civil_from_days(-719469, &y, &m, &d);
	assert_true(y == 0 && m == 2 && d == 29); /* year 0 is a leap year */
}

static void test_ts_days_from_civil_roundtrip_wide_range(void **state)
{
	/* Every day across ±2 million days (about ±5500 years), day by day. */
	int64_t y0;
	unsigned m0, d0;
	ts_civil_from_days(-2000001, &y0, &m0, &d0);
	for (int64_t z = -2000000; z <= 2000000; z++) {
		int64_t y;
		unsigned m, d;
		ts_civil_from_days(z, &y, &m, &d);
		if (ts_days_from_civil(y, m, d) != z)
			fail_msg("day %lld -> %lld-%u-%u", (long long)z, (long long)y, m, d);
		/* The next day is the next calendar date. */
		bool next = (y == y0 && m == m0 && d == d0 + 1) ||
			    (y == y0 && m == m0 + 1 && d == 1 && d0 >= 28) ||
			    (y == y0 + 1 && m == 1 && d == 1 && m0 == 12 && d0 == 31);
		if (!next)
			fail_msg("day %lld: %lld-%u-%u follows %lld-%u-%u", (long long)z,
				 (long long)y, m, d, (long long)y0, m0, d0);
		y0 = y, m0 = m, d0 = d;
	}
}

static void test_ts_days_from_civil_roundtrip_far_years(void **state)
{
	for (int64_t y = -100000000; y <= 100000000; y += 999983) {
		for (unsigned m = 1; m <= 12; m += 11) {
			int64_t z = ts_days_from_civil(y, m, 28);
			int64_t yy;
			unsigned mm, dd;
			ts_civil_from_days(z, &yy, &mm, &dd);
			assert_true(yy == y && mm == m && dd == 28);
		}
	}
}

/* ---------------------------------------------------------------- clocks */

static void test_ts_now_ms_close_to_time(void **state)
{
	int64_t a = (int64_t)time(NULL) * 1000;
	int64_t now = ts_now_ms();
	int64_t b = (int64_t)time(NULL) * 1000;
	assert_true(now >= a && now < b + 1000);
}

static void test_ts_mono_ns_non_decreasing(void **state)
{
	int64_t prev = ts_mono_ns();
	assert_true(prev > 0);
	for (int i = 0; i < 10000; i++) {
		int64_t t = ts_mono_ns();
		assert_true(t >= prev);
		prev = t;
	}
	struct timespec ts = {0, 2000000};
	int64_t before = ts_mono_ns();
	nanosleep(&ts, NULL);
	assert_true(ts_mono_ns() - before >= 2000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_parse_duration_ms_units),
	    cmocka_unit_test(test_ts_parse_duration_ms_zero),
	    cmocka_unit_test(test_ts_parse_duration_ms_wrong_order),
	    cmocka_unit_test(test_ts_parse_duration_ms_malformed),
	    cmocka_unit_test(test_ts_parse_duration_ms_overflow),
	    cmocka_unit_test(test_ts_parse_duration_ms_uses_length),
	    cmocka_unit_test(test_ts_parse_duration_ms_message),
	    cmocka_unit_test(test_ts_format_duration_basic),
	    cmocka_unit_test(test_ts_format_duration_years_weeks_only_exact),
	    cmocka_unit_test(test_ts_format_duration_negative),
	    cmocka_unit_test(test_ts_format_duration_roundtrip),
	    cmocka_unit_test(test_ts_format_duration_small_capacity),
	    cmocka_unit_test(test_ts_parse_time_ms_unix_seconds),
	    cmocka_unit_test(test_ts_parse_time_ms_unix_seconds_invalid),
	    cmocka_unit_test(test_ts_parse_time_ms_rfc3339_utc),
	    cmocka_unit_test(test_ts_parse_time_ms_rfc3339_offsets),
	    cmocka_unit_test(test_ts_parse_time_ms_rfc3339_pre_epoch),
	    cmocka_unit_test(test_ts_parse_time_ms_rfc3339_calendar),
	    cmocka_unit_test(test_ts_parse_time_ms_rfc3339_invalid),
	    cmocka_unit_test(test_ts_parse_time_ms_message_caps_input),
	    cmocka_unit_test(test_ts_parse_time_ms_uses_length),
	    cmocka_unit_test(test_ts_parse_duration_or_seconds_ms),
	    cmocka_unit_test(test_ts_format_rfc3339_basic),
	    cmocka_unit_test(test_ts_format_rfc3339_negative),
	    cmocka_unit_test(test_ts_format_rfc3339_int64_extremes),
	    cmocka_unit_test(test_ts_format_rfc3339_roundtrip),
	    cmocka_unit_test(test_ts_format_rfc3339_small_capacity),
	    cmocka_unit_test(test_ts_days_from_civil_known),
	    cmocka_unit_test(test_ts_civil_from_days_known),
	    cmocka_unit_test(test_ts_days_from_civil_roundtrip_wide_range),
	    cmocka_unit_test(test_ts_days_from_civil_roundtrip_far_years),
	    cmocka_unit_test(test_ts_now_ms_close_to_time),
	    cmocka_unit_test(test_ts_mono_ns_non_decreasing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
