/*
 * dict_pgsql - pgsql: tables, a PostgreSQL query per lookup through libpq,
 * configured by a file in the format of Postfix's pgsql_table(5): hosts,
 * user, password, dbname, query, result_format, domain, expansion_limit,
 * idle_interval, retry_interval, encoding.  The long-deprecated
 * select_field / table / where_field interface is not implemented: like
 * any unknown setting it fails the open with a message naming it.
 *
 * hosts lists servers as host, host:port, [v6addr]:port, a unix socket
 * directory (/path, /path:port), each optionally prefixed by the ignored
 * "inet:" or "unix:", or a postgresql:// URI.  As in Postfix, the unix
 * socket folders are tried first, in random order, then the other servers
 * (TCP and URIs), in random order; a server that cannot be reached is
 * skipped for retry_interval
 * seconds.  One connection is kept open and reused; it is closed when it
 * has been idle for more than idle_interval seconds (checked at the next
 * lookup), and a connection found lost during a lookup is reopened once
 * (any usable host) before the lookup fails.
 *
 * Substituted key parts are quoted with PQescapeStringConn, so they cannot
 * end the SQL string they are put in; a key that is not valid in the
 * client encoding finds nothing.  Each column of each row is a result;
 * several are joined with ",".
 *
 * Errors: open fails (why) for a configuration file that cannot be read,
 * a missing query, bad numbers, a bad template, an unknown parameter.
 * It does not connect.  A lookup that finds no usable server, loses its
 * connection twice, or whose query the server refuses returns -1 with
 * errno EAGAIN and a msg_warn naming the table and the cause: the caller
 * defers; it is never "not found".  Values are borrowed until the next
 * lookup or close.  The password is wiped on close.
 *
 * SPDX-License-Identifier: ISC
 */
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/dict.h"
#include "util/dict_impl.h"
#include "util/dict_query.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define DICT_PGSQL_HOSTS_MAX 64
/* libpq's own bound on one connection attempt (seconds). */
#define DICT_PGSQL_CONNECT_TIMEOUT "10"

struct pgsql_host {
	char  *text; /* as written, for messages */
	char  *host; /* name, address, socket folder or URI */
	char  *port; /* NULL: libpq's default */
	int    uri;
	int    local;	 /* a unix socket folder: tried before TCP */
	time_t retry_at; /* skipped until then after a failure */
};

typedef struct DICT_PGSQL {
	DICT		       dict;
	struct dict_query_conf qc;
	struct pgsql_host     *hosts;
	size_t		       nhosts;
	char		      *user;
	char		      *password;
	char		      *dbname;
	char		      *encoding;
	long		       idle_interval;
	long		       retry_interval;
	PGconn		      *conn;
	size_t		       conn_host;
	time_t		       last_used;
	VSTR		      *query;
	VSTR		      *result;
	VSTR		      *errors;
	int		       quote_error;
} DICT_PGSQL;

static void
dict_pgsql_quote(VSTR *out, const char *s, size_t len, void *ctx)
{
	DICT_PGSQL *dp = ctx;
	size_t	    n;
	int	    err = 0;

	if (len > ((size_t)-1 - 1) / 2) {
		dp->quote_error = 1;
		return;
	}
	vstr_space(out, 2 * len + 1);
	n = PQescapeStringConn(dp->conn, VSTR_END(out), s, len, &err);
	if (err)
		dp->quote_error = 1;
	else
		vstr_set_len(out, VSTR_LEN(out) + n);
}

/* libpq's message without its trailing newline. */
static const char *
dict_pgsql_err(DICT_PGSQL *dp, const char *msg, VSTR *buf)
{
	size_t len = strlen(msg);

	size_t i;

	while (len > 0 && isspace((unsigned char)msg[len - 1]))
		len--;
	/* One log line: libpq's messages span several. */
	vstr_reset(buf);
	for (i = 0; i < len; i++) {
		if (!isspace((unsigned char)msg[i]))
			vstr_addch(buf, msg[i]);
		else if (VSTR_LEN(buf) > 0 && VSTR_END(buf)[-1] != ' ')
			vstr_addch(buf, ' ');
	}
	(void)dp;
	return VSTR_STR(buf);
}

static void
dict_pgsql_disconnect(DICT_PGSQL *dp)
{
	if (dp->conn != NULL) {
		PQfinish(dp->conn);
		dp->conn = NULL;
	}
}

