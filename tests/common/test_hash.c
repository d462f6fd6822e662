/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hash.c: unit tests for common/hash.c (XXH64 and CRC-32C).
 *
 * XXH64 vectors are published values (xxhsum and the reference implementation's ports:
 * cespare/xxhash, the xxHash sanity lists); they cover every tail combination of 8-, 4-
 * and 1-byte steps below and above the 32-byte stripe size. The streaming API must agree
 * with the one-shot hash for every length and every split. CRC-32C vectors are the
 * check value and the RFC 3720 (iSCSI) appendix B.4 patterns.
 *
 * hash.c is compiled into this test directly so that both CRC-32C code paths (SSE4.2
 * and slicing-by-8 table) can be run and compared on every machine: crc_sw_run and
 * crc_hw_run are static. The library's hash.o is then never linked (all its symbols are
 * already defined here), so there is no duplicate definition.
 */
#include "common/hash.c"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* Deterministic test bytes. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* Bit-at-a-time CRC-32C straight from the definition (reflected 0x82F63B78). */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

/* ---------------------------------------------------------------- CRC-32C, concurrency */

enum { N_THREADS = 4 };

static void *crc_first_use(void *arg)
{
	uint32_t *out = arg;
	*out = ts_crc32c(0, "123456789", 9);
	return NULL;
}

/* Runs first in this process, so the table is built by racing threads (pthread_once). */
static void test_ts_crc32c_first_use_concurrent(void **state)
{
	pthread_t th[N_THREADS];
	uint32_t got[N_THREADS] = {0};
	for (int i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, crc_first_use, &got[i]), 0);
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(got[i], 0xE3069283u);
	}
}

/* ---------------------------------------------------------------- XXH64 */

static const struct {
	const char *s;
	uint64_t seed;
	uint64_t want;
} xxh_vectors[] = {
    {"", 0, 0xEF46DB3751D8E999ULL},
    {"a", 0, 0xD24EC4F1A98C6E5BULL},
    {"ab", 0, 0x65F708CA92D04A61ULL},
    {"abc", 0, 0x44BC2CF5AD770999ULL},
    {"as", 0, 0x1C330FB2D66BE179ULL},
    {"asd", 0, 0x631C37CE72A97393ULL},
    {"asdf", 0, 0x415872F599CEA71EULL},
    {"abcd", 0, 0xDE0327B0D25D92CCULL},
    {"abcde", 0, 0x07E3670C0C8DC7EBULL},
    {"abcdef", 0, 0xFA8AFD82C423144DULL},
    {"abcdefg", 0, 0x1860940E2902822DULL},
    {"abcdefgh", 0, 0x3AD351775B4634B7ULL},
    {"abcdefghi", 0, 0x27F1A34FDBB95E13ULL},
    {"abcdefghij", 0, 0xD6287A1DE5498BB2ULL},
    {"abcdefghijkl", 0, 0x4B09B7D3A233D4B3ULL},
    {"abcdefghijklmnop", 0, 0x71CE8137CA2DD53DULL},
    {"0123456789abcdef", 0, 0x5C5B90C34E376D0BULL},
    {"abcdefghijklmnopqrstuvwx", 0, 0x0BEC95E34669983BULL},
    {"abcdefghijklmnopqrstuvwxyz12345", 0, 0x467605901B01D6F6ULL},
    {"abcdefghijklmnopqrstuvwxyz123456", 0, 0x0022EE3B5A18531BULL},
    {"abcdefghijklmnopqrstuvwxyz012345", 0, 0xBF2CD639B4143B80ULL},
    {"0123456789abcdef0123456789abcdef", 0, 0x642A94958E71E6C5ULL},
    {"abcdefghijklmnopqrstuvwxyz1234567", 0, 0x23BBD16D29353C5FULL},
    {"abcdefghijklmnopqrstuvwxyz0123456789", 0, 0x64F23ECF1609B766ULL},
    {"The quick brown fox jumps over the lazy dog", 0, 0x0B242D361FDA71BCULL},
    {"Call me Ishmael. Some years ago--never mind how long precisely-", 0, 0x02A2E85470D6FD96ULL},
    {"abcdefghijklmnopqrstuvwxyz1234567890ABCDEFGHIJKLMNOPQRSTUVWXYZ!@", 0, 0x71238680860515A7ULL},
    {"", 1, 0xD5AFBA1336A3BE4BULL},
    {"", 668718853, 0x04E830582A31A119ULL},
    {"a", 191961062, 0x6E05BA2887C97977ULL},
    {"abcdefghijklmnopqrstuvwxyz12345", 877380273, 0x37B562EC5715E132ULL},
};

