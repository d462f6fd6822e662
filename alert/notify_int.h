/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify_int.h: the internals of the notification half of alert/ (internal to alert/ and
 * its tests): config, routing, the notification log, the outbox, silences, payload
 * rendering, JSON and the libcurl wrapper.
 *
 * Data flow (one direction):
 *   alert_notifier_post -> alert store (merge by fingerprint) -> route tree -> aggregation
 *   groups (notify.c) -> on each group timer: mute (inhibit rules, silences) -> dedup
 *   against the notification log (nlog.c) -> per-receiver rate limit -> render
 *   (webhook.c, email.c) -> durable outbox (outbox.c) -> sender thread -> curl_client.c.
 *
 * Locks, in the only order they may nest (each is a leaf with respect to the ones after):
 * notifier.mu, then none; silences.mu, nlog.mu, outbox.mu are each taken alone. No lock
 * is held across disk I/O except the "writer" mutexes that only serialize writers of one
 * state file (documented where they are declared).
 */
#ifndef ALERT_NOTIFY_INT_H
#define ALERT_NOTIFY_INT_H

#include "alert/alert_int.h"
#include "alert/arena.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ================================================================ config (notify_config.c) */

typedef enum alert_ncfg_kind {
	ALERT_NCFG_WEBHOOK = 0,
	ALERT_NCFG_EMAIL = 1,
} alert_ncfg_kind;

/* http_config subset (Prometheus common config). */
typedef struct alert_ncfg_http {
	const char *basic_user;       /* basic_auth.username or NULL */
	const char *basic_password;   /* basic_auth.password (or file contents) or NULL */
	const char *auth_type;        /* authorization.type ("Bearer") or NULL */
	const char *auth_credentials; /* authorization.credentials / bearer_token or NULL */
	const char *ca_file;          /* tls_config.ca_file or NULL */
	const char *cert_file;        /* tls_config.cert_file or NULL */
	const char *key_file;         /* tls_config.key_file or NULL */
	bool is_insecure;             /* tls_config.insecure_skip_verify */
	bool follow_redirects;        /* default true */
	const char *proxy_url;        /* proxy_url or NULL */
} alert_ncfg_http;

typedef struct alert_ncfg_webhook {
	const char *url;      /* http(s) URL */
	int64_t max_alerts;   /* 0 = all */
	alert_ncfg_http http; /* merged with global.http_config */
} alert_ncfg_webhook;

typedef struct alert_ncfg_header {
	const char *name;  /* as written (Subject, X-Foo) */
	const char *value; /* literal value */
} alert_ncfg_header;

typedef struct alert_ncfg_email {
	const char *to;            /* To header, comma-separated addresses */
	const char *from;          /* From header */
	const char *hello;         /* EHLO name; default "localhost" */
	const char *smarthost;     /* "host:port" */
	const char *auth_username; /* NULL = no AUTH */
	const char *auth_password;
	const char *auth_identity;
	bool require_tls;           /* STARTTLS required (default true); port 465 = implicit TLS */
	bool is_insecure;           /* tls_config.insecure_skip_verify */
	const char *ca_file;        /* tls_config.ca_file */
	alert_ncfg_header *headers; /* custom headers (Subject overrides the default) */
	size_t n_headers;
	const char *html; /* NULL = default HTML body; "" = no HTML part */
	const char *text; /* NULL = default text body; "" = no text part */
} alert_ncfg_email;

/* One notifier of a receiver ("integration" in Alertmanager). */
typedef struct alert_ncfg_integration {
	alert_ncfg_kind kind;
	uint32_t index;     /* position among the receiver's integrations of this kind */
	bool send_resolved; /* webhook default true, email default false */
	union {
		alert_ncfg_webhook *webhook;
		alert_ncfg_email *email;
	} u;
} alert_ncfg_integration;

typedef struct alert_ncfg_receiver {
	const char *name;
	alert_ncfg_integration *integ; /* webhooks first, then emails, in file order */
	size_t n_integ;
} alert_ncfg_receiver;

typedef struct alert_ncfg_route alert_ncfg_route;
struct alert_ncfg_route {
	const alert_ncfg_route *parent; /* NULL for the root */
	uint32_t index;                 /* depth-first position (root 0) */
	const char *receiver;           /* inherited when unset */
	const char **group_by;          /* label names, sorted; inherited when unset */
	size_t n_group_by;
	bool is_group_by_all;       /* group_by: ['...'] */
	int64_t group_wait_ms;      /* inherited; root default 30s */
	int64_t group_interval_ms;  /* inherited; root default 5m */
	int64_t repeat_interval_ms; /* inherited; root default 4h */
	ts_matcher *matchers;       /* sorted like Alertmanager's labels.Matchers */
	size_t n_matchers;
	bool is_continue;          /* keep matching siblings after a match */
	alert_ncfg_route **routes; /* children */
	size_t n_routes;
	const char *key; /* Alertmanager route key: "{}/{team=\"a\"}" */
};

typedef struct alert_ncfg_inhibit {
	ts_matcher *source; /* source_matchers + source_match(_re) */
	size_t n_source;
	ts_matcher *target;
	size_t n_target;
	const char **equal; /* label names that must be equal on source and target */
	size_t n_equal;
} alert_ncfg_inhibit;

