/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common.h: the public header of common/, the base layer every module builds on.
 *
 * Errors (ts_err.h), logging (ts_log.h), counted allocation (ts_alloc.h), bounded
 * buffers and varints (ts_buf.h), hashing and CRC-32C (ts_hash.h), labels, series keys,
 * interning and matchers (ts_labels.h), time and durations (ts_time.h), YAML documents
 * (ts_yaml.h) and the server config (ts_config.h). Other modules include only this file.
 */
#ifndef COMMON_COMMON_H
#define COMMON_COMMON_H

#include "common/ts_alloc.h"
#include "common/ts_buf.h"
#include "common/ts_config.h"
#include "common/ts_err.h"
#include "common/ts_hash.h"
#include "common/ts_labels.h"
#include "common/ts_log.h"
#include "common/ts_time.h"
#include "common/ts_yaml.h"

#endif /* COMMON_COMMON_H */
