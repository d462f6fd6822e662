/* SPDX-License-Identifier: Apache-2.0 */
/*
 * time.c: clocks, durations, RFC 3339 (see ts_time.h).
 *
 * Calendar conversion uses the days-from-civil algorithm (proleptic Gregorian), so no
 * call depends on the process time zone; the banned gmtime/localtime are never used.
 */
#include "common/ts_time.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t ts_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ts_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ts_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void ts_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static const struct {
	const char *unit;
	int64_t ms;
} units[] = {
    {"y", 365LL * 86400000},
    {"w", 7LL * 86400000},
    {"d", 86400000},
    {"h", 3600000},
    {"m", 60000},
    {"s", 1000},
    {"ms", 1},
};

int ts_parse_duration_ms(const char *s, size_t n, int64_t *out_ms, ts_err *err)
{
	if (n == 1 && s[0] == '0') {
		*out_ms = 0;
		return TS_OK;
	}
	if (n == 0)
		return ts_err_set(err, TS_EPARSE, "empty duration");
	size_t i = 0;
	int last_unit = -1;
	int64_t total = 0;
	while (i < n) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		int64_t v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			int digit = s[i++] - '0';
			if (v > (INT64_MAX - digit) / 10)
				goto bad;
			v = v * 10 + digit;
		}
		int u = -1;
		/* "ms" must be tried before "m". */
		if (i + 1 < n && s[i] == 'm' && s[i + 1] == 's')
			u = 6;
		else if (i < n)
			for (int k = 0; k < 6; k++)
				if (s[i] == units[k].unit[0]) {
					u = k;
					break;
				}
		if (u < 0 || u <= last_unit)
			goto bad;
		i += strlen(units[u].unit);
		if (v > INT64_MAX / units[u].ms || total > INT64_MAX - v * units[u].ms)
			goto bad;
		total += v * units[u].ms;
		last_unit = u;
	}
	*out_ms = total;
	return TS_OK;
bad:
	return ts_err_set(err, TS_EPARSE, "invalid duration \"%.*s\"", (int)(n > 64 ? 64 : n), s);
}

void ts_format_duration(int64_t ms, char *out, size_t cap)
{
	if (cap == 0)
		return;
	out[0] = '\0';
	if (ms == 0) {
		snprintf(out, cap, "0s");
		return;
	}
	size_t w = 0;
	/* Work on the magnitude as unsigned so INT64_MIN does not overflow. */
	uint64_t left = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
	if (ms < 0)
		w += (size_t)snprintf(out, cap, "-");
	/* As Prometheus: years and weeks only when they divide the rest exactly, since
	 * "90d" reads better than "12w6d". */
	for (size_t k = 0; k < sizeof(units) / sizeof(units[0]) && w < cap; k++) {
		uint64_t mult = (uint64_t)units[k].ms;
		if (k < 2 && left % mult != 0)
			continue;
		if (left >= mult) {
			uint64_t v = left / mult;
			left -= v * mult;
			w += (size_t)snprintf(out + w, cap - w, "%llu%s", (unsigned long long)v,
					      units[k].unit);
		}
	}
}

static int parse_digits(const char *s, size_t n, size_t *i, int count, int *out)
{
	int v = 0;
	for (int k = 0; k < count; k++) {
		if (*i >= n || s[*i] < '0' || s[*i] > '9')
			return -1;
		v = v * 10 + (s[(*i)++] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static int parse_rfc3339(const char *s, size_t n, int64_t *out_ms)
{
	size_t i = 0;
	int Y, M, D, h, mi, se;
	if (parse_digits(s, n, &i, 4, &Y) || i >= n || s[i++] != '-' ||
	    parse_digits(s, n, &i, 2, &M) || i >= n || s[i++] != '-' ||
	    parse_digits(s, n, &i, 2, &D) || i >= n || (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
		return -1;
	i++;
	if (parse_digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' ||
	    parse_digits(s, n, &i, 2, &mi) || i >= n || s[i++] != ':' ||
	    parse_digits(s, n, &i, 2, &se))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 || se > 60)
		return -1;
	double frac = 0;
	if (i < n && s[i] == '.') {
		i++;
		double scale = 0.1;
		size_t start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			frac += (s[i++] - '0') * scale;
			scale /= 10;
		}
		if (i == start)
			return -1;
	}
	int64_t off_s = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i++] == '-' ? -1 : 1, oh, om;
		if (parse_digits(s, n, &i, 2, &oh) || i >= n || s[i++] != ':' ||
		    parse_digits(s, n, &i, 2, &om) || oh > 23 || om > 59)
			return -1;
		off_s = sign * (oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	int64_t days = ts_days_from_civil(Y, (unsigned)M, (unsigned)D);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - off_s;
	*out_ms = secs * 1000 + (int64_t)llround(frac * 1000);
	return 0;
}

/* Parse a finite decimal number of seconds into ms. */
static int parse_seconds(const char *s, size_t n, int64_t *out_ms)
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	/* strtod would skip leading blanks and read hex; a time is decimal digits. */
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789+-.eE", s[i]))
			return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	errno = 0;
	double v = strtod(tmp, &end);
	if (errno || end != tmp + n || !isfinite(v) || fabs(v) > 9.2e15)
		return -1;
	*out_ms = (int64_t)llround(v * 1000.0);
	return 0;
}

int ts_parse_time_ms(const char *s, size_t n, int64_t *out_ms, ts_err *err)
{
	if (parse_seconds(s, n, out_ms) == 0 || parse_rfc3339(s, n, out_ms) == 0)
		return TS_OK;
	return ts_err_set(err, TS_EPARSE, "cannot parse \"%.*s\" to a valid timestamp",
			  (int)(n > 64 ? 64 : n), s);
}

int ts_parse_duration_or_seconds_ms(const char *s, size_t n, int64_t *out_ms, ts_err *err)
{
	if (parse_seconds(s, n, out_ms) == 0 || ts_parse_duration_ms(s, n, out_ms, NULL) == 0)
		return TS_OK;
	return ts_err_set(err, TS_EPARSE, "cannot parse \"%.*s\" to a valid duration",
			  (int)(n > 64 ? 64 : n), s);
}

/* Floor division for b > 0 without negating a (INT64_MIN safe). */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b < 0) ? q - 1 : q;
}

void ts_format_rfc3339(int64_t ms, char *out, size_t cap)
{
	int64_t secs = floor_div(ms, 1000);
	int64_t msec = ms % 1000 < 0 ? ms % 1000 + 1000 : ms % 1000;
	int64_t days = floor_div(secs, 86400);
	int64_t rem = secs % 86400 < 0 ? secs % 86400 + 86400 : secs % 86400;
	int64_t y;
	unsigned m, d;
	ts_civil_from_days(days, &y, &m, &d);
	snprintf(out, cap, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		 (int)(rem / 3600), (int)(rem % 3600 / 60), (int)(rem % 60), (int)msec);
}
