/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c: access control: the `auth:` config section, credential checks, route scopes.
 *
 *   auth:
 *     users:                      # HTTP basic auth; Influx v1 u/p; "Token user:password"
 *       - name: telegraf
 *         password_hash: '$2b$10$...'   # from `strata hash-password`
 *         scopes: [write]
 *     tokens:                     # "Authorization: Bearer <t>" or "Token <t>" (Influx v2)
 *       - name: grafana
 *         token_hash: '$2b$10$...'
 *         scopes: [read]
 *
 * Hashes are crypt(3) strings checked with libxcrypt's crypt_rn: bcrypt ($2b$, $2y$,
 * $2a$), yescrypt ($y$), SHA-crypt ($5$, $6$); anything else, plaintext included, is a
 * config error. The computed hash is compared with the stored one in constant time. An
 * unknown user name still costs one hash computation (against the first user's hash), so
 * response times do not tell which user names exist, and the message is the same.
 *
 * Cache: a bcrypt check at cost 10 takes ~50-100 ms of CPU, far too much per write. A
 * successful check stores SHA-256(process key || kind || name || 0 || secret), where the
 * 32-byte process key comes from getrandom at load, in a fixed table of CACHE_SLOTS
 * slots; the next request with the same credentials costs one SHA-256. The table is
 * cleared when three quarters full (a bound, not an LRU). Failures are never cached, so
 * guessing costs a full hash each time. Tokens are checked against every token hash on a
 * miss (no name to pick one), so keep the token list short.
 *
 * libxcrypt (crypt_rn, crypt_gensalt_rn) and GnuTLS (gnutls_hash_fast: SHA-256) are
 * called only from this file. Does not: reload (auth changes need a restart), rate-limit
 * failed attempts, OAuth/JWT, client-certificate identities.
 */
#include "web/auth.h"

#include "web/http_server.h"

#include <crypt.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define CACHE_SLOTS  4096 /* power of two */
#define DIGEST_BYTES 32
#define MAX_SECRET   1024 /* longer presented secrets are refused without hashing */

/* ------------------------------------------------------------------------------------ */
/* Types                                                                                 */
/* ------------------------------------------------------------------------------------ */

typedef struct principal {
	char *name;     /* owned */
	char *hash;     /* owned crypt(3) string */
	unsigned scope; /* WEB_SCOPE_* bits; admin expanded to all */
	bool is_token;  /* from tokens: (else users:) */
} principal;

typedef struct cache_slot {
	uint8_t digest[DIGEST_BYTES];
	int idx; /* principal index + 1; 0 = empty */
} cache_slot;

struct web_auth {
	principal *p; /* users first, then tokens; immutable after load */
	size_t n_p, n_users;
	uint8_t key[DIGEST_BYTES]; /* random per-process cache key */
	pthread_mutex_t mu;        /* guards cache and n_cached */
	cache_slot *cache;         /* CACHE_SLOTS */
	size_t n_cached;
};

/* ------------------------------------------------------------------------------------ */
/* Route scopes                                                                          */
/* ------------------------------------------------------------------------------------ */

typedef struct scope_rule {
	const char *method; /* NULL = any */
	const char *path;
	bool is_prefix;
	unsigned scope;
} scope_rule;

/* First match wins; anything not listed needs read. Kept in docs/SECURITY.md. */
static const scope_rule rules[] = {
    {NULL, "/-/healthy", false, WEB_SCOPE_OPEN},
    {NULL, "/-/ready", false, WEB_SCOPE_OPEN},
    {NULL, "/ping", false, WEB_SCOPE_OPEN},
    {NULL, "/write", false, WEB_SCOPE_WRITE},
    {NULL, "/api/v2/write", false, WEB_SCOPE_WRITE},
    {NULL, "/api/v1/write", false, WEB_SCOPE_WRITE},
    {NULL, "/api/v1/import/", true, WEB_SCOPE_WRITE},
    {"POST", "/api/v2/alerts", false, WEB_SCOPE_WRITE},
    {NULL, "/-/reload", false, WEB_SCOPE_ADMIN},
    {NULL, "/-/quit", false, WEB_SCOPE_ADMIN},
    {NULL, "/api/v1/admin/", true, WEB_SCOPE_ADMIN},
    {"POST", "/api/v2/silences", false, WEB_SCOPE_ADMIN},
    {"DELETE", "/api/v2/silence/", true, WEB_SCOPE_ADMIN},
};

unsigned web_auth_route_scope(const char *method, const char *path)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const scope_rule *r = &rules[i];
		if (r->method && strcmp(r->method, method) != 0)
			continue;
		if (r->is_prefix ? strncmp(path, r->path, strlen(r->path)) == 0
				 : strcmp(path, r->path) == 0)
			return r->scope;
	}
	return WEB_SCOPE_READ;
}

