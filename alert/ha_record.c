/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ha_record.c: the notification records of the Kafka notification topic (role alert,
 * alert/ha.c): encode and decode (alert/notify_int.h "HA").
 *
 * Layout (docs/formats/kafka.md "Alert notifications"), little-endian:
 *
 *   magic   u32  "SAN1" (0x314E4153)
 *   version u8   1
 *   crc     u32  CRC-32C of the body
 *   body:
 *     created_ms  u64   wall clock when the active node queued the notification
 *     kind        u8    0 webhook, 1 email
 *     integ_index u32   which integration of that kind in the receiver
 *     receiver    str   uvarint length + bytes
 *     group_key   str
 *     has_nlog    u8    1: an nlog record follows
 *     nlog        (nlog.c's entry: key str, sent_ms u64, expires_ms u64,
 *                  uvarint n + n x u64 firing fingerprints, the same for resolved)
 *     payload     str   the rendered webhook JSON or email message
 *
 * The body is the outbox entry as outbox.c writes it minus the id (Kafka's offset
 * identifies a record). Decoding checks every read against the end (alert_rd), the CRC
 * and that nothing trails the body; a record of a newer version is TS_EINVAL so a node
 * that cannot read it says so instead of calling it corrupt. Tested by
 * tests/alert/test_ha_record.c and fuzz/fuzz_alert_record.c.
 */
#include "alert/notify_int.h"

#include <string.h>

int alert_ha_record_encode(const alert_outbox_entry *e, ts_buf *out)
{
	size_t start = out->len;
	int rc = ts_buf_put_u32le(out, ALERT_HA_RECORD_MAGIC);
	rc = rc ? rc : ts_buf_putc(out, (char)ALERT_HA_RECORD_VERSION);
	rc = rc ? rc : ts_buf_put_u32le(out, 0); /* the CRC, filled below */
	size_t body = out->len;
	rc = rc ? rc : ts_buf_put_u64le(out, (uint64_t)e->created_ms);
	rc = rc ? rc : ts_buf_putc(out, (char)e->kind);
	rc = rc ? rc : ts_buf_put_u32le(out, e->integ_index);
	rc = rc ? rc : alert_put_str(out, e->receiver ? e->receiver : "");
	rc = rc ? rc : alert_put_str(out, e->group_key ? e->group_key : "");
	rc = rc ? rc : ts_buf_putc(out, e->has_nlog ? 1 : 0);
	if (!rc && e->has_nlog)
		rc = alert_nlog_entry_encode(&e->nlog, out);
	rc = rc ? rc : alert_put_bytes(out, e->payload ? e->payload : "", e->payload_len);
	if (!rc && out->len - start > ALERT_HA_RECORD_MAX_BYTES)
		rc = TS_ELIMIT;
	if (rc) {
		out->len = start;
		return rc;
	}
	uint32_t crc = ts_crc32c(0, (const uint8_t *)out->data + body, out->len - body);
	uint8_t *c = (uint8_t *)out->data + start + 5;
	for (int i = 0; i < 4; i++)
		c[i] = (uint8_t)(crc >> (8 * i));
	return TS_OK;
}

void alert_ha_marker_encode(int64_t next, uint8_t out[ALERT_HA_MARKER_BYTES])
{
	uint64_t v = (uint64_t)next;
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(ALERT_HA_MARKER_MAGIC >> (8 * i));
	out[4] = 1;
	for (int i = 0; i < 8; i++)
		out[5 + i] = (uint8_t)(v >> (8 * i));
	uint32_t crc = ts_crc32c(0, out + 5, 8);
	for (int i = 0; i < 4; i++)
		out[13 + i] = (uint8_t)(crc >> (8 * i));
}

