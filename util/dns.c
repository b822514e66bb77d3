/*
 * dns - resolver glue and a defensive DNS answer parser.
 *
 * Only this file includes <resolv.h>.  Errors: dns_open returns NULL with
 * errno and a msg_warn; lookups return DNS_TEMPFAIL / DNS_NOTFOUND with
 * `why`.  The parser reads only within [msg, msg + len) and follows a
 * compression pointer only backwards, which bounds the work per name.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/dns.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/strutil.h"
#include "util/vstr.h"

#define DNS_HDR_LEN    12
#define DNS_QUERY_MAX  (DNS_HDR_LEN + DNS_NAME_MAX + 2 + 4 + 11)
#define DNS_ANSWER_MAX 65536
#define DNS_EDNS_SIZE  1232 /* DNS flag day 2020 */

struct DNS {
	struct __res_state res;
	unsigned char	  *answer; /* DNS_ANSWER_MAX bytes */
};

/* Parse "a.b.c.d[:port]" into sin; 0 or -1. */
static int
dns_server_addr(const char *text, struct sockaddr_in *sin)
{
	char	    host[INET_ADDRSTRLEN];
	const char *colon = strchr(text, ':');
	size_t	    hlen = colon ? (size_t)(colon - text) : strlen(text);
	long long   port = NS_DEFAULTPORT;

	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = 0;
	if (colon
	    && (str_to_ll(colon + 1, &port) < 0 || port < 1 || port > 65535))
		return -1;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	return 0;
}

DNS *
dns_open(const CFG *cfg)
{
	DNS	   *dns = mycalloc(1, sizeof(*dns));
	const char *servers = cfg_get_str(cfg, "dns_nameservers");
	long long   timeout = cfg_get_time(cfg, "dns_timeout");
	long long   attempts = cfg_get_int(cfg, "dns_attempts");
	char	   *copy;
	char	   *cp;
	char	   *item;
	int	    n = 0;

	if (res_ninit(&dns->res) != 0) {
		msg_warn("dns: resolver initialization failed");
		myfree(dns);
		errno = EIO;
		return NULL;
	}
	if (servers != NULL && *servers != 0) {
		copy = mystrdup(servers);
		cp = copy;
		while ((item = str_token(&cp, STR_SEP_LIST)) != NULL) {
			struct sockaddr_in sin;

			if (dns_server_addr(item, &sin) < 0
			    || n >= DNS_SERVERS_MAX) {
				msg_warn("dns_nameservers: %s \"%s\"",
					 n >= DNS_SERVERS_MAX
					     ? "too many servers at"
					     : "bad IPv4 ip[:port] entry",
					 item);
				myfree(copy);
				res_nclose(&dns->res);
				myfree(dns);
				errno = EINVAL;
				return NULL;
			}
			dns->res.nsaddr_list[n++] = sin;
		}
		myfree(copy);
		if (n > 0)
			dns->res.nscount = n;
	}
	dns->res.retrans = (int)(timeout > 0 ? timeout : 5);
	dns->res.retry = (int)(attempts > 0 ? attempts : 2);
	/* Keep the AD bit (glibc clears it without trust-ad). */
	dns->res.options |= RES_TRUSTAD;
	dns->res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	dns->answer = mymalloc(DNS_ANSWER_MAX);
	return dns;
}

DNS *
dns_close(DNS *dns)
{
	if (dns == NULL)
		return NULL;
	res_nclose(&dns->res);
	myfree(dns->answer);
	myfree(dns);
	return NULL;
}

DNS_REPLY *
dns_reply_alloc(void)
{
	DNS_REPLY *r = mycalloc(1, sizeof(*r));

	for (size_t i = 0; i < DNS_RR_MAX; i++) {
		r->rr[i].name = vstr_alloc(32);
		r->rr[i].data = vstr_alloc(32);
	}
	return r;
}

DNS_REPLY *
dns_reply_free(DNS_REPLY *r)
{
	if (r == NULL)
		return NULL;
	for (size_t i = 0; i < DNS_RR_MAX; i++) {
		vstr_free(r->rr[i].name);
		vstr_free(r->rr[i].data);
	}
	myfree(r);
	return NULL;
}

static void
dns_reply_reset(DNS_REPLY *r)
{
	r->rcode = 0;
	r->ad = false;
	r->tc = false;
	r->count = 0;
}

