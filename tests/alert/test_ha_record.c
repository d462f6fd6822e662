/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ha_record.c: tests for alert/ha_record.c: the notification records of the Kafka
 * notification topic (role alert). Round trips (webhook and email, with and without an
 * nlog record, empty and binary payloads), the pinned header bytes, every decode error
 * (short, bad magic, newer and older version, CRC, truncation at every length, trailing
 * bytes, bad kind, bad has_nlog flag, NUL in a string), the size limit, and allocation
 * failures.
 */
#include "alert/notify_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint64_t firing[] = {1, 7, UINT64_MAX};
static uint64_t resolved[] = {3};

static alert_outbox_entry sample(bool has_nlog)
{
	alert_outbox_entry e = {
	    .id = 99, /* not encoded: Kafka's offset identifies a record */
	    .created_ms = 1700000000123,
	    .kind = ALERT_NCFG_WEBHOOK,
	    .integ_index = 2,
	    .receiver = "team-a",
	    .group_key = "{}:{alertname=\"A\"}",
	    .has_nlog = has_nlog,
	    .nlog = {.key = "{}:{alertname=\"A\"}:team-a/webhook/2",
		     .sent_ms = 1700000000100,
		     .expires_ms = INT64_MAX,
		     .firing = firing,
		     .n_firing = 3,
		     .resolved = resolved,
		     .n_resolved = 1},
	    .payload = "{\"status\":\"firing\"}",
	    .payload_len = 19,
	};
	return e;
}

static void encode(const alert_outbox_entry *e, ts_buf *b)
{
	ts_buf_init(b, 1 << 26);
	assert_int_equal(alert_ha_record_encode(e, b), TS_OK);
}

static int decode(const ts_buf *b, alert_outbox_entry *out, ts_err *err)
{
	return alert_ha_record_decode(b->data, b->len, out, err);
}

/* Recompute the CRC after editing the body (so the edit reaches the body parser). */
static void fix_crc(ts_buf *b)
{
	uint32_t crc = ts_crc32c(0, (uint8_t *)b->data + ALERT_HA_RECORD_HDR_BYTES,
				 b->len - ALERT_HA_RECORD_HDR_BYTES);
	for (int i = 0; i < 4; i++)
		((uint8_t *)b->data)[5 + i] = (uint8_t)(crc >> (8 * i));
}

static void test_alert_ha_record_roundtrip(void **state)
{
	(void)state;
	for (int with_nlog = 0; with_nlog <= 1; with_nlog++) {
		alert_outbox_entry in = sample(with_nlog);
		ts_buf b;
		encode(&in, &b);
		alert_outbox_entry out;
		ts_err err = {0};
		assert_int_equal(decode(&b, &out, &err), TS_OK);
		assert_int_equal(out.id, 0);
		assert_int_equal(out.created_ms, in.created_ms);
		assert_int_equal(out.kind, ALERT_NCFG_WEBHOOK);
		assert_int_equal(out.integ_index, 2);
		assert_string_equal(out.receiver, "team-a");
		assert_string_equal(out.group_key, in.group_key);
		assert_int_equal(out.payload_len, in.payload_len);
		assert_memory_equal(out.payload, in.payload, in.payload_len);
		assert_int_equal(out.payload[out.payload_len], '\0');
		assert_int_equal(out.has_nlog, with_nlog);
		if (with_nlog) {
			assert_string_equal(out.nlog.key, in.nlog.key);
			assert_int_equal(out.nlog.sent_ms, in.nlog.sent_ms);
			assert_int_equal(out.nlog.expires_ms, INT64_MAX);
			assert_int_equal(out.nlog.n_firing, 3);
			assert_memory_equal(out.nlog.firing, firing, sizeof(firing));
			assert_int_equal(out.nlog.n_resolved, 1);
			assert_int_equal(out.nlog.resolved[0], 3);
		}
		alert_outbox_entry_fini(&out);
		ts_buf_free(&b);
	}
}

static void test_alert_ha_record_email_binary_empty(void **state)
{
	(void)state;
	char bin[256];
	for (int i = 0; i < 256; i++)
		bin[i] = (char)i; /* NULs included: the payload is bytes */
	alert_outbox_entry in = sample(false);
	in.kind = ALERT_NCFG_EMAIL;
	in.integ_index = UINT32_MAX;
	in.payload = bin;
	in.payload_len = sizeof(bin);
	ts_buf b;
	encode(&in, &b);
	alert_outbox_entry out;
	assert_int_equal(decode(&b, &out, NULL), TS_OK);
	assert_int_equal(out.kind, ALERT_NCFG_EMAIL);
	assert_int_equal(out.integ_index, UINT32_MAX);
	assert_int_equal(out.payload_len, 256);
	assert_memory_equal(out.payload, bin, 256);
	alert_outbox_entry_fini(&out);
	ts_buf_free(&b);
	/* empty strings and payload, NULL pointers encoded as empty */
	alert_outbox_entry z = {.created_ms = -1};
	encode(&z, &b);
	assert_int_equal(decode(&b, &out, NULL), TS_OK);
	assert_string_equal(out.receiver, "");
	assert_string_equal(out.group_key, "");
	assert_int_equal(out.payload_len, 0);
	assert_int_equal(out.created_ms, -1);
	alert_outbox_entry_fini(&out);
	ts_buf_free(&b);
}

