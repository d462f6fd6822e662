/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_chunk_decode.c: feed arbitrary bytes to the chunk iterator, seek, snapshot
 * reader and resume; they must fail cleanly (TS_ECORRUPT / TS_EINVAL), never crash or
 * read outside the input (the input buffer is exactly `size` bytes, so ASan sees any
 * over-read).
 *
 * Input (at most 4096 bytes) is taken as chunk bytes. Checked beyond "no crash":
 * - a chunk that decodes completely has at most 120 strictly increasing samples, as
 *   many as its header says, the last one at the header's last_t_ms;
 * - re-encoding those samples gives a chunk that decodes to the same bits;
 * - resume + one more append on a valid chunk yields a valid chunk one sample longer;
 * - seek lands on the first sample >= target.
 * A failed check aborts.
 */
#include "tsdb/chunk.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT 4096

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "fuzz_chunk_decode: %s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                                       \
			abort();                                                              \
		}                                                                             \
	} while (0)

static uint64_t bits_of(double v)
{
	uint64_t b;
	memcpy(&b, &v, sizeof(b));
	return b;
}

/* Decode all of data; returns the final rc and fills t/v with up to 120 samples. */
static int decode_all(const uint8_t *data, size_t size, int64_t *t, double *v, int *n_out)
{
	tsdb_chunk_iter it;
	ts_err err = {0};
	int rc = tsdb_chunk_iter_init(&it, data, size, &err);
	*n_out = 0;
	if (rc != TS_OK) {
		CHECK(rc == TS_ECORRUPT && err.code == TS_ECORRUPT);
		return rc;
	}
	int n = 0;
	for (;;) {
		int64_t tt;
		double vv;
		rc = tsdb_chunk_iter_next(&it, &tt, &vv, &err);
		if (rc <= 0)
			break;
		CHECK(n < TSDB_CHUNK_MAX_SAMPLES);
		CHECK(n == 0 || tt > t[n - 1]);
		t[n] = tt;
		v[n] = vv;
		n++;
	}
	CHECK(rc == 0 || rc == TS_ECORRUPT);
	*n_out = n;
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	int64_t t[TSDB_CHUNK_MAX_SAMPLES];
	double v[TSDB_CHUNK_MAX_SAMPLES];
	int n;
	int rc = decode_all(data, size, t, v, &n);

	if (rc == 0) {
		CHECK(n == ts_get_u16le(data));
		if (n > 0) {
			int64_t last;
			uint64_t u = ts_get_u64le(data + 10);
			memcpy(&last, &u, sizeof(last));
			CHECK(t[n - 1] == last);
		}
		/* Re-encode and decode again: same samples, bit for bit. */
		static uint8_t buf[TSDB_CHUNK_MAX_BYTES];
		tsdb_chunk c;
		CHECK(tsdb_chunk_init(&c, buf, sizeof(buf), TSDB_CHUNK_SPAN_UNLIMITED, NULL) ==
		      TS_OK);
		for (int i = 0; i < n; i++)
			CHECK(tsdb_chunk_append(&c, t[i], v[i], NULL) == TS_OK);
		int64_t t2[TSDB_CHUNK_MAX_SAMPLES];
		double v2[TSDB_CHUNK_MAX_SAMPLES];
		int n2;
		CHECK(decode_all(buf, tsdb_chunk_len(&c), t2, v2, &n2) == 0);
		CHECK(n2 == n);
		for (int i = 0; i < n; i++)
			CHECK(t2[i] == t[i] && bits_of(v2[i]) == bits_of(v[i]));

		/* Resume on a copy of the input and append one more sample. */
		static uint8_t rbuf[MAX_INPUT + 64];
		memcpy(rbuf, data, size);
		tsdb_chunk r;
		rc = tsdb_chunk_resume(&r, rbuf, size, size + 64, TSDB_CHUNK_SPAN_UNLIMITED, NULL);
		CHECK(rc == TS_OK);
		if (n == 0 || t[n - 1] < INT64_MAX) {
			int64_t next_t = n ? t[n - 1] + 1 : 0;
			rc = tsdb_chunk_append(&r, next_t, 42.0, NULL);
			CHECK(rc == TS_OK || rc == TS_EFULL);
			if (rc == TS_OK) {
				CHECK(decode_all(rbuf, tsdb_chunk_len(&r), t2, v2, &n2) == 0);
				CHECK(n2 == n + 1 && t2[n] == next_t);
				for (int i = 0; i < n; i++)
					CHECK(t2[i] == t[i] && bits_of(v2[i]) == bits_of(v[i]));
			}
		}
	}

	/* Seek to a target taken from the input, then read the rest in batches. */
	tsdb_chunk_iter it;
	if (tsdb_chunk_iter_init(&it, data, size, NULL) == TS_OK) {
		int64_t target = 0;
		if (size >= 26) {
			uint64_t u = ts_get_u64le(data + 2) + (uint64_t)data[size - 1] * 997;
			memcpy(&target, &u, sizeof(target));
		}
		int s = tsdb_chunk_iter_seek(&it, target, NULL);
		CHECK(s == 1 || s == 0 || s == TS_ECORRUPT);
		int64_t tb[16];
		double vb[16];
		int r, got = 0;
		while ((r = tsdb_chunk_iter_read(&it, tb, vb, 16, NULL)) > 0) {
			if (got == 0 && s == 1)
				CHECK(tb[0] >= target);
			got += r;
		}
		CHECK(r == 0 || r == TS_ECORRUPT);
		if (rc == 0 && s == 1 && r == 0) {
			int want = 0;
			while (want < n && t[want] < target)
				want++;
			CHECK(got == n - want);
		}
	}

	/* The same bytes as a snapshot, with a publication word made from the input. */
	if (size >= TSDB_CHUNK_HEADER_BYTES + 1) {
		uint32_t sn = data[size - 1] % (TSDB_CHUNK_MAX_SAMPLES + 1);
		uint64_t bits = (uint64_t)(size - TSDB_CHUNK_HEADER_BYTES) * 8 - (data[0] & 7);
		if (tsdb_chunk_iter_init_snapshot(&it, data, (uint64_t)sn << 32 | bits, NULL) ==
		    TS_OK) {
			int64_t tb[TSDB_CHUNK_MAX_SAMPLES];
			double vb[TSDB_CHUNK_MAX_SAMPLES];
			int r = tsdb_chunk_iter_read(&it, tb, vb, TSDB_CHUNK_MAX_SAMPLES, NULL);
			CHECK(r == (int)sn || r == TS_ECORRUPT);
		}
	}
	return 0;
}
