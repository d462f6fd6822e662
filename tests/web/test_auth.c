/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_auth.c: tests for web/auth.c: the auth: section (valid, and each error with its
 * position), route scopes, every credential form, 401 vs 403 and their messages, the
 * verified-credentials cache, web_auth_hash_secret; and web/tls.c's section errors.
 */
#include "web/auth.h"
#include "web/web_int.h"
#include "support/test_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static char h_alice[128], h_tok[128], h_root[128];

static int setup(void **state)
{
	(void)state;
	if (web_auth_hash_secret("alice-pw", 4, h_alice, sizeof(h_alice), NULL) ||
	    web_auth_hash_secret("tok-w", 4, h_tok, sizeof(h_tok), NULL) ||
	    web_auth_hash_secret("root-pw", 4, h_root, sizeof(h_root), NULL))
		return -1;
	return 0;
}

static ts_config *load_text(const char *text, ts_err *err, int *rc)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%d.yml", test_fresh_dir("test_auth"), (int)strlen(text));
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	ts_config *c = NULL;
	*rc = ts_config_load(path, &c, err);
	return c;
}

static web_auth *load_auth(const char *text, int *rc, ts_err *err)
{
	int lrc;
	ts_config *c = load_text(text, err, &lrc);
	assert_int_equal(lrc, TS_OK);
	web_auth *a = NULL;
	*rc = web_auth_load(c, &a, err);
	ts_config_free(c);
	return a;
}

static web_auth *good_auth(void)
{
	char yml[1024];
	snprintf(yml, sizeof(yml),
		 "auth:\n"
		 "  users:\n"
		 "    - {name: alice, password_hash: '%s', scopes: [read, write]}\n"
		 "    - {name: root, password_hash: '%s', scopes: [admin]}\n"
		 "  tokens:\n"
		 "    - {name: telegraf, token_hash: '%s', scopes: [write]}\n",
		 h_alice, h_root, h_tok);
	int rc;
	ts_err e = {0};
	web_auth *a = load_auth(yml, &rc, &e);
	assert_int_equal(rc, TS_OK);
	assert_non_null(a);
	return a;
}

static void test_web_auth_route_scope(void **state)
{
	(void)state;
	assert_int_equal(web_auth_route_scope("GET", "/-/healthy"), WEB_SCOPE_OPEN);
	assert_int_equal(web_auth_route_scope("GET", "/-/ready"), WEB_SCOPE_OPEN);
	assert_int_equal(web_auth_route_scope("POST", "/write"), WEB_SCOPE_WRITE);
	assert_int_equal(web_auth_route_scope("POST", "/api/v2/write"), WEB_SCOPE_WRITE);
	assert_int_equal(web_auth_route_scope("POST", "/api/v1/write"), WEB_SCOPE_WRITE);
	assert_int_equal(web_auth_route_scope("POST", "/api/v1/import/prometheus"),
			 WEB_SCOPE_WRITE);
	assert_int_equal(web_auth_route_scope("POST", "/api/v1/admin/tsdb/snapshot"),
			 WEB_SCOPE_ADMIN);
	assert_int_equal(web_auth_route_scope("POST", "/-/reload"), WEB_SCOPE_ADMIN);
	assert_int_equal(web_auth_route_scope("POST", "/api/v2/silences"), WEB_SCOPE_ADMIN);
	assert_int_equal(web_auth_route_scope("DELETE", "/api/v2/silence/x"), WEB_SCOPE_ADMIN);
	assert_int_equal(web_auth_route_scope("GET", "/api/v2/silences"), WEB_SCOPE_READ);
	assert_int_equal(web_auth_route_scope("GET", "/api/v1/query"), WEB_SCOPE_READ);
	assert_int_equal(web_auth_route_scope("GET", "/"), WEB_SCOPE_READ);
	assert_int_equal(web_auth_route_scope("GET", "/no/such/route"), WEB_SCOPE_READ);
	assert_string_equal(web_auth_scope_name(WEB_SCOPE_ADMIN), "admin");
}

static void check(web_auth *a, const char *method, const char *path, const char *authz,
		  const char *query, int want, const char *want_msg)
{
	web_auth_result r;
	web_auth_check(a, method, path, authz, query, query ? strlen(query) : 0, &r);
	assert_int_equal(r.status, want);
	if (want_msg)
		assert_non_null(strstr(r.msg, want_msg));
}

