/*
 * milter - client side of the Sendmail milter protocol (see milter.h).
 *
 * Wire format: every packet is a 4-byte length in network order (counting
 * the command byte), one command byte, and the data.  Strings are NUL
 * terminated; 32-bit numbers are in network order.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/cfg.h"
#include "util/ipc.h"
#include "util/milter.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"

/* What we offer, per protocol version (as libmilter's SMFI_V*_ACTS/PROT). */
#define MILTER_V2_ACTIONS 0x003f
#define MILTER_V6_ACTIONS 0x01ff
#define MILTER_V2_PROTO	  0x0000007f
#define MILTER_V4_PROTO	  0x000003ff
#define MILTER_V6_PROTO	  0x001fffff

enum milter_state {
	MILTER_ST_CLOSED,    /* not opened yet */
	MILTER_ST_READY,     /* connected and negotiated */
	MILTER_ST_MSG_DONE,  /* accepted/discarded this message */
	MILTER_ST_CONN_DONE, /* accepted/rejected the whole connection */
	MILTER_ST_FAILED,    /* broken: default_action from now on */
};

struct MILTER {
	MILTER_CONF	  conf;
	int		  fd;
	enum milter_state state;
	int		  version;
	uint32_t	  actions;
	uint32_t	  protocol;
	char	       *macros[MILTER_STAGE_COUNT]; /* v6 milter's own lists */
	milter_macro_fn macro_fn;
	void	       *macro_ctx;
	bool		skip_body; /* SMFIR_SKIP seen in this message */
	VSTR	       *out;
	VSTR	       *in;
	VSTR	       *why;
};

/* Default reply texts of the default actions (Postfix's). */
#define MILTER_TEMPFAIL_TEXT "451 4.7.1 Service unavailable - try again later"
#define MILTER_REJECT_TEXT   "550 5.7.1 Command rejected"

/* ---------------------------------------------------------------- conf */

static const char *const milter_default_names[] = {
	[MILTER_DEF_TEMPFAIL] = "tempfail",
	[MILTER_DEF_ACCEPT] = "accept",
	[MILTER_DEF_REJECT] = "reject",
	[MILTER_DEF_QUARANTINE] = "quarantine",
};

int
milter_default_parse(const char *text, enum milter_default *out)
{
	for (size_t i = 0;
	     i < sizeof(milter_default_names) / sizeof(milter_default_names[0]);
	     i++) {
		if (strcasecmp(text, milter_default_names[i]) == 0) {
			*out = (enum milter_default)i;
			return 0;
		}
	}
	return -1;
}

const char *
milter_default_name(enum milter_default d)
{
	if ((size_t)d
	    >= sizeof(milter_default_names) / sizeof(milter_default_names[0]))
		return "tempfail";
	return milter_default_names[d];
}

void
milter_conf_clear(MILTER_CONF *c)
{
	c->name = myfree(c->name);
	c->queue_directory = myfree(c->queue_directory);
	for (int i = 0; i < MILTER_STAGE_COUNT; i++)
		c->macros[i] = myfree(c->macros[i]);
}

void
milter_conf_copy(MILTER_CONF *dst, const MILTER_CONF *src)
{
	*dst = *src;
	dst->name = src->name ? mystrdup(src->name) : NULL;
	dst->queue_directory = src->queue_directory
				   ? mystrdup(src->queue_directory)
				   : NULL;
	for (int i = 0; i < MILTER_STAGE_COUNT; i++)
		dst->macros[i] = src->macros[i] ? mystrdup(src->macros[i])
						: NULL;
}

/* The main.cf parameters of each stage's macro list. */
static const char *const milter_macro_params[MILTER_STAGE_COUNT] = {
	[MILTER_STAGE_CONNECT] = "milter_connect_macros",
	[MILTER_STAGE_HELO] = "milter_helo_macros",
	[MILTER_STAGE_MAIL] = "milter_mail_macros",
	[MILTER_STAGE_RCPT] = "milter_rcpt_macros",
	[MILTER_STAGE_DATA] = "milter_data_macros",
	[MILTER_STAGE_EOM] = "milter_end_of_data_macros",
	[MILTER_STAGE_EOH] = "milter_end_of_header_macros",
	[MILTER_STAGE_UNKNOWN] = "milter_unknown_command_macros",
};

int
milter_conf_load(const CFG *cfg, const char *param, MILTER_CONF **out,
		 size_t *count, VSTR *why)
{
	MILTER_CONF def;
	const char *text = cfg_get_str(cfg, "milter_default_action");
	int	    ret;

	memset(&def, 0, sizeof(def));
	if (milter_default_parse(text, &def.default_action) < 0) {
		vstr_sprintf(why,
			     "milter_default_action: \"%s\" is not tempfail, "
			     "accept, reject or quarantine",
			     text);
		return -1;
	}
	def.connect_timeout = (int)cfg_get_time(cfg, "milter_connect_timeout");
	def.command_timeout = (int)cfg_get_time(cfg, "milter_command_timeout");
	def.content_timeout = (int)cfg_get_time(cfg, "milter_content_timeout");
	def.protocol = (int)cfg_get_int(cfg, "milter_protocol");
	for (int i = 0; i < MILTER_STAGE_COUNT; i++)
		def.macros[i] = mystrdup(
		    cfg_get_str(cfg, milter_macro_params[i]));
	def.queue_directory = NULL;
	ret = milter_conf_parse_list(cfg_get_str(cfg, param), &def, out, count,
				     why);
	if (ret < 0) {
		VSTR *tmp = vstr_alloc(64);

		vstr_sprintf(tmp, "%s: %s", param, VSTR_STR(why));
		vstr_strcpy(why, VSTR_STR(tmp));
		vstr_free(tmp);
	}
	milter_conf_clear(&def);
	return ret;
}

MILTER_CONF *
milter_conf_free_list(MILTER_CONF *list, size_t count)
{
	for (size_t i = 0; list && i < count; i++)
		milter_conf_clear(&list[i]);
	return myfree(list);
}

