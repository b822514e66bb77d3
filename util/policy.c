/*
 * policy - SMTP Access Policy Delegation client.  See policy.h.
 *
 * The connection is a plain blocking socket used with poll() deadlines,
 * so a server that hangs costs at most `timeout` seconds per try.  A
 * reply with bytes after its empty line means the two sides no longer
 * agree where a reply ends: the connection is closed after it.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/dict.h"
#include "util/ipc.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/policy.h"

struct POLICY {
	char	 *name;	    /* "inet:host:port" / "unix:path" */
	char	 *host;	    /* inet: host, NULL for unix */
	char	 *port;	    /* inet: port */
	char	 *path;	    /* unix: path */
	long long timeout;  /* seconds per connect/write/read */
	long long max_idle; /* seconds */
	long long max_ttl;  /* seconds */
	long long request_limit;
	long long try_limit;
	long long retry_delay;
	char	 *default_action;
	char	 *context;
	int	  fd; /* -1: not connected */
	time_t	  connected;
	time_t	  last_used;
	long long requests; /* on this connection */
	VSTR	 *in;
	VSTR	 *out;
};

static long long
policy_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "10", "10s", "5m", "1h", "1d", "1w" -> seconds; -1 when malformed. */
static long long
policy_time(const char *text)
{
	char	 *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (end == text || errno || v < 0 || v > INT_MAX / 604800)
		return -1;
	switch (*end) {
	case 0:
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	case 'w':
		v *= 604800;
		break;
	default:
		return -1;
	}
	if (*end && end[1])
		return -1;
	return v;
}

static int
policy_endpoint(POLICY *p, const char *ep, VSTR *why)
{
	if (strncmp(ep, "unix:", 5) == 0 && ep[5]) {
		p->path = mystrdup(ep + 5);
	} else if (strncmp(ep, "inet:", 5) == 0) {
		const char *hp = ep + 5;
		const char *colon = strrchr(hp, ':');
		size_t	    hl;

		if (colon == NULL || colon == hp || colon[1] == 0) {
			vstr_sprintf(why,
				     "policy service \"%s\": need "
				     "inet:host:port",
				     ep);
			return -1;
		}
		hl = (size_t)(colon - hp);
		if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
			hp++;
			hl -= 2;
		}
		p->host = mystrndup(hp, hl);
		p->port = mystrdup(colon + 1);
	} else {
		vstr_sprintf(why,
			     "policy service \"%s\": need inet:host:port or "
			     "unix:path",
			     ep);
		return -1;
	}
	p->name = mystrdup(ep);
	return 0;
}

struct policy_words {
	char **v;
	size_t n;
};

static void
policy_word(const char *item, size_t len, void *ctx)
{
	struct policy_words *w = ctx;

	w->v = myrealloc(w->v, (w->n + 1) * sizeof(char *));
	w->v[w->n++] = mystrndup(item, len);
}

