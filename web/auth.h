/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.h: access control of the HTTP API (internal to web/ and its tests). The model and
 * every rule are in docs/SECURITY.md.
 *
 * The optional `auth:` config section lists users (HTTP basic auth, Influx u/p) and
 * bearer tokens, each with scopes read, write and admin (admin implies the other two).
 * Secrets are stored as crypt(3) hashes (bcrypt "$2b$" from `strata hash-password`),
 * never in plaintext. Every route needs one scope (web_auth_route_scope); a request
 * without valid credentials gets 401 (the same message for an unknown user and a wrong
 * password), one whose principal lacks the scope gets 403.
 *
 * Checking a bcrypt hash costs tens of milliseconds on purpose, so successful checks are
 * remembered: the cache key is SHA-256 over a random per-process key and the presented
 * credentials, so the cache holds no plaintext secret. Failed checks are never cached.
 */
#ifndef WEB_AUTH_H
#define WEB_AUTH_H

#include "web/web.h"

#include <stdbool.h>
#include <stddef.h>

/* Scopes, as bits. A route needs exactly one; a principal holds a set. */
#define WEB_SCOPE_OPEN  0u /* no credentials needed (/-/healthy, /-/ready, /ping) */
#define WEB_SCOPE_READ  1u
#define WEB_SCOPE_WRITE 2u
#define WEB_SCOPE_ADMIN 4u /* implies read and write */

typedef struct web_auth web_auth;

/*
 * Parse the `auth:` section of c (borrowed; NULL or no section: *out = NULL, meaning no
 * access control). Errors are TS_EINVAL naming file:line:col and the key (a plaintext or
 * unsupported hash, unknown scope, duplicate name, no users and no tokens), TS_ENOMEM.
 * *out returned owned (web_auth_free). Not thread-safe (called once at start).
 */
int web_auth_load(const ts_config *c, web_auth **out, ts_err *err);
/* NULL allowed. No request may be in a check. */
void web_auth_free(web_auth *a);

/* The scope a request needs: method ("GET") and decoded path. Pure; thread-safe. */
unsigned web_auth_route_scope(const char *method, const char *path);
/* "read", "write", "admin" or "none" for one scope bit. */
const char *web_auth_scope_name(unsigned scope);

/* The outcome of a check. */
typedef struct web_auth_result {
	int status;          /* 0 = allowed, 401 or 403 */
	char principal[128]; /* user or token name when the credentials were valid */
	char msg[256];       /* the reason, safe to send to the client */
} web_auth_result;

/*
 * Check a request: authorization is its Authorization header (NULL if none) and
 * query[0..query_n) its raw query string (Influx v1 `u` and `p`). Accepted forms:
 * "Basic base64(user:password)", "Bearer <token>", "Token <token>" (InfluxDB 2) and
 * "Token <user>:<password>" (InfluxDB 1.8's v2 API), or u/p parameters. Fills *res.
 * Thread-safe; may take tens of milliseconds (bcrypt) on a cache miss.
 */
void web_auth_check(web_auth *a, const char *method, const char *path, const char *authorization,
		    const char *query, size_t query_n, web_auth_result *res);

/* Number of verified credentials in the cache (tests). Thread-safe. */
size_t web_auth_cache_size(web_auth *a);

#endif /* WEB_AUTH_H */