static void test_alert_ha_record_encode_header(void **state)
{
	(void)state;
	alert_outbox_entry in = sample(true);
	ts_buf b;
	ts_buf_init(&b, 1 << 20);
	assert_int_equal(ts_buf_puts(&b, "prefix"), TS_OK);
	assert_int_equal(alert_ha_record_encode(&in, &b), TS_OK); /* appends */
	const uint8_t *p = (const uint8_t *)b.data + 6;
	static const uint8_t hdr[] = {'S', 'A', 'N', '1', 1};
	assert_memory_equal(p, hdr, sizeof(hdr));
	uint32_t crc =
	    (uint32_t)p[5] | (uint32_t)p[6] << 8 | (uint32_t)p[7] << 16 | (uint32_t)p[8] << 24;
	assert_int_equal(crc, ts_crc32c(0, p + 9, b.len - 6 - 9));
	/* created_ms little-endian first in the body */
	assert_int_equal(p[9], (uint8_t)(1700000000123 & 0xff));
	alert_outbox_entry out;
	assert_int_equal(alert_ha_record_decode(p, b.len - 6, &out, NULL), TS_OK);
	alert_outbox_entry_fini(&out);
	ts_buf_free(&b);
}

static void expect_err(const ts_buf *b, int code, const char *want)
{
	alert_outbox_entry out;
	memset(&out, 0xab, sizeof(out));
	ts_err err = {0};
	int rc = decode(b, &out, &err);
	if (rc != code || !strstr(err.msg, want))
		fail_msg("got %d '%s', wanted %d with '%s'", rc, err.msg, code, want);
}

static void test_alert_ha_record_decode_errors(void **state)
{
	(void)state;
	alert_outbox_entry in = sample(true);
	ts_buf b;
	encode(&in, &b);
	ts_buf c;
	ts_buf_init(&c, 1 << 20);
	/* shorter than the header */
	assert_int_equal(ts_buf_append(&c, b.data, 8), TS_OK);
	expect_err(&c, TS_ECORRUPT, "shorter than its header");
	/* bad magic */
	ts_buf_reset(&c);
	assert_int_equal(ts_buf_append(&c, b.data, b.len), TS_OK);
	c.data[0] = 'X';
	expect_err(&c, TS_ECORRUPT, "bad magic");
	/* newer version: EINVAL (not corrupt); version 0: corrupt */
	c.data[0] = 'S';
	c.data[4] = 2;
	expect_err(&c, TS_EINVAL, "version 2");
	c.data[4] = 0;
	expect_err(&c, TS_ECORRUPT, "version 0");
	c.data[4] = 1;
	/* a flipped body bit fails the CRC */
	c.data[c.len - 1] ^= 1;
	expect_err(&c, TS_ECORRUPT, "CRC mismatch");
	c.data[c.len - 1] ^= 1;
	/* every truncation fails, never reads out of bounds (ASan) */
	for (size_t n = 0; n < b.len; n++) {
		alert_outbox_entry out;
		assert_int_not_equal(alert_ha_record_decode(b.data, n, &out, NULL), TS_OK);
	}
	/* truncation with a matching CRC reaches the body parser: malformed */
	for (size_t n = ALERT_HA_RECORD_HDR_BYTES; n < b.len; n++) {
		ts_buf_reset(&c);
		assert_int_equal(ts_buf_append(&c, b.data, n), TS_OK);
		fix_crc(&c);
		expect_err(&c, TS_ECORRUPT, "malformed body");
	}
	/* trailing bytes */
	ts_buf_reset(&c);
	assert_int_equal(ts_buf_append(&c, b.data, b.len), TS_OK);
	assert_int_equal(ts_buf_putc(&c, 0), TS_OK);
	fix_crc(&c);
	expect_err(&c, TS_ECORRUPT, "malformed body");
	/* kind 7 */
	ts_buf_reset(&c);
	assert_int_equal(ts_buf_append(&c, b.data, b.len), TS_OK);
	c.data[ALERT_HA_RECORD_HDR_BYTES + 8] = 7;
	fix_crc(&c);
	expect_err(&c, TS_ECORRUPT, "malformed body");
	ts_buf_free(&c);
	ts_buf_free(&b);
	/* has_nlog other than 0/1, NUL inside the receiver */
	in = sample(false);
	in.receiver = "r";
	encode(&in, &b);
	size_t off_recv = ALERT_HA_RECORD_HDR_BYTES + 8 + 1 + 4 + 1; /* after its length byte */
	assert_int_equal(b.data[off_recv], 'r');
	b.data[off_recv] = '\0';
	fix_crc(&b);
	expect_err(&b, TS_ECORRUPT, "malformed body");
	b.data[off_recv] = 'r';
	size_t off_flag = off_recv + 1 + 1 + strlen(in.group_key);
	assert_int_equal(b.data[off_flag], 0);
	b.data[off_flag] = 2;
	fix_crc(&b);
	expect_err(&b, TS_ECORRUPT, "malformed body");
	ts_buf_free(&b);
	/* over the size limit */
	ts_buf big;
	ts_buf_init(&big, 1);
	expect_err(&big, TS_ECORRUPT, "shorter than its header");
	ts_buf_free(&big);
	alert_outbox_entry out;
	assert_int_equal(
	    alert_ha_record_decode("", (size_t)ALERT_HA_RECORD_MAX_BYTES + 1, &out, NULL),
	    TS_ECORRUPT);
}