/* "{ name = value }" or "name=value": one per-service setting. */
static int
policy_setting(POLICY *p, char *item, VSTR *why)
{
	char	 *eq, *name, *value;
	size_t	  len = strlen(item);
	long long t;

	if (item[0] == '{' && len >= 2 && item[len - 1] == '}') {
		item[len - 1] = 0;
		item++;
	}
	if ((eq = strchr(item, '=')) == NULL) {
		vstr_sprintf(why, "policy service %s: \"%s\" is not name=value",
			     p->name, item);
		return -1;
	}
	*eq = 0;
	name = item + strspn(item, " \t");
	for (char *e = eq; e > name && strchr(" \t", e[-1]); e--)
		e[-1] = 0;
	value = eq + 1 + strspn(eq + 1, " \t");
	for (size_t l = strlen(value); l > 0 && strchr(" \t", value[l - 1]);
	     l--)
		value[l - 1] = 0;
	if (strcmp(name, "default_action") == 0) {
		myfree(p->default_action);
		p->default_action = mystrdup(value);
		return 0;
	}
	if (strcmp(name, "policy_context") == 0) {
		myfree(p->context);
		p->context = mystrdup(value);
		return 0;
	}
	if (strcmp(name, "request_limit") == 0
	    || strcmp(name, "try_limit") == 0) {
		char *end;

		errno = 0;
		t = strtoll(value, &end, 10);
		if (end == value || *end || errno || t < 0
		    || (name[0] == 't' && (t < 1 || t > POLICY_TRIES_MAX))) {
			vstr_sprintf(why, "policy service %s: bad %s \"%s\"",
				     p->name, name, value);
			return -1;
		}
		*(name[0] == 't' ? &p->try_limit : &p->request_limit) = t;
		return 0;
	}
	t = policy_time(value);
	if (t < 0) {
		vstr_sprintf(why, "policy service %s: bad %s \"%s\"", p->name,
			     name, value);
		return -1;
	}
	if (strcmp(name, "timeout") == 0 && t > 0)
		p->timeout = t;
	else if (strcmp(name, "max_idle") == 0 && t > 0)
		p->max_idle = t;
	else if (strcmp(name, "max_ttl") == 0 && t > 0)
		p->max_ttl = t;
	else if (strcmp(name, "retry_delay") == 0)
		p->retry_delay = t;
	else {
		vstr_sprintf(why,
			     "policy service %s: unknown or zero setting "
			     "\"%s\"",
			     p->name, name);
		return -1;
	}
	return 0;
}

POLICY *
policy_create(const CFG *cfg, const char *spec, VSTR *why)
{
	POLICY		   *p = mycalloc(1, sizeof(*p));
	struct policy_words w = { NULL, 0 };
	size_t		    len = strlen(spec);
	int		    rc = -1;

	p->fd = -1;
	p->timeout = cfg_get_time(cfg, "smtpd_policy_service_timeout");
	p->max_idle = cfg_get_time(cfg, "smtpd_policy_service_max_idle");
	p->max_ttl = cfg_get_time(cfg, "smtpd_policy_service_max_ttl");
	p->request_limit = cfg_get_int(cfg,
				       "smtpd_policy_service_request_limit");
	p->try_limit = cfg_get_int(cfg, "smtpd_policy_service_try_limit");
	p->retry_delay = cfg_get_time(cfg, "smtpd_policy_service_retry_delay");
	p->default_action = mystrdup(
	    cfg_get_str(cfg, "smtpd_policy_service_default_action"));
	p->context = mystrdup(
	    cfg_get_str(cfg, "smtpd_policy_service_policy_context"));
	p->in = vstr_alloc(256);
	p->out = vstr_alloc(512);
	if (spec[0] != '{') {
		rc = policy_endpoint(p, spec, why);
		goto out;
	}
	if (len < 2 || spec[len - 1] != '}') {
		vstr_sprintf(why, "policy service \"%s\": missing '}'", spec);
		goto out;
	}
	{
		char *inner = mystrndup(spec + 1, len - 2);

		rc = dict_list_split(inner, policy_word, &w, why);
		myfree(inner);
	}
	if (rc < 0)
		goto out;
	rc = -1;
	if (w.n == 0) {
		vstr_sprintf(why, "policy service \"%s\": no endpoint", spec);
		goto out;
	}
	if (policy_endpoint(p, w.v[0], why) < 0)
		goto out;
	for (size_t i = 1; i < w.n; i++)
		if (policy_setting(p, w.v[i], why) < 0)
			goto out;
	rc = 0;
out:
	for (size_t i = 0; i < w.n; i++)
		myfree(w.v[i]);
	myfree(w.v);
	if (rc < 0)
		return policy_free(p);
	if (p->try_limit < 1)
		p->try_limit = 1;
	if (p->try_limit > POLICY_TRIES_MAX)
		p->try_limit = POLICY_TRIES_MAX;
	return p;
}

