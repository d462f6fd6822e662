/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ts_err.h: error codes and the caller-supplied error buffer used by every module.
 *
 * A function that can fail returns int: TS_OK (0) or a negative TS_E* code, and takes a
 * `ts_err *err` last parameter (NULL allowed) that receives the code and a message naming
 * what failed and where. The code drives control flow; web/ maps it to an HTTP status.
 */
#ifndef COMMON_TS_ERR_H
#define COMMON_TS_ERR_H

#include <assert.h>
#include <stdbool.h>

enum {
	TS_OK = 0,
	TS_ENOMEM = -1,      /* allocation failed */
	TS_EINVAL = -2,      /* invalid argument or request */
	TS_EPARSE = -3,      /* malformed input text or bytes */
	TS_EIO = -4,         /* an I/O call failed */
	TS_ENOSPC = -5,      /* disk full */
	TS_ECORRUPT = -6,    /* stored data failed a check (CRC, magic, bounds) */
	TS_ENOTFOUND = -7,   /* no such object */
	TS_EEXIST = -8,      /* object already exists */
	TS_EOUTOFORDER = -9, /* sample older than the accepted window */
	TS_EFULL = -10,      /* a bounded container is full; state unchanged */
	TS_ELIMIT = -11,     /* a configured limit was exceeded */
	TS_EBUSY = -12,      /* temporarily unavailable (back-pressure, shutting down) */
	TS_ETIMEOUT = -13,   /* an operation ran out of time */
	TS_EUNAVAIL = -14,   /* a dependency (log backend, peer) is down */
	TS_EAUTH = -15,      /* authentication or authorization failed */
};

#define TS_ERR_MSG_MAX 256

/* An error: code plus message. Zero-initialize or ts_err_clear() before use. */
typedef struct ts_err {
	int code;                 /* TS_OK or a TS_E* code */
	char msg[TS_ERR_MSG_MAX]; /* NUL-terminated human-readable message */
} ts_err;

/*
 * Record `code` and a printf-formatted message in `err` (NULL allowed) and return `code`.
 * Thread-safe (touches only *err).
 */
int ts_err_set(ts_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix err->msg with a printf-formatted context ("file.yml:3: "); returns err->code. */
int ts_err_prefix(ts_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reset *err (NULL allowed) to TS_OK with an empty message. */
void ts_err_clear(ts_err *err);

/* Short constant name of a code ("ENOMEM"); "EUNKNOWN" for unknown codes. */
const char *ts_err_name(int code);

/*
 * TS_NEVER(cond): a defensive check that must also hold in release builds. Asserts in
 * debug builds; in release it evaluates to cond so the caller can bail out.
 */
#ifdef NDEBUG
#define TS_NEVER(cond) (cond)
#else
#define TS_NEVER(cond) ((cond) ? (assert(!(cond)), true) : false)
#endif

#endif /* COMMON_TS_ERR_H */