const char *web_auth_scope_name(unsigned scope)
{
	switch (scope) {
	case WEB_SCOPE_READ: return "read";
	case WEB_SCOPE_WRITE: return "write";
	case WEB_SCOPE_ADMIN: return "admin";
	default: return "none";
	}
}

/* ------------------------------------------------------------------------------------ */
/* Hashing                                                                               */
/* ------------------------------------------------------------------------------------ */

static bool ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(x[i] ^ y[i]);
	return d == 0;
}

/* A crypt(3) prefix we accept: bcrypt, yescrypt, SHA-crypt. */
static bool supported_hash(const char *h)
{
	static const char *const ok[] = {"$2b$", "$2y$", "$2a$", "$y$",
					 "$gy$", "$7$",  "$6$",  "$5$"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strncmp(h, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

/*
 * Is h a hash crypt can check? bcrypt is checked by its syntax ($2b$NN$ + 53 characters
 * of bcrypt's base64; hashing would cost ~70 ms per entry at start); the others by
 * letting crypt parse them.
 */
static bool hash_setting_ok(const char *h)
{
	if (!supported_hash(h))
		return false;
	if (h[1] == '2') {
		if (strlen(h) != 60 || h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' ||
		    h[6] != '$')
			return false;
		int cost = (h[4] - '0') * 10 + (h[5] - '0');
		return cost >= 4 && cost <= 31 &&
		       strspn(h + 7, "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789") == 53;
	}
	struct crypt_data *cd = ts_calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	const char *out = crypt_rn("x", h, cd, (int)sizeof(*cd));
	bool ok = out && out[0] != '*';
	ts_free(cd);
	return ok;
}

/* Does secret hash to the stored hash? (crypt_rn; constant-time comparison) */
static bool verify(const char *secret, const char *hash)
{
	struct crypt_data *cd = ts_calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	const char *out = crypt_rn(secret, hash, cd, (int)sizeof(*cd));
	size_t hl = strlen(hash);
	bool ok = out && out[0] != '*' && strlen(out) == hl && ct_equal(out, hash, hl);
	explicit_bzero(cd, sizeof(*cd));
	ts_free(cd);
	return ok;
}

int web_auth_hash_secret(const char *secret, int cost, char *out, size_t cap, ts_err *err)
{
	if (cost == 0)
		cost = 10;
	if (cost < 4 || cost > 31)
		return ts_err_set(err, TS_EINVAL, "bcrypt cost %d is out of range [4, 31]", cost);
	if (!secret || !secret[0])
		return ts_err_set(err, TS_EINVAL, "the password must not be empty");
	if (strlen(secret) > 72)
		return ts_err_set(err, TS_EINVAL,
				  "bcrypt uses only the first 72 bytes; the password has %zu",
				  strlen(secret));
	if (cap < 128)
		return ts_err_set(err, TS_EINVAL, "hash buffer of %zu bytes is too small", cap);
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, salt, (int)sizeof(salt)))
		return ts_err_set(err, TS_EIO, "cannot make a bcrypt salt (no randomness?)");
	struct crypt_data *cd = ts_calloc(1, sizeof(*cd));
	if (!cd)
		return ts_err_set(err, TS_ENOMEM, "out of memory hashing");
	const char *h = crypt_rn(secret, salt, cd, (int)sizeof(*cd));
	int rc = TS_OK;
	if (!h || h[0] == '*' || strlen(h) >= cap)
		rc = ts_err_set(err, TS_EIO, "bcrypt hashing failed");
	else
		snprintf(out, cap, "%s", h);
	explicit_bzero(cd, sizeof(*cd));
	ts_free(cd);
	return rc;
}

/* SHA-256(key || kind || name || 0 || secret) into d. */
static void cache_key(const web_auth *a, char kind, const char *name, const char *secret,
		      uint8_t d[DIGEST_BYTES])
{
	size_t nl = strlen(name), sl = strlen(secret);
	size_t n = DIGEST_BYTES + 1 + nl + 1 + sl;
	uint8_t stackbuf[DIGEST_BYTES + 2 + 2 * MAX_SECRET + 2];
	if (TS_NEVER(n > sizeof(stackbuf))) {
		memset(d, 0, DIGEST_BYTES);
		return;
	}
	uint8_t *p = stackbuf;
	memcpy(p, a->key, DIGEST_BYTES);
	p += DIGEST_BYTES;
	*p++ = (uint8_t)kind;
	memcpy(p, name, nl);
	p += nl;
	*p++ = 0;
	memcpy(p, secret, sl);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, stackbuf, n, d) != 0)
		memset(d, 0, DIGEST_BYTES);
	explicit_bzero(stackbuf, n);
}

