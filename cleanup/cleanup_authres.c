/*
 * cleanup_authres - verification and policy for inbound mail: DKIM
 * (cleanup_dkim_verify.c), DMARC (cleanup_dmarc.c), one
 * Authentication-Results field (RFC 8601) and one log line per message.
 * Everything here runs only for messages whose envelope carries
 * CLEANUP_FLAG_VERIFY (smtpd_mail_auth_role).
 *
 * Input side: cleanup_authres_input() sees the content exactly as
 * received, after the line ends are normalised (cleanup_eol.c) and before
 * any rewrite: its own line splitter and header parser (util/header,
 * with cleanup's header_size_limit) hand each field to libopendkim and
 * keep the From: field for DMARC; past the header the bytes go to
 * libopendkim unchanged.
 *
 * At the end (cleanup_authres_finish, before the commit) the results are
 * collected, the field is prepended above everything else
 * (cleanup_prepend_header) and logged as
 *   QID: authentication: spf=pass dkim=pass header.d=example.com
 *       dmarc=pass header.from=example.com
 * Then the DMARC verdict is applied: a p=reject failure refuses the
 * message (550 5.7.1, nothing is queued), a p=quarantine failure puts it
 * on hold.  Temporary DNS failures give temperror and the message is
 * accepted, as OpenDKIM and OpenDMARC do.
 *
 * Output side: cleanup_authres_drop() tells the header code to remove an
 * Authentication-Results field that claims our authserv_id (RFC 8601
 * section 5), whatever its case, comments or quoting.
 *
 * Errors: none reach the caller except through cleanup_fail (the DMARC
 * reject).  Configuration errors are fatal at start-up.
 *
 * Ownership: the per-message state hangs off CLEANUP_STATE and is freed
 * by cleanup_authres_free (cleanup_state_free).
 *
 * SPDX-License-Identifier: ISC
 */
#include <string.h>
#include <strings.h>

#include "cleanup/cleanup_authres.h"
#include "util/authres.h"
#include "util/msg.h"
#include "util/mymalloc.h"

struct cleanup_authres {
	HEADER_PARSER	    *hp;
	VSTR		    *line;	/* partial header line */
	bool		     line_skip; /* past an over-long line's bound */
	bool		     body;	/* past the header */
	bool		     dead;	/* header unusable: stop feeding */
	size_t		     nfrom;	/* From: fields seen */
	VSTR		    *from;	/* value of the first one */
	CLEANUP_DKIM_VERIFY *dkim;
};

void
cleanup_authres_conf(CLEANUP_CONF *c, const CFG *cfg)
{
	c->authserv_id = cfg_get_str(cfg, "authserv_id");
	cleanup_dkim_verify_conf(c, cfg);
	cleanup_dmarc_conf(c, cfg);
	if (c->dkim_verify_lib == NULL && !c->dmarc_enable)
		return;
	/* pre_jail: the resolver state outlives the chroot. */
	if ((c->verify_dns = dns_open(cfg)) == NULL)
		msg_fatal("dns_nameservers: cannot set up the resolver for "
			  "DKIM and DMARC");
}

void
cleanup_authres_conf_free(CLEANUP_CONF *c)
{
	if (c->dkim_verify_lib)
		dkim_close(c->dkim_verify_lib);
	c->dkim_verify_lib = NULL;
	c->verify_dns = dns_close(c->verify_dns);
}

static bool
cleanup_authres_on(const CLEANUP_STATE *st)
{
	return (st->flags & CLEANUP_FLAG_VERIFY) != 0;
}

static int
cleanup_authres_field(void *ctx, const struct header_field *f)
{
	CLEANUP_STATE	       *st = ctx;
	struct cleanup_authres *ar = st->authres;

	if (header_is(f, "From") && ar->nfrom++ == 0)
		vstr_memcpy(ar->from, f->value, f->value_len);
	cleanup_dkim_verify_header(ar->dkim, f);
	return 0;
}

static struct cleanup_authres *
cleanup_authres_state(CLEANUP_STATE *st)
{
	struct cleanup_authres *ar;

	if (st->authres)
		return st->authres;
	ar = mycalloc(1, sizeof(*ar));
	st->authres = ar;
	ar->hp = header_parser_create((size_t)st->conf->header_size_limit,
				      CLEANUP_HEADER_COUNT_MAX,
				      cleanup_authres_field, st);
	ar->line = vstr_alloc(256);
	ar->from = vstr_alloc(64);
	ar->dkim = cleanup_dkim_verify_begin(st, st->conf->verify_dns);
	return ar;
}

