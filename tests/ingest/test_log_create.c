/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log_create.c: tests for ingest/log_create.c: a log created at given offsets opens
 * with first = next = that offset per partition, appends and reads continue from there,
 * and the error cases (bad partition count, existing partition directory).
 */
#include "ingest/ingest.h"

#include "ingest/log.h"
#include "ingest/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *fresh_dir(const char *name)
{
	static char path[1024];
	char cmd[1200];
	mkdir(STRATA_TEST_TMP, 0755);
	snprintf(path, sizeof(path), STRATA_TEST_TMP "/log_create_%s", name);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	return path;
}

static ingest_log *open_log(const char *dir, int parts)
{
	ingest_log_local_options o = INGEST_LOG_LOCAL_OPTIONS_DEFAULT;
	o.dir = dir;
	o.n_partitions = parts;
	ingest_log *l = NULL;
	ts_err err = {0};
	if (ingest_log_local_open(&o, &l, &err))
		fail_msg("open %s: %s", dir, err.msg);
	return l;
}

static void test_ingest_log_local_create_at_offsets(void **state)
{
	const char *dir = fresh_dir("offsets");
	uint64_t next[3] = {0, 5, 123456789};
	assert_int_equal(ingest_log_local_create_at(dir, 3, next, NULL), TS_OK);
	ingest_log *l = open_log(dir, 3);
	for (int p = 0; p < 3; p++) {
		ingest_log_partition_stats st;
		assert_int_equal(ingest_log_stats(l, p, &st, NULL), TS_OK);
		assert_int_equal(st.first_offset, next[p]);
		assert_int_equal(st.next_offset, next[p]);
		assert_int_equal(st.n_segments, 1);
	}
	/* appends continue at the offset, and a reader from there sees them */
	ingest_record_builder *b;
	ts_buf rec;
	ts_label lb[] = {{"__name__", "m"}, {"id", "1"}};
	assert_int_equal(ingest_record_builder_new(INGEST_RECORD_COMPRESS_NONE, 0, &b, NULL),
			 TS_OK);
	assert_int_equal(ingest_record_builder_add(b, lb, 2, 1000, 1.0, NULL), TS_OK);
	ts_buf_init(&rec, INGEST_RECORD_MAX_BYTES);
	assert_int_equal(ingest_record_builder_finish(b, &rec, NULL), TS_OK);
	ingest_record_builder_free(b);
	uint64_t off = 0;
	assert_int_equal(ingest_log_append(l, 2, rec.data, rec.len, &off, NULL), TS_OK);
	assert_int_equal(off, next[2]);
	ingest_log_reader *r;
	assert_int_equal(ingest_log_reader_open(l, 2, next[2], &r, NULL), TS_OK);
	const void *got;
	size_t len;
	uint64_t roff;
	assert_int_equal(ingest_log_reader_next(r, &got, &len, &roff, 1000, NULL), TS_OK);
	assert_int_equal(roff, next[2]);
	assert_int_equal(len, rec.len);
	assert_memory_equal(got, rec.data, len);
	ingest_log_reader_close(r);
	ts_buf_free(&rec);
	ingest_log_close(l);
	/* after a reopen the offsets are still there */
	l = open_log(dir, 3);
	ingest_log_partition_stats st;
	assert_int_equal(ingest_log_stats(l, 2, &st, NULL), TS_OK);
	assert_int_equal(st.next_offset, next[2] + 1);
	assert_int_equal(ingest_log_stats(l, 1, &st, NULL), TS_OK);
	assert_int_equal(st.next_offset, next[1]);
	ingest_log_close(l);
}

static void test_ingest_log_local_create_at_errors(void **state)
{
	const char *dir = fresh_dir("errors");
	uint64_t next[2] = {1, 2};
	ts_err e;
	assert_int_equal(ingest_log_local_create_at(dir, 0, next, &e), TS_EINVAL);
	assert_int_equal(ingest_log_local_create_at(dir, 2, next, NULL), TS_OK);
	assert_int_equal(ingest_log_local_create_at(dir, 2, next, &e), TS_EEXIST);
	assert_non_null(strstr(e.msg, "p0000"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ingest_log_local_create_at_offsets),
	    cmocka_unit_test(test_ingest_log_local_create_at_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