static size_t slot_of(const uint8_t d[DIGEST_BYTES])
{
	uint64_t h;
	memcpy(&h, d, sizeof(h));
	return (size_t)(h & (CACHE_SLOTS - 1));
}

/* Principal index + 1 cached for d, or 0. */
static int cache_get(web_auth *a, const uint8_t d[DIGEST_BYTES])
{
	int idx = 0;
	pthread_mutex_lock(&a->mu);
	for (size_t i = slot_of(d), k = 0; k < CACHE_SLOTS; i = (i + 1) & (CACHE_SLOTS - 1), k++) {
		const cache_slot *s = &a->cache[i];
		if (!s->idx)
			break;
		if (ct_equal(s->digest, d, DIGEST_BYTES)) {
			idx = s->idx;
			break;
		}
	}
	pthread_mutex_unlock(&a->mu);
	return idx;
}

static void cache_put(web_auth *a, const uint8_t d[DIGEST_BYTES], int idx)
{
	pthread_mutex_lock(&a->mu);
	if (a->n_cached >= CACHE_SLOTS / 4 * 3) {
		memset(a->cache, 0, CACHE_SLOTS * sizeof(*a->cache));
		a->n_cached = 0;
	}
	size_t i = slot_of(d);
	while (a->cache[i].idx && !ct_equal(a->cache[i].digest, d, DIGEST_BYTES))
		i = (i + 1) & (CACHE_SLOTS - 1);
	if (!a->cache[i].idx)
		a->n_cached++;
	memcpy(a->cache[i].digest, d, DIGEST_BYTES);
	a->cache[i].idx = idx;
	pthread_mutex_unlock(&a->mu);
}

size_t web_auth_cache_size(web_auth *a)
{
	pthread_mutex_lock(&a->mu);
	size_t n = a->n_cached;
	pthread_mutex_unlock(&a->mu);
	return n;
}

/* ------------------------------------------------------------------------------------ */
/* Config                                                                                */
/* ------------------------------------------------------------------------------------ */

void web_auth_free(web_auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_p; i++) {
		ts_free(a->p[i].name);
		ts_free(a->p[i].hash);
	}
	ts_free(a->p);
	if (a->cache)
		explicit_bzero(a->cache, CACHE_SLOTS * sizeof(*a->cache));
	ts_free(a->cache);
	explicit_bzero(a->key, sizeof(a->key));
	pthread_mutex_destroy(&a->mu);
	ts_free(a);
}