static void test_ts_hash64_known_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(xxh_vectors) / sizeof(xxh_vectors[0]); i++) {
		uint64_t got =
		    ts_hash64(xxh_vectors[i].s, strlen(xxh_vectors[i].s), xxh_vectors[i].seed);
		if (got != xxh_vectors[i].want)
			fail_msg("XXH64(\"%s\", seed %llu) = %016llx, want %016llx",
				 xxh_vectors[i].s, (unsigned long long)xxh_vectors[i].seed,
				 (unsigned long long)got, (unsigned long long)xxh_vectors[i].want);
	}
}

static void test_ts_hash64_binary_bytes(void **state)
{
	assert_true(ts_hash64("\0", 1, 0) == 0xE934A84ADB052768ULL);
	assert_true(ts_hash64("\xff", 1, 0) == 0x95634172A60B7544ULL);
}

static void test_ts_hash64_null_empty(void **state)
{
	assert_true(ts_hash64(NULL, 0, 0) == 0xEF46DB3751D8E999ULL);
	assert_true(ts_hash64(NULL, 0, 1) == 0xD5AFBA1336A3BE4BULL);
}

static void test_ts_hash64_seed_changes_result(void **state)
{
	uint8_t d[100];
	fill(d, sizeof(d), 1);
	for (size_t n = 0; n <= sizeof(d); n++)
		assert_true(ts_hash64(d, n, 0) != ts_hash64(d, n, 1));
}

static void test_ts_hash64_every_byte_matters(void **state)
{
	/* Flipping any one bit of a 100-byte input changes the hash. */
	uint8_t d[100];
	fill(d, sizeof(d), 2);
	uint64_t h = ts_hash64(d, sizeof(d), 0);
	for (size_t i = 0; i < sizeof(d); i++)
		for (int bit = 0; bit < 8; bit += 3) {
			d[i] ^= (uint8_t)(1u << bit);
			assert_true(ts_hash64(d, sizeof(d), 0) != h);
			d[i] ^= (uint8_t)(1u << bit);
		}
	assert_true(ts_hash64(d, sizeof(d), 0) == h);
}

static void test_ts_hash64_unaligned_input(void **state)
{
	uint8_t src[300], buf[310];
	fill(src, sizeof(src), 3);
	for (size_t n = 0; n <= sizeof(src); n += 7) {
		uint64_t want = ts_hash64(src, n, 42);
		for (size_t off = 1; off < 8; off++) {
			memcpy(buf + off, src, n);
			assert_true(ts_hash64(buf + off, n, 42) == want);
		}
	}
}

static void test_ts_hash64_streaming_known_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(xxh_vectors) / sizeof(xxh_vectors[0]); i++) {
		const char *s = xxh_vectors[i].s;
		size_t n = strlen(s);
		ts_hash64_state st;
		ts_hash64_init(&st, xxh_vectors[i].seed);
		for (size_t k = 0; k < n; k++)
			ts_hash64_update(&st, s + k, 1);
		assert_true(ts_hash64_digest(&st) == xxh_vectors[i].want);
	}
}

