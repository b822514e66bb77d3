/*
 * local_expand - what a local recipient means: an alias, a .forward
 * file, a user's mailbox, luser_relay, or nobody.
 *
 * Order, as in Postfix's local(8): a Delivered-To header naming the
 * recipient bounces the mail as a forwarding loop (5.4.6).  Then
 * alias_maps is searched for the local part (user+ext, then user); a
 * hit is split into members (util/dict_alias_parse.h).  Without an
 * alias the user must exist (else luser_relay, else 5.1.1); the first
 * readable file of forward_path (read as the user) replaces the mailbox
 * by its members.  An address member that names the alias or user being
 * expanded (or is written \user) goes to that user's mailbox; other
 * addresses are collected and re-injected as ONE new message through
 * cleanup (local_forward.c), with owner-<alias> as sender when that
 * alias exists.  Commands and files are allowed per allow_mail_to_*
 * and run as the user for .forward members, as default_privs for alias
 * members and for files named by :include: (which are read with the
 * same privileges).  A recipient expands to at most LOCAL_EXPAND_MAX
 * members and LOCAL_DEPTH_MAX levels of :include:, else it bounces.
 *
 * Errors: recorded in the struct local_result.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pwd.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "local/local.h"
#include "util/dict_alias_parse.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define LOCAL_FILE_MAX	4000		/* .forward/:include: bytes read */

int
local_rcpt_split(const LOCAL_STATE *st, const char *addr,
		 struct local_rcpt *rc)
{
	const char *at = strrchr(addr, '@');
	size_t	llen = at ? (size_t)(at - addr) : strlen(addr);
	size_t	i;

	memset(rc, 0, sizeof(*rc));
	rc->addr = addr;
	rc->local = vstr_alloc(32);
	rc->user = vstr_alloc(32);
	rc->ext = vstr_alloc(16);
	rc->domain = vstr_alloc(32);
	vstr_memcpy(rc->local, addr, llen);
	vstr_lower(rc->local);
	vstr_strcpy(rc->domain, at ? at + 1 : "");
	vstr_strcpy(rc->user, VSTR_STR(rc->local));
	if (*st->delims && strcmp(VSTR_STR(rc->local), "postmaster") != 0) {
		for (i = 0; i < llen; i++)
			if (strchr(st->delims, VSTR_STR(rc->local)[i]))
				break;
		if (i > 0 && i < llen) {
			rc->delim[0] = VSTR_STR(rc->local)[i];
			vstr_strcpy(rc->ext, VSTR_STR(rc->local) + i + 1);
			vstr_truncate(rc->user, i);
		}
	}
	return 0;
}

void
local_rcpt_free(struct local_rcpt *rc)
{
	rc->local = vstr_free(rc->local);
	rc->user = vstr_free(rc->user);
	rc->ext = vstr_free(rc->ext);
	rc->domain = vstr_free(rc->domain);
}

/* Look a user up; root's deliveries run as default_privs. */
static int
local_privs(LOCAL_STATE *st, const char *name, struct local_user *u)
{
	if (local_user_lookup(name, u) < 0)
		return -1;
	if (u->uid == 0) {
		struct local_user d;

		if (local_user_lookup(st->default_privs, &d) < 0)
			return -1;
		u->uid = d.uid;
		u->gid = d.gid;
		local_user_free(&d);
	}
	return 0;
}

struct local_read_job {
	const char *path;
	bool	unprivileged;		/* local is not root (make run) */
};