/* A complete, validated notification config. Immutable and reference counted. */
typedef struct alert_ncfg {
	_Atomic uint32_t refs; /* alert_ncfg_release frees at 0 */
	alert_arena *arena;    /* everything below lives here (owned) */
	ts_matcher **owned;    /* matcher arrays to ts_matcher_fini (pcre2 code) */
	size_t *n_owned_each;
	size_t n_owned, cap_owned;
	/* Alertmanager part */
	int64_t resolve_timeout_ms; /* global.resolve_timeout, default 5m */
	alert_ncfg_route *root;
	alert_ncfg_route **routes; /* every route, by index */
	size_t n_routes;
	alert_ncfg_receiver *receivers;
	size_t n_receivers;
	alert_ncfg_inhibit *inhibits;
	size_t n_inhibits;
	/* Strata part (alerting: keys outside config/config_file) */
	const char *external_url;       /* externalURL in payloads; NULL = caller's default */
	int64_t outbox_max_age_ms;      /* give up delivering after this; default 24h */
	int64_t retry_initial_ms;       /* first retry delay; default 1s */
	int64_t retry_max_ms;           /* backoff cap; default 5m */
	int64_t send_timeout_ms;        /* per delivery attempt; default 10s */
	int64_t rate_limit;             /* notifications per receiver per interval; 0 = off */
	int64_t rate_limit_interval_ms; /* default 1m */
	int64_t retention_ms;           /* nlog and expired silences kept; default 120h */
	const char **alertmanagers;     /* forward posted alerts to these base URLs */
	size_t n_alertmanagers;
} alert_ncfg;

/*
 * Parse the `alerting:` section of a Strata config: either inline `config:` (an
 * Alertmanager config) or `config_file:` (a path, relative to the Strata config's
 * directory), plus Strata's own keys. A config without the section gives a config with a
 * root route to a receiver with no integrations. *out returned owned (refcount 1).
 * Errors: TS_EINVAL/TS_EPARSE/TS_EIO with "file:line:col: key: problem"; TS_ENOMEM.
 */
int alert_ncfg_from_config(const ts_config *c, alert_ncfg **out, ts_err *err);
/* Parse an alertmanager.yml text (name used in messages); Strata keys get defaults. */
int alert_ncfg_parse(const char *name, const char *text, size_t len, alert_ncfg **out, ts_err *err);
/* Take / drop a reference. release(NULL) does nothing. Thread-safe. */
void alert_ncfg_acquire(alert_ncfg *c);
void alert_ncfg_release(alert_ncfg *c);
/* Receiver by name, or NULL. */
const alert_ncfg_receiver *alert_ncfg_receiver_get(const alert_ncfg *c, const char *name);
/* "webhook" or "email". */
const char *alert_ncfg_kind_name(alert_ncfg_kind k);

/*
 * Parse Alertmanager matcher text: one or more comma-separated `name op value`, optionally
 * in braces (`{a="b", c=~"d.*"}`), values quoted (with \" \\ \n escapes) or bare. Appends
 * initialized matchers to *v (a ts_realloc'd array, *n entries, caller finis and frees).
 * TS_EINVAL with a message naming the position on bad input.
 */
int alert_matchers_parse(const char *s, ts_matcher **v, size_t *n, ts_err *err);
/* Free a matcher array from alert_matchers_parse. */
void alert_matchers_free(ts_matcher *v, size_t n);

/* ================================================================ alerts (route.c) */

/*
 * An alert as the notifier keeps it: immutable once built, reference counted, one
 * allocation (labels, annotations and strings follow the struct). Updating an alert
 * means building a new object and swapping pointers.
 */
typedef struct alert_nalert {
	_Atomic uint32_t refs;
	uint64_t fp; /* Alertmanager fingerprint of the labels */
	int64_t starts_at_ms;
	int64_t ends_at_ms; /* never 0: firing alerts get now + resolve_timeout */
	int64_t updated_at_ms;
	bool is_timeout;        /* ends_at came from resolve_timeout, not from the poster */
	const ts_label *labels; /* sorted by name */
	size_t n_labels;
	const ts_label *annotations; /* sorted by name */
	size_t n_annotations;
	const char *generator_url; /* "" when none */
} alert_nalert;

/* Copy an alert (fields as given). NULL on ENOMEM. refs = 1. */
alert_nalert *alert_nalert_new(const ts_label *labels, size_t n_labels, const ts_label *annot,
			       size_t n_annot, const char *generator_url, int64_t starts_at_ms,
			       int64_t ends_at_ms, int64_t updated_at_ms, bool is_timeout);
void alert_nalert_acquire(alert_nalert *a);
void alert_nalert_release(alert_nalert *a); /* NULL allowed */
/* Resolved at `now_ms`: ends_at <= now. */
bool alert_nalert_is_resolved(const alert_nalert *a, int64_t now_ms);
/*
 * Alertmanager's Merge: `young` (newer updated_at) wins except that the earliest start
 * is kept and a later explicit end of `old` is kept. Returns a new alert (owned) or NULL.
 */
