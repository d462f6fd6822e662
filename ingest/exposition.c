/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exposition.c: Prometheus text exposition 0.0.4 and OpenMetrics 1.0 text parser.
 *
 * One pass, line by line, over a borrowed body; no allocation per sample. For each
 * line the metric name, label names and unescaped label values are copied, NUL-
 * terminated, into a scratch buffer reserved up front for the whole line (twice its
 * length always suffices), so the ts_label pointers stay valid while the line is
 * parsed. The label set is normalized (sorted, unique, empty values dropped: a sorted
 * input skips the sort) and handed to the sink.
 *
 * Grammar, following Prometheus' own parsers (model/textparse promlex.l,
 * openmetricslex.l) where the formats leave room:
 *   0.0.4  blanks (space/tab) may separate every token; blank lines and comments are
 *          ignored; "# HELP name text" and "# TYPE name type" are metadata; the
 *          timestamp is an optional integer of milliseconds (digits only).
 *   OM     tokens are separated by exactly one space, nothing else; only "# HELP",
 *          "# TYPE", "# UNIT" and "# EOF" comments exist; "# EOF" must end the body;
 *          the timestamp is a decimal number of seconds, converted exactly to ms
 *          (digits beyond ms are truncated, as Prometheus' int64(ts*1000) intends,
 *          without its float rounding); an exemplar " # {labels} value [ts]" after
 *          the sample is validated and skipped.
 *   both   label values escape \\ \" \n (another \x is kept as the two bytes, as
 *          Prometheus does) and must be valid UTF-8 without NUL bytes; a trailing
 *          comma in a label set is allowed; values are Go ParseFloat syntax without
 *          hex or underscores ("NaN", "+Inf", "-Inf", "1e3", ...); a literal NaN
 *          becomes Prometheus' normal NaN (0x7ff8000000000001); a trailing CR is
 *          ignored. Sample names are never rewritten (counters keep _total,
 *          histogram/summary series keep _bucket/_sum/_count/quantile labels).
 *
 * Metadata: consecutive # HELP/# TYPE/# UNIT lines of one family are merged and
 * reported once, when a metadata line of another family starts or the body ends.
 *
 * Not done: a raw newline inside a quoted label value (the 0.0.4 lexer tolerates it),
 * UTF-8 (quoted) metric names of newer Prometheus versions, native histograms, and
 * OpenMetrics ordering rules (families interleaving, counter _total suffix) that
 * Prometheus does not enforce either.
 */
#include "ingest/exposition.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Prometheus' value.NormalNaN: what a literal "NaN" in the text becomes. */
#define EXPO_NORMAL_NAN_BITS 0x7ff8000000000001ULL

typedef enum expo_kind { KIND_HELP, KIND_TYPE, KIND_UNIT } expo_kind;

/* Metric types, in the order of type_names. */
enum {
	TYPE_UNKNOWN,
	TYPE_COUNTER,
	TYPE_GAUGE,
	TYPE_HISTOGRAM,
	TYPE_GAUGEHISTOGRAM,
	TYPE_SUMMARY,
	TYPE_INFO,
	TYPE_STATESET,
};
static const char *const type_names[] = {"unknown",        "counter", "gauge", "histogram",
					 "gaugehistogram", "summary", "info",  "stateset"};

typedef struct expo_parser {
	bool is_om;
	unsigned flags;
	int64_t default_t_ms;
	const ingest_limits *lim;
	ingest_sample_fn fn;
	ingest_metadata_fn meta_fn;
	void *ctx;
	locale_t c_locale; /* for strtod_l; created on first use */

	size_t line_no; /* 1-based number of the current line */
	bool is_fatal;  /* the current error is not a line error (ENOMEM, sink) */
	char why[200];  /* reason of the current line error */

	ts_buf scratch;    /* NUL-terminated copies of the current line's strings */
	ts_label *labels;  /* labels of the current sample */
	size_t labels_cap; /* entries allocated in labels (grows up to max_labels) */

	bool has_family; /* metadata collected for `family` not reported yet */
	ts_buf family;   /* name of the current family (kept after reporting it) */
	int type;        /* TYPE_* of the current family */
	ts_buf help;     /* unescaped help text of the current family */
	ts_buf unit;     /* unit of the current family */

	ingest_expo_result r;
} expo_parser;

/* ================================================================ errors */

__attribute__((format(printf, 3, 4))) static int line_fail(expo_parser *ps, int code,
							   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->why, sizeof(ps->why), fmt, ap);
	va_end(ap);
	return code;
}

__attribute__((format(printf, 3, 4))) static int fatal(expo_parser *ps, int code, const char *fmt,
						       ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->why, sizeof(ps->why), fmt, ap);
	va_end(ap);
	ps->is_fatal = true;
	return code;
}

