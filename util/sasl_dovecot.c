/*
 * sasl_dovecot - the connection to Dovecot's auth server and the AUTH
 * exchanges over it (protocol: util/sasl_dovecot.h).
 *
 * One connection per process, made when a session first needs the
 * mechanism list, kept for the next sessions, and dropped on any I/O or
 * protocol error (the next use connects again).  Before each use a
 * zero-timeout poll checks that Dovecot has not closed it meanwhile: the
 * server sends nothing unprompted, so anything readable is its EOF.
 * Requests get increasing ids; replies for another id (an abandoned
 * exchange) are skipped.  Every wait is bounded by SASL_DOVECOT_TIMEOUT.
 *
 * Errors: see util/sasl_dovecot.h.  Connection problems name the socket
 * and the cause in why; smtpd logs them and answers 454 4.7.0.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sasl.h"
#include "util/sasl_dovecot.h"
#include "util/vstr.h"

/* Postfix's Dovecot client waits as long for each answer. */
#define SASL_DOVECOT_TIMEOUT 10000 /* ms */

/* Lines skipped while waiting for the answer to one request. */
#define SASL_DOVECOT_SKIP_MAX 100

/* Mechanisms kept from the handshake. */
#define SASL_DOVECOT_MECHS_MAX 64

struct sasl_dovecot_mech {
	char	*name;
	unsigned flags;
};

/* The process-wide connection. */
static struct {
	char			*path; /* smtpd_sasl_path as given */
	char			*host; /* inet:host:port, else NULL */
	char			*port;
	int			 fd;
	VSTR			*in; /* bytes read, not yet a whole line */
	struct sasl_dovecot_mech mechs[SASL_DOVECOT_MECHS_MAX];
	size_t			 nmechs;
	unsigned long		 next_id;
} sasl_dovecot_conn = { .fd = -1 };

struct SASL_DOVECOT_SERVER {
	char			 *service;
	char			 *client_addr, *client_port;
	char			 *server_addr, *server_port;
	bool			  tls, cert_ok;
	unsigned		  sec;
	unsigned long		  id; /* the request in progress, or 0 */
	VSTR			 *mechs;
	VSTR			 *user;
	struct sasl_dovecot_reply reply;
};

int
sasl_dovecot_server_init(const char *path, VSTR *why)
{
	const char *colon;

	if (*path == 0) {
		vstr_strcpy(why, "smtpd_sasl_path is empty: name Dovecot's "
				 "auth socket (e.g. private/auth)");
		return -1;
	}
	myfree(sasl_dovecot_conn.path);
	myfree(sasl_dovecot_conn.host);
	myfree(sasl_dovecot_conn.port);
	sasl_dovecot_conn.host = sasl_dovecot_conn.port = NULL;
	sasl_dovecot_conn.path = mystrdup(path);
	if (strncmp(path, "inet:", 5) == 0) {
		const char *hp = path + 5;

		if ((colon = strrchr(hp, ':')) == NULL || colon == hp
		    || colon[1] == 0) {
			vstr_sprintf(why,
				     "smtpd_sasl_path \"%s\": expected "
				     "inet:host:port",
				     path);
			return -1;
		}
		sasl_dovecot_conn.host = mystrndup(hp, (size_t)(colon - hp));
		/* [::1]:port */
		if (sasl_dovecot_conn.host[0] == '[' && colon[-1] == ']') {
			char *h = mystrndup(hp + 1, (size_t)(colon - hp - 2));

			myfree(sasl_dovecot_conn.host);
			sasl_dovecot_conn.host = h;
		}
		sasl_dovecot_conn.port = mystrdup(colon + 1);
	} else if (strncmp(path, "unix:", 5) == 0) {
		myfree(sasl_dovecot_conn.path);
		sasl_dovecot_conn.path = mystrdup(path + 5);
	}
	return 0;
}