alert_nalert *alert_nalert_merge(const alert_nalert *old, const alert_nalert *young);

/*
 * model.LabelSet.Fingerprint: FNV-1a 64 over sorted names and values, each followed by
 * 0xff. Labels must be sorted by name.
 */
uint64_t alert_fingerprint(const ts_label *l, size_t n);
/* Do all matchers match the label set? (A missing label has value "".) */
bool alert_matchers_match(const ts_matcher *m, size_t n, const ts_label *l, size_t nl);

/*
 * The routes an alert goes to (Alertmanager Route.Match): depth first; a child that
 * matches and has continue: false stops its siblings; a route none of whose children
 * match is itself the result. Writes up to cap routes to out; returns how many matched
 * (may exceed cap: then call again with more room).
 */
size_t alert_route_match(const alert_ncfg_route *root, const ts_label *l, size_t n,
			 const alert_ncfg_route **out, size_t cap);

/*
 * The group labels of an alert on a route: the labels named in group_by that the alert
 * has (all of them for '...'). Writes to out (room for n entries), returns the count;
 * pointers are borrowed from l.
 */
size_t alert_route_group_labels(const alert_ncfg_route *r, const ts_label *l, size_t n,
				ts_label *out);

/*
 * The Alertmanager group key "<route key>:<labels>" where labels print as
 * {a="x", b="y"} (Go %q quoting, sorted). Appends to out: TS_OK/TS_ENOMEM/TS_ELIMIT.
 */
int alert_group_key(const alert_ncfg_route *r, const ts_label *gl, size_t n, ts_buf *out);
/* Append a label set as model.LabelSet.String() does. */
int alert_labels_string(const ts_label *l, size_t n, ts_buf *out);
/* Append a matcher as Alertmanager prints it: name op "escaped value". */
int alert_matcher_string(const ts_matcher *m, ts_buf *out);

/* Sort alerts like Alertmanager (job, then instance, then the whole label set). */
void alert_nalerts_sort(alert_nalert **v, size_t n);

/* ================================================================ map (route.c) */

/* An open-addressing map from 64-bit keys to pointers (keys are fingerprints). */
typedef struct alert_u64map {
	uint64_t *keys;
	void **vals;    /* NULL = empty slot; (void *)1 never used */
	uint8_t *state; /* 0 empty, 1 full, 2 deleted */
	size_t cap;     /* power of two or 0 */
	size_t n;       /* full slots */
	size_t used;    /* full + deleted */
} alert_u64map;

void *alert_u64map_get(const alert_u64map *m, uint64_t k);
/* Insert or replace. TS_OK or TS_ENOMEM (map unchanged). */
int alert_u64map_put(alert_u64map *m, uint64_t k, void *v);
/* Remove; returns the value or NULL. */
void *alert_u64map_del(alert_u64map *m, uint64_t k);
/* Iterate: *i starts at 0; returns false at the end. */
bool alert_u64map_next(const alert_u64map *m, size_t *i, uint64_t *k, void **v);
void alert_u64map_free(alert_u64map *m);

/* ================================================================ JSON (json.c) */

typedef enum alert_jtype {
	ALERT_J_NULL,
	ALERT_J_BOOL,
	ALERT_J_NUM,
	ALERT_J_STR,
	ALERT_J_ARR,
	ALERT_J_OBJ,
} alert_jtype;

typedef struct alert_jnode alert_jnode;
struct alert_jnode {
	alert_jtype type;
	bool b;              /* BOOL */
	double num;          /* NUM */
	const char *str;     /* STR: decoded UTF-8, NUL-terminated */
	size_t len;          /* STR: bytes */
	const char **keys;   /* OBJ: keys[i] -> items[i] */
	alert_jnode **items; /* ARR, OBJ */
	size_t n;
};

typedef struct alert_jdoc {
	alert_arena *arena; /* owned; every node and string */
	alert_jnode *root;
} alert_jdoc;

/* Parse JSON text (RFC 8259; depth <= 64). TS_EPARSE "offset N: problem". Free with fini. */
int alert_json_parse(const char *text, size_t len, alert_jdoc *doc, ts_err *err);
void alert_json_fini(alert_jdoc *doc);
/* Member of an object, or NULL (also when o is not an object). */
const alert_jnode *alert_json_get(const alert_jnode *o, const char *key);

/* A streaming writer with a sticky error (like web/json.h, which alert/ may not use). */
typedef struct alert_jw {
	ts_buf *out;
	int rc;
	uint32_t depth;
	uint64_t nonempty;
	bool after_key;
} alert_jw;

