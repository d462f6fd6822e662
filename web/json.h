/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.h: a streaming JSON writer that appends to a ts_buf, plus the number formats of the
 * Prometheus HTTP API (internal to web/ and its tests).
 *
 * Two layers:
 *   - Buffer-level appenders (web_json_escape, web_json_sample_value, web_json_timestamp,
 *     web_json_format_float): no separators, no state, usable in hot loops.
 *   - web_json, a writer that tracks nesting and inserts ',' and ':' itself. Its error is
 *     sticky: after the first failure every call is a no-op returning that error, so a
 *     handler may ignore intermediate results and check web_json_finish() once.
 *
 * Strings are escaped the way Go's encoding/json (and so Prometheus) does: '"' and '\\',
 * \n \r \t as short escapes, every other byte below 0x20 as \u00XX, '<' '>' '&' and
 * U+2028/U+2029 as \uXXXX, and every byte that is not part of valid UTF-8 as \ufffd.
 *
 * Numbers: sample values are JSON strings; see web_json_float_style. The default (FIXED)
 * never uses an exponent, as Go's FormatFloat(v, 'f', -1, 64); Prometheus' own server
 * (2.x, web/api/v1 marshalValue) switches to 'e' form below 1e-6 and from 1e21, which
 * WEB_JSON_FLOAT_PROM reproduces byte for byte. Both parse to the same doubles.
 * Timestamps are JSON numbers in seconds printed from integer milliseconds exactly as
 * Prometheus' MarshalTimestamp does ("1435781451.781", "1435781451.780", "-0.500",
 * "1435781451" when ms is a whole second), never through a double.
 *
 * Deliberately absent: a JSON reader, pretty printing, validation of key uniqueness.
 */
#ifndef WEB_JSON_H
#define WEB_JSON_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes a formatted float may need, including the NUL ("-0." + 323 zeros + "5" is 327). */
#define WEB_JSON_FLOAT_MAX 352

/* Deepest nesting of objects/arrays a web_json writer accepts (deeper is TS_ELIMIT). */
#define WEB_JSON_MAX_DEPTH 64

/* How a double is rendered as text (all styles produce the shortest digits that round-trip). */
typedef enum web_json_float_style {
	/*
	 * Go strconv.FormatFloat(v, 'f', -1, 64): never an exponent ("0.0000001",
	 * "1000000000000000000000", "-0"); "NaN", "+Inf", "-Inf". The sample value format
	 * of client_golang's model.SampleValue and of this project's API.
	 */
	WEB_JSON_FLOAT_FIXED = 0,
	/*
	 * Prometheus server 2.x marshalValue (web/api/v1): like FIXED, but 'e' format when
	 * 0 < |v| < 1e-6 or |v| >= 1e21 ("1e-07", "1e+21", "5e-324").
	 */
	WEB_JSON_FLOAT_PROM = 1,
	/*
	 * Go encoding/json for float64: like PROM, but a negative exponent loses its leading
	 * zero ("1e-7", "1e+21"). Non-finite values are the caller's problem (JSON has none).
	 */
	WEB_JSON_FLOAT_GOJSON = 2,
} web_json_float_style;

/*
 * Format v into out (at least WEB_JSON_FLOAT_MAX bytes), NUL-terminated, in the given
 * style; returns the length. Cannot fail. Thread-safe. NaN is "NaN" whatever its payload.
 */
size_t web_json_format_float(char *out, double v, web_json_float_style style);

/*
 * Append s[0..n) as a quoted, escaped JSON string. TS_OK, TS_ENOMEM or TS_ELIMIT; on
 * failure b is left as it was. s may be NULL when n is 0.
 */
int web_json_escape(ts_buf *b, const char *s, size_t n);

/*
 * Append a sample value as a JSON string in WEB_JSON_FLOAT_FIXED style, quotes included:
 * 0.1 -> "0.1", 1e-7 -> "0.0000001", NaN -> "NaN". TS_OK, TS_ENOMEM, TS_ELIMIT (b unchanged).
 */