static bool
milter_name_ok(const char *name)
{
	return str_has_prefix(name, "inet:") || str_has_prefix(name, "unix:");
}

static int
milter_conf_setting(MILTER_CONF *c, const char *word, VSTR *why)
{
	const char *eq = strchr(word, '=');
	long long   secs;
	size_t	    nlen;
	const char *val;

	if (eq == NULL) {
		if (c->name != NULL) {
			vstr_sprintf(why, "milter \"%s\": unexpected \"%s\"",
				     c->name, word);
			return -1;
		}
		if (!milter_name_ok(word)) {
			vstr_sprintf(why,
				     "milter \"%s\": expected inet:host:port "
				     "or unix:path",
				     word);
			return -1;
		}
		c->name = mystrdup(word);
		return 0;
	}
	nlen = (size_t)(eq - word);
	val = eq + 1;
	while (nlen > 0 && isspace((unsigned char)word[nlen - 1]))
		nlen--;
	while (*val && isspace((unsigned char)*val))
		val++;
#define MILTER_IS(n) (nlen == strlen(n) && strncmp(word, (n), nlen) == 0)
	if (MILTER_IS("connect_timeout") || MILTER_IS("command_timeout")
	    || MILTER_IS("content_timeout")) {
		if (cfg_parse_time(val, 's', &secs, why) < 0)
			return -1;
		if (secs < 1 || secs > 86400) {
			vstr_sprintf(why, "%.*s: %s out of range 1s..1d",
				     (int)nlen, word, val);
			return -1;
		}
		if (MILTER_IS("connect_timeout"))
			c->connect_timeout = (int)secs;
		else if (MILTER_IS("command_timeout"))
			c->command_timeout = (int)secs;
		else
			c->content_timeout = (int)secs;
	} else if (MILTER_IS("default_action")) {
		if (milter_default_parse(val, &c->default_action) < 0) {
			vstr_sprintf(why,
				     "default_action: \"%s\" is not tempfail, "
				     "accept, reject or quarantine",
				     val);
			return -1;
		}
	} else if (MILTER_IS("protocol")) {
		if (strlen(val) != 1 || *val < '2' || *val > '6') {
			vstr_sprintf(why, "protocol: \"%s\" is not 2..6", val);
			return -1;
		}
		c->protocol = *val - '0';
	} else {
		vstr_sprintf(why, "unknown milter setting \"%.*s\"", (int)nlen,
			     word);
		return -1;
	}
#undef MILTER_IS
	return 0;
}

int
milter_conf_parse_list(const char *text, const MILTER_CONF *defaults,
		       MILTER_CONF **out, size_t *count, VSTR *why)
{
	MILTER_CONF *list = NULL;
	size_t	     n = 0, cap = 0;
	const char  *p = text;
	VSTR	    *word = vstr_alloc(64);

	*out = NULL;
	*count = 0;
	for (;;) {
		MILTER_CONF c;

		while (*p && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (*p == 0)
			break;
		milter_conf_copy(&c, defaults);
		c.name = myfree(c.name);
		if (*p == '{') {
			const char *end = strchr(p, '}');
			const char *q = p + 1;

			if (end == NULL) {
				vstr_sprintf(why, "missing \"}\" in \"%s\"", p);
				goto bad;
			}
			/* inside braces, settings are separated by commas */
			while (q < end) {
				const char *e = q;

				while (e < end && *e != ',')
					e++;
				char *w;

				vstr_memcpy(word, q, (size_t)(e - q));
				w = str_trim(VSTR_STR(word));
				if (*w && milter_conf_setting(&c, w, why) < 0)
					goto bad;
				q = e < end ? e + 1 : end;
			}
			p = end + 1;
			if (c.name == NULL) {
				vstr_strcpy(why,
					    "milter { ... } without a name");
				goto bad;
			}
		} else {
			const char *e = p;

			while (*e && !isspace((unsigned char)*e) && *e != ',')
				e++;
			vstr_memcpy(word, p, (size_t)(e - p));
			p = e;
			if (milter_conf_setting(&c, VSTR_STR(word), why) < 0)
				goto bad;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			list = myrealloc_array(list, cap, sizeof(*list));
		}
		list[n++] = c;
		continue;
bad:
		milter_conf_clear(&c);
		milter_conf_free_list(list, n);
		vstr_free(word);
		return -1;
	}
	vstr_free(word);
	*out = list;
	*count = n;
	return 0;
}

/* ------------------------------------------------------------- replies */

MILTER_REPLY *
milter_reply_alloc(void)
{
	MILTER_REPLY *r = mycalloc(1, sizeof(*r));

	r->text = vstr_alloc(64);
	r->body = vstr_alloc(64);
	r->quarantine = vstr_alloc(32);
	return r;
}

void
milter_reply_reset(MILTER_REPLY *r)
{
	for (size_t i = 0; i < r->nmods; i++) {
		myfree(r->mods[i].name);
		myfree(r->mods[i].value);
	}
	r->nmods = 0;
	r->verdict = MILTER_CONTINUE;
	vstr_reset(r->text);
	vstr_reset(r->body);
	vstr_reset(r->quarantine);
	r->body_replaced = false;
	r->has_quarantine = false;
	r->npackets = 0;
}

MILTER_REPLY *
milter_reply_free(MILTER_REPLY *r)
{
	if (r == NULL)
		return NULL;
	milter_reply_reset(r);
	myfree(r->mods);
	vstr_free(r->text);
	vstr_free(r->body);
	vstr_free(r->quarantine);
	return myfree(r);
}

/*
 * Take the next NUL-terminated string from *p (len *left).  NULL when
 * there is none, so a missing terminator is an error and never a read
 * past the packet.
 */
static const char *
milter_take_str(const char **p, size_t *left)
{
	const char *s = *p;
	const char *nul = memchr(s, 0, *left);

	if (nul == NULL)
		return NULL;
	*left -= (size_t)(nul - s) + 1;
	*p = nul + 1;
	return s;
}

static int
milter_take_u32(const char **p, size_t *left, uint32_t *v)
{
	uint32_t n;

	if (*left < 4)
		return -1;
	memcpy(&n, *p, 4);
	*v = ntohl(n);
	*p += 4;
	*left -= 4;
	return 0;
}

/* Printable ASCII and HT only, as an SMTP reply may carry. */
static bool
milter_text_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c >= 0x7f)
			return false;
	}
	return true;
}