static int parse_scopes(const ts_yaml_doc *d, const ts_yaml_node *v, const char *what,
			unsigned *out, ts_err *err)
{
	if (!v || v->type != TS_YAML_SEQ || v->n == 0)
		return ts_yaml_error(d, v, err, TS_EINVAL,
				     "%s: expected a non-empty list of read, write, admin", what);
	unsigned s = 0;
	for (size_t i = 0; i < v->n; i++) {
		const char *str;
		int rc = ts_yaml_str(d, v->items[i], what, &str, err);
		if (rc)
			return rc;
		if (strcmp(str, "read") == 0)
			s |= WEB_SCOPE_READ;
		else if (strcmp(str, "write") == 0)
			s |= WEB_SCOPE_WRITE;
		else if (strcmp(str, "admin") == 0)
			s |= WEB_SCOPE_ADMIN | WEB_SCOPE_READ | WEB_SCOPE_WRITE;
		else
			return ts_yaml_error(d, v->items[i], err, TS_EINVAL,
					     "%s: unknown scope '%s' (want read, write or admin)",
					     what, str);
	}
	*out = s;
	return TS_OK;
}

/* One entry of users: or tokens:. */
static int parse_principal(web_auth *a, const ts_yaml_doc *d, const ts_yaml_node *e,
			   const char *list, bool is_token, ts_err *err)
{
	const char *hash_key = is_token ? "token_hash" : "password_hash";
	char what[96];
	if (e->type != TS_YAML_MAP)
		return ts_yaml_error(d, e, err, TS_EINVAL,
				     "auth.%s: each entry must be a mapping (name, %s, scopes)",
				     list, hash_key);
	const ts_yaml_node *name = NULL, *hash = NULL, *scopes = NULL;
	for (size_t i = 0; i < e->n; i++) {
		const char *k = e->keys[i]->scalar;
		if (strcmp(k, "name") == 0)
			name = e->items[i];
		else if (strcmp(k, hash_key) == 0)
			hash = e->items[i];
		else if (strcmp(k, "scopes") == 0)
			scopes = e->items[i];
		else if (strcmp(k, is_token ? "token" : "password") == 0)
			return ts_yaml_error(d, e->keys[i], err, TS_EINVAL,
					     "auth.%s.%s: plaintext secrets are not accepted; "
					     "store '%s' from `strata hash-password`",
					     list, k, hash_key);
		else
			return ts_yaml_error(d, e->keys[i], err, TS_EINVAL,
					     "unknown key 'auth.%s.%s'", list, k);
	}
	const char *nm, *hs;
	snprintf(what, sizeof(what), "auth.%s.name", list);
	if (!name)
		return ts_yaml_error(d, e, err, TS_EINVAL, "%s is missing", what);
	int rc = ts_yaml_str(d, name, what, &nm, err);
	if (rc)
		return rc;
	if (!nm[0] || strlen(nm) >= sizeof(((web_auth_result *)0)->principal) || strchr(nm, ':'))
		return ts_yaml_error(d, name, err, TS_EINVAL,
				     "%s: '%s' must be 1-127 bytes without ':'", what, nm);
	for (size_t i = 0; i < a->n_p; i++)
		if (a->p[i].is_token == is_token && strcmp(a->p[i].name, nm) == 0)
			return ts_yaml_error(d, name, err, TS_EINVAL, "%s: duplicate name '%s'",
					     what, nm);
	snprintf(what, sizeof(what), "auth.%s.%s", list, hash_key);
	if (!hash)
		return ts_yaml_error(d, e, err, TS_EINVAL, "%s is missing for '%s'", what, nm);
	if ((rc = ts_yaml_str(d, hash, what, &hs, err)))
		return rc;
	if (!hash_setting_ok(hs))
		return ts_yaml_error(d, hash, err, TS_EINVAL,
				     "%s for '%s': not a supported crypt(3) hash "
				     "(bcrypt $2b$ from `strata hash-password`)",
				     what, nm);
	unsigned sc = 0;
	snprintf(what, sizeof(what), "auth.%s.scopes", list);
	if (!scopes)
		return ts_yaml_error(d, e, err, TS_EINVAL, "%s is missing for '%s'", what, nm);
	if ((rc = parse_scopes(d, scopes, what, &sc, err)))
		return rc;
	principal *p = &a->p[a->n_p];
	p->name = ts_strdup(nm);
	p->hash = ts_strdup(hs);
	p->scope = sc;
	p->is_token = is_token;
	if (!p->name || !p->hash) {
		ts_free(p->name);
		ts_free(p->hash);
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	}
	a->n_p++;
	return TS_OK;
}