/* Bounded, printable excerpt of s[0..n) for messages. */
static const char *excerpt(const char *s, size_t n, char *out, size_t cap)
{
	size_t w = 0, max = cap > 4 ? cap - 4 : 0;
	for (size_t i = 0; i < n && w < max; i++) {
		unsigned char c = (unsigned char)s[i];
		out[w++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (n > max && cap >= 4) {
		memcpy(out + w, "...", 3);
		w += 3;
	}
	out[w] = '\0';
	return out;
}

/* ================================================================ numbers */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool word_ieq(const char *s, size_t n, const char *word)
{
	size_t wl = strlen(word);
	if (n != wl)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((s[i] | 0x20) != word[i])
			return false;
	return true;
}

/*
 * Decimal syntax [+-]? (d+ [. d*] | . d+) ([eE] [+-]? d+)?. Fills the sign, up to 19
 * significant digits in *m, the power of ten to apply to *m, and whether digits were
 * dropped. Returns false on bad syntax.
 */
typedef struct decimal {
	bool is_neg;
	uint64_t m;      /* first up to 19 significant digits */
	int64_t exp10;   /* value = m * 10^exp10 (approximately if is_inexact) */
	bool is_inexact; /* nonzero digits beyond the 19th were dropped */
} decimal;

static bool decimal_scan(const char *s, size_t n, decimal *d)
{
	size_t i = 0;
	bool any = false;
	memset(d, 0, sizeof(*d));
	if (i < n && (s[i] == '+' || s[i] == '-'))
		d->is_neg = s[i++] == '-';
	int nd = 0;
	for (; i < n && is_digit(s[i]); i++) {
		any = true;
		if (nd == 0 && s[i] == '0')
			continue;
		if (nd < 19) {
			d->m = d->m * 10 + (uint64_t)(s[i] - '0');
			nd++;
		} else {
			d->exp10++;
			d->is_inexact |= s[i] != '0';
		}
	}
	if (i < n && s[i] == '.') {
		for (i++; i < n && is_digit(s[i]); i++) {
			any = true;
			if (nd == 0 && s[i] == '0') {
				d->exp10--;
				continue;
			}
			if (nd < 19) {
				d->m = d->m * 10 + (uint64_t)(s[i] - '0');
				nd++;
				d->exp10--;
			} else {
				d->is_inexact |= s[i] != '0';
			}
		}
	}
	if (!any)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		bool eneg = false;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		if (i >= n || !is_digit(s[i]))
			return false;
		int64_t e = 0;
		for (; i < n && is_digit(s[i]); i++)
			if (e < 1000000000)
				e = e * 10 + (s[i] - '0');
		d->exp10 += eneg ? -e : e;
	}
	return i == n;
}

/* strtod in the C locale on a NUL-terminated copy of s[0..n). */
static bool slow_strtod(expo_parser *ps, const char *s, size_t n, double *out)
{
	char stack[128];
	char *buf = stack;
	if (n >= sizeof(stack)) {
		buf = ts_malloc(n + 1);
		if (!buf)
			return false;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (ps->c_locale == (locale_t)0)
		ps->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	char *end = NULL;
	errno = 0;
	double v =
	    ps->c_locale != (locale_t)0 ? strtod_l(buf, &end, ps->c_locale) : strtod(buf, &end);
	bool ok = end == buf + n && !(errno == ERANGE && isinf(v));
	if (buf != stack)
		ts_free(buf);
	if (ok)
		*out = v;
	return ok;
}

/* A sample value: Go ParseFloat syntax minus hex/underscores; overflow is an error. */
static bool parse_value(expo_parser *ps, const char *s, size_t n, double *out)
{
	if (n == 0)
		return false;
	size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
	if (n - i >= 3 && (s[i] | 0x20) == 'i') {
		if (!word_ieq(s + i, n - i, "inf") && !word_ieq(s + i, n - i, "infinity"))
			return false;
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (word_ieq(s, n, "nan")) {
		uint64_t bits = EXPO_NORMAL_NAN_BITS;
		memcpy(out, &bits, sizeof(*out));
		return true;
	}
	decimal d;
	if (!decimal_scan(s, n, &d))
		return false;
	if (d.m == 0) {
		*out = d.is_neg ? -0.0 : 0.0;
		return true;
	}
	if (!d.is_inexact && d.m <= ((uint64_t)1 << 53) && d.exp10 >= -22 && d.exp10 <= 22) {
		/* Clinger's fast path: both operands exact, one correctly rounded op. */
		double v = (double)d.m;
		v = d.exp10 < 0 ? v / pow10_exact[-d.exp10] : v * pow10_exact[d.exp10];
		*out = d.is_neg ? -v : v;
		return true;
	}
	return slow_strtod(ps, s, n, out);
}

/* 0.0.4 timestamp: digits only (as promlex.l), milliseconds, must fit int64. */
static bool parse_ts_int(const char *s, size_t n, int64_t *out)
{
	if (n == 0)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		uint64_t dgt = (uint64_t)(s[i] - '0');
		if (v > ((uint64_t)INT64_MAX - dgt) / 10)
			return false;
		v = v * 10 + dgt;
	}
	*out = (int64_t)v;
	return true;
}

/*
 * OpenMetrics timestamp: decimal seconds -> ms, exactly, truncated toward zero (what
 * Prometheus' int64(ts*1000) means, without its float rounding: 1795231500.004 is
 * 1795231500004, not ...003). NaN/Inf and values outside int64 ms are errors.
 */
static bool parse_ts_om(const char *s, size_t n, int64_t *out)
{
	decimal d;
	if (!decimal_scan(s, n, &d)) /* syntax check */
		return false;
	size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
	size_t mend = i; /* end of the mantissa */
	while (mend < n && s[mend] != 'e' && s[mend] != 'E')
		mend++;
	int64_t e = 0;
	if (mend < n) {
		size_t j = mend + 1;
		bool eneg = false;
		if (s[j] == '+' || s[j] == '-')
			eneg = s[j++] == '-';
		for (; j < n; j++)
			if (e < 1000000000)
				e = e * 10 + (s[j] - '0');
		if (eneg)
			e = -e;
	}
	/* The value is 0.D * 10^k, D the significant digits (first one nonzero). */
	int64_t k = 0;
	size_t first = 0;
	bool started = false, seen_point = false;
	for (size_t j = i; j < mend; j++) {
		if (s[j] == '.') {
			seen_point = true;
			continue;
		}
		if (!started) {
			if (s[j] == '0') {
				if (seen_point)
					k--;
				continue;
			}
			started = true;
			first = j;
		}
		if (!seen_point)
			k++;
	}
	if (!started) {
		*out = 0;
		return true;
	}
	int64_t keep = k + e + 3; /* digits of D that form the integer ms */
	if (keep <= 0) {
		*out = 0;
		return true;
	}
	if (keep > 19)
		return false;
	uint64_t v = 0;
	int64_t used = 0;
	for (size_t j = first; j < mend && used < keep; j++) {
		if (s[j] == '.')
			continue;
		v = v * 10 + (uint64_t)(s[j] - '0');
		used++;
	}
	for (; used < keep; used++)
		v *= 10;
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = d.is_neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* ================================================================ scratch */

/* Copy s[0..n) into the scratch buffer, unescaping per `esc` (0 none, 1 label, 2 help
 * 0.0.4); returns the NUL-terminated copy and its length. Room was reserved. */
static char *scratch_put(expo_parser *ps, const char *s, size_t n, int esc, size_t *out_len)
{
	char *dst = ps->scratch.data + ps->scratch.len, *w = dst;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (esc && c == '\\' && i + 1 < n) {
			char e = s[i + 1];
			if (e == '\\' || e == 'n' || (e == '"' && esc == 1)) {
				*w++ = e == 'n' ? '\n' : e;
				i++;
				continue;
			}
		}
		*w++ = c;
	}
	*w = '\0';
	size_t len = (size_t)(w - dst);
	ps->scratch.len += len + 1;
	if (out_len)
		*out_len = len;
	return dst;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* 0.0.4 lets blanks separate tokens; OpenMetrics does not. */
static size_t skip_blanks(const expo_parser *ps, const char *s, size_t n, size_t i)
{
	if (ps->is_om)
		return i;
	while (i < n && is_blank(s[i]))
		i++;
	return i;
}

/* ================================================================ metadata */

/* Report the collected family, if any. */
static int meta_flush(expo_parser *ps)
{
	if (!ps->has_family)
		return TS_OK;
	ps->has_family = false;
	ps->r.n_metadata++;
	if (!ps->meta_fn)
		return TS_OK;
	int rc =
	    ps->meta_fn(ps->ctx, ps->family.data, type_names[ps->type],
			ps->help.data ? ps->help.data : "", ps->unit.data ? ps->unit.data : "");
	if (rc != TS_OK)
		return fatal(ps, rc, "metadata sink failed (%s) for family %s", ts_err_name(rc),
			     ps->family.data);
	return TS_OK;
}

/* Start (or continue) the family name[0..n). */
static int meta_family(expo_parser *ps, const char *name, size_t n)
{
	if (ps->has_family && ps->family.len == n && memcmp(ps->family.data, name, n) == 0)
		return TS_OK;
	int rc = meta_flush(ps);
	if (rc != TS_OK)
		return rc;
	ts_buf_reset(&ps->family);
	ts_buf_reset(&ps->help);
	ts_buf_reset(&ps->unit);
	if ((rc = ts_buf_append(&ps->family, name, n)) != TS_OK ||
	    (rc = ts_buf_reserve(&ps->help, 0)) != TS_OK ||
	    (rc = ts_buf_reserve(&ps->unit, 0)) != TS_OK)
		return fatal(ps, rc, "no memory for metadata");
	ps->type = TYPE_UNKNOWN;
	ps->has_family = true;
	return TS_OK;
}

/* ================================================================ labels */

/*
 * Parse "{...}" starting at s[*pi] == '{'. With is_sample, each label with a non-empty
 * value is copied into the scratch buffer and appended to ps->labels[*nl]; otherwise
 * (exemplars) labels are only checked. Leaves *pi after '}'.
 */
static int parse_labels(expo_parser *ps, const char *s, size_t n, size_t *pi, size_t *nl,
			bool is_sample)
{
	const ingest_limits *lim = ps->lim;
	char ex[64];
	size_t i = *pi + 1;
	for (;;) {
		i = skip_blanks(ps, s, n, i);
		if (i >= n)
			return line_fail(ps, TS_EPARSE, "unterminated label set");
		if (s[i] == '}') {
			i++;
			break;
		}
		size_t j = i;
		while (j < n && s[j] != '=' && s[j] != ',' && s[j] != '}' && s[j] != '"' &&
		       s[j] != '{' && !is_blank(s[j]))
			j++;
		const char *name = s + i;
		size_t name_len = j - i;
		if (name_len == 0)
			return line_fail(ps, TS_EPARSE, "expected label name at column %zu", i + 1);
		if (name_len > lim->max_name_bytes)
			return line_fail(ps, TS_ELIMIT, "label name '%s' longer than %zu bytes",
					 excerpt(name, name_len, ex, sizeof(ex)),
					 lim->max_name_bytes);
		if (!ts_label_name_valid(name, name_len))
			return line_fail(ps, TS_EPARSE, "invalid label name '%s'",
					 excerpt(name, name_len, ex, sizeof(ex)));
		i = skip_blanks(ps, s, n, j);
		if (i >= n || s[i] != '=')
			return line_fail(ps, TS_EPARSE, "expected '=' after label name '%s'",
					 excerpt(name, name_len, ex, sizeof(ex)));
		i = skip_blanks(ps, s, n, i + 1);
		if (i >= n || s[i] != '"')
			return line_fail(ps, TS_EPARSE,
					 "expected '\"' to open the value of label '%s'",
					 excerpt(name, name_len, ex, sizeof(ex)));
		bool has_esc = false, has_high = false;
		for (j = i + 1; j < n && s[j] != '"'; j++) {
			unsigned char c = (unsigned char)s[j];
			if (c == '\\' && j + 1 < n) {
				/* An unknown escape keeps both bytes: check the second too. */
				has_esc = true;
				c = (unsigned char)s[++j];
			}
			if (c >= 0x80) {
				has_high = true;
			} else if (c == 0) {
				return line_fail(ps, TS_EPARSE,
						 "value of label '%s' contains a NUL byte",
						 excerpt(name, name_len, ex, sizeof(ex)));
			}
		}
		if (j >= n)
			return line_fail(ps, TS_EPARSE, "unterminated value of label '%s'",
					 excerpt(name, name_len, ex, sizeof(ex)));
		const char *raw = s + i + 1;
		size_t raw_len = j - i - 1;
		i = j + 1;
		/* Escapes are ASCII, so the raw bytes are UTF-8 iff the value is. */
		if (has_high && !ts_utf8_valid(raw, raw_len))
			return line_fail(ps, TS_EPARSE, "value of label '%s' is not valid UTF-8",
					 excerpt(name, name_len, ex, sizeof(ex)));
		if (is_sample && raw_len > 0) {
			if (*nl >= lim->max_labels)
				return line_fail(ps, TS_ELIMIT, "more than %zu labels",
						 lim->max_labels);
			if (*nl >= ps->labels_cap) {
				size_t cap = ps->labels_cap * 2;
				ts_label *v = ts_realloc(ps->labels, cap * sizeof(*v));
				if (!v)
					return fatal(ps, TS_ENOMEM, "no memory for labels");
				ps->labels = v;
				ps->labels_cap = cap;
			}
			size_t vlen;
			const char *nm = scratch_put(ps, name, name_len, 0, NULL);
			const char *val = scratch_put(ps, raw, raw_len, has_esc ? 1 : 0, &vlen);
			if (vlen > lim->max_value_bytes)
				return line_fail(ps, TS_ELIMIT,
						 "value of label '%s' longer than %zu bytes", nm,
						 lim->max_value_bytes);
			ps->labels[*nl].name = nm;
			ps->labels[*nl].value = val;
			(*nl)++;
		} else if (raw_len > lim->max_value_bytes) {
			return line_fail(ps, TS_ELIMIT, "value of label '%s' longer than %zu bytes",
					 excerpt(name, name_len, ex, sizeof(ex)),
					 lim->max_value_bytes);
		}
		i = skip_blanks(ps, s, n, i);
		if (i < n && s[i] == ',') {
			i++;
			continue;
		}
		if (i < n && s[i] == '}') {
			i++;
			break;
		}
		return line_fail(ps, TS_EPARSE, "expected ',' or '}' after the value of label '%s'",
				 excerpt(name, name_len, ex, sizeof(ex)));
	}
	*pi = i;
	return TS_OK;
}

/* Sort and check a label set; a sorted one (the usual case) is only checked. */
static int labels_normalize(expo_parser *ps, size_t *nl)
{
	ts_label *v = ps->labels;
	for (size_t i = 1; i < *nl; i++) {
		int c = strcmp(v[i - 1].name, v[i].name);
		if (c == 0)
			return line_fail(ps, TS_EPARSE, "duplicate label name '%s'", v[i].name);
		if (c > 0) {
			ts_err e;
			ts_err_clear(&e);
			if (ts_labels_normalize(v, nl, &e) != TS_OK)
				return line_fail(ps, TS_EPARSE, "%s", e.msg);
			break;
		}
	}
	return TS_OK;
}

/* ================================================================ lines */

static bool is_created_of_family(const expo_parser *ps, const char *name, size_t n)
{
	static const char suffix[] = "_created";
	size_t sl = sizeof(suffix) - 1;
	if (!ps->has_family && ps->family.len == 0)
		return false;
	if (ps->type != TYPE_COUNTER && ps->type != TYPE_HISTOGRAM && ps->type != TYPE_SUMMARY &&
	    ps->type != TYPE_GAUGEHISTOGRAM)
		return false;
	return n == ps->family.len + sl && memcmp(name, ps->family.data, ps->family.len) == 0 &&
	       memcmp(name + ps->family.len, suffix, sl) == 0;
}

/* OpenMetrics exemplar after "# ": "{labels} value [timestamp]" up to the end. */
static int parse_exemplar(expo_parser *ps, const char *s, size_t n, size_t i)
{
	char ex[64];
	if (i >= n || s[i] != '{')
		return line_fail(ps, TS_EPARSE, "expected '{' to open the exemplar labels");
	int rc = parse_labels(ps, s, n, &i, NULL, false);
	if (rc != TS_OK)
		return rc;
	if (i >= n || s[i] != ' ')
		return line_fail(ps, TS_EPARSE, "expected ' ' before the exemplar value");
	size_t j = ++i;
	while (j < n && s[j] != ' ')
		j++;
	double v;
	if (!parse_value(ps, s + i, j - i, &v))
		return line_fail(ps, TS_EPARSE, "invalid exemplar value '%s'",
				 excerpt(s + i, j - i, ex, sizeof(ex)));
	if (j < n) {
		i = j + 1;
		int64_t t;
		if (!parse_ts_om(s + i, n - i, &t))
			return line_fail(ps, TS_EPARSE, "invalid exemplar timestamp '%s'",
					 excerpt(s + i, n - i, ex, sizeof(ex)));
	}
	ps->r.n_exemplars_skipped++;
	return TS_OK;
}

static int parse_sample(expo_parser *ps, const char *s, size_t n)
{
	const ingest_limits *lim = ps->lim;
	char ex[64];
	size_t i = 0, j = 0;
	while (j < n && s[j] != '{' && !is_blank(s[j]))
		j++;
	if (j == 0)
		return line_fail(ps, TS_EPARSE, "missing metric name");
	if (j > lim->max_name_bytes)
		return line_fail(ps, TS_ELIMIT, "metric name '%s' longer than %zu bytes",
				 excerpt(s, j, ex, sizeof(ex)), lim->max_name_bytes);
	if (!ts_metric_name_valid(s, j))
		return line_fail(ps, TS_EPARSE, "invalid metric name '%s'",
				 excerpt(s, j, ex, sizeof(ex)));
	const char *name = s;
	size_t name_len = j;
	ps->labels[0].name = TS_METRIC_NAME;
	ps->labels[0].value = scratch_put(ps, s, j, 0, NULL);
	size_t nl = 1;
	i = skip_blanks(ps, s, n, j);
	if (i < n && s[i] == '{') {
		int rc = parse_labels(ps, s, n, &i, &nl, true);
		if (rc != TS_OK)
			return rc;
	}

	/* Value. */
	if (ps->is_om) {
		if (i >= n || s[i] != ' ')
			return line_fail(ps, TS_EPARSE,
					 "expected ' ' and a value after the metric");
		i++;
	} else {
		i = skip_blanks(ps, s, n, i); /* the name token ended at a blank or '{' */
	}
	if (i >= n)
		return line_fail(ps, TS_EPARSE, "missing value");
	j = i;
	while (j < n && s[j] != ' ' && (ps->is_om || s[j] != '\t'))
		j++;
	double v;
	if (!parse_value(ps, s + i, j - i, &v))
		return line_fail(ps, TS_EPARSE, "invalid value '%s'",
				 excerpt(s + i, j - i, ex, sizeof(ex)));
	i = j;

	/* Timestamp, exemplar. */
	int64_t t_ms = ps->default_t_ms;
	if (ps->is_om && i < n) {
		i++; /* the ' ' that ended the value */
		if (i >= n)
			return line_fail(ps, TS_EPARSE, "unexpected ' ' at the end of the line");
		if (s[i] != '#') {
			j = i;
			while (j < n && s[j] != ' ')
				j++;
			if (!parse_ts_om(s + i, j - i, &t_ms))
				return line_fail(ps, TS_EPARSE, "invalid timestamp '%s'",
						 excerpt(s + i, j - i, ex, sizeof(ex)));
			i = j;
			if (i < n && ++i >= n)
				return line_fail(ps, TS_EPARSE,
						 "unexpected ' ' at the end of the line");
		}
		if (i < n) {
			if (n - i < 2 || s[i] != '#' || s[i + 1] != ' ')
				return line_fail(ps, TS_EPARSE,
						 "expected ' # ' and an exemplar, got '%s'",
						 excerpt(s + i, n - i, ex, sizeof(ex)));
			int rc = parse_exemplar(ps, s, n, i + 2);
			if (rc != TS_OK)
				return rc;
		}
	} else if (!ps->is_om) {
		i = skip_blanks(ps, s, n, i);
		if (i < n) {
			j = i;
			while (j < n && !is_blank(s[j]))
				j++;
			if (!parse_ts_int(s + i, j - i, &t_ms))
				return line_fail(ps, TS_EPARSE, "invalid timestamp '%s'",
						 excerpt(s + i, j - i, ex, sizeof(ex)));
			i = skip_blanks(ps, s, n, j);
			if (i < n)
				return line_fail(ps, TS_EPARSE,
						 "unexpected '%s' after the timestamp",
						 excerpt(s + i, n - i, ex, sizeof(ex)));
		}
	}

	int rc = labels_normalize(ps, &nl);
	if (rc != TS_OK)
		return rc;
	if ((ps->flags & INGEST_EXPO_SKIP_CREATED) && ps->is_om &&
	    is_created_of_family(ps, name, name_len)) {
		ps->r.n_created_skipped++;
		return TS_OK;
	}
	rc = ps->fn(ps->ctx, ps->labels, nl, t_ms, v);
	if (rc != TS_OK)
		return fatal(ps, rc, "sample sink failed (%s)", ts_err_name(rc));
	ps->r.n_samples++;
	return TS_OK;
}

static int type_from_word(const expo_parser *ps, const char *s, size_t n)
{
	static const char *const words_004[] = {"untyped", "counter", "gauge", "histogram",
						"summary"};
	static const int ids_004[] = {TYPE_UNKNOWN, TYPE_COUNTER, TYPE_GAUGE, TYPE_HISTOGRAM,
				      TYPE_SUMMARY};
	if (ps->is_om) {
		for (int t = 0; t < (int)(sizeof(type_names) / sizeof(type_names[0])); t++)
			if (strlen(type_names[t]) == n && memcmp(type_names[t], s, n) == 0)
				return t;
		return -1;
	}
	for (size_t k = 0; k < sizeof(ids_004) / sizeof(ids_004[0]); k++)
		if (strlen(words_004[k]) == n && memcmp(words_004[k], s, n) == 0)
			return ids_004[k];
	return -1;
}

/* "# HELP name text", "# TYPE name type", "# UNIT name unit"; s[i] is the name. */
static int parse_meta(expo_parser *ps, expo_kind kind, const char *s, size_t n, size_t i)
{
	static const char *const kw[] = {"HELP", "TYPE", "UNIT"};
	char ex[64];
	i = skip_blanks(ps, s, n, i);
	size_t j = i;
	while (j < n && !is_blank(s[j]))
		j++;
	const char *name = s + i;
	size_t name_len = j - i;
	if (name_len == 0)
		return line_fail(ps, TS_EPARSE, "expected a metric name after # %s", kw[kind]);
	if (name_len > ps->lim->max_name_bytes)
		return line_fail(ps, TS_ELIMIT, "metric name '%s' longer than %zu bytes",
				 excerpt(name, name_len, ex, sizeof(ex)), ps->lim->max_name_bytes);
	if (!ts_metric_name_valid(name, name_len))
		return line_fail(ps, TS_EPARSE, "invalid metric name '%s' after # %s",
				 excerpt(name, name_len, ex, sizeof(ex)), kw[kind]);
	/* The text starts after exactly one separator (Prometheus: buf()[1:]). */
	if (j < n) {
		if (ps->is_om && s[j] != ' ')
			return line_fail(ps, TS_EPARSE, "expected ' ' after the metric name");
		j++;
	}
	const char *text = s + j;
	size_t text_len = n - j;
	int type = TYPE_UNKNOWN;
	if (kind == KIND_TYPE) {
		if (!ps->is_om) { /* be lenient about blanks around the type word */
			while (text_len && is_blank(*text))
				text++, text_len--;
			while (text_len && is_blank(text[text_len - 1]))
				text_len--;
		}
		type = type_from_word(ps, text, text_len);
		if (type < 0)
			return line_fail(ps, TS_EPARSE, "invalid metric type '%s'",
					 excerpt(text, text_len, ex, sizeof(ex)));
	} else if (kind == KIND_HELP) {
		if (memchr(text, 0, text_len))
			return line_fail(ps, TS_EPARSE, "help text contains a NUL byte");
		if (!ts_utf8_valid(text, text_len))
			return line_fail(ps, TS_EPARSE, "help text is not valid UTF-8");
	} else {
		/* OpenMetrics: a unit must be a suffix of the name after an '_'. */
		if (text_len && (name_len < text_len + 1 || name[name_len - text_len - 1] != '_' ||
				 memcmp(name + name_len - text_len, text, text_len) != 0))
			return line_fail(
			    ps, TS_EPARSE, "unit '%s' is not a suffix of metric '%.*s'",
			    excerpt(text, text_len, ex, sizeof(ex)), (int)name_len, name);
	}

	int rc = meta_family(ps, name, name_len);
	if (rc != TS_OK)
		return rc;
	if (kind == KIND_TYPE) {
		ps->type = type;
		return TS_OK;
	}
	ts_buf *dst = kind == KIND_HELP ? &ps->help : &ps->unit;
	ts_buf_reset(dst);
	if ((rc = ts_buf_reserve(dst, text_len + 1)) != TS_OK)
		return fatal(ps, rc, "no memory for help text");
	/* Unescape: 0.0.4 help knows \\ and \n; OpenMetrics also \" (as label values). */
	int esc = kind != KIND_HELP ? 0 : ps->is_om ? 1 : 2;
	char *w = dst->data;
	for (size_t k = 0; k < text_len; k++) {
		char c = text[k];
		if (esc && c == '\\' && k + 1 < text_len) {
			char e = text[k + 1];
			if (e == '\\' || e == 'n' || (e == '"' && esc == 1)) {
				*w++ = e == 'n' ? '\n' : e;
				k++;
				continue;
			}
		}
		*w++ = c;
	}
	*w = '\0';
	dst->len = (size_t)(w - dst->data);
	return TS_OK;
}

/* A line starting with '#'. Sets *is_eof for OpenMetrics "# EOF". */
static int parse_comment(expo_parser *ps, const char *s, size_t n, bool *is_eof)
{
	if (ps->is_om) {
		if (n == 5 && memcmp(s, "# EOF", 5) == 0) {
			*is_eof = true;
			return TS_OK;
		}
		if (n >= 7 && s[1] == ' ' && s[6] == ' ') {
			if (memcmp(s + 2, "HELP", 4) == 0)
				return parse_meta(ps, KIND_HELP, s, n, 7);
			if (memcmp(s + 2, "TYPE", 4) == 0)
				return parse_meta(ps, KIND_TYPE, s, n, 7);
			if (memcmp(s + 2, "UNIT", 4) == 0)
				return parse_meta(ps, KIND_UNIT, s, n, 7);
		}
		return line_fail(
		    ps, TS_EPARSE,
		    "OpenMetrics allows only '# HELP', '# TYPE', '# UNIT' and '# EOF'");
	}
	/* 0.0.4: "#" blanks HELP|TYPE blanks ...; anything else is a comment. */
	size_t i = 1;
	if (i >= n || !is_blank(s[i]))
		return TS_OK;
	i = skip_blanks(ps, s, n, i);
	if (n - i < 5 || !is_blank(s[i + 4]))
		return TS_OK;
	if (memcmp(s + i, "HELP", 4) == 0)
		return parse_meta(ps, KIND_HELP, s, n, i + 5);
	if (memcmp(s + i, "TYPE", 4) == 0)
		return parse_meta(ps, KIND_TYPE, s, n, i + 5);
	return TS_OK;
}

static int parse_line(expo_parser *ps, const char *s, size_t n, bool *is_eof)
{
	if (n && s[n - 1] == '\r')
		n--;
	if (!ps->is_om) {
		size_t i = skip_blanks(ps, s, n, 0);
		s += i;
		n -= i;
		if (n == 0)
			return TS_OK;
	} else if (n == 0) {
		return line_fail(ps, TS_EPARSE, "empty line (not allowed in OpenMetrics)");
	}
	/* Room for every string of the line: copies are never longer than the text, plus
	 * one NUL per string (at most one per byte). */
	ts_buf_reset(&ps->scratch);
	int rc = ts_buf_reserve(&ps->scratch, 2 * n + 2);
	if (rc != TS_OK)
		return fatal(ps, rc, "no memory for a %zu-byte line", n);
	if (s[0] == '#')
		return parse_comment(ps, s, n, is_eof);
	return parse_sample(ps, s, n);
}

/* ================================================================ public */

ingest_expo_format ingest_exposition_format_detect(const char *content_type)
{
	static const char om[] = "application/openmetrics-text";
	if (!content_type)
		return INGEST_EXPO_TEXT_004;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	size_t n = sizeof(om) - 1;
	if (strncasecmp(content_type, om, n) == 0 &&
	    (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' '))
		return INGEST_EXPO_OPENMETRICS;
	return INGEST_EXPO_TEXT_004;
}

/* AUTO: OpenMetrics iff the last line is "# EOF". */
static bool ends_with_eof(const char *body, size_t len)
{
	if (len && body[len - 1] == '\n')
		len--;
	if (len && body[len - 1] == '\r')
		len--;
	return len >= 5 && memcmp(body + len - 5, "# EOF", 5) == 0 &&
	       (len == 5 || body[len - 6] == '\n');
}

int ingest_exposition_parse(const char *body, size_t len, ingest_expo_format fmt, unsigned flags,
			    int64_t default_t_ms, const ingest_limits *lim, ingest_sample_fn fn,
			    ingest_metadata_fn meta_fn, void *ctx, ingest_expo_result *res,
			    ts_err *err)
{
	static const ingest_limits default_lim = INGEST_LIMITS_DEFAULT;
	if (!fn || (len && !body))
		return ts_err_set(err, TS_EINVAL, "exposition: no body or no sample sink");
	if (!lim)
		lim = &default_lim;
	if (fmt == INGEST_EXPO_AUTO)
		fmt = ends_with_eof(body, len) ? INGEST_EXPO_OPENMETRICS : INGEST_EXPO_TEXT_004;
	if (fmt != INGEST_EXPO_TEXT_004 && fmt != INGEST_EXPO_OPENMETRICS)
		return ts_err_set(err, TS_EINVAL, "exposition: unknown format %d", (int)fmt);

	expo_parser ps;
	memset(&ps, 0, sizeof(ps));
	ps.is_om = fmt == INGEST_EXPO_OPENMETRICS;
	ps.flags = flags;
	ps.default_t_ms = default_t_ms;
	ps.lim = lim;
	ps.fn = fn;
	ps.meta_fn = meta_fn;
	ps.ctx = ctx;
	ps.r.format = fmt;
	size_t line_max = lim->max_line_bytes;
	size_t text_max = line_max < SIZE_MAX ? line_max + 1 : line_max;
	size_t name_max = lim->max_name_bytes < SIZE_MAX ? lim->max_name_bytes + 1 : SIZE_MAX;
	ts_buf_init(&ps.scratch, line_max > (SIZE_MAX - 64) / 2 ? SIZE_MAX / 2 : 2 * line_max + 64);
	ts_buf_init(&ps.family, name_max);
	ts_buf_init(&ps.help, text_max);
	ts_buf_init(&ps.unit, text_max);
	int rc = TS_OK;
	ps.labels_cap = 16;
	ps.labels = ts_malloc(ps.labels_cap * sizeof(*ps.labels));
	if (!ps.labels) {
		rc = ts_err_set(err, TS_ENOMEM, "exposition: no memory");
		goto done;
	}

	const char *p = body, *end = body + len;
	bool saw_eof = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);
		ps.line_no++;
		ps.is_fatal = false;
		if (saw_eof)
			rc = line_fail(&ps, TS_EPARSE, "unexpected data after # EOF");
		else if (n > line_max)
			rc = line_fail(&ps, TS_ELIMIT, "line longer than %zu bytes", line_max);
		else
			rc = parse_line(&ps, p, n, &saw_eof);
		p = nl ? nl + 1 : end;
		if (rc == TS_OK)
			continue;
		if (ps.is_fatal || !(flags & INGEST_EXPO_SKIP_INVALID)) {
			ts_err_set(err, rc, "line %zu: %s", ps.line_no, ps.why);
			goto done;
		}
		if (ps.r.n_invalid_lines++ == 0) {
			ps.r.first_invalid_line = ps.line_no;
			snprintf(ps.r.first_invalid, sizeof(ps.r.first_invalid), "line %zu: %s",
				 ps.line_no, ps.why);
		}
		rc = TS_OK;
		if (saw_eof) /* nothing after # EOF counts; report it once */
			break;
	}
	ps.r.n_lines = ps.line_no;
	if (ps.is_om && !saw_eof) {
		size_t at = ps.line_no + 1;
		if (!(flags & INGEST_EXPO_SKIP_INVALID)) {
			rc = ts_err_set(err, TS_EPARSE, "line %zu: missing # EOF at the end", at);
			goto done;
		}
		if (ps.r.n_invalid_lines++ == 0) {
			ps.r.first_invalid_line = at;
			snprintf(ps.r.first_invalid, sizeof(ps.r.first_invalid),
				 "line %zu: missing # EOF at the end", at);
		}
	}
	ps.is_fatal = false;
	rc = meta_flush(&ps);
	if (rc != TS_OK) {
		ts_err_set(err, rc, "exposition: %s", ps.why);
		goto done;
	}
	if (res)
		*res = ps.r;

done:
	if (ps.c_locale != (locale_t)0)
		freelocale(ps.c_locale);
	ts_free(ps.labels);
	ts_buf_free(&ps.scratch);
	ts_buf_free(&ps.family);
	ts_buf_free(&ps.help);
	ts_buf_free(&ps.unit);
	return rc;
}
