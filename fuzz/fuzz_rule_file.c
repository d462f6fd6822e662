/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_rule_file.c: libFuzzer target for rule files and alert templates
 * (alert/rule_file.c, alert/template*.c). Seeds: fuzz/corpus/rule_file/ (the fixtures of
 * tests/data/alert and template snippets); ctest replays them through fuzz/replay.c.
 *
 * The input is parsed as a rule file; when that succeeds, every label and annotation
 * template of every alerting rule is expanded with fixed data. The same bytes are also
 * parsed as one template and expanded, which reaches the template engine without YAML
 * quoting in the way. Invariants (trap when broken): failures return a known code with a
 * message; expansions stay within ALERT_TEMPLATE_MAX_OUTPUT (plus the error wrapper).
 * Inputs are capped at 64 KiB.
 */
#include "alert/rules_int.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_INPUT (64 * 1024)

static const ts_label labels[] = {{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}};
static const ts_label ext[] = {{"cluster", "c1"}};

static void expand(const alert_template *t)
{
	alert_template_data d = {.labels = labels,
				 .n_labels = 3,
				 .external_labels = ext,
				 .n_external_labels = 1,
				 .external_url = "http://x:9470",
				 .value = 1234.5,
				 .t_ms = 1700000000000};
	ts_buf out;
	ts_buf_init(&out, 4 * ALERT_TEMPLATE_MAX_OUTPUT);
	ts_err err = {0};
	int rc = alert_template_expand_or_error(t, &d, &out, &err);
	if (rc != TS_OK && rc != TS_EINVAL && rc != TS_ENOMEM && rc != TS_ELIMIT)
		__builtin_trap();
	if (rc != TS_OK && !err.msg[0])
		__builtin_trap();
	if (out.len > ALERT_TEMPLATE_MAX_OUTPUT + TS_ERR_MSG_MAX + 64)
		__builtin_trap();
	ts_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	alert_rule_file *f = NULL;
	alert_rule_errors errs = {0};
	ts_err err = {0};
	int rc = alert_rule_file_parse("fuzz.yml", (const char *)data, size, &f, &errs, &err);
	if (rc != TS_OK) {
		if ((rc != TS_EPARSE && rc != TS_EINVAL && rc != TS_ELIMIT && rc != TS_ENOMEM) ||
		    !err.msg[0])
			__builtin_trap();
	} else {
		for (size_t g = 0; g < f->n_groups; g++)
			for (size_t r = 0; r < f->groups[g]->n_rules; r++) {
				const alert_rule_def *d = &f->groups[g]->rules[r];
				for (size_t k = 0; d->label_tmpls && k < d->n_labels; k++)
					if (d->label_tmpls[k])
						expand(d->label_tmpls[k]);
				for (size_t k = 0; d->annotation_tmpls && k < d->n_annotations; k++)
					if (d->annotation_tmpls[k])
						expand(d->annotation_tmpls[k]);
			}
	}
	alert_rule_errors_fini(&errs);
	alert_rule_file_free(f);
	alert_template *t = NULL;
	rc = alert_template_parse("__alert_Fuzz", (const char *)data, size, &t, &err);
	if (rc == TS_OK)
		expand(t);
	else if ((rc != TS_EPARSE && rc != TS_ELIMIT && rc != TS_ENOMEM) || !err.msg[0])
		__builtin_trap();
	alert_template_free(t);
	return 0;
}
