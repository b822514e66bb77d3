/*
 * Unit tests for smtpd/smtpd_peer.c's smtpd_peer_sockaddr: the client and
 * server addresses of a connection, or those a pass service's hand-off
 * info names instead (checked to be numeric; anything else is ignored in
 * favour of the connection's own).
 *
 * SPDX-License-Identifier: ISC
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/unit/harness.h"
#include "smtpd/smtpd.h"
#include "util/attr.h"
#include "util/ipc.h"

/* ss as "addr port" text. */
static void
show(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char buf[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		snprintf(out, len, "%s %u", buf, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
		snprintf(out, len, "%s %u", buf, ntohs(sin6->sin6_port));
	} else {
		snprintf(out, len, "family %d", ss->ss_family);
	}
}

static void
expect(int fd, const ATTR *info, bool client, const char *want)
{
	struct sockaddr_storage ss;
	socklen_t		len;
	char			got[128];
	int			r;

	r = smtpd_peer_sockaddr(fd, info, client, &ss, &len);
	if (want == NULL) {
		assert_int_equal(r, -1);
		return;
	}
	assert_int_equal(r, 0);
	show(&ss, got, sizeof(got));
	assert_string_equal(got, want);
}

static void
test_smtpd_peer_sockaddr_local_socket_without_info(void **state)
{
	int   sv[2];
	ATTR *info = attr_alloc();

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	expect(sv[0], NULL, true, NULL);
	expect(sv[0], NULL, false, NULL);
	/* info without the names: the connection's (none) */
	attr_put_str(info, "postscreen", "pass-old");
	expect(sv[0], info, true, NULL);
	/* the info names the client: port "0" when the socket has none */
	attr_put_str(info, "client_addr", "192.0.2.7");
	expect(sv[0], info, true, "192.0.2.7 0");
	attr_put_str(info, "client_port", "4711");
	expect(sv[0], info, true, "192.0.2.7 4711");
	expect(sv[0], info, false, NULL);
	attr_put_str(info, "server_addr", "2001:db8::25");
	attr_put_str(info, "server_port", "25");
	expect(sv[0], info, false, "2001:db8::25 25");
	attr_free(info);
	close(sv[0]);
	close(sv[1]);
}

static void
test_smtpd_peer_sockaddr_info_wins_over_a_tcp_peer(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t	   len = sizeof(sin);
	int		   lfd = ipc_listen_inet("127.0.0.1", "0", 4);
	int		   c;
	int		   s;
	char		   want[64];
	unsigned	   cport;
	ATTR		  *info = attr_alloc();

	(void)state;
	assert_true(lfd >= 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	snprintf(want, sizeof(want), "%u", ntohs(sin.sin_port));
	c = ipc_connect_inet("127.0.0.1", want, 1000, NULL);
	assert_true(c >= 0);
	s = ipc_accept(lfd);
	assert_true(s >= 0);
	len = sizeof(sin);
	assert_int_equal(getsockname(c, (struct sockaddr *)&sin, &len), 0);
	cport = ntohs(sin.sin_port);

	snprintf(want, sizeof(want), "127.0.0.1 %u", cport);
	expect(s, NULL, true, want);
	/* an address alone keeps the connection's port */
	attr_put_str(info, "client_addr", "127.0.0.9");
	snprintf(want, sizeof(want), "127.0.0.9 %u", cport);
	expect(s, info, true, want);
	attr_put_str(info, "client_port", "65535");
	expect(s, info, true, "127.0.0.9 65535");

	/* not numeric, or junk: the connection's address, with a warning */
	snprintf(want, sizeof(want), "127.0.0.1 %u", cport);
	attr_put_str(info, "client_port", "65536");
	expect(s, info, true, want);
	attr_put_str(info, "client_port", "-1");
	expect(s, info, true, want);
	attr_put_str(info, "client_port", "25x");
	expect(s, info, true, want);
	attr_put_str(info, "client_port", "");
	expect(s, info, true, want);
	attr_put_str(info, "client_port", "25");
	attr_put_str(info, "client_addr", "localhost");
	expect(s, info, true, want);
	attr_put_str(info, "client_addr", "[::1]");
	expect(s, info, true, want);
	attr_put_str(info, "client_addr", "");
	expect(s, info, true, want);
	/* a value with a NUL is no C string: not there at all */
	attr_put_data(info, "client_addr", "127.0.0.9\0x", 11);
	expect(s, info, true, want);
	attr_free(info);
	close(c);
	close(s);
	close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_smtpd_peer_sockaddr_local_socket_without_info),
		cmocka_unit_test(
		    test_smtpd_peer_sockaddr_info_wins_over_a_tcp_peer),
	};

	return cmocka_run_group_tests_name("smtpd_peer", tests, NULL, NULL);
}
