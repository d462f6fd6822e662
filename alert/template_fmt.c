/* SPDX-License-Identifier: Apache-2.0 */
/*
 * template_fmt.c: values and Go-compatible printing for alert templates.
 *
 * Tested by tests/alert/test_template.c (printf and value formatting cases).
 *
 * Printing follows Go's fmt: fmt.Sprint for actions and print/println, and a printf
 * that handles the verbs rule files use (%s %d %f %.2f %e %g %v %q %x %t %c %%, flags,
 * width, precision, *) with Go's error forms ("%!d(float64=1.5)", "%!s(MISSING)",
 * "%!(EXTRA int=1)"). Floats print as Go does: %v is the shortest representation, with
 * an exponent from 1e+06 on ("1e+06", "123456", "0.001"); NaN and infinities as NaN,
 * +Inf, -Inf. Maps print as "map[a:b c:d]" in key order, times as Go's Time.String()
 * in UTC. Also Go's strconv.Quote and Unquote, used by the lexer and %q.
 */
#include "alert/template_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ values */

int alert_tpl_fn_error(alert_tpl_exec *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->fn_err, sizeof(x->fn_err), fmt, ap);
	va_end(ap);
	return TS_EINVAL;
}

const char *alert_tpl_map_get(const ts_label *l, size_t n, const char *key, size_t key_len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(l[i].name) == key_len && !memcmp(l[i].name, key, key_len))
			return l[i].value;
	return NULL;
}

int alert_tpl_string(alert_tpl_exec *x, const char *s, size_t n, alert_tpl_value *out)
{
	char *p = alert_arena_strndup(x->arena, s, n);
	if (!p)
		return alert_arena_over_limit(x->arena) ? TS_ELIMIT : TS_ENOMEM;
	*out = (alert_tpl_value){.kind = ALERT_TPL_STRING, .s = {p, n}};
	return TS_OK;
}

int alert_tpl_buf_string(alert_tpl_exec *x, ts_buf *b, alert_tpl_value *out)
{
	int rc = alert_tpl_string(x, b->data ? b->data : "", b->len, out);
	ts_buf_free(b);
	return rc;
}

bool alert_tpl_truth(const alert_tpl_value *v, bool *ok)
{
	*ok = true;
	switch (v->kind) {
	case ALERT_TPL_MISSING:
	case ALERT_TPL_INVALID: *ok = false; return false;
	case ALERT_TPL_NIL: return false;
	case ALERT_TPL_BOOL: return v->b;
	case ALERT_TPL_INT: return v->i != 0;
	case ALERT_TPL_FLOAT: return v->f != 0;
	case ALERT_TPL_STRING: return v->s.n > 0;
	case ALERT_TPL_MAP: return v->map.n > 0;
	case ALERT_TPL_VECTOR: return v->vec.n > 0;
	case ALERT_TPL_SAMPLE: return v->sample != NULL;
	default: return true;
	}
}

const char *alert_tpl_type_name(const alert_tpl_value *v)
{
	switch (v->kind) {
	case ALERT_TPL_BOOL: return "bool";
	case ALERT_TPL_INT: return "int";
	case ALERT_TPL_FLOAT: return "float64";
	case ALERT_TPL_STRING: return "string";
	case ALERT_TPL_MAP: return "map[string]string";
	case ALERT_TPL_DATA: return "struct";
	case ALERT_TPL_VECTOR: return "template.queryResult";
	case ALERT_TPL_SAMPLE: return "*template.sample";
	case ALERT_TPL_TIME: return "*time.Time";
	case ALERT_TPL_NIL: return "<nil>";
	default: return "<invalid reflect.Value>";
	}
}

/* ================================================================ Go number formats */

