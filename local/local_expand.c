/*
 * local_expand - what a local recipient means: an alias, a .forward
 * file, a user's mailbox, luser_relay, or nobody.
 *
 * Order, as in Postfix's local(8): a Delivered-To header naming the recipient
 * bounces the mail as a forwarding loop (5.4.6).  Then alias_maps is searched
 * for the local part (user+ext, then user); a hit is split into members
 * (util/dict_alias_parse.h).  Without an alias the user must exist (else
 * mailbox_transport, fallback_transport, luser_relay, else 5.1.1); the first
 * readable file of forward_path (values through forward_expansion_filter; read
 * whole as the user, up to forward_file_size_limit, else the recipient defers)
 * replaces the mailbox by its members; a file without members means the
 * mailbox.  An extension with "/" is dropped (with a warning), as in Postfix.
 * An address member that names the alias or user being expanded (or is written
 * \user) goes to that user's mailbox; other addresses are collected and
 * re-injected as ONE new message through cleanup (local_forward.c), with
 * owner-<alias> (or, with expand_owner_alias, its one-address expansion) as
 * sender when that alias exists; an extension that the alias or .forward did
 * not match is appended to them per propagate_unmatched_extensions.  owner-x
 * and x-request are never split at a delimiter (owner_request_special).
 * Commands and files are allowed per allow_mail_to_* and run as the user for
 * .forward members, as default_privs for alias members and for files named by
 * :include: (which are read with the same privileges).  A recipient expands to
 * at most LOCAL_EXPAND_MAX members and LOCAL_DEPTH_MAX levels of :include:,
 * else it bounces.
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
#include <sys/stat.h>
#include <unistd.h>

#include "local/local.h"
#include "util/dict_alias_parse.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/*
 * owner_request_special: owner-list and list-request are names of their
 * own, never list with an extension (matters when "-" is a delimiter).
 */
static bool
local_owner_request(const VSTR *local)
{
	size_t len = VSTR_LEN(local);

	return strncmp(VSTR_STR(local), "owner-", 6) == 0
	       || (len > 8
		   && strcmp(VSTR_STR(local) + len - 8, "-request") == 0);
}

int
local_rcpt_split(const LOCAL_STATE *st, const char *addr, struct local_rcpt *rc)
{
	const char *at = strrchr(addr, '@');
	size_t	    llen = at ? (size_t)(at - addr) : strlen(addr);
	size_t	    i;

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
	if (*st->delims && strcmp(VSTR_STR(rc->local), "postmaster") != 0
	    && !(st->owner_request && local_owner_request(rc->local))) {
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
	bool	    unprivileged; /* local is not root (make run) */
	long long   limit;	  /* forward_file_size_limit */
};

/*
 * In a child as the user: the file's text (dsn 2.0.1) or none (2.0.0).
 * The file is read whole; one longer than forward_file_size_limit
 * defers the recipient (never a silent cut: the addresses at its end
 * would be lost).
 */
static void
local_read_job(void *ctx, struct local_result *r)
{
	struct local_read_job *j = ctx;
	char		       chunk[8192];
	VSTR		      *buf;
	ssize_t		       n;
	struct stat	       sb;
	int fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR
		    || (errno == EACCES && j->unprivileged))
			local_result_set(r, DELIVER_SENT, "2.0.0", "none");
		else
			local_result_set(r, DELIVER_DEFERRED, "4.3.0",
					 "cannot open %s: %m", j->path);
		return;
	}
	/* A folder or device named .forward is no list (and never blocks). */
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		local_result_set(r, DELIVER_SENT, "2.0.0", "none");
		return;
	}
	buf = vstr_alloc(1024);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		vstr_memcat(buf, chunk, (size_t)n);
		if ((long long)VSTR_LEN(buf) > j->limit)
			break;
	}
	close(fd);
	if (n < 0) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.0",
				 "cannot read %s: %m", j->path);
	} else if ((long long)VSTR_LEN(buf) > j->limit) {
		local_result_set(r, DELIVER_DEFERRED, "4.3.0",
				 "file %s is larger than "
				 "forward_file_size_limit (%lld bytes)",
				 j->path, j->limit);
	} else {
		VSTR *text = vstr_alloc(VSTR_LEN(buf) + 16);

		local_forward_parse(VSTR_STR(buf), VSTR_LEN(buf), text);
		local_result_set(r, DELIVER_SENT, "2.0.1", "%s",
				 VSTR_STR(text));
		vstr_free(text);
	}
	vstr_free(buf);
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
				vstr_addch(out,
					   *s == 0 || *s == '\r' ? ' ' : *s);
		}
		p = nl ? nl + 1 : end;
	}
}