static void test_ts_hash64_streaming_all_splits_lengths_1_to_100(void **state)
{
	uint8_t d[100];
	fill(d, sizeof(d), 4);
	for (size_t n = 1; n <= sizeof(d); n++) {
		uint64_t want = ts_hash64(d, n, 7);
		/* Uniform chunk sizes. */
		for (size_t chunk = 1; chunk <= n; chunk++) {
			ts_hash64_state st;
			ts_hash64_init(&st, 7);
			for (size_t off = 0; off < n; off += chunk)
				ts_hash64_update(&st, d + off, off + chunk > n ? n - off : chunk);
			assert_true(ts_hash64_digest(&st) == want);
		}
		/* Every two-way split, including empty halves. */
		for (size_t cut = 0; cut <= n; cut++) {
			ts_hash64_state st;
			ts_hash64_init(&st, 7);
			ts_hash64_update(&st, d, cut);
			ts_hash64_update(&st, NULL, 0);
			ts_hash64_update(&st, d + cut, n - cut);
			assert_true(ts_hash64_digest(&st) == want);
		}
	}
}

static void test_ts_hash64_streaming_long_irregular_chunks(void **state)
{
	enum { N = 70000 };
	static uint8_t d[N];
	fill(d, N, 5);
	uint64_t want = ts_hash64(d, N, 0);
	ts_hash64_state st;
	ts_hash64_init(&st, 0);
	size_t off = 0, step = 1;
	while (off < N) {
		size_t k = step < N - off ? step : N - off;
		ts_hash64_update(&st, d + off, k);
		off += k;
		step = step * 3 % 1021 + 1;
	}
	assert_true(ts_hash64_digest(&st) == want);
}

static void test_ts_hash64_digest_does_not_consume(void **state)
{
	const char *s = "Call me Ishmael. Some years ago--never mind how long precisely-";
	ts_hash64_state st;
	ts_hash64_init(&st, 0);
	ts_hash64_update(&st, s, 16);
	assert_true(ts_hash64_digest(&st) == ts_hash64(s, 16, 0));
	assert_true(ts_hash64_digest(&st) == ts_hash64(s, 16, 0));
	ts_hash64_update(&st, s + 16, strlen(s) - 16);
	assert_true(ts_hash64_digest(&st) == 0x02A2E85470D6FD96ULL);
}

static void test_ts_hash64_init_empty_digest(void **state)
{
	ts_hash64_state st;
	ts_hash64_init(&st, 0);
	assert_true(ts_hash64_digest(&st) == 0xEF46DB3751D8E999ULL);
	ts_hash64_init(&st, 1);
	assert_true(ts_hash64_digest(&st) == 0xD5AFBA1336A3BE4BULL);
}

/* ---------------------------------------------------------------- CRC-32C */

static void test_ts_crc32c_check_value(void **state)
{
	assert_int_equal(ts_crc32c(0, "123456789", 9), 0xE3069283u);
}