int web_json_sample_value(ts_buf *b, double v);

/* As web_json_sample_value, but byte-compatible with Prometheus 2.x (WEB_JSON_FLOAT_PROM). */
int web_json_sample_value_prom(ts_buf *b, double v);

/*
 * Append a timestamp given in ms as a JSON number of seconds: 1435781451781 ->
 * 1435781451.781, 1435781451000 -> 1435781451, -1500 -> -1.500 (Prometheus keeps the three
 * fraction digits). Exact for every int64 including INT64_MIN. TS_OK, TS_ENOMEM, TS_ELIMIT.
 */
int web_json_timestamp(ts_buf *b, int64_t ms);

/* Append the decimal digits of v. TS_OK, TS_ENOMEM, TS_ELIMIT (b unchanged). */
int web_json_int64(ts_buf *b, int64_t v);

/*
 * The writer. Initialize with web_json_init; the struct may live on the stack. Not
 * thread-safe (one writer per buffer). out is borrowed and must outlive the writer.
 */
typedef struct web_json {
	ts_buf *out;       /* borrowed: where the text goes */
	int rc;            /* first error (sticky), TS_OK while all is well */
	uint32_t depth;    /* open objects/arrays */
	uint64_t nonempty; /* bit d: the container at depth d+1 already holds an element */
	uint64_t is_obj;   /* bit d: the container at depth d+1 is an object */
	bool after_key;    /* a key was written; the next call writes its value */
	web_json_float_style sample_style; /* web_json_sample/point values; init: FIXED */
} web_json;

/* Start writing into out (appends after whatever out already holds). Cannot fail. */
void web_json_init(web_json *w, ts_buf *out);

/*
 * The writer's result: its first error, or TS_EINVAL if containers are still open or a
 * key lacks its value (both are caller bugs and also assert in debug builds).
 */
int web_json_finish(const web_json *w);

/*
 * Containers and values. Each returns TS_OK or the writer's (sticky) error: TS_ENOMEM,
 * TS_ELIMIT (buffer max or WEB_JSON_MAX_DEPTH). Misuse (a value where a key is due, end
 * of the wrong container) asserts in debug builds and returns TS_EINVAL in release.
 */
int web_json_object_begin(web_json *w);
int web_json_object_end(web_json *w);
int web_json_array_begin(web_json *w);
int web_json_array_end(web_json *w);
/* An object key (escaped like a string); the next call must write its value. */
int web_json_key(web_json *w, const char *key);
int web_json_key_n(web_json *w, const char *key, size_t n);
/* A string value; web_json_string(w, NULL) writes null. */
int web_json_string(web_json *w, const char *s);
int web_json_string_n(web_json *w, const char *s, size_t n);
int web_json_int(web_json *w, int64_t v);
int web_json_uint(web_json *w, uint64_t v);
int web_json_bool(web_json *w, bool v);
int web_json_null(web_json *w);
/* A JSON number as Go encoding/json writes float64 (WEB_JSON_FLOAT_GOJSON); NaN/Inf -> null. */
int web_json_double(web_json *w, double v);
/*
 * A sample value string in w->sample_style (web_json_sample_value by default; set
 * sample_style to WEB_JSON_FLOAT_PROM for Prometheus 2.x bytes) and a timestamp number
 * (web_json_timestamp).
 */
int web_json_sample(web_json *w, double v);
int web_json_time(web_json *w, int64_t ms);
/* The Prometheus point [<seconds>,"<value>"], e.g. [1435781451.781,"1"]. */
int web_json_point(web_json *w, int64_t t_ms, double v);
/* Pre-encoded JSON text (borrowed, copied) written as one value; not validated. */
int web_json_raw(web_json *w, const char *text, size_t n);

#endif /* WEB_JSON_H */
