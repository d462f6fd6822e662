/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_yaml_keys.c: unit tests for common/yaml_keys.c (typed keys of a config mapping).
 *
 * ts_yaml_keys reading every kind of key, leaving absent keys alone, dropping values of
 * keys without an output, handing ctx/out/key path to handlers, and stopping at the
 * first error in document order with the messages the scrape and alerting configs give
 * (not a mapping, unknown key, not supported, wrong type, empty file name); file names
 * joined to the base directory; arena exhaustion; the key path buffer truncating.
 */
#include "common/common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A test arena: every block is remembered and freed at the end; fails after `budget`. */
typedef struct tarena {
	void *blocks[64];
	size_t n;
	int budget; /* allocations left; < 0 = unlimited */
} tarena;

static void *tarena_alloc(void *a, size_t n)
{
	tarena *t = a;
	if (t->budget == 0 || t->n == sizeof(t->blocks) / sizeof(t->blocks[0]))
		return NULL;
	if (t->budget > 0)
		t->budget--;
	void *p = calloc(1, n ? n : 1);
	assert_non_null(p);
	t->blocks[t->n++] = p;
	return p;
}

static void tarena_free(tarena *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->blocks[i]);
	t->n = 0;
}

typedef struct fixture {
	ts_yaml_doc *doc;
	tarena arena;
	ts_yaml_reader r;
} fixture;

static void load(fixture *f, const char *text, const char *base_dir)
{
	ts_err err = {0};
	memset(f, 0, sizeof(*f));
	f->arena.budget = -1;
	if (ts_yaml_parse("c.yml", text, strlen(text), &f->doc, &err) != TS_OK)
		fail_msg("parse: %s", err.msg);
	f->r = (ts_yaml_reader){.doc = f->doc,
				.base_dir = base_dir,
				.name = "test config",
				.doc_ref = "docs/formats/test.md",
				.alloc = tarena_alloc,
				.arena = &f->arena};
}

static void unload(fixture *f)
{
	tarena_free(&f->arena);
	ts_yaml_free(f->doc);
}

typedef struct settings {
	const char *name, *file;
	bool is_on;
	int64_t count, every_ms, size_bytes;
	int n_calls;
	const char *seen_what;
} settings;

/* A TS_YAML_KEY_FUNC handler: counts calls, keeps the key path, wants a sequence. */
static int list_key(void *ctx, const ts_yaml_node *v, const char *what, void *out, ts_err *err)
{
	fixture *f = ctx;
	settings *s = out;
	s->n_calls++;
	s->seen_what = ts_yaml_strdup(&f->r, what);
	return ts_yaml_want_seq(f->doc, v, what, err);
}

/* Read root.section with the full table into *s; returns the code, message in err. */
static int read_section(fixture *f, settings *s, ts_err *err)
{
	const ts_yaml_key keys[] = {TS_YAML_KEY("name", TS_YAML_KEY_STR, &s->name),
				    TS_YAML_KEY("file", TS_YAML_KEY_PATH, &s->file),
				    TS_YAML_KEY("on", TS_YAML_KEY_BOOL, &s->is_on),
				    TS_YAML_KEY_RANGE("count", &s->count, 1, 10),
				    TS_YAML_KEY("every", TS_YAML_KEY_DURATION, &s->every_ms),
				    TS_YAML_KEY("size", TS_YAML_KEY_BYTES, &s->size_bytes),
				    TS_YAML_KEY_FN("list", list_key, s),
				    TS_YAML_KEY("legacy", TS_YAML_KEY_IGNORED, NULL),
				    TS_YAML_KEY("checked", TS_YAML_KEY_BOOL, NULL),
				    TS_YAML_KEY("relabel", TS_YAML_KEY_UNSUPPORTED, NULL),
				    TS_YAML_KEYS_END};
	const ts_yaml_node *sec = ts_yaml_get(ts_yaml_root(f->doc), "section");
	return ts_yaml_keys(&f->r, sec, "section", keys, f, err);
}

