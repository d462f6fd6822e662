/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_db.c: tests for tsdb/db.c: options validation, data directory creation,
 * partition offsets, statistics.
 */
#include "tsdb/tsdb.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_tsdb_open_rejects_bad_options(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	ts_err err = {0};
	o.n_partitions = 0;
	assert_int_equal(tsdb_open(&o, &db, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "n_partitions"));
	o.n_partitions = TSDB_MAX_PARTITIONS + 1;
	assert_int_equal(tsdb_open(&o, &db, &err), TS_EINVAL);
	tsdb_options_init(&o);
	o.out_of_order_window_ms = -1;
	assert_int_equal(tsdb_open(&o, &db, &err), TS_EINVAL);
}

static void test_tsdb_open_creates_dir(void **state)
{
	(void)state;
	mkdir(STRATA_TEST_TMP, 0755);
	const char *dir = STRATA_TEST_TMP "/tsdb_db_dir";
	rmdir(dir);
	tsdb_options o;
	tsdb_options_init(&o);
	o.dir = dir;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	tsdb_close(db);
	ts_err err = {0};
	o.dir = "/proc/definitely/not/here";
	assert_int_equal(tsdb_open(&o, &db, &err), TS_EIO);
	assert_non_null(strstr(err.msg, "/proc/definitely/not/here"));
}

static void test_tsdb_partition_offsets(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	o.n_partitions = 4;
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	assert_int_equal(tsdb_partition_resume_offset(db, 3), 0);
	tsdb_partition_applied(db, 3, 41);
	tsdb_partition_applied(db, 3, 7); /* never goes backwards */
	/* Head data is not persisted: a restart must still replay from the start. */
	assert_int_equal(tsdb_partition_resume_offset(db, 3), 0);
	tsdb_close(db);
}

static void test_tsdb_stats_get_empty_and_range(void **state)
{
	(void)state;
	tsdb_options o;
	tsdb_options_init(&o);
	tsdb_db *db;
	assert_int_equal(tsdb_open(&o, &db, NULL), TS_OK);
	tsdb_stats st;
	tsdb_stats_get(db, &st);
	assert_int_equal(st.n_series, 0);
	assert_true(st.min_t_ms > st.max_t_ms);
	ts_label l[] = {{"__name__", "x"}};
	tsdb_append(db, l, 1, 5000, 1, NULL);
	tsdb_append(db, l, 1, 9000, 1, NULL);
	tsdb_stats_get(db, &st);
	assert_int_equal(st.min_t_ms, 5000);
	assert_int_equal(st.max_t_ms, 9000);
	assert_int_equal(st.samples_appended, 2);
	assert_true(st.head_bytes > 0);
	tsdb_close(db);
	tsdb_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tsdb_open_rejects_bad_options),
	    cmocka_unit_test(test_tsdb_open_creates_dir),
	    cmocka_unit_test(test_tsdb_partition_offsets),
	    cmocka_unit_test(test_tsdb_stats_get_empty_and_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
