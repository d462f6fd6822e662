/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http_params.c: libFuzzer target for URL percent-decoding and the
 * x-www-form-urlencoded parameter parser (web/http_params.c), plus request-target
 * splitting through web_req_new.
 *
 * Input: "<query string>\n<form body>" (no newline: all of it is the query). Each input
 * goes through web_params_parse, and on success the invariants the API handlers rely on
 * are checked: every key's first value is its first in arrival order, web_params_get_all
 * returns each value of a key in arrival order, and the groups add up to the pair count.
 * Decoded strings never exceed their input. Inputs are capped at 64 KiB.
 */
#include "web/http_server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (64 * 1024)

static void check_params(const web_params *p)
{
	size_t n = web_params_count(p), total = 0;
	if (n > 300) /* the check is quadratic: keep the fuzzer fast */
		return;
	for (size_t i = 0; i < n; i++) {
		const char *key, *val;
		web_params_at(p, i, &key, &val);
		/* the first occurrence of this key owns the group */
		size_t first = i;
		for (size_t j = 0; j < i; j++) {
			const char *k2, *v2;
			web_params_at(p, j, &k2, &v2);
			if (strcmp(k2, key) == 0) {
				first = j;
				break;
			}
		}
		if (first != i)
			continue;
		const char *const *vals;
		size_t nv;
		web_params_get_all(p, key, &vals, &nv);
		if (nv == 0 || web_params_get(p, key) != vals[0] || vals[0] != val)
			abort();
		size_t seen = 0;
		for (size_t j = i; j < n; j++) {
			const char *k2, *v2;
			web_params_at(p, j, &k2, &v2);
			if (strcmp(k2, key) == 0 && (seen >= nv || vals[seen++] != v2))
				abort();
		}
		if (seen != nv)
			abort();
		total += nv;
	}
	if (total != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	const char *s = (const char *)data;
	const char *nl = memchr(s, '\n', size);
	size_t qn = nl ? (size_t)(nl - s) : size;
	const char *form = nl ? nl + 1 : "";
	size_t fn = nl ? size - qn - 1 : 0;

	web_params *p = NULL;
	ts_err err = {0};
	if (web_params_parse(form, fn, s, qn, &p, &err) == TS_OK) {
		check_params(p);
		web_params_free(p);
	}

	char *out = malloc(size + 1);
	size_t on = 0;
	if (out && web_url_decode(s, size, true, out, &on, "fuzz", &err) == TS_OK && on > size)
		abort();
	free(out);

	/* the same bytes as a request target ("/" + query up to the first NUL) */
	char *target = malloc(qn + 3);
	if (target) {
		target[0] = '/';
		target[1] = '?';
		memcpy(target + 2, s, qn);
		target[qn + 2] = '\0';
		web_req *req = NULL;
		if (web_req_new("POST", target, "application/x-www-form-urlencoded", form, fn, &req,
				&err) == TS_OK)
			web_req_free(req);
		free(target);
	}
	return 0;
}