/* Read a member file as u: 1 text in out, 0 none, -1 (r says why). */
static int
local_read_file(LOCAL_STATE *st, const struct local_user *u, const char *path,
		VSTR *out, struct local_result *r)
{
	struct passwd *pw = getpwnam(u->name);

	/*
	 * Without root, other users' homes are unreadable; root's own files
	 * are read as default_privs, which usually cannot read them either.
	 * Either way an unreadable file counts as absent.
	 */
	struct local_read_job j = { .path = path,
				    .unprivileged = geteuid() != 0
						    || (pw != NULL
							&& pw->pw_uid == 0),
				    .limit = st->file_limit };
	struct local_result   fr;
	int		      ret;

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

static void
local_mailbox_of(LOCAL_STATE *, struct local_msg *, struct local_rcpt *,
		 const char *, struct local_result *);

/*
 * Deliver the members of value; self is the name being expanded.
 * unmatched: the recipient's extension when the alias or .forward that
 * matched was the one without it (NULL otherwise); address members then
 * get it back when propagate_unmatched_extensions names their class.
 */
static void
local_members(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
	      const char *value, int from, const struct local_user *privs,
	      const char *self, const char *unmatched, int depth,
	      struct local_result *r)
{
	DICT_ALIAS_MEMBERS *mem;
	VSTR		   *why = vstr_alloc(64);

	if ((mem = dict_alias_split(value, why)) == NULL) {
		local_result_set(r, DELIVER_BOUNCED, "5.3.5",
				 "bad alias or .forward entry for %s: %s", self,
				 VSTR_STR(why));
		vstr_free(why);
		return;
	}
	for (size_t i = 0; i < mem->count; i++) {
		DICT_ALIAS_MEMBER  *it = &mem->items[i];
		struct local_result mr;

		if (++r->members > LOCAL_EXPAND_MAX) {
			local_result_set(r, DELIVER_BOUNCED, "5.3.0",
					 "alias expansion of %s exceeds %d "
					 "members",
					 rc->addr, LOCAL_EXPAND_MAX);
			break;
		}
		local_result_init(&mr);
		switch (it->kind) {
		case DICT_ALIAS_ADDRESS: {
			const char *a = it->text;
			const char *at;
			bool	    quoted = (*a == '\\');

			if (quoted)
				a++;
			at = strrchr(a, '@');
			if (quoted || (at == NULL && strcasecmp(a, self) == 0)
			    || (at && (size_t)(at - a) == strlen(self)
				&& strncasecmp(a, self, strlen(self)) == 0
				&& strcasecmp(at + 1, st->myhostname) == 0)) {
				VSTR *u = vstr_alloc(16);

				vstr_memcpy(u, a,
					    at ? (size_t)(at - a) : strlen(a));
				vstr_lower(u);
				local_mailbox_of(st, m, rc, VSTR_STR(u), &mr);
				vstr_free(u);
			} else {
				size_t alen = at ? (size_t)(at - a) : strlen(a);

				vstr_memcat(r->forward, a, alen);
				if (unmatched && *unmatched
				    && (st->propagate & from))
					vstr_sprintf_append(r->forward, "%s%s",
							    rc->delim,
							    unmatched);
				vstr_sprintf_append(r->forward, "@%s\n",
						    at ? at + 1 : st->myorigin);
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
		case DICT_ALIAS_INCLUDE: {
			VSTR *text = vstr_alloc(256);
			int   got;

			if (depth >= LOCAL_DEPTH_MAX) {
				local_result_set(&mr, DELIVER_BOUNCED, "5.4.6",
						 ":include: nesting "
						 "too deep for %s",
						 rc->addr);
			} else if ((got = local_read_file(st, privs, it->text,
							  text, &mr))
				   == 0) {
				local_result_set(&mr, DELIVER_BOUNCED, "5.3.0",
						 "cannot open "
						 "include file %s",
						 it->text);
			} else if (got > 0) {
				local_members(st, m, rc, VSTR_STR(text),
					      LOCAL_FROM_INCLUDE, privs, self,
					      unmatched, depth + 1, r);
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
local_filter_append(VSTR *out, const char *value, const char *allowed)
{
	for (; *value; value++)
		vstr_addch(out, strchr(allowed, *value) ? *value : '_');
}

/* Append one expanded value, through the filter when there is one. */
static void
local_expand_add(VSTR *out, const char *value, const char *filter)
{
	if (filter)
		local_filter_append(out, value, filter);
	else
		vstr_strcat(out, value);
}

void
local_expand_vars(const char *in, VSTR *out, struct local_rcpt *rc,
		  const struct local_user *u, const char *filter)
{
	static const char *names[] = { "home",	    "user",
				       "extension", "recipient_delimiter",
				       "local",	    "domain",
				       "recipient", NULL };

	vstr_reset(out);
	while (*in) {
		size_t	    i, len = 0;
		bool	    brace;
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
			local_expand_add(out, u ? u->home : "", filter);
			break;
		case 1:
			local_expand_add(out, VSTR_STR(rc->user), filter);
			break;
		case 2:
			local_expand_add(out, VSTR_STR(rc->ext), filter);
			break;
		case 3:
			local_expand_add(out,
					 VSTR_LEN(rc->ext) ? rc->delim : "",
					 filter);
			break;
		case 4:
			local_expand_add(out, VSTR_STR(rc->local), filter);
			break;
		case 5:
			local_expand_add(out, VSTR_STR(rc->domain), filter);
			break;
		default:
			local_expand_add(out, rc->addr, filter);
			break;
		}
		in = name + len + brace;
	}
}

/*
 * The forward_path files of u, first one that exists wins.  Each item is
 * expanded on its own (values through forward_expansion_filter), so we
 * know whether the file that matched was one named by the extension.
 * A file with no entries (empty, or only comments) means "do not
 * forward": the mailbox gets the mail.  1 handled, 0 mailbox.
 */
static int
local_dot_forward(LOCAL_STATE *st, struct local_msg *m, struct local_rcpt *rc,
		  const struct local_user *u, struct local_result *r)
{
	char *list = mystrdup(st->forward_path);
	VSTR *path = vstr_alloc(64), *text = vstr_alloc(256);
	char *save, *item;
	int   got = 0;
	bool  ext_matched = false;

	for (item = strtok_r(list, ", \t", &save); item;
	     item = strtok_r(NULL, ", \t", &save)) {
		local_expand_vars(item, path, rc, u, st->fwd_filter);
		if ((got = local_read_file(st, u, VSTR_STR(path), text, r))
		    != 0) {
			ext_matched = strstr(item, "$extension") != NULL
				      || strstr(item, "${extension}") != NULL;
			break;
		}
	}
	if (got > 0 && VSTR_LEN(text) == 0)
		got = 0;
	if (got > 0)
		local_members(st, m, rc, VSTR_STR(text), LOCAL_FROM_FORWARD, u,
			      u->name, ext_matched ? NULL : VSTR_STR(rc->ext),
			      0, r);
	myfree(list);
	vstr_free(path);
	vstr_free(text);
	return got;
}

/*
 * The sender of a list's re-injected copy: owner-NAME@myorigin, or with
 * expand_owner_alias its expansion when that is one plain address.
 */
static void
local_owner_sender(LOCAL_STATE *st, const char *owner, const char *value,
		   VSTR *out)
{
	const char *v = value + strspn(value, " \t");
	size_t	    len = strcspn(v, " \t,");

	if (st->expand_owner && len > 0 && v[len + strspn(v + len, " \t")] == 0
	    && strchr("|/:\"\\", *v) == NULL) {
		vstr_memcpy(out, v, len);
		if (memchr(v, '@', len) == NULL)
			vstr_sprintf_append(out, "@%s", st->myorigin);
		return;
	}
	vstr_sprintf(out, "%s@%s", owner, st->myorigin);
}

void
local_recipient(LOCAL_STATE *st, struct local_msg *m,
		const struct deliver_rcpt *dr, struct local_result *r)
{
	struct local_rcpt rc;
	struct local_user u = { 0 };
	const char	 *value = NULL;
	const char	 *name = NULL;
	int		  found = 0;

	local_rcpt_split(st, dr->addr, &rc);
	rc.orig = dr->orig;
	/* An extension is never a path (forward_path puts it in one). */
	if (strchr(VSTR_STR(rc.ext), '/')) {
		msg_warn("%s: address with illegal extension: %s",
			 m->req->queue_id, VSTR_STR(rc.local));
		vstr_reset(rc.ext);
		rc.delim[0] = 0;
	}
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
		VSTR	   *copy = vstr_alloc(64), *owner = vstr_alloc(32);
		const char *oval;

		vstr_strcpy(copy, value);
		if (local_privs(st, st->default_privs, &privs) < 0) {
			local_result_set(r, DELIVER_DEFERRED, "4.3.5",
					 "default_privs %s: unknown user",
					 st->default_privs);
		} else {
			local_members(st, m, &rc, VSTR_STR(copy),
				      LOCAL_FROM_ALIAS, &privs, name,
				      name == VSTR_STR(rc.user)
					      && VSTR_LEN(rc.ext)
					  ? VSTR_STR(rc.ext)
					  : NULL,
				      0, r);
			local_user_free(&privs);
		}
		vstr_sprintf(owner, "owner-%s", name);
		if (r->nforward
		    && dict_list_lookup(st->aliases, VSTR_STR(owner), &oval)
			   > 0)
			local_owner_sender(st, VSTR_STR(owner), oval, r->owner);
		vstr_free(copy);
		vstr_free(owner);
	} else if (local_privs(st, VSTR_STR(rc.user), &u) < 0) {
		/*
		 * No account: mailbox_transport takes every local recipient,
		 * fallback_transport the unknown ones, then luser_relay.
		 */
		if (*st->mailbox_transport) {
			local_pass(st, m, &rc, st->mailbox_transport, r);
		} else if (*st->fallback_transport) {
			local_pass(st, m, &rc, st->fallback_transport, r);
		} else if (*st->luser_relay) {
			VSTR *to = vstr_alloc(64);

			local_expand_vars(st->luser_relay, to, &rc, NULL, NULL);
			vstr_sprintf_append(r->forward, "%s%s%s\n",
					    VSTR_STR(to),
					    strchr(VSTR_STR(to), '@') ? ""
								      : "@",
					    strchr(VSTR_STR(to), '@')
						? ""
						: st->myorigin);
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
