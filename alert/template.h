/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template.h: alert label and annotation templates (internal to alert/ and its tests).
 *
 * The language is the part of Go's text/template that Prometheus rule files use, with
 * Prometheus' data and functions (template/template.go of 2.42): see template.c for the
 * grammar and template_funcs.c for the functions. A template is parsed once when its
 * rule file is loaded (so errors name the position) and expanded for every alert at
 * every evaluation.
 *
 * Data: `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`, and the variables
 * `$labels`, `$externalLabels`, `$externalURL`, `$value` that Prometheus prepends as
 * `{{$labels := .Labels}}...`. A missing map key is "" (Prometheus runs Go's templates
 * with missingkey=zero). Execution errors never abort anything: the expansion becomes
 * "<error expanding template: ...>" exactly as in Prometheus, and the caller logs it.
 *
 * Thread-safety: a parsed template is immutable; any number of threads may expand it
 * at once.
 */
#ifndef ALERT_TEMPLATE_H
#define ALERT_TEMPLATE_H

#include "common/common.h"
#include "query/query.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct alert_template alert_template;

/* Largest expansion in bytes (more is an execution error). */
#define ALERT_TEMPLATE_MAX_OUTPUT (64 * 1024)
/* Largest template text in bytes (more is TS_ELIMIT at parse). */
#define ALERT_TEMPLATE_MAX_TEXT (256 * 1024)

/*
 * Runs the template function `query`: evaluate expr at t_ms. *out returned owned (freed
 * by the template engine with query_result_free).
 */
typedef int (*alert_template_query_fn)(void *ctx, const char *expr, int64_t t_ms,
				       query_result **out, ts_err *err);

/* What a template sees. Every pointer is borrowed for the call. */
typedef struct alert_template_data {
	const ts_label *labels; /* $labels / .Labels (any order) */
	size_t n_labels;
	const ts_label *external_labels; /* $externalLabels / .ExternalLabels */
	size_t n_external_labels;
	const char *external_url;      /* $externalURL / .ExternalURL; NULL = "" */
	double value;                  /* $value / .Value */
	int64_t t_ms;                  /* evaluation time (the `query` function evaluates here) */
	alert_template_query_fn query; /* NULL: `query` fails at execution */
	void *query_ctx;
} alert_template_data;

/*
 * Parse text[0..len). `name` ("__alert_HighLoad") appears in messages, which read like
 * Go's with a column added: "template: __alert_HighLoad:1:14: function \"humanizee\" not
 * defined" (line and column within text). *out returned owned (alert_template_free).
 * TS_EPARSE, TS_ELIMIT (text too long or nested too deep), TS_ENOMEM.
 */
int alert_template_parse(const char *name, const char *text, size_t len, alert_template **out,
			 ts_err *err);
void alert_template_free(alert_template *t);

/* True when text has no action ("{{"), so expanding it would return it unchanged. */
bool alert_template_is_static(const char *text, size_t len);

/*
 * Expand t with d, appending to out. An execution error is returned as TS_EINVAL with
 * Go's message ("template: __alert_X:1:5: executing \"__alert_X\" at <humanize>: error
 * calling humanize: ..."), and out is then left as it was; TS_ENOMEM/TS_ELIMIT when
 * out cannot grow. Thread-safe.
 */
int alert_template_expand(const alert_template *t, const alert_template_data *d, ts_buf *out,
			  ts_err *err);

/*
 * Expand like Prometheus' rule evaluation does: on an execution error the result is
 * "<error expanding template: MESSAGE>" and the error is also returned (for logging).
 */
int alert_template_expand_or_error(const alert_template *t, const alert_template_data *d,
				   ts_buf *out, ts_err *err);

/* ---------------------------------------------------------------- Go formatting helpers */

/* Room for the text of alert_format_float and alert_format_float_e, NUL included. */
#define ALERT_FLOAT_TEXT_MAX 40
/* Go's fmt.Sprint(float64): the shortest digits that read back, in %e form when the
 * decimal exponent is < -4 or >= 6 ("1e+06", "123456", "0.1", "+Inf", "NaN"). Returns
 * the length. */
size_t alert_format_float(char out[ALERT_FLOAT_TEXT_MAX], double v);
/* Go's strconv.FormatFloat(v, 'e', -1, 64): "1e+00", "4.2e+01", "NaN", "+Inf". */
size_t alert_format_float_e(char out[ALERT_FLOAT_TEXT_MAX], double v);

#endif /* ALERT_TEMPLATE_H */