int web_auth_load(const ts_config *c, web_auth **out, ts_err *err)
{
	*out = NULL;
	const ts_yaml_node *sec = c ? ts_config_section(c, "auth") : NULL;
	if (!sec || ts_yaml_is_null(sec))
		return TS_OK;
	const ts_yaml_doc *d = ts_config_doc(c);
	if (sec->type != TS_YAML_MAP)
		return ts_yaml_error(d, sec, err, TS_EINVAL, "auth: expected a mapping");
	const ts_yaml_node *users = NULL, *tokens = NULL;
	for (size_t i = 0; i < sec->n; i++) {
		const char *k = sec->keys[i]->scalar;
		const ts_yaml_node *v = sec->items[i];
		if (strcmp(k, "users") != 0 && strcmp(k, "tokens") != 0)
			return ts_yaml_error(d, sec->keys[i], err, TS_EINVAL,
					     "unknown key 'auth.%s'", k);
		if (!ts_yaml_is_null(v) && v->type != TS_YAML_SEQ)
			return ts_yaml_error(d, v, err, TS_EINVAL, "auth.%s: expected a list", k);
		if (k[0] == 'u')
			users = v;
		else
			tokens = v;
	}
	size_t nu = users && users->type == TS_YAML_SEQ ? users->n : 0;
	size_t nt = tokens && tokens->type == TS_YAML_SEQ ? tokens->n : 0;
	if (nu + nt == 0)
		return ts_yaml_error(d, sec, err, TS_EINVAL,
				     "auth: needs at least one entry in users or tokens (remove "
				     "the section to turn access control off)");
	web_auth *a = ts_calloc(1, sizeof(*a));
	if (!a)
		return ts_err_set(err, TS_ENOMEM, "out of memory");
	pthread_mutex_init(&a->mu, NULL);
	int rc = TS_ENOMEM;
	a->p = ts_calloc(nu + nt, sizeof(*a->p));
	a->cache = ts_calloc(CACHE_SLOTS, sizeof(*a->cache));
	if (!a->p || !a->cache) {
		rc = ts_err_set(err, TS_ENOMEM, "out of memory");
		goto fail;
	}
	if (getrandom(a->key, sizeof(a->key), 0) != (ssize_t)sizeof(a->key)) {
		rc = ts_err_set(err, TS_EIO, "auth: getrandom failed for the cache key");
		goto fail;
	}
	for (size_t i = 0; i < nu; i++)
		if ((rc = parse_principal(a, d, users->items[i], "users", false, err)))
			goto fail;
	a->n_users = a->n_p;
	for (size_t i = 0; i < nt; i++)
		if ((rc = parse_principal(a, d, tokens->items[i], "tokens", true, err)))
			goto fail;
	*out = a;
	return TS_OK;
fail:
	web_auth_free(a);
	return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Checking                                                                              */
/* ------------------------------------------------------------------------------------ */

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 (padding optional) into out (cap bytes, NUL-terminated). */
static bool b64_decode(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		int v = b64_val((unsigned char)*s);
		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= cap)
				return false;
			out[n++] = (char)((acc >> bits) & 0xFF);
		}
	}
	while (*s == '=')
		s++;
	if (*s)
		return false;
	out[n] = '\0';
	return memchr(out, '\0', n) == NULL;
}

/* Index of the principal these credentials name, or -1. kind: 'U' user, 'T' token. */
static int authenticate(web_auth *a, char kind, const char *name, const char *secret)
{
	if (strlen(secret) > MAX_SECRET || strlen(name) > MAX_SECRET)
		return -1;
	uint8_t d[DIGEST_BYTES];
	cache_key(a, kind, name, secret, d);
	int idx = cache_get(a, d);
	if (idx)
		return idx - 1;
	int found = -1;
	if (kind == 'U') {
		for (size_t i = 0; i < a->n_users && found < 0; i++)
			if (strcmp(a->p[i].name, name) == 0)
				found = verify(secret, a->p[i].hash) ? (int)i : -2;
		if (found == -1 && a->n_users) /* unknown user: spend the same time */
			(void)verify(secret, a->p[0].hash);
	} else {
		for (size_t i = a->n_users; i < a->n_p && found < 0; i++)
			if (verify(secret, a->p[i].hash))
				found = (int)i;
	}
	if (found < 0)
		return -1;
	cache_put(a, d, found + 1);
	return found;
}

