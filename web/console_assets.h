/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console_assets.h: the browser console's files, embedded in the binary (internal to web/).
 *
 * The table is not written by hand: at build time scripts/embed_assets.py turns every file
 * of web/console/ (index.html, *.js, *.css, *.svg) and uPlot's dist files (installed by
 * `npm ci` from web/console/package-lock.json) into ${CMAKE_BINARY_DIR}/web/console_assets.c,
 * which joins the web library (web/CMakeLists.txt). console.c serves the table.
 *
 * Each asset carries its bytes, a gzip encoding of them when that is smaller (precomputed,
 * so serving costs a copy and no compression), its Content-Type and a strong ETag derived
 * from a hash of the bytes. The table is constant data: nothing writes it at run time, so
 * any thread may read it.
 */
#ifndef WEB_CONSOLE_ASSETS_H
#define WEB_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct web_console_asset {
	const char *path;             /* URL path: "/console/app.js" */
	const char *content_type;     /* "text/javascript; charset=utf-8" */
	const char *etag;             /* quoted strong ETag of data: "\"9f86d081884c7d65\"" */
	const char *etag_gz;          /* ETag of data_gz ("\"...-gz\""); NULL when no data_gz */
	const unsigned char *data;    /* the file's bytes */
	size_t size_bytes;            /* length of data */
	const unsigned char *data_gz; /* gzip of data, or NULL when gzip would not be smaller */
	size_t size_gz_bytes;         /* length of data_gz (0 when NULL) */
} web_console_asset;

/* Every asset, sorted by path; web_console_n_assets entries. Generated; read-only. */
extern const web_console_asset web_console_assets[];
extern const size_t web_console_n_assets;

#endif /* WEB_CONSOLE_ASSETS_H */
