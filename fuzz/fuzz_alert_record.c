/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_alert_record.c: libFuzzer target for the notification record decoder of the Kafka
 * notification topic (alert/ha_record.c, cluster.role alert).
 *
 * The first input byte selects the mode:
 *   bit 0 clear - the rest is a whole record, decoded as is (magic, version, CRC and all).
 *   bit 0 set   - the rest is a body; the target wraps it in a valid header with a correct
 *                 CRC, so the fuzzer reaches the body parser instead of dying at the CRC.
 * A record that decodes must re-encode to a record that decodes to the same fields; a
 * record that does not decode must come with a message. The input is also read as a
 * delivered marker: one that decodes must re-encode to the same bytes, and no input is
 * both a marker and a record. Any violation calls abort().
 * Inputs are capped at 1 MiB.
 */
#include "alert/notify_int.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_INPUT (1u << 20)

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void same(const alert_outbox_entry *a, const alert_outbox_entry *b)
{
	check(a->created_ms == b->created_ms && a->kind == b->kind &&
	      a->integ_index == b->integ_index && !strcmp(a->receiver, b->receiver) &&
	      !strcmp(a->group_key, b->group_key) && a->has_nlog == b->has_nlog &&
	      a->payload_len == b->payload_len && !memcmp(a->payload, b->payload, a->payload_len));
	if (a->has_nlog)
		check(!strcmp(a->nlog.key, b->nlog.key) && a->nlog.sent_ms == b->nlog.sent_ms &&
		      a->nlog.expires_ms == b->nlog.expires_ms &&
		      a->nlog.n_firing == b->nlog.n_firing &&
		      a->nlog.n_resolved == b->nlog.n_resolved &&
		      (!a->nlog.n_firing ||
		       !memcmp(a->nlog.firing, b->nlog.firing, a->nlog.n_firing * 8)) &&
		      (!a->nlog.n_resolved ||
		       !memcmp(a->nlog.resolved, b->nlog.resolved, a->nlog.n_resolved * 8)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	bool wrap = data[0] & 1;
	data++;
	size--;
	ts_buf in;
	ts_buf_init(&in, FUZZ_MAX_INPUT + 64);
	if (wrap) {
		uint32_t crc = ts_crc32c(0, data, size);
		if (ts_buf_put_u32le(&in, ALERT_HA_RECORD_MAGIC) ||
		    ts_buf_putc(&in, (char)ALERT_HA_RECORD_VERSION) || ts_buf_put_u32le(&in, crc) ||
		    (size && ts_buf_append(&in, data, size))) {
			ts_buf_free(&in);
			return 0;
		}
	} else if (size && ts_buf_append(&in, data, size)) {
		ts_buf_free(&in);
		return 0;
	}
	int64_t next = 0;
	bool is_marker = alert_ha_marker_decode(in.data ? in.data : "", in.len, &next);
	if (is_marker) {
		uint8_t again[ALERT_HA_MARKER_BYTES];
		alert_ha_marker_encode(next, again);
		check(next >= 0 && !memcmp(again, in.data, sizeof(again)));
	}
	alert_outbox_entry e;
	ts_err err = {0};
	if (alert_ha_record_decode(in.data ? in.data : "", in.len, &e, &err) == TS_OK) {
		check(!is_marker);
		ts_buf out;
		ts_buf_init(&out, ALERT_HA_RECORD_MAX_BYTES + 64);
		check(alert_ha_record_encode(&e, &out) == TS_OK);
		alert_outbox_entry e2;
		check(alert_ha_record_decode(out.data, out.len, &e2, &err) == TS_OK);
		same(&e, &e2);
		alert_outbox_entry_fini(&e2);
		ts_buf_free(&out);
		alert_outbox_entry_fini(&e);
	} else {
		check(err.msg[0] != '\0');
	}
	ts_buf_free(&in);
	return 0;
}