/* One complete header line of the input in ar->line. */
static void
cleanup_authres_line(struct cleanup_authres *ar)
{
	switch (header_parser_line(ar->hp, VSTR_STR(ar->line),
				   VSTR_LEN(ar->line))) {
	case HEADER_MORE:
		break;
	case HEADER_END_EMPTY:
		ar->body = true;
		cleanup_dkim_verify_eoh(ar->dkim);
		break;
	case HEADER_END_BODY:
		ar->body = true;
		cleanup_dkim_verify_eoh(ar->dkim);
		cleanup_dkim_verify_body(ar->dkim, VSTR_STR(ar->line),
					 VSTR_LEN(ar->line));
		break;
	default:
		/* Too many fields: cleanup refuses the message anyway. */
		ar->body = ar->dead = true;
		break;
	}
	vstr_reset(ar->line);
	ar->line_skip = false;
}

void
cleanup_authres_input(CLEANUP_STATE *st, const char *data, size_t len)
{
	struct cleanup_authres *ar;
	const size_t line_max = (size_t)st->conf->header_size_limit + 2;
	const char  *nl;
	size_t	     take, room;

	if (!cleanup_authres_on(st) || st->status != CLEANUP_OK)
		return;
	ar = cleanup_authres_state(st);
	if (ar->dead)
		return;
	while (len > 0 && !ar->body) {
		nl = memchr(data, '\n', len);
		take = nl ? (size_t)(nl - data) + 1 : len;
		if (!ar->line_skip) {
			room = line_max - VSTR_LEN(ar->line);
			vstr_memcat(ar->line, data, take < room ? take : room);
			if (take > room)
				ar->line_skip = true;
		}
		if (nl) {
			if (ar->line_skip)
				vstr_strcat(ar->line, "\r\n");
			cleanup_authres_line(ar);
		}
		data += take;
		len -= take;
	}
	if (len > 0 && !ar->dead)
		cleanup_dkim_verify_body(ar->dkim, data, len);
}

/* "a=b c=d" for the log: peer text made printable, each value bounded. */
static void
cleanup_authres_log_word(VSTR *out, const char *name, const char *value)
{
	size_t i;

	if (value == NULL)
		return;
	vstr_sprintf_append(out, " %s=", name);
	for (i = 0; value[i] && i < AUTHRES_VALUE_MAX; i++) {
		unsigned char c = (unsigned char)value[i];

		vstr_addch(out, c <= ' ' || c >= 0x7f ? '?' : c);
	}
}

