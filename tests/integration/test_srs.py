"""SRS (the Sender Rewriting Scheme, as postsrsd does it): mail that an
alias forwards to another domain leaves with an SRS0 sender at
srs_domain; a bounce to that address is reversed to the original sender;
forged and expired SRS addresses are refused at RCPT with 550 5.1.1; an
address signed with an older secret (second line of srs_secret_file)
still verifies; postsrsd with the same secret reverses Postel's addresses
and Postel reverses postsrsd's.

The hash check below is the scheme written out again in Python (HMAC-SHA1
over the lower-cased timestamp, domain and user, base64, first
srs_hash_length characters), so that the test does not trust Postel's
own code to judge its output.

SPDX-License-Identifier: ISC
"""
import base64
import hashlib
import hmac
import os
import re
import smtplib
import socket
import time
import urllib.parse

import pytest

import mail_peers
from conftest import free_port, run_cmd, wait_for

pytestmark = [pytest.mark.needs("aiosmtpd"), pytest.mark.needs("root")]

SMTPD_ADDR = "127.0.3.11"
SINK_ADDR = "127.0.3.12"
PSRS_ADDR = "127.0.3.13"
HOST = "mx.forwarder.test"
SRS_DOMAIN = "srs.forwarder.test"
SECRET = "first-secret-5f1c"
OLD_SECRET = "older-secret-09ab"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def srs_hash(secret, *parts):
    data = "".join(parts).lower().encode()
    digest = hmac.new(secret.encode(), data, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()[:4]


def srs_stamp(days_ago=0):
    day = (int(time.time()) // 86400 - days_ago) % 1024
    return BASE32[day >> 5] + BASE32[day & 31]


def srs0(secret, user, host, days_ago=0):
    stamp = srs_stamp(days_ago)
    return "SRS0=%s=%s=%s=%s@%s" % (srs_hash(secret, stamp, host, user),
                                    stamp, host, user, SRS_DOMAIN)


@pytest.fixture(scope="module")
def sink():
    """Every other domain's MX (relayhost)."""
    with mail_peers.smtp_sink(mail_peers.EnvelopeSink(),
                              SINK_ADDR) as handler:
        yield handler


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("srs") / "srs.secret"
    path.write_text("%s\n%s\n" % (SECRET, OLD_SECRET))
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture(scope="module")
def postsrsd(tmp_path_factory, secret_file):
    with mail_peers.postsrsd(secret_file, SRS_DOMAIN,
                             tmp_path_factory.mktemp("postsrsd"),
                             PSRS_ADDR) as ports:
        yield ports


def tcp_table_get(port, key):
    """One Postfix tcp_table query to postsrsd: (code, decoded value)."""
    with socket.create_connection((PSRS_ADDR, port), 5) as s:
        s.sendall(b"get " + urllib.parse.quote(key).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
    code, _, value = data.decode().strip().partition(" ")
    return int(code), urllib.parse.unquote(value)


class Forwarder:
    def __init__(self, instance, workdir, sink, secret_file):
        self.inst = instance
        self.sink = sink
        self.port = free_port(SMTPD_ADDR)
        self.aliases = os.path.join(workdir, "aliases")
        with open(self.aliases, "w") as f:
            f.write("fwd: dest@remote.test\n"
                    "both: dest2@remote.test, fwd\n")
        r = run_cmd(["postelalias", "-c", instance.confdir,
                     "hash:" + self.aliases])
        assert r.returncode == 0, r.stderr
        instance.write_config(main={
            "myhostname": HOST,
            "mydestination": "$myhostname, " + SRS_DOMAIN,
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "hash:" + self.aliases,
            "alias_database": "hash:" + self.aliases,
            "relayhost": "[%s]:%d" % (SINK_ADDR, sink.port),
            "srs_domain": SRS_DOMAIN,
            "srs_secret_file": secret_file,
            "srs_exclude_domains": "excluded.test",
            "minimal_backoff_time": "300s", "queue_run_delay": "300s",
            "maillog_file": ""},
            services=mail_peers.relay_services(SMTPD_ADDR, self.port))
        instance.start(foreground=True)
        assert mail_peers.smtp_answers(SMTPD_ADDR, self.port), \
            instance.read_log()

    def smtp(self):
        return smtplib.SMTP(SMTPD_ADDR, self.port, timeout=10)

    def send(self, sender, rcpts, subject):
        body = ("From: <%s>\r\nSubject: %s\r\n\r\nbody %s\r\n"
                % (sender or "MAILER-DAEMON@remote.test", subject, subject))
        with self.smtp() as s:
            assert s.sendmail(sender, rcpts, body) == {}

    def rcpt_reply(self, rcpt, sender=""):
        with self.smtp() as s:
            s.ehlo()
            code, msg = s.mail("<%s>" % sender) if sender else \
                s.docmd("MAIL FROM:<>")
            assert code == 250, msg
            return s.rcpt(rcpt)

    def wait_sink(self, rcpt, subject, timeout=20):
        def find():
            return [e for e in self.sink.to(rcpt)
                    if ("Subject: %s\r\n" % subject).encode()
                    in e.original_content]
        found = wait_for(find, timeout)
        assert found, self.inst.read_log()
        e = found[0]
        return e.mail_from, e.rcpt_tos, e.original_content


@pytest.fixture
def fwd(instance, workdir, sink, secret_file):
    return Forwarder(instance, workdir, sink, secret_file)


def check_srs0(addr, user, host):
    m = re.fullmatch(r"SRS0=([^=]{4})=([A-Z2-7]{2})=([^=]+)=(.+)@(.+)", addr)
    assert m, addr
    h, stamp, h_host, h_user, domain = m.groups()
    assert (h_host, h_user, domain) == (host, user, SRS_DOMAIN), addr
    assert h == srs_hash(SECRET, stamp, host, user), addr
    return addr


def test_srs_forwarded_mail_gets_srs0_and_its_bounce_reaches_the_sender(
        fwd, sink):
    fwd.send("alice@origin.test", ["fwd@" + HOST], "s1")
    mail_from, rcpts, _ = fwd.wait_sink("dest@remote.test", "s1")
    assert rcpts == ["dest@remote.test"]
    srs = check_srs0(mail_from, "alice", "origin.test")

    # The remote side bounces: a DSN (null sender) to the SRS address is
    # accepted and reaches alice.
    code, msg = fwd.rcpt_reply(srs)
    assert code == 250, msg
    fwd.send("", [srs], "dsn1")
    mail_from, rcpts, _ = fwd.wait_sink("alice@origin.test", "dsn1")
    assert mail_from == "<>" and rcpts == ["alice@origin.test"]
    assert re.search(r"srs: <%s> reversed to <alice@origin.test>"
                     % re.escape(srs), fwd.inst.read_log())


def test_srs_leaves_local_excluded_and_null_senders_alone(fwd, sink):
    fwd.send("bob@excluded.test", ["fwd@" + HOST], "s2")
    fwd.send("carl@" + HOST, ["fwd@" + HOST], "s3")
    fwd.send("", ["fwd@" + HOST], "s4")
    assert fwd.wait_sink("dest@remote.test", "s2")[0] == "bob@excluded.test"
    assert fwd.wait_sink("dest@remote.test", "s3")[0] == "carl@" + HOST
    assert fwd.wait_sink("dest@remote.test", "s4")[0] == "<>"


def test_srs_forged_and_expired_addresses_refused_at_rcpt(fwd, sink):
    good = srs0(SECRET, "alice", "origin.test")
    forged = good.replace("SRS0=" + good[5:9], "SRS0=AAAA", 1)
    if forged == good:
        forged = good.replace("SRS0=" + good[5:9], "SRS0=BBBB", 1)
    code, msg = fwd.rcpt_reply(forged)
    assert code == 550 and msg.startswith(b"5.1.1"), msg
    assert b"bad SRS hash" in msg, msg
    # Another user under the same hash is a forgery too.
    code, msg = fwd.rcpt_reply(good.replace("=alice@", "=mallory@"))
    assert code == 550 and msg.startswith(b"5.1.1"), msg
    expired = srs0(SECRET, "alice", "origin.test", days_ago=30)
    code, msg = fwd.rcpt_reply(expired)
    assert code == 550 and msg.startswith(b"5.1.1"), msg
    assert b"expired" in msg, msg
    # Malformed: an SRS0 tag without the fields.
    code, msg = fwd.rcpt_reply("SRS0=xyz@" + SRS_DOMAIN)
    assert code == 550 and msg.startswith(b"5.1.1"), msg
    # 21 days is still inside srs_max_age (21d).
    code, msg = fwd.rcpt_reply(srs0(SECRET, "alice", "origin.test",
                                    days_ago=21))
    assert code == 250, msg
    assert sink.to("mallory@origin.test") == []


def test_srs_older_secret_still_verifies(fwd, sink):
    old = srs0(OLD_SECRET, "olga", "origin.test")
    fwd.send("", [old], "dsn2")
    mail_from, rcpts, _ = fwd.wait_sink("olga@origin.test", "dsn2")
    assert rcpts == ["olga@origin.test"]


@pytest.mark.needs("postsrsd")
def test_srs_postsrsd_agrees_with_postel(fwd, sink, postsrsd):
    # postsrsd reverses the address Postel made...
    fwd.send("walt@origin.test", ["fwd@" + HOST], "s5")
    srs = fwd.wait_sink("dest@remote.test", "s5")[0]
    check_srs0(srs, "walt", "origin.test")
    assert tcp_table_get(postsrsd["reverse"], srs) == (200, "walt@origin.test")
    # ... and computes the same one for the same sender and day.
    assert tcp_table_get(postsrsd["forward"], "walt@origin.test") \
        == (200, srs)
    # Postel reverses postsrsd's SRS1 (an address forwarded twice): the
    # bounce goes back to the first forwarder's SRS0 address.
    code, srs1 = tcp_table_get(
        postsrsd["forward"], "SRS0=abcd=XY=orig.test=joe@first.test")
    assert code == 200 and srs1.startswith("SRS1="), srs1
    fwd.send("", [srs1], "dsn3")
    mail_from, rcpts, _ = fwd.wait_sink(
        "SRS0=abcd=XY=orig.test=joe@first.test", "dsn3")
    assert mail_from == "<>"
