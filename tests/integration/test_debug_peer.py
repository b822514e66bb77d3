# debug_peer_list / debug_peer_level: smtpd and smtp log the whole
# conversation with a listed host, and only with that host.
# SPDX-License-Identifier: ISC
import pytest

from conftest import wait_for
from dnsserver import DNSServer
from test_smtp_client import H1, H2, Env, pick_port
from test_smtpd import Client, Smtpd


def test_smtpd_logs_the_session_of_a_listed_client_only(instance, workdir):
    srv = Smtpd(instance, workdir, main={"debug_peer_list": "127.0.0.2"})
    for source in ("127.0.0.1", "127.0.0.2"):
        c = Client(srv.port, source)
        c.cmd("EHLO client%s.test" % source[-1])
        c.cmd("QUIT")
        c.close()
    assert srv.wait_log("[127.0.0.2]: QUIT"), srv.log()
    log = srv.log()
    assert "[127.0.0.2]: EHLO client2.test" in log, log
    assert "[127.0.0.2]: 250-" in log, log
    # The first client was not listed: nothing verbose about it.
    assert "EHLO client1.test" not in log, log
    assert "[127.0.0.1]: 250" not in log, log


@pytest.fixture
def dns():
    with DNSServer() as d:
        yield d


def test_smtp_logs_the_conversation_with_a_listed_server(instance, workdir,
                                                         dns):
    env = Env(instance, workdir, dns,
              main={"debug_peer_list": "mx1.example.test"})
    try:
        port = pick_port([H1, H2])
        env.sink(H1, port)
        env.sink(H2, port)
        dns.add("example.test", "MX", (10, "mx1.example.test"))
        dns.add("mx1.example.test", "A", H1)
        dns.add("other.test", "MX", (10, "mx2.other.test"))
        dns.add("mx2.other.test", "A", H2)
        q1 = env.queue(["user@example.test"])
        q2 = env.queue(["user@other.test"])
        for dest, qid in (("example.test", q1), ("other.test", q2)):
            res = env.send("%s:%d" % (dest, port), [qid])[qid]
            assert list(res.values())[0]["action"] == "sent", res
        assert wait_for(lambda: "> mx1.example.test[%s]: MAIL FROM:"
                        "<sender@client.test>" % H1 in read(env.log)), \
            read(env.log)
        log = read(env.log)
        assert "< mx1.example.test[%s]: 250" % H1 in log, log
        assert "mx2.other.test[%s]: MAIL FROM" % H2 not in log, log
    finally:
        env.close()


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""
