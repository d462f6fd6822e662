/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lp_value.c: line protocol field values (numbers, booleans) and timestamps; the API is
 * in lp_value.h. Tested through the parser by tests/ingest/test_line_protocol.c (every
 * value form and error, short decimals against strtod on random values, timestamp
 * digits and bounds) and fuzz/fuzz_line_protocol.c.
 */
#include "ingest/lp_value.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define LP_NUM_MAX 400 /* longest float literal handed to strtod */
#define STR_(x)    #x
#define STR(x)     STR_(x)

/* Case-insensitive: is s[0..n) a spelling of NaN or Inf (what strtod would accept)? */
static bool is_nan_inf(const char *s, size_t n)
{
	static const char *const words[] = {"nan", "inf", "infinity"};
	if (n > 0 && (*s == '+' || *s == '-'))
		s++, n--;
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t wl = strlen(words[w]);
		if (n != wl)
			continue;
		size_t i = 0;
		while (i < n && (s[i] | 0x20) == words[w][i])
			i++;
		if (i == n)
			return true;
	}
	return false;
}

/* Message for a value token that is not a valid number, bool or string. */
const char *lp_bad_value(const char *s, const char *end, const char *what)
{
	const char *q = s;
	while (!is_value_end(q, end))
		q++;
	if (is_nan_inf(s, (size_t)(q - s)))
		return "NaN and Inf are not valid field values";
	return what;
}

/*
 * Parse a numeric field value at p: float ("-1.5e3", "1.", ".5"), integer ("-3i") or
 * unsigned ("3u"). On success stores the value and the position after it.
 */
const char *lp_parse_number(const char *p, const char *end, const char **out, double *v)
{
	const char *s = p;
	bool neg = false, has_dot = false, has_exp = false, inexact = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	const char *ds = p; /* first digit */
	uint64_t m = 0;     /* first 19 significant digits */
	int nsig = 0;
	int64_t exp10 = 0; /* m * 10^exp10 is the value (digits beyond 19 dropped) */
	size_t ndig = 0;
	while (p < end && is_digit(*p)) {
		unsigned d = (unsigned)(*p++ - '0');
		ndig++;
		if (nsig < 19) {
			m = m * 10 + d;
			nsig += m != 0;
		} else {
			exp10++;
			inexact |= d != 0;
		}
	}
	const char *de = p; /* end of the integer digits */
	if (p < end && *p == '.') {
		has_dot = true;
		p++;
		while (p < end && is_digit(*p)) {
			unsigned d = (unsigned)(*p++ - '0');
			ndig++;
			if (nsig < 19) {
				m = m * 10 + d;
				nsig += m != 0;
				exp10--;
			} else {
				inexact |= d != 0;
			}
		}
	}
	if (ndig == 0)
		return lp_bad_value(s, end, "invalid number");
	if (p < end && (*p == 'e' || *p == 'E')) {
		has_exp = true;
		p++;
		bool eneg = false;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (p == end || !is_digit(*p))
			return lp_bad_value(s, end, "invalid number");
		int64_t e = 0;
		while (p < end && is_digit(*p)) {
			if (e < 100000)
				e = e * 10 + (*p - '0');
			p++;
		}
		exp10 += eneg ? -e : e;
	}
	if (p < end && (*p == 'i' || *p == 'u')) {
		bool is_uint = *p == 'u';
		p++;
		if (has_dot || has_exp || !is_value_end(p, end))
			return lp_bad_value(s, end, "invalid number");
		if (is_uint && neg)
			return "invalid unsigned integer: negative value";
		uint64_t u = 0;
		for (const char *q = ds; q < de; q++) {
			unsigned d = (unsigned)(*q - '0');
			if (u > (UINT64_MAX - d) / 10)
				return is_uint ? "unsigned value out of range"
					       : "integer value out of range";
			u = u * 10 + d;
		}
		if (!is_uint && u > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
			return "integer value out of range";
		*v = neg ? -(double)u : (double)u;
		*out = p;
		return NULL;
	}
	if (!is_value_end(p, end))
		return lp_bad_value(s, end, "invalid number");
	double x;
	if (m == 0) {
		x = 0.0;
	} else if (!inexact && m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
		x = exp10 >= 0 ? (double)m * lp_pow10_exact[exp10]
			       : (double)m / lp_pow10_exact[-exp10];
	} else {
		char buf[LP_NUM_MAX + 1];
		size_t n = (size_t)(p - s);
		if (n > LP_NUM_MAX)
			return "float value longer than " STR(LP_NUM_MAX) " bytes";
		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		x = strtod(buf, NULL);
		if (isinf(x))
			return "float value out of range";
		*v = x;
		*out = p;
		return NULL;
	}
	*v = neg ? -x : x;
	*out = p;
	return NULL;
}

/* Parse a boolean field value at p (t T true True TRUE f F false False FALSE). */
const char *lp_parse_bool(const char *p, const char *end, const char **out, double *v)
{
	static const char *const yes[] = {"t", "T", "true", "True", "TRUE"};
	static const char *const no[] = {"f", "F", "false", "False", "FALSE"};
	const char *q = p;
	while (!is_value_end(q, end))
		q++;
	size_t n = (size_t)(q - p);
	for (size_t i = 0; i < 5; i++) {
		if (strlen(yes[i]) == n && memcmp(yes[i], p, n) == 0) {
			*v = 1.0;
			*out = q;
			return NULL;
		}
		if (strlen(no[i]) == n && memcmp(no[i], p, n) == 0) {
			*v = 0.0;
			*out = q;
			return NULL;
		}
	}
	return "invalid boolean";
}

/* ================================================================ time */

/* a / b rounded down, b > 0. Inlined, and the remainder computed from the quotient, so
 * that a division by a constant unit becomes a multiplication (no idiv). */
static inline __attribute__((always_inline)) int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return a - q * b < 0 ? q - 1 : q;
}

