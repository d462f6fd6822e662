/* SPDX-License-Identifier: Apache-2.0 */
/*
 * globals.h: declarations of the three process-wide globals (see globals.c). Internal to
 * common/; other modules reach them through the functions in common.h.
 */
#ifndef COMMON_GLOBALS_H
#define COMMON_GLOBALS_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* Process statistics, all atomic, exported on /metrics. */
typedef struct ts_process_stats {
	_Atomic uint64_t alloc_bytes;     /* bytes currently allocated through ts_malloc */
	_Atomic uint64_t alloc_failures;  /* allocations that returned NULL */
	_Atomic int64_t alloc_fail_after; /* test hook: allocations left before failing; -1 off */
	_Atomic uint64_t log_lines[4];    /* log lines written per level */
} ts_process_stats;

extern _Atomic int ts_g_log_level;
extern FILE *ts_g_log_file;
extern ts_process_stats ts_g_stats;
extern _Atomic(const void *) ts_g_config;

#endif /* COMMON_GLOBALS_H */