static void
policy_disconnect(POLICY *p)
{
	if (p->fd >= 0)
		(void)close(p->fd);
	p->fd = -1;
	p->requests = 0;
}

POLICY *
policy_free(POLICY *p)
{
	if (p == NULL)
		return NULL;
	policy_disconnect(p);
	myfree(p->name);
	myfree(p->host);
	myfree(p->port);
	myfree(p->path);
	myfree(p->default_action);
	myfree(p->context);
	vstr_free(p->in);
	vstr_free(p->out);
	myfree(p);
	return NULL;
}

const char *
policy_name(const POLICY *p)
{
	return p->name;
}

const char *
policy_context(const POLICY *p)
{
	return p->context;
}

void
policy_request_add(VSTR *req, const char *name, const char *value)
{
	size_t n = 0;

	vstr_strcat(req, name);
	vstr_addch(req, '=');
	for (const char *cp = value ? value : ""; *cp && n < POLICY_VALUE_MAX;
	     cp++, n++) {
		unsigned char ch = (unsigned char)*cp;

		vstr_addch(req, ch < ' ' || ch == 127 ? '?' : ch);
	}
	vstr_addch(req, '\n');
}

/* Wait for events until the deadline; 0, or -1 with errno ETIMEDOUT. */
static int
policy_wait(int fd, short events, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline - policy_now_ms();
		int	  n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int
policy_connect_inet(POLICY *p, long long deadline, VSTR *why)
{
	long long left = deadline - policy_now_ms();
	int	  ms = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
	int	  gai = 0;
	int	  fd;

	fd = ipc_connect_inet(p->host, p->port, ms, &gai);
	if (fd < 0 && gai != 0)
		vstr_sprintf(why, "cannot resolve %s: %s", p->name,
			     gai_strerror(gai));
	else if (fd < 0)
		vstr_sprintf(why, "connect to %s: %m", p->name);
	return fd;
}

static int
policy_connect(POLICY *p, long long deadline, VSTR *why)
{
	time_t now = time(NULL);

	if (p->fd >= 0
	    && (now - p->last_used > p->max_idle
		|| now - p->connected > p->max_ttl))
		policy_disconnect(p);
	if (p->fd >= 0)
		return 0;
	if (p->path) {
		int ms = (int)(deadline - policy_now_ms());

		p->fd = ipc_connect_unix(p->path, ms > 0 ? ms : 1);
		if (p->fd < 0)
			vstr_sprintf(why, "connect to %s: %m", p->name);
		else if (fd_set_nonblock(p->fd, true) < 0) {
			vstr_sprintf(why, "%s: %m", p->name);
			policy_disconnect(p);
		}
	} else {
		p->fd = policy_connect_inet(p, deadline, why);
	}
	if (p->fd < 0)
		return -1;
	p->connected = now;
	p->requests = 0;
	return 0;
}

static int
policy_send(POLICY *p, long long deadline, VSTR *why)
{
	const char *cp = VSTR_STR(p->out);
	size_t	    left = VSTR_LEN(p->out);

	while (left > 0) {
		ssize_t n = send(p->fd, cp, left, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			cp += n;
			left -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
		    && policy_wait(p->fd, POLLOUT, deadline) == 0)
			continue;
		vstr_sprintf(why, "write to %s: %m", p->name);
		return -1;
	}
	return 0;
}

static int
policy_receive(POLICY *p, long long deadline, VSTR *action, VSTR *why)
{
	char buf[2048];
	int  rc;

	vstr_reset(p->in);
	for (;;) {
		ssize_t n;

		rc = policy_reply_parse(VSTR_STR(p->in), VSTR_LEN(p->in),
					action, why);
		if (rc < 0) {
			vstr_sprintf_append(why, " from %s", p->name);
			return -1;
		}
		if (rc > 0)
			break;
		if (policy_wait(p->fd, POLLIN, deadline) < 0) {
			vstr_sprintf(why, "read from %s: %m", p->name);
			return -1;
		}
		n = recv(p->fd, buf,
			 sizeof(buf) < POLICY_REPLY_MAX - VSTR_LEN(p->in)
			     ? sizeof(buf)
			     : POLICY_REPLY_MAX - VSTR_LEN(p->in),
			 MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n == 0)
				vstr_sprintf(why, "%s closed the connection",
					     p->name);
			else
				vstr_sprintf(why, "read from %s: %m", p->name);
			return -1;
		}
		vstr_memcat(p->in, buf, (size_t)n);
	}
	/* Bytes past the reply: the stream is out of step; start afresh. */
	if ((size_t)rc != VSTR_LEN(p->in)) {
		msg_warn("policy server %s sent %zu bytes after its reply; "
			 "closing the connection",
			 p->name, VSTR_LEN(p->in) - (size_t)rc);
		policy_disconnect(p);
	}
	return 0;
}