/* Connect to one host; 0, or -1 (warned, its name added to dp->errors). */
static int
dict_pgsql_connect_host(DICT_PGSQL *dp, struct pgsql_host *h)
{
	const char *keys[8];
	const char *vals[8];
	int	    n = 0;
	VSTR	   *msg;

	if (h->uri) {
		keys[n] = "dbname";
		vals[n++] = h->host;
	} else {
		keys[n] = "host";
		vals[n++] = h->host;
		keys[n] = "port";
		vals[n++] = h->port ? h->port : "";
		keys[n] = "dbname";
		vals[n++] = dp->dbname;
	}
	keys[n] = "user";
	vals[n++] = dp->user;
	keys[n] = "password";
	vals[n++] = dp->password;
	keys[n] = "client_encoding";
	vals[n++] = dp->encoding;
	keys[n] = "connect_timeout";
	vals[n++] = DICT_PGSQL_CONNECT_TIMEOUT;
	keys[n] = NULL;
	vals[n] = NULL;
	dp->conn = PQconnectdbParams(keys, vals, h->uri);
	if (dp->conn != NULL && PQstatus(dp->conn) == CONNECTION_OK)
		return 0;
	msg = vstr_alloc(64);
	/* Each failure is logged: a dead host behind a live one is news. */
	msg_warn("%s: connect to %s: %s; skipped for %lds", dp->dict.spec,
		 h->text,
		 dp->conn ? dict_pgsql_err(dp, PQerrorMessage(dp->conn), msg)
			  : "out of memory",
		 dp->retry_interval);
	vstr_sprintf_append(dp->errors, "%s%s",
			    VSTR_LEN(dp->errors) ? ", " : "", h->text);
	vstr_free(msg);
	dict_pgsql_disconnect(dp);
	return -1;
}

/* Shuffle order[0..n-1] in place (Fisher-Yates). */
static void
dict_pgsql_shuffle(size_t *order, size_t n)
{
	size_t i;
	size_t j;
	size_t tmp;

	for (i = n; i > 1; i--) {
		j = arc4random_uniform((uint32_t)i);
		tmp = order[i - 1];
		order[i - 1] = order[j];
		order[j] = tmp;
	}
}

/*
 * Connect to a usable host; 0 or -1 (warned).  Unix socket folders first,
 * then the rest, each group in random order: Postfix's documented order,
 * which also lets an admin (and a test) know which server is tried first.
 */
static int
dict_pgsql_connect(DICT_PGSQL *dp, time_t now)
{
	size_t order[DICT_PGSQL_HOSTS_MAX];
	size_t nlocal = 0;
	size_t n = 0;
	size_t i;
	int    tried = 0;

	for (i = 0; i < dp->nhosts; i++)
		if (dp->hosts[i].local)
			order[n++] = i;
	nlocal = n;
	for (i = 0; i < dp->nhosts; i++)
		if (!dp->hosts[i].local)
			order[n++] = i;
	dict_pgsql_shuffle(order, nlocal);
	dict_pgsql_shuffle(order + nlocal, n - nlocal);
	vstr_reset(dp->errors);
	for (i = 0; i < dp->nhosts; i++) {
		struct pgsql_host *h = &dp->hosts[order[i]];

		if (h->retry_at > now)
			continue;
		tried = 1;
		if (dict_pgsql_connect_host(dp, h) == 0) {
			h->retry_at = 0;
			dp->conn_host = order[i];
			return 0;
		}
		h->retry_at = now + dp->retry_interval;
	}
	if (!tried)
		msg_warn("%s: no usable server: every host failed less than "
			 "retry_interval=%lds ago",
			 dp->dict.spec, dp->retry_interval);
	else
		msg_warn("%s: no server answered (tried %s)", dp->dict.spec,
			 VSTR_STR(dp->errors));
	errno = EAGAIN;
	return -1;
}

