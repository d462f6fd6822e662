/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_gorilla_roundtrip.c: encode fuzzer-chosen samples with the Gorilla codec, decode
 * them, and require the exact timestamps and value bits back.
 *
 * Input (at most 4096 bytes): byte 0 picks the buffer capacity (0: 4096 bytes, else
 * 8 + 3 * byte, so TS_EFULL is reached often); bytes 1..8 the first timestamp; then
 * one op byte per sample, followed by its operand bytes. Op bits 0-2 pick the timestamp
 * step (small, jittered, around 1 s, raw 64-bit, duplicate, backwards, equal delta,
 * power of two); bits 3-5 the value (same, raw bits, flipped bits, special pattern,
 * small integer, float step, low-bit flip, sign flip).
 *
 * Checked: every order error is TS_EINVAL/TS_EOUTOFORDER as expected and leaves state
 * and bytes untouched, so does TS_EFULL; the stream decodes (from an exact-size heap
 * copy) to the same samples, ends in zero padding, and every published prefix decodes
 * with tsdb_gorilla_dec_init_bits(). A failed check aborts, which is what the fuzzer
 * and the corpus replay report.
 */
#include "tsdb/gorilla.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT   4096
#define MAX_SAMPLES 1024
#define BUF_BYTES   4096

typedef struct input {
	const uint8_t *p, *end;
} input;

static uint64_t take(input *in, int n_bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < n_bytes; i++)
		v = v << 8 | (in->p < in->end ? *in->p++ : 0);
	return v;
}

static const uint64_t specials[] = {
    0x7FF0000000000002ull, 0x7FF8000000000000ull, 0xFFF8000000000000ull, 0x7FF0000000000001ull,
    0x7FF0000000000000ull, 0xFFF0000000000000ull, 0x0000000000000000ull, 0x8000000000000000ull,
    0x0000000000000001ull, 0x000FFFFFFFFFFFFFull, 0x7FEFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFFFFull,
};