/*
 * SMFIR_REPLYCODE: "550 5.7.1 text" or lines "550-..." joined with CRLF,
 * each with the same three-digit code (4xx or 5xx).  Kept with CRLF.
 */
static int
milter_parse_replycode(MILTER_REPLY *r, const char *s, size_t len, VSTR *why)
{
	const char *p = s, *end = s + len;
	size_t	    lines = 0;

	if (len < 3 || (s[0] != '4' && s[0] != '5')
	    || !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2])) {
		vstr_strcpy(why, "reply code is not 4xx or 5xx");
		return -1;
	}
	vstr_reset(r->text);
	while (p < end) {
		const char *eol = p;
		size_t	    llen;

		while (eol < end
		       && !(eol + 1 < end && eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		llen = (size_t)(eol - p);
		if (++lines > 100) {
			vstr_strcpy(why, "reply has more than 100 lines");
			return -1;
		}
		if (llen < 3 || memcmp(p, s, 3) != 0
		    || (llen > 3 && p[3] != ' ' && p[3] != '-')
		    || !milter_text_ok(p, llen)) {
			vstr_strcpy(why, "malformed multi-line reply");
			return -1;
		}
		/* only the last line may end the reply with a space */
		if (eol < end && llen > 3 && p[3] != '-') {
			vstr_strcpy(why,
				    "reply line before the last lacks '-'");
			return -1;
		}
		if (eol == end && llen > 3 && p[3] == '-') {
			vstr_strcpy(why, "last reply line has '-'");
			return -1;
		}
		if (VSTR_LEN(r->text))
			vstr_strcat(r->text, "\r\n");
		vstr_memcat(r->text, p, llen);
		p = eol < end ? eol + 2 : end;
	}
	r->verdict = s[0] == '4' ? MILTER_TEMPFAIL : MILTER_REJECT;
	return 0;
}

static int
milter_add_mod(MILTER_REPLY *r, int type, long index, const char *name,
	       const char *value, VSTR *why)
{
	MILTER_MOD *mod;

	if (r->nmods >= MILTER_MODS_MAX) {
		vstr_strcpy(why, "too many modification requests");
		return -1;
	}
	if (r->nmods == r->mod_cap) {
		r->mod_cap = r->mod_cap ? r->mod_cap * 2 : 8;
		r->mods = myrealloc_array(r->mods, r->mod_cap,
					  sizeof(*r->mods));
	}
	mod = &r->mods[r->nmods++];
	mod->type = type;
	mod->index = index;
	mod->name = mystrdup(name);
	mod->value = value ? mystrdup(value) : NULL;
	return 0;
}

/* A header name: printable, no colon or space (RFC 5322 ftext). */
static bool
milter_hdr_name_ok(const char *s)
{
	if (*s == 0 || strlen(s) > 998)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 32 || (unsigned char)*s >= 127
		    || *s == ':')
			return false;
	return true;
}

/* Header value from a milter: no NUL (by construction), no CR alone. */
static bool
milter_hdr_value_ok(const char *s)
{
	for (; *s; s++) {
		if (*s == '\r' && s[1] != '\n')
			return false;
		/* a line of a folded value must start with white space */
		if (*s == '\n' && s[1] != ' ' && s[1] != '\t')
			return false;
	}
	return true;
}

