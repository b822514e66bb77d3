/*
 * test_haproxy - the PROXY protocol v1/v2 header parser and its socket
 * reader: the forms HAProxy sends, every malformed form refused with a
 * reason, input that arrives one byte at a time, and never a byte of
 * what follows the header taken from the socket.
 *
 * SPDX-License-Identifier: ISC
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "util/haproxy.h"
#include "util/vstr.h"

/* Feed all of buf at once; the status, and *used. */
static enum haproxy_status
feed_all(HAPROXY *hp, const void *buf, size_t len, size_t *used)
{
	return haproxy_feed(hp, buf, len, used);
}

static void
expect_good(const void *buf, size_t len, size_t header_len, int version,
	    const char *caddr, const char *cport, const char *saddr,
	    const char *sport)
{
	HAPROXY			    *hp = haproxy_alloc();
	const struct haproxy_result *r;
	size_t			     used;

	assert_int_equal(feed_all(hp, buf, len, &used), HAPROXY_DONE);
	assert_int_equal(used, header_len);
	r = haproxy_result(hp);
	assert_int_equal(r->version, version);
	if (caddr == NULL) {
		assert_true(r->local);
	} else {
		assert_false(r->local);
		assert_string_equal(r->client.addr, caddr);
		assert_string_equal(r->client.port, cport);
		assert_string_equal(r->server.addr, saddr);
		assert_string_equal(r->server.port, sport);
	}
	haproxy_free(hp);
}

static void
expect_bad(const void *buf, size_t len, const char *reason)
{
	HAPROXY *hp = haproxy_alloc();
	size_t	 used;

	assert_int_equal(feed_all(hp, buf, len, &used), HAPROXY_BAD);
	if (strstr(haproxy_reason(hp), reason) == NULL)
		fail_msg("reason \"%s\" lacks \"%s\"", haproxy_reason(hp),
			 reason);
	/* Once bad, always bad, and nothing more is taken. */
	assert_int_equal(haproxy_feed(hp, "x", 1, &used), HAPROXY_BAD);
	assert_int_equal(used, 0);
	haproxy_free(hp);
}

#define GOOD1(s, ca, cp, sa, sp) \
	expect_good(s "EHLO x\r\n", strlen(s "EHLO x\r\n"), strlen(s), 1, ca, \
		    cp, sa, sp)
#define BAD1(s, why) expect_bad(s, strlen(s), why)

static void
test_haproxy_v1_forms(void **state)
{
	(void)state;
	GOOD1("PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\n", "192.0.2.1",
	      "56324", "198.51.100.7", "25");
	GOOD1("PROXY TCP6 2001:db8::1 2001:DB8:0::2 1 65535\r\n", "2001:db8::1",
	      "1", "2001:db8::2", "65535");
	/* An IPv4-mapped address is the IPv4 client, as in Postfix. */
	GOOD1("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:10.0.0.1 0 25\r\n",
	      "192.0.2.1", "0", "10.0.0.1", "25");
	/* UNKNOWN: the rest of the line is ignored; no endpoints. */
	GOOD1("PROXY UNKNOWN\r\n", NULL, NULL, NULL, NULL);
	GOOD1("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
	      NULL, NULL, NULL, NULL);
}

