/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template_funcs.c: the functions alert templates can call.
 *
 * Tested by tests/alert/test_template.c (every function).
 *
 * Go's builtins (and, or, not, len, index, slice, print, printf, println, html, js,
 * urlquery, eq, ne, lt, le, gt, ge) and Prometheus 2.42's (humanize, humanize1024,
 * humanizeDuration, humanizePercentage, humanizeTimestamp, title, toUpper, toLower,
 * match, query, first, label, value, strvalue, sortByLabel, safeHtml, graphLink,
 * tableLink, externalURL, pathPrefix, parseDuration, toTime, stripPort, stripDomain),
 * with Prometheus' number formats (%.4g and SI/binary prefixes) and error messages.
 * Accepted by the parser but unsupported at execution (an "error calling" message):
 * call, args, reReplaceAll (alert/ has no regex engine with captures). title, toUpper and
 * toLower change ASCII letters only; match uses PCRE2 through common's matchers, which
 * accepts the RE2 syntax rule files use.
 */
#include "alert/template_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ functions */

#define OUT_MAX ALERT_TEMPLATE_MAX_OUTPUT

static int to_float(alert_tpl_exec *x, const alert_tpl_value *v, double *out)
{
	*out = 0;
	switch (v->kind) {
	case ALERT_TPL_FLOAT: *out = v->f; return TS_OK;
	case ALERT_TPL_INT: *out = (double)v->i; return TS_OK;
	case ALERT_TPL_STRING: {
		char buf[128];
		if (v->s.n == 0 || v->s.n >= sizeof(buf))
			return alert_tpl_fn_error(
			    x, "strconv.ParseFloat: parsing \"%.*s\": invalid syntax",
			    (int)(v->s.n > 64 ? 64 : v->s.n), v->s.p);
		memcpy(buf, v->s.p, v->s.n);
		buf[v->s.n] = '\0';
		char *end;
		errno = 0;
		double f = strtod(buf, &end);
		if (end == buf || *end || isspace((unsigned char)buf[0]))
			return alert_tpl_fn_error(
			    x, "strconv.ParseFloat: parsing \"%s\": invalid syntax", buf);
		if (errno == ERANGE && isinf(f))
			return alert_tpl_fn_error(
			    x, "strconv.ParseFloat: parsing \"%s\": value out of range", buf);
		*out = f;
		return TS_OK;
	}
	default:
		return alert_tpl_fn_error(x, "can't convert %s to float",
					  v->kind == ALERT_TPL_NIL || v->kind == ALERT_TPL_INVALID
					      ? "<nil>"
					      : alert_tpl_type_name(v));
	}
}

static int ret_buf(alert_tpl_exec *x, ts_buf *b, int rc, alert_tpl_value *out)
{
	if (rc) {
		ts_buf_free(b);
		return rc == TS_ELIMIT ? alert_tpl_fn_error(x, "result too long") : rc;
	}
	return alert_tpl_buf_string(x, b, out);
}

