/*
 * Unit tests for util/dns: the answer parser on crafted replies (good,
 * compressed, looping, truncated, lying counts), MX order and null MX,
 * reverse names, resolver set-up and the timeout bound.
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/cfg.h"
#include "util/dns.h"
#include "util/vstr.h"

/* A tiny reply builder. */
struct msg {
	unsigned char b[2048];
	size_t	      len;
};

static void
put(struct msg *m, const void *data, size_t len)
{
	assert_true(m->len + len <= sizeof(m->b));
	memcpy(m->b + m->len, data, len);
	m->len += len;
}

static void
put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(m, b, 2);
}

static void
put32(struct msg *m, unsigned v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static void
put_name(struct msg *m, const char *name)
{
	while (*name) {
		size_t	      lab = strcspn(name, ".");
		unsigned char l = (unsigned char)lab;

		put(m, &l, 1);
		put(m, name, lab);
		name += lab;
		if (*name == '.')
			name++;
	}
	put(m, "", 1);
}

/* Header + one question for name/type. */
static void
start(struct msg *m, unsigned flags, unsigned an, const char *name,
      unsigned type)
{
	m->len = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
}

/* An answer RR whose owner is a pointer to the question name. */
static void
rr(struct msg *m, unsigned type, const void *rdata, size_t rdlen)
{
	put16(m, 0xc00c);
	put16(m, type);
	put16(m, 1);
	put32(m, 300);
	put16(m, (unsigned)rdlen);
	put(m, rdata, rdlen);
}

static void
mx(struct msg *m, unsigned pref, const char *host)
{
	struct msg rd = { .len = 0 };

	put16(&rd, pref);
	put_name(&rd, host);
	rr(m, DNS_TYPE_MX, rd.b, rd.len);
}

static void
test_dns_parse_a_and_aaaa(void **state)
{
	struct msg    m;
	DNS_REPLY    *r = dns_reply_alloc();
	VSTR	     *why = vstr_alloc(64);
	unsigned char a[4] = { 192, 0, 2, 7 };
	unsigned char aaaa[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };

	(void)state;
	start(&m, 0x8180, 2, "Mail.Example.TEST", DNS_TYPE_A);
	rr(&m, DNS_TYPE_A, a, 4);
	rr(&m, DNS_TYPE_AAAA, aaaa, 16); /* other type: skipped */
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why), DNS_OK);
	assert_int_equal(r->count, 1);
	assert_string_equal(VSTR_STR(r->rr[0].data), "192.0.2.7");
	assert_string_equal(VSTR_STR(r->rr[0].name), "mail.example.test");
	assert_int_equal(r->rr[0].ttl, 300);
	assert_false(r->ad);

	start(&m, 0x81a0, 1, "x.test", DNS_TYPE_AAAA);
	rr(&m, DNS_TYPE_AAAA, aaaa, 16);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_AAAA, r, why), DNS_OK);
	assert_string_equal(VSTR_STR(r->rr[0].data), "2001:db8::1");
	assert_true(r->ad);
	dns_reply_free(r);
	vstr_free(why);
}

static void
test_dns_parse_mx_sorted_and_null_mx(void **state)
{
	struct msg m;
	DNS_REPLY *r = dns_reply_alloc();
	VSTR	  *why = vstr_alloc(64);

	(void)state;
	start(&m, 0x8180, 4, "example.test", DNS_TYPE_MX);
	mx(&m, 20, "b.example.test");
	mx(&m, 10, "a.example.test");
	mx(&m, 20, "c.example.test");
	mx(&m, 5, "first.example.test");
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_MX, r, why), DNS_OK);
	assert_int_equal(r->count, 4);
	assert_string_equal(VSTR_STR(r->rr[0].data), "first.example.test");
	assert_string_equal(VSTR_STR(r->rr[1].data), "a.example.test");
	assert_string_equal(VSTR_STR(r->rr[2].data), "b.example.test");
	assert_string_equal(VSTR_STR(r->rr[3].data), "c.example.test");
	assert_false(dns_null_mx(r));

	start(&m, 0x8180, 1, "nomail.test", DNS_TYPE_MX);
	mx(&m, 0, "");
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_MX, r, why), DNS_OK);
	assert_true(dns_null_mx(r));
	assert_int_equal(VSTR_LEN(r->rr[0].data), 0);
	dns_reply_free(r);
	vstr_free(why);
}

static void
test_dns_parse_mx_compressed_target(void **state)
{
	struct msg    m;
	DNS_REPLY    *r = dns_reply_alloc();
	VSTR	     *why = vstr_alloc(64);
	unsigned char rd[] = { 0, 10, 3, 'm', 'x', '1', 0xc0, 0x0c };

	(void)state;
	start(&m, 0x8180, 1, "example.test", DNS_TYPE_MX);
	rr(&m, DNS_TYPE_MX, rd, sizeof(rd));
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_MX, r, why), DNS_OK);
	assert_string_equal(VSTR_STR(r->rr[0].data), "mx1.example.test");
	dns_reply_free(r);
	vstr_free(why);
}

