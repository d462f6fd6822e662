/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c: JSON writer and Prometheus number formats (see json.h).
 *
 * Float formatting finds the shortest decimal digit string that parses back to the same
 * double and, of those, the one closest to it (what Go's strconv does with precision -1),
 * then lays the digits out in the requested style. Three ways to find the digits, tried
 * in order:
 *
 *   1. Integers below 2^53: their own decimal digits (any shorter string is at least 1
 *      away, outside the rounding interval).
 *   2. Grisu3 (Loitsch 2010, as in Google's double-conversion): 64-bit integer arithmetic
 *      with a cached power of ten and a one-unit error bound; 15-20x faster than the
 *      printf/strtod search below. It gives up when the error bound leaves the shortest
 *      or closest string in doubt (about 0.2% of random doubles; the cases on interval
 *      boundaries, like 1e23), and never returns other digits than Go's: the unit test
 *      checks them against an exhaustive printf search on random and boundary values.
 *   3. Otherwise printf("%.*e") at 15, 16 and 17 significant digits, each checked with
 *      strtod (subnormals, which carry fewer bits, start at 1 digit). For a normal double
 *      the correctly rounded 15-digit string is the only candidate of 15 or fewer digits. At 16 the
 *      correctly rounded string may fail while its neighbour on the other side of v
 *      round-trips (the rounding interval is asymmetric at powers of two), so that
 *      neighbour is tried too. 17 digits always round-trip. A short-decimal shortcut
 *      (m / 10^d == v for d <= 22, m < 1e15) comes first on this path.
 *
 * The printf path assumes the "C" LC_NUMERIC locale for printf/strtod, as the rest of Strata
 * does (nothing calls setlocale).
 *
 * The string escaper copies runs of plain ASCII in one memcpy and validates UTF-8 as
 * Go's utf8.DecodeRune does (no overlongs, no surrogates, nothing above U+10FFFF); each
 * byte of an invalid sequence becomes \ufffd, as in encoding/json.
 */
#include "web/json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* Shortest round-trip digits                                                           */
/* ------------------------------------------------------------------------------------ */

static const double pow10_tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static const uint32_t pow10_u32[10] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
};

/* "00" .. "99": two digits per division below. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
				     "25262728293031323334353637383940414243444546474849"
				     "50515253545556575859606162636465666768697071727374"
				     "75767778798081828384858687888990919293949596979899";

/* Decimal digits of v into out (no NUL); returns the count (1..20). */
static int u64_digits(uint64_t v, char *out)
{
	char tmp[20];
	int k = 20; /* tmp[k..20) holds the digits, two per division */
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100);
		v /= 100;
		tmp[--k] = digit_pairs[2 * d + 1];
		tmp[--k] = digit_pairs[2 * d];
	}
	if (v >= 10) {
		tmp[--k] = digit_pairs[2 * v + 1];
		tmp[--k] = digit_pairs[2 * v];
	} else {
		tmp[--k] = (char)('0' + v);
	}
	memcpy(out, tmp + k, (size_t)(20 - k));
	return 20 - k;
}

/* Shortest digits of a finite v > 0: value = 0.D[0..n) x 10^point, D without trailing zeros. */
typedef struct float_digits {
	char d[24]; /* ASCII digits, not NUL-terminated */
	int n;      /* digit count, 1..17 */
	int point;  /* decimal exponent of the leading "0." form */
} float_digits;

static void digits_from_u64(float_digits *fd, uint64_t m, int exp10)
{
	/* value = m x 10^exp10 */
	int len = u64_digits(m, fd->d);
	int n = len;
	while (n > 1 && fd->d[n - 1] == '0')
		n--;
	fd->n = n;
	fd->point = len + exp10;
}