void alert_jw_init(alert_jw *w, ts_buf *out);
int alert_jw_obj_begin(alert_jw *w);
int alert_jw_obj_end(alert_jw *w);
int alert_jw_arr_begin(alert_jw *w);
int alert_jw_arr_end(alert_jw *w);
int alert_jw_key(alert_jw *w, const char *k);
int alert_jw_str(alert_jw *w, const char *s);
int alert_jw_str_n(alert_jw *w, const char *s, size_t n);
int alert_jw_int(alert_jw *w, int64_t v);
int alert_jw_bool(alert_jw *w, bool v);
/* A JSON object of labels {"name":"value",...}. */
int alert_jw_labels(alert_jw *w, const ts_label *l, size_t n);
/* Time as Go's time.Time JSON (RFC 3339, nanoseconds trimmed); 0 -> 0001-01-01T00:00:00Z. */
int alert_jw_time_go(alert_jw *w, int64_t ms);
/* Time as the Alertmanager v2 API prints it (RFC 3339 with milliseconds). */
int alert_jw_time_api(alert_jw *w, int64_t ms);
/* Append s as a JSON string escaped like Go's encoding/json (HTML-safe). */
int alert_json_escape(ts_buf *b, const char *s, size_t n);
/* Format ms as Go's RFC3339Nano (trailing zeros trimmed) into out (>= 40 bytes). */
void alert_time_go(int64_t ms, char *out, size_t cap);
/* Parse an API time (RFC 3339); Go's zero time and "" give 0. */
int alert_time_parse(const char *s, int64_t *out_ms, ts_err *err);

/* ================================================================ persistence (persist.c) */

/*
 * State files (docs/formats/alerting.md): 8-byte header (magic u32le, version u32le)
 * then records, each: len u32le | crc32c(payload) u32le | payload. Fields inside a
 * payload are little-endian; strings are uvarint length + bytes.
 */
#define ALERT_PERSIST_MAX_FILE (256u << 20)

/* Write a whole state file atomically: tmp, fsync, rename, fsync dir. TS_EIO/TS_ENOSPC. */
int alert_persist_write(const char *path, uint32_t magic, uint32_t version, const ts_buf *records,
			ts_err *err);
/* Read a state file (returned owned, *len bytes); TS_ENOTFOUND if absent, TS_ECORRUPT on
 * a bad header (also when version > max_version). */
int alert_persist_read(const char *path, uint32_t magic, uint32_t max_version, uint8_t **data,
		       size_t *len, uint32_t *version, ts_err *err);
/*
 * Load a whole state file record by record: fn(ctx, rec, n) gets each intact record and
 * returns TS_OK, TS_ECORRUPT (skipped and counted) or TS_ENOMEM (the load stops). An
 * absent file is TS_OK (empty state); an unreadable header is logged ("<what> <path>
 * unreadable (...); starting empty") and TS_OK; records with a bad CRC or that fn
 * rejects are skipped and their count logged. Returns TS_OK, TS_ENOMEM or an I/O error.
 */
int alert_persist_load(const char *path, uint32_t magic, uint32_t version, const char *what,
		       int (*fn)(void *ctx, const uint8_t *rec, size_t n), void *ctx, ts_err *err);
/* Append one framed record (len, crc, payload) to b. */
int alert_persist_frame(ts_buf *b, const void *payload, size_t n);
/* Next record of a file body: TS_OK with *rec and *n set, TS_ENOTFOUND at the end,
 * TS_ECORRUPT. */
int alert_persist_next(const uint8_t **p, const uint8_t *end, const uint8_t **rec, size_t *n);
/* Create dir (and parents) with mode 0700 if missing. */
int alert_persist_mkdir(const char *dir, ts_err *err);
/* fsync a directory. */
int alert_persist_sync_dir(const char *dir, ts_err *err);

/* Field writers (append to b; sticky errors are the caller's: check the last rc). */
int alert_put_str(ts_buf *b, const char *s);
int alert_put_bytes(ts_buf *b, const void *p, size_t n);

/* Bounded reader; the first failure sets rc = TS_ECORRUPT and later reads return zeros. */
typedef struct alert_rd {
	const uint8_t *p;
	const uint8_t *end;
	int rc;
} alert_rd;
uint8_t alert_rd_u8(alert_rd *r);
uint32_t alert_rd_u32(alert_rd *r);
uint64_t alert_rd_u64(alert_rd *r);
uint64_t alert_rd_uvarint(alert_rd *r);
/* A string: borrowed pointer into the data (not NUL-terminated) and its length. */
const char *alert_rd_str(alert_rd *r, size_t *n);
/* A string copied with ts_strndup (NULL on error or ENOMEM: rc set to TS_ENOMEM). */
char *alert_rd_strdup(alert_rd *r);

/* ================================================================ nlog (nlog.c) */

/* What was last notified for one group on one integration. */
typedef struct alert_nlog_entry {
	char *key;          /* "<group key>:<receiver>/<integration>/<index>" */
	int64_t sent_ms;    /* wall clock of the notification */
	int64_t expires_ms; /* dropped after this */
	uint64_t *firing;   /* sorted fingerprints */
	size_t n_firing;
	uint64_t *resolved; /* sorted fingerprints */
	size_t n_resolved;
} alert_nlog_entry;

typedef struct alert_nlog alert_nlog;

/* Open (load) the log at path; a missing file is an empty log. Corrupt records are
 * skipped and logged. *out returned owned. */