static void
test_dns_parse_txt_and_tlsa(void **state)
{
	struct msg    m;
	DNS_REPLY    *r = dns_reply_alloc();
	VSTR	     *why = vstr_alloc(64);
	unsigned char txt[] = { 5,   'h', 'e', 'l', 'l', 'o', 6,
				' ', 'w', 'o', 'r', 'l', 'd' };
	unsigned char tlsa[] = { 3, 1, 1, 0xde, 0xad, 0xbe, 0xef };

	(void)state;
	start(&m, 0x8180, 1, "t.test", DNS_TYPE_TXT);
	rr(&m, DNS_TYPE_TXT, txt, sizeof(txt));
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_TXT, r, why), DNS_OK);
	assert_string_equal(VSTR_STR(r->rr[0].data), "hello world");

	start(&m, 0x81a0, 1, "_25._tcp.mx.test", DNS_TYPE_TLSA);
	rr(&m, DNS_TYPE_TLSA, tlsa, sizeof(tlsa));
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_TLSA, r, why), DNS_OK);
	assert_int_equal(r->rr[0].usage, 3);
	assert_int_equal(r->rr[0].selector, 1);
	assert_int_equal(r->rr[0].mtype, 1);
	assert_int_equal(VSTR_LEN(r->rr[0].data), 4);
	assert_memory_equal(VSTR_STR(r->rr[0].data), "\xde\xad\xbe\xef", 4);
	assert_true(r->ad);
	dns_reply_free(r);
	vstr_free(why);
}

static void
test_dns_parse_nxdomain_nodata_servfail(void **state)
{
	struct msg    m;
	DNS_REPLY    *r = dns_reply_alloc();
	VSTR	     *why = vstr_alloc(64);
	unsigned char a[4] = { 127, 0, 0, 2 };

	(void)state;
	start(&m, 0x8183, 0, "gone.test", DNS_TYPE_A);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why),
			 DNS_NOTFOUND);
	assert_int_equal(r->rcode, 3);
	start(&m, 0x8180, 1, "only-a.test", DNS_TYPE_MX);
	rr(&m, DNS_TYPE_A, a, 4);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_MX, r, why),
			 DNS_NOTFOUND);
	assert_non_null(strstr(VSTR_STR(why), "NODATA"));
	start(&m, 0x8182, 0, "broken.test", DNS_TYPE_A);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	start(&m, 0x8185, 0, "refused.test", DNS_TYPE_A);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	/* A query (QR clear) is not an answer. */
	start(&m, 0x0100, 0, "q.test", DNS_TYPE_A);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	dns_reply_free(r);
	vstr_free(why);
}

static void
test_dns_parse_compression_loops(void **state)
{
	struct msg    m;
	DNS_REPLY    *r = dns_reply_alloc();
	VSTR	     *why = vstr_alloc(64);
	unsigned char rd[] = { 0, 10, 0xc0, 0x00 };
	size_t	      at;

	(void)state;
	/* Owner name pointing at itself. */
	start(&m, 0x8180, 1, "x.test", DNS_TYPE_A);
	at = m.len;
	put16(&m, 0xc000 | (unsigned)at);
	put16(&m, DNS_TYPE_A);
	put16(&m, 1);
	put32(&m, 1);
	put16(&m, 4);
	put(&m, "\1\2\3\4", 4);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	assert_non_null(strstr(VSTR_STR(why), "malformed"));

	/* Forward pointer (to the MX target's own rdata, later). */
	start(&m, 0x8180, 1, "x.test", DNS_TYPE_MX);
	at = m.len;
	rd[2] = (unsigned char)(0xc0 | ((at + 12 + 2) >> 8));
	rd[3] = (unsigned char)(at + 12 + 2);
	rr(&m, DNS_TYPE_MX, rd, sizeof(rd));
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_MX, r, why),
			 DNS_TEMPFAIL);

	/* Two names pointing at each other: the second must go backwards. */
	m.len = 0;
	put16(&m, 1);
	put16(&m, 0x8180);
	put16(&m, 2);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 0xc000 | 14); /* q1 name -> q2 name */
	put16(&m, 1);
	put16(&m, 1);
	put16(&m, 0xc000 | 12); /* q2 name -> q1 name */
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	dns_reply_free(r);
	vstr_free(why);
}