int
milter_reply_parse(MILTER_REPLY *r, int stage, uint32_t actions,
		   uint32_t protocol, int cmd, const char *data, size_t len,
		   VSTR *why)
{
	const char *p = data;
	size_t	    left = len;
	const char *a, *b;
	uint32_t    idx;
	bool	    eom = stage == MILTER_STAGE_EOM;

	r->npackets++;
	switch (cmd) {
	case SMFIR_CONTINUE:
		r->verdict = MILTER_CONTINUE;
		return 1;
	case SMFIR_ACCEPT:
		r->verdict = MILTER_ACCEPT;
		return 1;
	case SMFIR_REJECT:
		r->verdict = MILTER_REJECT;
		vstr_reset(r->text);
		return 1;
	case SMFIR_TEMPFAIL:
		r->verdict = MILTER_TEMPFAIL;
		vstr_reset(r->text);
		return 1;
	case SMFIR_DISCARD:
		r->verdict = MILTER_DISCARD;
		return 1;
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		/* libmilter's "close the connection": a temporary failure */
		r->verdict = MILTER_TEMPFAIL;
		vstr_reset(r->text);
		return 1;
	case SMFIR_SKIP:
		if (stage != MILTER_STAGE_BODY || !(protocol & SMFIP_SKIP)) {
			vstr_strcpy(why, "SMFIR_SKIP outside the body stage");
			return -1;
		}
		r->verdict = MILTER_SKIP;
		return 1;
	case SMFIR_REPLYCODE:
		if ((b = milter_take_str(&p, &left)) == NULL || left != 0) {
			vstr_strcpy(why, "malformed SMFIR_REPLYCODE");
			return -1;
		}
		return milter_parse_replycode(r, b, strlen(b), why) < 0 ? -1
									: 1;
	case SMFIR_PROGRESS:
		return 0;
	default:
		break;
	}

	/* Everything below modifies the message: end of message only. */
	if (!eom) {
		vstr_sprintf(why,
			     "modification request '%c' before end of "
			     "message",
			     isprint(cmd) ? cmd : '?');
		return -1;
	}
	switch (cmd) {
	case SMFIR_ADDHEADER:
		if (!(actions & SMFIF_ADDHDRS))
			goto not_negotiated;
		idx = 0;
		goto header;
	case SMFIR_INSHEADER:
		if (!(actions & SMFIF_ADDHDRS))
			goto not_negotiated;
		if (milter_take_u32(&p, &left, &idx) < 0)
			goto malformed;
		goto header;
	case SMFIR_CHGHEADER:
		if (!(actions & SMFIF_CHGHDRS))
			goto not_negotiated;
		if (milter_take_u32(&p, &left, &idx) < 0)
			goto malformed;
header:
		if ((a = milter_take_str(&p, &left)) == NULL
		    || (b = milter_take_str(&p, &left)) == NULL || left != 0
		    || !milter_hdr_name_ok(a) || !milter_hdr_value_ok(b))
			goto malformed;
		if (idx > 1000000)
			goto malformed;
		return milter_add_mod(r, cmd, (long)idx, a, b, why) < 0 ? -1
									: 0;
	case SMFIR_ADDRCPT:
		if (!(actions & SMFIF_ADDRCPT))
			goto not_negotiated;
		if ((a = milter_take_str(&p, &left)) == NULL || left != 0
		    || *a == 0 || !milter_text_ok(a, strlen(a)))
			goto malformed;
		return milter_add_mod(r, cmd, 0, a, NULL, why) < 0 ? -1 : 0;
	case SMFIR_DELRCPT:
		if (!(actions & SMFIF_DELRCPT))
			goto not_negotiated;
		if ((a = milter_take_str(&p, &left)) == NULL || left != 0
		    || *a == 0 || !milter_text_ok(a, strlen(a)))
			goto malformed;
		return milter_add_mod(r, cmd, 0, a, NULL, why) < 0 ? -1 : 0;
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
		if (!(actions
		      & (cmd == SMFIR_CHGFROM ? SMFIF_CHGFROM
					      : SMFIF_ADDRCPT_PAR)))
			goto not_negotiated;
		if ((a = milter_take_str(&p, &left)) == NULL || *a == 0
		    || !milter_text_ok(a, strlen(a)))
			goto malformed;
		b = NULL;
		if (left > 0
		    && ((b = milter_take_str(&p, &left)) == NULL || left != 0
			|| !milter_text_ok(b, strlen(b))))
			goto malformed;
		return milter_add_mod(r, cmd, 0, a, b && *b ? b : NULL, why) < 0
			   ? -1
			   : 0;
	case SMFIR_REPLBODY:
		if (!(actions & SMFIF_CHGBODY))
			goto not_negotiated;
		if (r->body_limit
		    && (VSTR_LEN(r->body) > r->body_limit
			|| len > r->body_limit - VSTR_LEN(r->body))) {
			vstr_strcpy(why, "replacement body exceeds the "
					 "message size limit");
			return -1;
		}
		vstr_memcat(r->body, data, len);
		r->body_replaced = true;
		return 0;
	case SMFIR_QUARANTINE:
		if (!(actions & SMFIF_QUARANTINE))
			goto not_negotiated;
		if ((a = milter_take_str(&p, &left)) == NULL || left != 0
		    || !milter_text_ok(a, strlen(a)))
			goto malformed;
		vstr_strcpy(r->quarantine, a);
		r->has_quarantine = true;
		return 0;
	default:
		vstr_sprintf(why, "unknown reply 0x%02x", (unsigned)cmd & 0xff);
		return -1;
	}
not_negotiated:
	vstr_sprintf(why, "request '%c' for an action not negotiated", cmd);
	return -1;
malformed:
	vstr_sprintf(why, "malformed request '%c'", cmd);
	return -1;
}

/* ----------------------------------------------------------------- I/O */

static int
milter_connect_inet(const char *hostport, int timeout_ms, VSTR *why)
{
	char	   *host, *port;
	const char *colon;
	int	    fd, err, gai = 0;

	/* host:port, host may be [v6] */
	colon = strrchr(hostport, ':');
	if (colon == NULL || colon == hostport || colon[1] == 0) {
		vstr_sprintf(why, "bad inet address \"%s\"", hostport);
		errno = EINVAL;
		return -1;
	}
	host = mystrndup(hostport, (size_t)(colon - hostport));
	port = mystrdup(colon + 1);
	if (*host == '[' && host[strlen(host) - 1] == ']') {
		char *h = mystrndup(host + 1, strlen(host) - 2);

		myfree(host);
		host = h;
	}
	fd = ipc_connect_inet(*host ? host : "localhost", port,
			      timeout_ms < 0 ? 0 : timeout_ms, &gai);
	if (fd < 0 && gai != 0) {
		vstr_sprintf(why, "%s: %s", hostport, gai_strerror(gai));
		errno = EHOSTUNREACH;
	} else if (fd < 0) {
		vstr_sprintf(why, "connect to %s: %s", hostport,
			     strerror(errno));
	}
	err = errno;
	myfree(host);
	myfree(port);
	errno = err;
	return fd;
}