int alert_nlog_open(const char *path, alert_nlog **out, ts_err *err);
void alert_nlog_close(alert_nlog *l); /* NULL allowed; does not persist */
/* Copy of the entry for key into *out (fields owned; alert_nlog_entry_fini). TS_ENOTFOUND. */
int alert_nlog_get(alert_nlog *l, const char *key, alert_nlog_entry *out);
/* Store a copy of e unless an entry with a newer sent_ms is there. TS_OK/TS_ENOMEM. */
int alert_nlog_put(alert_nlog *l, const alert_nlog_entry *e, ts_err *err);
/* Drop entries with expires_ms <= now. Returns how many. */
size_t alert_nlog_gc(alert_nlog *l, int64_t now_ms);
/* Write the log if it changed since the last persist (atomic replace, fsync'd). */
int alert_nlog_persist(alert_nlog *l, ts_err *err);
size_t alert_nlog_len(alert_nlog *l);
void alert_nlog_entry_fini(alert_nlog_entry *e);
/* Serialize/parse one entry (used by the nlog file and outbox records). */
int alert_nlog_entry_encode(const alert_nlog_entry *e, ts_buf *b);
int alert_nlog_entry_decode(alert_rd *r, alert_nlog_entry *out);
/* The nlog key for a group on one integration. */
int alert_nlog_key(const char *group_key, const char *receiver, const alert_ncfg_integration *i,
		   ts_buf *out);
/*
 * Alertmanager's DedupStage.needsUpdate: must a notification go out now? e is the last
 * entry or NULL; firing/resolved are sorted fingerprints of the unmuted alerts.
 */
bool alert_nlog_needs_update(const alert_nlog_entry *e, const uint64_t *firing, size_t n_firing,
			     const uint64_t *resolved, size_t n_resolved, bool send_resolved,
			     int64_t repeat_ms, int64_t now_ms);

/* ================================================================ outbox (outbox.c) */

typedef enum alert_send_result {
	ALERT_SEND_OK = 0,    /* delivered: remove */
	ALERT_SEND_RETRY = 1, /* transient: back off and retry */
	ALERT_SEND_FAIL = 2,  /* permanent: record as failed and remove */
} alert_send_result;

typedef struct alert_outbox_entry {
	uint64_t id;        /* increasing; the file name */
	int64_t created_ms; /* wall clock at enqueue */
	alert_ncfg_kind kind;
	uint32_t integ_index; /* which integration of the kind in the receiver */
	char *receiver;
	char *group_key;
	bool has_nlog; /* nlog record written with the entry (replayed on start) */
	alert_nlog_entry nlog;
	char *payload; /* webhook JSON or the whole email message */
	size_t payload_len;
} alert_outbox_entry;

/*
 * Deliver one entry (called on a sender thread without any outbox lock; several senders
 * may call it at once for different groups). *slot is this sender thread's private
 * pointer (NULL at first): the callback may keep per-thread state there, such as a
 * connection, freed by the options' slot_free when the thread ends. Set *retry_after_ms
 * (> 0) to ask for a minimum delay (HTTP Retry-After). err gets a message for the log
 * on failure (no secrets).
 */
typedef alert_send_result (*alert_outbox_send_fn)(void *ctx, void **slot,
						  const alert_outbox_entry *e,
						  int64_t *retry_after_ms, ts_err *err);

typedef struct alert_outbox_options {
	const char *dir;           /* entries live here (created 0700) */
	alert_outbox_send_fn send; /* required */
	void *ctx;
	int64_t max_age_ms;            /* 0 = 24h */
	int64_t retry_initial_ms;      /* 0 = 1s */
	int64_t retry_max_ms;          /* 0 = 5m */
	size_t max_entries;            /* 0 = 100000; more is TS_EFULL */
	size_t max_bytes;              /* payload bytes pending; 0 = 256 MiB */
	uint64_t seed;                 /* jitter PRNG seed; 0 = from the clock */
	size_t senders;                /* sender threads; 0 = 4 */
	uint64_t segment_bytes;        /* start a new log segment past this; 0 = 8 MiB */
	void (*slot_free)(void *slot); /* frees a sender's slot (NULL = nothing to free) */
} alert_outbox_options;

typedef struct alert_outbox alert_outbox;

/* Per (receiver, integration kind) delivery counters. */
typedef struct alert_outbox_stat {
	char receiver[128];
	alert_ncfg_kind kind;
	uint64_t n_enqueued;   /* entries written */
	uint64_t n_sent;       /* delivered (2xx / SMTP accepted) */
	uint64_t n_failed;     /* permanent failure or expired */
	uint64_t n_retries;    /* failed attempts that were retried */
	uint64_t n_superseded; /* replaced by a newer notification for the same group */
} alert_outbox_stat;

/*
 * Open the outbox and load every entry left on disk: the log segments and the old
 * one-file-per-entry layout, which is migrated into the log. Corrupt files are renamed
 * to *.corrupt and logged. No thread runs until alert_outbox_start. *out owned.
 */
int alert_outbox_open(const alert_outbox_options *o, alert_outbox **out, ts_err *err);
/* Call fn for each replayed entry that carries an nlog record (before start). */
void alert_outbox_each_nlog(alert_outbox *ob, void (*fn)(void *ctx, const alert_nlog_entry *e),
			    void *ctx);