static int64_t u2i(uint64_t x)
{
	int64_t r;
	memcpy(&r, &x, sizeof(r));
	return r;
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_gorilla_roundtrip: %s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > MAX_INPUT)
		return 0;
	input in = {data, data + size};
	uint64_t sel = take(&in, 1);
	size_t cap = sel ? 8 + 3 * (size_t)sel : BUF_BYTES;

	static int64_t ts[MAX_SAMPLES];
	static uint64_t vs[MAX_SAMPLES];
	static size_t bits_at[MAX_SAMPLES + 1];
	static uint8_t buf[BUF_BYTES], snap[BUF_BYTES];
	memset(buf, 0, sizeof(buf));
	memset(snap, 0, sizeof(snap)); /* shadow of buf, kept equal after each append */

	tsdb_gorilla_enc e;
	tsdb_gorilla_enc_init(&e);
	int64_t t = u2i(take(&in, 8));
	uint64_t vb = 0, delta = 0;
	size_t n = 0;
	bits_at[0] = 0;
	while (in.p < in.end && n < MAX_SAMPLES) {
		uint8_t op = (uint8_t)take(&in, 1);
		/* Timestamp: a forward step d (mod 2^64 arithmetic, so a jitter below zero
		 * becomes a huge step) or a step back; `want` is what the append must say. */
		int want = TS_OK;
		uint64_t d = 0, back = 0;
		switch (op & 7) {
		case 0: d = 1 + take(&in, 1); break;
		case 1: d = delta + (uint64_t)(int64_t)(int8_t)take(&in, 1); break;
		case 2: d = 1000 + (uint64_t)(int64_t)(int16_t)take(&in, 2); break;
		case 3: d = take(&in, 8); break;
		case 4: d = 0; break;
		case 5: back = 1 + take(&in, 1); break;
		case 6: d = delta; break;
		default: d = (uint64_t)1 << (take(&in, 1) & 63); break;
		}
		int64_t nt;
		if (n == 0) {
			nt = t;
		} else if (back) {
			if ((uint64_t)t - (uint64_t)INT64_MIN < back)
				continue; /* would go below INT64_MIN */
			nt = u2i((uint64_t)t - back);
			want = TS_EOUTOFORDER;
		} else if (d == 0) {
			nt = t;
			want = TS_EINVAL;
		} else {
			if (d > (uint64_t)INT64_MAX - (uint64_t)t)
				continue; /* past INT64_MAX: not a valid sample */
			nt = u2i((uint64_t)t + d);
		}
		/* Value. */
		uint64_t nv = vb;
		switch ((op >> 3) & 7) {
		case 0: break;
		case 1: nv = take(&in, 8); break;
		case 2: nv = vb ^ (take(&in, 1) << (take(&in, 1) & 63)); break;
		case 3:
			nv = specials[take(&in, 1) % (sizeof(specials) / sizeof(specials[0]))];
			break;
		case 4: {
			double f = (double)(int16_t)take(&in, 2);
			memcpy(&nv, &f, sizeof(nv));
			break;
		}
		case 5: {
			double f;
			memcpy(&f, &vb, sizeof(f));
			f += (double)(int8_t)take(&in, 1) / 8.0;
			memcpy(&nv, &f, sizeof(nv));
			break;
		}
		case 6: nv = vb ^ 1; break;
		default: nv = vb ^ 0x8000000000000000ull; break;
		}
		double v;
		memcpy(&v, &nv, sizeof(v));

		tsdb_gorilla_enc saved = e;
		ts_err err = {0};
		int rc = tsdb_gorilla_enc_append(&e, buf, cap, nt, v, &err);
		if (rc != TS_OK) {
			CHECK(rc == want || (want == TS_OK && rc == TS_EFULL));
			CHECK(err.code == rc && err.msg[0] != '\0');
			CHECK(memcmp(&saved, &e, sizeof(e)) == 0);
			CHECK(memcmp(snap, buf, cap) == 0);
			if (rc == TS_EFULL)
				break;
			continue;
		}
		CHECK(want == TS_OK);
		/* Only the old partial byte, the new bytes and <= 7 scratch bytes changed. */
		size_t lo = saved.n_bits / 8, hi = tsdb_gorilla_enc_len(&e) + 7;
		if (hi > cap)
			hi = cap;
		CHECK(memcmp(snap, buf, lo) == 0);
		CHECK(hi >= cap || memcmp(snap + hi, buf + hi, cap - hi) == 0);
		memcpy(snap + lo, buf + lo, hi - lo);
		if (n > 0)
			delta = (uint64_t)nt - (uint64_t)t;
		t = nt;
		vb = nv;
		ts[n] = nt;
		vs[n] = nv;
		n++;
		bits_at[n] = e.n_bits;
		CHECK(tsdb_gorilla_enc_len(&e) <= cap);
	}

	/* Decode from an exact-size copy. */
	size_t len = tsdb_gorilla_enc_len(&e);
	uint8_t *copy = malloc(len ? len : 1);
	CHECK(copy != NULL);
	memcpy(copy, buf, len);
	tsdb_gorilla_dec d;
	tsdb_gorilla_dec_init(&d, copy, len, n ? ts[0] : 0, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		int64_t tt;
		double vv;
		uint64_t bb;
		CHECK(tsdb_gorilla_dec_next(&d, &tt, &vv, NULL) == 1);
		memcpy(&bb, &vv, sizeof(bb));
		CHECK(tt == ts[i]);
		CHECK(bb == vs[i]);
	}
	int64_t tt;
	double vv;
	CHECK(tsdb_gorilla_dec_next(&d, &tt, &vv, NULL) == 0);
	CHECK(tsdb_gorilla_dec_check_end(&d, NULL) == TS_OK);
	free(copy);

	/* Every published prefix decodes from the final bytes, ending exactly there. */
	for (size_t k = 0; k <= n; k += 1 + n / 16) {
		static int64_t t2[MAX_SAMPLES];
		static double v2[MAX_SAMPLES];
		tsdb_gorilla_dec_init_bits(&d, buf, bits_at[k], k ? ts[0] : 0, (uint32_t)k);
		CHECK(tsdb_gorilla_dec_read(&d, t2, v2, MAX_SAMPLES, NULL) == (int)k);
		CHECK(d.pos == bits_at[k]);
		for (size_t i = 0; i < k; i++) {
			uint64_t bb;
			memcpy(&bb, &v2[i], sizeof(bb));
			CHECK(t2[i] == ts[i] && bb == vs[i]);
		}
	}
	return 0;
}
