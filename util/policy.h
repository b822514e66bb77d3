/*
 * policy - a client for Postfix's SMTP Access Policy Delegation protocol.
 *
 * A request is a list of "name=value" lines ended by an empty line; the
 * server answers "action=..." (other attributes are ignored) and an
 * empty line, on a connection that stays open for the next request.
 * This module knows nothing about SMTP: the caller builds the request
 * (policy_request_add) and interprets the action.
 *
 * Endpoints: "inet:host:port" ("[::1]:port" for IPv6) or "unix:path"; a
 * relative path is relative to the current folder, which is
 * queue_directory for daemons (as Postfix).  policy_create also takes
 * Postfix's per-service form "{ inet:host:port, timeout=10s,
 * max_idle=..., max_ttl=..., request_limit=..., try_limit=...,
 * retry_delay=..., default_action=..., policy_context=... }" (a value with
 * spaces as "{ name = value text }"), each setting overriding the
 * smtpd_policy_service_* parameter of the same suffix.
 *
 * Connections are reused as Postfix does: one per POLICY (so one per
 * smtpd process and service), closed before a request when it was idle
 * longer than max_idle or older than max_ttl, and after request_limit
 * requests (0: no limit).  A request that fails (connect, timeout,
 * closed connection, malformed reply) is logged, the connection closed,
 * and tried again after retry_delay, at most try_limit times in all;
 * then the default action is the answer.
 *
 * Errors: policy_create returns NULL with why for a malformed spec.
 * policy_query returns 0 with the server's action, or -1 with the
 * default action (and a warning naming the server); it never fails
 * otherwise.  policy_reply_parse is pure (the fuzz target's entry).
 *
 * Ownership: POLICY is the caller's (policy_free returns NULL); strings
 * returned by policy_name/policy_context are borrowed from it.
 *
 * SPDX-License-Identifier: ISC
 */
#ifndef UTIL_POLICY_H
#define UTIL_POLICY_H

#include <stddef.h>

#include "util/cfg.h"
#include "util/vstr.h"

#define POLICY_REPLY_MAX 8192 /* bytes of one reply, blank line included */
#define POLICY_VALUE_MAX 2048 /* bytes of one request attribute value */
#define POLICY_TRIES_MAX 10   /* try_limit bound */

typedef struct POLICY POLICY;

POLICY *policy_create(const CFG *cfg, const char *spec, VSTR *why);
POLICY *policy_free(POLICY *p);

/* "inet:127.0.0.1:9998", for logs. */
const char *policy_name(const POLICY *p);
/* policy_context (per service, else smtpd_policy_service_policy_context). */
const char *policy_context(const POLICY *p);

/*
 * Append "name=value\n" to req; the value is cut at POLICY_VALUE_MAX and
 * any control character (a newline would end the request) becomes '?'.
 */
void policy_request_add(VSTR *req, const char *name, const char *value);

/*
 * Send req (the attribute lines; the empty line is added here) and put
 * the reply's action into action.  0: the server's action; -1: the
 * default action (logged).
 */
int policy_query(POLICY *p, const VSTR *req, VSTR *action);

/*
 * Parse one reply at buf[0..len-1].  Returns the bytes of the complete
 * reply (through its empty line) with action set; 0 when more bytes are
 * needed (len < POLICY_REPLY_MAX); -1 with why when it is malformed: a
 * line without "name=", a control character, no or a second action, an
 * empty action, or POLICY_REPLY_MAX bytes without the end.  Lines end
 * in LF, an optional CR before it is dropped.
 */
int policy_reply_parse(const char *buf, size_t len, VSTR *action, VSTR *why);

#endif
