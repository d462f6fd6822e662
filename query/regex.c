/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regex.c: label_replace(), on common's ts_regex (capture groups).
 *
 * As Prometheus 2.42 does, the pattern is compiled as the text "^(?:" + regex + ")$"
 * (so an unbalanced pattern like "a)|(b" behaves as in Go), with $ matching only at the
 * very end and `.` not matching a newline. The source label's value (empty when absent)
 * is matched once per input series; without a match the labels stay as they are,
 * otherwise the replacement is expanded like Go's Regexp.ExpandString ($1, ${1}, $name,
 * ${name}, $$; a name runs over letters, digits and '_', so "$1x" names the group "1x";
 * unknown or unset groups expand to nothing; a malformed reference is kept literally)
 * and the destination label is set to it, or deleted when it is empty.
 *
 * Differences from Go's RE2 (see docs/PROMQL.md): pcre2 accepts some syntax RE2 rejects
 * (back-references, look-around), and \C, \X and similar escapes mean pcre2's things.
 */
#include "query/eval.h"

#include <string.h>

/* Capture groups label_replace can reference ($0..$63). */
#define MAX_GROUPS 64

static void regex_free(void *arg)
{
	ts_regex_free(arg);
}

static bool name_rune(unsigned char ch)
{
	/* Go accepts any Unicode letter or digit; every byte >= 0x80 of a valid UTF-8
	 * letter is accepted here, which only differs for non-letter symbols. */
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch >= 0x80;
}

/* Go's regexp extract(): a group reference after '$'. */
static bool extract(const char *s, size_t n, const char **name, size_t *name_len, long *num,
		    size_t *used)
{
	size_t i = 0;
	bool brace = false;
	if (n == 0)
		return false;
	if (s[0] == '{') {
		brace = true;
		i = 1;
	}
	size_t start = i;
	while (i < n && name_rune((unsigned char)s[i]))
		i++;
	if (i == start)
		return false;
	*name = s + start;
	*name_len = i - start;
	if (brace) {
		if (i >= n || s[i] != '}')
			return false;
		i++;
	}
	long v = 0;
	for (size_t k = 0; k < *name_len; k++) {
		char ch = (*name)[k];
		if (ch < '0' || ch > '9' || v >= 100000000) {
			v = -1;
			break;
		}
		v = v * 10 + (ch - '0');
	}
	if ((*name)[0] == '0' && *name_len > 1)
		v = -1;
	*num = v;
	*used = i;
	return true;
}

static int expand(const ts_regex *re, const char *tmpl, const char *src, const size_t *ov,
		  size_t n_pairs, ts_buf *out)
{
	int rc = TS_OK;
	size_t n = strlen(tmpl);
	for (size_t i = 0; i < n && rc == TS_OK;) {
		if (tmpl[i] != '$') {
			rc = ts_buf_putc(out, tmpl[i++]);
			continue;
		}
		i++;
		if (i < n && tmpl[i] == '$') {
			rc = ts_buf_putc(out, '$');
			i++;
			continue;
		}
		const char *name;
		size_t name_len, used;
		long num;
		if (!extract(tmpl + i, n - i, &name, &name_len, &num, &used)) {
			rc = ts_buf_putc(out, '$');
			continue;
		}
		i += used;
		if (num < 0) {
			char nm[256];
			if (name_len >= sizeof(nm))
				continue;
			memcpy(nm, name, name_len);
			nm[name_len] = '\0';
			int g = ts_regex_group_number(re, nm);
			if (g < 0)
				continue;
			num = g;
		}
		if ((size_t)num >= n_pairs || ov[2 * num] == TS_REGEX_UNSET)
			continue;
		rc = ts_buf_append(out, src + ov[2 * num], ov[2 * num + 1] - ov[2 * num]);
	}
	return rc;
}

static const char *arg_string(const query_expr *e)
{
	e = qe_unparen(e);
	return e->kind == QUERY_EXPR_STRING ? e->string.val : "";
}

/* Labels of one series after label_replace. */
static int replace_one(qe_ctx *c, const ts_regex *re, const char *dst, const char *repl,
		       const char *src, const qe_series *s, ts_buf *buf, ts_label **out,
		       size_t *n_out)
{
	const char *sv = ts_labels_get(s->labels, s->n_labels, src);
	if (!sv)
		sv = "";
	size_t ov[2 * MAX_GROUPS];
	size_t n_groups = ts_regex_n_groups(re);
	if (n_groups > MAX_GROUPS)
		n_groups = MAX_GROUPS;
	int m = ts_regex_match(re, sv, strlen(sv), ov, n_groups);
	if (m < 0)
		return qe_nomem(c);
	if (m == 0) {
		*out = s->labels;
		*n_out = s->n_labels;
		return TS_OK;
	}
	ts_buf_reset(buf);
	int rc = expand(re, repl, sv, ov, n_groups, buf);
	if (rc)
		return rc == TS_ENOMEM ? qe_nomem(c)
				       : ts_err_set(c->err, rc, "label_replace result too long");
	char *val = query_arena_strndup(c->arena, buf->data ? buf->data : "", buf->len);
	if (!val)
		return qe_nomem(c);
	return qe_labels_set(c, s->labels, s->n_labels, dst, val, out, n_out);
}

int qe_label_replace(qe_ctx *c, const query_expr *e, const qe_value *v, qe_value *out)
{
	const char *dst = arg_string(e->call.args[1]), *repl = arg_string(e->call.args[2]);
	const char *src = arg_string(e->call.args[3]), *regex = arg_string(e->call.args[4]);
	ts_regex *re = NULL;
	int rc = ts_regex_new(regex, &re, NULL);
	if (rc == TS_ENOMEM)
		return qe_nomem(c);
	if (rc)
		return ts_err_set(c->err, TS_EINVAL,
				  "invalid regular expression in label_replace(): %s", regex);
	rc = query_arena_defer(c->arena, regex_free, re);
	if (rc) {
		ts_regex_free(re);
		return qe_nomem(c);
	}
	if (!ts_label_name_valid(dst, strlen(dst)))
		return ts_err_set(c->err, TS_EINVAL,
				  "invalid destination label name in label_replace(): %s", dst);
	qe_vbuild b;
	ts_buf buf;
	ts_buf_init(&buf, 1 << 20);
	rc = qe_vbuild_init(c, &b, v->n_vec);
	for (size_t k = 0; rc == TS_OK && k < v->n_vec; k++) {
		const qe_series *s = &v->vec[k];
		size_t idx = SIZE_MAX;
		for (size_t i = 0; rc == TS_OK && i < c->n_steps; i++) {
			if (!s->ok[i])
				continue;
			if (idx == SIZE_MAX) {
				ts_label *l;
				size_t n;
				rc = replace_one(c, re, dst, repl, src, s, &buf, &l, &n);
				if (rc == TS_OK)
					rc = qe_vbuild_index(c, &b, l, n, &idx);
				if (rc)
					break;
			}
			rc = qe_vbuild_set(c, &b, idx, i, s->v[i]);
		}
	}
	ts_buf_free(&buf);
	if (rc)
		return rc;
	qe_vbuild_finish(&b, out);
	return TS_OK;
}