/* Parse the output of "%.*e" ("d.ddde+XX"): digits and exponent. */
static void digits_from_sci(float_digits *fd, const char *s)
{
	int n = 0;
	const char *p = s;
	fd->d[n++] = *p++;
	if (*p && *p != 'e') /* the decimal separator */
		p++;
	while (*p >= '0' && *p <= '9' && n < (int)sizeof(fd->d))
		fd->d[n++] = *p++;
	int exp10 = 0;
	if (*p == 'e')
		exp10 = (int)strtol(p + 1, NULL, 10);
	while (n > 1 && fd->d[n - 1] == '0')
		n--;
	fd->n = n;
	fd->point = exp10 + 1;
}

/*
 * Grisu3 (Loitsch, "Printing floating-point numbers quickly and accurately with
 * integers", PLDI 2010; the shortest mode of Google's double-conversion). The double is
 * scaled by a cached power of ten into a 64-bit fixed-point range, and digits are
 * generated until the result lies inside v's rounding interval, all in integer
 * arithmetic with a known error bound of one unit. When that bound makes it uncertain
 * whether the candidate is the shortest, or the closest of the shortest (about 0.5% of
 * doubles), it reports failure and the exact search below is used instead; so the
 * digits are always those Go's strconv prints.
 */

/* A "do-it-yourself float": f x 2^e. */
typedef struct diyfp {
	uint64_t f;
	int e;
} diyfp;