static void test_web_auth_check_forms(void **state)
{
	(void)state;
	web_auth *a = good_auth();
	/* "alice:alice-pw", "root:root-pw", "alice:bad", "nobody:x" in base64 */
	const char *alice = "Basic YWxpY2U6YWxpY2UtcHc=", *root = "Basic cm9vdDpyb290LXB3";
	check(a, "GET", "/api/v1/query", NULL, NULL, 401, "authentication required");
	check(a, "GET", "/api/v1/query", alice, NULL, 0, NULL);
	check(a, "HEAD", "/api/v1/query", alice, NULL, 0, NULL);
	check(a, "GET", "/api/v1/query", "Basic YWxpY2U6YmFk", NULL, 401, "invalid credentials");
	check(a, "GET", "/api/v1/query", "Basic bm9ib2R5Ong=", NULL, 401, "invalid credentials");
	check(a, "GET", "/api/v1/query", "Basic !!!", NULL, 401, "unsupported");
	check(a, "GET", "/api/v1/query", "Basic YWxpY2U=", NULL, 401, NULL); /* no colon */
	check(a, "GET", "/api/v1/query", "Negotiate abc", NULL, 401, "unsupported");
	check(a, "POST", "/write", "Bearer tok-w", NULL, 0, NULL);
	check(a, "POST", "/api/v2/write", "Token tok-w", NULL, 0, NULL);
	check(a, "POST", "/api/v2/write", "Token alice:alice-pw", NULL, 0, NULL);
	check(a, "POST", "/api/v2/write", "Token alice:nope", NULL, 401, NULL);
	check(a, "GET", "/api/v1/query", "Bearer tok-w", NULL, 403,
	      "token 'telegraf' lacks the read scope that GET /api/v1/query needs");
	check(a, "POST", "/write", NULL, "db=x&u=alice&p=alice-pw", 0, NULL);
	check(a, "POST", "/write", NULL, "u=alice&p=alice%2Dpw", 0, NULL);
	check(a, "POST", "/write", NULL, "u=alice&p=wrong", 401, "invalid credentials");
	check(a, "POST", "/write", NULL, "u=alice", 401, "authentication required");
	check(a, "POST", "/-/reload", alice, NULL, 403, "lacks the admin scope");
	check(a, "POST", "/-/reload", root, NULL, 0, NULL);
	check(a, "POST", "/write", root, NULL, 0, NULL); /* admin implies write */
	check(a, "GET", "/-/healthy", NULL, NULL, 0, NULL);
	/* no access control: everything passes */
	check(NULL, "POST", "/-/reload", NULL, NULL, 0, NULL);
	web_auth_free(a);
}

static void test_web_auth_check_cache(void **state)
{
	(void)state;
	web_auth *a = good_auth();
	assert_int_equal(web_auth_cache_size(a), 0);
	check(a, "GET", "/api/v1/query", "Basic YWxpY2U6YmFk", NULL, 401, NULL);
	assert_int_equal(web_auth_cache_size(a), 0); /* failures are not cached */
	check(a, "GET", "/api/v1/query", "Basic YWxpY2U6YWxpY2UtcHc=", NULL, 0, NULL);
	check(a, "GET", "/api/v1/query", "Basic YWxpY2U6YWxpY2UtcHc=", NULL, 0, NULL);
	assert_int_equal(web_auth_cache_size(a), 1);
	/* a cached user still gets 403 for a scope it lacks */
	check(a, "POST", "/-/reload", "Basic YWxpY2U6YWxpY2UtcHc=", NULL, 403, NULL);
	check(a, "POST", "/write", "Bearer tok-w", NULL, 0, NULL);
	assert_int_equal(web_auth_cache_size(a), 2);
	web_auth_free(a);
}

