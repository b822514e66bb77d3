/*
 * smtp_tlsrpt - record TLS session attempts for TLS-RPT (RFC 8460).
 *
 * With smtp_tls_report_enable = yes (SMTP only, not LMTP), every TLS
 * session attempt under a DANE policy ("tlsa"), an MTA-STS policy ("sts")
 * or no policy ("no-policy-found") is sent as one note to the tlsrpt service
 * (private/tlsrpt, util/tlsrpt_client.h), which counts and reports.  The
 * note is fire and forget with a short bounded wait: the delivery never
 * waits for the service, never fails because of it, and a service that
 * is down is logged once per process ("warning: TLS-RPT: ...").
 *
 * Errors: none reach the caller.
 *
 * Ownership: st->tlsrpt is released by smtp_tlsrpt_free.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "smtp/smtp.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/tlsrpt.h"
#include "util/tlsrpt_client.h"

#define SMTP_TLSRPT_SERVICE    "private/tlsrpt"
#define SMTP_TLSRPT_TIMEOUT_MS 250 /* connect + write, in all */

struct smtp_tlsrpt {
	bool  enable; /* smtp_tls_report_enable */
	bool  warned; /* the service was unreachable once */
	VSTR *why;
};

void
smtp_tlsrpt_init(SMTP_STATE *st, const CFG *cfg)
{
	struct smtp_tlsrpt *r = mycalloc(1, sizeof(*r));

	/* RFC 8460 reports on SMTP to MX hosts; LMTP has no twin. */
	r->enable = !st->conf.lmtp
		    && cfg_get_bool(cfg, "smtp_tls_report_enable");
	r->why = vstr_alloc(100);
	st->tlsrpt = r;
}

void
smtp_tlsrpt_free(SMTP_STATE *st)
{
	if (st->tlsrpt == NULL)
		return;
	vstr_free(st->tlsrpt->why);
	myfree(st->tlsrpt);
	st->tlsrpt = NULL;
}

/* Our address on the session's connection, "" when unknown. */
static void
smtp_tlsrpt_local_ip(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t		sl = sizeof(ss);
	const void	       *a = NULL;

	buf[0] = 0;
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (a == NULL
	    || inet_ntop(ss.ss_family, a, buf, (socklen_t)len) == NULL)
		buf[0] = 0;
}

/* One note; s may be NULL (no session yet), mx_host NULL or "". */
static void
smtp_tlsrpt_send(SMTP_STATE *st, SMTP_SESSION *s, const char *mx_host,
		 const char *policy_domain, const char *policy_type,
		 const char *policy_text, const char *result_type,
		 const char *detail)
{
	struct smtp_tlsrpt *r = st->tlsrpt;
	struct tlsrpt_note  n;
	char		    local[INET6_ADDRSTRLEN];

	if (r == NULL || !r->enable || policy_domain == NULL
	    || *policy_domain == 0)
		return;
	smtp_tlsrpt_local_ip(s != NULL ? s->fd : -1, local, sizeof(local));
	memset(&n, 0, sizeof(n));
	n.domain = policy_domain;
	n.policy_type = policy_type;
	n.policy_text = policy_text;
	n.result = result_type;
	n.detail = detail;
	n.mx_host = mx_host != NULL ? mx_host : "";
	n.sending_ip = local;
	n.receiving_ip = s != NULL ? VSTR_STR(s->addr) : "";
	if (msg_verbose)
		msg_info("TLS-RPT: %s %s %s: %s", policy_domain, policy_type,
			 n.mx_host, result_type ? result_type : "success");
	if (tlsrpt_client_note(SMTP_TLSRPT_SERVICE, &n, SMTP_TLSRPT_TIMEOUT_MS,
			       r->why)
	    < 0) {
		if (!r->warned)
			msg_warn("TLS-RPT: %s; TLS session outcomes are not "
				 "recorded",
				 VSTR_STR(r->why));
		r->warned = true;
	}
}

void
smtp_tlsrpt_note(SMTP_STATE *st, SMTP_SESSION *s, const char *policy_domain,
		 const char *policy_type, const char *policy_text,
		 const char *result_type, const char *detail)
{
	smtp_tlsrpt_send(st, s, s != NULL ? VSTR_STR(s->host) : NULL,
			 policy_domain, policy_type, policy_text, result_type,
			 detail);
}

void
smtp_tlsrpt_note_mx(SMTP_STATE *st, const char *mx_host,
		    const char *policy_domain, const char *policy_type,
		    const char *policy_text, const char *result_type,
		    const char *detail)
{
	smtp_tlsrpt_send(st, NULL, mx_host, policy_domain, policy_type,
			 policy_text, result_type, detail);
}