/* Reading the wire format. */

struct dns_buf {
	const unsigned char *msg;
	size_t		     len;
	size_t		     pos;
};

static int
dns_get16(struct dns_buf *b, unsigned *val)
{
	if (b->len - b->pos < 2)
		return -1;
	*val = (unsigned)b->msg[b->pos] << 8 | b->msg[b->pos + 1];
	b->pos += 2;
	return 0;
}

static int
dns_get32(struct dns_buf *b, unsigned *val)
{
	unsigned hi, lo;

	if (dns_get16(b, &hi) < 0 || dns_get16(b, &lo) < 0)
		return -1;
	*val = hi << 16 | lo;
	return 0;
}

/*
 * Read a (possibly compressed) name at *pos into out in presentation
 * form (lower case, no final dot; labels with dots or odd bytes are
 * escaped as \DDD so a name never smuggles structure).  *pos moves past
 * the name as stored at *pos.  0 or -1.
 */
static int
dns_get_name(const unsigned char *msg, size_t len, size_t *pos, VSTR *out)
{
	size_t p = *pos;
	size_t limit = *pos; /* pointers must go below this */
	size_t wire = 0;
	bool   jumped = false;

	vstr_reset(out);
	for (;;) {
		unsigned lab;

		if (p >= len)
			return -1;
		lab = msg[p];
		if ((lab & 0xc0) == 0xc0) {
			size_t target;

			if (p + 1 >= len)
				return -1;
			target = (lab & 0x3f) << 8 | msg[p + 1];
			if (target >= limit)
				return -1; /* forward or self: loop */
			if (!jumped)
				*pos = p + 2;
			jumped = true;
			limit = target;
			p = target;
			continue;
		}
		if (lab & 0xc0)
			return -1; /* extended label types */
		p++;
		if (lab == 0)
			break;
		if (lab > len - p)
			return -1;
		wire += lab + 1;
		if (wire > DNS_NAME_MAX)
			return -1;
		if (VSTR_LEN(out) > 0)
			vstr_addch(out, '.');
		for (unsigned i = 0; i < lab; i++) {
			unsigned char ch = msg[p + i];

			if (ch >= 'A' && ch <= 'Z')
				ch = (unsigned char)(ch - 'A' + 'a');
			if (ch == '.' || ch == '\\' || ch <= ' ' || ch >= 0x7f)
				vstr_sprintf_append(out, "\\%03u", ch);
			else
				vstr_addch(out, ch);
		}
		p += lab;
	}
	if (!jumped)
		*pos = p;
	return 0;
}

static int
dns_rr_data(const unsigned char *msg, size_t len, size_t rdpos, size_t rdlen,
	    DNS_RR *rr)
{
	struct dns_buf b = { msg, rdpos + rdlen, rdpos };
	size_t	       pos;
	unsigned       pref;
	char	       text[INET6_ADDRSTRLEN];

	vstr_reset(rr->data);
	switch (rr->type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		if (rdlen != (rr->type == DNS_TYPE_A ? 4u : 16u))
			return -1;
		memcpy(rr->addr, msg + rdpos, rdlen);
		if (inet_ntop(rr->type == DNS_TYPE_A ? AF_INET : AF_INET6,
			      rr->addr, text, sizeof(text))
		    == NULL)
			return -1;
		vstr_strcpy(rr->data, text);
		return 0;
	case DNS_TYPE_MX:
		if (dns_get16(&b, &pref) < 0)
			return -1;
		rr->pref = (int)pref;
		pos = b.pos;
		/* The target may be compressed; it must end inside rdata. */
		if (dns_get_name(msg, len, &pos, rr->data) < 0
		    || pos != rdpos + rdlen)
			return -1;
		return 0;
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
		pos = rdpos;
		if (dns_get_name(msg, len, &pos, rr->data) < 0
		    || pos != rdpos + rdlen)
			return -1;
		return 0;
	case DNS_TYPE_TXT:
		while (b.pos < b.len) {
			unsigned slen = msg[b.pos++];

			if (slen > b.len - b.pos)
				return -1;
			vstr_memcat(rr->data, msg + b.pos, slen);
			b.pos += slen;
		}
		return 0;
	case DNS_TYPE_TLSA:
		if (rdlen < 3)
			return -1;
		rr->usage = msg[rdpos];
		rr->selector = msg[rdpos + 1];
		rr->mtype = msg[rdpos + 2];
		vstr_memcpy(rr->data, msg + rdpos + 3, rdlen - 3);
		return 0;
	default:
		vstr_memcpy(rr->data, msg + rdpos, rdlen);
		return 0;
	}
}