/* Shortest %e digits of finite v: digits[] (no dot), count and decimal exponent. */
static void shortest(double v, char *digits, size_t *nd, int *exp10, bool *neg)
{
	char e[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	const char *s = e;
	*neg = *s == '-';
	if (*neg)
		s++;
	size_t n = 0;
	for (; *s && *s != 'e'; s++)
		if (*s != '.')
			digits[n++] = *s;
	*exp10 = (int)strtol(s + 1, NULL, 10);
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	*nd = n;
}

static size_t special(char *out, double v)
{
	if (isnan(v))
		return (size_t)snprintf(out, ALERT_FLOAT_TEXT_MAX, "NaN");
	return (size_t)snprintf(out, ALERT_FLOAT_TEXT_MAX, v > 0 ? "+Inf" : "-Inf");
}

static size_t format_e(char *out, bool neg, const char *digits, size_t nd, int exp10)
{
	size_t k = 0;
	if (neg)
		out[k++] = '-';
	out[k++] = digits[0];
	if (nd > 1) {
		out[k++] = '.';
		memcpy(out + k, digits + 1, nd - 1);
		k += nd - 1;
	}
	k += (size_t)snprintf(out + k, ALERT_FLOAT_TEXT_MAX - k, "e%c%02d", exp10 < 0 ? '-' : '+',
			      exp10 < 0 ? -exp10 : exp10);
	return k;
}

size_t alert_format_float(char out[ALERT_FLOAT_TEXT_MAX], double v)
{
	if (!isfinite(v))
		return special(out, v);
	if (v == 0)
		return (size_t)snprintf(out, ALERT_FLOAT_TEXT_MAX, signbit(v) ? "-0" : "0");
	char d[24];
	size_t nd;
	int x;
	bool neg;
	shortest(v, d, &nd, &x, &neg);
	if (x < -4 || x >= 6)
		return format_e(out, neg, d, nd, x);
	size_t k = 0;
	if (neg)
		out[k++] = '-';
	if (x < 0) {
		out[k++] = '0';
		out[k++] = '.';
		for (int i = -1; i > x; i--)
			out[k++] = '0';
		memcpy(out + k, d, nd);
		k += nd;
	} else {
		for (int i = 0; i <= x; i++)
			out[k++] = (size_t)i < nd ? d[i] : '0';
		if ((size_t)x + 1 < nd) {
			out[k++] = '.';
			memcpy(out + k, d + x + 1, nd - (size_t)x - 1);
			k += nd - (size_t)x - 1;
		}
	}
	out[k] = '\0';
	return k;
}

size_t alert_format_float_e(char out[ALERT_FLOAT_TEXT_MAX], double v)
{
	if (!isfinite(v))
		return special(out, v);
	if (v == 0)
		return (size_t)snprintf(out, ALERT_FLOAT_TEXT_MAX, signbit(v) ? "-0e+00" : "0e+00");
	char d[24];
	size_t nd;
	int x;
	bool neg;
	shortest(v, d, &nd, &x, &neg);
	return format_e(out, neg, d, nd, x);
}

/* Go's %.4g (and other explicit %g precisions) equal C's, except for NaN and Inf. */
int alert_tpl_put_g(ts_buf *b, double v, int prec)
{
	if (!isfinite(v))
		return ts_buf_puts(b, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
	return ts_buf_printf(b, "%.*g", prec, v);
}

/* ================================================================ quoting */

int alert_tpl_quote(ts_buf *b, const char *s, size_t n)
{
	int rc = ts_buf_putc(b, '"');
	for (size_t i = 0; i < n && rc == TS_OK; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': rc = ts_buf_puts(b, "\\\""); continue;
		case '\\': rc = ts_buf_puts(b, "\\\\"); continue;
		case '\a': rc = ts_buf_puts(b, "\\a"); continue;
		case '\b': rc = ts_buf_puts(b, "\\b"); continue;
		case '\f': rc = ts_buf_puts(b, "\\f"); continue;
		case '\n': rc = ts_buf_puts(b, "\\n"); continue;
		case '\r': rc = ts_buf_puts(b, "\\r"); continue;
		case '\t': rc = ts_buf_puts(b, "\\t"); continue;
		case '\v': rc = ts_buf_puts(b, "\\v"); continue;
		}
		if (c < 0x20 || c == 0x7f) {
			rc = ts_buf_printf(b, "\\x%02x", c);
		} else if (c < 0x80) {
			rc = ts_buf_putc(b, (char)c);
		} else {
			/* copy a valid UTF-8 sequence, escape a stray byte */
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			if (len > 1 && i + len <= n && ts_utf8_valid(s + i, len)) {
				rc = ts_buf_append(b, s + i, len);
				i += len - 1;
			} else {
				rc = ts_buf_printf(b, "\\x%02x", c);
			}
		}
	}
	return rc ? rc : ts_buf_putc(b, '"');
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t put_utf8(char *out, uint32_t r)
{
	if (r < 0x80) {
		out[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (char)(0xc0 | (r >> 6));
		out[1] = (char)(0x80 | (r & 0x3f));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (char)(0xe0 | (r >> 12));
		out[1] = (char)(0x80 | ((r >> 6) & 0x3f));
		out[2] = (char)(0x80 | (r & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (r >> 18));
	out[1] = (char)(0x80 | ((r >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((r >> 6) & 0x3f));
	out[3] = (char)(0x80 | (r & 0x3f));
	return 4;
}

int alert_tpl_unquote(const char *s, size_t n, char *out, size_t *out_n)
{
	if (n < 2 || s[0] != s[n - 1])
		return TS_EPARSE;
	size_t k = 0;
	if (s[0] == '`') {
		for (size_t i = 1; i + 1 < n; i++)
			if (s[i] != '\r')
				out[k++] = s[i];
		*out_n = k;
		return TS_OK;
	}
	if (s[0] != '"')
		return TS_EPARSE;
	for (size_t i = 1; i + 1 < n;) {
		char c = s[i];
		if (c == '"' || c == '\n')
			return TS_EPARSE;
		if (c != '\\') {
			out[k++] = c;
			i++;
			continue;
		}
		if (i + 2 >= n)
			return TS_EPARSE;
		char e = s[i + 1];
		i += 2;
		switch (e) {
		case 'a': out[k++] = '\a'; continue;
		case 'b': out[k++] = '\b'; continue;
		case 'f': out[k++] = '\f'; continue;
		case 'n': out[k++] = '\n'; continue;
		case 'r': out[k++] = '\r'; continue;
		case 't': out[k++] = '\t'; continue;
		case 'v': out[k++] = '\v'; continue;
		case '\\': out[k++] = '\\'; continue;
		case '"': out[k++] = '"'; continue;
		case 'x':
		case 'u':
		case 'U': {
			size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
			if (i + len > n - 1)
				return TS_EPARSE;
			uint32_t r = 0;
			for (size_t j = 0; j < len; j++) {
				int h = hexval((unsigned char)s[i + j]);
				if (h < 0)
					return TS_EPARSE;
				r = r * 16 + (uint32_t)h;
			}
			i += len;
			if (e == 'x') {
				out[k++] = (char)r;
				continue;
			}
			if (r > 0x10ffff || (r >= 0xd800 && r < 0xe000))
				return TS_EPARSE;
			k += put_utf8(out + k, r);
			continue;
		}
		default:
			if (e >= '0' && e <= '7') {
				if (i + 1 > n - 1)
					return TS_EPARSE;
				int v = e - '0';
				for (int j = 0; j < 2; j++) {
					char o = s[i++];
					if (o < '0' || o > '7')
						return TS_EPARSE;
					v = v * 8 + (o - '0');
				}
				if (v > 255)
					return TS_EPARSE;
				out[k++] = (char)v;
				continue;
			}
			return TS_EPARSE;
		}
	}
	*out_n = k;
	return TS_OK;
}

/* ================================================================ printing */

static int print_map(ts_buf *b, const ts_label *l, size_t n)
{
	int rc = ts_buf_puts(b, "map[");
	const char *prev = NULL;
	for (size_t k = 0; k < n && rc == TS_OK; k++) {
		const ts_label *best = NULL;
		for (size_t j = 0; j < n; j++)
			if ((!prev || strcmp(l[j].name, prev) > 0) &&
			    (!best || strcmp(l[j].name, best->name) < 0))
				best = &l[j];
		if (!best)
			break;
		prev = best->name;
		rc = ts_buf_printf(b, "%s%s:%s", k ? " " : "", best->name, best->value);
	}
	return rc ? rc : ts_buf_putc(b, ']');
}

/* Go's time.Time.String() in UTC for ms: "2006-01-02 15:04:05.123 +0000 UTC". */
int alert_tpl_print_time(ts_buf *b, int64_t ms)
{
	int64_t secs = ms / 1000, frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	int64_t days = secs / 86400, rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	unsigned mo, d;
	ts_civil_from_days(days, &y, &mo, &d);
	int rc = ts_buf_printf(b, "%04lld-%02u-%02u %02d:%02d:%02d", (long long)y, mo, d,
			       (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (rc == TS_OK && frac) {
		char f[8];
		snprintf(f, sizeof(f), "%03d", (int)frac);
		size_t n = 3;
		while (f[n - 1] == '0')
			n--;
		rc = ts_buf_printf(b, ".%.*s", (int)n, f);
	}
	return rc ? rc : ts_buf_puts(b, " +0000 UTC");
}

static int print_sample(ts_buf *b, const alert_tpl_sample *s)
{
	if (!s)
		return ts_buf_puts(b, "<nil>");
	int rc = ts_buf_puts(b, "&{");
	if (rc == TS_OK)
		rc = print_map(b, s->labels, s->n_labels);
	char f[ALERT_FLOAT_TEXT_MAX];
	alert_format_float(f, s->v);
	return rc ? rc : ts_buf_printf(b, " %s}", f);
}

/* fmt's %v of one value. */
static int print_v(alert_tpl_exec *x, ts_buf *b, const alert_tpl_value *v)
{
	char f[ALERT_FLOAT_TEXT_MAX];
	switch (v->kind) {
	case ALERT_TPL_MISSING:
	case ALERT_TPL_INVALID: return ts_buf_puts(b, "<no value>");
	case ALERT_TPL_NIL: return ts_buf_puts(b, "<nil>");
	case ALERT_TPL_BOOL: return ts_buf_puts(b, v->b ? "true" : "false");
	case ALERT_TPL_INT: return ts_buf_printf(b, "%lld", (long long)v->i);
	case ALERT_TPL_FLOAT: alert_format_float(f, v->f); return ts_buf_puts(b, f);
	case ALERT_TPL_STRING: return ts_buf_append(b, v->s.p, v->s.n);
	case ALERT_TPL_MAP: return print_map(b, v->map.l, v->map.n);
	case ALERT_TPL_TIME: return alert_tpl_print_time(b, v->t_ms);
	case ALERT_TPL_SAMPLE: return print_sample(b, v->sample);
	case ALERT_TPL_VECTOR: {
		int rc = ts_buf_putc(b, '[');
		for (size_t k = 0; k < v->vec.n && rc == TS_OK; k++) {
			if (k)
				rc = ts_buf_putc(b, ' ');
			if (rc == TS_OK)
				rc = print_sample(b, &v->vec.v[k]);
		}
		return rc ? rc : ts_buf_putc(b, ']');
	}
	case ALERT_TPL_DATA: {
		const alert_template_data *d = x->data;
		int rc = ts_buf_putc(b, '{');
		if (rc == TS_OK)
			rc = print_map(b, d->labels, d->n_labels);
		if (rc == TS_OK)
			rc = ts_buf_putc(b, ' ');
		if (rc == TS_OK)
			rc = print_map(b, d->external_labels, d->n_external_labels);
		alert_format_float(f, d->value);
		return rc ? rc
			  : ts_buf_printf(b, " %s %s}", d->external_url ? d->external_url : "", f);
	}
	}
	return TS_OK;
}

int alert_tpl_print(alert_tpl_exec *x, ts_buf *out, const alert_tpl_value *v)
{
	return print_v(x, out, v);
}

/* fmt.Sprint: a space between operands when neither is a string. */
int alert_tpl_sprint(alert_tpl_exec *x, ts_buf *b, const alert_tpl_value *args, size_t n,
		     bool is_ln)
{
	int rc = TS_OK;
	for (size_t k = 0; k < n && rc == TS_OK; k++) {
		bool is_str = args[k].kind == ALERT_TPL_STRING;
		if (k > 0 && (is_ln || (!is_str && args[k - 1].kind != ALERT_TPL_STRING)))
			rc = ts_buf_putc(b, ' ');
		alert_tpl_value v = args[k];
		if (v.kind == ALERT_TPL_INVALID || v.kind == ALERT_TPL_MISSING)
			v.kind = ALERT_TPL_NIL;
		if (rc == TS_OK)
			rc = print_v(x, b, &v);
	}
	if (rc == TS_OK && is_ln)
		rc = ts_buf_putc(b, '\n');
	return rc;
}

/* ---------------------------------------------------------------- printf */

/* Largest width or precision Go's fmt accepts (larger: %!(BADWIDTH), %!(BADPREC)). */
#define NUM_MAX 1000000

typedef struct fspec {
	bool minus, plus, space, zero, sharp;
	int width, prec; /* -1 = absent */
	char verb;
} fspec;

static int pad(ts_buf *b, const fspec *f, const char *s, size_t n)
{
	size_t w = f->width > 0 ? (size_t)f->width : 0;
	int rc = TS_OK;
	if (!f->minus)
		for (size_t k = n; k < w && rc == TS_OK; k++)
			rc = ts_buf_putc(b, ' ');
	if (rc == TS_OK)
		rc = ts_buf_append(b, s, n);
	if (f->minus)
		for (size_t k = n; k < w && rc == TS_OK; k++)
			rc = ts_buf_putc(b, ' ');
	return rc;
}

/* A C format for f with `conv` (e.g. "lld", "f") into out. */
/* A C format for f without the width (padding is done by pad_num), e.g. "%+.2f". */
static void cfmt(const fspec *f, const char *conv, char *out, size_t cap)
{
	snprintf(out, cap, "%%%s%s%s", f->plus ? "+" : "", f->space ? " " : "",
		 f->sharp ? "#" : "");
	size_t k = strlen(out);
	if (f->prec >= 0)
		k += (size_t)snprintf(out + k, cap - k, ".%d", f->prec);
	snprintf(out + k, cap - k, "%s", conv);
}

/* Pad a formatted number to the width: spaces, or zeros after the sign ("0" flag). */
static int pad_num(ts_buf *b, const fspec *f, const char *s, size_t n)
{
	if (!f->zero || f->minus || f->width <= 0 || (size_t)f->width <= n)
		return pad(b, f, s, n);
	size_t sign = n && (s[0] == '-' || s[0] == '+' || s[0] == ' ') ? 1 : 0;
	int rc = ts_buf_append(b, s, sign);
	for (size_t k = n; k < (size_t)f->width && rc == TS_OK; k++)
		rc = ts_buf_putc(b, '0');
	return rc ? rc : ts_buf_append(b, s + sign, n - sign);
}

static int bad_verb(alert_tpl_exec *x, ts_buf *b, char verb, const alert_tpl_value *v)
{
	if (v->kind == ALERT_TPL_NIL || v->kind == ALERT_TPL_INVALID)
		return ts_buf_printf(b, "%%!%c(<nil>)", verb);
	int rc = ts_buf_printf(b, "%%!%c(%s=", verb, alert_tpl_type_name(v));
	if (rc == TS_OK)
		rc = print_v(x, b, v);
	return rc ? rc : ts_buf_putc(b, ')');
}

static int fmt_float(ts_buf *b, const fspec *f, double v)
{
	char verb = f->verb == 'v' ? 'g' : f->verb == 'F' ? 'f' : f->verb;
	if (!isfinite(v)) {
		const char *s = isnan(v) ? (f->plus    ? "+NaN"
					    : f->space ? " NaN"
						       : "NaN")
				: v > 0  ? (f->plus    ? "+Inf"
					    : f->space ? " Inf"
						       : "+Inf")
					 : "-Inf";
		return pad(b, f, s, strlen(s));
	}
	char tmp[400];
	if ((verb == 'g' || verb == 'G') && f->prec < 0) {
		size_t k = 0;
		if (f->plus && v >= 0)
			tmp[k++] = '+';
		else if (f->space && v >= 0)
			tmp[k++] = ' ';
		k += alert_format_float(tmp + k, v);
		if (verb == 'G')
			for (size_t j = 0; j < k; j++)
				tmp[j] = (char)toupper((unsigned char)tmp[j]);
		return pad_num(b, f, tmp, k);
	}
	if (f->prec > 300)
		return ts_buf_puts(b, "%!(BADPREC)");
	char cf[32];
	char conv[2] = {verb, 0};
	cfmt(f, conv, cf, sizeof(cf));
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	int n = snprintf(tmp, sizeof(tmp), cf, v);
#pragma GCC diagnostic pop
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return ts_buf_puts(b, "%!(BADPREC)");
	return pad_num(b, f, tmp, (size_t)n);
}

static int fmt_int(ts_buf *b, const fspec *f, int64_t v)
{
	char tmp[400], cf[32];
	if (f->prec > 300)
		return ts_buf_puts(b, "%!(BADPREC)");
	switch (f->verb) {
	case 'v':
	case 'd': cfmt(f, "lld", cf, sizeof(cf)); break;
	case 'c': {
		char u[8];
		size_t n = put_utf8(u, v < 0 || v > 0x10ffff ? 0xfffd : (uint32_t)v);
		return pad(b, f, u, n);
	}
	case 'q': {
		ts_buf q;
		ts_buf_init(&q, 64);
		char u[8];
		size_t n = put_utf8(u, v < 0 || v > 0x10ffff ? 0xfffd : (uint32_t)v);
		int rc = alert_tpl_quote(&q, u, n);
		if (rc == TS_OK) {
			q.data[0] = q.data[q.len - 1] = '\'';
			rc = pad(b, f, q.data, q.len);
		}
		ts_buf_free(&q);
		return rc;
	}
	case 'x':
	case 'X':
	case 'o':
	case 'b': {
		/* Go prints the sign and the magnitude */
		uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		char digits[80];
		size_t n = 0;
		unsigned base = f->verb == 'o' ? 8 : f->verb == 'b' ? 2 : 16;
		const char *set = f->verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
		do {
			digits[n++] = set[m % base];
			m /= base;
		} while (m);
		char s[96];
		size_t k = 0;
		if (v < 0)
			s[k++] = '-';
		else if (f->plus)
			s[k++] = '+';
		if (f->sharp && base == 16) {
			s[k++] = '0';
			s[k++] = f->verb;
		}
		while (n)
			s[k++] = digits[--n];
		return pad_num(b, f, s, k);
	}
	default: return TS_EINVAL;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	int n = snprintf(tmp, sizeof(tmp), cf, (long long)v);
#pragma GCC diagnostic pop
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return ts_buf_puts(b, "%!(BADPREC)");
	return pad_num(b, f, tmp, (size_t)n);
}

static int fmt_string(ts_buf *b, const fspec *f, const char *s, size_t n)
{
	if (f->verb == 'q') {
		ts_buf q;
		ts_buf_init(&q, ALERT_TEMPLATE_MAX_OUTPUT);
		int rc = alert_tpl_quote(&q, s, n);
		if (rc == TS_OK)
			rc = pad(b, f, q.data, q.len);
		ts_buf_free(&q);
		return rc;
	}
	if (f->verb == 'x' || f->verb == 'X') {
		int rc = TS_OK;
		for (size_t k = 0; k < n && rc == TS_OK; k++)
			rc =
			    ts_buf_printf(b, f->verb == 'x' ? "%02x" : "%02X", (unsigned char)s[k]);
		return rc;
	}
	if (f->prec >= 0) {
		/* precision counts runes */
		size_t k = 0;
		for (int r = 0; k < n && r < f->prec; r++) {
			k++;
			while (k < n && ((unsigned char)s[k] & 0xc0) == 0x80)
				k++;
		}
		n = k;
	}
	return pad(b, f, s, n);
}

static int fmt_arg(alert_tpl_exec *x, ts_buf *b, const fspec *f, const alert_tpl_value *v)
{
	char verb = f->verb;
	switch (v->kind) {
	case ALERT_TPL_BOOL:
		if (verb == 'v' || verb == 't')
			return pad(b, f, v->b ? "true" : "false", v->b ? 4 : 5);
		break;
	case ALERT_TPL_INT:
		if (verb && strchr("vdcqxXob", verb) && fmt_int(b, f, v->i) != TS_EINVAL)
			return TS_OK;
		break;
	case ALERT_TPL_FLOAT:
		if (verb && strchr("veEfFgG", verb))
			return fmt_float(b, f, v->f);
		break;
	case ALERT_TPL_STRING:
		if (verb && strchr("vsqxX", verb))
			return fmt_string(b, f, v->s.p, v->s.n);
		break;
	case ALERT_TPL_NIL:
	case ALERT_TPL_INVALID:
	case ALERT_TPL_MISSING:
		if (verb == 'v')
			return pad(b, f, "<nil>", 5);
		break;
	default:
		if (verb == 'v' || verb == 's') {
			ts_buf t;
			ts_buf_init(&t, ALERT_TEMPLATE_MAX_OUTPUT);
			int rc = print_v(x, &t, v);
			if (rc == TS_OK)
				rc = pad(b, f, t.data ? t.data : "", t.len);
			ts_buf_free(&t);
			return rc;
		}
	}
	return bad_verb(x, b, verb, v);
}

int alert_tpl_go_printf(alert_tpl_exec *x, ts_buf *b, const char *fmt, size_t n,
			const alert_tpl_value *args, size_t n_args)
{
	size_t ai = 0;
	int rc = TS_OK;
	for (size_t i = 0; i < n && rc == TS_OK;) {
		if (fmt[i] != '%') {
			size_t j = i;
			while (j < n && fmt[j] != '%')
				j++;
			rc = ts_buf_append(b, fmt + i, j - i);
			i = j;
			continue;
		}
		i++;
		fspec f = {.width = -1, .prec = -1};
		for (; i < n; i++) {
			char c = fmt[i];
			if (c == '-')
				f.minus = true;
			else if (c == '+')
				f.plus = true;
			else if (c == ' ')
				f.space = true;
			else if (c == '0')
				f.zero = true;
			else if (c == '#')
				f.sharp = true;
			else
				break;
		}
		if (i < n && fmt[i] == '*') {
			i++;
			if (ai < n_args && args[ai].kind == ALERT_TPL_INT &&
			    llabs(args[ai].i) < 1000) {
				f.width = (int)args[ai].i;
				if (f.width < 0) {
					f.minus = true;
					f.width = -f.width;
				}
			} else {
				rc = ts_buf_puts(b, "%!(BADWIDTH)");
			}
			ai++;
		} else {
			for (; i < n && fmt[i] >= '0' && fmt[i] <= '9'; i++)
				if ((f.width = (f.width < 0 ? 0 : f.width) * 10 + (fmt[i] - '0')) >
				    NUM_MAX)
					f.width = NUM_MAX + 1; /* Go: tooLarge */
		}
		if (i < n && fmt[i] == '.') {
			i++;
			f.prec = 0;
			if (i < n && fmt[i] == '*') {
				i++;
				if (ai < n_args && args[ai].kind == ALERT_TPL_INT &&
				    args[ai].i >= 0 && args[ai].i < 1000)
					f.prec = (int)args[ai].i;
				else
					rc = ts_buf_puts(b, "%!(BADPREC)");
				ai++;
			}
			for (; i < n && fmt[i] >= '0' && fmt[i] <= '9'; i++)
				if ((f.prec = f.prec * 10 + (fmt[i] - '0')) > NUM_MAX)
					f.prec = NUM_MAX + 1;
		}
		if (rc == TS_OK && f.width > NUM_MAX) {
			rc = ts_buf_puts(b, "%!(BADWIDTH)");
			f.width = -1;
		}
		if (rc == TS_OK && f.prec > NUM_MAX) {
			rc = ts_buf_puts(b, "%!(BADPREC)");
			f.prec = -1;
		}
		/* Go pads to any width up to 1e6; Strata stops at 10000 (output is bounded) */
		if (f.width > 10000)
			f.width = 10000;
		if (f.prec > 10000)
			f.prec = 10000;
		if (i >= n) {
			rc = rc ? rc : ts_buf_puts(b, "%!(NOVERB)");
			break;
		}
		f.verb = fmt[i++];
		if (rc)
			break;
		if (f.verb == '%') {
			rc = ts_buf_putc(b, '%');
			continue;
		}
		if (ai >= n_args) {
			rc = ts_buf_printf(b, "%%!%c(MISSING)", f.verb);
			continue;
		}
		rc = fmt_arg(x, b, &f, &args[ai++]);
	}
	if (rc == TS_OK && ai < n_args) {
		rc = ts_buf_puts(b, "%!(EXTRA ");
		for (size_t k = ai; k < n_args && rc == TS_OK; k++) {
			if (k > ai)
				rc = ts_buf_puts(b, ", ");
			if (rc == TS_OK &&
			    (args[k].kind == ALERT_TPL_NIL || args[k].kind == ALERT_TPL_INVALID))
				rc = ts_buf_puts(b, "<nil>");
			else if (rc == TS_OK) {
				rc = ts_buf_printf(b, "%s=", alert_tpl_type_name(&args[k]));
				if (rc == TS_OK)
					rc = print_v(x, b, &args[k]);
			}
		}
		if (rc == TS_OK)
			rc = ts_buf_putc(b, ')');
	}
	return rc;
}