/* Collect the rows of res; 1 found, 0 none, -1 expansion_limit. */
static int
dict_pgsql_rows(DICT_PGSQL *dp, PGresult *res, const char *key)
{
	int    rows = PQntuples(res);
	int    cols = PQnfields(res);
	size_t count = 0;
	int    r;
	int    c;

	vstr_reset(dp->result);
	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c++) {
			if (PQgetisnull(res, r, c))
				continue;
			if (dict_query_result(&dp->qc, dp->result, &count, key,
					      PQgetvalue(res, r, c),
					      (size_t)PQgetlength(res, r, c))
			    < 0) {
				msg_warn("%s: lookup of \"%s\": more than "
					 "expansion_limit=%ld results",
					 dp->dict.spec, key,
					 dp->qc.expansion_limit);
				errno = EFBIG;
				return -1;
			}
		}
	return count > 0;
}

static int
dict_pgsql_lookup(DICT *d, const char *key, const char **value)
{
	DICT_PGSQL *dp = (DICT_PGSQL *)d;
	time_t	    now = time(NULL);
	VSTR	   *why;
	VSTR	   *msg;
	PGresult   *res;
	int	    attempt;
	int	    ret;

	if ((ret = dict_query_domain_ok(&dp->qc, key)) <= 0)
		return ret;
	/* A suppressed query needs no server. */
	why = vstr_alloc(64);
	vstr_reset(dp->query);
	ret = dict_query_expand(dp->query, dp->qc.query, key, NULL, NULL, why);
	vstr_free(why);
	if (ret <= 0)
		return 0;
	if (dp->conn != NULL && dp->idle_interval > 0
	    && now - dp->last_used > dp->idle_interval)
		dict_pgsql_disconnect(dp);
	msg = vstr_alloc(64);
	for (attempt = 0; attempt < 2; attempt++) {
		if (dp->conn == NULL && dict_pgsql_connect(dp, now) < 0) {
			ret = -1;
			break;
		}
		dp->last_used = now;
		vstr_reset(dp->query);
		dp->quote_error = 0;
		why = vstr_alloc(64);
		(void)dict_query_expand(dp->query, dp->qc.query, key,
					dict_pgsql_quote, dp, why);
		vstr_free(why);
		if (dp->quote_error) {
			msg_warn("%s: lookup of \"%s\": not valid in client "
				 "encoding %s: not found",
				 d->spec, key, dp->encoding);
			ret = 0;
			break;
		}
		res = PQexec(dp->conn, VSTR_STR(dp->query));
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
			ret = dict_pgsql_rows(dp, res, key);
			PQclear(res);
			if (ret > 0)
				*value = VSTR_STR(dp->result);
			break;
		}
		PQclear(res);
		if (PQstatus(dp->conn) != CONNECTION_OK) {
			msg_warn("%s: lost connection to %s: %s%s", d->spec,
				 dp->hosts[dp->conn_host].text,
				 dict_pgsql_err(dp, PQerrorMessage(dp->conn),
						msg),
				 attempt == 0 ? "; reconnecting" : "");
			dict_pgsql_disconnect(dp);
			ret = -1;
			errno = EAGAIN;
			continue;
		}
		msg_warn("%s: query \"%s\": %s", d->spec, VSTR_STR(dp->query),
			 dict_pgsql_err(dp, PQerrorMessage(dp->conn), msg));
		errno = EAGAIN;
		ret = -1;
		break;
	}
	vstr_free(msg);
	if (ret < 0)
		errno = errno == EFBIG ? EFBIG : EAGAIN;
	return ret;
}

static void
dict_pgsql_close(DICT *d)
{
	DICT_PGSQL *dp = (DICT_PGSQL *)d;
	size_t	    i;

	dict_pgsql_disconnect(dp);
	dict_query_conf_free(&dp->qc);
	for (i = 0; i < dp->nhosts; i++) {
		myfree(dp->hosts[i].text);
		myfree(dp->hosts[i].host);
		myfree(dp->hosts[i].port);
	}
	myfree(dp->hosts);
	myfree(dp->user);
	if (dp->password != NULL)
		explicit_bzero(dp->password, strlen(dp->password));
	myfree(dp->password);
	myfree(dp->dbname);
	myfree(dp->encoding);
	vstr_free(dp->query);
	vstr_free(dp->result);
	vstr_free(dp->errors);
}

