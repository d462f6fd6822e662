/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lp_value.h: line protocol field values and timestamps (lp_value.c), for the parser in
 * line_protocol.c. Internal to ingest/.
 *
 * The character tests and the short-decimal fast path are static inline here so the
 * parser's per-field loops inline them; the general number, boolean and timestamp
 * parsers are in lp_value.c. Those return NULL on success or the reason the value is
 * bad (a static string the parser puts in its error), so they need no parser state.
 * Exactness: see line_protocol.c ("Floats").
 */
#ifndef INGEST_LP_VALUE_H
#define INGEST_LP_VALUE_H

#include "ingest/line_protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* True at the end of a line: end of body, '\n', or a '\r' that ends the body or a line. */
static inline bool is_eol(const char *p, const char *end)
{
	return p == end || *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'));
}

/* True where a field value ends: ',' (next field), ' ' (timestamp) or end of line. */
static inline bool is_value_end(const char *p, const char *end)
{
	return p == end || *p == ',' || *p == ' ' || is_eol(p, end);
}

static const uint64_t lp_pow10_u64[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};

/*
 * Digits 8 bytes at a time (little-endian machines): x holds 8 input bytes XOR '0' each,
 * the first byte lowest, so digit bytes hold 0..9.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LP_SWAR 1
#else
#define LP_SWAR 0
#endif
#define SWAR_ZEROS 0x3030303030303030ull

static inline uint64_t load_u64(const char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}

/* The high bit of each byte of x that is not a digit (x: bytes XOR '0'). */
static inline uint64_t swar_nondigits(uint64_t x)
{
	return (((x & 0x7F7F7F7F7F7F7F7Full) + 0x7676767676767676ull) | x) & 0x8080808080808080ull;
}

/* The number the first n (1..8) bytes of x spell (all digits). */
static inline uint64_t swar_value(uint64_t x, size_t n)
{
	x <<= 8 * (8 - n); /* the n digits last, zeros (digit 0) before them */
	x = x * 10 + (x >> 8);
	return (((x & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
		(((x >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
	       32;
}

static const double lp_pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
					  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
					  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * The common short decimal, [-]digits[.digits] with 1 to 15 digits and nothing after it
 * but the end of the value: its digits as an integer m < 10^15 < 2^53 and 10^frac are
 * exact doubles, so one division rounds correctly and gives strtod's double. False for
 * anything else (parse_number's general path decides).
 */
static inline __attribute__((always_inline)) bool lp_short_decimal(const char *p, const char *end,
								   const char **out, double *v)
{
	bool neg = *p == '-';
	p += neg;
	uint64_t m = 0;
	size_t n = 0, n_frac = 0;
#if LP_SWAR
	/* up to 7 integer and 7 fraction digits, 8 bytes at a time, no loop */
	if (end - p >= 17) {
		uint64_t x = load_u64(p) ^ SWAR_ZEROS, nd = swar_nondigits(x);
		if (nd) {
			n = (size_t)__builtin_ctzll(nd) >> 3;
			m = n ? swar_value(x, n) : 0;
			p += n;
			if (*p == '.') {
				uint64_t y = load_u64(++p) ^ SWAR_ZEROS, nd2 = swar_nondigits(y);
				if (!nd2)
					return false; /* 8 fraction digits or more */
				n_frac = (size_t)__builtin_ctzll(nd2) >> 3;
				if (n_frac) {
					m = m * lp_pow10_u64[n_frac] + swar_value(y, n_frac);
					p += n_frac;
					n += n_frac;
				}
			}
			goto done;
		}
	}
#endif
	const char *ds = p;
	while (p < end && is_digit(*p) && p - ds < 16)
		m = m * 10 + (unsigned)(*p++ - '0');
	n = (size_t)(p - ds);
	if (p < end && *p == '.') {
		const char *fs = ++p;
		while (p < end && is_digit(*p) && n + (size_t)(p - fs) < 16)
			m = m * 10 + (unsigned)(*p++ - '0');
		n_frac = (size_t)(p - fs);
		n += n_frac;
	}
#if LP_SWAR
done:
#endif
	if (n == 0 || n > 15 || !is_value_end(p, end))
		return false;
	double x = n_frac ? (double)m / lp_pow10_exact[n_frac] : (double)m;
	*v = neg ? -x : x;
	*out = p;
	return true;
}

/* A numeric field value at p: float ("-1.5e3", "1.", ".5"), integer ("-3i") or unsigned
 * ("3u"); on success *v and *out (the position after it). */
const char *lp_parse_number(const char *p, const char *end, const char **out, double *v);
/* A boolean field value at p (t T true True TRUE f F false False FALSE). */
const char *lp_parse_bool(const char *p, const char *end, const char **out, double *v);
/* The reason for a value token at s that is not a number, bool or string: `what`, or
 * that NaN and Inf are not valid field values. */
const char *lp_bad_value(const char *s, const char *end, const char *what);
/* A timestamp "[-]digits" in unit prec, then optional spaces and the end of the line;
 * *t_ms in ms and *out past the spaces. */
const char *lp_parse_time(const char *p, const char *end, ingest_precision prec, const char **out,
			  int64_t *t_ms);

#endif