static int milter_fail(MILTER *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Log once, close, and fall back to default_action from now on. */
static int
milter_fail(MILTER *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vstr_reset(m->why);
	vstr_vsprintf_append(m->why, fmt, ap);
	va_end(ap);
	msg_warn("milter %s: %s; default_action=%s", m->conf.name,
		 VSTR_STR(m->why), milter_default_name(m->conf.default_action));
	/*
	 * The socket may be shared: smtpd hands its milter connections to
	 * cleanup for the content stages and keeps its own descriptor.
	 * Shutting the connection down (not only closing our descriptor)
	 * makes the other holder see the failure at its next command,
	 * instead of reading a reply that arrives late as the answer to it.
	 */
	if (m->fd >= 0) {
		(void)shutdown(m->fd, SHUT_RDWR);
		close(m->fd);
	}
	m->fd = -1;
	m->state = MILTER_ST_FAILED;
	return -1;
}

static int
milter_send(MILTER *m, int cmd, const char *data, size_t len, int timeout)
{
	uint32_t n = htonl((uint32_t)(len + 1));
	char	 c = (char)cmd;

	vstr_reset(m->out);
	vstr_memcat(m->out, &n, 4);
	vstr_memcat(m->out, &c, 1);
	if (len)
		vstr_memcat(m->out, data, len);
	if (write_full(m->fd, VSTR_STR(m->out), VSTR_LEN(m->out),
		       timeout * 1000)
	    < 0)
		return milter_fail(m, "write '%c': %s", cmd,
				   errno == ETIMEDOUT ? "timeout"
						      : strerror(errno));
	return 0;
}

/* Read one packet into m->in; *cmd gets its command byte. */
static int
milter_recv(MILTER *m, int *cmd, int timeout)
{
	unsigned char hdr[5];
	uint32_t      n;
	ssize_t	      got;

	got = read_full(m->fd, hdr, 5, timeout * 1000);
	if (got != 5)
		return milter_fail(m, "read: %s",
				   got < 0
				       ? (errno == ETIMEDOUT ? "timeout"
							     : strerror(errno))
				       : "connection closed");
	memcpy(&n, hdr, 4);
	n = ntohl(n);
	if (n < 1 || n > MILTER_PACKET_MAX)
		return milter_fail(m, "bad packet length %lu",
				   (unsigned long)n);
	*cmd = hdr[4];
	vstr_reset(m->in);
	if (vstr_space(m->in, n) < 0)
		return milter_fail(m, "packet too large");
	got = n > 1 ? read_full(m->fd, VSTR_STR(m->in), n - 1, timeout * 1000)
		    : 0;
	if (got != (ssize_t)(n - 1))
		return milter_fail(m, "read: %s",
				   got < 0
				       ? (errno == ETIMEDOUT ? "timeout"
							     : strerror(errno))
				       : "truncated packet");
	vstr_set_len(m->in, n - 1);
	return 0;
}

/* -------------------------------------------------------- connections */

MILTER *
milter_alloc(const MILTER_CONF *conf)
{
	MILTER *m = mycalloc(1, sizeof(*m));

	milter_conf_copy(&m->conf, conf);
	if (m->conf.protocol < 2 || m->conf.protocol > 6)
		m->conf.protocol = 6;
	m->fd = -1;
	m->out = vstr_alloc(256);
	m->in = vstr_alloc(256);
	m->why = vstr_alloc(64);
	return m;
}

MILTER *
milter_free(MILTER *m)
{
	if (m == NULL)
		return NULL;
	if (m->fd >= 0) {
		(void)milter_send(m, SMFIC_QUIT, NULL, 0, 1);
		if (m->fd >= 0)
			close(m->fd);
	}
	milter_conf_clear(&m->conf);
	for (int i = 0; i < MILTER_STAGE_COUNT; i++)
		myfree(m->macros[i]);
	vstr_free(m->out);
	vstr_free(m->in);
	vstr_free(m->why);
	return myfree(m);
}

const char *
milter_name(const MILTER *m)
{
	return m->conf.name;
}

void
milter_set_macros(MILTER *m, milter_macro_fn fn, void *ctx)
{
	m->macro_fn = fn;
	m->macro_ctx = ctx;
}

bool
milter_failed(const MILTER *m)
{
	return m->state == MILTER_ST_FAILED;
}

uint32_t
milter_actions(const MILTER *m)
{
	return m->actions;
}

uint32_t
milter_protocol(const MILTER *m)
{
	return m->protocol;
}

int
milter_version(const MILTER *m)
{
	return m->version;
}

bool
milter_done(const MILTER *m)
{
	return m->state != MILTER_ST_READY;
}

int
milter_open(MILTER *m)
{
	const char *spec = m->conf.name;
	uint32_t    v[3], offer_act, offer_proto;
	const char *p;
	size_t	    left;
	int	    cmd;
	VSTR	   *path;

	if (str_has_prefix(spec, "unix:")) {
		path = vstr_alloc(64);
		if (spec[5] != '/' && m->conf.queue_directory)
			vstr_sprintf(path, "%s/%s", m->conf.queue_directory,
				     spec + 5);
		else
			vstr_strcpy(path, spec + 5);
		m->fd = ipc_connect_unix(VSTR_STR(path),
					 m->conf.connect_timeout * 1000);
		if (m->fd < 0) {
			int err = errno;

			milter_fail(m, "connect to %s: %s", VSTR_STR(path),
				    err == ETIMEDOUT ? "timeout"
						     : strerror(err));
			vstr_free(path);
			return -1;
		}
		vstr_free(path);
	} else if (str_has_prefix(spec, "inet:")) {
		VSTR *why = vstr_alloc(64);

		m->fd = milter_connect_inet(spec + 5,
					    m->conf.connect_timeout * 1000,
					    why);
		if (m->fd < 0) {
			milter_fail(m, "%s", VSTR_STR(why));
			vstr_free(why);
			return -1;
		}
		vstr_free(why);
	} else {
		return milter_fail(m, "unsupported address");
	}

	offer_act = m->conf.protocol >= 6 ? MILTER_V6_ACTIONS
					  : MILTER_V2_ACTIONS;
	offer_proto = m->conf.protocol >= 6   ? MILTER_V6_PROTO
		      : m->conf.protocol >= 4 ? MILTER_V4_PROTO
					      : MILTER_V2_PROTO;
	v[0] = htonl((uint32_t)m->conf.protocol);
	v[1] = htonl(offer_act);
	v[2] = htonl(offer_proto);
	if (milter_send(m, SMFIC_OPTNEG, (const char *)v, sizeof(v),
			m->conf.command_timeout)
		< 0
	    || milter_recv(m, &cmd, m->conf.command_timeout) < 0)
		return -1;
	p = VSTR_STR(m->in);
	left = VSTR_LEN(m->in);
	if (cmd != SMFIC_OPTNEG || milter_take_u32(&p, &left, &v[0]) < 0
	    || milter_take_u32(&p, &left, &v[1]) < 0
	    || milter_take_u32(&p, &left, &v[2]) < 0)
		return milter_fail(m, "malformed SMFIC_OPTNEG reply");
	if (v[0] < 2 || v[0] > 6)
		return milter_fail(m, "protocol version %lu is not 2..6",
				   (unsigned long)v[0]);
	m->version = v[0] > (uint32_t)m->conf.protocol ? m->conf.protocol
						       : (int)v[0];
	if (v[1] & ~offer_act)
		msg_warn("milter %s: ignoring requested actions 0x%lx "
			 "not offered",
			 spec, (unsigned long)(v[1] & ~offer_act));
	m->actions = v[1] & offer_act;
	/* libmilter sets the MDS size bits only when asked; mask them too */
	if (v[2] & ~offer_proto & 0x0fffffff)
		msg_warn("milter %s: ignoring protocol flags 0x%lx not offered",
			 spec, (unsigned long)(v[2] & ~offer_proto));
	m->protocol = v[2] & offer_proto;
	/* Version 6: the milter's own macro lists (SMFIM_*, name list). */
	while (left > 0) {
		uint32_t    which;
		const char *list;

		if (milter_take_u32(&p, &left, &which) < 0
		    || (list = milter_take_str(&p, &left)) == NULL
		    || which >= MILTER_STAGE_UNKNOWN
		    || !milter_text_ok(list, strlen(list)))
			return milter_fail(m, "malformed macro list in "
					      "SMFIC_OPTNEG reply");
		myfree(m->macros[which]);
		m->macros[which] = mystrdup(list);
	}
	m->state = MILTER_ST_READY;
	if (msg_verbose)
		msg_info("milter %s: version %d actions 0x%lx protocol 0x%lx",
			 spec, m->version, (unsigned long)m->actions,
			 (unsigned long)m->protocol);
	return 0;
}

/* Answer of a failed milter: its default action. */
static enum milter_verdict
milter_default_reply(MILTER *m, int stage, MILTER_REPLY *r)
{
	milter_reply_reset(r);
	switch (m->conf.default_action) {
	case MILTER_DEF_TEMPFAIL:
		r->verdict = MILTER_TEMPFAIL;
		vstr_strcpy(r->text, MILTER_TEMPFAIL_TEXT);
		break;
	case MILTER_DEF_REJECT:
		r->verdict = MILTER_REJECT;
		vstr_strcpy(r->text, MILTER_REJECT_TEXT);
		break;
	case MILTER_DEF_ACCEPT:
		r->verdict = MILTER_CONTINUE;
		break;
	case MILTER_DEF_QUARANTINE:
		r->verdict = MILTER_CONTINUE;
		if (stage == MILTER_STAGE_EOM) {
			r->has_quarantine = true;
			vstr_sprintf(r->quarantine, "milter %s: %s",
				     m->conf.name,
				     VSTR_LEN(m->why) ? VSTR_STR(m->why)
						      : "unavailable");
		}
		break;
	}
	return r->verdict;
}

/* Send this stage's macros (SMFIC_MACRO), when there are any. */
static int
milter_send_macros(MILTER *m, int stage, int cmd, int timeout)
{
	const char *list;
	char	   *copy, *cp, *name;
	char	    c = (char)cmd;
	size_t	    count = 0;
	VSTR	   *buf;
	int	    ret = 0;

	if (stage >= MILTER_STAGE_COUNT || m->macro_fn == NULL)
		return 0;
	list = m->macros[stage] ? m->macros[stage] : m->conf.macros[stage];
	if (list == NULL || *list == 0)
		return 0;
	buf = vstr_alloc(128);
	vstr_memcat(buf, &c, 1);
	cp = copy = mystrdup(list);
	while ((name = str_token(&cp, " \t\r\n,")) != NULL
	       && count < MILTER_MACRO_MAX) {
		const char *val = m->macro_fn(m->macro_ctx, name);

		count++;
		if (val == NULL)
			continue;
		vstr_memcat(buf, name, strlen(name) + 1);
		vstr_memcat(buf, val, strlen(val) + 1);
	}
	myfree(copy);
	if (VSTR_LEN(buf) > 1)
		ret = milter_send(m, SMFIC_MACRO, VSTR_STR(buf), VSTR_LEN(buf),
				  timeout);
	vstr_free(buf);
	return ret;
}

/*
 * One stage: macros, the command, and (unless no-reply) the answer with
 * its modification requests.  `skip` and `noreply` are the SMFIP_ bits
 * that apply.
 */
static enum milter_verdict
milter_stage(MILTER *m, int stage, int cmd, const char *data, size_t len,
	     uint32_t skip, uint32_t noreply, int timeout, MILTER_REPLY *r)
{
	int			 rcmd = 0;
	int			 macro_stage = stage;
	static const char *const stage_names[] = {
		"connect", "helo",    "mail",	"rcpt", "data",	  "eom",
		"eoh",	   "unknown", "header", "body", "optneg",
	};

	if (m->state == MILTER_ST_FAILED)
		return milter_default_reply(m, stage, r);
	milter_reply_reset(r);
	if (m->state != MILTER_ST_READY)
		return r->verdict = MILTER_CONTINUE;
	if (skip && (m->protocol & skip))
		return r->verdict = MILTER_CONTINUE;
	if (stage == MILTER_STAGE_BODY && m->skip_body)
		return r->verdict = MILTER_CONTINUE;
	if (milter_send_macros(m, macro_stage, cmd, timeout) < 0
	    || milter_send(m, cmd, data, len, timeout) < 0)
		return milter_default_reply(m, stage, r);
	if (noreply && (m->protocol & noreply))
		return r->verdict = MILTER_CONTINUE;
	for (;;) {
		int ret;

		if (milter_recv(m, &rcmd, timeout) < 0)
			return milter_default_reply(m, stage, r);
		ret = milter_reply_parse(r, stage, m->actions, m->protocol,
					 rcmd, VSTR_STR(m->in), VSTR_LEN(m->in),
					 m->why);
		if (ret < 0) {
			/* milter_fail rewrites m->why: format from a copy */
			char *why = mystrdup(VSTR_STR(m->why));

			milter_fail(m, "%s stage: %s", stage_names[stage], why);
			myfree(why);
			return milter_default_reply(m, stage, r);
		}
		if (ret == 1)
			break;
		if (r->npackets >= MILTER_PACKETS_MAX) {
			milter_fail(m, "%s stage: too many packets",
				    stage_names[stage]);
			return milter_default_reply(m, stage, r);
		}
	}
	switch (r->verdict) {
	case MILTER_ACCEPT:
	case MILTER_DISCARD:
		m->state = stage <= MILTER_STAGE_HELO ? MILTER_ST_CONN_DONE
						      : MILTER_ST_MSG_DONE;
		break;
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
		/* at connect and helo the whole session is refused; a
		 * refused recipient leaves the message going */
		if (stage <= MILTER_STAGE_HELO)
			m->state = MILTER_ST_CONN_DONE;
		else if (stage != MILTER_STAGE_RCPT)
			m->state = MILTER_ST_MSG_DONE;
		break;
	case MILTER_SKIP:
		m->skip_body = true;
		break;
	default:
		break;
	}
	if (rcmd == SMFIR_SHUTDOWN || rcmd == SMFIR_CONN_FAIL) {
		close(m->fd);
		m->fd = -1;
		m->state = MILTER_ST_CONN_DONE;
	}
	return r->verdict;
}

enum milter_verdict
milter_connect(MILTER *m, const char *host, int family, const char *addr,
	       int port, MILTER_REPLY *r)
{
	VSTR		   *d = vstr_alloc(64);
	char		    fam = (char)family;
	uint16_t	    nport = htons((uint16_t)port);
	enum milter_verdict v;

	vstr_memcat(d, host, strlen(host) + 1);
	vstr_memcat(d, &fam, 1);
	if (family != 'U') {
		vstr_memcat(d, &nport, 2);
		vstr_memcat(d, addr, strlen(addr) + 1);
	}
	v = milter_stage(m, MILTER_STAGE_CONNECT, SMFIC_CONNECT, VSTR_STR(d),
			 VSTR_LEN(d), SMFIP_NOCONNECT, SMFIP_NR_CONN,
			 m->conf.command_timeout, r);
	vstr_free(d);
	return v;
}

enum milter_verdict
milter_helo(MILTER *m, const char *helo, MILTER_REPLY *r)
{
	return milter_stage(m, MILTER_STAGE_HELO, SMFIC_HELO, helo,
			    strlen(helo) + 1, SMFIP_NOHELO, SMFIP_NR_HELO,
			    m->conf.command_timeout, r);
}

static enum milter_verdict
milter_args_stage(MILTER *m, int stage, int cmd, const char *const *args,
		  uint32_t skip, uint32_t noreply, MILTER_REPLY *r)
{
	VSTR		   *d = vstr_alloc(64);
	enum milter_verdict v;

	for (size_t i = 0; args[i] != NULL && i < 1000; i++)
		vstr_memcat(d, args[i], strlen(args[i]) + 1);
	v = milter_stage(m, stage, cmd, VSTR_STR(d), VSTR_LEN(d), skip, noreply,
			 m->conf.command_timeout, r);
	vstr_free(d);
	return v;
}

enum milter_verdict
milter_mail(MILTER *m, const char *const *args, MILTER_REPLY *r)
{
	m->skip_body = false;
	if (m->state == MILTER_ST_MSG_DONE)
		m->state = MILTER_ST_READY;
	return milter_args_stage(m, MILTER_STAGE_MAIL, SMFIC_MAIL, args,
				 SMFIP_NOMAIL, SMFIP_NR_MAIL, r);
}

enum milter_verdict
milter_rcpt(MILTER *m, const char *const *args, MILTER_REPLY *r)
{
	return milter_args_stage(m, MILTER_STAGE_RCPT, SMFIC_RCPT, args,
				 SMFIP_NORCPT, SMFIP_NR_RCPT, r);
}

enum milter_verdict
milter_data(MILTER *m, MILTER_REPLY *r)
{
	/* DATA exists from version 4 on */
	if (m->version < 4 && m->state == MILTER_ST_READY) {
		milter_reply_reset(r);
		return r->verdict = MILTER_CONTINUE;
	}
	return milter_stage(m, MILTER_STAGE_DATA, SMFIC_DATA, NULL, 0,
			    SMFIP_NODATA, SMFIP_NR_DATA,
			    m->conf.command_timeout, r);
}

enum milter_verdict
milter_unknown(MILTER *m, const char *cmd, MILTER_REPLY *r)
{
	if (m->version < 3 && m->state == MILTER_ST_READY) {
		milter_reply_reset(r);
		return r->verdict = MILTER_CONTINUE;
	}
	return milter_stage(m, MILTER_STAGE_UNKNOWN, SMFIC_UNKNOWN, cmd,
			    strlen(cmd) + 1, SMFIP_NOUNKNOWN, SMFIP_NR_UNKN,
			    m->conf.command_timeout, r);
}

enum milter_verdict
milter_header(MILTER *m, const char *name, const char *value, MILTER_REPLY *r)
{
	VSTR		   *d = vstr_alloc(128);
	enum milter_verdict v;
	const char	   *p = value;

	vstr_memcat(d, name, strlen(name) + 1);
	/* Without SMFIP_HDR_LEADSPC the space after the colon is not sent. */
	if (!(m->protocol & SMFIP_HDR_LEADSPC))
		while (*p == ' ' || *p == '\t')
			p++;
	for (; *p; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue; /* milters see LF folding */
		vstr_addch(d, *p);
	}
	/* drop a final line end, if the caller left one */
	while (VSTR_LEN(d) > strlen(name) + 1 && VSTR_END(d)[-1] == '\n')
		vstr_truncate(d, VSTR_LEN(d) - 1);
	vstr_addch(d, 0);
	v = milter_stage(m, MILTER_STAGE_HEADER, SMFIC_HEADER, VSTR_STR(d),
			 VSTR_LEN(d), SMFIP_NOHDRS, SMFIP_NR_HDR,
			 m->conf.content_timeout, r);
	vstr_free(d);
	return v;
}

enum milter_verdict
milter_eoh(MILTER *m, MILTER_REPLY *r)
{
	return milter_stage(m, MILTER_STAGE_EOH, SMFIC_EOH, NULL, 0,
			    SMFIP_NOEOH, SMFIP_NR_EOH, m->conf.content_timeout,
			    r);
}

enum milter_verdict
milter_body(MILTER *m, const char *data, size_t len, MILTER_REPLY *r)
{
	enum milter_verdict v = MILTER_CONTINUE;

	milter_reply_reset(r);
	/* an empty body is no chunk at all, as Sendmail sends it */
	if (len == 0)
		return m->state == MILTER_ST_FAILED
			   ? milter_default_reply(m, MILTER_STAGE_BODY, r)
			   : MILTER_CONTINUE;
	do {
		size_t n = len > MILTER_CHUNK_MAX ? MILTER_CHUNK_MAX : len;

		v = milter_stage(m, MILTER_STAGE_BODY, SMFIC_BODY, data, n,
				 SMFIP_NOBODY, SMFIP_NR_BODY,
				 m->conf.content_timeout, r);
		data += n;
		len -= n;
	} while (len > 0 && v == MILTER_CONTINUE && !m->skip_body
		 && m->state == MILTER_ST_READY);
	return v;
}

enum milter_verdict
milter_eom(MILTER *m, MILTER_REPLY *r)
{
	size_t		    limit = r->body_limit;
	enum milter_verdict v;

	v = milter_stage(m, MILTER_STAGE_EOM, SMFIC_BODYEOB, NULL, 0, 0, 0,
			 m->conf.content_timeout, r);
	r->body_limit = limit;
	/* the message is over for this milter in any case */
	if (m->state == MILTER_ST_READY)
		m->state = MILTER_ST_MSG_DONE;
	return v;
}

void
milter_abort(MILTER *m)
{
	if (m->fd >= 0
	    && (m->state == MILTER_ST_READY || m->state == MILTER_ST_MSG_DONE))
		(void)milter_send(m, SMFIC_ABORT, NULL, 0,
				  m->conf.command_timeout);
	if (m->state == MILTER_ST_MSG_DONE)
		m->state = MILTER_ST_READY;
	m->skip_body = false;
}

void
milter_mod_field(const MILTER *m, const char *name, const char *value,
		 VSTR *out)
{
	vstr_strcpy(out, name);
	vstr_addch(out, ':');
	if (!(m->protocol & SMFIP_HDR_LEADSPC) && *value != ' '
	    && *value != '\t')
		vstr_addch(out, ' ');
	for (const char *p = value; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n')
			vstr_addch(out, '\r');
		vstr_addch(out, *p);
	}
}

/* ------------------------------------------------------------ handoff */

int
milter_export(const MILTER *m, ATTR *a)
{
	static const char *const stage_keys[MILTER_STAGE_COUNT] = {
		"macros_connect", "macros_helo",    "macros_mail",
		"macros_rcpt",	  "macros_data",    "macros_eom",
		"macros_eoh",	  "macros_unknown",
	};

	attr_put_str(a, "name", m->conf.name);
	attr_put_int(a, "connect_timeout", m->conf.connect_timeout);
	attr_put_int(a, "command_timeout", m->conf.command_timeout);
	attr_put_int(a, "content_timeout", m->conf.content_timeout);
	attr_put_str(a, "default_action",
		     milter_default_name(m->conf.default_action));
	attr_put_int(a, "protocol", m->conf.protocol);
	attr_put_int(a, "version", m->version);
	attr_put_int(a, "actions", m->actions);
	attr_put_int(a, "flags", m->protocol);
	attr_put_int(a, "state", m->state);
	for (int i = 0; i < MILTER_STAGE_COUNT; i++) {
		const char *l = m->macros[i] ? m->macros[i] : m->conf.macros[i];

		if (l != NULL)
			attr_put_str(a, stage_keys[i], l);
	}
	return m->state == MILTER_ST_READY || m->state == MILTER_ST_MSG_DONE
		   ? m->fd
		   : -1;
}

MILTER *
milter_import(const ATTR *a, int fd, VSTR *why)
{
	static const char *const stage_keys[MILTER_STAGE_COUNT] = {
		"macros_connect", "macros_helo",    "macros_mail",
		"macros_rcpt",	  "macros_data",    "macros_eom",
		"macros_eoh",	  "macros_unknown",
	};
	MILTER_CONF c;
	MILTER	   *m;
	long long   v[8];
	const char *names[] = { "connect_timeout", "command_timeout",
				"content_timeout", "protocol",
				"version",	   "actions",
				"flags",	   "state" };
	const char *name = attr_get_str(a, "name");
	const char *def = attr_get_str(a, "default_action");

	memset(&c, 0, sizeof(c));
	for (int i = 0; i < 8; i++) {
		if (attr_get_int(a, names[i], &v[i]) < 0 || v[i] < 0
		    || v[i] > 0x7fffffff) {
			vstr_sprintf(why, "milter state: bad %s", names[i]);
			return NULL;
		}
	}
	if (name == NULL || !milter_name_ok(name) || def == NULL
	    || milter_default_parse(def, &c.default_action) < 0 || v[3] < 2
	    || v[3] > 6 || v[7] > MILTER_ST_FAILED) {
		vstr_strcpy(why, "milter state: bad name, default_action or "
				 "protocol");
		return NULL;
	}
	c.name = (char *)name;
	c.connect_timeout = (int)v[0];
	c.command_timeout = (int)v[1];
	c.content_timeout = (int)v[2];
	c.protocol = (int)v[3];
	m = milter_alloc(&c);
	m->version = (int)v[4];
	m->actions = (uint32_t)v[5];
	m->protocol = (uint32_t)v[6];
	m->state = (enum milter_state)v[7];
	for (int i = 0; i < MILTER_STAGE_COUNT; i++) {
		const char *l = attr_get_str(a, stage_keys[i]);

		if (l != NULL)
			m->macros[i] = mystrdup(l);
	}
	m->fd = fd;
	if (fd < 0
	    && (m->state == MILTER_ST_READY
		|| m->state == MILTER_ST_MSG_DONE)) {
		vstr_strcpy(m->why, "connection not passed");
		m->state = MILTER_ST_FAILED;
	}
	return m;
}

void
milter_disown(MILTER *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	if (m->state != MILTER_ST_FAILED)
		m->state = MILTER_ST_CONN_DONE;
}