/* 10^k rounded to 64 bits: f x 2^e, for k = -348, -340, ..., 340 (generated exactly). */
static const struct cached_pow {
	uint64_t f;
	int16_t e;
	int16_t k;
} cached_pow[87] = {
    {0xfa8fd5a0081c0288ull, -1220, -348}, {0xbaaee17fa23ebf76ull, -1193, -340},
    {0x8b16fb203055ac76ull, -1166, -332}, {0xcf42894a5dce35eaull, -1140, -324},
    {0x9a6bb0aa55653b2dull, -1113, -316}, {0xe61acf033d1a45dfull, -1087, -308},
    {0xab70fe17c79ac6caull, -1060, -300}, {0xff77b1fcbebcdc4full, -1034, -292},
    {0xbe5691ef416bd60cull, -1007, -284}, {0x8dd01fad907ffc3cull, -980, -276},
    {0xd3515c2831559a83ull, -954, -268},  {0x9d71ac8fada6c9b5ull, -927, -260},
    {0xea9c227723ee8bcbull, -901, -252},  {0xaecc49914078536dull, -874, -244},
    {0x823c12795db6ce57ull, -847, -236},  {0xc21094364dfb5637ull, -821, -228},
    {0x9096ea6f3848984full, -794, -220},  {0xd77485cb25823ac7ull, -768, -212},
    {0xa086cfcd97bf97f4ull, -741, -204},  {0xef340a98172aace5ull, -715, -196},
    {0xb23867fb2a35b28eull, -688, -188},  {0x84c8d4dfd2c63f3bull, -661, -180},
    {0xc5dd44271ad3cdbaull, -635, -172},  {0x936b9fcebb25c996ull, -608, -164},
    {0xdbac6c247d62a584ull, -582, -156},  {0xa3ab66580d5fdaf6ull, -555, -148},
    {0xf3e2f893dec3f126ull, -529, -140},  {0xb5b5ada8aaff80b8ull, -502, -132},
    {0x87625f056c7c4a8bull, -475, -124},  {0xc9bcff6034c13053ull, -449, -116},
    {0x964e858c91ba2655ull, -422, -108},  {0xdff9772470297ebdull, -396, -100},
    {0xa6dfbd9fb8e5b88full, -369, -92},   {0xf8a95fcf88747d94ull, -343, -84},
    {0xb94470938fa89bcfull, -316, -76},   {0x8a08f0f8bf0f156bull, -289, -68},
    {0xcdb02555653131b6ull, -263, -60},   {0x993fe2c6d07b7facull, -236, -52},
    {0xe45c10c42a2b3b06ull, -210, -44},   {0xaa242499697392d3ull, -183, -36},
    {0xfd87b5f28300ca0eull, -157, -28},   {0xbce5086492111aebull, -130, -20},
    {0x8cbccc096f5088ccull, -103, -12},   {0xd1b71758e219652cull, -77, -4},
    {0x9c40000000000000ull, -50, 4},      {0xe8d4a51000000000ull, -24, 12},
    {0xad78ebc5ac620000ull, 3, 20},       {0x813f3978f8940984ull, 30, 28},
    {0xc097ce7bc90715b3ull, 56, 36},      {0x8f7e32ce7bea5c70ull, 83, 44},
    {0xd5d238a4abe98068ull, 109, 52},     {0x9f4f2726179a2245ull, 136, 60},
    {0xed63a231d4c4fb27ull, 162, 68},     {0xb0de65388cc8ada8ull, 189, 76},
    {0x83c7088e1aab65dbull, 216, 84},     {0xc45d1df942711d9aull, 242, 92},
    {0x924d692ca61be758ull, 269, 100},    {0xda01ee641a708deaull, 295, 108},
    {0xa26da3999aef774aull, 322, 116},    {0xf209787bb47d6b85ull, 348, 124},
    {0xb454e4a179dd1877ull, 375, 132},    {0x865b86925b9bc5c2ull, 402, 140},
    {0xc83553c5c8965d3dull, 428, 148},    {0x952ab45cfa97a0b3ull, 455, 156},
    {0xde469fbd99a05fe3ull, 481, 164},    {0xa59bc234db398c25ull, 508, 172},
    {0xf6c69a72a3989f5cull, 534, 180},    {0xb7dcbf5354e9beceull, 561, 188},
    {0x88fcf317f22241e2ull, 588, 196},    {0xcc20ce9bd35c78a5ull, 614, 204},
    {0x98165af37b2153dfull, 641, 212},    {0xe2a0b5dc971f303aull, 667, 220},
    {0xa8d9d1535ce3b396ull, 694, 228},    {0xfb9b7cd9a4a7443cull, 720, 236},
    {0xbb764c4ca7a44410ull, 747, 244},    {0x8bab8eefb6409c1aull, 774, 252},
    {0xd01fef10a657842cull, 800, 260},    {0x9b10a4e5e9913129ull, 827, 268},
    {0xe7109bfba19c0c9dull, 853, 276},    {0xac2820d9623bf429ull, 880, 284},
    {0x80444b5e7aa7cf85ull, 907, 292},    {0xbf21e44003acdd2dull, 933, 300},
    {0x8e679c2f5e44ff8full, 960, 308},    {0xd433179d9c8cb841ull, 986, 316},
    {0x9e19db92b4e31ba9ull, 1013, 324},   {0xeb96bf6ebadf77d9ull, 1039, 332},
    {0xaf87023b9bf0ee6bull, 1066, 340},
};

#define GRISU_MIN_EXP (-60) /* scaled exponents land in [GRISU_MIN_EXP, GRISU_MAX_EXP] */
#define GRISU_MAX_EXP (-32)

/* a x b, the 128-bit product's upper half rounded to nearest. */
static diyfp diy_mul(diyfp a, diyfp b)
{
	uint64_t m32 = 0xffffffffu;
	uint64_t ah = a.f >> 32, al = a.f & m32, bh = b.f >> 32, bl = b.f & m32;
	uint64_t hh = ah * bh, hl = ah * bl, lh = al * bh, ll = al * bl;
	uint64_t mid = (ll >> 32) + (hl & m32) + (lh & m32) + (1u << 31);
	return (diyfp){hh + (hl >> 32) + (lh >> 32) + (mid >> 32), a.e + b.e + 64};
}

static diyfp diy_normalize(diyfp x)
{
	while (!(x.f & (1ull << 63))) {
		x.f <<= 1;
		x.e--;
	}
	return x;
}

/*
 * Move the last digit of buf toward w while that stays inside the safe interval, then
 * decide whether the result is provably the closest shortest string (see
 * double-conversion's RoundWeed; all quantities in units of the scaled fixed point).
 */