bool alert_ha_marker_decode(const void *p, size_t n, int64_t *next)
{
	const uint8_t *b = p;
	if (n != ALERT_HA_MARKER_BYTES || b[4] != 1)
		return false;
	uint32_t magic = 0, crc = 0;
	uint64_t v = 0;
	for (int i = 0; i < 4; i++) {
		magic |= (uint32_t)b[i] << (8 * i);
		crc |= (uint32_t)b[13 + i] << (8 * i);
	}
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[5 + i] << (8 * i);
	if (magic != ALERT_HA_MARKER_MAGIC || crc != ts_crc32c(0, b + 5, 8) || v > INT64_MAX)
		return false;
	*next = (int64_t)v;
	return true;
}

int alert_ha_record_decode(const void *p, size_t n, alert_outbox_entry *out, ts_err *err)
{
	const uint8_t *b = p;
	if (n < ALERT_HA_RECORD_HDR_BYTES)
		return ts_err_set(err, TS_ECORRUPT,
				  "notification record: %zu bytes, shorter than its header", n);
	if (n > ALERT_HA_RECORD_MAX_BYTES)
		return ts_err_set(err, TS_ECORRUPT, "notification record: %zu bytes, over %u", n,
				  ALERT_HA_RECORD_MAX_BYTES);
	alert_rd r = {b, b + n, TS_OK};
	uint32_t magic = alert_rd_u32(&r);
	uint8_t version = alert_rd_u8(&r);
	uint32_t crc = alert_rd_u32(&r);
	if (magic != ALERT_HA_RECORD_MAGIC)
		return ts_err_set(err, TS_ECORRUPT, "notification record: bad magic 0x%08x", magic);
	if (version != ALERT_HA_RECORD_VERSION)
		return ts_err_set(err, version > ALERT_HA_RECORD_VERSION ? TS_EINVAL : TS_ECORRUPT,
				  "notification record: version %u (this node reads %u)", version,
				  ALERT_HA_RECORD_VERSION);
	uint32_t got = ts_crc32c(0, r.p, (size_t)(r.end - r.p));
	if (got != crc)
		return ts_err_set(err, TS_ECORRUPT,
				  "notification record: CRC mismatch (0x%08x, computed 0x%08x)",
				  crc, got);
	alert_outbox_entry e;
	memset(&e, 0, sizeof(e));
	e.created_ms = (int64_t)alert_rd_u64(&r);
	uint8_t kind = alert_rd_u8(&r);
	if (!r.rc && kind > ALERT_NCFG_EMAIL)
		r.rc = TS_ECORRUPT;
	e.kind = kind == ALERT_NCFG_EMAIL ? ALERT_NCFG_EMAIL : ALERT_NCFG_WEBHOOK;
	e.integ_index = alert_rd_u32(&r);
	e.receiver = r.rc ? NULL : alert_rd_strdup(&r);
	e.group_key = r.rc ? NULL : alert_rd_strdup(&r);
	uint8_t has_nlog = alert_rd_u8(&r);
	if (!r.rc && has_nlog > 1)
		r.rc = TS_ECORRUPT;
	if (!r.rc && has_nlog) {
		r.rc = alert_nlog_entry_decode(&r, &e.nlog);
		e.has_nlog = r.rc == TS_OK;
	}
	size_t pl = 0;
	const char *payload = r.rc ? NULL : alert_rd_str(&r, &pl);
	if (!r.rc && r.p != r.end)
		r.rc = TS_ECORRUPT;
	if (!r.rc && !(e.payload = ts_malloc(pl + 1)))
		r.rc = TS_ENOMEM;
	if (r.rc) {
		alert_outbox_entry_fini(&e);
		return r.rc == TS_ENOMEM
			   ? ts_err_set(err, TS_ENOMEM, "out of memory decoding a notification")
			   : ts_err_set(err, TS_ECORRUPT,
					"notification record: malformed body (%zu bytes)", n);
	}
	memcpy(e.payload, payload, pl);
	e.payload[pl] = '\0';
	e.payload_len = pl;
	*out = e;
	return TS_OK;
}