static long long
sasl_dovecot_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sasl_dovecot_disconnect(void)
{
	if (sasl_dovecot_conn.fd >= 0)
		(void)close(sasl_dovecot_conn.fd);
	sasl_dovecot_conn.fd = -1;
	if (sasl_dovecot_conn.in)
		vstr_reset(sasl_dovecot_conn.in);
	for (size_t i = 0; i < sasl_dovecot_conn.nmechs; i++)
		myfree(sasl_dovecot_conn.mechs[i].name);
	sasl_dovecot_conn.nmechs = 0;
}

/* Wait for events on the connection until deadline: 0, or -1 (errno). */
static int
sasl_dovecot_wait(short events, long long deadline)
{
	struct pollfd pfd = { .fd = sasl_dovecot_conn.fd, .events = events };

	for (;;) {
		long long left = deadline - sasl_dovecot_now_ms();
		int	  n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int
sasl_dovecot_connect_inet(long long deadline)
{
	long long left = deadline - sasl_dovecot_now_ms();

	return ipc_connect_inet(sasl_dovecot_conn.host, sasl_dovecot_conn.port,
				left <= 0 ? 0 : (int)left, NULL);
}

/* Read one line (without LF) into line: 0, or -1 with why. */
static int
sasl_dovecot_read_line(VSTR *line, long long deadline, VSTR *why)
{
	VSTR *in = sasl_dovecot_conn.in;

	for (;;) {
		char   *nl = memchr(VSTR_STR(in), '\n', VSTR_LEN(in));
		char	buf[4096];
		ssize_t n;

		if (nl != NULL) {
			size_t len = (size_t)(nl - VSTR_STR(in));

			vstr_memcpy(line, VSTR_STR(in), len);
			vstr_erase_front(in, len + 1);
			return 0;
		}
		if (VSTR_LEN(in) > SASL_DOVECOT_LINE_MAX) {
			vstr_sprintf(why, "%s: line too long",
				     sasl_dovecot_conn.path);
			return -1;
		}
		if (sasl_dovecot_wait(POLLIN, deadline) < 0) {
			vstr_sprintf(why, "%s: read: %m",
				     sasl_dovecot_conn.path);
			return -1;
		}
		n = read(sasl_dovecot_conn.fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n == 0)
				vstr_sprintf(why,
					     "%s: Dovecot closed the "
					     "connection",
					     sasl_dovecot_conn.path);
			else
				vstr_sprintf(why, "%s: read: %m",
					     sasl_dovecot_conn.path);
			return -1;
		}
		vstr_memcat(in, buf, (size_t)n);
	}
}

static int
sasl_dovecot_send(const VSTR *req, VSTR *why)
{
	if (write_full(sasl_dovecot_conn.fd, VSTR_STR(req), VSTR_LEN(req),
		       SASL_DOVECOT_TIMEOUT)
	    != (ssize_t)VSTR_LEN(req)) {
		vstr_sprintf(why, "%s: write: %m", sasl_dovecot_conn.path);
		return -1;
	}
	return 0;
}

/* The VERSION/CPID handshake; keeps the MECH list.  0 or -1 (why). */
static int
sasl_dovecot_handshake(struct sasl_dovecot_reply *r, VSTR *why)
{
	long long deadline = sasl_dovecot_now_ms() + SASL_DOVECOT_TIMEOUT;
	VSTR	 *line = vstr_alloc(128);
	VSTR	 *req = vstr_alloc(64);
	bool	  version = false;
	int	  ret = -1;

	vstr_sprintf(req, "VERSION\t1\t2\nCPID\t%ld\n", (long)getpid());
	if (sasl_dovecot_send(req, why) < 0)
		goto out;
	/* Bounded: the deadline and the line size bound the loop. */
	for (;;) {
		if (sasl_dovecot_read_line(line, deadline, why) < 0)
			goto out;
		if (sasl_dovecot_proto_parse(VSTR_STR(line), VSTR_LEN(line), r,
					     req)
		    < 0) {
			vstr_sprintf(why, "%s: handshake: %s",
				     sasl_dovecot_conn.path, VSTR_STR(req));
			goto out;
		}
		if (r->kind == SASL_DOVECOT_VERSION) {
			if (r->major != 1) {
				vstr_sprintf(why,
					     "%s: Dovecot auth protocol "
					     "version %lu, not 1",
					     sasl_dovecot_conn.path, r->major);
				goto out;
			}
			version = true;
		} else if (r->kind == SASL_DOVECOT_MECH) {
			if (sasl_dovecot_conn.nmechs < SASL_DOVECOT_MECHS_MAX) {
				struct sasl_dovecot_mech *m =
				    &sasl_dovecot_conn
					 .mechs[sasl_dovecot_conn.nmechs++];

				m->name = mystrdup(VSTR_STR(r->text));
				m->flags = r->mech_flags;
			}
		} else if (r->kind == SASL_DOVECOT_DONE) {
			break;
		}
	}
	if (!version) {
		vstr_sprintf(why, "%s: no VERSION in the handshake",
			     sasl_dovecot_conn.path);
		goto out;
	}
	ret = 0;
out:
	vstr_free(line);
	vstr_free(req);
	return ret;
}

/* A live, greeted connection: 0, or -1 with why naming the socket. */
static int
sasl_dovecot_connect(struct sasl_dovecot_reply *r, VSTR *why)
{
	long long deadline = sasl_dovecot_now_ms() + SASL_DOVECOT_TIMEOUT;

	if (sasl_dovecot_conn.path == NULL) {
		vstr_strcpy(why, "Dovecot SASL is not initialized");
		return -1;
	}
	if (sasl_dovecot_conn.fd >= 0) {
		struct pollfd pfd = { .fd = sasl_dovecot_conn.fd,
				      .events = POLLIN };

		/* Nothing comes unprompted: readable means closed. */
		if (poll(&pfd, 1, 0) == 0)
			return 0;
		sasl_dovecot_disconnect();
	}
	if (sasl_dovecot_conn.in == NULL)
		sasl_dovecot_conn.in = vstr_alloc(1024);
	if (sasl_dovecot_conn.host != NULL) {
		sasl_dovecot_conn.fd = sasl_dovecot_connect_inet(deadline);
	} else {
		sasl_dovecot_conn.fd = ipc_connect_unix(sasl_dovecot_conn.path,
							SASL_DOVECOT_TIMEOUT);
		if (sasl_dovecot_conn.fd >= 0)
			(void)fd_set_nonblock(sasl_dovecot_conn.fd, true);
	}
	if (sasl_dovecot_conn.fd < 0) {
		vstr_sprintf(why,
			     "cannot connect to Dovecot auth socket %s: %m",
			     sasl_dovecot_conn.path);
		return -1;
	}
	if (sasl_dovecot_handshake(r, why) < 0) {
		sasl_dovecot_disconnect();
		return -1;
	}
	return 0;
}

SASL_DOVECOT_SERVER *
sasl_dovecot_server_create(const struct sasl_srv_info *info, VSTR *why)
{
	SASL_DOVECOT_SERVER *s;
	unsigned	     sec;

	if (sasl_dovecot_security_parse(info->security, &sec, why) < 0)
		return NULL;
	s = mycalloc(1, sizeof(*s));
	s->service = mystrdup(info->service);
	s->client_addr = mystrdup(info->client_addr ? info->client_addr : "");
	s->client_port = mystrdup(info->client_port ? info->client_port : "");
	s->server_addr = mystrdup(info->server_addr ? info->server_addr : "");
	s->server_port = mystrdup(info->server_port ? info->server_port : "");
	s->tls = info->tls;
	s->cert_ok = info->client_cert_verified;
	s->sec = sec;
	s->mechs = vstr_alloc(64);
	s->user = vstr_alloc(32);
	sasl_dovecot_reply_init(&s->reply);
	return s;
}

SASL_DOVECOT_SERVER *
sasl_dovecot_server_free(SASL_DOVECOT_SERVER *s)
{
	if (s == NULL)
		return NULL;
	myfree(s->service);
	myfree(s->client_addr);
	myfree(s->client_port);
	myfree(s->server_addr);
	myfree(s->server_port);
	vstr_free(s->mechs);
	vstr_free(s->user);
	sasl_dovecot_reply_done(&s->reply);
	myfree(s);
	return NULL;
}

const char *
sasl_dovecot_server_mechs(SASL_DOVECOT_SERVER *s, VSTR *why)
{
	if (sasl_dovecot_connect(&s->reply, why) < 0)
		return NULL;
	vstr_reset(s->mechs);
	for (size_t i = 0; i < sasl_dovecot_conn.nmechs; i++) {
		if (!sasl_dovecot_mech_allowed(sasl_dovecot_conn.mechs[i].flags,
					       s->sec))
			continue;
		if (VSTR_LEN(s->mechs))
			vstr_addch(s->mechs, ' ');
		vstr_strcat(s->mechs, sasl_dovecot_conn.mechs[i].name);
	}
	if (VSTR_LEN(s->mechs) == 0) {
		vstr_sprintf(why,
			     "%s: no SASL mechanisms left after the "
			     "security options",
			     sasl_dovecot_conn.path);
		return NULL;
	}
	return VSTR_STR(s->mechs);
}

/* Send req, then read the answer to s->id.  Maps it to a step. */
static enum sasl_step
sasl_dovecot_exchange(SASL_DOVECOT_SERVER *s, const VSTR *req, VSTR *out,
		      VSTR *why)
{
	long long		   deadline;
	struct sasl_dovecot_reply *r = &s->reply;
	VSTR			  *line = vstr_alloc(128);
	VSTR			  *perr = vstr_alloc(64);
	enum sasl_step		   step = SASL_STEP_TEMP;

	vstr_reset(out);
	if (sasl_dovecot_send(req, why) < 0)
		goto broken;
	deadline = sasl_dovecot_now_ms() + SASL_DOVECOT_TIMEOUT;
	for (int n = 0;; n++) {
		if (n >= SASL_DOVECOT_SKIP_MAX) {
			vstr_sprintf(why, "%s: no answer to request %lu",
				     sasl_dovecot_conn.path, s->id);
			goto broken;
		}
		if (sasl_dovecot_read_line(line, deadline, why) < 0)
			goto broken;
		if (sasl_dovecot_proto_parse(VSTR_STR(line), VSTR_LEN(line), r,
					     perr)
		    < 0) {
			vstr_sprintf(why, "%s: %s", sasl_dovecot_conn.path,
				     VSTR_STR(perr));
			goto broken;
		}
		explicit_bzero(VSTR_STR(line), VSTR_LEN(line));
		if ((r->kind == SASL_DOVECOT_OK || r->kind == SASL_DOVECOT_CONT
		     || r->kind == SASL_DOVECOT_FAIL)
		    && r->id == s->id)
			break;
	}
	switch (r->kind) {
	case SASL_DOVECOT_CONT:
		vstr_memcpy(out, VSTR_STR(r->data), VSTR_LEN(r->data));
		step = SASL_STEP_CONTINUE;
		break;
	case SASL_DOVECOT_OK:
		s->id = 0;
		if (VSTR_LEN(r->user) == 0) {
			vstr_strcpy(why, "Dovecot sent no user name");
			step = SASL_STEP_FAIL;
			break;
		}
		vstr_strcpy(s->user, VSTR_STR(r->user));
		if (r->has_data)
			vstr_memcpy(out, VSTR_STR(r->data), VSTR_LEN(r->data));
		step = SASL_STEP_DONE;
		break;
	default:
		s->id = 0;
		step = r->temp ? SASL_STEP_TEMP : SASL_STEP_FAIL;
		vstr_strcpy(why, VSTR_LEN(r->reason) ? VSTR_STR(r->reason)
						     : "authentication failed");
		break;
	}
	goto out;
broken:
	sasl_dovecot_disconnect();
	s->id = 0;
out:
	explicit_bzero(VSTR_STR(line), VSTR_LEN(line));
	vstr_free(line);
	vstr_free(perr);
	return step;
}

static bool
sasl_dovecot_listed(const char *mech, unsigned sec)
{
	for (size_t i = 0; i < sasl_dovecot_conn.nmechs; i++)
		if (strcasecmp(sasl_dovecot_conn.mechs[i].name, mech) == 0)
			return sasl_dovecot_mech_allowed(sasl_dovecot_conn
							     .mechs[i]
							     .flags,
							 sec);
	return false;
}

enum sasl_step
sasl_dovecot_server_start(SASL_DOVECOT_SERVER *s, const char *mech,
			  const void *in, size_t inlen, bool has_in, VSTR *out,
			  VSTR *why)
{
	VSTR	      *req;
	enum sasl_step step;

	if (sasl_dovecot_connect(&s->reply, why) < 0)
		return SASL_STEP_TEMP;
	if (!sasl_dovecot_listed(mech, s->sec)) {
		vstr_strcpy(why, "mechanism not available");
		return SASL_STEP_FAIL;
	}
	if (++sasl_dovecot_conn.next_id == 0)
		sasl_dovecot_conn.next_id = 1;
	s->id = sasl_dovecot_conn.next_id;
	vstr_strcpy(s->user, "");
	req = vstr_alloc(256);
	vstr_sprintf(req, "AUTH\t%lu\t%s\tservice=", s->id, mech);
	sasl_dovecot_proto_escape(req, s->service);
	/* smtpd only authenticates; Dovecot must not hand out a login. */
	vstr_strcat(req, "\tnologin");
	if (*s->server_addr) {
		vstr_strcat(req, "\tlip=");
		sasl_dovecot_proto_escape(req, s->server_addr);
	}
	if (*s->client_addr) {
		vstr_strcat(req, "\trip=");
		sasl_dovecot_proto_escape(req, s->client_addr);
	}
	if (*s->server_port) {
		vstr_strcat(req, "\tlport=");
		sasl_dovecot_proto_escape(req, s->server_port);
	}
	if (*s->client_port) {
		vstr_strcat(req, "\trport=");
		sasl_dovecot_proto_escape(req, s->client_port);
	}
	if (s->tls)
		vstr_strcat(req, "\tsecured");
	if (s->tls && s->cert_ok)
		vstr_strcat(req, "\tvalid-client-cert");
	if (has_in) {
		vstr_strcat(req, "\tresp=");
		sasl_proto_base64_encode(req, in, inlen);
	}
	vstr_addch(req, '\n');
	step = sasl_dovecot_exchange(s, req, out, why);
	explicit_bzero(VSTR_STR(req), VSTR_LEN(req));
	vstr_free(req);
	return step;
}

enum sasl_step
sasl_dovecot_server_step(SASL_DOVECOT_SERVER *s, const void *in, size_t inlen,
			 VSTR *out, VSTR *why)
{
	VSTR	      *req;
	enum sasl_step step;

	if (s->id == 0 || sasl_dovecot_conn.fd < 0) {
		vstr_sprintf(why, "%s: the exchange was lost",
			     sasl_dovecot_conn.path ? sasl_dovecot_conn.path
						    : "Dovecot");
		return SASL_STEP_TEMP;
	}
	req = vstr_alloc(256);
	vstr_sprintf(req, "CONT\t%lu\t", s->id);
	sasl_proto_base64_encode(req, in, inlen);
	vstr_addch(req, '\n');
	step = sasl_dovecot_exchange(s, req, out, why);
	explicit_bzero(VSTR_STR(req), VSTR_LEN(req));
	vstr_free(req);
	return step;
}

const char *
sasl_dovecot_server_username(SASL_DOVECOT_SERVER *s)
{
	return VSTR_LEN(s->user) ? VSTR_STR(s->user) : NULL;
}
