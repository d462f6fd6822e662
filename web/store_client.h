/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_client.h: what a query node's requests to its stores share (store_client.c;
 * used by fanout.c and fanout_late.c; internal to web/). Apart from web_int.h because it
 * needs libcurl's declarations.
 */
#ifndef WEB_STORE_CLIENT_H
#define WEB_STORE_CLIENT_H

#include "common/common.h"

#include <curl/curl.h>

/* cluster.store_auth: a bearer token, or a user and password, or none (all NULL). */
typedef struct web_store_auth {
	char *token, *user, *password; /* owned */
} web_store_auth;

/*
 * Replace a's credentials with copies (all NULL: none). TS_EINVAL, naming `who` ("fan-out"),
 * when both a token and a user or password are given or only one of user and password;
 * TS_ENOMEM. The old secrets are wiped before they are freed.
 */
int web_store_auth_set(web_store_auth *a, const char *who, const char *token, const char *user,
		       const char *password, ts_err *err);
/* Wipe and free a's secrets (a itself stays usable, with no credentials). */
void web_store_auth_clear(web_store_auth *a);

/*
 * A new easy handle for one store request: GET url (copied), the answer appended to body,
 * no signals, bounded by timeout_ms (connecting by the smaller of it and connect_cap_ms),
 * CURLINFO_PRIVATE = priv, auth's credentials. NULL when libcurl cannot make one.
 */
CURL *web_store_easy(const char *url, ts_buf *body, void *priv, int64_t timeout_ms,
		     int64_t connect_cap_ms, const web_store_auth *auth);

/* Called for every finished transfer: its PRIVATE pointer, result and HTTP status (0: none). */
typedef void (*web_store_done_fn)(void *priv, CURLcode code, long status);
/*
 * Run every transfer added to multi until all end (each is bounded by its own timeout),
 * then call done for each that finished. The caller removes and cleans up the handles.
 */
void web_store_multi_run(CURLM *multi, web_store_done_fn done);

#endif /* WEB_STORE_CLIENT_H */
