/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err.c: the ts_err error buffer (see ts_err.h).
 *
 * Messages are truncated to TS_ERR_MSG_MAX-1 bytes; truncation is never an error.
 */
#include "common/ts_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ts_err_set(ts_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int ts_err_prefix(ts_err *err, const char *fmt, ...)
{
	if (!err)
		return TS_OK;
	char prefix[TS_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	size_t pl = strlen(prefix);
	size_t ml = strnlen(err->msg, sizeof(err->msg) - 1);
	if (pl + ml >= sizeof(err->msg))
		ml = sizeof(err->msg) - 1 - pl;
	memmove(err->msg + pl, err->msg, ml);
	memcpy(err->msg, prefix, pl);
	err->msg[pl + ml] = '\0';
	return err->code;
}

void ts_err_clear(ts_err *err)
{
	if (err) {
		err->code = TS_OK;
		err->msg[0] = '\0';
	}
}

const char *ts_err_name(int code)
{
	switch (code) {
	case TS_OK: return "OK";
	case TS_ENOMEM: return "ENOMEM";
	case TS_EINVAL: return "EINVAL";
	case TS_EPARSE: return "EPARSE";
	case TS_EIO: return "EIO";
	case TS_ENOSPC: return "ENOSPC";
	case TS_ECORRUPT: return "ECORRUPT";
	case TS_ENOTFOUND: return "ENOTFOUND";
	case TS_EEXIST: return "EEXIST";
	case TS_EOUTOFORDER: return "EOUTOFORDER";
	case TS_EFULL: return "EFULL";
	case TS_ELIMIT: return "ELIMIT";
	case TS_EBUSY: return "EBUSY";
	case TS_ETIMEOUT: return "ETIMEOUT";
	case TS_EUNAVAIL: return "EUNAVAIL";
	case TS_EAUTH: return "EAUTH";
	default: return "EUNKNOWN";
	}
}
