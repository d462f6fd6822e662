/* SPDX-License-Identifier: Apache-2.0 */
/*
 * globals.c: the only mutable globals of the project (STYLE.md section 6).
 *
 * Tested by every test that reads counters through ts_alloc_bytes/ts_log (test_alloc.c,
 * test_log.c).
 *
 * 1. logger settings, 2. atomic process statistics, 3. the active config snapshot.
 * Everything else hangs off an explicit handle.
 */
#include "common/globals.h"

/* GLOBAL: logger settings. Written once by cmd/ at startup before any thread starts;
 * read by every thread afterwards. The level is atomic so tests may change it. */
_Atomic int ts_g_log_level = 2; /* TS_LOG_INFO */
FILE *ts_g_log_file;            /* NULL means stderr */

/* GLOBAL: process statistics. Atomic counters, written by any thread. */
ts_process_stats ts_g_stats = {.alloc_fail_after = -1};

/* GLOBAL: active config snapshot. Swapped atomically by cmd/ on reload; readers load it
 * with atomic_load and must not keep it past the request they serve. */
_Atomic(const void *) ts_g_config;