static bool grisu_round_weed(char *buf, int len, uint64_t dist_high_w, uint64_t unsafe,
			     uint64_t rest, uint64_t ten_kappa, uint64_t unit)
{
	uint64_t small = dist_high_w - unit, big = dist_high_w + unit;
	while (rest < small && unsafe - rest >= ten_kappa &&
	       (rest + ten_kappa < small || small - rest >= rest + ten_kappa - small)) {
		buf[len - 1]--;
		rest += ten_kappa;
	}
	if (rest < big && unsafe - rest >= ten_kappa &&
	    (rest + ten_kappa < big || big - rest > rest + ten_kappa - big))
		return false;
	return 2 * unit <= rest && rest <= unsafe - 4 * unit;
}

/* Digits of the scaled interval (low, high) around w (equal exponents); *kappa: 10^kappa. */
static bool grisu_digit_gen(diyfp low, diyfp w, diyfp high, char *buf, int *len, int *kappa)
{
	uint64_t unit = 1;
	uint64_t too_low = low.f - unit, too_high = high.f + unit;
	uint64_t unsafe = too_high - too_low;
	int shift = -w.e;
	uint64_t one = 1ull << shift;
	uint32_t integrals = (uint32_t)(too_high >> shift);
	uint64_t fractionals = too_high & (one - 1);
	/* The integral part's digits at once (constant divisions), then one at a time. */
	char idig[20];
	int k = integrals ? u64_digits(integrals, idig) : 0;
	*len = 0;
	for (int i = 0; k > 0; i++) {
		uint64_t divisor = pow10_u32[k - 1];
		buf[(*len)++] = idig[i];
		integrals -= (uint32_t)((uint64_t)(idig[i] - '0') * divisor);
		k--;
		uint64_t rest = ((uint64_t)integrals << shift) + fractionals;
		if (rest < unsafe) {
			*kappa = k;
			return grisu_round_weed(buf, *len, too_high - w.f, unsafe, rest,
						divisor << shift, unit);
		}
	}
	for (;;) {
		fractionals *= 10;
		unit *= 10;
		unsafe *= 10;
		buf[(*len)++] = (char)('0' + (fractionals >> shift));
		fractionals &= one - 1;
		k--;
		if (fractionals < unsafe) {
			*kappa = k;
			return grisu_round_weed(buf, *len, (too_high - w.f) * unit, unsafe,
						fractionals, one, unit);
		}
		if (*len >= 18) /* cannot happen for a double; stay inside buf */
			return false;
	}
}

/* Shortest digits of a finite v > 0 by Grisu3; false if it cannot be sure of them. */
static bool grisu3(double v, float_digits *fd)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	uint64_t mant = bits & ((1ull << 52) - 1);
	int bexp = (int)(bits >> 52 & 0x7ff);
	diyfp x = bexp ? (diyfp){mant | (1ull << 52), bexp - 1075} : (diyfp){mant, -1074};
	/* Rounding interval boundaries m- and m+, halfway to the neighbouring doubles. */
	diyfp plus = diy_normalize((diyfp){(x.f << 1) + 1, x.e - 1});
	diyfp minus = mant == 0 && bexp > 1 ? (diyfp){(x.f << 2) - 1, x.e - 2}
					    : (diyfp){(x.f << 1) - 1, x.e - 1};
	minus.f <<= minus.e - plus.e;
	minus.e = plus.e;
	diyfp w = diy_normalize(x);
	/* The cached power c = 10^k with GRISU_MIN_EXP <= w.e + c.e + 64 <= GRISU_MAX_EXP. */
	int min_e = GRISU_MIN_EXP - (w.e + 64);
	int dk = (int)ceil((min_e + 63) * 0.30102999566398114);
	int idx = (348 + dk - 1) / 8 + 1;
	if (idx < 0 || idx >= 87)
		return false;
	diyfp c = {cached_pow[idx].f, cached_pow[idx].e};
	int se = w.e + c.e + 64;
	if (se < GRISU_MIN_EXP || se > GRISU_MAX_EXP)
		return false;
	char buf[24];
	int len, kappa;
	if (!grisu_digit_gen(diy_mul(minus, c), diy_mul(w, c), diy_mul(plus, c), buf, &len, &kappa))
		return false;
	while (len > 1 && buf[len - 1] == '0') { /* never for a shortest string; be safe */
		len--;
		kappa++;
	}
	memcpy(fd->d, buf, (size_t)len);
	fd->n = len;
	fd->point = len + kappa - cached_pow[idx].k;
	return true;
}