static void
test_dns_parse_truncation_and_bad_counts(void **state)
{
	struct msg    m;
	DNS_REPLY    *r = dns_reply_alloc();
	VSTR	     *why = vstr_alloc(64);
	unsigned char a[4] = { 10, 0, 0, 1 };
	size_t	      full;

	(void)state;
	start(&m, 0x8180, 2, "x.test", DNS_TYPE_A);
	rr(&m, DNS_TYPE_A, a, 4);
	rr(&m, DNS_TYPE_A, a, 4);
	full = m.len;
	/* Every prefix of a good answer is refused, never read past. */
	for (size_t n = 0; n < full; n++)
		assert_int_equal(dns_parse(m.b, n, DNS_TYPE_A, r, why),
				 DNS_TEMPFAIL);
	assert_int_equal(dns_parse(m.b, full, DNS_TYPE_A, r, why), DNS_OK);
	assert_int_equal(r->count, 2);

	/* ANCOUNT says 65535 with two records present. */
	m.b[6] = 0xff;
	m.b[7] = 0xff;
	assert_int_equal(dns_parse(m.b, full, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	/* RDLENGTH larger than what is left. */
	m.b[7] = 2;
	m.b[full - 5] = 0x40;
	assert_int_equal(dns_parse(m.b, full, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	/* A record with a 3-byte address. */
	start(&m, 0x8180, 1, "x.test", DNS_TYPE_A);
	rr(&m, DNS_TYPE_A, a, 3);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	/* TXT string running past rdata. */
	start(&m, 0x8180, 1, "x.test", DNS_TYPE_TXT);
	rr(&m, DNS_TYPE_TXT,
	   "\x09"
	   "abc",
	   4);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_TXT, r, why),
			 DNS_TEMPFAIL);
	dns_reply_free(r);
	vstr_free(why);
}

static void
test_dns_parse_name_too_long(void **state)
{
	struct msg m;
	DNS_REPLY *r = dns_reply_alloc();
	VSTR	  *why = vstr_alloc(64);

	(void)state;
	m.len = 0;
	put16(&m, 1);
	put16(&m, 0x8180);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 0);
	put16(&m, 0);
	for (int i = 0; i < 5; i++) {
		unsigned char l = 63;
		char	      lab[63];

		memset(lab, 'a', sizeof(lab));
		put(&m, &l, 1);
		put(&m, lab, sizeof(lab));
	}
	put(&m, "", 1);
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_parse(m.b, m.len, DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	dns_reply_free(r);
	vstr_free(why);
}

static void
test_dns_reverse_name(void **state)
{
	VSTR *v = vstr_alloc(16);

	(void)state;
	assert_int_equal(dns_reverse_name(v, "192.0.2.1", "bl.test"), 0);
	assert_string_equal(VSTR_STR(v), "1.2.0.192.bl.test");
	assert_int_equal(dns_reverse_name(v, "2001:db8::1", NULL), 0);
	assert_string_equal(
	    VSTR_STR(v),
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
	assert_int_equal(dns_reverse_name(v, "not-an-ip", "z"), -1);
	vstr_free(v);
}

static CFG *
cfg_text(const char *text)
{
	VSTR *why = vstr_alloc(64);
	CFG  *cfg = cfg_open_buffer(NULL, "main.cf", text, strlen(text), why);

	assert_non_null(cfg);
	vstr_free(why);
	return cfg;
}

static void
test_dns_open_rejects_bad_nameservers(void **state)
{
	CFG *cfg = cfg_text("dns_nameservers = 127.0.0.1:99999\n");

	(void)state;
	assert_null(dns_open(cfg));
	cfg_free(cfg);
	cfg = cfg_text("dns_nameservers = not-an-ip\n");
	assert_null(dns_open(cfg));
	cfg_free(cfg);
	cfg = cfg_text("dns_nameservers = 127.0.0.1 127.0.0.2 127.0.0.3 "
		       "127.0.0.4\n");
	assert_null(dns_open(cfg));
	cfg_free(cfg);
}

/* A server that never answers: the lookup gives up within the bound. */
static void
test_dns_lookup_times_out_as_tempfail(void **state)
{
	int		   s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t	   slen = sizeof(sin);
	char		   text[128];
	CFG		  *cfg;
	DNS		  *dns;
	DNS_REPLY	  *r = dns_reply_alloc();
	VSTR		  *why = vstr_alloc(64);
	time_t		   t0;

	(void)state;
	assert_true(s >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &slen), 0);
	snprintf(text, sizeof(text),
		 "dns_nameservers = 127.0.0.1:%u\n"
		 "dns_timeout = 1s\ndns_attempts = 1\n",
		 ntohs(sin.sin_port));
	cfg = cfg_text(text);
	dns = dns_open(cfg);
	assert_non_null(dns);
	t0 = time(NULL);
	assert_int_equal(dns_lookup(dns, "example.test", DNS_TYPE_A, r, why),
			 DNS_TEMPFAIL);
	assert_true(time(NULL) - t0 <= 4);
	dns_close(dns);
	cfg_free(cfg);
	close(s);
	dns_reply_free(r);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_parse_a_and_aaaa),
		cmocka_unit_test(test_dns_parse_mx_sorted_and_null_mx),
		cmocka_unit_test(test_dns_parse_mx_compressed_target),
		cmocka_unit_test(test_dns_parse_txt_and_tlsa),
		cmocka_unit_test(test_dns_parse_nxdomain_nodata_servfail),
		cmocka_unit_test(test_dns_parse_compression_loops),
		cmocka_unit_test(test_dns_parse_truncation_and_bad_counts),
		cmocka_unit_test(test_dns_parse_name_too_long),
		cmocka_unit_test(test_dns_reverse_name),
		cmocka_unit_test(test_dns_open_rejects_bad_nameservers),
		cmocka_unit_test(test_dns_lookup_times_out_as_tempfail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
