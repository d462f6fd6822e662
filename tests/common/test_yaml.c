/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_yaml.c: unit tests for common/yaml.c (the libyaml wrapper).
 *
 * Tree shape and positions for block and flow collections, scalar styles and nulls,
 * anchors and aliases (sharing, redefinition, unknown, recursive, "billion laughs"),
 * duplicate keys and syntax errors with name:line:col, trailing garbage, the depth, node
 * and size limits, allocation failure at every step, the typed readers and their
 * messages, and loading files (tests/data/common/yaml_sample.yml).
 */
#include "common/common.h"

#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#define DATA_DIR STRATA_SOURCE_DIR "/tests/data/common"

static int reset_injection(void **state)
{
	ts_alloc_fail_after(-1);
	return 0;
}

static ts_yaml_doc *parse_ok(const char *text)
{
	ts_yaml_doc *d = NULL;
	ts_err err = {0};
	int rc = ts_yaml_parse("t.yml", text, strlen(text), &d, &err);
	if (rc != TS_OK)
		fail_msg("parse failed (%s): %s", ts_err_name(rc), err.msg);
	assert_non_null(d);
	return d;
}

/* Parse text expecting `code`; the message must equal `msg` (or contain it if partial). */
static void parse_fails(const char *text, int code, const char *msg, bool exact)
{
	ts_yaml_doc *d = (ts_yaml_doc *)0x1;
	ts_err err = {0};
	int rc = ts_yaml_parse("t.yml", text, strlen(text), &d, &err);
	if (rc != code)
		fail_msg("want %s, got %s (%s)", ts_err_name(code), ts_err_name(rc), err.msg);
	assert_int_equal(err.code, code);
	assert_ptr_equal(d, (ts_yaml_doc *)0x1); /* untouched on error */
	if (exact ? strcmp(err.msg, msg) != 0 : !strstr(err.msg, msg))
		fail_msg("message '%s' %s '%s'", err.msg, exact ? "is not" : "lacks", msg);
}

static void assert_matches(const char *s, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	int rc = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		fail_msg("'%s' does not match /%s/", s, pattern);
}

static const char *scalar(const ts_yaml_node *n)
{
	assert_non_null(n);
	assert_int_equal(n->type, TS_YAML_SCALAR);
	return n->scalar;
}

/* ---------------------------------------------------------------- structure */