void
cleanup_authres_finish(CLEANUP_STATE *st)
{
	const CLEANUP_CONF		 *conf = st->conf;
	struct cleanup_authres		 *ar;
	const struct cleanup_dkim_result *dkim = NULL;
	struct cleanup_dmarc_out	  dmarc;
	struct authres_item		 *items, *it;
	size_t				  ndkim = 0, n = 0, i;
	VSTR				 *field, *log, *from = vstr_alloc(64);
	int				  from_status = 0;

	if (!cleanup_authres_on(st) || st->status != CLEANUP_OK || st->discard
	    || (conf->dkim_verify_lib == NULL && !conf->dmarc_enable
		&& st->spf_result == NULL)) {
		vstr_free(from);
		return;
	}
	ar = cleanup_authres_state(st);
	if (!ar->body && !ar->dead) {
		if (VSTR_LEN(ar->line) > 0)
			cleanup_authres_line(ar);
		if (!ar->body)
			(void)header_parser_eof(ar->hp);
	}
	if (ar->dkim)
		ndkim = cleanup_dkim_verify_end(ar->dkim, &dkim);
	if (ar->nfrom > 1)
		from_status = -1;
	else if (ar->nfrom == 1)
		from_status = authres_from_domain(VSTR_STR(ar->from),
						  VSTR_LEN(ar->from), from);
	items = mycalloc(ndkim + 3, sizeof(*items));
	if (st->spf_result) {
		it = &items[n++];
		it->method = "spf";
		it->result = st->spf_result;
		it->props[0].name = st->spf_identity
					    && strcmp(st->spf_identity, "helo")
						   == 0
					? "smtp.helo"
					: "smtp.mailfrom";
		it->props[0].value = st->spf_domain;
		it->nprops = 1;
	}
	if (conf->dkim_verify_lib && ndkim == 0) {
		items[n].method = "dkim";
		items[n++].result = "none";
	}
	for (i = 0; i < ndkim; i++) {
		it = &items[n++];
		it->method = "dkim";
		it->result = dkim[i].result;
		it->props[0] = (struct authres_prop){ "header.d",
						      dkim[i].domain };
		it->props[1] = (struct authres_prop){ "header.s",
						      dkim[i].selector };
		it->props[2] = (struct authres_prop){ "header.b",
						      dkim[i].b[0] ? dkim[i].b
								   : NULL };
		it->nprops = 3;
	}
	memset(&dmarc, 0, sizeof(dmarc));
	if (conf->dmarc_enable) {
		cleanup_dmarc_eval(st, conf->verify_dns, from_status,
				   VSTR_STR(from), dkim, ndkim, &dmarc);
		it = &items[n++];
		it->method = "dmarc";
		it->result = dmarc.result;
		it->comment = dmarc.comment;
		it->props[0] = (struct authres_prop){
			"header.from", from_status > 0 ? VSTR_STR(from) : NULL
		};
		it->nprops = 1;
	}
	field = vstr_alloc(256);
	authres_write(field, conf->authserv_id, items, n);
	cleanup_prepend_header(st, VSTR_STR(field));

	/* One line per message, in one place, for log readers to count. */
	log = vstr_alloc(128);
	for (i = 0; i < n; i++) {
		it = &items[i];
		vstr_sprintf_append(log, " %s=%s", it->method, it->result);
		if (strcmp(it->method, "dkim") == 0)
			cleanup_authres_log_word(log, "header.d",
						 it->props[0].value);
		else if (strcmp(it->method, "dmarc") == 0)
			cleanup_authres_log_word(log, "header.from",
						 it->props[0].value);
	}
	msg_info("%s: authentication:%s", VSTR_STR(st->qid), VSTR_STR(log));

	/* The From: domain goes into a reply and logs: printable only. */
	for (i = 0; i < VSTR_LEN(from); i++)
		if ((unsigned char)VSTR_STR(from)[i] <= ' '
		    || (unsigned char)VSTR_STR(from)[i] >= 0x7f)
			VSTR_STR(from)[i] = '?';
	if (dmarc.action == CLEANUP_DMARC_REJECT) {
		msg_info("%s: reject: DMARC policy of %s; from=<%s>",
			 VSTR_STR(st->qid), VSTR_STR(from), st->sender);
		cleanup_fail(st, CLEANUP_REJECT,
			     "550 5.7.1 Message rejected: DMARC policy of %s",
			     VSTR_STR(from));
	} else if (dmarc.action == CLEANUP_DMARC_QUARANTINE) {
		msg_info("%s: hold: DMARC policy of %s; from=<%s>",
			 VSTR_STR(st->qid), VSTR_STR(from), st->sender);
		st->hold = true;
	}
	myfree(items);
	vstr_free(field);
	vstr_free(log);
	vstr_free(from);
}

bool
cleanup_authres_drop(CLEANUP_STATE *st, const struct header_field *f)
{
	VSTR *id;
	bool  ours;

	if (!cleanup_authres_on(st) || !header_is(f, "Authentication-Results")
	    || st->conf->authserv_id == NULL)
		return false;
	id = vstr_alloc(64);
	ours = authres_servid(f->value, f->value_len, id) == 0
	       && strcasecmp(VSTR_STR(id), st->conf->authserv_id) == 0;
	if (ours)
		msg_info("%s: removed an Authentication-Results field that "
			 "claims authserv_id %s",
			 VSTR_STR(st->qid), st->conf->authserv_id);
	vstr_free(id);
	return ours;
}

void
cleanup_authres_free(CLEANUP_STATE *st)
{
	struct cleanup_authres *ar = st->authres;

	if (ar == NULL)
		return;
	header_parser_free(ar->hp);
	vstr_free(ar->line);
	vstr_free(ar->from);
	cleanup_dkim_verify_free(ar->dkim);
	myfree(ar);
	st->authres = NULL;
}
