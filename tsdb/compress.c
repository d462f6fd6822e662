/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compress.c: the tsdb/ wrapper around snappy (STYLE 1: one wrapper per library and
 * module), used for block index sections (sfile.h).
 *
 * Turns snappy's status codes into TS_E* codes and never lets a corrupt input size an
 * allocation: the caller states the raw length (from the CRC-checked toc) and the
 * compressed bytes must inflate to exactly that.
 */
#include "tsdb/sfile.h"

#include <snappy-c.h>

int tsdb_snappy_compress(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len, ts_err *err)
{
	size_t cap = snappy_max_compressed_length(n);
	uint8_t *buf = ts_malloc(cap ? cap : 1);
	if (!buf)
		return ts_err_set(err, TS_ENOMEM, "snappy: out of memory for %zu bytes", cap);
	size_t len = cap;
	if (snappy_compress((const char *)in, n, (char *)buf, &len) != SNAPPY_OK) {
		ts_free(buf);
		return ts_err_set(err, TS_EIO, "snappy: compressing %zu bytes failed", n);
	}
	*out = buf;
	*out_len = len;
	return TS_OK;
}

int tsdb_snappy_uncompress(const uint8_t *in, size_t n, size_t raw_len, uint8_t **out, ts_err *err)
{
	size_t len = 0;
	if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK || len != raw_len)
		return ts_err_set(err, TS_ECORRUPT, "snappy: section does not inflate to %zu bytes",
				  raw_len);
	uint8_t *buf = ts_malloc(raw_len ? raw_len : 1);
	if (!buf)
		return ts_err_set(err, TS_ENOMEM, "snappy: out of memory for %zu bytes", raw_len);
	if (snappy_uncompress((const char *)in, n, (char *)buf, &len) != SNAPPY_OK ||
	    len != raw_len) {
		ts_free(buf);
		return ts_err_set(err, TS_ECORRUPT, "snappy: corrupt section");
	}
	*out = buf;
	return TS_OK;
}
