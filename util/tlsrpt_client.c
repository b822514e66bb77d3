/*
 * tlsrpt_client - notes for the tlsrpt service (see tlsrpt_client.h).
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/dns.h"
#include "util/ipc.h"
#include "util/tlsrpt.h"
#include "util/tlsrpt_client.h"

static void
tlsrpt_put(ATTR *a, const char *name, const char *value)
{
	if (value != NULL && *value)
		attr_put_str(a, name, value);
}

void
tlsrpt_note_encode(const struct tlsrpt_note *n, ATTR *a)
{
	attr_reset(a);
	attr_put_str(a, "request", "note");
	attr_put_str(a, "domain", n->domain);
	attr_put_str(a, "policy_type", n->policy_type);
	tlsrpt_put(a, "policy_text", n->policy_text);
	tlsrpt_put(a, "result", n->result);
	tlsrpt_put(a, "detail", n->detail);
	attr_put_str(a, "mx_host", n->mx_host ? n->mx_host : "");
	tlsrpt_put(a, "sending_ip", n->sending_ip);
	tlsrpt_put(a, "receiving_ip", n->receiving_ip);
}

/* A printable one-line string of at most max bytes. */
static bool
tlsrpt_sane(const char *s, size_t max, bool lines)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (n >= max || c == 0x7f
		    || (c < 0x20 && !(lines && c == '\n')))
			return false;
	}
	return true;
}

int
tlsrpt_note_decode(const ATTR *a, struct tlsrpt_note *n, VSTR *why)
{
	const char *req = attr_get_str(a, "request");

	memset(n, 0, sizeof(*n));
	if (req == NULL || strcmp(req, "note") != 0) {
		vstr_strcpy(why, "not a note");
		return -1;
	}
	n->domain = attr_get_str(a, "domain");
	n->policy_type = attr_get_str(a, "policy_type");
	n->policy_text = attr_get_str(a, "policy_text");
	n->result = attr_get_str(a, "result");
	n->detail = attr_get_str(a, "detail");
	n->mx_host = attr_get_str(a, "mx_host");
	n->sending_ip = attr_get_str(a, "sending_ip");
	n->receiving_ip = attr_get_str(a, "receiving_ip");
	if (n->domain == NULL || *n->domain == 0
	    || !tlsrpt_sane(n->domain, DNS_NAME_MAX, false)
	    || strchr(n->domain, ' ') || strchr(n->domain, '!')) {
		vstr_strcpy(why, "missing or bad domain");
		return -1;
	}
	if (n->policy_type == NULL
	    || !tlsrpt_policy_type_valid(n->policy_type)) {
		vstr_strcpy(why, "missing or bad policy_type");
		return -1;
	}
	if (n->result != NULL && !tlsrpt_result_valid(n->result)) {
		vstr_strcpy(why, "bad result");
		return -1;
	}
	if (n->policy_text != NULL
	    && !tlsrpt_sane(n->policy_text, TLSRPT_POLICY_TEXT_MAX, true)) {
		vstr_strcpy(why, "bad policy_text");
		return -1;
	}
	if (n->mx_host == NULL || !tlsrpt_sane(n->mx_host, DNS_NAME_MAX, false)
	    || (n->sending_ip && !tlsrpt_sane(n->sending_ip, 64, false))
	    || (n->receiving_ip && !tlsrpt_sane(n->receiving_ip, 64, false))) {
		vstr_strcpy(why, "missing or bad mx_host or address");
		return -1;
	}
	/* Free text is cut, not refused: it is only informative. */
	if (n->detail != NULL && !tlsrpt_sane(n->detail, 4096, false)) {
		vstr_strcpy(why, "bad detail");
		return -1;
	}
	return 0;
}

int
tlsrpt_client_note(const char *path, const struct tlsrpt_note *n,
		   int timeout_ms, VSTR *why)
{
	long long deadline = ipc_deadline(timeout_ms);
	ATTR	 *a = attr_alloc();
	int	  fd;
	int	  saved;

	tlsrpt_note_encode(n, a);
	if ((fd = ipc_connect_unix(path, timeout_ms)) < 0) {
		saved = errno;
		vstr_sprintf(why, "connect to %s: %s", path, strerror(saved));
		attr_free(a);
		errno = saved;
		return -1;
	}
	if (ipc_send(fd, a, ipc_left_ms(deadline)) < 0) {
		saved = errno;
		vstr_sprintf(why, "write to %s: %s", path, strerror(saved));
		close(fd);
		attr_free(a);
		errno = saved;
		return -1;
	}
	close(fd);
	attr_free(a);
	return 0;
}