/* In a child as the user: the file's text (dsn 2.0.1) or none (2.0.0). */
static void
local_read_job(void *ctx, struct local_result *r)
{
	struct local_read_job *j = ctx;
	char	buf[LOCAL_FILE_MAX + 1];
	ssize_t	n;
	size_t	got = 0;
	int	fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR
		    || (errno == EACCES && j->unprivileged))
			local_result_set(r, DELIVER_SENT, "2.0.0", "none");
		else
			local_result_set(r, DELIVER_DEFERRED, "4.3.0",
					 "cannot open %s: %m", j->path);
		return;
	}
	while (got < LOCAL_FILE_MAX
	       && (n = read(fd, buf + got, LOCAL_FILE_MAX - got)) > 0)
		got += (size_t)n;
	close(fd);
	{
		VSTR   *text = vstr_alloc(got + 16);

		local_forward_parse(buf, got, text);
		local_result_set(r, DELIVER_SENT, "2.0.1", "%s",
				 VSTR_STR(text));
		vstr_free(text);
	}
}

void
local_forward_parse(const char *data, size_t len, VSTR *out)
{
	const char *p = data, *end = data + len;

	vstr_reset(out);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *s = p;

		while (s < eol && (*s == ' ' || *s == '\t'))
			s++;
		/* Blank lines and "#" comment lines say nothing. */
		if (s < eol && *s != '#') {
			if (VSTR_LEN(out))
				vstr_strcat(out, ", ");
			for (; s < eol; s++)
				vstr_addch(out, *s == 0 || *s == '\r' ? ' ' : *s);
		}
		p = nl ? nl + 1 : end;
	}
}

/* Read a member file as u: 1 text in out, 0 none, -1 (r says why). */
static int
local_read_file(const struct local_user *u, const char *path, VSTR *out,
		struct local_result *r)
{
	struct passwd *pw = getpwnam(u->name);

	/*
	 * Without root, other users' homes are unreadable; root's own files
	 * are read as default_privs, which usually cannot read them either.
	 * Either way an unreadable file counts as absent.
	 */
	struct local_read_job j = {.path = path,
	.unprivileged = geteuid() != 0 || (pw != NULL && pw->pw_uid == 0)};
	struct local_result fr;
	int	ret;

	local_result_init(&fr);
	local_priv_run(u, 0, local_read_job, &j, &fr);
	if (fr.action != DELIVER_SENT) {
		local_result_merge(r, &fr);
		ret = -1;
	} else if (strcmp(fr.dsn, "2.0.1") == 0) {
		vstr_strcpy(out, VSTR_STR(fr.text));
		ret = 1;
	} else {
		ret = 0;
	}
	local_result_free(&fr);
	return ret;
}

static void local_mailbox_of(LOCAL_STATE *, struct local_msg *,
			     struct local_rcpt *, const char *,
			     struct local_result *);