/* Start the sender threads ("alert-outbox", options.senders of them). */
int alert_outbox_start(alert_outbox *ob, ts_err *err);
/* Stop the sender (an attempt in flight finishes) and free. Entries stay on disk. */
void alert_outbox_close(alert_outbox *ob);
/*
 * Append an entry to the log and queue it. Fields are copied; e->id and e->created_ms
 * are assigned. hold = false: durable (fdatasync'd) before returning. hold = true: only
 * written; alert_outbox_sync makes it durable (group commit) and it is not attempted
 * until alert_outbox_commit. An older pending entry with the same (receiver, kind,
 * index, group key) whose alerts are all in the new one is superseded (deleted).
 * TS_EFULL when over the limits, TS_EIO/TS_ENOSPC on disk errors. Thread-safe.
 */
int alert_outbox_put(alert_outbox *ob, const alert_outbox_entry *e, bool hold, ts_err *err);
/*
 * Make every entry put so far durable: one fdatasync of the log (and a directory fsync
 * when a segment was started). TS_EIO/TS_ENOSPC when that failed: then held entries are
 * not known to be on disk (alert_outbox_discard_held drops them). Thread-safe.
 */
int alert_outbox_sync(alert_outbox *ob, ts_err *err);
/* Release held entries to the senders. */
void alert_outbox_commit(alert_outbox *ob);
/* Drop every held entry (after a failed sync); returns how many. */
size_t alert_outbox_discard_held(alert_outbox *ob);
/* Change retry settings (reload). 0 keeps a value. */
void alert_outbox_set_retry(alert_outbox *ob, int64_t max_age_ms, int64_t retry_initial_ms,
			    int64_t retry_max_ms);
/*
 * Attempt every entry that is due at mono time now_ms on the calling thread (tests, and
 * the sender thread's body). Returns the number of attempts made.
 */
size_t alert_outbox_run_due(alert_outbox *ob, int64_t now_mono_ms);
/* Pending entries and their oldest created_ms (0 if none). */
size_t alert_outbox_depth(alert_outbox *ob, int64_t *oldest_ms);
/* Copy up to cap stat rows; returns the number of rows there are. */
size_t alert_outbox_stats(alert_outbox *ob, alert_outbox_stat *out, size_t cap);
/* Delay before retry number `attempt` (1-based): exponential, capped, with jitter in
 * [d/2, d) where d = min(max, initial * 2^(attempt-1)). *state is the PRNG state. */
int64_t alert_outbox_backoff(int64_t initial_ms, int64_t max_ms, uint32_t attempt, uint64_t *state);
void alert_outbox_entry_fini(alert_outbox_entry *e);

/* ================================================================ HA (ha_record.c, ha.c) */

/*
 * A notification record of the Kafka notification topic (role alert; layout in
 * docs/formats/kafka.md "Alert notifications"): magic "SAN1" u32le | version u8 | crc32c
 * u32le of the body | body = the outbox entry (created_ms, kind, integration index,
 * receiver, group key, nlog record, payload) as outbox.c encodes it, without the id.
 */
#define ALERT_HA_RECORD_MAGIC     0x314E4153u /* "SAN1" */
#define ALERT_HA_RECORD_VERSION   1u
#define ALERT_HA_RECORD_HDR_BYTES 9u
#define ALERT_HA_RECORD_MAX_BYTES (16u << 20) /* larger records are refused both ways */

/* Append e's record to out. TS_ENOMEM, TS_ELIMIT (over ALERT_HA_RECORD_MAX_BYTES). */
int alert_ha_record_encode(const alert_outbox_entry *e, ts_buf *out);
/*
 * Decode one record (p borrowed) into *out (fields owned: alert_outbox_entry_fini; id 0).
 * TS_ECORRUPT (bad magic, CRC, framing, trailing bytes; err names it), TS_EINVAL (a newer
 * version), TS_ENOMEM. Never reads outside p[0..n).
 */
int alert_ha_record_decode(const void *p, size_t n, alert_outbox_entry *out, ts_err *err);

/*
 * A delivered marker, published by the active node after a delivery and before its commit:
 * every record below `next` was delivered. A new owner skips those even when the commit
 * was lost (a rebalance while committing). Layout: magic "SAD1" u32le | version u8 (1) |
 * next u64le | crc32c u32le of the 8 bytes of next.
 */
#define ALERT_HA_MARKER_MAGIC 0x31444153u /* "SAD1" */
#define ALERT_HA_MARKER_BYTES 17u
void alert_ha_marker_encode(int64_t next, uint8_t out[ALERT_HA_MARKER_BYTES]);
/* True when p[0..n) is a well-formed marker (*next set); false for anything else. */
bool alert_ha_marker_decode(const void *p, size_t n, int64_t *next);

typedef struct alert_ha alert_ha;

/* What the notifier lends the HA client. Called on alert/ha.c's threads. */
typedef struct alert_ha_callbacks {
	void *ctx;
	/* A record of the topic was read ("alert-ha-tail"): apply its nlog record. */
	void (*apply_nlog)(void *ctx, const alert_nlog_entry *e);
	/* Deliver a record as the active node ("alert-ha-group"); outbox.c's contract. */
	alert_outbox_send_fn deliver;
	void (*slot_free)(void *slot); /* frees deliver's per-thread slot */
} alert_ha_callbacks;

