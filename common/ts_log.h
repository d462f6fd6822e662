/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_log.h: leveled, structured (logfmt) logging.
 *
 * Lines look like Prometheus' own logs:
 *   ts=2026-11-21T04:17:03.123Z level=info caller=tsdb/head.c:120 msg="..."
 * The level is tested before the arguments are evaluated. Output goes to stderr unless
 * ts_log_set_file() says otherwise. Settings are written once at startup (globals.c).
 */
#ifndef COMMON_TS_LOG_H
#define COMMON_TS_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum ts_log_level {
	TS_LOG_ERROR = 0,
	TS_LOG_WARN = 1,
	TS_LOG_INFO = 2,
	TS_LOG_DEBUG = 3,
} ts_log_level;

/* Set the most verbose level that is written. Call at startup, before threads start. */
void ts_log_set_level(ts_log_level level);

/* Parse "error"|"warn"|"info"|"debug"; returns -1 for anything else. */
int ts_log_level_parse(const char *s);

/* Redirect output (borrowed; NULL means stderr). Call at startup only. */
void ts_log_set_file(FILE *f);

/* True if `level` is written. Thread-safe. */
bool ts_log_enabled(ts_log_level level);

/* Write one line. Use the macros below instead. Thread-safe (one write(2) per line). */
void ts_log_write(ts_log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define TS_LOG_AT(lvl, ...)                                                 \
	do {                                                                \
		if (ts_log_enabled(lvl))                                    \
			ts_log_write(lvl, __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define ts_log_error(...) TS_LOG_AT(TS_LOG_ERROR, __VA_ARGS__)
#define ts_log_warn(...)  TS_LOG_AT(TS_LOG_WARN, __VA_ARGS__)
#define ts_log_info(...)  TS_LOG_AT(TS_LOG_INFO, __VA_ARGS__)
#define ts_log_debug(...) TS_LOG_AT(TS_LOG_DEBUG, __VA_ARGS__)

#endif /* COMMON_TS_LOG_H */