/* Deliver the members of value; self is the name being expanded. */
static void
local_members(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	      const char *value, int from, const struct local_user *privs,
	      const char *self, int depth, struct local_result *r)
{
	DICT_ALIAS_MEMBERS *mem;
	VSTR   *why = vstr_alloc(64);

	if ((mem = dict_alias_split(value, why)) == NULL) {
		local_result_set(r, DELIVER_BOUNCED, "5.3.5",
				 "bad alias or .forward entry for %s: %s",
				 self, VSTR_STR(why));
		vstr_free(why);
		return;
	}
	for (size_t i = 0; i < mem->count; i++) {
		DICT_ALIAS_MEMBER *it = &mem->items[i];
		struct local_result mr;

		if (++r->members > LOCAL_EXPAND_MAX) {
			local_result_set(r, DELIVER_BOUNCED, "5.3.0",
					 "alias expansion of %s exceeds %d "
					 "members", rc->addr,
					 LOCAL_EXPAND_MAX);
			break;
		}
		local_result_init(&mr);
		switch (it->kind) {
		case DICT_ALIAS_ADDRESS:{
				const char *a = it->text;
				const char *at;
				bool	quoted = (*a == '\\');

				if (quoted)
					a++;
				at = strrchr(a, '@');
				if (quoted || (at == NULL
					       && strcasecmp(a, self) == 0)
				    || (at && (size_t)(at - a) == strlen(self)
					&& strncasecmp(a, self, strlen(self)) == 0
				  && strcasecmp(at + 1, st->myhostname) == 0)) {
					VSTR   *u = vstr_alloc(16);

					vstr_memcpy(u, a, at ? (size_t)(at - a)
						    : strlen(a));
					vstr_lower(u);
					local_mailbox_of(st, m, rc, VSTR_STR(u),
							 &mr);
					vstr_free(u);
				} else {
					vstr_sprintf_append(r->forward, "%s%s%s\n",
							    a, at ? "" : "@",
							    at ? "" : st->myorigin);
					r->nforward++;
				}
				break;
			}
		case DICT_ALIAS_COMMAND:
			if ((st->allow_commands & from) == 0)
				local_result_set(&mr, DELIVER_BOUNCED, "5.7.1",
						 "mail to command is restricted");
			else
				local_command(st, m, rc, privs, it->text, &mr);
			break;
		case DICT_ALIAS_FILE:
			if ((st->allow_files & from) == 0)
				local_result_set(&mr, DELIVER_BOUNCED, "5.7.1",
						 "mail to file is restricted");
			else
				local_file(st, m, rc, privs, it->text, &mr);
			break;
		case DICT_ALIAS_INCLUDE:{
				VSTR   *text = vstr_alloc(256);
				int	got;

				if (depth >= LOCAL_DEPTH_MAX) {
					local_result_set(&mr, DELIVER_BOUNCED,
							 "5.4.6", ":include: nesting "
							 "too deep for %s", rc->addr);
				} else if ((got = local_read_file(privs, it->text,
							      text, &mr)) == 0) {
					local_result_set(&mr, DELIVER_BOUNCED,
							 "5.3.0", "cannot open "
							 "include file %s",
							 it->text);
				} else if (got > 0) {
					local_members(st, m, rc, VSTR_STR(text),
						      LOCAL_FROM_INCLUDE, privs,
						      self, depth + 1, r);
				}
				vstr_free(text);
				break;
			}
		}
		local_result_merge(r, &mr);
		local_result_free(&mr);
	}
	dict_alias_members_free(mem);
	vstr_free(why);
}

/* The user's .forward or mailbox. */
static void
local_mailbox_of(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
		 const char *name, struct local_result *r)
{
	struct local_user u;

	if (local_privs(st, name, &u) < 0) {
		local_result_set(r, DELIVER_BOUNCED, "5.1.1",
				 "unknown user: \"%s\"", name);
		return;
	}
	local_mailbox(st, m, rc, &u, r);
	local_user_free(&u);
}

void
local_expand_vars(const char *in, VSTR *out, struct local_rcpt *rc,
		  const struct local_user *u)
{
	static const char *names[] = {"home", "user", "extension",
	"recipient_delimiter", "local", "domain", "recipient", NULL};

	vstr_reset(out);
	while (*in) {
		size_t	i, len = 0;
		bool	brace;
		const char *name;

		if (*in != '$') {
			vstr_addch(out, *in++);
			continue;
		}
		brace = in[1] == '{';
		name = in + 1 + brace;
		for (i = 0; names[i]; i++) {
			len = strlen(names[i]);
			if (strncmp(name, names[i], len) == 0
			    && (!brace || name[len] == '}'))
				break;
		}
		if (names[i] == NULL) {
			vstr_addch(out, *in++);
			continue;
		}
		switch (i) {
		case 0:
			vstr_strcat(out, u ? u->home : "");
			break;
		case 1:
			vstr_strcat(out, VSTR_STR(rc->user));
			break;
		case 2:
			vstr_strcat(out, VSTR_STR(rc->ext));
			break;
		case 3:
			vstr_strcat(out, VSTR_LEN(rc->ext) ? rc->delim : "");
			break;
		case 4:
			vstr_strcat(out, VSTR_STR(rc->local));
			break;
		case 5:
			vstr_strcat(out, VSTR_STR(rc->domain));
			break;
		default:
			vstr_strcat(out, rc->addr);
			break;
		}
		in = name + len + brace;
	}
}