/* The section's read must fail with TS_EINVAL and exactly `msg`. */
static void fails(const char *text, const char *msg)
{
	fixture f;
	load(&f, text, NULL);
	settings s = {0};
	ts_err err = {0};
	int rc = read_section(&f, &s, &err);
	if (rc != TS_EINVAL || strcmp(err.msg, msg) != 0)
		fail_msg("want EINVAL '%s', got %s '%s'", msg, ts_err_name(rc), err.msg);
	unload(&f);
}

static void test_ts_yaml_keys_every_kind(void **state)
{
	(void)state;
	fixture f;
	load(&f,
	     "section:\n"
	     "  name: alpha\n"
	     "  file: secrets/pw\n"
	     "  on: true\n"
	     "  count: 7\n"
	     "  every: 1m30s\n"
	     "  size: 2KiB\n"
	     "  list: [a, b]\n"
	     "  legacy: {anything: [1, 2]}\n"
	     "  checked: false\n",
	     "/etc/strata");
	settings s = {.count = -1};
	ts_err err = {0};
	assert_int_equal(read_section(&f, &s, &err), TS_OK);
	assert_string_equal(s.name, "alpha");
	assert_string_equal(s.file, "/etc/strata/secrets/pw");
	assert_true(s.is_on);
	assert_int_equal(s.count, 7);
	assert_int_equal(s.every_ms, 90000);
	assert_int_equal(s.size_bytes, 2048);
	assert_int_equal(s.n_calls, 1);
	assert_string_equal(s.seen_what, "section.list");
	/* The strings live in the arena, not in the document. */
	const ts_yaml_node *name = ts_yaml_get(ts_yaml_get(ts_yaml_root(f.doc), "section"), "name");
	assert_ptr_not_equal(s.name, name->scalar);
	unload(&f);
}

static void test_ts_yaml_keys_absent_keys_untouched(void **state)
{
	(void)state;
	fixture f;
	load(&f, "section: {on: false}\n", NULL);
	settings s = {.name = "default", .is_on = true, .count = 3, .every_ms = 5};
	assert_int_equal(read_section(&f, &s, NULL), TS_OK);
	assert_string_equal(s.name, "default");
	assert_false(s.is_on);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.every_ms, 5);
	assert_int_equal(s.n_calls, 0);
	unload(&f);
}

static void test_ts_yaml_keys_errors(void **state)
{
	(void)state;
	fails("section: [1]\n", "c.yml:1:10: section: expected a mapping");
	fails("other: 1\n", "c.yml: section: expected a mapping");
	fails("section:\n  name: a\n  nmae: b\n", "c.yml:3:3: unknown key 'section.nmae'");
	fails("section:\n  relabel: []\n",
	      "c.yml:2:3: section.relabel: not supported by Strata (see docs/formats/test.md)");
	fails("section:\n  name: [x]\n", "c.yml:2:9: section.name: expected a string");
	fails("section:\n  file: ''\n", "c.yml:2:9: section.file: empty file name");
	fails("section:\n  on: yes\n", "c.yml:2:7: section.on: expected true or false, got 'yes'");
	fails("section:\n  count: 11\n", "c.yml:2:10: section.count: 11 is out of range [1, 10]");
	fails("section:\n  every: 5x\n",
	      "c.yml:2:10: section.every: invalid duration '5x' (use e.g. 30s, 5m, 1h30m, 7d)");
	fails("section:\n  size: lots\n",
	      "c.yml:2:9: section.size: invalid byte size 'lots' (use e.g. 1048576, 64MiB, 2GiB)");
	fails("section:\n  list: 3\n", "c.yml:2:9: section.list: expected a sequence");
	/* A key without an output is still checked. */
	fails("section:\n  checked: 2\n",
	      "c.yml:2:12: section.checked: expected true or false, got '2'");
}

static void test_ts_yaml_keys_first_error_in_document_order(void **state)
{
	(void)state;
	/* count is read before the unknown key and fails first; nothing after it is read. */
	fails("section:\n  count: 0\n  bogus: 1\n  list: [x]\n",
	      "c.yml:2:10: section.count: 0 is out of range [1, 10]");
	fails("section:\n  bogus: 1\n  count: 0\n", "c.yml:2:3: unknown key 'section.bogus'");
	fixture f;
	load(&f, "section:\n  name: a\n  on: maybe\n  list: [x]\n", NULL);
	settings s = {0};
	assert_int_equal(read_section(&f, &s, NULL), TS_EINVAL);
	assert_string_equal(s.name, "a"); /* read before the error */
	assert_int_equal(s.n_calls, 0);   /* after it: never reached */
	unload(&f);
}

