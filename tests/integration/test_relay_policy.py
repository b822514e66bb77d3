# smtpd's restrictions on a real instance: open-relay refusal (also for the
# routing tricks), mynetworks relaying, access tables, DNS block lists and
# unknown sender domains against the tests' own DNS server, and unknown
# local recipients.  Outside clients bind to 127.0.0.5 while mynetworks
# holds only 127.0.0.1/32.
# SPDX-License-Identifier: ISC
import os
import socket

import pytest

from conftest import free_port
from dnsserver import DNSServer

pytestmark = pytest.mark.needs("dnslib")

OUTSIDE = "127.0.0.5"
TRUSTED = "127.0.0.1"


class Client:
    """Raw SMTP client bound to a chosen loopback source address."""

    def __init__(self, port, source):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20,
                                             source_address=(source, 0))
        self.buf = b""
        self.greeting = self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode(errors="replace")

    def reply(self):
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return lines[-1]

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def envelope(self, sender="s@client.test", helo="client.example.test"):
        assert self.cmd("EHLO " + helo).startswith("250")
        return self.cmd("MAIL FROM:<%s>" % sender)

    def close(self):
        try:
            self.cmd("QUIT")
        except (OSError, EOFError):
            pass
        self.sock.close()


class Server:
    def __init__(self, instance, workdir, main=None):
        self.port = free_port()
        settings = {
            "myhostname": "mx.local.test",
            "mydomain": "local.test",
            "myorigin": "local.test",
            "mydestination": "local.test, localhost",
            "mynetworks": "127.0.0.1/32",
            "relay_domains": "relay.test",
            "alias_maps": "",
            "local_recipient_maps": "inline:{ user=1, postmaster=1 }",
            "maillog_file": os.path.join(workdir, "maillog"),
            "smtpd_error_sleep_time": "0",
            "smtpd_relay_restrictions": "permit_mynetworks, "
                                        "permit_sasl_authenticated, "
                                        "reject_unauth_destination",
        }
        settings.update(main or {})
        instance.write_config(main=settings, services=[
            "postlog unix-dgram n - n - 1 postlogd",
            "127.0.0.1:%d inet n - y - - smtpd" % self.port,
            "cleanup unix - - n - 0 cleanup",
        ])
        instance.start()

    def client(self, source=OUTSIDE):
        return Client(self.port, source)