/*
 * Connect (producer, electing group member, tail reader) and start the threads
 * "alert-ha-group" and "alert-ha-tail". o and cb borrowed (copied). *out owned. TS_EINVAL
 * (a property librdkafka rejects), TS_EIO (a handle or thread could not start), TS_ENOMEM.
 */
int alert_ha_new(const alert_ha_options *o, const alert_ha_callbacks *cb, alert_ha **out,
		 ts_err *err);
/* Leave the group (the partition goes to a standby at once), stop, free. NULL allowed. */
void alert_ha_free(alert_ha *h);
/* Owner of partition 0 and caught up with every record published before it took over. */
bool alert_ha_is_active(alert_ha *h);
/* Publish e to partition 0 (queued; alert_ha_sync waits for the acknowledgements). */
int alert_ha_put(alert_ha *h, const alert_outbox_entry *e, ts_err *err);
/* Wait until every put was acknowledged (acks=all) or failed. TS_EIO names the failure;
 * then some of the round's records may still have been written. */
int alert_ha_sync(alert_ha *h, ts_err *err);
/* Retry policy of deliveries (reload): 0 keeps a value. */
void alert_ha_set_retry(alert_ha *h, int64_t max_age_ms, int64_t retry_initial_ms,
			int64_t retry_max_ms);

/* ================================================================ silences (silences.c) */

#define ALERT_SILENCE_ID_LEN 36

typedef struct alert_silence {
	char id[ALERT_SILENCE_ID_LEN + 1];
	ts_matcher *matchers; /* type EQ/NEQ/RE/NRE */
	size_t n_matchers;
	int64_t starts_at_ms;
	int64_t ends_at_ms;
	int64_t updated_at_ms;
	char *created_by;
	char *comment;
} alert_silence;

typedef enum alert_silence_state {
	ALERT_SILENCE_PENDING,
	ALERT_SILENCE_ACTIVE,
	ALERT_SILENCE_EXPIRED,
} alert_silence_state;

typedef struct alert_silences alert_silences;

/* Open the silence store persisted at path (missing = empty). *out owned. */
int alert_silences_open(const char *path, int64_t retention_ms, alert_silences **out, ts_err *err);
void alert_silences_close(alert_silences *s);
/*
 * Create or update (Alertmanager semantics: an update that changes matchers, or the
 * start of an active silence, expires the old one and creates a new id). The silence is
 * copied. Persisted before returning. id_out gets the resulting id.
 * TS_EINVAL (validation message as Alertmanager's), TS_ENOTFOUND (unknown id), TS_EIO.
 */
int alert_silences_set(alert_silences *s, const alert_silence *in, int64_t now_ms,
		       char id_out[ALERT_SILENCE_ID_LEN + 1], ts_err *err);
/* Expire now (end = now; a pending silence ends at its start). Expiring an expired
 * silence is OK. TS_ENOTFOUND. */
int alert_silences_expire(alert_silences *s, const char *id, int64_t now_ms, ts_err *err);
/* Copy a silence (alert_silence_fini). TS_ENOTFOUND. */
int alert_silences_get(alert_silences *s, const char *id, alert_silence *out, ts_err *err);
/* Copies of all silences (array owned; alert_silences_list_free). */
int alert_silences_list(alert_silences *s, alert_silence **out, size_t *n, ts_err *err);
void alert_silences_list_free(alert_silence *v, size_t n);
/*
 * Ids of active silences that match a label set: writes up to cap ids to out, returns the
 * number of matching silences. Thread-safe.
 */
size_t alert_silences_mutes(alert_silences *s, const ts_label *l, size_t n, int64_t now_ms,
			    char (*out)[ALERT_SILENCE_ID_LEN + 1], size_t cap);
/* Drop silences expired before now - retention; persists if any. */
size_t alert_silences_gc(alert_silences *s, int64_t now_ms);
/* Counts per state. */
void alert_silences_count(alert_silences *s, int64_t now_ms, size_t counts[3]);
alert_silence_state alert_silence_state_at(const alert_silence *s, int64_t now_ms);
const char *alert_silence_state_name(alert_silence_state st);
void alert_silence_fini(alert_silence *s);
/* A random UUIDv4 string. */
void alert_uuid4(char out[ALERT_SILENCE_ID_LEN + 1]);
/* JSON forms of the v2 API: gettableSilence and postableSilence. */
int alert_silence_to_json(alert_jw *w, const alert_silence *s, int64_t now_ms);
int alert_silence_from_json(const alert_jnode *o, alert_silence *out, ts_err *err);

/* ================================================================ rendering */

/* Everything one notification says (borrowed pointers). */
typedef struct alert_ndata {
	const char *receiver;
	const char *group_key;
	const ts_label *group_labels;
	size_t n_group_labels;
	alert_nalert *const *alerts; /* sorted; may include resolved ones */
	size_t n_alerts;
	int64_t now_ms; /* status of each alert is taken at this time */
	const char *external_url;
} alert_ndata;

/* Webhook payload version "4" (webhook.c). Appends to out. */
int alert_webhook_render(const alert_ndata *d, int64_t max_alerts, ts_buf *out);
typedef struct alert_curl_conn alert_curl_conn;
/*
 * Deliver a webhook payload: 2xx OK; 5xx, 408, 429, network errors RETRY; else FAIL.
 * conn (borrowed, NULL = a one-off connection) keeps the connection open for the next
 * call on the same thread.
 */