static void shortest_digits(double v, float_digits *fd)
{
	/* Integers below 2^53 are their own shortest digits: any shorter decimal is at least 1
	 * away, outside the rounding interval (half-width <= 0.5). */
	if (v < 9007199254740992.0 && v == (double)(uint64_t)v) {
		digits_from_u64(fd, (uint64_t)v, 0);
		return;
	}
	if (grisu3(v, fd))
		return;
	if (v >= 1e-9 && v < 1e15) {
		for (int d = 0; d <= 22; d++) {
			double x = v * pow10_tab[d];
			if (x >= 1e15)
				break;
			double r = nearbyint(x);
			if (r >= 1 && r / pow10_tab[d] == v) {
				digits_from_u64(fd, (uint64_t)r, -d);
				return;
			}
		}
	}
	char s[64];
	/* Subnormals carry fewer bits, so fewer than 15 digits may identify them; their
	 * rounding interval is symmetric, so the correctly rounded string is the candidate at
	 * each precision and a plain search from 1 digit up finds the shortest. */
	for (int prec = v < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*e", prec - 1, v);
		double back = strtod(s, NULL);
		if (back == v || prec == 17) {
			digits_from_sci(fd, s);
			return;
		}
		if (prec != 16)
			continue;
		/* The correctly rounded 16-digit string failed: try its other neighbour. */
		float_digits cr;
		digits_from_sci(&cr, s);
		uint64_t m = 0;
		for (int i = 0; i < 16; i++)
			m = m * 10 + (uint64_t)(i < cr.n ? cr.d[i] - '0' : 0);
		m = back < v ? m + 1 : m - 1;
		int exp10 = cr.point - 16;
		char t[48];
		snprintf(t, sizeof(t), "%llue%d", (unsigned long long)m, exp10);
		if (strtod(t, NULL) == v) {
			digits_from_u64(fd, m, exp10);
			return;
		}
	}
}

/* ------------------------------------------------------------------------------------ */
/* Layout                                                                                */
/* ------------------------------------------------------------------------------------ */

static size_t put_fixed(char *o, const float_digits *fd)
{
	size_t k = 0;
	if (fd->point <= 0) {
		o[k++] = '0';
		o[k++] = '.';
		for (int i = 0; i < -fd->point; i++)
			o[k++] = '0';
		memcpy(o + k, fd->d, (size_t)fd->n);
		k += (size_t)fd->n;
	} else if (fd->point < fd->n) {
		memcpy(o + k, fd->d, (size_t)fd->point);
		k += (size_t)fd->point;
		o[k++] = '.';
		memcpy(o + k, fd->d + fd->point, (size_t)(fd->n - fd->point));
		k += (size_t)(fd->n - fd->point);
	} else {
		memcpy(o + k, fd->d, (size_t)fd->n);
		k += (size_t)fd->n;
		for (int i = fd->n; i < fd->point; i++)
			o[k++] = '0';
	}
	return k;
}

static size_t put_exp(char *o, const float_digits *fd, bool short_neg_exp)
{
	size_t k = 0;
	o[k++] = fd->d[0];
	if (fd->n > 1) {
		o[k++] = '.';
		memcpy(o + k, fd->d + 1, (size_t)(fd->n - 1));
		k += (size_t)(fd->n - 1);
	}
	int e = fd->point - 1;
	o[k++] = 'e';
	o[k++] = e < 0 ? '-' : '+';
	unsigned ue = (unsigned)(e < 0 ? -e : e);
	if (ue < 10 && !(short_neg_exp && e < 0))
		o[k++] = '0';
	k += (size_t)u64_digits(ue, o + k);
	return k;
}