static void test_ts_yaml_copy_path_base_dir(void **state)
{
	(void)state;
	fixture f;
	load(&f, "a: rel/x.pem\nb: /abs/y.pem\n", "conf");
	const ts_yaml_node *root = ts_yaml_root(f.doc);
	const char *p;
	assert_int_equal(ts_yaml_copy_path(&f.r, ts_yaml_get(root, "a"), "a", &p, NULL), TS_OK);
	assert_string_equal(p, "conf/rel/x.pem");
	assert_int_equal(ts_yaml_copy_path(&f.r, ts_yaml_get(root, "b"), "b", &p, NULL), TS_OK);
	assert_string_equal(p, "/abs/y.pem");
	f.r.base_dir = "";
	assert_int_equal(ts_yaml_copy_path(&f.r, ts_yaml_get(root, "a"), "a", &p, NULL), TS_OK);
	assert_string_equal(p, "rel/x.pem");
	unload(&f);
}

static void test_ts_yaml_keys_out_of_memory(void **state)
{
	(void)state;
	for (int budget = 0; budget < 2; budget++) {
		fixture f;
		load(&f, "section:\n  name: a\n  file: b\n", "dir");
		f.arena.budget = budget; /* name's copy, then file's */
		settings s = {0};
		ts_err err = {0};
		assert_int_equal(read_section(&f, &s, &err), TS_ENOMEM);
		assert_string_equal(err.msg, "out of memory reading the test config");
		unload(&f);
	}
	fixture f;
	load(&f, "x: y\n", NULL);
	f.arena.budget = 0;
	assert_null(ts_yaml_strdup(&f.r, "z"));
	unload(&f);
}

static void test_ts_yaml_what_truncates(void **state)
{
	(void)state;
	char w[8];
	ts_yaml_what(w, sizeof(w), "%s.%s", "scrape_configs", "x");
	assert_string_equal(w, "scrape_");
	char big[TS_YAML_WHAT_MAX];
	ts_yaml_what(big, sizeof(big), "%s[%zu]", "jobs", (size_t)3);
	assert_string_equal(big, "jobs[3]");
}

static void test_ts_yaml_unknown_key_and_unsupported(void **state)
{
	(void)state;
	fixture f;
	load(&f, "k: v\n", NULL);
	const ts_yaml_node *root = ts_yaml_root(f.doc);
	ts_err err = {0};
	assert_int_equal(ts_yaml_unknown_key(f.doc, root->keys[0], "top", &err), TS_EINVAL);
	assert_string_equal(err.msg, "c.yml:1:1: unknown key 'top.k'");
	assert_int_equal(ts_yaml_unsupported(&f.r, root->keys[0], "top", &err), TS_EINVAL);
	assert_string_equal(err.msg,
			    "c.yml:1:1: top.k: not supported by Strata (see docs/formats/test.md)");
	assert_int_equal(ts_yaml_want_seq(f.doc, root, "top", &err), TS_EINVAL);
	assert_string_equal(err.msg, "c.yml:1:1: top: expected a sequence");
	assert_int_equal(ts_yaml_want_map(f.doc, root, "top", NULL), TS_OK);
	assert_int_equal(ts_yaml_oom(&f.r, &err), TS_ENOMEM);
	assert_string_equal(err.msg, "out of memory reading the test config");
	unload(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_yaml_keys_every_kind),
	    cmocka_unit_test(test_ts_yaml_keys_absent_keys_untouched),
	    cmocka_unit_test(test_ts_yaml_keys_errors),
	    cmocka_unit_test(test_ts_yaml_keys_first_error_in_document_order),
	    cmocka_unit_test(test_ts_yaml_copy_path_base_dir),
	    cmocka_unit_test(test_ts_yaml_keys_out_of_memory),
	    cmocka_unit_test(test_ts_yaml_what_truncates),
	    cmocka_unit_test(test_ts_yaml_unknown_key_and_unsupported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