static int f_humanize(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	double v = 0;
	if (to_float(x, &a[0], &v))
		return TS_EINVAL;
	ts_buf b;
	ts_buf_init(&b, 256);
	int rc;
	const char *prefix = "";
	if (v == 0 || !isfinite(v)) {
		rc = alert_tpl_put_g(&b, v, 4);
	} else if (fabs(v) >= 1) {
		static const char *const big[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
		for (size_t k = 0; k < 8 && fabs(v) >= 1000; k++) {
			prefix = big[k];
			v /= 1000;
		}
		rc = alert_tpl_put_g(&b, v, 4);
	} else {
		static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
		for (size_t k = 0; k < 8 && fabs(v) < 1; k++) {
			prefix = small[k];
			v *= 1000;
		}
		rc = alert_tpl_put_g(&b, v, 4);
	}
	if (rc == TS_OK)
		rc = ts_buf_puts(&b, prefix);
	return ret_buf(x, &b, rc, out);
}

static int f_humanize1024(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
			  alert_tpl_value *out)
{
	double v = 0;
	if (to_float(x, &a[0], &v))
		return TS_EINVAL;
	ts_buf b;
	ts_buf_init(&b, 256);
	const char *prefix = "";
	if (!(fabs(v) <= 1 || !isfinite(v))) {
		static const char *const p[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
		for (size_t k = 0; k < 8 && fabs(v) >= 1024; k++) {
			prefix = p[k];
			v /= 1024;
		}
	}
	int rc = alert_tpl_put_g(&b, v, 4);
	if (rc == TS_OK)
		rc = ts_buf_puts(&b, prefix);
	return ret_buf(x, &b, rc, out);
}

static int f_humanize_duration(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
			       alert_tpl_value *out)
{
	double v = 0;
	if (to_float(x, &a[0], &v))
		return TS_EINVAL;
	ts_buf b;
	ts_buf_init(&b, 256);
	int rc;
	if (!isfinite(v)) {
		rc = alert_tpl_put_g(&b, v, 4);
	} else if (v == 0) {
		rc = alert_tpl_put_g(&b, v, 4);
		if (rc == TS_OK)
			rc = ts_buf_putc(&b, 's');
	} else if (fabs(v) >= 1) {
		const char *sign = v < 0 ? "-" : "";
		v = fabs(v);
		int64_t d = v >= 9.2e18 ? INT64_MAX : (int64_t)v;
		int64_t secs = d % 60, mins = d / 60 % 60, hours = d / 3600 % 24, days = d / 86400;
		if (days)
			rc = ts_buf_printf(&b, "%s%lldd %lldh %lldm %llds", sign, (long long)days,
					   (long long)hours, (long long)mins, (long long)secs);
		else if (hours)
			rc = ts_buf_printf(&b, "%s%lldh %lldm %llds", sign, (long long)hours,
					   (long long)mins, (long long)secs);
		else if (mins)
			rc = ts_buf_printf(&b, "%s%lldm %llds", sign, (long long)mins,
					   (long long)secs);
		else {
			rc = ts_buf_puts(&b, sign);
			if (rc == TS_OK)
				rc = alert_tpl_put_g(&b, v, 4);
			if (rc == TS_OK)
				rc = ts_buf_putc(&b, 's');
		}
	} else {
		static const char *const p[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
		const char *prefix = "";
		for (size_t k = 0; k < 8 && fabs(v) < 1; k++) {
			prefix = p[k];
			v *= 1000;
		}
		rc = alert_tpl_put_g(&b, v, 4);
		if (rc == TS_OK)
			rc = ts_buf_printf(&b, "%ss", prefix);
	}
	return ret_buf(x, &b, rc, out);
}

static int f_humanize_percentage(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
				 alert_tpl_value *out)
{
	double v = 0;
	if (to_float(x, &a[0], &v))
		return TS_EINVAL;
	ts_buf b;
	ts_buf_init(&b, 256);
	int rc = alert_tpl_put_g(&b, v * 100, 4);
	if (rc == TS_OK)
		rc = ts_buf_putc(&b, '%');
	return ret_buf(x, &b, rc, out);
}

/* Prometheus' floatToTime: ms, or an error. *is_special for NaN/Inf. */
static int float_to_time(alert_tpl_exec *x, double v, int64_t *ms, bool *is_special)
{
	*is_special = !isfinite(v);
	if (*is_special)
		return TS_OK;
	double ns = v * 1e9;
	if (ns >= 9.223372036854775807e18 || ns < -9.223372036854775808e18) {
		char f[ALERT_FLOAT_TEXT_MAX];
		alert_format_float(f, v);
		return alert_tpl_fn_error(
		    x,
		    "%s cannot be represented as a nanoseconds timestamp since it overflows int64",
		    f);
	}
	*ms = (int64_t)ns / 1000000;
	return TS_OK;
}

static int f_humanize_timestamp(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
				alert_tpl_value *out)
{
	double v;
	int64_t ms = 0;
	bool sp;
	if (to_float(x, &a[0], &v) || float_to_time(x, v, &ms, &sp))
		return TS_EINVAL;
	ts_buf b;
	ts_buf_init(&b, 256);
	int rc = sp ? alert_tpl_put_g(&b, v, 4) : alert_tpl_print_time(&b, ms);
	return ret_buf(x, &b, rc, out);
}

static int f_to_time(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	double v;
	int64_t ms = 0;
	bool sp;
	if (to_float(x, &a[0], &v) || float_to_time(x, v, &ms, &sp))
		return TS_EINVAL;
	if (sp)
		return alert_tpl_fn_error(x, "value is NaN or Inf");
	*out = (alert_tpl_value){.kind = ALERT_TPL_TIME, .t_ms = ms};
	return TS_OK;
}

static int map_case(alert_tpl_exec *x, const alert_tpl_value *a, alert_tpl_value *out, int mode)
{
	char *p = alert_arena_strndup(x->arena, a[0].s.p, a[0].s.n);
	if (!p)
		return TS_ENOMEM;
	bool prev_sep = true;
	for (size_t k = 0; k < a[0].s.n; k++) {
		unsigned char c = (unsigned char)p[k];
		if (mode == 0)
			p[k] = (char)toupper(c);
		else if (mode == 1)
			p[k] = (char)tolower(c);
		else {
			if (prev_sep)
				p[k] = (char)toupper(c);
			prev_sep = c < 0x80 && !isalnum(c) && c != '_';
		}
	}
	*out = (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {p, a[0].s.n}};
	return TS_OK;
}

static int f_to_upper(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return map_case(x, a, out, 0);
}

static int f_to_lower(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return map_case(x, a, out, 1);
}

static int f_title(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return map_case(x, a, out, 2);
}

static int f_printf(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	ts_buf b;
	ts_buf_init(&b, OUT_MAX);
	int rc = alert_tpl_go_printf(x, &b, a[0].s.p, a[0].s.n, a + 1, n - 1);
	return ret_buf(x, &b, rc, out);
}

static int f_print(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	ts_buf b;
	ts_buf_init(&b, OUT_MAX);
	return ret_buf(x, &b, alert_tpl_sprint(x, &b, a, n, false), out);
}

static int f_println(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	ts_buf b;
	ts_buf_init(&b, OUT_MAX);
	return ret_buf(x, &b, alert_tpl_sprint(x, &b, a, n, true), out);
}

/* evalArgs of the escapers: the string itself, or fmt.Sprint of the arguments. */
static int escaper_input(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, ts_buf *b)
{
	if (n == 1 && a[0].kind == ALERT_TPL_STRING)
		return ts_buf_append(b, a[0].s.p, a[0].s.n);
	return alert_tpl_sprint(x, b, a, n, false);
}

static int f_html(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	ts_buf in, b;
	ts_buf_init(&in, OUT_MAX);
	ts_buf_init(&b, OUT_MAX);
	int rc = escaper_input(x, a, n, &in);
	for (size_t k = 0; k < in.len && rc == TS_OK; k++) {
		char c = in.data[k];
		rc = c == '"'    ? ts_buf_puts(&b, "&#34;")
		     : c == '\'' ? ts_buf_puts(&b, "&#39;")
		     : c == '&'  ? ts_buf_puts(&b, "&amp;")
		     : c == '<'  ? ts_buf_puts(&b, "&lt;")
		     : c == '>'  ? ts_buf_puts(&b, "&gt;")
		     : c == 0    ? ts_buf_puts(&b, "\xef\xbf\xbd")
				 : ts_buf_putc(&b, c);
	}
	ts_buf_free(&in);
	return ret_buf(x, &b, rc, out);
}

static int f_js(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	ts_buf in, b;
	ts_buf_init(&in, OUT_MAX);
	ts_buf_init(&b, OUT_MAX);
	int rc = escaper_input(x, a, n, &in);
	for (size_t k = 0; k < in.len && rc == TS_OK; k++) {
		unsigned char c = (unsigned char)in.data[k];
		if (c == '\\' || c == '\'' || c == '"')
			rc = ts_buf_printf(&b, "\\%c", c);
		else if (c == '<' || c == '>' || c == '&' || c == '=' || c < 0x20)
			rc = ts_buf_printf(&b, "\\u%04X", c);
		else
			rc = ts_buf_putc(&b, (char)c);
	}
	ts_buf_free(&in);
	return ret_buf(x, &b, rc, out);
}

/* url.QueryEscape */
static int query_escape(ts_buf *b, const char *s, size_t n)
{
	int rc = TS_OK;
	for (size_t k = 0; k < n && rc == TS_OK; k++) {
		unsigned char c = (unsigned char)s[k];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			rc = ts_buf_putc(b, (char)c);
		else if (c == ' ')
			rc = ts_buf_putc(b, '+');
		else
			rc = ts_buf_printf(b, "%%%02X", c);
	}
	return rc;
}

static int f_urlquery(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	ts_buf in, b;
	ts_buf_init(&in, OUT_MAX);
	ts_buf_init(&b, OUT_MAX);
	int rc = escaper_input(x, a, n, &in);
	if (rc == TS_OK)
		rc = query_escape(&b, in.data, in.len);
	ts_buf_free(&in);
	return ret_buf(x, &b, rc, out);
}

static int make_link(alert_tpl_exec *x, const alert_tpl_value *a, alert_tpl_value *out, int tab)
{
	ts_buf b;
	ts_buf_init(&b, OUT_MAX);
	int rc = ts_buf_puts(&b, "/graph?g0.expr=");
	if (rc == TS_OK)
		rc = query_escape(&b, a[0].s.p, a[0].s.n);
	if (rc == TS_OK)
		rc = ts_buf_printf(&b, "&g0.tab=%d", tab);
	return ret_buf(x, &b, rc, out);
}

static int f_graph_link(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return make_link(x, a, out, 0);
}

static int f_table_link(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return make_link(x, a, out, 1);
}

static int f_identity_string(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
			     alert_tpl_value *out)
{
	*out = a[0];
	return TS_OK;
}

static int f_external_url(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
			  alert_tpl_value *out)
{
	const char *u = x->data->external_url ? x->data->external_url : "";
	*out = (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {u, strlen(u)}};
	return TS_OK;
}

static int f_path_prefix(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
			 alert_tpl_value *out)
{
	const char *u = x->data->external_url ? x->data->external_url : "";
	const char *p = strstr(u, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	if (!p)
		p = "";
	size_t len = strcspn(p, "?#");
	*out = (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {p, len}};
	return TS_OK;
}

static int f_parse_duration(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
			    alert_tpl_value *out)
{
	int64_t ms;
	if (ts_parse_duration_ms(a[0].s.p, a[0].s.n, &ms, NULL))
		return alert_tpl_fn_error(x, "not a valid duration string: \"%.*s\"",
					  (int)(a[0].s.n > 64 ? 64 : a[0].s.n), a[0].s.p);
	*out = (alert_tpl_value){.kind = ALERT_TPL_FLOAT, .f = (double)ms / 1000.0};
	return TS_OK;
}

/* Go's net.SplitHostPort, returning false on error. */
static bool split_host_port(const char *s, size_t n, size_t *h0, size_t *h1, size_t *p0)
{
	if (n && s[0] == '[') {
		const char *e = memchr(s, ']', n);
		if (!e || (size_t)(e - s) + 1 >= n || e[1] != ':')
			return false;
		*h0 = 1;
		*h1 = (size_t)(e - s);
		*p0 = *h1 + 2;
		return memchr(s + *p0, ':', n - *p0) == NULL;
	}
	const char *c = NULL;
	size_t colons = 0;
	for (size_t k = 0; k < n; k++)
		if (s[k] == ':') {
			c = s + k;
			colons++;
		}
	if (colons != 1 || memchr(s, '[', n) || memchr(s, ']', n))
		return false;
	*h0 = 0;
	*h1 = (size_t)(c - s);
	*p0 = *h1 + 1;
	return true;
}

static int f_strip_port(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	size_t h0, h1, p0;
	*out = a[0];
	if (split_host_port(a[0].s.p, a[0].s.n, &h0, &h1, &p0)) {
		out->s.p = a[0].s.p + h0;
		out->s.n = h1 - h0;
	}
	return TS_OK;
}

static int f_strip_domain(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
			  alert_tpl_value *out)
{
	size_t h0 = 0, h1 = a[0].s.n, p0 = a[0].s.n;
	bool has_port = split_host_port(a[0].s.p, a[0].s.n, &h0, &h1, &p0);
	if (!has_port) {
		h0 = 0;
		h1 = a[0].s.n;
	}
	char host[256];
	unsigned char ip[16];
	size_t hl = h1 - h0;
	*out = a[0];
	if (hl < sizeof(host)) {
		memcpy(host, a[0].s.p + h0, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
			return TS_OK;
	}
	const char *dot = memchr(a[0].s.p + h0, '.', hl);
	size_t short_len = dot ? (size_t)(dot - (a[0].s.p + h0)) : hl;
	ts_buf b;
	ts_buf_init(&b, OUT_MAX);
	bool v6 = memchr(a[0].s.p + h0, ':', short_len) != NULL;
	int rc = ts_buf_printf(&b, "%s%.*s%s", has_port && v6 ? "[" : "", (int)short_len,
			       a[0].s.p + h0, has_port && v6 ? "]" : "");
	if (rc == TS_OK && has_port)
		rc = ts_buf_printf(&b, ":%.*s", (int)(a[0].s.n - p0), a[0].s.p + p0);
	return ret_buf(x, &b, rc, out);
}

static int f_match(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	ts_buf pat;
	ts_buf_init(&pat, OUT_MAX);
	int rc = ts_buf_printf(&pat, ".*(?:%.*s).*", (int)a[0].s.n, a[0].s.p);
	if (rc) {
		ts_buf_free(&pat);
		return rc;
	}
	ts_matcher m;
	ts_err e = {0};
	rc = ts_matcher_init(&m, TS_MATCH_RE, "x", pat.data, &e);
	ts_buf_free(&pat);
	if (rc)
		return alert_tpl_fn_error(x, "error parsing regexp: %s", e.msg);
	char *s = alert_arena_strndup(x->arena, a[1].s.p, a[1].s.n);
	bool ok = s && ts_matcher_matches(&m, s);
	ts_matcher_fini(&m);
	if (!s)
		return TS_ENOMEM;
	*out = (alert_tpl_value){.kind = ALERT_TPL_BOOL, .b = ok};
	return TS_OK;
}

static int f_not(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	bool ok;
	*out = (alert_tpl_value){.kind = ALERT_TPL_BOOL, .b = !alert_tpl_truth(&a[0], &ok)};
	return TS_OK;
}

static int f_len(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	int64_t len;
	switch (a[0].kind) {
	case ALERT_TPL_STRING: len = (int64_t)a[0].s.n; break;
	case ALERT_TPL_MAP: len = (int64_t)a[0].map.n; break;
	case ALERT_TPL_VECTOR: len = (int64_t)a[0].vec.n; break;
	case ALERT_TPL_NIL:
	case ALERT_TPL_INVALID: return alert_tpl_fn_error(x, "len of nil pointer");
	default: return alert_tpl_fn_error(x, "len of type %s", alert_tpl_type_name(&a[0]));
	}
	*out = (alert_tpl_value){.kind = ALERT_TPL_INT, .i = len};
	return TS_OK;
}

static int f_index(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	alert_tpl_value v = a[0];
	for (size_t k = 1; k < n; k++) {
		const alert_tpl_value *i = &a[k];
		if (v.kind == ALERT_TPL_MAP) {
			if (i->kind != ALERT_TPL_STRING)
				return alert_tpl_fn_error(x, "value has type %s; should be string",
							  alert_tpl_type_name(i));
			const char *s = alert_tpl_map_get(v.map.l, v.map.n, i->s.p, i->s.n);
			v = (alert_tpl_value){.kind = ALERT_TPL_STRING,
					      .s = {s ? s : "", s ? strlen(s) : 0}};
		} else if (v.kind == ALERT_TPL_VECTOR || v.kind == ALERT_TPL_STRING) {
			if (i->kind != ALERT_TPL_INT)
				return alert_tpl_fn_error(x,
							  "cannot index slice/array with type %s",
							  alert_tpl_type_name(i));
			size_t len = v.kind == ALERT_TPL_VECTOR ? v.vec.n : v.s.n;
			if (i->i < 0 || (uint64_t)i->i >= len)
				return alert_tpl_fn_error(x, "index out of range: %lld",
							  (long long)i->i);
			if (v.kind == ALERT_TPL_VECTOR)
				v = (alert_tpl_value){.kind = ALERT_TPL_SAMPLE,
						      .sample = &v.vec.v[i->i]};
			else
				v = (alert_tpl_value){.kind = ALERT_TPL_INT,
						      .i = (unsigned char)v.s.p[i->i]};
		} else if (v.kind == ALERT_TPL_NIL || v.kind == ALERT_TPL_INVALID) {
			return alert_tpl_fn_error(x, "index of untyped nil");
		} else {
			return alert_tpl_fn_error(x, "can't index item of type %s",
						  alert_tpl_type_name(&v));
		}
	}
	*out = v;
	return TS_OK;
}

static int f_slice(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	if (a[0].kind != ALERT_TPL_STRING)
		return alert_tpl_fn_error(x, "can't slice item of type %s",
					  alert_tpl_type_name(&a[0]));
	if (n > 3)
		return alert_tpl_fn_error(x, "too many slice indexes: %zu", n - 1);
	int64_t idx[2] = {0, (int64_t)a[0].s.n};
	for (size_t k = 1; k < n; k++) {
		if (a[k].kind != ALERT_TPL_INT)
			return alert_tpl_fn_error(x, "cannot index slice/array with type %s",
						  alert_tpl_type_name(&a[k]));
		if (a[k].i < 0 || a[k].i > (int64_t)a[0].s.n)
			return alert_tpl_fn_error(x, "index out of range: %lld", (long long)a[k].i);
		idx[k - 1] = a[k].i;
	}
	if (idx[0] > idx[1])
		return alert_tpl_fn_error(x, "invalid slice index: %lld > %lld", (long long)idx[0],
					  (long long)idx[1]);
	*out = (alert_tpl_value){.kind = ALERT_TPL_STRING,
				 .s = {a[0].s.p + idx[0], (size_t)(idx[1] - idx[0])}};
	return TS_OK;
}

/* ---------------------------------------------------------------- comparisons */

enum { K_INVALID, K_BOOL, K_INT, K_FLOAT, K_STRING };

static int basic_kind(const alert_tpl_value *v)
{
	switch (v->kind) {
	case ALERT_TPL_BOOL: return K_BOOL;
	case ALERT_TPL_INT: return K_INT;
	case ALERT_TPL_FLOAT: return K_FLOAT;
	case ALERT_TPL_STRING: return K_STRING;
	default: return K_INVALID;
	}
}

static int cmp_strings(const alert_tpl_value *a, const alert_tpl_value *b)
{
	size_t n = a->s.n < b->s.n ? a->s.n : b->s.n;
	int c = n ? memcmp(a->s.p, b->s.p, n) : 0;
	return c ? c : (a->s.n > b->s.n) - (a->s.n < b->s.n);
}

static int eq_one(alert_tpl_exec *x, const alert_tpl_value *a, const alert_tpl_value *b, bool *out)
{
	int k1 = basic_kind(a), k2 = basic_kind(b);
	if (k1 != k2) {
		bool va = a->kind != ALERT_TPL_INVALID && a->kind != ALERT_TPL_NIL;
		bool vb = b->kind != ALERT_TPL_INVALID && b->kind != ALERT_TPL_NIL;
		if (va && vb)
			return alert_tpl_fn_error(x, "incompatible types for comparison");
		*out = !va && !vb;
		return TS_OK;
	}
	switch (k1) {
	case K_BOOL: *out = a->b == b->b; break;
	case K_INT: *out = a->i == b->i; break;
	case K_FLOAT: *out = a->f == b->f; break;
	case K_STRING: *out = cmp_strings(a, b) == 0; break;
	default:
		if (a->kind == ALERT_TPL_NIL && b->kind == ALERT_TPL_NIL) {
			*out = true;
			break;
		}
		if (a->kind == ALERT_TPL_SAMPLE && b->kind == ALERT_TPL_SAMPLE) {
			*out = a->sample == b->sample;
			break;
		}
		return alert_tpl_fn_error(x, "non-comparable types");
	}
	return TS_OK;
}

static int f_eq(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	if (n < 2)
		return alert_tpl_fn_error(x, "missing argument for comparison");
	bool r = false;
	for (size_t k = 1; k < n && !r; k++)
		if (eq_one(x, &a[0], &a[k], &r))
			return TS_EINVAL;
	*out = (alert_tpl_value){.kind = ALERT_TPL_BOOL, .b = r};
	return TS_OK;
}

static int f_ne(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	bool r = false;
	if (eq_one(x, &a[0], &a[1], &r))
		return TS_EINVAL;
	*out = (alert_tpl_value){.kind = ALERT_TPL_BOOL, .b = !r};
	return TS_OK;
}

/* lt(a, b) as Go: *out = a < b. */
static int lt_one(alert_tpl_exec *x, const alert_tpl_value *a, const alert_tpl_value *b, bool *out)
{
	int k1 = basic_kind(a), k2 = basic_kind(b);
	if (k1 == K_INVALID || k2 == K_INVALID)
		return alert_tpl_fn_error(x, "invalid type for comparison");
	if (k1 != k2)
		return alert_tpl_fn_error(x, "incompatible types for comparison");
	switch (k1) {
	case K_INT: *out = a->i < b->i; break;
	case K_FLOAT: *out = a->f < b->f; break;
	case K_STRING: *out = cmp_strings(a, b) < 0; break;
	default: return alert_tpl_fn_error(x, "invalid type for comparison");
	}
	return TS_OK;
}

static int compare(alert_tpl_exec *x, const alert_tpl_value *a, alert_tpl_value *out, int op)
{
	bool lt = false, eq = false;
	if (lt_one(x, &a[0], &a[1], &lt))
		return TS_EINVAL;
	if ((op == 1 || op == 2) && !lt && eq_one(x, &a[0], &a[1], &eq))
		return TS_EINVAL;
	bool r = op == 0 ? lt : op == 1 ? (lt || eq) : op == 2 ? !(lt || eq) : !lt;
	*out = (alert_tpl_value){.kind = ALERT_TPL_BOOL, .b = r};
	return TS_OK;
}

static int f_lt(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return compare(x, a, out, 0);
}

static int f_le(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return compare(x, a, out, 1);
}

static int f_gt(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return compare(x, a, out, 2);
}

static int f_ge(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	return compare(x, a, out, 3);
}

/* ---------------------------------------------------------------- query results */

static int f_query(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	const alert_template_data *d = x->data;
	if (!d->query)
		return alert_tpl_fn_error(x, "no query engine");
	char *q = alert_arena_strndup(x->arena, a[0].s.p, a[0].s.n);
	if (!q)
		return TS_ENOMEM;
	if (x->n_results == x->cap_results) {
		size_t nc = x->cap_results ? x->cap_results * 2 : 4;
		query_result **v = ts_realloc(x->results, nc * sizeof(*v));
		if (!v)
			return TS_ENOMEM;
		x->results = v;
		x->cap_results = nc;
	}
	query_result *r = NULL;
	ts_err e = {0};
	if (d->query(d->query_ctx, q, d->t_ms, &r, &e))
		return alert_tpl_fn_error(x, "%s", e.msg);
	x->results[x->n_results++] = r;
	size_t ns = r->type == QUERY_RESULT_SCALAR ? 1 : r->n_series;
	if (r->type != QUERY_RESULT_SCALAR && r->type != QUERY_RESULT_VECTOR)
		return alert_tpl_fn_error(x, "query result is not a vector or scalar");
	alert_tpl_sample *v = alert_arena_alloc(x->arena, (ns ? ns : 1) * sizeof(*v));
	if (!v)
		return TS_ENOMEM;
	if (r->type == QUERY_RESULT_SCALAR)
		v[0] = (alert_tpl_sample){NULL, 0, r->scalar};
	else
		for (size_t k = 0; k < ns; k++)
			v[k] = (alert_tpl_sample){r->series[k].labels, r->series[k].n_labels,
						  r->series[k].n ? r->series[k].v[0] : NAN};
	*out = (alert_tpl_value){.kind = ALERT_TPL_VECTOR, .vec = {v, ns}};
	return TS_OK;
}

static int f_first(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	if (a[0].kind != ALERT_TPL_VECTOR || a[0].vec.n == 0)
		return alert_tpl_fn_error(x, "first() called on vector with no elements");
	*out = (alert_tpl_value){.kind = ALERT_TPL_SAMPLE, .sample = &a[0].vec.v[0]};
	return TS_OK;
}

static const alert_tpl_sample *sample_arg(alert_tpl_exec *x, const alert_tpl_value *v)
{
	if (v->kind != ALERT_TPL_SAMPLE || !v->sample) {
		alert_tpl_fn_error(
		    x, "runtime error: invalid memory address or nil pointer dereference");
		return NULL;
	}
	return v->sample;
}

static int f_label(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	const alert_tpl_sample *s = sample_arg(x, &a[1]);
	if (!s)
		return TS_EINVAL;
	const char *v = alert_tpl_map_get(s->labels, s->n_labels, a[0].s.p, a[0].s.n);
	*out = (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {v ? v : "", v ? strlen(v) : 0}};
	return TS_OK;
}

static int f_value(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	const alert_tpl_sample *s = sample_arg(x, &a[0]);
	if (!s)
		return TS_EINVAL;
	*out = (alert_tpl_value){.kind = ALERT_TPL_FLOAT, .f = s->v};
	return TS_OK;
}

static int f_strvalue(alert_tpl_exec *x, const alert_tpl_value *a, size_t n, alert_tpl_value *out)
{
	const alert_tpl_sample *s = sample_arg(x, &a[0]);
	if (!s)
		return TS_EINVAL;
	const char *v = alert_tpl_map_get(s->labels, s->n_labels, "__value__", 9);
	*out = (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {v ? v : "", v ? strlen(v) : 0}};
	return TS_OK;
}

static int f_sort_by_label(alert_tpl_exec *x, const alert_tpl_value *a, size_t n,
			   alert_tpl_value *out)
{
	size_t ns = a[1].kind == ALERT_TPL_VECTOR ? a[1].vec.n : 0;
	alert_tpl_sample *v = alert_arena_alloc(x->arena, (ns ? ns : 1) * sizeof(*v));
	if (!v)
		return TS_ENOMEM;
	if (ns)
		memcpy(v, a[1].vec.v, ns * sizeof(*v));
	/* stable insertion sort by the label's value */
	for (size_t i = 1; i < ns; i++) {
		alert_tpl_sample s = v[i];
		const char *sv = alert_tpl_map_get(s.labels, s.n_labels, a[0].s.p, a[0].s.n);
		size_t j = i;
		for (; j > 0; j--) {
			const char *pv = alert_tpl_map_get(v[j - 1].labels, v[j - 1].n_labels,
							   a[0].s.p, a[0].s.n);
			if (strcmp(pv ? pv : "", sv ? sv : "") <= 0)
				break;
			v[j] = v[j - 1];
		}
		v[j] = s;
	}
	*out = (alert_tpl_value){.kind = ALERT_TPL_VECTOR, .vec = {v, ns}};
	return TS_OK;
}

/* ---------------------------------------------------------------- the table */

/* Every name Prometheus 2.42 templates know; impl NULL = unsupported at execution. */
static const alert_tpl_func funcs[] = {
    {"and", 2, true, "aa", NULL},
    {"args", 1, true, "a", NULL},
    {"call", 2, true, "aa", NULL},
    {"eq", 2, true, "aa", f_eq},
    {"externalURL", 0, false, "", f_external_url},
    {"first", 1, false, "v", f_first},
    {"ge", 2, false, "aa", f_ge},
    {"graphLink", 1, false, "s", f_graph_link},
    {"gt", 2, false, "aa", f_gt},
    {"html", 1, true, "a", f_html},
    {"humanize", 1, false, "a", f_humanize},
    {"humanize1024", 1, false, "a", f_humanize1024},
    {"humanizeDuration", 1, false, "a", f_humanize_duration},
    {"humanizePercentage", 1, false, "a", f_humanize_percentage},
    {"humanizeTimestamp", 1, false, "a", f_humanize_timestamp},
    {"index", 2, true, "aa", f_index},
    {"js", 1, true, "a", f_js},
    {"label", 2, false, "sp", f_label},
    {"le", 2, false, "aa", f_le},
    {"len", 1, false, "a", f_len},
    {"lt", 2, false, "aa", f_lt},
    {"match", 2, false, "ss", f_match},
    {"ne", 2, false, "aa", f_ne},
    {"not", 1, false, "a", f_not},
    {"or", 2, true, "aa", NULL},
    {"parseDuration", 1, false, "s", f_parse_duration},
    {"pathPrefix", 0, false, "", f_path_prefix},
    {"print", 1, true, "a", f_print},
    {"printf", 2, true, "sa", f_printf},
    {"println", 1, true, "a", f_println},
    {"query", 1, false, "s", f_query},
    {"reReplaceAll", 3, false, "sss", NULL},
    {"safeHtml", 1, false, "s", f_identity_string},
    {"slice", 2, true, "aa", f_slice},
    {"sortByLabel", 2, false, "sv", f_sort_by_label},
    {"strvalue", 1, false, "p", f_strvalue},
    {"stripDomain", 1, false, "s", f_strip_domain},
    {"stripPort", 1, false, "s", f_strip_port},
    {"tableLink", 1, false, "s", f_table_link},
    {"title", 1, false, "s", f_title},
    {"toLower", 1, false, "s", f_to_lower},
    {"toTime", 1, false, "a", f_to_time},
    {"toUpper", 1, false, "s", f_to_upper},
    {"urlquery", 1, true, "a", f_urlquery},
    {"value", 1, false, "p", f_value},
};

const alert_tpl_func *alert_tpl_func_lookup(const char *name, size_t n)
{
	for (size_t k = 0; k < sizeof(funcs) / sizeof(funcs[0]); k++)
		if (strlen(funcs[k].name) == n && !memcmp(funcs[k].name, name, n))
			return &funcs[k];
	return NULL;
}
