/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_time.h: clocks, Prometheus duration strings, and API timestamps.
 *
 * All timestamps are int64_t milliseconds since the Unix epoch (UTC).
 */
#ifndef COMMON_TS_TIME_H
#define COMMON_TS_TIME_H

#include "common/ts_err.h"

#include <stddef.h>
#include <stdint.h>

/* Wall-clock now in ms. Thread-safe. */
int64_t ts_now_ms(void);
/* Monotonic clock in ns, for measuring durations. Thread-safe. */
int64_t ts_mono_ns(void);

/*
 * Parse a Prometheus duration: one or more <int><unit> in descending unit order, units
 * y (365d), w, d, h, m, s, ms, e.g. "1h30m", "5m", "250ms". "0" is allowed.
 * TS_EPARSE with a message on anything else (and on overflow).
 */
int ts_parse_duration_ms(const char *s, size_t n, int64_t *out_ms, ts_err *err);

/*
 * Format ms as Prometheus does ("1h30m", "90d", "0s"; y and w only when exact; "-" for
 * negative). Writes at most cap bytes, NUL-terminated (truncated if cap is too small).
 */
void ts_format_duration(int64_t ms, char *out, size_t cap);

/*
 * Parse an API time: Unix seconds with optional fraction ("1700000000.5") or RFC 3339
 * ("2023-11-14T22:13:20.5Z", "...+02:00"; the date must exist). Result in ms (fractions
 * below 1 ms are rounded to the nearest ms). TS_EPARSE otherwise.
 */
int ts_parse_time_ms(const char *s, size_t n, int64_t *out_ms, ts_err *err);

/*
 * Parse a step/timeout: a Prometheus duration or (float) seconds ("15", "0.5").
 * TS_EPARSE otherwise.
 */
int ts_parse_duration_or_seconds_ms(const char *s, size_t n, int64_t *out_ms, ts_err *err);

/* Format ms as RFC 3339 in UTC with milliseconds ("2023-11-14T22:13:20.500Z"), for any
 * int64_t including negative (pre-1970) times. */
void ts_format_rfc3339(int64_t ms, char *out, size_t cap);

/* Days since 1970-01-01 for a proleptic Gregorian date; and the inverse. */
int64_t ts_days_from_civil(int64_t y, unsigned m, unsigned d);
void ts_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif /* COMMON_TS_TIME_H */
