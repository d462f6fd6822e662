/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regex.c: regular expressions with capture groups (ts_regex, see ts_labels.h), the
 * second half of common's pcre2 wrapper next to matcher.c.
 *
 * Prometheus 2.x compiles label_replace() patterns as "^(?:" + re + ")$" with Go's RE2
 * defaults; the same text is compiled here with PCRE2_UTF and PCRE2_DOLLAR_ENDONLY, so an
 * unbalanced pattern such as "a)|(b" behaves as in Go. pcre2 accepts some syntax RE2
 * rejects (back-references, look-around); callers that need RE2's verdict check the
 * pattern first (the PromQL parser does).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "common/ts_labels.h"

#include "common/ts_alloc.h"

#include <pcre2.h>
#include <string.h>

struct ts_regex {
	pcre2_code *code;
	size_t n_groups; /* capture groups + 1 */
};

int ts_regex_new(const char *pattern, ts_regex **out, ts_err *err)
{
	size_t n = strlen(pattern);
	char *text = ts_malloc(n + 7);
	ts_regex *re = ts_calloc(1, sizeof(*re));
	if (!text || !re) {
		ts_free(text);
		ts_free(re);
		return ts_err_set(err, TS_ENOMEM, "out of memory compiling a regex");
	}
	memcpy(text, "^(?:", 4);
	memcpy(text + 4, pattern, n);
	memcpy(text + 4 + n, ")$", 3);
	int code;
	PCRE2_SIZE off;
	re->code = pcre2_compile((PCRE2_SPTR)text, n + 6, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &code,
				 &off, NULL);
	ts_free(text);
	if (!re->code) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(code, msg, sizeof(msg));
		ts_free(re);
		return ts_err_set(err, TS_EINVAL, "invalid regex '%s': %s", pattern, (char *)msg);
	}
	uint32_t caps = 0;
	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &caps);
	re->n_groups = (size_t)caps + 1;
	*out = re;
	return TS_OK;
}

void ts_regex_free(ts_regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	ts_free(re);
}

size_t ts_regex_n_groups(const ts_regex *re)
{
	return re->n_groups;
}

int ts_regex_group_number(const ts_regex *re, const char *name)
{
	int g = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)name);
	return g < 0 ? -1 : g;
}

int ts_regex_match(const ts_regex *re, const char *s, size_t n, size_t *ov, size_t max_groups)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
	if (!md)
		return TS_ENOMEM;
	int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
	if (rc < 0) {
		pcre2_match_data_free(md);
		return 0;
	}
	const PCRE2_SIZE *v = pcre2_get_ovector_pointer(md);
	uint32_t pairs = pcre2_get_ovector_count(md);
	for (size_t i = 0; i < max_groups; i++) {
		bool set = i < pairs && v[2 * i] != PCRE2_UNSET;
		ov[2 * i] = set ? (size_t)v[2 * i] : TS_REGEX_UNSET;
		ov[2 * i + 1] = set ? (size_t)v[2 * i + 1] : TS_REGEX_UNSET;
	}
	pcre2_match_data_free(md);
	return 1;
}
