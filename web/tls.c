/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.c: the `tls:` config section: serve HTTPS instead of HTTP.
 *
 *   tls:
 *     cert_file: strata.crt     # PEM certificate chain, leaf first
 *     key_file: strata.key      # PEM private key, unencrypted
 *     min_version: TLS12        # TLS12 | TLS13
 *
 * Relative paths are relative to the config file's directory (as Prometheus' web
 * config). Both files are read once at start into memory and handed to libmicrohttpd
 * (GnuTLS) by http_server.c; min_version becomes a GnuTLS priority string. Errors name
 * file:line:col and the key, and a file that cannot be read names its path and errno.
 *
 * Tested by tests/integration/test_tls.sh (HTTPS with a self-signed certificate, plain
 * HTTP refused, TLS 1.2 refused with min_version TLS13, config errors) and
 * tests/web/test_auth.c (section parsing). Does not: client certificates, encrypted keys,
 * reloading certificates (a restart reads them again), SNI.
 */
#include "web/web_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PEM_MAX_BYTES (1 << 20)

void web_tls_config_fini(web_tls_config *t)
{
	if (!t)
		return;
	ts_free(t->cert_pem);
	if (t->key_pem)
		explicit_bzero(t->key_pem, strlen(t->key_pem));
	ts_free(t->key_pem);
	memset(t, 0, sizeof(*t));
}

/* Read a PEM file named at node v (relative to the config's directory). */
static int read_pem(const ts_config *c, const ts_yaml_node *v, const char *what, char **out,
		    ts_err *err)
{
	const ts_yaml_doc *d = ts_config_doc(c);
	const char *name;
	int rc = ts_yaml_str(d, v, what, &name, err);
	if (rc)
		return rc;
	if (!name[0])
		return ts_yaml_error(d, v, err, TS_EINVAL, "%s: must not be empty", what);
	char path[4096];
	const char *slash = c->source ? strrchr(c->source, '/') : NULL;
	if (name[0] != '/' && slash)
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - c->source), c->source, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		char eb[128];
		return ts_yaml_error(d, v, err, TS_EINVAL, "%s: cannot open %s: %s", what, path,
				     strerror_r(errno, eb, sizeof(eb)));
	}
	char *buf = ts_malloc(PEM_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return ts_err_set(err, TS_ENOMEM, "out of memory reading %s", path);
	}
	size_t n = fread(buf, 1, PEM_MAX_BYTES + 1, f);
	bool is_err = ferror(f);
	fclose(f);
	if (is_err || n > PEM_MAX_BYTES || !strstr((buf[n] = '\0', buf), "-----BEGIN ")) {
		ts_free(buf);
		return ts_yaml_error(d, v, err, TS_EINVAL, "%s: %s is %s", what, path,
				     is_err              ? "unreadable"
				     : n > PEM_MAX_BYTES ? "larger than 1 MiB"
							 : "not PEM (no -----BEGIN line)");
	}
	*out = buf;
	return TS_OK;
}

int web_tls_config_load(const ts_config *c, web_tls_config *out, ts_err *err)
{
	memset(out, 0, sizeof(*out));
	const ts_yaml_node *sec = c ? ts_config_section(c, "tls") : NULL;
	if (!sec || ts_yaml_is_null(sec))
		return TS_OK;
	const ts_yaml_doc *d = ts_config_doc(c);
	if (sec->type != TS_YAML_MAP)
		return ts_yaml_error(d, sec, err, TS_EINVAL, "tls: expected a mapping");
	const ts_yaml_node *cert = NULL, *key = NULL;
	int rc = TS_OK;
	out->priorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
	for (size_t i = 0; i < sec->n; i++) {
		const char *k = sec->keys[i]->scalar;
		const ts_yaml_node *v = sec->items[i];
		if (strcmp(k, "cert_file") == 0) {
			cert = v;
		} else if (strcmp(k, "key_file") == 0) {
			key = v;
		} else if (strcmp(k, "min_version") == 0) {
			const char *s;
			if ((rc = ts_yaml_str(d, v, "tls.min_version", &s, err)))
				return rc;
			if (strcmp(s, "TLS12") == 0)
				out->priorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
			else if (strcmp(s, "TLS13") == 0)
				out->priorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
			else
				return ts_yaml_error(d, v, err, TS_EINVAL,
						     "tls.min_version: '%s' is not one of TLS12, "
						     "TLS13",
						     s);
		} else {
			return ts_yaml_error(d, sec->keys[i], err, TS_EINVAL,
					     "unknown key 'tls.%s'", k);
		}
	}
	if (!cert || !key)
		return ts_yaml_error(d, sec, err, TS_EINVAL,
				     "tls: needs both cert_file and key_file");
	if ((rc = read_pem(c, cert, "tls.cert_file", &out->cert_pem, err)) ||
	    (rc = read_pem(c, key, "tls.key_file", &out->key_pem, err)))
		web_tls_config_fini(out);
	return rc;
}