/* Convert t in unit prec to ms; false on overflow. */
static bool time_to_ms(int64_t t, ingest_precision prec, int64_t *out)
{
	int64_t k;
	if (prec == INGEST_PREC_NS) { /* the common case, outside the switch (whose table
				       * of divisors would make the division a real one) */
		*out = floor_div(t, 1000000);
		return true;
	}
	switch (prec) {
	case INGEST_PREC_NS: *out = floor_div(t, 1000000); return true;
	case INGEST_PREC_US: *out = floor_div(t, 1000); return true;
	case INGEST_PREC_MS: *out = t; return true;
	case INGEST_PREC_S: k = 1000; break;
	case INGEST_PREC_M: k = 60000; break;
	case INGEST_PREC_H: k = 3600000; break;
	default: return false;
	}
	if (t > INT64_MAX / k || t < INT64_MIN / k)
		return false;
	*out = t * k;
	return true;
}

/* Parse "[-]digits" followed by optional spaces and the end of the line. */
const char *lp_parse_time(const char *p, const char *end, ingest_precision prec, const char **out,
			  int64_t *t_ms)
{
	bool neg = false, ovf = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	const char *ds = p;
	uint64_t u = 0;
#if LP_SWAR
	if (end - p >= 16) { /* the usual 19-digit nanoseconds: 16 digits at once */
		uint64_t a = load_u64(p) ^ SWAR_ZEROS, b = load_u64(p + 8) ^ SWAR_ZEROS;
		if (!(swar_nondigits(a) | swar_nondigits(b))) {
			u = swar_value(a, 8) * 100000000 + swar_value(b, 8);
			p += 16;
		}
	}
#endif
	while (p < end && is_digit(*p) && p - ds < 19) /* < 10^19: cannot overflow */
		u = u * 10 + (unsigned)(*p++ - '0');
	while (p < end && is_digit(*p)) {
		unsigned d = (unsigned)(*p++ - '0');
		if (u > (UINT64_MAX - d) / 10)
			ovf = true;
		else
			u = u * 10 + d;
	}
	const char *de = p;
	while (p < end && *p == ' ')
		p++;
	if (de == ds || !is_eol(p, end))
		return "invalid timestamp";
	if (ovf || u > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
		return "timestamp out of range";
	int64_t t = neg ? (int64_t)(0 - u) : (int64_t)u;
	if (!time_to_ms(t, prec, t_ms))
		return "timestamp out of range";
	*out = p;
	return NULL;
}