/* Value of key in a raw query string, decoded into out; false if absent or bad. */
static bool query_get(const char *q, size_t qn, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	const char *p = q, *end = q + qn;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t vn = (size_t)(e - v), on;
			if (vn >= cap)
				return false;
			return web_url_decode(v, vn, true, out, &on, "query string", NULL) == TS_OK;
		}
		p = e + 1;
	}
	return false;
}

void web_auth_check(web_auth *a, const char *method, const char *path, const char *authorization,
		    const char *query, size_t query_n, web_auth_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!strcmp(method, "HEAD"))
		method = "GET";
	unsigned need = web_auth_route_scope(method, path);
	if (!a || need == WEB_SCOPE_OPEN)
		return;
	/* Room for user:password of the longest accepted secret. */
	char buf[2 * MAX_SECRET + 4], user[MAX_SECRET + 1], pass[MAX_SECRET + 1];
	char kind = 0;
	const char *name = "", *secret = NULL;
	if (authorization) {
		const char *sp = strchr(authorization, ' ');
		size_t schemel = sp ? (size_t)(sp - authorization) : strlen(authorization);
		const char *val = sp ? sp + 1 : "";
		while (*val == ' ')
			val++;
		if (schemel == 5 && strncasecmp(authorization, "Basic", 5) == 0) {
			if (strlen(val) < sizeof(buf) && b64_decode(val, buf, sizeof(buf)))
				kind = 'U';
		} else if ((schemel == 6 && strncasecmp(authorization, "Bearer", 6) == 0) ||
			   (schemel == 5 && strncasecmp(authorization, "Token", 5) == 0)) {
			if (strlen(val) < sizeof(buf)) {
				snprintf(buf, sizeof(buf), "%s", val);
				kind = 'T';
			}
		}
		if (kind == 'U' || kind == 'T') {
			char *colon = strchr(buf, ':');
			if (kind == 'U' && !colon) {
				kind = 0;
			} else if (kind == 'U' || (colon && a->n_users)) {
				/* "Token user:password" (InfluxDB 1.8) is tried as a token
				 * first, then as a user */
				size_t ul = (size_t)(colon - buf);
				if (ul < sizeof(user) && strlen(colon + 1) < sizeof(pass)) {
					memcpy(user, buf, ul);
					user[ul] = '\0';
					snprintf(pass, sizeof(pass), "%s", colon + 1);
				} else {
					user[0] = pass[0] = '\0';
				}
			}
		}
		if (!kind) {
			res->status = 401;
			snprintf(res->msg, sizeof(res->msg),
				 "unsupported Authorization header (use Basic, Bearer or Token)");
			explicit_bzero(buf, sizeof(buf));
			return;
		}
		if (kind == 'T') {
			secret = buf;
		} else {
			name = user;
			secret = pass;
		}
	} else if (query_n && query_get(query, query_n, "u", user, sizeof(user)) &&
		   query_get(query, query_n, "p", pass, sizeof(pass))) {
		kind = 'U';
		name = user;
		secret = pass;
	}
	if (!kind) {
		res->status = 401;
		snprintf(res->msg, sizeof(res->msg), "authentication required");
		return;
	}
	int idx = authenticate(a, kind, name, secret);
	if (idx < 0 && kind == 'T' && strchr(buf, ':') && a->n_users)
		idx = authenticate(a, 'U', user, pass);
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(pass, sizeof(pass));
	if (idx < 0) {
		res->status = 401;
		snprintf(res->msg, sizeof(res->msg), "invalid credentials");
		return;
	}
	const principal *p = &a->p[idx];
	snprintf(res->principal, sizeof(res->principal), "%s", p->name);
	if (!(p->scope & need)) {
		res->status = 403;
		snprintf(res->msg, sizeof(res->msg), "%s '%s' lacks the %s scope that %s %s needs",
			 p->is_token ? "token" : "user", p->name, web_auth_scope_name(need), method,
			 path);
	}
}