alert_send_result alert_webhook_send(const alert_ncfg_webhook *w, alert_curl_conn *conn,
				     int64_t timeout_ms, const char *payload, size_t len,
				     int64_t *retry_after_ms, ts_err *err);

/* The whole RFC 5322 message (email.c). hostname for Message-Id. Appends to out. */
int alert_email_render(const alert_ndata *d, const alert_ncfg_email *e, const char *hostname,
		       ts_buf *out);
/* The default subject (as Alertmanager's __subject template). */
int alert_email_subject(const alert_ndata *d, ts_buf *out);
/* Send via SMTP: 2xx accepted OK; 5xx SMTP replies FAIL; everything else RETRY. */
alert_send_result alert_email_send(const alert_ncfg_email *e, int64_t timeout_ms,
				   const char *message, size_t len, ts_err *err);

/* ================================================================ libcurl (curl_client.c) */

typedef struct alert_http_post {
	const char *url;
	const char *content_type;
	const char *body;
	size_t len;
	const alert_ncfg_http *http; /* auth and TLS; NULL = none */
	int64_t timeout_ms;
} alert_http_post;

/*
 * POST and return the HTTP status in *status (0 if no response) and Retry-After in
 * *retry_after_ms (0 if absent). TS_OK when a response arrived (any status); TS_EUNAVAIL
 * / TS_ETIMEOUT for network errors, with curl's message (never the credentials).
 */
int alert_curl_post(const alert_http_post *p, int *status, int64_t *retry_after_ms, ts_err *err);
/*
 * A reusable HTTP client for one thread at a time: keeps connections (HTTP keep-alive)
 * between alert_curl_conn_post calls. *out owned. TS_ENOMEM.
 */
int alert_curl_conn_new(alert_curl_conn **out, ts_err *err);
void alert_curl_conn_free(alert_curl_conn *c); /* NULL allowed */
/* alert_curl_post over c's connections (c borrowed; not thread-safe per c). */
int alert_curl_conn_post(alert_curl_conn *c, const alert_http_post *p, int *status,
			 int64_t *retry_after_ms, ts_err *err);

typedef struct alert_smtp_send {
	const char *smarthost; /* host:port */
	const char *hello;
	const char *from;        /* envelope sender (bare address) */
	const char *const *rcpt; /* envelope recipients (bare addresses) */
	size_t n_rcpt;
	const char *username, *password; /* NULL = no AUTH */
	bool require_tls;
	bool is_insecure;
	const char *ca_file;
	const char *message;
	size_t len;
	int64_t timeout_ms;
} alert_smtp_send;

/*
 * Send one message. *smtp_code gets the last SMTP reply code (0 if none). TS_OK when
 * accepted; TS_EUNAVAIL/TS_ETIMEOUT/TS_EAUTH/TS_EINVAL with curl's message.
 */
int alert_curl_smtp(const alert_smtp_send *s, int *smtp_code, ts_err *err);
/* curl_global_init once per process (thread-safe with libcurl >= 7.84). */
int alert_curl_init(ts_err *err);

/* ================================================================ forwarding (forward.c) */

typedef struct alert_forwarder alert_forwarder;

/* Start the forwarder thread ("alert-forward"). *out owned. */
int alert_forwarder_new(alert_forwarder **out, ts_err *err);
/* Stop the thread and drop what is queued. NULL allowed. */
void alert_forwarder_free(alert_forwarder *f);
/* Queue a postable-alerts JSON body (taken) for cfg's alertmanagers (reference taken). */
void alert_forwarder_push(alert_forwarder *f, alert_ncfg *cfg, char *json, size_t len);
/* Counters: POSTs that succeeded, failed, and batches dropped from a full queue. */
void alert_forwarder_stats(alert_forwarder *f, uint64_t *sent, uint64_t *failed, uint64_t *dropped);
/* Encode alerts as Alertmanager v2 postable alerts (a JSON array) into out. */
int alert_forward_encode(alert_nalert *const *v, size_t n, ts_buf *out);

/* ================================================================ notifier internals (notify.c) */

#define ALERT_RECEIVER_NAME_MAX 128

/* One alert of GET /api/v2/alerts with its status. */
typedef struct alert_nsnap {
	alert_nalert *alert;                        /* a reference */
	char (*receivers)[ALERT_RECEIVER_NAME_MAX]; /* receivers of the matching routes */
	size_t n_receivers;
	bool is_inhibited;
	uint64_t inhibited_by; /* fingerprint of an inhibiting alert */
} alert_nsnap;

/* Unresolved alerts with receivers and inhibition status at now (array owned). */
int alert_notifier_snapshot(alert_notifier *n, int64_t now_ms, alert_nsnap **out, size_t *cnt,
			    ts_err *err);
void alert_notifier_snapshot_free(alert_nsnap *v, size_t cnt);
/* The notifier's silence store (borrowed; lives as long as n). */
alert_silences *alert_notifier_silences_store(alert_notifier *n);

#endif /* ALERT_NOTIFY_INT_H */