static void test_ts_yaml_parse_block_map(void **state)
{
	ts_yaml_doc *d = parse_ok("a: 1\nbee: two words\n");
	const ts_yaml_node *r = ts_yaml_root(d);
	assert_int_equal(r->type, TS_YAML_MAP);
	assert_int_equal(r->n, 2);
	assert_string_equal(scalar(r->keys[0]), "a");
	assert_string_equal(scalar(r->items[0]), "1");
	assert_string_equal(scalar(r->keys[1]), "bee");
	assert_string_equal(scalar(ts_yaml_get(r, "bee")), "two words");
	assert_int_equal(ts_yaml_get(r, "bee")->len, 9);
	assert_int_equal(r->line, 1);
	assert_int_equal(r->column, 1);
	assert_int_equal(r->keys[1]->line, 2);
	assert_int_equal(r->keys[1]->column, 1);
	assert_int_equal(r->items[1]->line, 2);
	assert_int_equal(r->items[1]->column, 6);
	assert_string_equal(ts_yaml_name(d), "t.yml");
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_nested_seq_and_map(void **state)
{
	ts_yaml_doc *d = parse_ok("groups:\n"
				  "  - name: a\n"
				  "    rules:\n"
				  "      - x\n"
				  "      - y\n"
				  "  - name: b\n");
	const ts_yaml_node *g = ts_yaml_get(ts_yaml_root(d), "groups");
	assert_int_equal(g->type, TS_YAML_SEQ);
	assert_int_equal(g->n, 2);
	assert_null(g->keys);
	const ts_yaml_node *rules = ts_yaml_get(g->items[0], "rules");
	assert_int_equal(rules->type, TS_YAML_SEQ);
	assert_int_equal(rules->n, 2);
	assert_string_equal(scalar(rules->items[1]), "y");
	assert_int_equal(rules->items[1]->line, 5);
	assert_int_equal(rules->items[1]->column, 9);
	assert_string_equal(scalar(ts_yaml_get(g->items[1], "name")), "b");
	assert_int_equal(g->items[1]->line, 6);
	assert_int_equal(g->items[1]->column, 5);
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_flow_style(void **state)
{
	ts_yaml_doc *d = parse_ok("{a: [1, 2, {b: c}], d: {}, e: []}");
	const ts_yaml_node *r = ts_yaml_root(d);
	assert_int_equal(r->type, TS_YAML_MAP);
	const ts_yaml_node *a = ts_yaml_get(r, "a");
	assert_int_equal(a->type, TS_YAML_SEQ);
	assert_int_equal(a->n, 3);
	assert_string_equal(scalar(a->items[1]), "2");
	assert_string_equal(scalar(ts_yaml_get(a->items[2], "b")), "c");
	assert_int_equal(a->items[2]->column, 12);
	assert_int_equal(ts_yaml_get(r, "d")->type, TS_YAML_MAP);
	assert_int_equal(ts_yaml_get(r, "d")->n, 0);
	assert_int_equal(ts_yaml_get(r, "e")->type, TS_YAML_SEQ);
	assert_int_equal(ts_yaml_get(r, "e")->n, 0);
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_large_collections(void **state)
{
	/* Child arrays grow in powers of two: cross several boundaries. */
	char *text = malloc(200000);
	size_t off = 0;
	for (int i = 0; i < 5000; i++)
		off += (size_t)snprintf(text + off, 200000 - off, "k%d: [%d, %d]\n", i, i, -i);
	ts_yaml_doc *d = parse_ok(text);
	const ts_yaml_node *r = ts_yaml_root(d);
	assert_int_equal(r->n, 5000);
	for (int i = 0; i < 5000; i += 499) {
		char k[16], v[16];
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "%d", -i);
		const ts_yaml_node *s = ts_yaml_get(r, k);
		assert_int_equal(s->n, 2);
		assert_string_equal(scalar(s->items[1]), v);
		assert_int_equal(s->line, i + 1);
	}
	ts_yaml_free(d);
	free(text);
}

static void test_ts_yaml_parse_scalar_styles(void **state)
{
	ts_yaml_doc *d = parse_ok("plain: hello\n"
				  "dq: \"a\\tb\\u00e9\"\n"
				  "sq: 'it''s'\n"
				  "lit: |\n"
				  "  line1\n"
				  "  line2\n"
				  "fold: >\n"
				  "  a\n"
				  "  b\n");
	const ts_yaml_node *r = ts_yaml_root(d);
	const ts_yaml_node *n = ts_yaml_get(r, "plain");
	assert_false(n->is_quoted);
	n = ts_yaml_get(r, "dq");
	assert_true(n->is_quoted);
	assert_string_equal(n->scalar, "a\tb\xc3\xa9");
	n = ts_yaml_get(r, "sq");
	assert_true(n->is_quoted);
	assert_string_equal(n->scalar, "it's");
	n = ts_yaml_get(r, "lit");
	assert_true(n->is_quoted);
	assert_string_equal(n->scalar, "line1\nline2\n");
	n = ts_yaml_get(r, "fold");
	assert_true(n->is_quoted);
	assert_string_equal(n->scalar, "a b\n");
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_scalar_with_nul_byte(void **state)
{
	/* The tree is read as C strings (len would disagree with strlen): rejected. */
	parse_fails("k: \"a\\0b\"\n", TS_EPARSE, "t.yml:1:4: NUL byte in scalar", true);
	parse_fails("d: \"5m\\0junk\"\n", TS_EPARSE, "NUL byte in scalar", false);
	parse_fails("\"a\\0\": 1\n", TS_EPARSE, "t.yml:1:1: NUL byte in scalar", true);
}

static void test_ts_yaml_is_null(void **state)
{
	ts_yaml_doc *d = parse_ok("a:\nb: ~\nc: null\nd: Null\ne: NULL\nf: \"null\"\ng: ''\n"
				  "h: nul\ni: [x]\n");
	const ts_yaml_node *r = ts_yaml_root(d);
	const char *yes[] = {"a", "b", "c", "d", "e"};
	for (size_t i = 0; i < 5; i++)
		assert_true(ts_yaml_is_null(ts_yaml_get(r, yes[i])));
	assert_false(ts_yaml_is_null(ts_yaml_get(r, "f")));
	assert_false(ts_yaml_is_null(ts_yaml_get(r, "g")));
	assert_false(ts_yaml_is_null(ts_yaml_get(r, "h")));
	assert_false(ts_yaml_is_null(ts_yaml_get(r, "i")));
	assert_false(ts_yaml_is_null(NULL));
	ts_yaml_free(d);
}

static void test_ts_yaml_get_edge_cases(void **state)
{
	ts_yaml_doc *d = parse_ok("a: 1\nlist: [x]\n");
	const ts_yaml_node *r = ts_yaml_root(d);
	assert_null(ts_yaml_get(r, "missing"));
	assert_null(ts_yaml_get(r, "A"));
	assert_null(ts_yaml_get(ts_yaml_get(r, "list"), "x")); /* not a map */
	assert_null(ts_yaml_get(ts_yaml_get(r, "a"), "a"));
	assert_null(ts_yaml_get(NULL, "a"));
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_empty_documents(void **state)
{
	const char *empty[] = {"",    "\n\n", "# only a comment\n", "---\n",
			       "~\n", "null", "---\n...\n"};
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		ts_yaml_doc *d = parse_ok(empty[i]);
		assert_null(ts_yaml_root(d));
		ts_yaml_free(d);
	}
	ts_yaml_doc *d = parse_ok("\"null\"");
	assert_non_null(ts_yaml_root(d)); /* a quoted null is a string */
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_scalar_root(void **state)
{
	ts_yaml_doc *d = parse_ok("just text");
	assert_string_equal(scalar(ts_yaml_root(d)), "just text");
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_first_document_only(void **state)
{
	ts_yaml_doc *d = parse_ok("a: 1\n---\nb: 2\n");
	const ts_yaml_node *r = ts_yaml_root(d);
	assert_non_null(ts_yaml_get(r, "a"));
	assert_null(ts_yaml_get(r, "b"));
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_uses_length(void **state)
{
	const char *text = "a: 1\nb: [";
	ts_yaml_doc *d = NULL;
	assert_int_equal(ts_yaml_parse("t", text, 5, &d, NULL), TS_OK);
	assert_int_equal(ts_yaml_root(d)->n, 1);
	ts_yaml_free(d);
}

/* ---------------------------------------------------------------- anchors and aliases */

static void test_ts_yaml_parse_alias_shares_node(void **state)
{
	ts_yaml_doc *d = parse_ok("base: &b {x: 1, y: [2]}\n"
				  "derived: *b\n"
				  "name: &n hello\n"
				  "again: *n\n"
				  "list: [*b, *n]\n");
	const ts_yaml_node *r = ts_yaml_root(d);
	const ts_yaml_node *base = ts_yaml_get(r, "base");
	assert_ptr_equal(ts_yaml_get(r, "derived"), base);
	assert_ptr_equal(ts_yaml_get(r, "again"), ts_yaml_get(r, "name"));
	const ts_yaml_node *list = ts_yaml_get(r, "list");
	assert_ptr_equal(list->items[0], base);
	assert_string_equal(scalar(list->items[1]), "hello");
	ts_yaml_free(d); /* shared nodes are freed once */
}

static void test_ts_yaml_parse_alias_latest_anchor_wins(void **state)
{
	ts_yaml_doc *d = parse_ok("a: &x one\nb: &x two\nc: *x\n");
	assert_string_equal(scalar(ts_yaml_get(ts_yaml_root(d), "c")), "two");
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_alias_as_key(void **state)
{
	ts_yaml_doc *d = parse_ok("k: &key name\n*key : value\n");
	assert_string_equal(scalar(ts_yaml_get(ts_yaml_root(d), "name")), "value");
	ts_yaml_free(d);
	parse_fails("m: &m {a: 1}\n? *m\n: v\n", TS_EPARSE,
		    "t.yml:2:3: mapping keys must be scalars", true);
}

static void test_ts_yaml_parse_unknown_alias(void **state)
{
	parse_fails("a: 1\nb: *nope\n", TS_EPARSE, "t.yml:2:4: unknown alias 'nope'", true);
}

static void test_ts_yaml_parse_recursive_alias_rejected(void **state)
{
	parse_fails("a: &x [1, *x]\n", TS_EPARSE,
		    "t.yml:1:11: alias 'x' refers to a node that contains it", true);
	parse_fails("a: &m\n  b:\n    c: *m\n", TS_EPARSE,
		    "alias 'm' refers to a node that contains it", false);
	/* Once the anchored node is complete, aliasing it is fine. */
	ts_yaml_doc *d = parse_ok("a: &x [1]\nb: [*x, *x]\n");
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_billion_laughs_is_elimit(void **state)
{
	/* 10 levels of 10 aliases: 10^10 nodes when walked. Only ~100 are allocated. */
	char text[2048];
	size_t off =
	    (size_t)snprintf(text, sizeof(text), "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++) {
		off += (size_t)snprintf(text + off, sizeof(text) - off, "l%d: &l%d [", i, i);
		for (int k = 0; k < 10; k++)
			off += (size_t)snprintf(text + off, sizeof(text) - off, "*l%d%s", i - 1,
						k < 9 ? ", " : "]\n");
	}
	parse_fails(text, TS_ELIMIT, "more than 1000000 nodes (aliases included)", false);
	/* Five levels (about 10^5 nodes) are within the limit. */
	char *cut = strstr(text, "l5:");
	*cut = '\0';
	ts_yaml_doc *d = parse_ok(text);
	ts_yaml_free(d);
}

/* ---------------------------------------------------------------- errors */

static void test_ts_yaml_parse_duplicate_key(void **state)
{
	parse_fails("a: 1\nb: 2\na: 3\n", TS_EPARSE, "t.yml:3:1: duplicate key 'a'", true);
	parse_fails("outer:\n  x: 1\n  y: 2\n  x: 3\n", TS_EPARSE, "t.yml:4:3: duplicate key 'x'",
		    true);
	parse_fails("{a: 1, a: 2}", TS_EPARSE, "t.yml:1:8: duplicate key 'a'", true);
	/* Same key in different maps is fine. */
	ts_yaml_doc *d = parse_ok("a: {x: 1}\nb: {x: 2}\n");
	ts_yaml_free(d);
}

static void test_ts_yaml_parse_non_scalar_key(void **state)
{
	parse_fails("? [a, b]\n: 1\n", TS_EPARSE, "t.yml:1:3: mapping keys must be scalars", true);
}

static void test_ts_yaml_parse_syntax_error_position(void **state)
{
	ts_yaml_doc *d = NULL;
	ts_err err = {0};
	const char *text = "a: 1\nb: [1, 2\nc: 3\n";
	assert_int_equal(ts_yaml_parse("rules.yml", text, strlen(text), &d, &err), TS_EPARSE);
	assert_matches(err.msg, "^rules\\.yml:[0-9]+:[0-9]+: .+");
	text = "a:\n  b: 1\n c: 2\n";
	assert_int_equal(ts_yaml_parse("x.yml", text, strlen(text), &d, &err), TS_EPARSE);
	assert_matches(err.msg, "^x\\.yml:3:[0-9]+: ");
	text = "a: 1\n\tb: 2\n";
	assert_int_equal(ts_yaml_parse("tab.yml", text, strlen(text), &d, &err), TS_EPARSE);
	assert_matches(err.msg, "^tab\\.yml:2:1: .*tab");
	text = "key: \"unterminated\n";
	assert_int_equal(ts_yaml_parse("q.yml", text, strlen(text), &d, &err), TS_EPARSE);
	assert_matches(err.msg, "^q\\.yml:[0-9]+:[0-9]+: .*quoted scalar");
}

static void test_ts_yaml_parse_trailing_garbage(void **state)
{
	parse_fails("[1, 2]\nfoo: bar\n", TS_EPARSE, "t.yml:2:", false);
	parse_fails("{a: 1} extra", TS_EPARSE, "t.yml:1:", false);
	parse_fails("\"s\" x", TS_EPARSE, "t.yml:1:", false);
}

static void test_ts_yaml_parse_invalid_utf8(void **state)
{
	parse_fails("a: b\nc: \xff\xfe\n", TS_EPARSE, "t.yml: byte 8: ", false);
}

static void test_ts_yaml_parse_depth_limit(void **state)
{
	char text[4096];
	/* 65 nested sequences: depths 0..64 are allowed. */
	memset(text, '[', 65);
	memset(text + 65, ']', 65);
	text[130] = '\0';
	ts_yaml_doc *d = parse_ok(text);
	ts_yaml_free(d);
	memset(text, '[', 66);
	memset(text + 66, ']', 66);
	text[132] = '\0';
	parse_fails(text, TS_ELIMIT, "t.yml:1:66: nesting deeper than 64", true);
	/* Block maps, one key per level. */
	size_t off = 0;
	for (int i = 0; i < 70 && off < sizeof(text) - 8; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "%*sk:\n", i, "");
	parse_fails(text, TS_ELIMIT, "nesting deeper than 64", false);
}

static void test_ts_yaml_parse_depth_limit_through_alias(void **state)
{
	/* An alias to a 40-deep node placed 40 deep reaches depth 80. */
	char text[1024];
	size_t off = (size_t)snprintf(text, sizeof(text), "a: &deep ");
	for (int i = 0; i < 40; i++)
		text[off++] = '[';
	for (int i = 0; i < 40; i++)
		text[off++] = ']';
	off += (size_t)snprintf(text + off, sizeof(text) - off, "\nb: ");
	for (int i = 0; i < 40; i++)
		text[off++] = '[';
	off += (size_t)snprintf(text + off, sizeof(text) - off, "*deep");
	for (int i = 0; i < 40; i++)
		text[off++] = ']';
	text[off] = '\0';
	parse_fails(text, TS_ELIMIT, "alias 'deep' nests deeper than 64", false);
}

/* A document of exactly `total` nodes counted with aliases expanded, most of them through
 * 996 aliases of a 1001-node sequence (so only ~4000 nodes are allocated), the last
 * `plain` ones plain scalars: the limit must trip on a plain node too. */
static char *counted_doc(size_t total)
{
	/* root 1; "a" + seq + 1000 items = 1002; "b" + seq + 996 * 1001; "c" + seq + plain */
	size_t fixed = 1 + 1002 + 2 + 996 * 1001 + 2;
	size_t plain = total - fixed, cap = 4000 + 10 * 996 + 2 * plain;
	char *text = malloc(cap);
	assert_non_null(text);
	size_t off = (size_t)snprintf(text, cap, "a: &a [");
	for (int i = 0; i < 1000; i++)
		off += (size_t)snprintf(text + off, cap - off, "x%s", i < 999 ? "," : "]\nb: [");
	for (int i = 0; i < 996; i++)
		off += (size_t)snprintf(text + off, cap - off, "*a%s", i < 995 ? "," : "]\nc: [");
	for (size_t i = 0; i < plain; i++)
		off += (size_t)snprintf(text + off, cap - off, "1%s", i + 1 < plain ? "," : "]\n");
	return text;
}

static void test_ts_yaml_parse_node_limit(void **state)
{
	char *text = counted_doc(1000000);
	ts_yaml_doc *d = parse_ok(text);
	assert_int_equal(ts_yaml_get(ts_yaml_root(d), "b")->n, 996);
	ts_yaml_free(d);
	free(text);
	text = counted_doc(1000001);
	/* The one node too many is the last plain scalar of c, on line 3. */
	parse_fails(text, TS_ELIMIT, "more than 1000000 nodes (aliases included)", false);
	parse_fails(text, TS_ELIMIT, "t.yml:3:", false);
	free(text);
}

static void test_ts_yaml_parse_size_limit(void **state)
{
	size_t len = (64u << 20) + 1;
	char *big = calloc(1, len);
	assert_non_null(big);
	ts_yaml_doc *d = NULL;
	ts_err err = {0};
	assert_int_equal(ts_yaml_parse("big.yml", big, len, &d, &err), TS_ELIMIT);
	assert_string_equal(err.msg, "big.yml: larger than 67108864 bytes");
	free(big);
}

static void test_ts_yaml_parse_enomem_every_step(void **state)
{
	const char *text = "a: &x {b: [1, 2, 3, 4, 5, 6], c: \"s\"}\nd: *x\ne: [f, g]\n";
	int ok_at = -1;
	for (int k = 0; k < 200; k++) {
		ts_yaml_doc *d = NULL;
		ts_err err = {0};
		ts_alloc_fail_after(k);
		int rc = ts_yaml_parse("m.yml", text, strlen(text), &d, &err);
		ts_alloc_fail_after(-1);
		if (rc == TS_OK) {
			ok_at = k;
			assert_int_equal(ts_yaml_get(ts_yaml_root(d), "e")->n, 2);
			ts_yaml_free(d);
			break;
		}
		assert_int_equal(rc, TS_ENOMEM);
		assert_non_null(strstr(err.msg, "out of memory"));
		assert_null(d);
	}
	assert_true(ok_at > 10);
}

static void test_ts_yaml_free_null(void **state)
{
	ts_yaml_free(NULL);
}

/* ---------------------------------------------------------------- typed readers */

static const char *readers_doc = "s: text\n"
				 "m: {a: 1}\n"
				 "t1: true\nt2: True\nt3: TRUE\nf1: false\nf2: False\nf3: FALSE\n"
				 "yes: yes\nqt: \"true\"\n"
				 "i: 42\nneg: -7\nbig: 99999999999999999999\nijunk: 12abc\nempty:\n"
				 "fl: 1.5\nexp: 1e3\nnan: nan\ninf: inf\n"
				 "d1: 30s\nd2: 1h30m\nd3: 5x\nd0: 0\n"
				 "b1: 1048576\nb2: 64MiB\nb3: 2GiB\nb4: 1KB\nb5: 10B\nb6: -1\n"
				 "b7: 5 MiB\nb8: 1.5GiB\nb9: 9999999TiB\nb10: 3TB\nb11: 1KiB\n";

static void test_ts_yaml_str(void **state)
{
	ts_yaml_doc *d = parse_ok(readers_doc);
	const ts_yaml_node *r = ts_yaml_root(d);
	const char *s = NULL;
	ts_err err = {0};
	assert_int_equal(ts_yaml_str(d, ts_yaml_get(r, "s"), "x.s", &s, &err), TS_OK);
	assert_string_equal(s, "text");
	s = "unchanged";
	assert_int_equal(ts_yaml_str(d, ts_yaml_get(r, "m"), "x.m", &s, &err), TS_EINVAL);
	assert_string_equal(err.msg, "t.yml:2:4: x.m: expected a string");
	assert_string_equal(s, "unchanged");
	assert_int_equal(ts_yaml_str(d, NULL, "x.missing", &s, &err), TS_EINVAL);
	assert_string_equal(err.msg, "t.yml: x.missing: expected a string");
	ts_yaml_free(d);
}

static void test_ts_yaml_bool(void **state)
{
	ts_yaml_doc *d = parse_ok(readers_doc);
	const ts_yaml_node *r = ts_yaml_root(d);
	const char *t[] = {"t1", "t2", "t3"}, *f[] = {"f1", "f2", "f3"};
	for (int i = 0; i < 3; i++) {
		bool v = false;
		assert_int_equal(ts_yaml_bool(d, ts_yaml_get(r, t[i]), "b", &v, NULL), TS_OK);
		assert_true(v);
		assert_int_equal(ts_yaml_bool(d, ts_yaml_get(r, f[i]), "b", &v, NULL), TS_OK);
		assert_false(v);
	}
	ts_err err = {0};
	bool v = true;
	assert_int_equal(ts_yaml_bool(d, ts_yaml_get(r, "yes"), "x.yes", &v, &err), TS_EINVAL);
	assert_string_equal(err.msg, "t.yml:9:6: x.yes: expected true or false, got 'yes'");
	assert_int_equal(ts_yaml_bool(d, ts_yaml_get(r, "qt"), "x.qt", &v, &err), TS_EINVAL);
	assert_int_equal(ts_yaml_bool(d, ts_yaml_get(r, "m"), "x.m", &v, &err), TS_EINVAL);
	assert_string_equal(err.msg, "t.yml:2:4: x.m: expected true or false");
	assert_true(v);
	ts_yaml_free(d);
}

static void test_ts_yaml_int(void **state)
{
	ts_yaml_doc *d = parse_ok(readers_doc);
	const ts_yaml_node *r = ts_yaml_root(d);
	int64_t v = 0;
	ts_err err = {0};
	assert_int_equal(ts_yaml_int(d, ts_yaml_get(r, "i"), "x.i", 0, 100, &v, &err), TS_OK);
	assert_int_equal(v, 42);
	assert_int_equal(
	    ts_yaml_int(d, ts_yaml_get(r, "neg"), "x.neg", INT64_MIN, INT64_MAX, &v, &err), TS_OK);
	assert_true(v == -7);
	v = 5;
	assert_int_equal(ts_yaml_int(d, ts_yaml_get(r, "i"), "x.i", 0, 41, &v, &err), TS_EINVAL);
	assert_string_equal(err.msg, "t.yml:11:4: x.i: 42 is out of range [0, 41]");
	assert_int_equal(ts_yaml_int(d, ts_yaml_get(r, "neg"), "x.neg", 0, 10, &v, &err),
			 TS_EINVAL);
	assert_int_equal(
	    ts_yaml_int(d, ts_yaml_get(r, "big"), "x.big", INT64_MIN, INT64_MAX, &v, &err),
	    TS_EINVAL);
	assert_non_null(strstr(err.msg, "x.big: expected an integer, got '99999999999999999999'"));
	assert_int_equal(ts_yaml_int(d, ts_yaml_get(r, "ijunk"), "x.ij", 0, 100, &v, &err),
			 TS_EINVAL);
	assert_int_equal(ts_yaml_int(d, ts_yaml_get(r, "empty"), "x.e", 0, 100, &v, &err),
			 TS_EINVAL);
	assert_int_equal(ts_yaml_int(d, ts_yaml_get(r, "fl"), "x.fl", 0, 100, &v, &err), TS_EINVAL);
	assert_int_equal(ts_yaml_int(d, ts_yaml_get(r, "m"), "x.m", 0, 100, &v, &err), TS_EINVAL);
	assert_int_equal(v, 5);
	ts_yaml_free(d);
}

static void test_ts_yaml_float(void **state)
{
	ts_yaml_doc *d = parse_ok(readers_doc);
	const ts_yaml_node *r = ts_yaml_root(d);
	double v = 0;
	assert_int_equal(ts_yaml_float(d, ts_yaml_get(r, "fl"), "f", &v, NULL), TS_OK);
	assert_true(v == 1.5);
	assert_int_equal(ts_yaml_float(d, ts_yaml_get(r, "exp"), "f", &v, NULL), TS_OK);
	assert_true(v == 1000.0);
	assert_int_equal(ts_yaml_float(d, ts_yaml_get(r, "i"), "f", &v, NULL), TS_OK);
	assert_true(v == 42.0);
	v = -1;
	ts_err err = {0};
	assert_int_equal(ts_yaml_float(d, ts_yaml_get(r, "nan"), "x.nan", &v, &err), TS_EINVAL);
	assert_non_null(strstr(err.msg, "x.nan: expected a number, got 'nan'"));
	assert_int_equal(ts_yaml_float(d, ts_yaml_get(r, "inf"), "f", &v, NULL), TS_EINVAL);
	assert_int_equal(ts_yaml_float(d, ts_yaml_get(r, "s"), "f", &v, NULL), TS_EINVAL);
	assert_int_equal(ts_yaml_float(d, ts_yaml_get(r, "empty"), "f", &v, NULL), TS_EINVAL);
	assert_true(v == -1);
	ts_yaml_free(d);
}

static void test_ts_yaml_duration(void **state)
{
	ts_yaml_doc *d = parse_ok(readers_doc);
	const ts_yaml_node *r = ts_yaml_root(d);
	int64_t v = 0;
	assert_int_equal(ts_yaml_duration(d, ts_yaml_get(r, "d1"), "x", &v, NULL), TS_OK);
	assert_int_equal(v, 30000);
	assert_int_equal(ts_yaml_duration(d, ts_yaml_get(r, "d2"), "x", &v, NULL), TS_OK);
	assert_int_equal(v, 5400000);
	assert_int_equal(ts_yaml_duration(d, ts_yaml_get(r, "d0"), "x", &v, NULL), TS_OK);
	assert_int_equal(v, 0);
	v = 9;
	ts_err err = {0};
	assert_int_equal(ts_yaml_duration(d, ts_yaml_get(r, "d3"), "rule.for", &v, &err),
			 TS_EINVAL);
	assert_string_equal(err.msg, "t.yml:22:5: rule.for: invalid duration '5x' (use e.g. 30s, "
				     "5m, 1h30m, 7d)");
	assert_int_equal(ts_yaml_duration(d, ts_yaml_get(r, "m"), "x", &v, NULL), TS_EINVAL);
	assert_int_equal(ts_yaml_duration(d, ts_yaml_get(r, "empty"), "x", &v, NULL), TS_EINVAL);
	assert_int_equal(v, 9);
	ts_yaml_free(d);
}

static void test_ts_yaml_bytes(void **state)
{
	ts_yaml_doc *d = parse_ok(readers_doc);
	const ts_yaml_node *r = ts_yaml_root(d);
	static const struct {
		const char *key;
		int64_t want;
	} ok[] = {
	    {"b1", 1048576}, {"b2", 64LL << 20},       {"b3", 2LL << 30}, {"b4", 1000},
	    {"b5", 10},      {"b10", 3000000000000LL}, {"b11", 1024},     {"i", 42},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t v = -1;
		ts_err err = {0};
		if (ts_yaml_bytes(d, ts_yaml_get(r, ok[i].key), "x", &v, &err) != TS_OK)
			fail_msg("%s: %s", ok[i].key, err.msg);
		assert_true(v == ok[i].want);
	}
	const char *bad[] = {"b6", "b7", "b8", "b9", "s", "empty", "m", "fl"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = -1;
		ts_err err = {0};
		assert_int_equal(ts_yaml_bytes(d, ts_yaml_get(r, bad[i]), "srv.max", &v, &err),
				 TS_EINVAL);
		assert_int_equal(v, -1);
		assert_non_null(strstr(err.msg, "srv.max: "));
	}
	ts_err err = {0};
	int64_t v;
	assert_int_equal(ts_yaml_bytes(d, ts_yaml_get(r, "b7"), "srv.max", &v, &err), TS_EINVAL);
	assert_string_equal(err.msg, "t.yml:30:5: srv.max: invalid byte size '5 MiB' (use e.g. "
				     "1048576, 64MiB, 2GiB)");
	ts_yaml_free(d);
}

static void test_ts_yaml_error_formats(void **state)
{
	ts_yaml_doc *d = parse_ok("a:\n  b: x\n");
	const ts_yaml_node *b = ts_yaml_get(ts_yaml_get(ts_yaml_root(d), "a"), "b");
	ts_err err = {0};
	assert_int_equal(ts_yaml_error(d, b, &err, TS_EINVAL, "bad %s #%d", "thing", 3), TS_EINVAL);
	assert_int_equal(err.code, TS_EINVAL);
	assert_string_equal(err.msg, "t.yml:2:6: bad thing #3");
	assert_int_equal(ts_yaml_error(d, NULL, &err, TS_ENOTFOUND, "no %s", "node"), TS_ENOTFOUND);
	assert_string_equal(err.msg, "t.yml: no node");
	assert_int_equal(ts_yaml_error(d, b, NULL, TS_EIO, "ignored"), TS_EIO);
	ts_yaml_free(d);
}

/* ---------------------------------------------------------------- files */

static void test_ts_yaml_load_file_fixture(void **state)
{
	ts_yaml_doc *d = NULL;
	ts_err err = {0};
	const char *path = DATA_DIR "/yaml_sample.yml";
	if (ts_yaml_load_file(path, &d, &err) != TS_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(ts_yaml_name(d), path);
	const ts_yaml_node *r = ts_yaml_root(d);
	const ts_yaml_node *defaults = ts_yaml_get(r, "defaults");
	assert_int_equal(defaults->line, 2); /* where its anchor is */
	const ts_yaml_node *groups = ts_yaml_get(r, "groups");
	assert_int_equal(groups->n, 2);
	/* "<<" merge keys are not interpreted: an ordinary key whose value is the alias. */
	assert_ptr_equal(ts_yaml_get(groups->items[0], "<<"), defaults);
	assert_ptr_equal(ts_yaml_get(groups->items[1], "settings"), defaults);
	const ts_yaml_node *rule = ts_yaml_get(groups->items[0], "rules")->items[0];
	assert_string_equal(scalar(ts_yaml_get(rule, "expr")), "up == 0");
	const ts_yaml_node *summary = ts_yaml_get(ts_yaml_get(rule, "annotations"), "summary");
	assert_string_equal(scalar(summary), "Host {{ $labels.instance }} is down.\nCheck it.\n");
	assert_string_equal(scalar(ts_yaml_get(ts_yaml_get(defaults, "labels"), "tier")), "1");
	const ts_yaml_node *flow = ts_yaml_get(r, "flow");
	assert_int_equal(flow->n, 4);
	assert_true(flow->items[2]->is_quoted);
	assert_true(ts_yaml_is_null(ts_yaml_get(r, "empty")));
	assert_false(ts_yaml_is_null(ts_yaml_get(r, "quoted_null")));
	ts_yaml_free(d);
}

static void test_ts_yaml_load_file_missing(void **state)
{
	ts_yaml_doc *d = NULL;
	ts_err err = {0};
	const char *path = DATA_DIR "/does_not_exist.yml";
	assert_int_equal(ts_yaml_load_file(path, &d, &err), TS_EIO);
	char want[512];
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err.msg, want);
	assert_null(d);
}

static void test_ts_yaml_load_file_directory(void **state)
{
	ts_yaml_doc *d = NULL;
	ts_err err = {0};
	assert_int_equal(ts_yaml_load_file(DATA_DIR, &d, &err), TS_EIO);
	assert_non_null(strstr(err.msg, DATA_DIR));
	assert_null(d);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void test_ts_yaml_load_file_errors_name_path(void **state)
{
	mkdir(STRATA_TEST_TMP, 0755);
	const char *path = STRATA_TEST_TMP "/yaml_dup.yml";
	write_file(path, "x: 1\nx: 2\n", 10);
	ts_yaml_doc *d = NULL;
	ts_err err = {0};
	assert_int_equal(ts_yaml_load_file(path, &d, &err), TS_EPARSE);
	char want[512];
	snprintf(want, sizeof(want), "%s:2:1: duplicate key 'x'", path);
	assert_string_equal(err.msg, want);
	remove(path);
}

static void test_ts_yaml_load_file_empty_and_large(void **state)
{
	mkdir(STRATA_TEST_TMP, 0755);
	const char *path = STRATA_TEST_TMP "/yaml_empty.yml";
	write_file(path, "", 0);
	ts_yaml_doc *d = NULL;
	assert_int_equal(ts_yaml_load_file(path, &d, NULL), TS_OK);
	assert_null(ts_yaml_root(d));
	ts_yaml_free(d);
	/* Larger than the first 8 KiB read buffer: the reader grows it. */
	size_t n = 50000, off = 0;
	size_t cap = n * 12 + 1;
	char *text = malloc(cap);
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, cap - off, "- %08zu\n", i);
	write_file(path, text, off);
	free(text);
	assert_int_equal(ts_yaml_load_file(path, &d, NULL), TS_OK);
	assert_int_equal(ts_yaml_root(d)->n, n);
	assert_string_equal(scalar(ts_yaml_root(d)->items[n - 1]), "00049999");
	ts_yaml_free(d);
	remove(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_yaml_parse_block_map),
	    cmocka_unit_test(test_ts_yaml_parse_nested_seq_and_map),
	    cmocka_unit_test(test_ts_yaml_parse_flow_style),
	    cmocka_unit_test(test_ts_yaml_parse_large_collections),
	    cmocka_unit_test(test_ts_yaml_parse_scalar_styles),
	    cmocka_unit_test(test_ts_yaml_parse_scalar_with_nul_byte),
	    cmocka_unit_test(test_ts_yaml_is_null),
	    cmocka_unit_test(test_ts_yaml_get_edge_cases),
	    cmocka_unit_test(test_ts_yaml_parse_empty_documents),
	    cmocka_unit_test(test_ts_yaml_parse_scalar_root),
	    cmocka_unit_test(test_ts_yaml_parse_first_document_only),
	    cmocka_unit_test(test_ts_yaml_parse_uses_length),
	    cmocka_unit_test(test_ts_yaml_parse_alias_shares_node),
	    cmocka_unit_test(test_ts_yaml_parse_alias_latest_anchor_wins),
	    cmocka_unit_test(test_ts_yaml_parse_alias_as_key),
	    cmocka_unit_test(test_ts_yaml_parse_unknown_alias),
	    cmocka_unit_test(test_ts_yaml_parse_recursive_alias_rejected),
	    cmocka_unit_test(test_ts_yaml_parse_billion_laughs_is_elimit),
	    cmocka_unit_test(test_ts_yaml_parse_duplicate_key),
	    cmocka_unit_test(test_ts_yaml_parse_non_scalar_key),
	    cmocka_unit_test(test_ts_yaml_parse_syntax_error_position),
	    cmocka_unit_test(test_ts_yaml_parse_trailing_garbage),
	    cmocka_unit_test(test_ts_yaml_parse_invalid_utf8),
	    cmocka_unit_test(test_ts_yaml_parse_depth_limit),
	    cmocka_unit_test(test_ts_yaml_parse_depth_limit_through_alias),
	    cmocka_unit_test(test_ts_yaml_parse_node_limit),
	    cmocka_unit_test(test_ts_yaml_parse_size_limit),
	    cmocka_unit_test_teardown(test_ts_yaml_parse_enomem_every_step, reset_injection),
	    cmocka_unit_test(test_ts_yaml_free_null),
	    cmocka_unit_test(test_ts_yaml_str),
	    cmocka_unit_test(test_ts_yaml_bool),
	    cmocka_unit_test(test_ts_yaml_int),
	    cmocka_unit_test(test_ts_yaml_float),
	    cmocka_unit_test(test_ts_yaml_duration),
	    cmocka_unit_test(test_ts_yaml_bytes),
	    cmocka_unit_test(test_ts_yaml_error_formats),
	    cmocka_unit_test(test_ts_yaml_load_file_fixture),
	    cmocka_unit_test(test_ts_yaml_load_file_missing),
	    cmocka_unit_test(test_ts_yaml_load_file_directory),
	    cmocka_unit_test(test_ts_yaml_load_file_errors_name_path),
	    cmocka_unit_test(test_ts_yaml_load_file_empty_and_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