size_t web_json_format_float(char *out, double v, web_json_float_style style)
{
	size_t k = 0;
	if (isnan(v)) {
		memcpy(out, "NaN", 4);
		return 3;
	}
	if (isinf(v)) {
		memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
		return 4;
	}
	if (signbit(v))
		out[k++] = '-';
	double a = fabs(v);
	if (a == 0) {
		out[k++] = '0';
		out[k] = '\0';
		return k;
	}
	float_digits fd;
	shortest_digits(a, &fd);
	if (style != WEB_JSON_FLOAT_FIXED && (a < 1e-6 || a >= 1e21))
		k += put_exp(out + k, &fd, style == WEB_JSON_FLOAT_GOJSON);
	else
		k += put_fixed(out + k, &fd);
	out[k] = '\0';
	return k;
}

/* ------------------------------------------------------------------------------------ */
/* Buffer-level appenders                                                                */
/* ------------------------------------------------------------------------------------ */

/* ASCII bytes that need an escape: control characters, '"', '\\', and the HTML trio. */
static const uint8_t ascii_escape[128] = {
    1, 1, 1, 1, 1, 1, 1,         1,          1,         1,         1,         1, 1,
    1, 1, 1, 1, 1, 1, 1,         1,          1,         1,         1,         1, 1,
    1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1, ['<'] = 1, ['>'] = 1, ['&'] = 1,
};

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left, s[0] >= 0x80), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	uint8_t lo = 0x80, hi = 0xBF;
	size_t len;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static const char hexdig[] = "0123456789abcdef";