int
policy_query(POLICY *p, const VSTR *req, VSTR *action)
{
	VSTR *why = vstr_alloc(128);
	int   rc = -1;

	vstr_memcpy(p->out, VSTR_STR(req), VSTR_LEN(req));
	vstr_addch(p->out, '\n');
	for (long long t = 0; t < p->try_limit && rc < 0; t++) {
		long long deadline = policy_now_ms() + p->timeout * 1000;

		if (t > 0 && p->retry_delay > 0)
			(void)poll(NULL, 0, (int)(p->retry_delay * 1000));
		if (policy_connect(p, deadline, why) == 0
		    && policy_send(p, deadline, why) == 0
		    && policy_receive(p, deadline, action, why) == 0) {
			rc = 0;
			break;
		}
		msg_warn("problem talking to policy server %s: %s", p->name,
			 VSTR_STR(why));
		policy_disconnect(p);
	}
	if (rc == 0) {
		p->last_used = time(NULL);
		if (p->fd >= 0 && p->request_limit > 0
		    && ++p->requests >= p->request_limit)
			policy_disconnect(p);
	} else {
		msg_warn("policy server %s: no usable reply after %lld "
			 "tries; using default action \"%s\"",
			 p->name, p->try_limit, p->default_action);
		vstr_strcpy(action, p->default_action);
	}
	vstr_free(why);
	return rc;
}

int
policy_reply_parse(const char *buf, size_t len, VSTR *action, VSTR *why)
{
	size_t pos = 0;
	bool   have_action = false;

	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t	    ll;
		const char *eq;

		if (nl == NULL)
			break;
		ll = (size_t)(nl - line);
		pos += ll + 1;
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			if (!have_action) {
				vstr_strcpy(why, "reply without action=");
				return -1;
			}
			return (int)pos;
		}
		for (size_t i = 0; i < ll; i++) {
			unsigned char ch = (unsigned char)line[i];

			if ((ch < ' ' && ch != '\t') || ch == 127) {
				vstr_strcpy(why, "control character in reply");
				return -1;
			}
		}
		eq = memchr(line, '=', ll);
		if (eq == NULL || eq == line) {
			vstr_strcpy(why, "reply line is not name=value");
			return -1;
		}
		if ((size_t)(eq - line) == 6
		    && memcmp(line, "action", 6) == 0) {
			const char *v = eq + 1;
			size_t	    vl = ll - 7;

			while (vl > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vl--;
			}
			while (vl > 0
			       && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (have_action || vl == 0) {
				vstr_strcpy(why, have_action
						     ? "reply with two actions"
						     : "reply with an empty "
						       "action");
				return -1;
			}
			vstr_memcpy(action, v, vl);
			have_action = true;
		}
	}
	if (len >= POLICY_REPLY_MAX) {
		vstr_sprintf(why, "reply longer than %d bytes",
			     POLICY_REPLY_MAX);
		return -1;
	}
	return 0;
}