static void
test_haproxy_v1_refuses_malformed(void **state)
{
	(void)state;
	BAD1("HELO x\r\n", "unrecognized protocol header");
	BAD1("PROXZ TCP4", "bad or missing protocol header");
	BAD1("proxy TCP4", "unrecognized protocol header");
	BAD1("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
	     "bad or missing protocol type");
	BAD1("PROXY UNKNOWNX\r\n", "bad or missing protocol type");
	BAD1("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	     "bad or missing protocol type");
	BAD1("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
	     "bad or missing client address");
	BAD1("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
	     "bad or missing client address");
	BAD1("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
	     "bad or missing client address");
	BAD1("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "bad or missing client address");
	BAD1("PROXY TCP4 1.2.3.4 ::1 1 2\r\n", "bad or missing server address");
	BAD1("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
	     "bad or missing client port");
	BAD1("PROXY TCP4 1.2.3.4 5.6.7.8 0123 2\r\n",
	     "bad or missing client port");
	BAD1("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
	     "bad or missing client port");
	BAD1("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
	     "bad or missing server port");
	BAD1("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "bad or missing server port");
	BAD1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
	     "bad or missing server port");
	BAD1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
	     "text after the server port");
	BAD1("PROXY TCP4 1.2.3.4\r\n", "bad or missing server address");
	BAD1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "LF without CR");
	BAD1("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", "CR without LF");
	BAD1("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "control");
	{
		static const char nul[] = "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n";

		expect_bad(nul, sizeof(nul) - 1, "control");
	}
}

static void
test_haproxy_v1_is_at_most_107_bytes(void **state)
{
	char line[200];

	(void)state;
	/* 105 bytes of text and CR LF: the longest line there may be. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	expect_good(line, 107, 107, 1, NULL, NULL, NULL, NULL);
	/* One more, and it is refused at byte 107, before any LF. */
	memcpy(line + 105, "x\r\n", 3);
	expect_bad(line, 108, "longer than 107");
	expect_bad(line, 107, "longer than 107");
	/* Without an end it is refused as soon as it is too long. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY ", 6);
	expect_bad(line, sizeof(line), "longer than 107");
}

/* Every prefix of a good header says MORE; one byte at a time works. */
static void
test_haproxy_byte_at_a_time(void **state)
{
	static const char v1[] = "PROXY TCP4 192.0.2.1 198.51.100.7 1 25\r\n";
	unsigned char	  v2[16 + 12 + 7];
	HAPROXY		 *hp;
	size_t		  used;
	size_t		  i;

	(void)state;
	hp = haproxy_alloc();
	for (i = 0; i + 1 < strlen(v1); i++) {
		assert_int_equal(haproxy_feed(hp, v1 + i, 1, &used),
				 HAPROXY_MORE);
		assert_int_equal(used, 1);
	}
	assert_int_equal(haproxy_feed(hp, v1 + i, 1, &used), HAPROXY_DONE);
	assert_string_equal(haproxy_result(hp)->client.addr, "192.0.2.1");
	/* Done: nothing more is taken. */
	assert_int_equal(haproxy_feed(hp, "EHLO", 4, &used), HAPROXY_DONE);
	assert_int_equal(used, 0);
	haproxy_free(hp);

	memcpy(v2,
	       "\r\n\r\n\0\r\nQUIT\n"
	       "\x21\x11\x00\x13"
	       "\xc0\x00\x02\x01"
	       "\x7f\x00\x00\x01"
	       "\x30\x39\x00\x19"
	       "\x04\x00\x04noop",
	       sizeof(v2));
	hp = haproxy_alloc();
	for (i = 0; i + 1 < sizeof(v2); i++)
		assert_int_equal(haproxy_feed(hp, v2 + i, 1, &used),
				 HAPROXY_MORE);
	assert_int_equal(haproxy_feed(hp, v2 + i, 1, &used), HAPROXY_DONE);
	assert_string_equal(haproxy_result(hp)->client.addr, "192.0.2.1");
	assert_string_equal(haproxy_result(hp)->client.port, "12345");
	haproxy_free(hp);
}

#define SIG "\r\n\r\n\0\r\nQUIT\n"

static void
test_haproxy_v2_forms(void **state)
{
	static const unsigned char tcp4[] = SIG "\x21\x11\x00\x0c"
						"\xc0\x00\x02\x01"
						"\xc6\x33\x64\x07"
						"\xdc\x04\x00\x19"
						"EHLO x\r\n";
	static const unsigned char tcp6[] = SIG
	    "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02"
	    "\x00\x01\xff\xff"
	    "EHLO";
	static const unsigned char mapped[] = SIG
	    "\x21\x21\x00\x24"
	    "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01"
	    "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\x00\x00\x01"
	    "\x00\x00\x00\x19";
	/* TLVs (ALPN, AUTHORITY, NOOP) are walked and ignored. */
	static const unsigned char tlvs[] = SIG "\x21\x11\x00\x1a"
						"\xc0\x00\x02\x01"
						"\xc6\x33\x64\x07"
						"\xdc\x04\x00\x19"
						"\x01\x00\x02h2"
						"\x02\x00\x03"
						"a.b"
						"\x04\x00\x00"
						"MAIL";
	/* LOCAL: a health check; whatever follows its header is skipped. */
	static const unsigned char local[] = SIG "\x20\x00\x00\x05"
						 "abcde"
						 "QUIT\r\n";
	static const unsigned char local0[] = SIG "\x20\x00\x00\x00";

	(void)state;
	expect_good(tcp4, sizeof(tcp4) - 1, 28, 2, "192.0.2.1", "56324",
		    "198.51.100.7", "25");
	expect_good(tcp6, sizeof(tcp6) - 1, 52, 2, "2001:db8::1", "1",
		    "2001:db8::2", "65535");
	expect_good(mapped, sizeof(mapped) - 1, 52, 2, "192.0.2.1", "0",
		    "127.0.0.1", "25");
	expect_good(tlvs, sizeof(tlvs) - 1, 16 + 26, 2, "192.0.2.1", "56324",
		    "198.51.100.7", "25");
	expect_good(local, sizeof(local) - 1, 21, 2, NULL, NULL, NULL, NULL);
	expect_good(local0, sizeof(local0) - 1, 16, 2, NULL, NULL, NULL, NULL);
}

static void
test_haproxy_v2_refuses_malformed(void **state)
{
	(void)state;
	/* Each input is whole (sizeof - 1 drops the literal's NUL). */
#define BAD2(lit, why) expect_bad(lit, sizeof(lit) - 1, why)
	BAD2("\r\n\r\n\0\r\nQUIX\n", "unrecognized protocol header");
	BAD2(SIG "\x11\x11\x00\x0c", "unsupported protocol version");
	BAD2(SIG "\x22\x11\x00\x0c", "bad command");
	BAD2(SIG "\x21\x12\x00\x0c", "unsupported network protocol");
	BAD2(SIG "\x21\x31\x00\xd8", "unsupported network protocol");
	BAD2(SIG "\x21\x00\x00\x00", "unsupported network protocol");
	BAD2(SIG "\x21\x11\x00\x08", "short address field");
	BAD2(SIG "\x21\x21\x00\x0c", "short address field");
	BAD2(SIG "\x21\x11\x08\x01", "longer than 2048");
	BAD2(SIG "\x20\x00\xff\xff", "longer than 2048");
	/* A TLV whose length runs past the header's end. */
	BAD2(SIG "\x21\x11\x00\x10"
		 "\xc0\x00\x02\x01\xc6\x33\x64\x07\xdc\x04\x00\x19"
		 "\x01\x00\x02h",
	     "TLV crosses");
	/* A TLV header cut by the header's end. */
	BAD2(SIG "\x21\x11\x00\x0e"
		 "\xc0\x00\x02\x01\xc6\x33\x64\x07\xdc\x04\x00\x19"
		 "\x01\x00",
	     "TLV crosses");
#undef BAD2
}

static void
test_haproxy_escape_for_the_log(void **state)
{
	HAPROXY *hp = haproxy_alloc();
	VSTR	*out = vstr_alloc(16);
	size_t	 used;

	(void)state;
	assert_int_equal(haproxy_feed(hp, "PROXY TCP4 a\\\x01\r\n", 16, &used),
			 HAPROXY_BAD);
	haproxy_escape_seen(hp, out);
	assert_string_equal(VSTR_STR(out), "PROXY TCP4 a\\\\\\x01");
	vstr_free(out);
	haproxy_free(hp);
}

/* A socket pair: header and SMTP in one write; only the header goes. */
static void
test_haproxy_recv_takes_only_the_header(void **state)
{
	static const char hdr[] = "PROXY TCP4 192.0.2.1 198.51.100.7 1 25\r\n";
	HAPROXY		 *hp = haproxy_alloc();
	VSTR		 *why = vstr_alloc(16);
	char		  buf[64];
	int		  sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Nothing there yet: MORE, without blocking. */
	assert_int_equal(haproxy_recv(hp, sv[0], why), HAPROXY_MORE);
	/* Half of it: taken (all of it is header), still MORE. */
	assert_int_equal(write(sv[1], hdr, 10), 10);
	assert_int_equal(haproxy_recv(hp, sv[0], why), HAPROXY_MORE);
	assert_int_equal(write(sv[1], hdr + 10, strlen(hdr) - 10),
			 (ssize_t)(strlen(hdr) - 10));
	assert_int_equal(write(sv[1], "EHLO x\r\n", 8), 8);
	assert_int_equal(haproxy_recv_wait(hp, sv[0], 1000, why), 0);
	assert_string_equal(haproxy_result(hp)->client.addr, "192.0.2.1");
	assert_int_equal(read(sv[0], buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "EHLO x\r\n", 8);
	haproxy_free(hp);

	/* A bad header: the reason and what was seen. */
	hp = haproxy_alloc();
	assert_int_equal(write(sv[1], "EHLO x\r\n", 8), 8);
	assert_int_equal(haproxy_recv_wait(hp, sv[0], 1000, why), -1);
	assert_string_equal(VSTR_STR(why), "unrecognized protocol header: E");
	haproxy_free(hp);
	assert_int_equal(read(sv[0], buf, sizeof(buf)), 8);

	/* Silence: the time limit. */
	hp = haproxy_alloc();
	assert_int_equal(haproxy_recv_wait(hp, sv[0], 50, why), -1);
	assert_string_equal(VSTR_STR(why), "timeout error");
	haproxy_free(hp);

	/* The peer goes away in the middle of the header. */
	hp = haproxy_alloc();
	assert_int_equal(write(sv[1], "PROXY TCP4", 10), 10);
	close(sv[1]);
	assert_int_equal(haproxy_recv_wait(hp, sv[0], 1000, why), -1);
	assert_string_equal(VSTR_STR(why), "unexpected EOF");
	haproxy_free(hp);
	close(sv[0]);
	vstr_free(why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_haproxy_v1_forms),
		cmocka_unit_test(test_haproxy_v1_refuses_malformed),
		cmocka_unit_test(test_haproxy_v1_is_at_most_107_bytes),
		cmocka_unit_test(test_haproxy_byte_at_a_time),
		cmocka_unit_test(test_haproxy_v2_forms),
		cmocka_unit_test(test_haproxy_v2_refuses_malformed),
		cmocka_unit_test(test_haproxy_escape_for_the_log),
		cmocka_unit_test(test_haproxy_recv_takes_only_the_header),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