static int
dict_pgsql_all_digits(const char *s)
{
	if (*s == 0)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Parse one hosts item; 0 or -1 with why. */
static int
dict_pgsql_add_host(DICT_PGSQL *dp, const char *path, const char *item,
		    VSTR *why)
{
	struct pgsql_host *h;
	char		  *copy;
	char		  *host;
	char		  *colon;
	char		  *end;

	if (dp->nhosts >= DICT_PGSQL_HOSTS_MAX) {
		vstr_sprintf(why, "%s: parameter \"hosts\": more than %d hosts",
			     path, DICT_PGSQL_HOSTS_MAX);
		return -1;
	}
	dp->hosts = myrealloc_array(dp->hosts, dp->nhosts + 1,
				    sizeof(dp->hosts[0]));
	h = &dp->hosts[dp->nhosts];
	memset(h, 0, sizeof(*h));
	h->text = mystrdup(item);
	copy = mystrdup(item);
	host = copy;
	/*
	 * pgsql_table(5): the prefixes are accepted; what libpq is given
	 * (a folder or a host) decides the transport, and only the order
	 * of tries follows it.
	 */
	if (str_has_prefix(host, "unix:") || str_has_prefix(host, "inet:"))
		host += 5;
	if (str_has_prefix(host, "postgresql://")
	    || str_has_prefix(host, "postgres://"))
		h->uri = 1;
	else if (*host == '[') {
		if ((end = strchr(host, ']')) == NULL
		    || (end[1] != 0
			&& (end[1] != ':' || !dict_pgsql_all_digits(end + 2))))
			goto bad;
		*end = 0;
		if (end[1] == ':')
			h->port = mystrdup(end + 2);
		host++;
	} else if ((colon = strrchr(host, ':')) != NULL
		   && strchr(host, ':') == colon) {
		if (!dict_pgsql_all_digits(colon + 1))
			goto bad;
		*colon = 0;
		h->port = mystrdup(colon + 1);
	}
	if (*host == 0)
		goto bad;
	h->host = mystrdup(host);
	/* libpq: a host that begins with a slash is a socket folder. */
	h->local = !h->uri && *host == '/';
	myfree(copy);
	dp->nhosts++;
	return 0;
bad:
	vstr_sprintf(why, "%s: parameter \"hosts\": bad host \"%s\"", path,
		     item);
	myfree(copy);
	myfree(h->text);
	myfree(h->port);
	return -1;
}

static int
dict_pgsql_hosts(DICT_PGSQL *dp, const char *path, const char *hosts, VSTR *why)
{
	char *copy = mystrdup(hosts);
	char *bp = copy;
	char *item;
	int   ret = 0;

	while ((item = str_token(&bp, " \t,")) != NULL)
		if ((ret = dict_pgsql_add_host(dp, path, item, why)) < 0)
			break;
	myfree(copy);
	if (ret == 0 && dp->nhosts == 0) {
		vstr_sprintf(why, "%s: parameter \"hosts\": no host", path);
		ret = -1;
	}
	return ret;
}

DICT *
dict_pgsql_open(const char *name, int flags, VSTR *why)
{
	DICT_CF	   *cf;
	DICT_PGSQL *dp;

	if ((cf = dict_cf_read(name, why)) == NULL)
		return NULL;
	dp = (DICT_PGSQL *)dict_alloc(sizeof(*dp), "pgsql", name, flags);
	dp->query = vstr_alloc(256);
	dp->result = vstr_alloc(256);
	dp->errors = vstr_alloc(128);
	dp->dict.lookup = dict_pgsql_lookup;
	dp->dict.close = dict_pgsql_close;
	dp->user = mystrdup(dict_cf_str(cf, "user", ""));
	dp->password = mystrdup(dict_cf_str(cf, "password", ""));
	dp->dbname = mystrdup(dict_cf_str(cf, "dbname", ""));
	dp->encoding = mystrdup(dict_cf_str(cf, "encoding", "UTF8"));
	if (dict_pgsql_hosts(dp, name, dict_cf_str(cf, "hosts", "localhost"),
			     why)
		< 0
	    || dict_cf_int(cf, "idle_interval", 60, 0, 86400,
			   &dp->idle_interval, why)
		   < 0
	    || dict_cf_int(cf, "retry_interval", 60, 0, 86400,
			   &dp->retry_interval, why)
		   < 0
	    || dict_query_conf_read(cf, "query", NULL, &dp->qc, why) < 0
	    || dict_cf_check_unused(cf, why) < 0) {
		dict_cf_free(cf);
		dict_close(&dp->dict);
		errno = EINVAL;
		return NULL;
	}
	dict_cf_free(cf);
	return &dp->dict;
}