/* The forward_path files of u, first one that exists wins. */
static int
local_dot_forward(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
		  const struct local_user *u, struct local_result *r)
{
	VSTR   *list = vstr_alloc(64), *path = vstr_alloc(64);
	VSTR   *text = vstr_alloc(256);
	char   *save, *item;
	int	got = 0;

	local_expand_vars(st->forward_path, list, rc, u);
	for (item = strtok_r(VSTR_STR(list), ", \t", &save); item;
	     item = strtok_r(NULL, ", \t", &save)) {
		if ((got = local_read_file(u, item, text, r)) != 0)
			break;
	}
	if (got > 0)
		local_members(st, m, rc, VSTR_STR(text), LOCAL_FROM_FORWARD, u,
			      u->name, 0, r);
	vstr_free(list);
	vstr_free(path);
	vstr_free(text);
	return got;
}

void
local_recipient(LOCAL_STATE *st, struct local_msg *m,
		const struct deliver_rcpt *dr, struct local_result *r)
{
	struct local_rcpt rc;
	struct local_user u = {0};
	const char *value = NULL;
	const char *name = NULL;
	int	found = 0;

	local_rcpt_split(st, dr->addr, &rc);
	rc.orig = dr->orig;
	if (local_copy_has_delivered_to(m->content, dr->addr)) {
		local_result_set(r, DELIVER_BOUNCED, "5.4.6",
				 "mail forwarding loop for %s", dr->addr);
		goto out;
	}
	if (st->aliases) {
		name = VSTR_STR(rc.local);
		found = dict_list_lookup(st->aliases, name, &value);
		if (found == 0 && VSTR_LEN(rc.ext)) {
			name = VSTR_STR(rc.user);
			found = dict_list_lookup(st->aliases, name, &value);
		}
		if (found < 0) {
			local_result_set(r, DELIVER_DEFERRED, "4.3.0",
					 "alias database unavailable");
			goto out;
		}
	}
	if (found > 0) {
		struct local_user privs;
		VSTR   *copy = vstr_alloc(64), *owner = vstr_alloc(32);
		const char *oval;

		vstr_strcpy(copy, value);
		if (local_privs(st, st->default_privs, &privs) < 0) {
			local_result_set(r, DELIVER_DEFERRED, "4.3.5",
					 "default_privs %s: unknown user",
					 st->default_privs);
		} else {
			local_members(st, m, &rc, VSTR_STR(copy),
				      LOCAL_FROM_ALIAS, &privs, name, 0, r);
			local_user_free(&privs);
		}
		vstr_sprintf(owner, "owner-%s", name);
		if (r->nforward
		    && dict_list_lookup(st->aliases, VSTR_STR(owner), &oval) > 0)
			vstr_sprintf(r->owner, "%s@%s", VSTR_STR(owner),
				     st->myorigin);
		vstr_free(copy);
		vstr_free(owner);
	} else if (local_privs(st, VSTR_STR(rc.user), &u) < 0) {
		if (*st->luser_relay) {
			VSTR   *to = vstr_alloc(64);

			local_expand_vars(st->luser_relay, to, &rc, NULL);
			vstr_sprintf_append(r->forward, "%s%s%s\n",
					    VSTR_STR(to),
					    strchr(VSTR_STR(to), '@') ? "" : "@",
				 strchr(VSTR_STR(to), '@') ? "" : st->myorigin);
			r->nforward++;
			vstr_free(to);
		} else {
			local_result_set(r, DELIVER_BOUNCED, "5.1.1",
					 "unknown user: \"%s\"",
					 VSTR_STR(rc.user));
		}
	} else if (local_dot_forward(st, m, &rc, &u, r) == 0) {
		local_mailbox(st, m, &rc, &u, r);
	}
	if (r->nforward && r->action != DELIVER_DEFERRED)
		local_forward(st, m, dr->addr, r);
out:
	local_user_free(&u);
	local_rcpt_free(&rc);
}