static void load_fails(const char *yml, const char *want)
{
	int rc;
	ts_err e = {0};
	web_auth *a = load_auth(yml, &rc, &e);
	assert_null(a);
	assert_int_equal(rc, TS_EINVAL);
	if (!strstr(e.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, want);
}

static void test_web_auth_load_errors(void **state)
{
	(void)state;
	char yml[512];
	load_fails("auth: 3\n", ":1:7: auth: expected a mapping");
	load_fails("auth:\n  userz: []\n", ":2:3: unknown key 'auth.userz'");
	load_fails("auth:\n  users: []\n", "needs at least one entry");
	load_fails("auth:\n  users:\n    - {name: a, password: x, scopes: [read]}\n",
		   ":3:17: auth.users.password: plaintext secrets are not accepted");
	load_fails("auth:\n  users:\n    - {name: a, password_hash: x, scopes: [read]}\n",
		   "not a supported crypt(3) hash");
	load_fails(
	    "auth:\n  users:\n    - {name: a, password_hash: '$1$abc$def', scopes: [read]}\n",
	    "not a supported crypt(3) hash"); /* MD5-crypt is refused */
	snprintf(yml, sizeof(yml), "auth:\n  users:\n    - {name: a, password_hash: '%s'}\n",
		 h_alice);
	load_fails(yml, "auth.users.scopes is missing for 'a'");
	snprintf(yml, sizeof(yml),
		 "auth:\n  tokens:\n    - {name: a, token_hash: '%s', scopes: [sudo]}\n", h_tok);
	load_fails(yml, "unknown scope 'sudo'");
	snprintf(yml, sizeof(yml),
		 "auth:\n  tokens:\n    - {name: a, token_hash: '%s', scopes: [read]}\n"
		 "    - {name: a, token_hash: '%s', scopes: [read]}\n",
		 h_tok, h_tok);
	load_fails(yml, ":4:14: auth.tokens.name: duplicate name 'a'");
	snprintf(yml, sizeof(yml),
		 "auth:\n  users:\n    - {name: 'a:b', password_hash: '%s', scopes: [read]}\n",
		 h_alice);
	load_fails(yml, "must be 1-127 bytes without ':'");
	/* no section: no access control */
	int rc;
	ts_err e = {0};
	assert_null(load_auth("server: {threads: 2}\n", &rc, &e));
	assert_int_equal(rc, TS_OK);
	web_auth *a = NULL;
	assert_int_equal(web_auth_load(NULL, &a, NULL), TS_OK);
	assert_null(a);
	web_auth_free(NULL);
}

static void test_web_auth_hash_secret(void **state)
{
	(void)state;
	char h[128];
	ts_err e = {0};
	assert_int_equal(web_auth_hash_secret("pw", 4, h, sizeof(h), &e), TS_OK);
	assert_memory_equal(h, "$2b$04$", 7);
	assert_int_equal(strlen(h), 60);
	char h2[128];
	assert_int_equal(web_auth_hash_secret("pw", 4, h2, sizeof(h2), &e), TS_OK);
	assert_string_not_equal(h, h2); /* salted */
	assert_int_equal(web_auth_hash_secret("pw", 3, h, sizeof(h), &e), TS_EINVAL);
	assert_int_equal(web_auth_hash_secret("", 4, h, sizeof(h), &e), TS_EINVAL);
	assert_int_equal(web_auth_hash_secret("pw", 4, h, 64, &e), TS_EINVAL);
	char longpw[100];
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	assert_int_equal(web_auth_hash_secret(longpw, 4, h, sizeof(h), &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "72 bytes"));
}

static void test_web_tls_config_load_errors(void **state)
{
	(void)state;
	const char *cases[][2] = {
	    {"tls: [1]\n", ":1:6: tls: expected a mapping"},
	    {"tls:\n  cert: x\n", ":2:3: unknown key 'tls.cert'"},
	    {"tls:\n  cert_file: x\n", "tls: needs both cert_file and key_file"},
	    {"tls:\n  cert_file: /nonexistent/c\n  key_file: k\n",
	     ":2:14: tls.cert_file: cannot open /nonexistent/c"},
	    {"tls:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n",
	     "tls.min_version: 'TLS10' is not one of TLS12, TLS13"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int lrc;
		ts_err e = {0};
		ts_config *c = load_text(cases[i][0], &e, &lrc);
		assert_int_equal(lrc, TS_OK);
		web_tls_config t;
		assert_int_equal(web_tls_config_load(c, &t, &e), TS_EINVAL);
		if (!strstr(e.msg, cases[i][1]))
			fail_msg("message \"%s\" lacks \"%s\"", e.msg, cases[i][1]);
		ts_config_free(c);
	}
	/* a file that is not PEM */
	char yml[1024];
	snprintf(yml, sizeof(yml), "tls:\n  cert_file: %s/CMakeLists.txt\n  key_file: x\n",
		 STRATA_SOURCE_DIR);
	int lrc;
	ts_err e = {0};
	ts_config *c = load_text(yml, &e, &lrc);
	web_tls_config t;
	assert_int_equal(web_tls_config_load(c, &t, &e), TS_EINVAL);
	assert_non_null(strstr(e.msg, "not PEM"));
	ts_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_web_auth_route_scope),
	    cmocka_unit_test(test_web_auth_check_forms),
	    cmocka_unit_test(test_web_auth_check_cache),
	    cmocka_unit_test(test_web_auth_load_errors),
	    cmocka_unit_test(test_web_auth_hash_secret),
	    cmocka_unit_test(test_web_tls_config_load_errors),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
