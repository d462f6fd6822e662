/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_client.c: what a query node's requests to its stores share (web_int.h): the
 * credentials of cluster.store_auth (wiped when replaced or freed), the setup of one
 * libcurl easy handle for a store request, and running a multi handle to completion.
 * Used by fanout.c (reads) and fanout_late.c (late-write marks).
 *
 * Tested through its users: tests/web/test_fanout.c, tests/web/test_fanout_late.c and
 * tests/integration/test_cluster_query.sh, test_cluster_query_cache.sh, test_auth.sh.
 */
#include "web/web_int.h"

#include "web/store_client.h"

static void wipe_free(char *s)
{
	if (!s)
		return;
	volatile char *p = s;
	while (*p)
		*p++ = 0;
	ts_free(s);
}

int web_store_auth_set(web_store_auth *a, const char *who, const char *token, const char *user,
		       const char *password, ts_err *err)
{
	if (token && (user || password))
		return ts_err_set(err, TS_EINVAL,
				  "%s: store credentials are a token or a user and password, "
				  "not both",
				  who);
	if (!token && (!user) != (!password))
		return ts_err_set(err, TS_EINVAL,
				  "%s: store credentials need both a user and a password", who);
	web_store_auth_clear(a);
	a->token = token ? ts_strdup(token) : NULL;
	a->user = user ? ts_strdup(user) : NULL;
	a->password = password ? ts_strdup(password) : NULL;
	if ((token && !a->token) || (user && (!a->user || !a->password)))
		return ts_err_set(err, TS_ENOMEM, "out of memory storing the store credentials");
	return TS_OK;
}

void web_store_auth_clear(web_store_auth *a)
{
	wipe_free(a->token);
	wipe_free(a->user);
	wipe_free(a->password);
	a->token = a->user = a->password = NULL;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	ts_buf *body = ud;
	size_t n = size * nmemb;
	return ts_buf_append(body, p, n) == TS_OK ? n : 0;
}

CURL *web_store_easy(const char *url, ts_buf *body, void *priv, int64_t timeout_ms,
		     int64_t connect_cap_ms, const web_store_auth *auth)
{
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout_ms < connect_cap_ms ? timeout_ms : connect_cap_ms));
	curl_easy_setopt(h, CURLOPT_PRIVATE, priv);
	if (auth->token) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, auth->token);
	} else if (auth->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, auth->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, auth->password);
	}
	return h;
}

void web_store_multi_run(CURLM *multi, web_store_done_fn done)
{
	int running = 1;
	while (running) {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(multi, &left)))
		if (msg->msg == CURLMSG_DONE) {
			void *priv = NULL;
			long status = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&priv);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			done(priv, msg->data.result, status);
		}
}