static int
dns_mx_cmp(const void *a, const void *b)
{
	const DNS_RR *x = a;
	const DNS_RR *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return 0;
}

/* Stable insertion sort by preference (at most DNS_RR_MAX records). */
static void
dns_sort_mx(DNS_REPLY *r)
{
	for (size_t i = 1; i < r->count; i++) {
		DNS_RR tmp = r->rr[i];
		size_t j = i;

		while (j > 0 && dns_mx_cmp(&r->rr[j - 1], &tmp) > 0) {
			r->rr[j] = r->rr[j - 1];
			j--;
		}
		r->rr[j] = tmp;
	}
}

enum dns_status
dns_parse(const unsigned char *msg, size_t len, int type, DNS_REPLY *r,
	  VSTR *why)
{
	struct dns_buf	b = { msg, len, 0 };
	unsigned	id, flags, qd, an, ns, ar;
	VSTR	       *scratch;
	enum dns_status status = DNS_TEMPFAIL;

	dns_reply_reset(r);
	vstr_reset(why);
	if (dns_get16(&b, &id) < 0 || dns_get16(&b, &flags) < 0
	    || dns_get16(&b, &qd) < 0 || dns_get16(&b, &an) < 0
	    || dns_get16(&b, &ns) < 0 || dns_get16(&b, &ar) < 0) {
		vstr_strcpy(why, "malformed DNS reply: short header");
		return DNS_TEMPFAIL;
	}
	(void)id;
	(void)ns;
	(void)ar;
	if ((flags & 0x8000) == 0) {
		vstr_strcpy(why, "malformed DNS reply: not a response");
		return DNS_TEMPFAIL;
	}
	r->rcode = (int)(flags & 0xf);
	r->ad = (flags & 0x0020) != 0;
	r->tc = (flags & 0x0200) != 0;
	if (r->rcode == 3) {
		vstr_strcpy(why, "Host not found (NXDOMAIN)");
		return DNS_NOTFOUND;
	}
	if (r->rcode != 0) {
		vstr_sprintf(why, "DNS server failure (rcode %d)", r->rcode);
		return DNS_TEMPFAIL;
	}
	scratch = vstr_alloc(64);
	for (unsigned i = 0; i < qd; i++) {
		unsigned qt, qc;

		if (dns_get_name(msg, len, &b.pos, scratch) < 0
		    || dns_get16(&b, &qt) < 0 || dns_get16(&b, &qc) < 0) {
			vstr_strcpy(why, "malformed DNS reply: bad question");
			goto out;
		}
	}
	for (unsigned i = 0; i < an; i++) {
		unsigned rtype, rclass, ttl, rdlen;
		DNS_RR	*rr;

		if (dns_get_name(msg, len, &b.pos, scratch) < 0
		    || dns_get16(&b, &rtype) < 0 || dns_get16(&b, &rclass) < 0
		    || dns_get32(&b, &ttl) < 0 || dns_get16(&b, &rdlen) < 0
		    || rdlen > len - b.pos) {
			vstr_strcpy(why,
				    "malformed DNS reply: bad answer record");
			goto out;
		}
		if ((int)rtype != type || rclass != 1
		    || r->count >= DNS_RR_MAX) {
			b.pos += rdlen;
			continue;
		}
		rr = &r->rr[r->count];
		rr->type = (int)rtype;
		rr->ttl = ttl;
		rr->pref = 0;
		rr->usage = rr->selector = rr->mtype = 0;
		vstr_memcpy(rr->name, VSTR_STR(scratch), VSTR_LEN(scratch));
		if (dns_rr_data(msg, len, b.pos, rdlen, rr) < 0) {
			vstr_sprintf(why,
				     "malformed DNS reply: bad type %u data",
				     rtype);
			r->count = 0;
			goto out;
		}
		b.pos += rdlen;
		r->count++;
	}
	if (r->count == 0) {
		vstr_strcpy(why, "No data of the requested type (NODATA)");
		status = DNS_NOTFOUND;
		goto out;
	}
	if (type == DNS_TYPE_MX)
		dns_sort_mx(r);
	status = DNS_OK;
out:
	vstr_free(scratch);
	return status;
}