def make_table(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return "texthash:" + path


@pytest.fixture
def server(instance, workdir):
    return Server(instance, workdir)


def test_relay_outside_client_gets_5_7_1_for_foreign_recipient(server):
    c = server.client(OUTSIDE)
    assert c.envelope().startswith("250")
    assert c.cmd("RCPT TO:<u@remote.test>") == \
        "554 5.7.1 <u@remote.test>: Relay access denied"
    # The session stays usable and local mail is still accepted.
    assert c.cmd("RCPT TO:<user@local.test>").startswith("250")
    assert c.cmd("RCPT TO:<any@relay.test>").startswith("250")
    c.close()


@pytest.mark.parametrize("rcpt", [
    "<u%remote.test@local.test>",
    "<@a.test:u@remote.test>",
    "<@local.test:u@local.test>",
    "<remote.test!u@local.test>",
    "<\"u@remote.test\"@local.test>",
])
def test_relay_tricks_are_never_relayed(server, rcpt):
    c = server.client(OUTSIDE)
    assert c.envelope().startswith("250")
    reply = c.cmd("RCPT TO:" + rcpt)
    assert reply.startswith("554 5.7.1 <"), reply
    assert reply.endswith(">: Relay access denied"), reply
    c.close()


def test_relay_mynetworks_client_may_relay(server):
    c = server.client(TRUSTED)
    assert c.envelope().startswith("250")
    assert c.cmd("RCPT TO:<u@remote.test>").startswith("250")
    c.close()


def test_relay_default_restrictions_defer_unauth_destination(instance, workdir):
    s = Server(instance, workdir, main={
        "smtpd_relay_restrictions": "permit_mynetworks, "
                                    "permit_sasl_authenticated, "
                                    "defer_unauth_destination"})
    c = s.client(OUTSIDE)
    c.envelope()
    assert c.cmd("RCPT TO:<u@remote.test>") == \
        "454 4.7.1 <u@remote.test>: Relay access denied"
    c.close()


def test_relay_unknown_local_recipient_550_5_1_1(server):
    for source in (OUTSIDE, TRUSTED):
        c = server.client(source)
        c.envelope()
        assert c.cmd("RCPT TO:<nobody@local.test>") == (
            "550 5.1.1 <nobody@local.test>: Recipient address rejected: "
            "User unknown in local recipient table")
        assert c.cmd("RCPT TO:<user@local.test>").startswith("250")
        c.close()


def test_relay_access_tables(instance, workdir):
    clients = make_table(workdir, "clients", "127.0.0.6 REJECT go away\n"
                                             "127.0.0.7 DEFER later\n")
    senders = make_table(workdir, "senders",
                         "spam.test 550 5.7.0 no spam here\n"
                         "<> REJECT\n")
    rcpts = make_table(workdir, "rcpts", "closed@local.test REJECT closed\n"
                                         "user@local.test OK\n")
    s = Server(instance, workdir, main={
        "smtpd_client_restrictions": "check_client_access " + clients,
        "smtpd_sender_restrictions": "check_sender_access " + senders,
        "smtpd_recipient_restrictions": "check_recipient_access " + rcpts,
        "local_recipient_maps": "inline:{ user=1, closed=1 }",
    })
    # smtpd_delay_reject: the client is refused at RCPT, not before.
    c = s.client("127.0.0.6")
    assert c.envelope().startswith("250")
    assert c.cmd("RCPT TO:<user@local.test>") == \
        "554 5.7.1 <unknown[127.0.0.6]>: Client host rejected: go away"
    c.close()
    c = s.client("127.0.0.7")
    c.envelope()
    assert c.cmd("RCPT TO:<user@local.test>") == \
        "450 4.7.1 <unknown[127.0.0.7]>: Client host rejected: later"
    c.close()
    c = s.client(OUTSIDE)
    c.envelope(sender="a@spam.test")
    assert c.cmd("RCPT TO:<user@local.test>") == \
        "550 5.7.0 <a@spam.test>: Sender address rejected: no spam here"
    c.cmd("RSET")
    assert c.cmd("MAIL FROM:<>").startswith("250")
    assert c.cmd("RCPT TO:<user@local.test>") == \
        "554 5.7.1 <>: Sender address rejected: Access denied"
    c.cmd("RSET")
    assert c.cmd("MAIL FROM:<ok@client.test>").startswith("250")
    assert c.cmd("RCPT TO:<closed@local.test>") == \
        "554 5.7.1 <closed@local.test>: Recipient address rejected: closed"
    assert c.cmd("RCPT TO:<user@local.test>").startswith("250")
    c.close()


def test_relay_reject_rbl_client_with_test_dns(instance, workdir):
    with DNSServer() as dns:
        dns.add("5.0.0.127.bl.test", "A", "127.0.0.2")
        dns.add("5.0.0.127.bl.test", "TXT", "see https://bl.test/5")
        dns.add("9.0.0.127.bl.test", "A", "127.0.0.4")
        s = Server(instance, workdir, main={
            "dns_nameservers": dns.address,
            "smtpd_client_restrictions": "reject_rbl_client bl.test, "
                                         "reject_rbl_client bl.test=127.0.0.3",
        })
        c = s.client(OUTSIDE)
        c.envelope()
        for rcpt in ("user@local.test", "postmaster@local.test"):
            assert c.cmd("RCPT TO:<%s>" % rcpt) == (
                "554 5.7.1 Service unavailable; Client host [127.0.0.5] "
                "blocked using bl.test; see https://bl.test/5")
        c.close()
        # Not listed: accepted.
        c = s.client("127.0.0.8")
        c.envelope()
        assert c.cmd("RCPT TO:<user@local.test>").startswith("250")
        assert c.cmd("RCPT TO:<postmaster@local.test>").startswith("250")
        c.close()
        # One query per list and transaction, not one per recipient.
        assert dns.queries.count(("5.0.0.127.bl.test", "A")) == 1
        assert dns.queries.count(("8.0.0.127.bl.test", "A")) == 2


def test_relay_rhsbl_and_unknown_sender_domain_with_test_dns(instance, workdir):
    with DNSServer() as dns:
        dns.add("known.test", "MX", (10, "mx.known.test"))
        dns.add("aonly.test", "A", "192.0.2.1")
        dns.add("nomail.test", "MX", (0, "."))
        dns.add("bad.test.rhsbl.test", "A", "127.0.0.2")
        dns.add("bad.test", "A", "192.0.2.2")
        s = Server(instance, workdir, main={
            "dns_nameservers": dns.address,
            "dns_timeout": "2s",
            "smtpd_sender_restrictions": "reject_rhsbl_sender rhsbl.test, "
                                         "reject_unknown_sender_domain",
        })
        c = s.client(OUTSIDE)
        for sender, want in [
                ("a@known.test", "250"),
                ("a@aonly.test", "250"),
                ("a@gone.test", "450 4.1.8 <a@gone.test>: Sender address "
                                "rejected: Domain not found"),
                ("a@nomail.test", "550 5.7.27 <a@nomail.test>: Sender "
                                  "address rejected: Domain nomail.test "
                                  "does not accept mail (nullMX)"),
                ("a@bad.test", "554 5.7.1 Service unavailable; Sender "
                               "address [bad.test] blocked using rhsbl.test"),
        ]:
            assert c.envelope(sender=sender).startswith("250")
            reply = c.cmd("RCPT TO:<user@local.test>")
            assert reply.startswith(want), (sender, reply)
            c.cmd("RSET")
        c.close()


def test_relay_unknown_sender_domain_code_550(instance, workdir):
    with DNSServer() as dns:
        s = Server(instance, workdir, main={
            "dns_nameservers": dns.address,
            "unknown_address_reject_code": "550",
            "smtpd_sender_restrictions": "reject_unknown_sender_domain",
        })
        c = s.client(OUTSIDE)
        c.envelope(sender="a@gone.test")
        assert c.cmd("RCPT TO:<user@local.test>") == \
            "550 5.1.8 <a@gone.test>: Sender address rejected: Domain not found"
        c.close()


def test_relay_unknown_helo_hostname_with_test_dns(instance, workdir):
    with DNSServer() as dns:
        dns.add("client.known.test", "A", "127.0.0.5")
        s = Server(instance, workdir, main={
            "dns_nameservers": dns.address,
            "smtpd_helo_restrictions": "reject_unknown_helo_hostname",
        })
        c = s.client(OUTSIDE)
        c.envelope(helo="client.known.test")
        assert c.cmd("RCPT TO:<user@local.test>").startswith("250")
        c.close()
        c = s.client(OUTSIDE)
        c.envelope(helo="client.unknown.test")
        assert c.cmd("RCPT TO:<user@local.test>") == (
            "450 4.7.1 <client.unknown.test>: Helo command rejected: "
            "Host not found")
        c.close()
