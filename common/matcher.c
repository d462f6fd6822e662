/* SPDX-License-Identifier: Apache-2.0 */
/*
 * matcher.c: label matchers, the one wrapper around pcre2 (see ts_labels.h).
 *
 * Regex matchers are anchored at both ends like Prometheus 2.x's (`^(?:re)$`) through the
 * PCRE2_ANCHORED and PCRE2_ENDANCHORED options, compiled in UTF mode with $ matching
 * only at the very end (as in Go), `.` not matching a newline (Go's default, which
 * Prometheus 2.x keeps; 3.0 switched to (?s)), and JIT-compiled when the platform supports it.
 * Matching allocates a small match-data block per call, so a compiled matcher can be
 * shared by threads. A subject that is not valid UTF-8, or a match that hits pcre2's
 * backtracking limit, counts as "no match".
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/ts_labels.h"

#include "common/ts_alloc.h"

#include <pcre2.h>
#include <string.h>

int ts_matcher_init(ts_matcher *m, ts_match_type type, const char *name, const char *value,
		    ts_err *err)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->name = ts_strdup(name);
	m->value = ts_strdup(value);
	if (!m->name || !m->value)
		goto nomem;
	if (type == TS_MATCH_RE || type == TS_MATCH_NRE) {
		/*
		 * Anchor with compile options rather than by wrapping the text in ^(?:...)$:
		 * wrapping lets an unbalanced pattern such as "a)|(b" escape the anchors,
		 * and PCRE2's $ also matches before a final newline, which Go's (RE2) does
		 * not. The pattern is untrusted, so its UTF-8 is checked (no NO_UTF_CHECK).
		 */
		int code;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)value, strlen(value),
					       PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ANCHORED |
						   PCRE2_ENDANCHORED,
					       &code, &off, NULL);
		if (!re) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(code, msg, sizeof(msg));
			ts_matcher_fini(m);
			return ts_err_set(err, TS_EINVAL, "invalid regex '%s' at offset %zu: %s",
					  value, (size_t)off, (char *)msg);
		}
		pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort */
		m->re = re;
	}
	return TS_OK;
nomem:
	ts_matcher_fini(m);
	return ts_err_set(err, TS_ENOMEM, "out of memory compiling matcher");
}

void ts_matcher_fini(ts_matcher *m)
{
	if (!m)
		return;
	ts_free(m->name);
	ts_free(m->value);
	if (m->re)
		pcre2_code_free(m->re);
	m->name = m->value = NULL;
	m->re = NULL;
}

static bool re_match(const ts_matcher *m, const char *v)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (!md)
		return false;
	int rc = pcre2_match(m->re, (PCRE2_SPTR)v, strlen(v), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

bool ts_matcher_matches(const ts_matcher *m, const char *value)
{
	const char *v = value ? value : "";
	switch (m->type) {
	case TS_MATCH_EQ: return strcmp(v, m->value) == 0;
	case TS_MATCH_NEQ: return strcmp(v, m->value) != 0;
	case TS_MATCH_RE: return re_match(m, v);
	case TS_MATCH_NRE: return !re_match(m, v);
	}
	return false;
}

bool ts_matcher_matches_empty(const ts_matcher *m)
{
	return ts_matcher_matches(m, "");
}

const char *ts_match_type_str(ts_match_type t)
{
	switch (t) {
	case TS_MATCH_EQ: return "=";
	case TS_MATCH_NEQ: return "!=";
	case TS_MATCH_RE: return "=~";
	case TS_MATCH_NRE: return "!~";
	}
	return "?";
}