bool
dns_null_mx(const DNS_REPLY *r)
{
	return r->count == 1 && r->rr[0].type == DNS_TYPE_MX
	       && r->rr[0].pref == 0 && VSTR_LEN(r->rr[0].data) == 0;
}

/* Append name in wire form; 0 or -1 (EINVAL: empty label, too long). */
static int
dns_put_name(unsigned char *buf, size_t *pos, size_t size, const char *name)
{
	size_t	    start = *pos;
	const char *cp = name;

	if (*cp == 0 || strcmp(cp, ".") == 0) {
		if (*pos >= size)
			return -1;
		buf[(*pos)++] = 0;
		return 0;
	}
	while (*cp) {
		size_t lab = strcspn(cp, ".");

		if (lab == 0 || lab > 63 || *pos + 1 + lab >= size
		    || *pos + 1 + lab - start > DNS_NAME_MAX)
			return -1;
		buf[(*pos)++] = (unsigned char)lab;
		memcpy(buf + *pos, cp, lab);
		*pos += lab;
		cp += lab;
		if (*cp == '.') {
			cp++;
			if (*cp == 0)
				break; /* trailing dot */
		}
	}
	buf[(*pos)++] = 0;
	return 0;
}

enum dns_status
dns_lookup(DNS *dns, const char *name, int type, DNS_REPLY *r, VSTR *why)
{
	unsigned char		   q[DNS_QUERY_MAX];
	size_t			   pos = DNS_HDR_LEN;
	unsigned char		   rnd[2] = { 0, 0 };
	int			   n;
	static const unsigned char opt[] = {
		0, /* root owner */
		0,
		41, /* OPT */
		DNS_EDNS_SIZE >> 8,
		DNS_EDNS_SIZE & 0xff,
		0,
		0,
		0x80,
		0, /* ext rcode, version, DO bit */
		0,
		0, /* no options */
	};

	dns_reply_reset(r);
	memset(q, 0, DNS_HDR_LEN);
	/* An unpredictable ID; res_nsend matches the answer to it. */
	if (getentropy(rnd, sizeof(rnd)) < 0)
		rnd[0] = (unsigned char)getpid();
	q[0] = rnd[0];
	q[1] = rnd[1];
	q[2] = 0x01; /* RD */
	q[3] = 0x20; /* AD: ask for the validation result */
	q[5] = 1;    /* one question */
	q[11] = 1;   /* one additional: OPT */
	if (dns_put_name(q, &pos, sizeof(q) - 4 - sizeof(opt), name) < 0) {
		vstr_sprintf(why, "bad domain name");
		return DNS_NOTFOUND;
	}
	q[pos++] = (unsigned char)(type >> 8);
	q[pos++] = (unsigned char)type;
	q[pos++] = 0;
	q[pos++] = 1; /* IN */
	memcpy(q + pos, opt, sizeof(opt));
	pos += sizeof(opt);
	n = res_nsend(&dns->res, q, (int)pos, dns->answer, DNS_ANSWER_MAX);
	if (n < 0) {
		vstr_strcpy(why, "DNS lookup timed out or failed");
		return DNS_TEMPFAIL;
	}
	if ((size_t)n > DNS_ANSWER_MAX)
		n = DNS_ANSWER_MAX;
	return dns_parse(dns->answer, (size_t)n, type, r, why);
}

int
dns_reverse_name(VSTR *out, const char *addr, const char *zone)
{
	unsigned char	  bin[16];
	static const char hex[] = "0123456789abcdef";

	vstr_reset(out);
	if (inet_pton(AF_INET, addr, bin) == 1) {
		vstr_sprintf(out, "%u.%u.%u.%u", bin[3], bin[2], bin[1],
			     bin[0]);
	} else if (inet_pton(AF_INET6, addr, bin) == 1) {
		for (int i = 15; i >= 0; i--)
			vstr_sprintf_append(out, "%s%c.%c", i == 15 ? "" : ".",
					    hex[bin[i] & 0xf],
					    hex[bin[i] >> 4]);
	} else {
		errno = EINVAL;
		return -1;
	}
	if (zone != NULL && *zone != 0)
		vstr_sprintf_append(out, ".%s", zone);
	return 0;
}