int web_json_escape(ts_buf *b, const char *s, size_t n)
{
	size_t start = b->len;
	const uint8_t *p = (const uint8_t *)s;
	int rc = ts_buf_reserve(b, n + 2);
	if (rc)
		return rc;
	b->data[b->len++] = '"';
	size_t run = 0; /* start of the pending run of bytes copied verbatim */
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		char esc[8];
		size_t esc_n;
		size_t adv = 1;
		if (c < 0x80) {
			if (!ascii_escape[c]) {
				i++;
				continue;
			}
			esc[0] = '\\';
			switch (c) {
			case '"': esc[1] = '"', esc_n = 2; break;
			case '\\': esc[1] = '\\', esc_n = 2; break;
			case '\n': esc[1] = 'n', esc_n = 2; break;
			case '\r': esc[1] = 'r', esc_n = 2; break;
			case '\t': esc[1] = 't', esc_n = 2; break;
			default:
				memcpy(esc + 1, "u00", 3);
				esc[4] = hexdig[c >> 4];
				esc[5] = hexdig[c & 15];
				esc_n = 6;
				break;
			}
		} else {
			size_t len = utf8_len(p + i, n - i);
			if (len == 3 && c == 0xE2 && p[i + 1] == 0x80 &&
			    (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
				memcpy(esc, p[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
				esc_n = 6;
				adv = 3;
			} else if (len) {
				i += len;
				continue;
			} else {
				memcpy(esc, "\\ufffd", 6);
				esc_n = 6;
			}
		}
		if ((rc = ts_buf_append(b, s + run, i - run)) ||
		    (rc = ts_buf_append(b, esc, esc_n)))
			goto fail;
		i += adv;
		run = i;
	}
	if ((rc = ts_buf_append(b, s ? s + run : "", n - run)) || (rc = ts_buf_putc(b, '"')))
		goto fail;
	return TS_OK;
fail:
	b->len = start;
	b->data[start] = '\0';
	return rc;
}

static int append_quoted_float(ts_buf *b, double v, web_json_float_style style)
{
	char tmp[WEB_JSON_FLOAT_MAX + 2];
	tmp[0] = '"';
	size_t n = web_json_format_float(tmp + 1, v, style);
	tmp[n + 1] = '"';
	return ts_buf_append(b, tmp, n + 2);
}

int web_json_sample_value(ts_buf *b, double v)
{
	return append_quoted_float(b, v, WEB_JSON_FLOAT_FIXED);
}

int web_json_sample_value_prom(ts_buf *b, double v)
{
	return append_quoted_float(b, v, WEB_JSON_FLOAT_PROM);
}

/* Seconds from ms, Prometheus MarshalTimestamp style, into o (at least 26 bytes). */
static size_t put_timestamp(char *o, int64_t ms)
{
	size_t k = 0;
	uint64_t u = (uint64_t)ms;
	if (ms < 0) {
		o[k++] = '-';
		u = 0 - u;
	}
	k += (size_t)u64_digits(u / 1000, o + k);
	unsigned frac = (unsigned)(u % 1000);
	if (frac) {
		o[k++] = '.';
		o[k++] = (char)('0' + frac / 100);
		o[k++] = (char)('0' + frac / 10 % 10);
		o[k++] = (char)('0' + frac % 10);
	}
	return k;
}

int web_json_timestamp(ts_buf *b, int64_t ms)
{
	char tmp[32];
	return ts_buf_append(b, tmp, put_timestamp(tmp, ms));
}

int web_json_int64(ts_buf *b, int64_t v)
{
	char tmp[24];
	size_t k = 0;
	uint64_t u = (uint64_t)v;
	if (v < 0) {
		tmp[k++] = '-';
		u = 0 - u;
	}
	k += (size_t)u64_digits(u, tmp + k);
	return ts_buf_append(b, tmp, k);
}

/* ------------------------------------------------------------------------------------ */
/* Writer                                                                                */
/* ------------------------------------------------------------------------------------ */

void web_json_init(web_json *w, ts_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

int web_json_finish(const web_json *w)
{
	if (w->rc)
		return w->rc;
	if (TS_NEVER(w->depth != 0 || w->after_key))
		return TS_EINVAL;
	return TS_OK;
}

static int fail(web_json *w, int rc)
{
	if (rc && !w->rc)
		w->rc = rc;
	return w->rc;
}

/* Separator bookkeeping before any value (container or scalar). */
static int before_value(web_json *w)
{
	if (w->rc)
		return w->rc;
	if (w->after_key) {
		w->after_key = false;
		return TS_OK;
	}
	if (w->depth == 0)
		return TS_OK;
	uint64_t bit = 1ull << (w->depth - 1);
	if (TS_NEVER(w->is_obj & bit)) /* a value where a key is due */
		return fail(w, TS_EINVAL);
	if (w->nonempty & bit) {
		int rc = ts_buf_putc(w->out, ',');
		if (rc)
			return fail(w, rc);
	}
	w->nonempty |= bit;
	return TS_OK;
}

static int begin(web_json *w, char c, bool is_obj)
{
	int rc = before_value(w);
	if (rc)
		return rc;
	if (w->depth >= WEB_JSON_MAX_DEPTH)
		return fail(w, TS_ELIMIT);
	if ((rc = ts_buf_putc(w->out, c)))
		return fail(w, rc);
	uint64_t bit = 1ull << w->depth;
	w->nonempty &= ~bit;
	if (is_obj)
		w->is_obj |= bit;
	else
		w->is_obj &= ~bit;
	w->depth++;
	return TS_OK;
}

static int end(web_json *w, char c, bool is_obj)
{
	if (w->rc)
		return w->rc;
	if (TS_NEVER(w->depth == 0 || w->after_key ||
		     !!(w->is_obj & (1ull << (w->depth - 1))) != is_obj))
		return fail(w, TS_EINVAL);
	int rc = ts_buf_putc(w->out, c);
	if (rc)
		return fail(w, rc);
	w->depth--;
	return TS_OK;
}

int web_json_object_begin(web_json *w)
{
	return begin(w, '{', true);
}

int web_json_object_end(web_json *w)
{
	return end(w, '}', true);
}

int web_json_array_begin(web_json *w)
{
	return begin(w, '[', false);
}

int web_json_array_end(web_json *w)
{
	return end(w, ']', false);
}

int web_json_key_n(web_json *w, const char *key, size_t n)
{
	if (w->rc)
		return w->rc;
	if (TS_NEVER(w->depth == 0 || w->after_key || !(w->is_obj & (1ull << (w->depth - 1)))))
		return fail(w, TS_EINVAL);
	uint64_t bit = 1ull << (w->depth - 1);
	size_t start = w->out->len;
	int rc = TS_OK;
	if (w->nonempty & bit)
		rc = ts_buf_putc(w->out, ',');
	if (!rc)
		rc = web_json_escape(w->out, key, n);
	if (!rc)
		rc = ts_buf_putc(w->out, ':');
	if (rc) {
		w->out->len = start;
		if (w->out->data)
			w->out->data[start] = '\0';
		return fail(w, rc);
	}
	w->nonempty |= bit;
	w->after_key = true;
	return TS_OK;
}

int web_json_key(web_json *w, const char *key)
{
	return web_json_key_n(w, key, strlen(key));
}

/* Scalars: separator, then one append whose failure becomes the sticky error. */
#define SCALAR(w, expr)                    \
	do {                               \
		int rc_ = before_value(w); \
		if (rc_)                   \
			return rc_;        \
		return fail(w, (expr));    \
	} while (0)

int web_json_string_n(web_json *w, const char *s, size_t n)
{
	SCALAR(w, web_json_escape(w->out, s, n));
}

int web_json_string(web_json *w, const char *s)
{
	if (!s)
		return web_json_null(w);
	return web_json_string_n(w, s, strlen(s));
}

int web_json_int(web_json *w, int64_t v)
{
	SCALAR(w, web_json_int64(w->out, v));
}

int web_json_uint(web_json *w, uint64_t v)
{
	char tmp[24];
	int n = u64_digits(v, tmp);
	SCALAR(w, ts_buf_append(w->out, tmp, (size_t)n));
}

int web_json_bool(web_json *w, bool v)
{
	SCALAR(w, ts_buf_puts(w->out, v ? "true" : "false"));
}

int web_json_null(web_json *w)
{
	SCALAR(w, ts_buf_append(w->out, "null", 4));
}

int web_json_double(web_json *w, double v)
{
	if (!isfinite(v))
		return web_json_null(w);
	char tmp[WEB_JSON_FLOAT_MAX];
	size_t n = web_json_format_float(tmp, v, WEB_JSON_FLOAT_GOJSON);
	SCALAR(w, ts_buf_append(w->out, tmp, n));
}

int web_json_sample(web_json *w, double v)
{
	SCALAR(w, append_quoted_float(w->out, v, w->sample_style));
}

int web_json_time(web_json *w, int64_t ms)
{
	SCALAR(w, web_json_timestamp(w->out, ms));
}

int web_json_raw(web_json *w, const char *text, size_t n)
{
	SCALAR(w, ts_buf_append(w->out, text, n));
}

int web_json_point(web_json *w, int64_t t_ms, double v)
{
	int rc = before_value(w);
	if (rc)
		return rc;
	/* One append for the whole point keeps the hot path of matrix output short. */
	char tmp[WEB_JSON_FLOAT_MAX + 40];
	size_t k = 0;
	tmp[k++] = '[';
	k += put_timestamp(tmp + k, t_ms);
	tmp[k++] = ',';
	tmp[k++] = '"';
	k += web_json_format_float(tmp + k, v, w->sample_style);
	tmp[k++] = '"';
	tmp[k++] = ']';
	return fail(w, ts_buf_append(w->out, tmp, k));
}