static void test_alert_ha_record_encode_limit(void **state)
{
	(void)state;
	alert_outbox_entry in = sample(false);
	size_t n = ALERT_HA_RECORD_MAX_BYTES;
	char *big = calloc(1, n);
	assert_non_null(big);
	in.payload = big;
	in.payload_len = n;
	ts_buf b;
	ts_buf_init(&b, 1 << 26);
	assert_int_equal(ts_buf_puts(&b, "kept"), TS_OK);
	assert_int_equal(alert_ha_record_encode(&in, &b), TS_ELIMIT);
	assert_int_equal(b.len, 4); /* nothing appended */
	ts_buf_free(&b);
	free(big);
}

/* Delivered markers: round trip, pinned bytes, and every kind of damage refused. */
static void test_alert_ha_marker(void **state)
{
	(void)state;
	uint8_t b[ALERT_HA_MARKER_BYTES];
	int64_t next = -1;
	const int64_t cases[] = {0, 1, 4096, INT64_MAX};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		alert_ha_marker_encode(cases[i], b);
		assert_true(alert_ha_marker_decode(b, sizeof(b), &next));
		assert_int_equal(next, cases[i]);
	}
	alert_ha_marker_encode(0x0102030405060708LL, b);
	const uint8_t head[] = {'S', 'A', 'D', '1', 1, 8, 7, 6, 5, 4, 3, 2, 1};
	assert_memory_equal(b, head, sizeof(head));
	uint32_t crc = ts_crc32c(0, b + 5, 8);
	assert_int_equal(b[13] | b[14] << 8 | b[15] << 16 | (uint32_t)b[16] << 24, crc);
	/* every flipped bit and every other length is refused; next is left alone */
	for (size_t i = 0; i < sizeof(b) * 8; i++) {
		uint8_t d[ALERT_HA_MARKER_BYTES];
		memcpy(d, b, sizeof(d));
		d[i / 8] ^= (uint8_t)(1u << (i % 8));
		next = -7;
		assert_false(alert_ha_marker_decode(d, sizeof(d), &next));
		assert_int_equal(next, -7);
	}
	assert_false(alert_ha_marker_decode(b, sizeof(b) - 1, &next));
	/* a negative next does not come out of a well-formed CRC either */
	alert_ha_marker_encode(-1, b);
	assert_false(alert_ha_marker_decode(b, sizeof(b), &next));
	/* a notification record is never taken for a marker */
	alert_outbox_entry e;
	memset(&e, 0, sizeof(e));
	e.receiver = "r";
	e.group_key = "g";
	e.payload = "";
	ts_buf out;
	ts_buf_init(&out, 1 << 20);
	assert_int_equal(alert_ha_record_encode(&e, &out), TS_OK);
	assert_false(alert_ha_marker_decode(out.data, out.len, &next));
	ts_buf_free(&out);
}

static void test_alert_ha_record_alloc_failures(void **state)
{
	(void)state;
	alert_outbox_entry in = sample(true);
	ts_buf b;
	encode(&in, &b);
	bool ok = false;
	for (int64_t k = 0; k < 64 && !ok; k++) {
		alert_outbox_entry out;
		ts_err err = {0};
		ts_alloc_fail_after(k);
		int rc = decode(&b, &out, &err);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			ok = true;
			alert_outbox_entry_fini(&out);
		} else {
			assert_int_equal(rc, TS_ENOMEM);
			assert_non_null(strstr(err.msg, "out of memory"));
		}
	}
	assert_true(ok);
	ts_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_ha_record_roundtrip),
	    cmocka_unit_test(test_alert_ha_record_email_binary_empty),
	    cmocka_unit_test(test_alert_ha_record_encode_header),
	    cmocka_unit_test(test_alert_ha_record_decode_errors),
	    cmocka_unit_test(test_alert_ha_record_encode_limit),
	    cmocka_unit_test(test_alert_ha_record_alloc_failures),
	    cmocka_unit_test(test_alert_ha_marker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