static void test_ts_crc32c_rfc3720_vectors(void **state)
{
	uint8_t buf[32];
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ts_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(ts_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(ts_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(ts_crc32c(0, buf, 32), 0x113FDB5Cu);
}

static void test_ts_crc32c_text_vectors(void **state)
{
	assert_int_equal(ts_crc32c(0, "a", 1), 0xC1D04330u);
	assert_int_equal(ts_crc32c(0, "The quick brown fox jumps over the lazy dog", 43),
			 0x22620404u);
}

static void test_ts_crc32c_empty(void **state)
{
	assert_int_equal(ts_crc32c(0, NULL, 0), 0);
	assert_int_equal(ts_crc32c(0, "", 0), 0);
	assert_int_equal(ts_crc32c(0xE3069283u, "x", 0), 0xE3069283u);
}

static void test_ts_crc32c_incremental_equals_one_shot(void **state)
{
	uint8_t d[300];
	fill(d, sizeof(d), 6);
	for (size_t n = 0; n <= 100; n++) {
		uint32_t want = ts_crc32c(0, d, n);
		for (size_t cut = 0; cut <= n; cut++) {
			uint32_t c = ts_crc32c(0, d, cut);
			assert_int_equal(ts_crc32c(c, d + cut, n - cut), want);
		}
	}
	uint32_t c = 0;
	for (size_t i = 0; i < sizeof(d); i++)
		c = ts_crc32c(c, d + i, 1);
	assert_int_equal(c, ts_crc32c(0, d, sizeof(d)));
}

static void test_ts_crc32c_matches_bitwise_reference(void **state)
{
	uint8_t d[2048 + 8];
	fill(d, sizeof(d), 7);
	for (size_t n = 0; n <= 2048; n = n < 64 ? n + 1 : n * 2 - 13)
		for (size_t off = 0; off < 8; off++)
			assert_int_equal(ts_crc32c(0, d + off, n), crc_bitwise(0, d + off, n));
}

static void test_ts_crc32c_detects_single_bit_flips(void **state)
{
	uint8_t d[64];
	fill(d, sizeof(d), 8);
	uint32_t c = ts_crc32c(0, d, sizeof(d));
	for (size_t i = 0; i < sizeof(d) * 8; i++) {
		d[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(ts_crc32c(0, d, sizeof(d)), c);
		d[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
}

static void test_ts_crc32c_software_path_matches_reference(void **state)
{
	pthread_once(&crc_once, crc_init);
	uint8_t d[1000 + 8];
	fill(d, sizeof(d), 9);
	for (size_t n = 0; n <= 1000; n += (n < 40 ? 1 : 37))
		for (size_t off = 0; off < 8; off += 3) {
			uint32_t sw = ~crc_sw_run(~0u, d + off, n);
			assert_int_equal(sw, crc_bitwise(0, d + off, n));
		}
	assert_int_equal(~crc_sw_run(~0u, (const uint8_t *)"123456789", 9), 0xE3069283u);
}

static void test_ts_crc32c_hardware_path_matches_software(void **state)
{
#if defined(__x86_64__)
	pthread_once(&crc_once, crc_init);
	if (!crc_hw)
		skip(); /* CPU without SSE4.2: only the table path exists */
	uint8_t d[1000 + 8];
	fill(d, sizeof(d), 10);
	for (size_t n = 0; n <= 1000; n += (n < 40 ? 1 : 37))
		for (size_t off = 0; off < 8; off++) {
			uint32_t seed = (uint32_t)(n * 2654435761u);
			assert_int_equal(crc_hw_run(seed, d + off, n),
					 crc_sw_run(seed, d + off, n));
		}
	assert_int_equal(~crc_hw_run(~0u, (const uint8_t *)"123456789", 9), 0xE3069283u);
#else
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_crc32c_first_use_concurrent),
	    cmocka_unit_test(test_ts_hash64_known_vectors),
	    cmocka_unit_test(test_ts_hash64_binary_bytes),
	    cmocka_unit_test(test_ts_hash64_null_empty),
	    cmocka_unit_test(test_ts_hash64_seed_changes_result),
	    cmocka_unit_test(test_ts_hash64_every_byte_matters),
	    cmocka_unit_test(test_ts_hash64_unaligned_input),
	    cmocka_unit_test(test_ts_hash64_streaming_known_vectors),
	    cmocka_unit_test(test_ts_hash64_streaming_all_splits_lengths_1_to_100),
	    cmocka_unit_test(test_ts_hash64_streaming_long_irregular_chunks),
	    cmocka_unit_test(test_ts_hash64_digest_does_not_consume),
	    cmocka_unit_test(test_ts_hash64_init_empty_digest),
	    cmocka_unit_test(test_ts_crc32c_check_value),
	    cmocka_unit_test(test_ts_crc32c_rfc3720_vectors),
	    cmocka_unit_test(test_ts_crc32c_text_vectors),
	    cmocka_unit_test(test_ts_crc32c_empty),
	    cmocka_unit_test(test_ts_crc32c_incremental_equals_one_shot),
	    cmocka_unit_test(test_ts_crc32c_matches_bitwise_reference),
	    cmocka_unit_test(test_ts_crc32c_detects_single_bit_flips),
	    cmocka_unit_test(test_ts_crc32c_software_path_matches_reference),
	    cmocka_unit_test(test_ts_crc32c_hardware_path_matches_software),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
