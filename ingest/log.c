/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: backend-independent entry points of the partitioned log (see log.h).
 *
 * Every public call validates its arguments once here (partition range, record header
 * and size, output pointers) and then dispatches through the backend's ops table, so
 * the embedded (log_local.c) and Kafka (log_kafka.c) backends share one contract and one
 * set of error messages. This file holds no state and takes no locks.
 */
#include "ingest/log.h"

#include "ingest/record.h"

static int bad_partition(const ingest_log *l, int partition, ts_err *err)
{
	return ts_err_set(err, TS_EINVAL, "log: partition %d out of range [0, %d)", partition,
			  l->n_partitions);
}

void ingest_log_close(ingest_log *l)
{
	if (!l)
		return;
	l->ops->close(l);
}

int ingest_log_n_partitions(const ingest_log *l)
{
	return l->n_partitions;
}

const char *ingest_log_backend(const ingest_log *l)
{
	return l->ops->name;
}

int ingest_log_append(ingest_log *l, int partition, const void *rec, size_t len, uint64_t *offset,
		      ts_err *err)
{
	if (partition < 0 || partition >= l->n_partitions)
		return bad_partition(l, partition, err);
	if (!rec || len == 0)
		return ts_err_set(err, TS_EINVAL, "log: empty record");
	if (len > INGEST_RECORD_MAX_BYTES)
		return ts_err_set(err, TS_ELIMIT,
				  "log: record of %zu bytes exceeds the %u-byte limit", len,
				  INGEST_RECORD_MAX_BYTES);
	ingest_record_info info;
	ts_err why = {0};
	if (ingest_record_header_parse(rec, len, &info, &why) != TS_OK)
		return ts_err_set(err, TS_EINVAL, "log: refusing to append an invalid record: %s",
				  why.msg);
	return l->ops->append(l, partition, rec, len, offset, err);
}

int ingest_log_reader_open(ingest_log *l, int partition, uint64_t from_offset,
			   ingest_log_reader **out, ts_err *err)
{
	if (partition < 0 || partition >= l->n_partitions)
		return bad_partition(l, partition, err);
	if (!out)
		return ts_err_set(err, TS_EINVAL, "log: reader_open without an output pointer");
	return l->ops->reader_open(l, partition, from_offset, out, err);
}

int ingest_log_reader_next(ingest_log_reader *r, const void **rec, size_t *len, uint64_t *offset,
			   int timeout_ms, ts_err *err)
{
	if (!rec || !len)
		return ts_err_set(err, TS_EINVAL, "log: reader_next without output pointers");
	uint64_t off;
	int rc = r->ops->reader_next(r, rec, len, &off, timeout_ms, err);
	if (rc == TS_OK && offset)
		*offset = off;
	return rc;
}

void ingest_log_reader_close(ingest_log_reader *r)
{
	if (!r)
		return;
	r->ops->reader_close(r);
}

int ingest_log_checkpoint(ingest_log *l, int partition, uint64_t offset, ts_err *err)
{
	if (partition < 0 || partition >= l->n_partitions)
		return bad_partition(l, partition, err);
	return l->ops->checkpoint(l, partition, offset, err);
}

int ingest_log_stats(ingest_log *l, int partition, ingest_log_partition_stats *out, ts_err *err)
{
	if (partition < 0 || partition >= l->n_partitions)
		return bad_partition(l, partition, err);
	if (!out)
		return ts_err_set(err, TS_EINVAL, "log: stats without an output pointer");
	return l->ops->stats(l, partition, out, err);
}
